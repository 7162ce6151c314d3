package cluster

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// Role is an instance's role in gp_segment_configuration: the current role
// in the role column, the role it was created with in preferred_role.
type Role byte

// The two roles.
const (
	RolePrimary Role = 'p'
	RoleMirror  Role = 'm'
)

// Mode is the replication mode column of gp_segment_configuration.
type Mode byte

// The two modes.
const (
	ModeSynced    Mode = 's'
	ModeNotSynced Mode = 'n'
)

// Status is the status column of gp_segment_configuration.
type Status byte

// The two statuses.
const (
	StatusUp   Status = 'u'
	StatusDown Status = 'd'
)

// ParseRole returns the Role spelled s ("p" or "m").
func ParseRole(s string) (Role, error) {
	r := Role(oneByte(s))
	if !r.Valid() {
		return 0, fmt.Errorf("invalid role %q (want p or m)", s)
	}
	return r, nil
}

// ParseMode returns the Mode spelled s ("s" or "n").
func ParseMode(s string) (Mode, error) {
	m := Mode(oneByte(s))
	if !m.Valid() {
		return 0, fmt.Errorf("invalid mode %q (want s or n)", s)
	}
	return m, nil
}

// ParseStatus returns the Status spelled s ("u" or "d").
func ParseStatus(s string) (Status, error) {
	st := Status(oneByte(s))
	if !st.Valid() {
		return 0, fmt.Errorf("invalid status %q (want u or d)", s)
	}
	return st, nil
}

// oneByte returns the only byte of s, or 0 when s is not one byte long.
func oneByte(s string) byte {
	if len(s) != 1 {
		return 0
	}
	return s[0]
}

// Valid reports whether r is p or m.
func (r Role) Valid() bool { return r == RolePrimary || r == RoleMirror }

// Valid reports whether m is s or n.
func (m Mode) Valid() bool { return m == ModeSynced || m == ModeNotSynced }

// Valid reports whether s is u or d.
func (s Status) Valid() bool { return s == StatusUp || s == StatusDown }

// String returns the catalog spelling ("p"), or a quoted dump of an invalid value.
func (r Role) String() string { return codeString(byte(r), r.Valid()) }

// String returns the catalog spelling ("s"), or a quoted dump of an invalid value.
func (m Mode) String() string { return codeString(byte(m), m.Valid()) }

// String returns the catalog spelling ("u"), or a quoted dump of an invalid value.
func (s Status) String() string { return codeString(byte(s), s.Valid()) }

func codeString(b byte, valid bool) string {
	if valid {
		return string(rune(b))
	}
	return strconv.QuoteRune(rune(b))
}

// Label is the word gpstate prints: Primary or Mirror.
func (r Role) Label() string {
	switch r {
	case RolePrimary:
		return "Primary"
	case RoleMirror:
		return "Mirror"
	}
	return "Unknown"
}

// Label is the word gpstate prints: Synchronized or Not In Sync (spec §1.7).
func (m Mode) Label() string {
	switch m {
	case ModeSynced:
		return "Synchronized"
	case ModeNotSynced:
		return "Not In Sync"
	}
	return "Unknown"
}

// Label is the word gpstate prints: Up or Down.
func (s Status) Label() string {
	switch s {
	case StatusUp:
		return "Up"
	case StatusDown:
		return "Down"
	}
	return "Unknown"
}

// MarshalText writes the catalog spelling, so fixtures read "role": "p".
func (r Role) MarshalText() ([]byte, error) { return marshalCode(byte(r), r.Valid(), "role") }

// MarshalText writes the catalog spelling.
func (m Mode) MarshalText() ([]byte, error) { return marshalCode(byte(m), m.Valid(), "mode") }

// MarshalText writes the catalog spelling.
func (s Status) MarshalText() ([]byte, error) { return marshalCode(byte(s), s.Valid(), "status") }

func marshalCode(b byte, valid bool, what string) ([]byte, error) {
	if !valid {
		return nil, fmt.Errorf("invalid %s %q", what, rune(b))
	}
	return []byte{b}, nil
}

// UnmarshalText parses and validates the catalog spelling.
func (r *Role) UnmarshalText(b []byte) (err error) { *r, err = ParseRole(string(b)); return err }

// UnmarshalText parses and validates the catalog spelling.
func (m *Mode) UnmarshalText(b []byte) (err error) { *m, err = ParseMode(string(b)); return err }

// UnmarshalText parses and validates the catalog spelling.
func (s *Status) UnmarshalText(b []byte) (err error) { *s, err = ParseStatus(string(b)); return err }

// ScanText lets pgx scan a text-format "char" or text column into a Role,
// validating it; NULL is an error.
func (r *Role) ScanText(v pgtype.Text) error {
	return scanCode(v, "role", r.UnmarshalText)
}

// ScanText lets pgx scan a text-format "char" or text column into a Mode.
func (m *Mode) ScanText(v pgtype.Text) error {
	return scanCode(v, "mode", m.UnmarshalText)
}

// ScanText lets pgx scan a text-format "char" or text column into a Status.
func (s *Status) ScanText(v pgtype.Text) error {
	return scanCode(v, "status", s.UnmarshalText)
}

// Scan implements sql.Scanner, which pgx uses for binary-format "char"
// columns (pgtype decodes them to a one-character string).
func (r *Role) Scan(src any) error { return scanAny(src, "role", r.UnmarshalText) }

// Scan implements sql.Scanner (see Role.Scan).
func (m *Mode) Scan(src any) error { return scanAny(src, "mode", m.UnmarshalText) }

// Scan implements sql.Scanner (see Role.Scan).
func (s *Status) Scan(src any) error { return scanAny(src, "status", s.UnmarshalText) }

func scanCode(v pgtype.Text, what string, set func([]byte) error) error {
	if !v.Valid {
		return fmt.Errorf("scan %s: NULL", what)
	}
	return set([]byte(v.String))
}

func scanAny(src any, what string, set func([]byte) error) error {
	switch v := src.(type) {
	case string:
		return set([]byte(v))
	case []byte:
		return set(v)
	case nil:
		return fmt.Errorf("scan %s: NULL", what)
	}
	return fmt.Errorf("scan %s: unsupported source type %T", what, src)
}

// Segment is one row of gp_segment_configuration: the coordinator, the
// standby, a primary or a mirror. Field tags name the catalog columns, for
// pgx.RowToStructByName and for JSON fixtures.
type Segment struct {
	DBID          int    `db:"dbid" json:"dbid"`
	ContentID     int    `db:"content" json:"content"`
	Role          Role   `db:"role" json:"role"`
	PreferredRole Role   `db:"preferred_role" json:"preferred_role"`
	Mode          Mode   `db:"mode" json:"mode"`
	Status        Status `db:"status" json:"status"`
	Hostname      string `db:"hostname" json:"hostname"`
	Address       string `db:"address" json:"address"`
	Port          int    `db:"port" json:"port"`
	DataDir       string `db:"datadir" json:"datadir"`
}

// IsCoordinator reports whether s is the coordinator (content -1, role p).
func (s Segment) IsCoordinator() bool { return s.ContentID == -1 && s.Role == RolePrimary }

// IsStandby reports whether s is the coordinator's standby (content -1, role m).
func (s Segment) IsStandby() bool { return s.ContentID == -1 && s.Role == RoleMirror }

// IsSegment reports whether s is a primary or mirror segment (content >= 0).
func (s Segment) IsSegment() bool { return s.ContentID >= 0 }

// IsPrimary reports whether s currently acts as primary.
func (s Segment) IsPrimary() bool { return s.Role == RolePrimary }

// IsMirror reports whether s currently acts as mirror.
func (s Segment) IsMirror() bool { return s.Role == RoleMirror }

// IsUp reports whether s is marked up.
func (s Segment) IsUp() bool { return s.Status == StatusUp }

// IsSynced reports whether s is marked in sync.
func (s Segment) IsSynced() bool { return s.Mode == ModeSynced }

// IsBalanced reports whether s runs in the role it was created with.
func (s Segment) IsBalanced() bool { return s.Role == s.PreferredRole }

// Label names s for messages: "content 3 mirror (dbid 9)".
func (s Segment) Label() string {
	kind := "primary"
	switch {
	case s.IsCoordinator():
		kind = "coordinator"
	case s.IsStandby():
		kind = "standby"
	case s.Role == RoleMirror:
		kind = "mirror"
	}
	if s.ContentID < 0 {
		return fmt.Sprintf("%s (dbid %d)", kind, s.DBID)
	}
	return fmt.Sprintf("content %d %s (dbid %d)", s.ContentID, kind, s.DBID)
}

// String is Greenplum's one-line form,
// dbid|content|role|preferred_role|mode|status|hostname|address|port|datadir,
// as the GP6 tools log it and pass it to their segment helpers.
func (s Segment) String() string {
	return strings.Join([]string{
		strconv.Itoa(s.DBID),
		strconv.Itoa(s.ContentID),
		s.Role.String(),
		s.PreferredRole.String(),
		s.Mode.String(),
		s.Status.String(),
		s.Hostname,
		s.Address,
		strconv.Itoa(s.Port),
		s.DataDir,
	}, "|")
}

package cluster

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestEnumParse(t *testing.T) {
	for _, s := range []string{"p", "m"} {
		if r, err := ParseRole(s); err != nil || r.String() != s {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, err)
		}
	}
	for _, bad := range []string{"", "x", "pp", "P"} {
		if _, err := ParseRole(bad); err == nil {
			t.Errorf("ParseRole(%q): no error", bad)
		}
		if _, err := ParseMode(bad); err == nil {
			t.Errorf("ParseMode(%q): no error", bad)
		}
		if _, err := ParseStatus(bad); err == nil {
			t.Errorf("ParseStatus(%q): no error", bad)
		}
	}
	if ModeSynced.Label() != "Synchronized" || ModeNotSynced.Label() != "Not In Sync" {
		t.Errorf("mode labels: %q %q", ModeSynced.Label(), ModeNotSynced.Label())
	}
	if Role('x').String() != `'x'` {
		t.Errorf("invalid role prints %s", Role('x'))
	}
}

// TestEnumScan runs pgx's own decoding of "char" and text columns, in both
// wire formats, into the enums.
func TestEnumScan(t *testing.T) {
	m := pgtype.NewMap()
	for _, oid := range []uint32{pgtype.QCharOID, pgtype.TextOID} {
		for _, format := range []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode} {
			var r Role
			var md Mode
			var st Status
			if err := m.Scan(oid, format, []byte("m"), &r); err != nil || r != RoleMirror {
				t.Errorf("oid %d format %d: role %v, %v", oid, format, r, err)
			}
			if err := m.Scan(oid, format, []byte("s"), &md); err != nil || md != ModeSynced {
				t.Errorf("oid %d format %d: mode %v, %v", oid, format, md, err)
			}
			if err := m.Scan(oid, format, []byte("d"), &st); err != nil || st != StatusDown {
				t.Errorf("oid %d format %d: status %v, %v", oid, format, st, err)
			}
			if err := m.Scan(oid, format, []byte("z"), &r); err == nil || !strings.Contains(err.Error(), `invalid role "z"`) {
				t.Errorf("oid %d format %d: bad role error %v", oid, format, err)
			}
			if err := m.Scan(oid, format, nil, &st); err == nil || !strings.Contains(err.Error(), "NULL") {
				t.Errorf("oid %d format %d: NULL status error %v", oid, format, err)
			}
		}
	}
}

// TestEnumEncode checks that the enums bind as "char" parameters in both formats.
func TestEnumEncode(t *testing.T) {
	m := pgtype.NewMap()
	for _, v := range []any{RoleMirror, ModeNotSynced, StatusDown} {
		for _, format := range []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode} {
			b, err := m.Encode(pgtype.QCharOID, format, v, nil)
			if err != nil || len(b) != 1 {
				t.Errorf("encode %v format %d: %q, %v", v, format, b, err)
			}
		}
	}
}

func TestSegmentJSONAndString(t *testing.T) {
	const in = `{"dbid":4,"content":0,"role":"m","preferred_role":"m","mode":"n","status":"d","hostname":"mdw","address":"mdw","port":7004,"datadir":"/data/dbfast_mirror1/demoDataDir0"}`
	var s Segment
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	// The GP6 tools log rows in this form (gpaddmirrors -v transcript).
	if got, want := s.String(), "4|0|m|m|n|d|mdw|mdw|7004|/data/dbfast_mirror1/demoDataDir0"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	out, err := json.Marshal(s)
	if err != nil || string(out) != in {
		t.Errorf("round trip: %s, %v", out, err)
	}
	if s.Label() != "content 0 mirror (dbid 4)" {
		t.Errorf("Label() = %q", s.Label())
	}
	var bad Segment
	if err := json.Unmarshal([]byte(strings.Replace(in, `"role":"m"`, `"role":"q"`, 1)), &bad); err == nil {
		t.Error("bad role in JSON: no error")
	}
}

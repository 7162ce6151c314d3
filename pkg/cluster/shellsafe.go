package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Paths that reach a server program must survive a shell. Our own commands
// quote every argument, but PostgreSQL's pg_ctl starts the postmaster with
// system("exec \"<postgres>\" -D \"<data directory>\" ... < \"/dev/null\" >>
// \"<log file>\" 2>&1"), that is through /bin/sh with the paths inside
// double quotes, and pg_rewind and initdb do the same. Inside double quotes
// the shell still interprets $ (expansions, $(...)), ` (command
// substitution), \ (escapes) and " (the end of the word), so a data
// directory holding one of them runs a command, or names another directory,
// on the host where the instance starts (design.md, safety invariant 7).
// Control characters break the line-based files and outputs that carry
// paths (postmaster.pid, configuration files, the tools' result lines).

// shellChars are the characters a double-quoted shell word interprets.
const shellChars = "$`\"\\"

// safePathRule says in a few words which paths are accepted, for messages.
const safePathRule = "use a path without $ ` \" \\ or control characters"

// UnsafePathError is a path that CheckPath refuses: it names the path, what
// the path is for, the first refused character and why.
type UnsafePathError struct {
	What string // what the path is: "data directory", "log directory", "GPHOME"
	Path string
	Char rune // the first refused character
}

// Error is one line: the path with its control characters escaped, the
// character as Go would quote it, and the reason.
func (e *UnsafePathError) Error() string {
	c := visibleRune(e.Char)
	if isControl(e.Char) {
		return fmt.Sprintf("%s %s contains %s, a control character: it breaks postmaster.pid, configuration files and the line-based output of the tools; %s",
			e.What, Visible(e.Path), c, safePathRule)
	}
	return fmt.Sprintf("%s %s contains %s: pg_ctl passes paths to /bin/sh inside double quotes, where %s is interpreted; %s",
		e.What, Visible(e.Path), c, c, safePathRule)
}

// CheckPath returns an *UnsafePathError when path holds a character that a
// double-quoted shell word interprets ($, `, ", \) or a control character
// (C0, DEL, C1; newline included); what says what the path is for the
// message. Every other character, white space and ; | & ' * ? included,
// is accepted: the shell takes it literally inside double quotes.
func CheckPath(what, path string) error {
	for _, r := range path {
		if strings.ContainsRune(shellChars, r) || isControl(r) {
			return &UnsafePathError{What: what, Path: path, Char: r}
		}
	}
	return nil
}

// isControl reports whether r is a C0 or C1 control character or DEL.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f
}

// visibleRune prints r for a message: '$', '"', '\', "'", or an escape
// such as '\n' or '\x01' for control characters.
func visibleRune(r rune) string {
	switch {
	case isControl(r):
		return strconv.QuoteRune(r)
	case r == '\'':
		return `"'"`
	}
	return "'" + string(r) + "'"
}

// Visible returns s for a one-line message: control characters and bytes
// that are not UTF-8 escaped as Go escapes them (\n, \x01), everything else
// as it is.
func Visible(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case isControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// BadHostError is a host name or address that CheckHost refuses.
type BadHostError struct {
	What string // "host name", "address"
	Host string
	Char rune // the first refused character; 0 when the shape is wrong
}

// safeHostRule says which host names and addresses are accepted.
const safeHostRule = "use letters, digits, '.', '-', '_', ':' and '%' (IPv6), optionally inside [ ], not starting with '-'"

// Error is one line naming the value, the character and the rule.
func (e *BadHostError) Error() string {
	what := "is empty"
	switch {
	case e.Char != 0:
		what = "contains " + visibleRune(e.Char)
	case e.Host != "" && e.Host != "[]":
		what = "starts with '-'"
	}
	return fmt.Sprintf("%s %s %s: host names reach ssh, connection strings and command lines; %s", e.What, Visible(e.Host), what, safeHostRule)
}

// CheckHost returns a *BadHostError unless host is made of the characters
// of DNS names and IP addresses: letters, digits, '.', '-', '_', ':' and
// '%' (an IPv6 zone), optionally wrapped in [ ] as IPv6 literals are in
// files. It must not be empty and must not start with '-', which a program
// would take for an option.
func CheckHost(what, host string) error {
	h := host
	if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	if h == "" || h[0] == '-' {
		return &BadHostError{What: what, Host: host}
	}
	for _, r := range h {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '-' || r == '_' || r == ':' || r == '%'
		if !ok {
			return &BadHostError{What: what, Host: host, Char: r}
		}
	}
	return nil
}

// UnsafeRow is a catalog row that fails CheckPath or CheckHost.
type UnsafeRow struct {
	Segment Segment
	Err     error // an *UnsafePathError or *BadHostError
}

// Error names the row and the problem.
func (r UnsafeRow) Error() string {
	return fmt.Sprintf("%s in gp_segment_configuration: %v", r.Segment.Label(), r.Err)
}

// UnsafeCatalogError lists the catalog rows that CheckShellSafe refuses.
type UnsafeCatalogError struct {
	Rows []UnsafeRow
}

// Error is one line: the rows' problems joined with "; ".
func (e *UnsafeCatalogError) Error() string {
	s := make([]string, len(e.Rows))
	for i, r := range e.Rows {
		s[i] = r.Error()
	}
	return strings.Join(s, "; ")
}

// CheckShellSafe checks every row of the catalog: its data directory with
// CheckPath, its host name and address with CheckHost. The tools pass these
// values to pg_ctl, ssh and their scripts, so a row a user or a script put
// in the catalog is data to validate like any input (design.md, safety
// invariants 5 and 7). It returns an *UnsafeCatalogError listing every
// refused row in the accessors' order, or nil.
func (c *Cluster) CheckShellSafe() error {
	var rows []UnsafeRow
	for _, s := range c.segs {
		for _, err := range []error{CheckPath("data directory", s.DataDir), CheckHost("host name", s.Hostname), CheckHost("address", s.Address)} {
			if err != nil {
				rows = append(rows, UnsafeRow{Segment: s, Err: err})
			}
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return &UnsafeCatalogError{Rows: rows}
}

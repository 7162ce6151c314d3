package addmirrors

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// ConfigLine is one mirror of a -i / -o file (spec §5.4):
// <content>|<address>|<port>|<datadir>. The mirror's host name is its
// address.
type ConfigLine struct {
	Line    int // 1-based line number in the file; 0 for lines not read from a file
	Content int
	Address string // without the [ ] that wrap IPv6 literals in the file
	Port    int
	DataDir string // absolute and cleaned
}

// maxLineLength bounds a line of a mirror configuration file: twice
// PATH_MAX, far above any real line.
const maxLineLength = 8192

// ParseMirrorConfig reads a mirror configuration file (spec §5.4). name
// is the file name for messages. Lines are trimmed; blank lines and lines
// starting with # are skipped; line numbers count every line. Each line
// must have exactly four |-separated fields: a content ID (integer >= -1),
// an address (a host name or IP address; [ ] around IPv6 literals are
// removed), a port (1..65535) and an absolute data directory (cleaned).
// Greenplum's messages are kept where Greenplum rejects the line; the
// stricter checks Greenplum lacks say what is wrong on which line.
//
// It checks the file alone; MirrorsFromConfig checks it against the
// cluster.
func ParseMirrorConfig(r io.Reader, name string) ([]ConfigLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var out []ConfigLine
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		if len(text) > maxLineLength {
			return nil, app.Errorf("line %d of file %s: the line is %d bytes long; a mirror line is content|address|port|datadir", n, name, len(text))
		}
		l, err := parseConfigLine(text, n, name)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mirror configuration file %s: %w", name, err)
	}
	return out, nil
}

// parseConfigLine parses one trimmed, non-comment line n of file name.
func parseConfigLine(text string, n int, name string) (ConfigLine, error) {
	parts := strings.Split(text, "|")
	if len(parts) != 4 {
		return ConfigLine{}, app.Errorf("line %d of file %s: expected 4 parts, obtained %d", n, name, len(parts))
	}
	content, address, port, dir := parts[0], parts[1], parts[2], parts[3]
	l := ConfigLine{Line: n}
	if address == "" {
		return ConfigLine{}, app.Errorf("Invalid address on line %d", n)
	}
	p, err := strconv.Atoi(strings.TrimSpace(port))
	if err != nil || p < 0 {
		return ConfigLine{}, app.Errorf("Invalid port on line %d", n)
	}
	if p < 1 || p > 65535 {
		return ConfigLine{}, app.Errorf("Invalid port on line %d of file %s: %d is not a TCP port; use a port from 1 to 65535", n, name, p)
	}
	l.Port = p
	if strings.TrimSpace(dir) == "" {
		return ConfigLine{}, app.Errorf("Invalid directory on line %d", n)
	}
	c, err := strconv.Atoi(strings.TrimSpace(content))
	if err != nil || c < -1 {
		return ConfigLine{}, app.Errorf("Invalid content ID on line %d", n)
	}
	l.Content = c
	if l.Address, err = parseAddress(address); err != nil {
		return ConfigLine{}, app.Errorf("Invalid address on line %d of file %s: %w", n, name, err)
	}
	if l.DataDir, err = parseDataDir(dir, n); err != nil {
		return ConfigLine{}, err
	}
	if strings.TrimSpace(l.DataDir) != l.DataDir {
		return ConfigLine{}, app.Errorf("Invalid directory on line %d of file %s: %q ends with white space; remove it", n, name, l.DataDir)
	}
	if strings.ContainsFunc(l.DataDir, isControl) {
		return ConfigLine{}, app.Errorf("Invalid directory on line %d of file %s: %q contains control characters", n, name, l.DataDir)
	}
	if l.DataDir == "/" {
		return ConfigLine{}, app.Errorf("Invalid directory on line %d of file %s: a mirror cannot live in /; give the mirror's own directory", n, name)
	}
	return l, nil
}

// parseAddress removes the [ ] around an IPv6 literal and accepts only the
// characters of host names and IP addresses (letters, digits, '.', '-',
// '_', ':' and '%' for IPv6 zones), so that an address is safe in host
// lists and command lines and writes back unchanged.
func parseAddress(s string) (string, error) {
	a := s
	if len(a) >= 2 && a[0] == '[' && a[len(a)-1] == ']' {
		a = a[1 : len(a)-1]
	}
	if a == "" {
		return "", fmt.Errorf("%q names no host", s)
	}
	for _, r := range a {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '-' || r == '_' || r == ':' || r == '%'
		if !ok {
			return "", fmt.Errorf("%q is not a host name or IP address (character %q)", s, r)
		}
	}
	return a, nil
}

// parseDataDir trims and cleans a data directory, which must be absolute
// (Greenplum's message, line number included as Greenplum words it).
func parseDataDir(s string, n int) (string, error) {
	d := strings.TrimSpace(s)
	if !filepath.IsAbs(d) {
		return "", fmt.Errorf("Path entered in config file is invalid; it must be a full path.  Path: '%s' from: %d", d, n)
	}
	return filepath.Clean(d), nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// FormatAddress wraps an IPv6 literal (an address with a ':') in [ ], as
// Greenplum's canonicalize_address does for -o files.
func FormatAddress(a string) string {
	if strings.Contains(a, ":") && !strings.Contains(a, "[") {
		return "[" + a + "]"
	}
	return a
}

// WriteMirrorConfig writes lines in the -i format Greenplum's -o writes:
// <content>|<address>|<port>|<datadir>, one per line, IPv6 literals in
// [ ]. ParseMirrorConfig reads back the same lines (line numbers aside).
func WriteMirrorConfig(w io.Writer, lines []ConfigLine) error {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%d|%s|%d|%s\n", l.Content, FormatAddress(l.Address), l.Port, l.DataDir)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ConfigLines returns the -o lines of mirrors, in build order.
func ConfigLines(mirrors []Mirror) []ConfigLine {
	out := make([]ConfigLine, len(mirrors))
	for i, m := range mirrors {
		out[i] = ConfigLine{Content: m.Mirror.ContentID, Address: m.Mirror.Address, Port: m.Mirror.Port, DataDir: m.Mirror.DataDir}
	}
	return out
}

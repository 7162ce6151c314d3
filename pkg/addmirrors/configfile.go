package addmirrors

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
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

// ParseMirrorConfig reads a mirror configuration file (spec §5.4). name
// is the file name for messages. Lines are trimmed; blank lines and lines
// starting with # are skipped; line numbers count every line. Each line
// must have exactly four |-separated fields: a content ID (integer >= -1),
// an address (a host name or IP address that cluster.CheckHost accepts;
// [ ] around IPv6 literals are removed), a port (1..65535) and an absolute
// data directory (cleaned) that cluster.CheckPath accepts. Greenplum's
// messages are kept where Greenplum rejects the line; the stricter checks
// Greenplum lacks say what is wrong on which line. What is not a text file
// of short lines is refused as scanText says.
//
// It checks the file alone; MirrorsFromConfig checks it against the
// cluster.
func ParseMirrorConfig(r io.Reader, name string) ([]ConfigLine, error) {
	name = cluster.Visible(name) // messages stay one line
	var out []ConfigLine
	err := scanText(r, name, func(n int, text string) error {
		text = strings.TrimSpace(text)
		if text == "" || text[0] == '#' {
			return nil
		}
		l, err := parseConfigLine(text, n, name)
		if err != nil {
			return err
		}
		out = append(out, l)
		return nil
	})
	if err != nil {
		return nil, err
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
	if l.Address, err = cluster.ParseAddress(address); err != nil {
		return ConfigLine{}, app.Errorf("Invalid address on line %d of file %s: %w", n, name, err)
	}
	if l.DataDir, err = parseDataDir(dir, n); err != nil {
		return ConfigLine{}, err
	}
	if strings.TrimSpace(l.DataDir) != l.DataDir {
		return ConfigLine{}, app.Errorf("Invalid directory on line %d of file %s: %q ends with white space; remove it", n, name, l.DataDir)
	}
	if err := cluster.CheckPath("mirror data directory", l.DataDir); err != nil {
		return ConfigLine{}, app.Errorf("Invalid directory on line %d of file %s: %v", n, name, err)
	}
	if l.DataDir == "/" {
		return ConfigLine{}, app.Errorf("Invalid directory on line %d of file %s: a mirror cannot live in /; give the mirror's own directory", n, name)
	}
	return l, nil
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

// WriteMirrorConfig writes lines in the -i format Greenplum's -o writes:
// <content>|<address>|<port>|<datadir>, one per line, IPv6 literals in
// [ ]. ParseMirrorConfig reads back the same lines (line numbers aside).
func WriteMirrorConfig(w io.Writer, lines []ConfigLine) error {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%d|%s|%d|%s\n", l.Content, cluster.FormatAddress(l.Address), l.Port, l.DataDir)
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

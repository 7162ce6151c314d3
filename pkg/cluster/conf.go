package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ConfEntry is one "name = value" line of a PostgreSQL configuration file.
// Include directives (include, include_if_exists, include_dir) appear as
// entries with that name and the file or directory as Value.
type ConfEntry struct {
	Name  string // lower-cased, as PostgreSQL matches names
	Value string // unquoted and unescaped
	Line  int
}

// ParseConf parses PostgreSQL configuration syntax (guc-file.l): one setting
// per line, "name [=] value", '#' comments, values bare or single-quoted
// with ” and backslash escapes. Lines that PostgreSQL would reject are
// errors naming the line.
func ParseConf(r io.Reader) ([]ConfEntry, error) {
	var out []ConfEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		e, ok, err := parseConfLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if ok {
			e.Line = n
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return out, nil
}

func parseConfLine(line string) (ConfEntry, bool, error) {
	s := strings.TrimLeft(line, " \t\r\f\v")
	if s == "" || s[0] == '#' {
		return ConfEntry{}, false, nil
	}
	i := 0
	for i < len(s) && isNameByte(s[i]) {
		i++
	}
	if i == 0 || !isLetter(s[0]) {
		return ConfEntry{}, false, fmt.Errorf("syntax error near %q", s)
	}
	name := strings.ToLower(s[:i])
	s = strings.TrimLeft(s[i:], " \t\r\f\v")
	if strings.HasPrefix(s, "=") {
		s = strings.TrimLeft(s[1:], " \t\r\f\v")
	}
	var value string
	switch {
	case strings.HasPrefix(s, "'"):
		v, rest, err := unquoteConf(s)
		if err != nil {
			return ConfEntry{}, false, fmt.Errorf("%s: %w", name, err)
		}
		value, s = v, rest
	default:
		j := 0
		for j < len(s) && !strings.ContainsRune(" \t\r\f\v#", rune(s[j])) {
			j++
		}
		value, s = s[:j], s[j:]
		if value == "" {
			return ConfEntry{}, false, fmt.Errorf("%s: missing value", name)
		}
	}
	s = strings.TrimLeft(s, " \t\r\f\v")
	if s != "" && s[0] != '#' {
		return ConfEntry{}, false, fmt.Errorf("%s: unexpected %q after value", name, s)
	}
	return ConfEntry{Name: name, Value: value}, true, nil
}

func isLetter(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
}

func isNameByte(b byte) bool {
	return isLetter(b) || b >= '0' && b <= '9' || b == '.' || b == '$'
}

// unquoteConf reads a single-quoted value at the start of s and returns it
// with the rest of s.
func unquoteConf(s string) (string, string, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\'':
			return b.String(), s[i+1:], nil
		case c == '\\' && i+1 < len(s):
			i++
			switch e := s[i]; e {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				if e >= '0' && e <= '7' {
					j := i
					for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
						j++
					}
					v, _ := strconv.ParseUint(s[i:j], 8, 8)
					b.WriteByte(byte(v))
					i = j - 1
				} else {
					b.WriteByte(e)
				}
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated quoted string")
}

// Conf is the effective settings of a data directory, by lower-cased name.
type Conf map[string]string

// maxIncludeDepth is PostgreSQL's CONF_FILE_MAX_DEPTH.
const maxIncludeDepth = 10

// ReadPostgresConf reads dataDir/postgresql.conf the way the server does:
// include, include_if_exists and include_dir directives are followed
// (relative paths against the including file's directory), then
// postgresql.auto.conf (where ALTER SYSTEM writes) is read last; the last
// occurrence of a name wins. A missing postgresql.auto.conf is not an error.
func ReadPostgresConf(dataDir string) (Conf, error) {
	conf := Conf{}
	if err := readConfFile(conf, filepath.Join(dataDir, "postgresql.conf"), false, 0); err != nil {
		return nil, err
	}
	if err := readConfFile(conf, filepath.Join(dataDir, "postgresql.auto.conf"), true, 0); err != nil {
		return nil, err
	}
	return conf, nil
}

func readConfFile(conf Conf, path string, optional bool, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("read %s: includes nested more than %d deep", path, maxIncludeDepth)
	}
	f, err := os.Open(path)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	defer f.Close()
	entries, err := ParseConf(f)
	if err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for _, e := range entries {
		switch e.Name {
		case "include", "include_if_exists":
			if err := readConfFile(conf, rel(e.Value), e.Name == "include_if_exists", depth+1); err != nil {
				return err
			}
		case "include_dir":
			if err := readConfDir(conf, rel(e.Value), depth+1); err != nil {
				return err
			}
		default:
			conf[e.Name] = e.Value
		}
	}
	return nil
}

// readConfDir reads the *.conf files of dir in name order, skipping hidden files.
func readConfDir(conf Conf, dir string, depth int) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read configuration directory: %w", err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".conf") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if err := readConfFile(conf, filepath.Join(dir, n), false, depth); err != nil {
			return err
		}
	}
	return nil
}

// Int returns setting name as an integer, or an error if it is unset or not a number.
func (c Conf) Int(name string) (int, error) {
	v, ok := c[strings.ToLower(name)]
	if !ok {
		return 0, fmt.Errorf("%s is not set in postgresql.conf", name)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s = %q in postgresql.conf is not a number", name, v)
	}
	return n, nil
}

// Port returns the port setting (the coordinator port, spec §1.5).
func (c Conf) Port() (int, error) { return c.Int("port") }

// MaxConnections returns the max_connections setting.
func (c Conf) MaxConnections() (int, error) { return c.Int("max_connections") }

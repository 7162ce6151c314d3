package recoverseg

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Location is one group of a recovery configuration file:
// <address>|<port>|<data directory>.
type Location struct {
	Address string // without the [ ] that wrap an IPv6 literal in the file
	Port    int
	DataDir string // absolute and cleaned
}

// String is the location as the file spells it, IPv6 literals in [ ].
func (l Location) String() string {
	return fmt.Sprintf("%s|%d|%s", cluster.FormatAddress(l.Address), l.Port, l.DataDir)
}

// locationOf is where s lives, as a configuration file names it.
func locationOf(s cluster.Segment) Location {
	return Location{Address: s.Address, Port: s.Port, DataDir: s.DataDir}
}

// ConfigLine is one line of a recovery configuration file (spec §4.4.3):
// a failed segment to recover in place, or, with New, to recover in full
// to a new location (New equal to Failed: in full, in place).
type ConfigLine struct {
	Line   int // 1-based, counting every line of the file
	Failed Location
	New    *Location
}

// maxConfigLineLength bounds a line: two groups of a host name, a port and
// a path are far shorter.
const maxConfigLineLength = 8192

// ParseConfigFile reads a recovery configuration file (spec §4.4.3); name
// is the file's name for messages. Lines are trimmed; blank lines and
// lines starting with # are skipped; line numbers count every line. Each
// line has one group, or two separated by white space, of three
// |-separated parts. Every problem is refused with Greenplum's message and
// the line's number, and the file as a whole must be consistent: no failed
// segment twice, no new location twice, no in-place recovery of a location
// an earlier line recovers another segment to.
//
// Beyond Greenplum's checks, an address must look like a host name or IP
// address, a port must be a TCP port, and a new data directory must be one
// pg_ctl can be given (cluster.CheckPath: no control characters, none of
// the characters its shell would interpret; and not /). The file is checked
// alone; selectFromFile checks it against the catalog.
func ParseConfigFile(r io.Reader, name string) ([]ConfigLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var out []ConfigLine
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		if len(text) > maxConfigLineLength {
			return nil, app.Errorf("line %d of file %s: the line is %d bytes long; a line is failedAddress|port|dataDirectory [newAddress|port|dataDirectory]", n, name, len(text))
		}
		l, err := parseConfigLine(text, n, name)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, app.Errorf("read the recovery configuration file %s: %v", name, err)
	}
	if err := checkConfigLines(out); err != nil {
		return nil, err
	}
	return out, nil
}

// parseConfigLine parses trimmed line n of file name.
func parseConfigLine(text string, n int, name string) (ConfigLine, error) {
	groups := strings.Fields(text)
	if len(groups) != 1 && len(groups) != 2 {
		return ConfigLine{}, app.Errorf("line %d of file %s: expected 1 or 2 groups but found %d", n, name, len(groups))
	}
	l := ConfigLine{Line: n}
	for i, g := range groups {
		parts := strings.Split(g, "|")
		if len(parts) != 3 {
			which := "failed"
			if i == 1 {
				which = "new"
			}
			return ConfigLine{}, app.Errorf("line %d of file %s: expected 3 parts on %s segment group, obtained %d", n, name, which, len(parts))
		}
		loc, err := parseLocation(parts, n, name)
		if err != nil {
			return ConfigLine{}, err
		}
		if i == 0 {
			l.Failed = loc
			continue
		}
		if err := checkNewDataDir(loc.DataDir, n, name); err != nil {
			return ConfigLine{}, err
		}
		l.New = &loc
	}
	return l, nil
}

// parseLocation checks one group's parts in Greenplum's order (address,
// port, directory present; then the path absolute), then the additions.
func parseLocation(parts []string, n int, name string) (Location, error) {
	address, port, dir := parts[0], parts[1], parts[2]
	if address == "" {
		return Location{}, app.Errorf("Invalid address on line %d", n)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 {
		return Location{}, app.Errorf("Invalid port on line %d", n)
	}
	if dir == "" {
		return Location{}, app.Errorf("Invalid directory on line %d", n)
	}
	if !filepath.IsAbs(dir) {
		// Greenplum's words, the file named where it says "in".
		return Location{}, app.Errorf("Path entered %s is invalid; it must be a full path.  Path: '%s' from: %d", name, dir, n)
	}
	if p < 1 || p > 65535 {
		return Location{}, app.Errorf("Invalid port on line %d of file %s: %d is not a TCP port; use a port from 1 to 65535", n, name, p)
	}
	a, err := cluster.ParseAddress(address)
	if err != nil {
		return Location{}, app.Errorf("Invalid address on line %d of file %s: %v", n, name, err)
	}
	if err := cluster.CheckPath("data directory", dir); err != nil {
		return Location{}, app.Errorf("Invalid directory on line %d of file %s: %w", n, name, err)
	}
	return Location{Address: a, Port: p, DataDir: filepath.Clean(dir)}, nil
}

// checkNewDataDir refuses / as a new data directory (what pg_ctl's shell
// would interpret is refused for every directory, by parseLocation).
func checkNewDataDir(dir string, n int, name string) error {
	if dir == "/" {
		return app.Errorf("Invalid directory on line %d of file %s: a segment cannot live in /; give the segment's own directory", n, name)
	}
	return nil
}

// checkConfigLines is Greenplum's check of the lines against each other,
// in file order, by address and data directory.
func checkConfigLines(lines []ConfigLine) error {
	type key struct{ address, dir string }
	failed := map[key]int{}
	moved := map[key]int{}
	for _, l := range lines {
		k := key{l.Failed.Address, l.Failed.DataDir}
		if prev, dup := failed[k]; dup {
			return app.Errorf("config file lines %d and %d conflict: Cannot recover the same failed segment %s and data directory %s twice.",
				prev, l.Line, l.Failed.Address, l.Failed.DataDir)
		}
		failed[k] = l.Line
		if l.New == nil {
			if prev, used := moved[k]; used {
				return app.Errorf("config file lines %d and %d conflict: Cannot recover segment %s with data directory %s in place if it is used as a recovery segment.",
					prev, l.Line, l.Failed.Address, l.Failed.DataDir)
			}
			continue
		}
		nk := key{l.New.Address, l.New.DataDir}
		if prev, dup := moved[nk]; dup {
			return app.Errorf("config file lines %d and %d conflict: Cannot recover to the same segment %s and data directory %s twice.",
				prev, l.Line, l.New.Address, l.New.DataDir)
		}
		moved[nk] = l.Line
	}
	return nil
}

// WriteConfigFile writes lines in the format ParseConfigFile reads, one per
// line, as Greenplum's -o does: the failed location, and the new one after
// a space when there is one; IPv6 literals in [ ].
func WriteConfigFile(w io.Writer, lines []ConfigLine) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Failed.String())
		if l.New != nil {
			b.WriteString(" " + l.New.String())
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// readConfigFile opens and parses the -i file.
func readConfigFile(name string) ([]ConfigLine, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, app.Errorf("cannot read the recovery configuration file given with -i: %v", err)
	}
	defer f.Close()
	return ParseConfigFile(f, name)
}

// writeOutputFile writes the -o file (mode 0666 before umask, as Python's
// open does).
func writeOutputFile(name string, lines []ConfigLine) (err error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return app.Errorf("cannot write the recovery configuration file given with -o: %v", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = app.Errorf("write %s: %v", name, cerr)
		}
	}()
	if err := WriteConfigFile(f, lines); err != nil {
		return app.Errorf("write %s: %v", name, err)
	}
	return nil
}

package addmirrors_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

func TestParseMirrorConfig(t *testing.T) {
	in := "# mirrors for the demo cluster\n" +
		"\n" +
		"  0|mdw|7004|/data/dbfast_mirror1/demoDataDir0  \n" +
		"1|[fd00::a]|7005|/data//dbfast_mirror2/./demoDataDir1/\n" +
		"2|fd00::b|7006|/m/x\n"
	got, err := addmirrors.ParseMirrorConfig(strings.NewReader(in), "mirrors")
	if err != nil {
		t.Fatal(err)
	}
	want := []addmirrors.ConfigLine{
		{Line: 3, Content: 0, Address: "mdw", Port: 7004, DataDir: "/data/dbfast_mirror1/demoDataDir0"},
		{Line: 4, Content: 1, Address: "fd00::a", Port: 7005, DataDir: "/data/dbfast_mirror2/demoDataDir1"},
		{Line: 5, Content: 2, Address: "fd00::b", Port: 7006, DataDir: "/m/x"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	var b bytes.Buffer
	if err := addmirrors.WriteMirrorConfig(&b, got); err != nil {
		t.Fatal(err)
	}
	wantOut := "0|mdw|7004|/data/dbfast_mirror1/demoDataDir0\n1|[fd00::a]|7005|/data/dbfast_mirror2/demoDataDir1\n2|[fd00::b]|7006|/m/x\n"
	if d := cmp.Diff(wantOut, b.String()); d != "" {
		t.Errorf("written (-want +got):\n%s", d)
	}
}

const (
	hostRule = ": host names reach ssh, connection strings and command lines; use letters, digits, '.', '-', '_', ':' and '%' (IPv6), optionally inside [ ], not starting with '-'"
	pathRule = "; use a path without $ ` \" \\ or control characters"
)

// shellWhy is the reason cluster.CheckPath gives for a shell character.
func shellWhy(c rune) string {
	return ": pg_ctl passes paths to /bin/sh inside double quotes, where '" + string(c) + "' is interpreted" + pathRule
}

func TestParseMirrorConfigErrors(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"help text's obsolete 6 fields", "0|sdw1-1|52001|53001|54001|/gpdata/mir1/gp0", "line 2 of file f: expected 4 parts, obtained 6"},
		{"3 fields", "0|sdw1|7000", "line 2 of file f: expected 4 parts, obtained 3"},
		{"empty address", "0||7000|/m", "Invalid address on line 2"},
		{"address with a space", "0|sdw 1|7000|/m", "Invalid address on line 2 of file f: address sdw 1 contains ' '" + hostRule},
		{"address with a quote", "0|sdw1';rm|7000|/m", `Invalid address on line 2 of file f: address sdw1';rm contains "'"` + hostRule},
		{"address with a command", "0|sdw1$(reboot)|7000|/m", "Invalid address on line 2 of file f: address sdw1$(reboot) contains '$'" + hostRule},
		{"address like an option", "0|-oProxyCommand=sh|7000|/m", "Invalid address on line 2 of file f: address -oProxyCommand=sh starts with '-'" + hostRule},
		{"address with one bracket", "0|[fd00::1|7000|/m", "Invalid address on line 2 of file f: address [fd00::1 contains '['" + hostRule},
		{"empty brackets", "0|[]|7000|/m", "Invalid address on line 2 of file f: address [] is empty" + hostRule},
		{"port not a number", "0|sdw1|70x0|/m", "Invalid port on line 2"},
		{"negative port", "0|sdw1|-1|/m", "Invalid port on line 2"},
		{"port zero", "0|sdw1|0|/m", "Invalid port on line 2 of file f: 0 is not a TCP port; use a port from 1 to 65535"},
		{"port too large", "0|sdw1|65536|/m", "Invalid port on line 2 of file f: 65536 is not a TCP port; use a port from 1 to 65535"},
		{"empty directory", "0|sdw1|7000|", "Invalid directory on line 2"},
		{"content not a number", "x|sdw1|7000|/m", "Invalid content ID on line 2"},
		{"content below -1", "-2|sdw1|7000|/m", "Invalid content ID on line 2"},
		{"relative directory", "0|sdw1|7000|data/m", "Path entered in config file is invalid; it must be a full path.  Path: 'data/m' from: 2"},
		{"root directory", "0|sdw1|7000|/", "Invalid directory on line 2 of file f: a mirror cannot live in /; give the mirror's own directory"},
		{"control character", "0|sdw1|7000|/m\x01x", `Invalid directory on line 2 of file f: mirror data directory /m\x01x contains '\x01', a control character: ` +
			"it breaks postmaster.pid, configuration files and the line-based output of the tools" + pathRule},
		{"command substitution", "0|sdw1|7000|/m/$(touch /tmp/x)", "Invalid directory on line 2 of file f: mirror data directory /m/$(touch /tmp/x) contains '$'" + shellWhy('$')},
		{"backquotes", "0|sdw1|7000|/m/`touch /tmp/x`", "Invalid directory on line 2 of file f: mirror data directory /m/`touch /tmp/x` contains '`'" + shellWhy('`')},
		{"double quote", `0|sdw1|7000|/m/"; touch /tmp/x; "`, `Invalid directory on line 2 of file f: mirror data directory /m/"; touch /tmp/x; " contains '"'` + shellWhy('"')},
		{"backslash", `0|sdw1|7000|/m/a\b`, `Invalid directory on line 2 of file f: mirror data directory /m/a\b contains '\'` + shellWhy('\\')},
		{"trailing white space inside", "0|sdw1|7000|/m/x /", `Invalid directory on line 2 of file f: "/m/x " ends with white space; remove it`},
		{"NUL byte", "0|sdw1|7000|/m\x00", "line 2 of file f holds a NUL byte: f is not a text file"},
		{"Latin-1", "0|sdw1|7000|/m/caf\xe9", "line 2 of file f is not UTF-8 text: give paths and host names in UTF-8"},
		{"long line", "0|sdw1|7000|/" + strings.Repeat("m", 8180), "line 2 of file f is more than 8192 bytes long: is f the right file?"},
		{"very long line", "0|sdw1|7000|/" + strings.Repeat("m", 2<<20), "line 2 of file f is more than 8192 bytes long: is f the right file?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := addmirrors.ParseMirrorConfig(strings.NewReader("# header\n"+tt.line+"\n"), "f")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v\nwant  %s", err, tt.want)
			}
		})
	}
}

// FuzzParseMirrorConfig: a file parses or is refused with one line naming
// the line at fault (Greenplum's words where it has some); whatever parses is
// absolute, clean, safe for pg_ctl's shell and for ssh, and writes back
// (-o) to a file that parses to the same mirrors. Seeds: testdata/fuzz.
func FuzzParseMirrorConfig(f *testing.F) {
	for _, s := range []string{
		"0|mdw|7004|/data/dbfast_mirror1/demoDataDir0\n1|mdw|7005|/data/dbfast_mirror2/demoDataDir1\n",
		"# c\n\n 0|[::1]|1|/a/../b \n-1|h%eth0|65535|//x//\n",
		"0|a|1|/\n", "0|a|b|c|d\n", "+1| a|01|/x\r\n", "0|[a:b|1|/x\n0|a:b]|2|/y\n",
		"0|sdw1|7000|/m/$(touch x)\n", "0|-o|7000|/m\n", "0|sdw1|7000|/m\x00\n", "0|sdw1|7000|/caf\xe9\n",
	} {
		f.Add(s)
	}
	lineNumber := regexp.MustCompile(`line (\d+)|from: (\d+)`)
	f.Fuzz(func(t *testing.T, in string) {
		lines, err := addmirrors.ParseMirrorConfig(strings.NewReader(in), "fuzz")
		if err != nil {
			m := lineNumber.FindStringSubmatch(err.Error())
			if m == nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: not one line naming a line of the file", err)
			}
			if n, _ := strconv.Atoi(m[1] + m[2]); n < 1 || n > strings.Count(in, "\n")+1 {
				t.Fatalf("error %q names line %d of a %d-line file", err, n, strings.Count(in, "\n")+1)
			}
			return
		}
		for _, l := range lines {
			if !filepath.IsAbs(l.DataDir) || filepath.Clean(l.DataDir) != l.DataDir ||
				cluster.CheckPath("d", l.DataDir) != nil || cluster.CheckHost("a", l.Address) != nil {
				t.Fatalf("accepted %+v", l)
			}
		}
		var b bytes.Buffer
		if err := addmirrors.WriteMirrorConfig(&b, lines); err != nil {
			t.Fatal(err)
		}
		again, err := addmirrors.ParseMirrorConfig(&b, "written")
		if err != nil {
			t.Fatalf("written file does not parse: %v\n%s", err, b.String())
		}
		for i := range lines {
			lines[i].Line = i + 1
		}
		if d := cmp.Diff(lines, again); d != "" {
			t.Fatalf("round trip (-parsed +reparsed):\n%s", d)
		}
	})
}

func TestMirrorsFromConfig(t *testing.T) {
	c := fixture(t, "mirrorless_2host")
	parse := func(t *testing.T, text string) []addmirrors.ConfigLine {
		t.Helper()
		lines, err := addmirrors.ParseMirrorConfig(strings.NewReader(text), "m.conf")
		if err != nil {
			t.Fatal(err)
		}
		return lines
	}
	good := "0|sdw2-1|7000|/data/mirror/gpseg0\n1|sdw2-1|7001|/data/mirror/gpseg1\n" +
		"2|sdw1-1|7000|/data/mirror/gpseg2\n3|sdw1-1|7001|/data/mirror/gpseg3\n"
	var looked []string
	lookup := func(_ context.Context, h string) ([]string, error) {
		looked = append(looked, h)
		return []string{"10.0.0.1"}, nil
	}
	got, err := addmirrors.MirrorsFromConfig(t.Context(), c, parse(t, good), "m.conf", lookup)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"sdw2-1", "sdw1-1"}, looked); d != "" {
		t.Errorf("looked up (-want +got):\n%s", d)
	}
	wantText := "primary 2|0|p|p|n|u|sdw1|sdw1-1|6000|/data/primary/gpseg0\n" +
		"mirror  6|0|m|m|n|u|sdw2-1|sdw2-1|7000|/data/mirror/gpseg0\n" +
		"primary 3|1|p|p|n|u|sdw1|sdw1-1|6001|/data/primary/gpseg1\n" +
		"mirror  7|1|m|m|n|u|sdw2-1|sdw2-1|7001|/data/mirror/gpseg1\n" +
		"primary 4|2|p|p|n|u|sdw2|sdw2-1|6000|/data/primary/gpseg2\n" +
		"mirror  8|2|m|m|n|u|sdw1-1|sdw1-1|7000|/data/mirror/gpseg2\n" +
		"primary 5|3|p|p|n|u|sdw2|sdw2-1|6001|/data/primary/gpseg3\n" +
		"mirror  9|3|m|m|n|u|sdw1-1|sdw1-1|7001|/data/mirror/gpseg3\n"
	if d := cmp.Diff(wantText, string(planText(got))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}

	tests := []struct {
		name, text, want string
		lookupErr        error
	}{
		{"unknown content", "7|sdw2-1|7000|/m/gpseg7\n",
			"line 1 of file m.conf: Invalid content 7 specified in input file; the cluster has segment contents 0 to 3", nil},
		{"coordinator content", "-1|sdw2-1|7000|/m/gpseg-1\n",
			"line 1 of file m.conf: Invalid content -1 specified in input file; the cluster has segment contents 0 to 3", nil},
		{"duplicate content", "0|sdw2-1|7000|/m/a\n0|sdw2-1|7001|/m/b\n",
			"line 2 of file m.conf: content 0 already has a mirror on line 1; give one line per content", nil},
		{"two mirrors on one host:port", "0|sdw2-1|7000|/m/a\n1|sdw2|7000|/m/b\n",
			"line 2 of file m.conf: port 7000 on host sdw2 is already used by the mirror on line 1; choose another port", nil},
		{"port of a primary", "0|sdw2|6001|/m/a\n",
			"line 1 of file m.conf: port 6001 on host sdw2 is already used by content 3 primary (dbid 5); choose another port", nil},
		{"directory of a primary", "2|sdw2-1|7000|/data/primary/gpseg2/\n",
			"line 1 of file m.conf: data directory /data/primary/gpseg2 on host sdw2 is already used by content 2 primary (dbid 4); choose another directory", nil},
		{"two mirrors in one directory", "0|sdw2-1|7000|/m/a\n1|sdw2-1|7001|/m/a\n",
			"line 2 of file m.conf: data directory /m/a on host sdw2 is already used by the mirror on line 1; choose another directory", nil},
		{"unknown host", "0|sdw9|7000|/m/a\n",
			"line 1 of file m.conf: cannot resolve host sdw9: no such host; fix the address or the host's DNS or /etc/hosts entry", errors.New("no such host")},
		{"too few lines", "0|sdw2-1|7000|/m/a\n",
			"Wrong number of mirrors specified (specified 1 mirror(s) for 4 primarie(s))", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(context.Context, string) ([]string, error) { return nil, tt.lookupErr }
			_, err := addmirrors.MirrorsFromConfig(t.Context(), c, parse(t, tt.text), "m.conf", lookup)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v\nwant  %s", err, tt.want)
			}
		})
	}
}

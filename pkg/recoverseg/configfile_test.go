package recoverseg

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// TestParseConfigFile: comments and blank lines are skipped but counted,
// groups are split on any white space, brackets leave IPv6 literals,
// paths are cleaned, and the same triple twice is a full in-place line.
func TestParseConfigFile(t *testing.T) {
	text := "# recover content 0 in place, move content 1\n" +
		"\n" +
		"  sdw1-1|6000|/data/primary/gpseg0  \n" +
		"sdw2-1|6001|/data/primary/gpseg1\t \tsdw3-1|7001|/data2/primary/gpseg1/\n" +
		"   # indented comment\n" +
		"[fd00::a]|7000|/data/mirror/gpseg2 [fd00::b]|7000|/data/mirror//gpseg2\n" +
		"sdw4|6002|/data/primary/gpseg3 sdw4|6002|/data/primary/gpseg3\n"
	got, err := ParseConfigFile(strings.NewReader(text), "recover.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := []ConfigLine{
		{Line: 3, Failed: Location{"sdw1-1", 6000, "/data/primary/gpseg0"}},
		{Line: 4, Failed: Location{"sdw2-1", 6001, "/data/primary/gpseg1"}, New: &Location{"sdw3-1", 7001, "/data2/primary/gpseg1"}},
		{Line: 6, Failed: Location{"fd00::a", 7000, "/data/mirror/gpseg2"}, New: &Location{"fd00::b", 7000, "/data/mirror/gpseg2"}},
		{Line: 7, Failed: Location{"sdw4", 6002, "/data/primary/gpseg3"}, New: &Location{"sdw4", 6002, "/data/primary/gpseg3"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestParseConfigFileErrors: every refusal of spec §4.4.3 in Greenplum's
// words, with the line number, and the additions in ours; each an
// expected error (exit 2).
func TestParseConfigFileErrors(t *testing.T) {
	for _, tt := range []struct{ name, text, want string }{
		{"three groups", "# c\na|1|/d b|2|/e c|3|/f\n", "line 2 of file f.conf: expected 1 or 2 groups but found 3"},
		{"failed group parts", "\n\na|1\n", "line 3 of file f.conf: expected 3 parts on failed segment group, obtained 2"},
		{"failed group four parts", "a|1|/d|x\n", "line 1 of file f.conf: expected 3 parts on failed segment group, obtained 4"},
		{"new group parts", "a|1|/d b|2|/e|f\n", "line 1 of file f.conf: expected 3 parts on new segment group, obtained 4"},
		{"empty address", "|6000|/d\n", "Invalid address on line 1"},
		{"empty new address", "a|6000|/d |6000|/e\n", "Invalid address on line 1"},
		{"port not a number", "a|x|/d\n", "Invalid port on line 1"},
		{"negative port", "a|-1|/d\n", "Invalid port on line 1"},
		{"empty port", "a||/d\n", "Invalid port on line 1"},
		{"new port not a number", "a|1|/d b|7x|/e\n", "Invalid port on line 1"},
		{"empty directory", "a|6000|\n", "Invalid directory on line 1"},
		{"relative directory", "\na|6000|data/gpseg0\n", "Path entered f.conf is invalid; it must be a full path.  Path: 'data/gpseg0' from: 2"},
		{"relative new directory", "a|6000|/d b|6000|gpseg0\n", "Path entered f.conf is invalid; it must be a full path.  Path: 'gpseg0' from: 1"},
		{"same failed segment twice", "a|6000|/d\n#\nb|6001|/e\na|6002|/d/ c|1|/x\n",
			"config file lines 1 and 4 conflict: Cannot recover the same failed segment a and data directory /d twice."},
		{"same new location twice", "a|6000|/d c|7000|/x\nb|6001|/e c|7001|/x\n",
			"config file lines 1 and 2 conflict: Cannot recover to the same segment c and data directory /x twice."},
		{"in place where another is moved to", "a|6000|/d c|7000|/x\nc|7000|/x\n",
			"config file lines 1 and 2 conflict: Cannot recover segment c with data directory /x in place if it is used as a recovery segment."},
		// Additions: what Greenplum lets through to fail later.
		{"port 0", "a|0|/d\n", "Invalid port on line 1 of file f.conf: 0 is not a TCP port; use a port from 1 to 65535"},
		{"port too large", "a|1|/d b|70000|/e\n", "Invalid port on line 1 of file f.conf: 70000 is not a TCP port; use a port from 1 to 65535"},
		{"address with a shell character", "a;b|1|/d\n", "Invalid address on line 1 of file f.conf: address a;b contains ';': host names reach ssh, connection strings and command lines; use letters, digits, '.', '-', '_', ':' and '%' (IPv6), optionally inside [ ], not starting with '-'"},
		{"control character", "a|1|/d\x01x\n", `Invalid directory on line 1 of file f.conf: data directory /d\x01x contains '\x01', a control character: it breaks postmaster.pid, configuration files and the line-based output of the tools; use a path without $ ` + "`" + ` " \ or control characters`},
		{"new directory /", "a|1|/d b|1|/\n", "Invalid directory on line 1 of file f.conf: a segment cannot live in /; give the segment's own directory"},
		{"new directory pg_ctl's shell would expand", "a|1|/d b|1|/data/$HOME\n",
			"Invalid directory on line 1 of file f.conf: data directory /data/$HOME contains '$': pg_ctl passes paths to /bin/sh inside double quotes, where '$' is interpreted; use a path without $ ` \" \\ or control characters"},
		{"long line", strings.Repeat("a", 9000) + "|1|/d\n", "line 1 of file f.conf: the line is 9005 bytes long; a line is failedAddress|port|dataDirectory [newAddress|port|dataDirectory]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfigFile(strings.NewReader(tt.text), "f.conf")
			var ee *app.ExpectedError
			if !errors.As(err, &ee) || err.Error() != tt.want {
				t.Errorf("%v (%T)\nwant %q", err, err, tt.want)
			}
		})
	}
}

// TestWriteConfigFile: -o's format, which ParseConfigFile reads back.
func TestWriteConfigFile(t *testing.T) {
	lines := []ConfigLine{
		{Failed: Location{"sdw1", 6000, "/data/primary/gpseg0"}},
		{Failed: Location{"sdw2", 6001, "/data/primary/gpseg1"}, New: &Location{"sdw3", 6000, "/data/primary/gpseg1"}},
		{Failed: Location{"fd00::a", 7000, "/m/gpseg2"}, New: &Location{"fd00::b", 7001, "/m/gpseg2"}},
	}
	var b bytes.Buffer
	if err := WriteConfigFile(&b, lines); err != nil {
		t.Fatal(err)
	}
	want := "sdw1|6000|/data/primary/gpseg0\n" +
		"sdw2|6001|/data/primary/gpseg1 sdw3|6000|/data/primary/gpseg1\n" +
		"[fd00::a]|7000|/m/gpseg2 [fd00::b]|7001|/m/gpseg2\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	back, err := ParseConfigFile(&b, "o.conf")
	if err != nil {
		t.Fatal(err)
	}
	for i := range lines {
		lines[i].Line = i + 1
	}
	if d := cmp.Diff(lines, back); d != "" {
		t.Errorf("read back (-written +read):\n%s", d)
	}
}

// FuzzParseConfigFile: whatever the file, the parser returns lines or an
// expected error (never a panic, never another kind of error), and the
// lines it accepts are written and read back unchanged.
func FuzzParseConfigFile(f *testing.F) {
	for _, s := range []string{
		"sdw1|6000|/data/primary/gpseg0\n",
		"# c\n\nsdw2|6001|/p/gpseg1 sdw3|6000|/p/gpseg1\n",
		"[fd00::a]|7000|/m/gpseg2 [fd00::b]|7001|/m//gpseg2/\n",
		"a|1|/d a|1|/d\nb|x|/e\n",
		"a|6000|/d c|7000|/x\nc|7000|/x\n",
		"a|1|rel\n",
		"|||\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		lines, err := ParseConfigFile(strings.NewReader(text), "f")
		if err != nil {
			var ee *app.ExpectedError
			if !errors.As(err, &ee) {
				t.Fatalf("%q: %v is not an expected error", text, err)
			}
			return
		}
		var b bytes.Buffer
		if err := WriteConfigFile(&b, lines); err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfigFile(&b, "f")
		if err != nil {
			t.Fatalf("%q: written as %q, read back: %v", text, b.String(), err)
		}
		for i := range lines {
			lines[i].Line = i + 1
		}
		if d := cmp.Diff(lines, back); d != "" {
			t.Fatalf("%q: read back (-parsed +again):\n%s", text, d)
		}
	})
}

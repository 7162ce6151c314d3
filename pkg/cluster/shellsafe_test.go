package cluster

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	const rule = "; use a path without $ ` \" \\ or control characters"
	for _, tt := range []struct {
		path, want string
	}{
		{"/data/mirror/gpseg0", ""},
		{"/data/my mirrors/gp seg;0|x&y'z*?[a]{b}~#!%^()<>=+,@", ""},
		{"/data/é/ünïcode/数据", ""},
		{"/data/$(touch /tmp/x)/gpseg0", "data directory /data/$(touch /tmp/x)/gpseg0 contains '$': pg_ctl passes paths to /bin/sh inside double quotes, where '$' is interpreted" + rule},
		{"/data/`id`", "data directory /data/`id` contains '`': pg_ctl passes paths to /bin/sh inside double quotes, where '`' is interpreted" + rule},
		{`/data/a"b`, `data directory /data/a"b contains '"': pg_ctl passes paths to /bin/sh inside double quotes, where '"' is interpreted` + rule},
		{`/data/a\b`, `data directory /data/a\b contains '\': pg_ctl passes paths to /bin/sh inside double quotes, where '\' is interpreted` + rule},
		{"/data/a\nb", `data directory /data/a\nb contains '\n', a control character: it breaks postmaster.pid, configuration files and the line-based output of the tools` + rule},
		{"/data/a\tb", `data directory /data/a\tb contains '\t', a control character: it breaks postmaster.pid, configuration files and the line-based output of the tools` + rule},
		{"/data/a\x00b", `data directory /data/a\x00b contains '\x00', a control character: it breaks postmaster.pid, configuration files and the line-based output of the tools` + rule},
		{"/data/a\x7f", `data directory /data/a\x7f contains '\x7f', a control character: it breaks postmaster.pid, configuration files and the line-based output of the tools` + rule},
		{"/data/a\u0085", `data directory /data/a\u0085 contains '\u0085', a control character: it breaks postmaster.pid, configuration files and the line-based output of the tools` + rule},
		{"/d/\n$x", `data directory /d/\n$x contains '\n', a control character: it breaks postmaster.pid, configuration files and the line-based output of the tools` + rule},
	} {
		err := CheckPath("data directory", tt.path)
		got := ""
		if err != nil {
			got = err.Error()
			var ue *UnsafePathError
			if !errors.As(err, &ue) || ue.Path != tt.path || ue.What != "data directory" {
				t.Errorf("CheckPath(%q): %#v, want an *UnsafePathError naming the path", tt.path, err)
			}
		}
		if got != tt.want {
			t.Errorf("CheckPath(%q)\n got %s\nwant %s", tt.path, got, tt.want)
		}
		if strings.Contains(got, "\n") {
			t.Errorf("CheckPath(%q): message of more than one line", tt.path)
		}
	}
}

// TestCheckPathAgainstShells proves the rule against the shells pg_ctl may
// run (/bin/sh, and bash where /bin/sh is bash): every character from 1 to
// U+00FF that CheckPath accepts comes out of a double-quoted word as it
// went in, and each shell character it refuses is interpreted there.
func TestCheckPathAgainstShells(t *testing.T) {
	for _, shell := range []string{"/bin/sh", "/bin/bash"} {
		if _, err := exec.LookPath(shell); err != nil {
			if shell == "/bin/sh" {
				t.Fatal(err)
			}
			continue
		}
		t.Run(shell, func(t *testing.T) {
			var accepted, refused []string
			for r := rune(1); r <= 0xff; r++ {
				p := "/x" + string(r) + "y"
				if CheckPath("p", p) == nil {
					accepted = append(accepted, p)
				} else if strings.ContainsRune(shellChars, r) {
					refused = append(refused, "/x"+string(r)+string(r)+"y")
				}
			}
			for i, got := range echo(t, shell, accepted) {
				if got != accepted[i] {
					t.Errorf("%s turned the accepted path %q into %q", shell, accepted[i], got)
				}
			}
			if len(refused) != len(shellChars) {
				t.Fatalf("refused %q, want one path per character of %q", refused, shellChars)
			}
			for i, got := range echo(t, shell, refused) {
				if got == refused[i] {
					t.Errorf("%s kept %q as it is: CheckPath need not refuse it", shell, refused[i])
				}
			}
		})
	}
}

// echo runs one shell script that prints each path from inside double
// quotes, as pg_ctl's command line holds them, and returns what it printed.
func echo(t *testing.T, shell string, paths []string) []string {
	t.Helper()
	var script strings.Builder
	for _, p := range paths {
		script.WriteString(`printf '%s\000' "` + p + "\"\n")
	}
	out, err := exec.Command(shell, "-c", script.String()).Output()
	if err != nil {
		t.Fatalf("%s: %v", shell, err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(paths) {
		t.Fatalf("%s printed %d paths, want %d: %q", shell, len(got), len(paths), out)
	}
	return got
}

func TestCheckHost(t *testing.T) {
	const rule = ": host names reach ssh, connection strings and command lines; use letters, digits, '.', '-', '_', ':' and '%' (IPv6), optionally inside [ ], not starting with '-'"
	for _, tt := range []struct {
		host, want string
	}{
		{"sdw1", ""},
		{"sdw1-1.example.com", ""},
		{"my_host", ""},
		{"10.0.0.1", ""},
		{"fd00::a", ""},
		{"[fd00::a]", ""},
		{"fe80::1%eth0", ""},
		{"", "address  is empty" + rule},
		{"[]", "address [] is empty" + rule},
		{"-oProxyCommand=x", "address -oProxyCommand=x starts with '-'" + rule},
		{"sdw1;touch x", "address sdw1;touch x contains ';'" + rule},
		{"sdw 1", "address sdw 1 contains ' '" + rule},
		{"sdw1$(id)", "address sdw1$(id) contains '$'" + rule},
		{"sdw1'", `address sdw1' contains "'"` + rule},
		{"sdw1\n", `address sdw1\n contains '\n'` + rule},
		{"sdw1/x", "address sdw1/x contains '/'" + rule},
		{"sdwé", "address sdwé contains 'é'" + rule},
	} {
		got := ""
		if err := CheckHost("address", tt.host); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("CheckHost(%q)\n got %s\nwant %s", tt.host, got, tt.want)
		}
	}
}

func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"/a b/c":         "/a b/c",
		"/a\nb\r\x1b":    `/a\nb\r\x1b`,
		"/é\u0085\ufffd": "/é\\u0085\ufffd",
		"/a\xffb\xc3":    `/a\xffb\xc3`,
	} {
		if got := Visible(in); got != want {
			t.Errorf("Visible(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckShellSafe(t *testing.T) {
	seg := func(dbid, content int, role Role, host string, port int, dir string) Segment {
		return Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: role, Mode: ModeSynced, Status: StatusUp,
			Hostname: host, Address: host, Port: port, DataDir: dir}
	}
	segs := []Segment{
		seg(1, -1, RolePrimary, "mdw", 5432, "/data/coordinator/gpseg-1"),
		seg(2, 0, RolePrimary, "sdw1", 6000, "/data/primary/gpseg0"),
		seg(3, 0, RoleMirror, "sdw2", 7000, "/data/mirror/$(touch /tmp/owned)"),
	}
	c, err := New(segs)
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckShellSafe()
	var ue *UnsafeCatalogError
	if !errors.As(err, &ue) || len(ue.Rows) != 1 || ue.Rows[0].Segment.DBID != 3 {
		t.Fatalf("CheckShellSafe: %v, want dbid 3 refused", err)
	}
	want := "content 0 mirror (dbid 3) in gp_segment_configuration: data directory /data/mirror/$(touch /tmp/owned) contains '$': " +
		"pg_ctl passes paths to /bin/sh inside double quotes, where '$' is interpreted; use a path without $ ` \" \\ or control characters"
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}

	segs[2].DataDir = "/data/mirror/gpseg0"
	segs[1].Address = "sdw1;reboot"
	c, err = New(segs)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckShellSafe(); err == nil || !strings.HasPrefix(err.Error(), "content 0 primary (dbid 2) in gp_segment_configuration: address sdw1;reboot contains ';'") {
		t.Errorf("hostile address: %v", err)
	}
	segs[1].Address = "sdw1"
	c, err = New(segs)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckShellSafe(); err != nil {
		t.Errorf("a clean catalog: %v", err)
	}
}

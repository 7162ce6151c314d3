package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHelperArgsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		hide []string
		path string
		args []string
	}{
		{"tool", []string{"/data/primary", "/data/mirror"}, "/usr/bin/gpstate", []string{"gpstate", "-e"}},
		{"tool args that look like ours", []string{"/d"}, "/bin/sh", []string{"sh", "-hide", "--", "-c", ""}},
		{"argv0 differs from path", []string{"/d"}, "/usr/bin/busybox", []string{"ls", "-l"}},
		{"probe", []string{"/tmp/probe"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := helperArgs(tt.hide, tt.path, tt.args)
			if argv[0] != helperName {
				t.Fatalf("argv[0] = %q, want %q", argv[0], helperName)
			}
			hide, path, args, err := parseHelperArgs(argv[1:])
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.hide, hide); d != "" {
				t.Error(d)
			}
			if path != tt.path {
				t.Errorf("path = %q, want %q", path, tt.path)
			}
			if d := cmp.Diff(tt.args, args); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestParseHelperArgsRejects(t *testing.T) {
	for _, argv := range [][]string{
		{},
		{"-hide"},
		{"-hide", "/d"},
		{"/d", "--", "/bin/true", "true"},
		{"-hide", "/d", "--", "/bin/true"},
	} {
		if _, _, _, err := parseHelperArgs(argv); err == nil {
			t.Errorf("parseHelperArgs(%q) = nil error", argv)
		}
	}
}

func TestOutermost(t *testing.T) {
	got := outermost([]string{"/data/p/seg0", "/data/p", "/data/pp", "/data/m", "/data/m", "/data/p/seg1"})
	if d := cmp.Diff([]string{"/data/p", "/data/pp", "/data/m"}, got); d != "" {
		t.Error(d)
	}
}

// The argument checks come before the probe, so these need no namespaces.
func TestBlindRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cmd  func() *exec.Cmd
		hide []string
		want string
	}{
		{"nothing to hide", func() *exec.Cmd { return exec.Command("true") }, nil, "no directories to hide"},
		{"missing directory", func() *exec.Cmd { return exec.Command("true") }, []string{filepath.Join(dir, "absent")}, "no such file"},
		{"a file", func() *exec.Cmd { return exec.Command("true") }, []string{file}, "not a directory"},
		{"tool not found", func() *exec.Cmd { return exec.Command("gpmgmt-no-such-tool") }, []string{dir}, "not found"},
		{"started", func() *exec.Cmd {
			c := exec.Command("true")
			c.Process = &os.Process{Pid: 1}
			return c
		}, []string{dir}, "already started"},
		{"own credentials", func() *exec.Cmd {
			c := exec.Command("true")
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{}}
			return c
		}, []string{dir}, "already sets credentials"},
		{"twice", func() *exec.Cmd {
			c := exec.Command("true")
			c.Args[0] = helperName
			return c
		}, []string{dir}, "already blind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := blind(tt.cmd(), tt.hide)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("blind = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

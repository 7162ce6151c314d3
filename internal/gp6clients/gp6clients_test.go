package gp6clients

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFakesBehaveAs94 pins what makes the fakes a guard: psql runs only the
// last of several -c and otherwise reads its standard input; options
// PostgreSQL 9.4's programs lack are refused with exit 1.
func TestFakesBehaveAs94(t *testing.T) {
	home := t.TempDir()
	log := Install(t, home, Answers{SQL: `echo "ran $1"`})
	run := func(stdin, prog string, args ...string) (string, int) {
		cmd := exec.Command(filepath.Join(home, "bin", prog), args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if out, code := run("", "psql", "-At", "-c", "select 1", "-c", "select 2"); code != 0 || out != "ran select 2\n" {
		t.Errorf("psql with two -c: exit %d, %q; want only the last one run", code, out)
	}
	if out, code := run("\\echo @@a\nselect 1;\nselect\n 2;\n", "psql", "-X", "-q", "-f", "-"); code != 0 || out != "@@a\nran select 1;\nran select  2;\n" {
		t.Errorf("psql -f -: exit %d, %q", code, out)
	}
	if out, code := run("select 3;\n", "psql", "-h", "h", "-p", "1", "template1"); code != 0 || out != "ran select 3;\n" {
		t.Errorf("psql reading its standard input: exit %d, %q", code, out)
	}
	for _, tt := range []struct {
		prog string
		args []string
	}{
		{"psql", []string{"-b", "-c", "select 1"}},
		{"psql", []string{"--csv", "-c", "select 1"}},
		{"pg_controldata", []string{"-D", "/data"}},
		{"pg_basebackup", []string{"--wal-method", "stream", "-D", "/d"}},
		{"pg_basebackup", []string{"--create-slot", "-D", "/d"}},
		{"pg_isready", []string{"--options", "x"}},
		{"pg_rewind", []string{"--no-ensure-shutdown", "-D", "/d"}},
		{"pg_ctl", []string{"-D", "/d", "logrotate"}},
	} {
		if out, code := run("", tt.prog, tt.args...); code != 1 {
			t.Errorf("%s %q: exit %d (%q), want 1: PostgreSQL 9.4's refuses it", tt.prog, tt.args, code, out)
		}
	}
	calls := Calls(t, log)
	if !slices.Contains(calls, "REFUSED -D") || !slices.Contains(calls, "REFUSED --wal-method") {
		t.Errorf("refusals are not logged:\n%s", strings.Join(calls, "\n"))
	}
}

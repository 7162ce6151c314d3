package remote

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hostile holds values a catalog or an input file could carry.
var hostileValues = []string{
	"/data/primary/gpseg 0",
	"it's",
	`say "hi"`,
	"$(touch /tmp/pwned)",
	"`id`",
	"$HOME",
	"line1\nline2",
	"-rf",
	"--",
	"",
	" ",
	"*",
	"~",
	"a=b",
	"tab\there",
	`back\slash`,
	"semi;colon && true | cat > x",
	"'",
	`'"'"'`,
	"ünïcödé",
	"!bang",
	"#hash",
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"pg_ctl", "pg_ctl"},
		{"/data/p1", "/data/p1"},
		{"--pgdata=/x", "--pgdata=/x"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$(x)", "'$(x)'"},
		{"~", "'~'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got, want := Join([]string{"A=b", "c=d"}), "'A=b' c=d"; got != want {
		t.Errorf("Join = %s, want %s", got, want)
	}
}

// runSh runs line with sh -c, the way a remote login shell runs it.
func runSh(t *testing.T, line, stdin string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", line)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Dir = t.TempDir() // a stray redirection would land here
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh -c %s: %v", line, err)
	}
	return string(out)
}

func splitNUL(s string) []string {
	parts := strings.Split(s, "\x00")
	return parts[:len(parts)-1]
}

func TestCommandLineThroughShell(t *testing.T) {
	dir := t.TempDir()
	pidDir := filepath.Join(dir, `pid dir 'q' "dq" $(x)`)
	if err := os.Mkdir(pidDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    Command
	}{
		{"argv", Command{Argv: append([]string{"printf", `%s\0`}, hostileValues...)}},
		{"script", Command{Script: `printf '%s\0' "$@"`, Args: hostileValues}},
		{"argv with pidfile", Command{Argv: append([]string{"printf", `%s\0`}, hostileValues...), PIDFile: filepath.Join(pidDir, "x.pid")}},
		{"script with pidfile", Command{Script: `printf '%s\0' "$@"`, Args: hostileValues, PIDFile: filepath.Join(pidDir, "y.pid")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitNUL(runSh(t, CommandLine(tt.c), tt.c.Script))
			if d := cmp.Diff(hostileValues, got); d != "" {
				t.Fatalf("argv changed on the way through sh (-want +got):\n%s", d)
			}
			if tt.c.PIDFile != "" {
				if _, err := os.Stat(tt.c.PIDFile); err != nil {
					t.Fatalf("pid file not written: %v", err)
				}
			}
		})
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Fatal("/tmp/pwned exists: a value was executed")
	}
}

func TestEnvScriptPrefix(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gp home 'x'")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(dir, "greenplum_path.sh")
	if err := os.WriteFile(env, []byte("GPHOME='/usr/local/gp 7'; export GPHOME\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	line := withEnvScript(env, CommandLine(Command{Argv: []string{"sh", "-c", `printf %s "$GPHOME"`}}))
	if got, want := runSh(t, line, ""), "/usr/local/gp 7"; got != want {
		t.Fatalf("got %q, want %q (line %s)", got, want, line)
	}
}

func TestStderrTail(t *testing.T) {
	var lines []string
	for i := range 30 {
		lines = append(lines, strings.Repeat("x", i))
	}
	got := StderrTail("\n" + strings.Join(lines, "\n") + "\n\n")
	if !strings.HasPrefix(got, "...") || strings.Count(got, "\n") != StderrTailLines-1 {
		t.Fatalf("tail has %d lines: %q", strings.Count(got, "\n")+1, got)
	}
	long := StderrTail(strings.Repeat("é", 3000))
	if len(long) > StderrTailBytes+3 || !strings.HasPrefix(long, "...é") {
		t.Fatalf("byte cut wrong: len %d, starts %q", len(long), long[:8])
	}
	if StderrTail("  ok \n") != "ok" {
		t.Fatal("short stderr not kept")
	}
}

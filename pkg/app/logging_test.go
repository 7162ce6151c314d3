package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// TestMainLogDirRefusesUnsafePaths: a -l directory a shell would interpret
// inside double quotes is refused with one ERROR line and exit 2, before
// the directory is created and before the tool runs.
func TestMainLogDirRefusesUnsafePaths(t *testing.T) {
	for _, tt := range []struct{ name, sub, char string }{
		{"dollar", "logs$(touch x)", "'$'"},
		{"backquote", "logs`id`", "'`'"},
		{"quote", `logs"x`, `'"'`},
		{"backslash", `logs\x`, `'\'`},
		{"newline", "logs\nx", `'\n'`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.sub)
			env, stdout, stderr := testEnv(t, "-l", dir)
			ran := false
			code := app.Main(newTestCommand(env, app.RejectWithHelp, func(context.Context, *app.Env) error { ran = true; return nil }), env)
			if code != 2 || ran {
				t.Fatalf("exit code %d, ran %v; want 2 and not run", code, ran)
			}
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix+"[ERROR]:-gptest error: log directory (-l) ") ||
				!strings.Contains(lines[0], " contains "+tt.char) || stderr.Len() != 0 {
				t.Errorf("want one ERROR line naming the directory and %s; stdout:\n%s\nstderr:\n%s", tt.char, stdout, stderr)
			}
			if _, err := os.Lstat(dir); !os.IsNotExist(err) {
				t.Errorf("the log directory was created: %v", err)
			}
		})
	}
}

// TestMainStartingLineEscapesArguments: a control character in an argument
// is escaped in the "Starting ... with args" line, so that no argument can
// forge a log line.
func TestMainStartingLineEscapesArguments(t *testing.T) {
	dir := t.TempDir()
	env, _, _ := testEnv(t, "-l", dir, "-d", "/data/x\n20261123:18:54:19:016262 gptest:mdw:gpadmin-[INFO]:-forged")
	app.Main(newTestCommand(env, app.RejectWithHelp, func(context.Context, *app.Env) error { return nil }), env)
	want := starting + "-l " + dir + ` -d /data/x\n20261123:18:54:19:016262 gptest:mdw:gpadmin-[INFO]:-forged` + "\n"
	if got := logFile(t, dir); got != want {
		t.Errorf("log file\n got %q\nwant %q", got, want)
	}
}

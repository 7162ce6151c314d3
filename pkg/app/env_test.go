package app_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
)

// prefix is the line prefix for the fixed clock, pid, host and user of
// testEnv, without the level.
const prefix = "20261123:18:54:19:016262 gptest:mdw:gpadmin-"

// testEnv returns apptest's Env for the program "gptest".
func testEnv(t *testing.T, args ...string) (env *app.Env, stdout, stderr *bytes.Buffer) {
	t.Helper()
	return apptest.Env(t, "gptest", args...)
}

// newTestCommand is a tool command as pkg/<tool> builds one: common
// options, logging set up, Validate, then run.
func newTestCommand(env *app.Env, p app.Positional, run func(ctx context.Context, env *app.Env) error) *cobra.Command {
	var o app.CommonOptions
	cmd := &cobra.Command{
		Use:   "gptest [options]",
		Short: "A test tool.",
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Args = args
			if err := env.SetupLogging(&o); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return run(cmd.Context(), env)
		},
	}
	app.BindCommon(cmd, env, &o, p)
	return cmd
}

// logFile returns the content of the day's log file under dir.
func logFile(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "gptest_20261123.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSetupLoggingProgress(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		env, stdout, _ := testEnv(t)
		if err := env.SetupLogging(&app.CommonOptions{Quiet: quiet}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(env.Progress, "..\n"); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Contains(stdout.String(), "..\n"), !quiet; got != want {
			t.Errorf("quiet=%v: progress on stdout %v, want %v", quiet, got, want)
		}
	}
}

func TestSetupLoggingWithoutHome(t *testing.T) {
	env, _, _ := testEnv(t)
	env.Home = ""
	err := env.SetupLogging(&app.CommonOptions{})
	var exp *app.ExpectedError
	if !errors.As(err, &exp) || !strings.Contains(err.Error(), "use -l <dir>") {
		t.Errorf("SetupLogging error = %v, want an ExpectedError pointing at -l", err)
	}
}

// TestMachineOutputLogging: with MachineOutput, stdout gets no log line and
// no progress; errors reach stderr; everything reaches the log file.
func TestMachineOutputLogging(t *testing.T) {
	env, stdout, stderr := apptest.Env(t, "gpstate", "--json")
	if err := env.SetupLogging(&app.CommonOptions{MachineOutput: true}); err != nil {
		t.Fatal(err)
	}
	env.Log.Info("in the file only")
	env.Log.Error("in the file and on stderr")
	_, _ = io.WriteString(env.Progress, "...")
	if stdout.Len() != 0 {
		t.Errorf("stdout got %q", stdout)
	}
	if want := "20261123:18:54:19:016262 gpstate:mdw:gpadmin-[ERROR]:-in the file and on stderr\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	b, err := os.ReadFile(filepath.Join(env.Home, "gpAdminLogs", "gpstate_20261123.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Starting gpstate with args: --json", "in the file only", "in the file and on stderr"} {
		if !strings.Contains(string(b), w) {
			t.Errorf("log file lacks %q:\n%s", w, b)
		}
	}
}

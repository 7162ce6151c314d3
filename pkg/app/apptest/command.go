package apptest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// The checks every tool's command gets: its NewCommand binds the common
// options, rejects positional arguments with its own wording, and runs
// through app.Main with logging on the console and in the log file.

// NewCommand is a tool's command constructor: runF, when not nil,
// receives the parsed options instead of the tool's Run.
type NewCommand[O app.Options] func(env *app.Env, runF func(O) error) *cobra.Command

// Parse parses args with the tool's command, up to and including its
// Validate, and returns the options.
func Parse[O app.Options](t *testing.T, prog string, newCmd NewCommand[O], args ...string) (O, error) {
	t.Helper()
	env, _, _ := Env(t, prog)
	var got O
	cmd := newCmd(env, func(o O) error {
		got = o
		return o.Validate()
	})
	cmd.SetArgs(append([]string{}, args...))
	return got, cmd.Execute()
}

// CheckCommonFlags checks that the tool binds the common options, bundled
// and separate, short and long.
func CheckCommonFlags[O app.Options](t *testing.T, prog string, newCmd NewCommand[O]) {
	t.Helper()
	got, err := Parse(t, prog, newCmd, "-avq", "-l/tmp/logs", "--master_data_directory", "/data/qddir")
	if err != nil {
		t.Fatal(err)
	}
	want := app.CommonOptions{NonInteractive: true, Verbose: true, Quiet: true, LogDir: "/tmp/logs", DataDir: "/data/qddir"}
	if d := cmp.Diff(want, *got.Common(), cmpopts.IgnoreUnexported(app.CommonOptions{}), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("common options (-want +got):\n%s", d)
	}
}

// CheckRejects checks that args are refused with exactly the error want
// (compared by message).
func CheckRejects[O app.Options](t *testing.T, prog string, newCmd NewCommand[O], want error, args ...string) {
	t.Helper()
	_, err := Parse(t, prog, newCmd, args...)
	if err == nil || err.Error() != want.Error() {
		t.Errorf("%v: got %v, want %v", args, err, want)
	}
}

// CheckMain runs the real command through app.Main with args and checks
// the exit code, an empty stderr, and that the console and the log file
// both hold the "Starting <prog> with args" line followed by exactly the
// messages want, each written "[LEVEL]:-message".
func CheckMain[O app.Options](t *testing.T, prog string, newCmd NewCommand[O], code int, args []string, want ...string) {
	t.Helper()
	env, stdout, stderr := Env(t, prog, args...)
	got := app.Main(newCmd(env, nil), env)
	prefix := "20261123:18:54:19:016262 " + prog + ":mdw:gpadmin-"
	lines := []string{prefix + "[INFO]:-Starting " + prog + " with args: " + strings.Join(args, " ")}
	for _, w := range want {
		lines = append(lines, prefix+w)
	}
	wantText := strings.Join(lines, "\n") + "\n"
	if got != code || stderr.Len() != 0 {
		t.Errorf("exit code %d, stderr %q; want %d and nothing", got, stderr, code)
	}
	if d := cmp.Diff(wantText, stdout.String()); d != "" {
		t.Errorf("stdout (-want +got):\n%s", d)
	}
	file, err := os.ReadFile(filepath.Join(env.Home, "gpAdminLogs", prog+"_20261123.log"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantText, string(file)); d != "" {
		t.Errorf("log file (-want +got):\n%s", d)
	}
}

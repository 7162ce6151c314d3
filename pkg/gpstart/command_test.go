package gpstart_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/gpstart"
)

// The common options themselves are tested in pkg/app; these tests check
// what is gpstart's own: that it binds them, its positional-argument wording,
// and what its Run does.

func parse(t *testing.T, args ...string) (*gpstart.Options, error) {
	t.Helper()
	env, _, _ := apptest.Env(t, "gpstart")
	var got *gpstart.Options
	cmd := gpstart.NewCommand(env, func(o *gpstart.Options) error {
		got = o
		return o.Validate()
	})
	cmd.SetArgs(append([]string{}, args...))
	return got, cmd.Execute()
}

func TestCommonFlagsBound(t *testing.T) {
	got, err := parse(t, "-avq", "-l/tmp/logs", "--master_data_directory", "/data/qddir")
	if err != nil {
		t.Fatal(err)
	}
	want := app.CommonOptions{NonInteractive: true, Verbose: true, Quiet: true, LogDir: "/tmp/logs", DataDir: "/data/qddir"}
	if d := cmp.Diff(want, got.CommonOptions, cmpopts.IgnoreUnexported(app.CommonOptions{}), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestPositionalArgument(t *testing.T) {
	_, err := parse(t, "-a", "extra")
	want := &app.ArgumentError{Msg: "Argument extra is invalid.  Is an option missing a parameter?"}
	if d := cmp.Diff(error(want), err, cmp.Comparer(func(a, b error) bool { return a.Error() == b.Error() })); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestMainWithoutGPHOME runs the real command through app.Main: logging
// starts, and Run stops at the first check (exit 2), on the console and in
// the log file alike.
func TestMainWithoutGPHOME(t *testing.T) {
	env, stdout, stderr := apptest.Env(t, "gpstart", "-a")
	code := app.Main(gpstart.NewCommand(env, nil), env)
	want := "20261123:18:54:19:016262 gpstart:mdw:gpadmin-[INFO]:-Starting gpstart with args: -a\n" +
		"20261123:18:54:19:016262 gpstart:mdw:gpadmin-[INFO]:-Gathering information and validating the environment...\n" +
		"20261123:18:54:19:016262 gpstart:mdw:gpadmin-[ERROR]:-gpstart error: Environment Variable GPHOME not set\n"
	if code != 2 || stderr.Len() != 0 {
		t.Errorf("exit code %d, stderr %q; want 2 and nothing", code, stderr)
	}
	if d := cmp.Diff(want, stdout.String()); d != "" {
		t.Errorf("stdout (-want +got):\n%s", d)
	}
	file, err := os.ReadFile(filepath.Join(env.Home, "gpAdminLogs", "gpstart_20261123.log"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, string(file)); d != "" {
		t.Errorf("log file (-want +got):\n%s", d)
	}
}

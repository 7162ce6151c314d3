package gpstate_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/gpstate"
)

// The common options themselves are tested in pkg/app; these tests check
// what is gpstate's own: that it binds them, its positional-argument wording,
// and what its Run does.

func parse(t *testing.T, args ...string) (*gpstate.Options, error) {
	t.Helper()
	env, _, _ := apptest.Env(t, "gpstate")
	var got *gpstate.Options
	cmd := gpstate.NewCommand(env, func(o *gpstate.Options) error {
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
	want := &app.ArgumentError{Msg: "too many arguments: only options may be specified", ShowHelp: true}
	if d := cmp.Diff(error(want), err, cmp.Comparer(func(a, b error) bool { return a.Error() == b.Error() })); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestMainWithoutGPHOME runs the real command through app.Main: logging
// starts, and the prelude refuses to run without GPHOME (exit 2), on the console and in the log file alike.
func TestMainWithoutGPHOME(t *testing.T) {
	env, stdout, stderr := apptest.Env(t, "gpstate", "-a")
	code := app.Main(gpstate.NewCommand(env, nil), env)
	want := "20261123:18:54:19:016262 gpstate:mdw:gpadmin-[INFO]:-Starting gpstate with args: -a\n" +
		"20261123:18:54:19:016262 gpstate:mdw:gpadmin-[ERROR]:-gpstate error: Environment Variable GPHOME not set\n"
	if code != 2 || stderr.Len() != 0 {
		t.Errorf("exit code %d, stderr %q; want 2 and nothing", code, stderr)
	}
	if d := cmp.Diff(want, stdout.String()); d != "" {
		t.Errorf("stdout (-want +got):\n%s", d)
	}
	file, err := os.ReadFile(filepath.Join(env.Home, "gpAdminLogs", "gpstate_20261123.log"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, string(file)); d != "" {
		t.Errorf("log file (-want +got):\n%s", d)
	}
}

func TestModes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want gpstate.Mode
	}{
		{nil, gpstate.ModeBrief}, {[]string{"-b"}, gpstate.ModeBrief}, {[]string{"-s"}, gpstate.ModeDetail},
		{[]string{"-m"}, gpstate.ModeMirrors}, {[]string{"-c"}, gpstate.ModeConfig}, {[]string{"-e"}, gpstate.ModeErrors},
		{[]string{"-Q"}, gpstate.ModeQuick}, {[]string{"-i"}, gpstate.ModeVersions}, {[]string{"-p"}, gpstate.ModePorts},
		{[]string{"-f"}, gpstate.ModeStandby}, {[]string{"-x"}, gpstate.ModeExpand},
		{[]string{"-x", "-s"}, gpstate.ModeDetail}, // -x is not counted; the other mode wins
		{[]string{"--segmentStatusPipeSeparatedForTableUse"}, gpstate.ModePipe},
		{[]string{"--printSampleExternalTableSql"}, gpstate.ModeSampleSQL},
		{[]string{"--json"}, gpstate.ModeJSON}, {[]string{"--health"}, gpstate.ModeHealth},
	} {
		o, err := parse(t, tt.args...)
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if got := o.Mode(); got != tt.want {
			t.Errorf("%v: mode %d, want %d", tt.args, got, tt.want)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-s", "-m"}, "Too many output options specified"},
		{[]string{"-b", "-e"}, "Too many output options specified"},
		{[]string{"--json", "-s"}, "Too many output options specified"},
		{[]string{"-B", "0"}, "Invalid parallelDegree provided with -B argument: 0"},
		{[]string{"-B", "65"}, "Invalid parallelDegree provided with -B argument: 65"},
	} {
		_, err := parse(t, tt.args...)
		var ae *app.ArgumentError
		if !errors.As(err, &ae) || ae.Msg != tt.msg {
			t.Errorf("%v: got %v, want %q", tt.args, err, tt.msg)
		}
	}
}

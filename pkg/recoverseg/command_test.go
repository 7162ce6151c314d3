package recoverseg_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/recoverseg"
)

func testEnv(t *testing.T, args ...string) (env *app.Env, stdout, stderr *bytes.Buffer) {
	t.Helper()
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	at := time.Date(2026, 11, 23, 18, 54, 19, 0, time.UTC)
	return &app.Env{
		Prog: "gprecoverseg", Args: args, Version: "1.2.3",
		In: strings.NewReader(""), Out: stdout, Err: stderr,
		Now: func() time.Time { return at }, Start: at,
		Getenv:   func(string) string { return "" },
		Hostname: "mdw", User: "gpadmin", PID: 16262, Home: t.TempDir(),
	}, stdout, stderr
}

// parse runs NewCommand on args with a runF that captures the options and
// validates them.
func parse(t *testing.T, args ...string) (*recoverseg.Options, string, error) {
	t.Helper()
	env, stdout, _ := testEnv(t)
	var got *recoverseg.Options
	cmd := recoverseg.NewCommand(env, func(o *recoverseg.Options) error {
		got = o
		return o.Validate()
	})
	cmd.SetArgs(append([]string{}, args...))
	err := cmd.Execute()
	return got, stdout.String(), err
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want app.CommonOptions
	}{
		{"defaults", nil, app.CommonOptions{}},
		{"bundled", []string{"-avq"}, app.CommonOptions{NonInteractive: true, Verbose: true, Quiet: true}},
		{"-l and -d attached", []string{"-l/tmp/logs", "-d/data/qddir"}, app.CommonOptions{LogDir: "/tmp/logs", DataDir: "/data/qddir"}},
		{"master_data_directory", []string{"--master_data_directory", "/data/m"}, app.CommonOptions{DataDir: "/data/m"}},
		{"coordinator_data_directory", []string{"--coordinator_data_directory=/data/c"}, app.CommonOptions{DataDir: "/data/c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := parse(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got.CommonOptions, cmpopts.IgnoreUnexported(app.CommonOptions{}), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want error
	}{
		{"unknown option", []string{"-ax"}, &app.FlagError{Err: errors.New("no such option: -x")}},
		{"missing value", []string{"-d"}, &app.FlagError{Err: errors.New("-d option requires an argument")}},
		{"positional argument", []string{"-a", "extra"}, &app.ArgumentError{Msg: "too many arguments: only options may be specified", ShowHelp: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parse(t, tt.args...)
			if d := cmp.Diff(tt.want, err, cmp.Comparer(func(a, b error) bool { return a.Error() == b.Error() })); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	_, out, err := parse(t, "--version")
	if err != nil || out != "gprecoverseg version gpmgmt 1.2.3\n" {
		t.Errorf("--version: output %q, error %v", out, err)
	}
	for _, arg := range []string{"-h", "-?", "--help"} {
		got, out, err := parse(t, arg)
		if err != nil || got != nil || !strings.HasPrefix(out, "Usage: gprecoverseg [options]\n") {
			t.Errorf("%s: ran %v, output %q, error %v", arg, got != nil, out, err)
		}
	}
}

// TestMainNotImplemented runs the real command through app.Main: logging
// starts, and Run says honestly that it does nothing yet (exit 2).
func TestMainNotImplemented(t *testing.T) {
	env, stdout, stderr := testEnv(t, "-a")
	code := app.Main(recoverseg.NewCommand(env, nil), env)
	want := "20261123:18:54:19:016262 gprecoverseg:mdw:gpadmin-[INFO]:-Starting gprecoverseg with args: -a\n" +
		"20261123:18:54:19:016262 gprecoverseg:mdw:gpadmin-[ERROR]:-gprecoverseg error: gprecoverseg operations are not implemented yet in this build of gpmgmt\n"
	if code != 2 || stderr.Len() != 0 {
		t.Errorf("exit code %d, stderr %q; want 2 and nothing", code, stderr)
	}
	if d := cmp.Diff(want, stdout.String()); d != "" {
		t.Errorf("stdout (-want +got):\n%s", d)
	}
	file, err := os.ReadFile(filepath.Join(env.Home, "gpAdminLogs", "gprecoverseg_20261123.log"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, string(file)); d != "" {
		t.Errorf("log file (-want +got):\n%s", d)
	}
}

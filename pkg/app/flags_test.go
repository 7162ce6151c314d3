package app_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// parse runs a command with the common options on args and returns the
// options it parsed and the error Execute returned.
func parse(t *testing.T, p app.Positional, args ...string) (app.CommonOptions, error) {
	t.Helper()
	env, _, _ := testEnv(t)
	var o app.CommonOptions
	cmd := &cobra.Command{
		Use: "gptest [options]",
		RunE: func(_ *cobra.Command, args []string) error {
			o.Args = args
			return o.Validate()
		},
	}
	app.BindCommon(cmd, env, &o, p)
	cmd.SetArgs(append([]string{}, args...)) // nil would make cobra read os.Args
	err := cmd.Execute()
	return o, err
}

func TestCommonFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want app.CommonOptions
	}{
		{"none", nil, app.CommonOptions{}},
		{"bundled", []string{"-avq"}, app.CommonOptions{NonInteractive: true, Verbose: true, Quiet: true}},
		{"long", []string{"--verbose", "--quiet"}, app.CommonOptions{Verbose: true, Quiet: true}},
		{"value attached", []string{"-l/tmp/logs", "-d/data/qddir"}, app.CommonOptions{LogDir: "/tmp/logs", DataDir: "/data/qddir"}},
		{"value separate", []string{"-l", "/tmp/logs", "-d", "/data/qddir"}, app.CommonOptions{LogDir: "/tmp/logs", DataDir: "/data/qddir"}},
		{"bundle ending in a value flag", []string{"-avd", "/data/qddir"}, app.CommonOptions{NonInteractive: true, Verbose: true, DataDir: "/data/qddir"}},
		{"bundle with attached value", []string{"-ad/data/qddir"}, app.CommonOptions{NonInteractive: true, DataDir: "/data/qddir"}},
		{"master_data_directory", []string{"--master_data_directory", "/data/m"}, app.CommonOptions{DataDir: "/data/m"}},
		{"master_data_directory=", []string{"--master_data_directory=/data/m"}, app.CommonOptions{DataDir: "/data/m"}},
		{"coordinator_data_directory", []string{"--coordinator_data_directory", "/data/c"}, app.CommonOptions{DataDir: "/data/c"}},
		{"last -d wins", []string{"-d", "/a", "--coordinator_data_directory=/b"}, app.CommonOptions{DataDir: "/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(t, app.RejectWithHelp, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(app.CommonOptions{}), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestPositionalArguments(t *testing.T) {
	tests := []struct {
		name   string
		policy app.Positional
		args   []string
		want   *app.ArgumentError
	}{
		{"gpstate style", app.RejectWithHelp, []string{"-a", "foo", "bar"},
			&app.ArgumentError{Msg: "too many arguments: only options may be specified", ShowHelp: true}},
		{"gpstart style names the last argument", app.RejectLastArgument, []string{"-a", "foo", "bar"},
			&app.ArgumentError{Msg: "Argument bar is invalid.  Is an option missing a parameter?"}},
		{"after --", app.RejectLastArgument, []string{"--", "-v"},
			&app.ArgumentError{Msg: "Argument -v is invalid.  Is an option missing a parameter?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.policy, tt.args...)
			if d := cmp.Diff(error(tt.want), err); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestMainPositionalOutput(t *testing.T) {
	t.Run("help first, then the error as a log line", func(t *testing.T) {
		env, stdout, stderr := testEnv(t, "foo")
		code := app.Main(newTestCommand(env, app.RejectWithHelp, nil), env)
		if code != 2 || stderr.Len() != 0 {
			t.Errorf("exit code %d stderr %q, want 2 and nothing", code, stderr)
		}
		checkGolden(t, "positional_gpstate.golden", stdout.Bytes())
	})
	t.Run("gpstart wording, no help", func(t *testing.T) {
		env, stdout, _ := testEnv(t, "-a", "foo")
		code := app.Main(newTestCommand(env, app.RejectLastArgument, nil), env)
		want := starting + "-a foo\n" +
			prefix + "[ERROR]:-gptest: error: Argument foo is invalid.  Is an option missing a parameter?\n"
		if code != 2 {
			t.Errorf("exit code %d, want 2", code)
		}
		if d := cmp.Diff(want, stdout.String()); d != "" {
			t.Errorf("stdout (-want +got):\n%s", d)
		}
	})
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-?", "--help", "-ah"} {
		t.Run(arg, func(t *testing.T) {
			env, stdout, stderr := testEnv(t, arg)
			code := app.Main(newTestCommand(env, app.RejectWithHelp, func(context.Context, *app.Env) error {
				t.Fatal("tool ran")
				return nil
			}), env)
			if code != 0 || stderr.Len() != 0 {
				t.Errorf("exit code %d stderr %q, want 0 and nothing", code, stderr)
			}
			checkGolden(t, "help.golden", stdout.Bytes())
		})
	}
}

func TestHelpFileFromGPHOME(t *testing.T) {
	gphome := t.TempDir()
	dir := filepath.Join(gphome, "docs", "cli_help")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	text := "COMMAND NAME: gptest\n\nThe help text Greenplum ships.\n"
	if err := os.WriteFile(filepath.Join(dir, "gptest_help"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	env, stdout, _ := testEnv(t, "--help")
	env.Getenv = func(k string) string {
		if k == "GPHOME" {
			return gphome
		}
		return ""
	}
	if code := app.Main(newTestCommand(env, app.RejectWithHelp, nil), env); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if stdout.String() != text {
		t.Errorf("help = %q, want the file's text", stdout)
	}
}

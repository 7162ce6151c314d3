package recoverseg_test

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/recoverseg"
)

// The common options themselves are tested in pkg/app; these tests check
// what is gprecoverseg's own: that it binds them, its positional-argument wording,
// and what its Run does.

func TestCommonFlagsBound(t *testing.T) {
	apptest.CheckCommonFlags(t, "gprecoverseg", recoverseg.NewCommand)
}

func TestPositionalArgument(t *testing.T) {
	apptest.CheckRejects(t, "gprecoverseg", recoverseg.NewCommand, &app.ArgumentError{Msg: "too many arguments: only options may be specified", ShowHelp: true}, "-a", "extra")
}

// TestMainWithoutGPHOME runs the real command through app.Main: logging
// starts, and the prelude refuses to run without GPHOME (exit 2), on the console and in the log file alike.
func TestMainWithoutGPHOME(t *testing.T) {
	apptest.CheckMain(t, "gprecoverseg", recoverseg.NewCommand, 2, []string{"-a"}, "[ERROR]:-gprecoverseg error: Environment Variable GPHOME not set")
}

// parse runs the command's flag parsing on args and returns the options.
func parse(t *testing.T, args ...string) (*recoverseg.Options, error) {
	t.Helper()
	env, _, _ := apptest.Env(t, "gprecoverseg", args...)
	var got *recoverseg.Options
	cmd := recoverseg.NewCommand(env, func(o *recoverseg.Options) error { got = o; return nil })
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		return nil, err
	}
	return got, nil
}

// TestOptions: the defaults and ranges of spec §4.1, with Greenplum's
// range messages.
func TestOptions(t *testing.T) {
	o, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if o.Parallel != 16 || o.ParallelPerHost != 64 || o.Full || o.ReplayLag != 10 || o.LookupHost == nil {
		t.Errorf("defaults: %+v", o)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-B", "0"}, "Invalid parallelDegree value provided with -B argument: 0"},
		{[]string{"-B", "65"}, "Invalid parallelDegree value provided with -B argument: 65"},
		{[]string{"-b", "0"}, "Invalid parallelPerHost value provided with -b argument: 0"},
		{[]string{"-b", "129"}, "Invalid parallelPerHost value provided with -b argument: 129"},
		{[]string{"--replay-lag", "0"}, "Invalid --replay-lag value: 0 (GB, greater than 0)"},
		{[]string{"--mirror-promotion-timeout", "0s"}, "Invalid --mirror-promotion-timeout: 0s"},
		{[]string{"-B", "64", "-b", "128"}, ""},
		{[]string{"-aFsv", "--no-progress", "--hba-hostnames", "-B4", "-b", "2"}, ""},
	} {
		o, err := parse(t, tt.args...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		err = o.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v", tt.args, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	if o, _ := parse(t, "-aFsv", "--no-progress", "-B4", "-b", "2"); !o.NonInteractive || !o.Full || !o.Sequential || !o.Verbose || !o.NoProgress || o.Parallel != 4 || o.ParallelPerHost != 2 {
		t.Errorf("bundled flags: %+v", o)
	}
}

// TestCombinations: spec §4.3 in each flavour's words; every mode is
// built.
func TestCombinations(t *testing.T) {
	for _, tt := range []struct {
		flavour cluster.Flavour
		args    []string
		want    string
	}{
		{cluster.GP6, []string{"-i", "f", "-p", "h"}, "Only one of -i, -p, and -r may be specified"},
		{cluster.GP6, []string{"-p", "h", "-r"}, "Only one of -i, -p, and -r may be specified"},
		{cluster.GP6, []string{"--differential"}, "--differential is not available on Greenplum 6 (it is Greenplum 7's)"},
		{cluster.GP7, []string{"-i", "f", "--differential"}, "Only one of -i, -p, -r and --differential may be specified"},
		{cluster.GP7, []string{"-F", "--differential"}, "Only one of -F and --differential may be specified"},
		{cluster.GP7, []string{"--differential", "-o", "f"}, "Invalid -o provided with --differential argument"},
		{cluster.GP7, []string{"--disable-replay-lag"}, "--disable-replay-lag should be used only with -r"},
		{cluster.GP6, []string{"-r", "-o", "f"}, "-o cannot be used with -r"},
		{cluster.GP7, []string{"-r"}, ""},
		{cluster.GP6, []string{"-r", "--replay-lag", "2.5", "--disable-replay-lag"}, ""},
		{cluster.GP7, []string{"-i", "f"}, ""},
		{cluster.GP6, []string{"-p", "sdw5", "-o", "f"}, ""},
		{cluster.GP7, []string{"--differential"}, ""},
		{cluster.GP7, []string{"-F", "-a"}, ""},
		{cluster.GP6, []string{}, ""},
	} {
		o, err := parse(t, tt.args...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		err = o.CheckCombinations(tt.flavour)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %v: %v", tt.flavour, tt.args, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%s %v: %v, want %q", tt.flavour, tt.args, err, tt.want)
		}
	}
}

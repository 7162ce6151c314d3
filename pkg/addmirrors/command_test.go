package addmirrors_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
)

// The common options themselves are tested in pkg/app; these tests check
// what is gpaddmirrors's own: that it binds them, its positional-argument wording,
// and what its Run does.

func parse(t *testing.T, args ...string) (*addmirrors.Options, error) {
	t.Helper()
	return apptest.Parse(t, "gpaddmirrors", addmirrors.NewCommand, args...)
}

func TestCommonFlagsBound(t *testing.T) {
	apptest.CheckCommonFlags(t, "gpaddmirrors", addmirrors.NewCommand)
}

func TestDefaults(t *testing.T) {
	got, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	want := addmirrors.Options{PortOffset: 1000, BatchSize: 16, SegmentBatchSize: 64}
	if d := cmp.Diff(want, *got, cmpopts.IgnoreFields(addmirrors.Options{}, "CommonOptions", "LookupHost")); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if got.LookupHost == nil {
		t.Error("LookupHost is nil; NewCommand should set the system resolver")
	}
}

// TestOwnFlagsBound checks Greenplum's letters (and long names where
// Greenplum has them), bundled and separate.
func TestOwnFlagsBound(t *testing.T) {
	got, err := parse(t, "-sa", "-m", "/tmp/dirs", "-i/tmp/in", "-o", "/tmp/out", "-p", "-500",
		"-B", "64", "-b128", "--hba-hostnames", "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	want := addmirrors.Options{DirFile: "/tmp/dirs", ConfigFile: "/tmp/in", OutputFile: "/tmp/out", PortOffset: -500,
		Spread: true, BatchSize: 64, SegmentBatchSize: 128, HBAHostnames: true, DryRun: true}
	if d := cmp.Diff(want, *got, cmpopts.IgnoreFields(addmirrors.Options{}, "CommonOptions", "LookupHost")); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	long, err := parse(t, "--batch-size=1", "--segment-batch-size", "1")
	if err != nil || long.BatchSize != 1 || long.SegmentBatchSize != 1 {
		t.Errorf("long names: %+v, %v", long, err)
	}
}

func TestValidateRanges(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-B", "0"}, "Invalid batch_size provided with -B argument: 0"},
		{[]string{"-B", "65"}, "Invalid batch_size provided with -B argument: 65"},
		{[]string{"-b", "0"}, "Invalid segment_batch_size provided with -b argument: 0"},
		{[]string{"-b", "129"}, "Invalid segment_batch_size provided with -b argument: 129"},
		{[]string{"-B", "0", "-b", "0"}, "Invalid batch_size provided with -B argument: 0"},
		{[]string{"-p", "x"}, "option -p: invalid integer value: 'x'"},
	}
	for _, tt := range tests {
		_, err := parse(t, tt.args...)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
	for _, ok := range [][]string{{"-B", "1", "-b", "1"}, {"-B", "64", "-b", "128"}} {
		if _, err := parse(t, ok...); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
}

func TestPositionalArgument(t *testing.T) {
	apptest.CheckRejects(t, "gpaddmirrors", addmirrors.NewCommand, &app.ArgumentError{Msg: "too many arguments: only options may be specified", ShowHelp: true}, "-a", "extra")
}

// TestMainWithoutGPHOME runs the real command through app.Main: logging
// starts, and the prelude refuses to run without GPHOME (exit 2), on the console and in the log file alike.
func TestMainWithoutGPHOME(t *testing.T) {
	apptest.CheckMain(t, "gpaddmirrors", addmirrors.NewCommand, 2, []string{"-a"}, "[ERROR]:-gpaddmirrors error: Environment Variable GPHOME not set")
}

package gpstate_test

import (
	"errors"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/gpstate"
)

// The common options themselves are tested in pkg/app; these tests check
// what is gpstate's own: that it binds them, its positional-argument wording,
// and what its Run does.

func parse(t *testing.T, args ...string) (*gpstate.Options, error) {
	t.Helper()
	return apptest.Parse(t, "gpstate", gpstate.NewCommand, args...)
}

func TestCommonFlagsBound(t *testing.T) { apptest.CheckCommonFlags(t, "gpstate", gpstate.NewCommand) }

func TestPositionalArgument(t *testing.T) {
	apptest.CheckRejects(t, "gpstate", gpstate.NewCommand, &app.ArgumentError{Msg: "too many arguments: only options may be specified", ShowHelp: true}, "-a", "extra")
}

// TestMainWithoutGPHOME runs the real command through app.Main: logging
// starts, and the prelude refuses to run without GPHOME (exit 2), on the console and in the log file alike.
func TestMainWithoutGPHOME(t *testing.T) {
	apptest.CheckMain(t, "gpstate", gpstate.NewCommand, 2, []string{"-a"}, "[ERROR]:-gpstate error: Environment Variable GPHOME not set")
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

package recoverseg_test

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
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

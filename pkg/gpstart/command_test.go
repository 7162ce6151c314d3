package gpstart_test

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/gpstart"
)

// The common options themselves are tested in pkg/app; these tests check
// what is gpstart's own: that it binds them, its positional-argument wording,
// and what its Run does.

func TestCommonFlagsBound(t *testing.T) { apptest.CheckCommonFlags(t, "gpstart", gpstart.NewCommand) }

func TestPositionalArgument(t *testing.T) {
	apptest.CheckRejects(t, "gpstart", gpstart.NewCommand, &app.ArgumentError{Msg: "Argument extra is invalid.  Is an option missing a parameter?"}, "-a", "extra")
}

// TestMainWithoutGPHOME runs the real command through app.Main: logging
// starts, and Run stops at the first check (exit 2), on the console and in
// the log file alike.
func TestMainWithoutGPHOME(t *testing.T) {
	apptest.CheckMain(t, "gpstart", gpstart.NewCommand, 2, []string{"-a"}, "[INFO]:-Gathering information and validating the environment...", "[ERROR]:-gpstart error: Environment Variable GPHOME not set")
}

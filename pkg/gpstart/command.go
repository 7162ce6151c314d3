// Package gpstart implements gpstart: starts a Greenplum cluster the way
// Greenplum's gpstart does (spec §7), with one POSIX sh script per segment
// host (pkg/segctl) instead of gpsegstart.py, and the coordinator stopped
// with gpstop's code in-process.
package gpstart

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/gpstop"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// DefaultParallel is gpstart's -B default.
const DefaultParallel = 64

// Options are gpstart's command-line options (Greenplum's optparse names).
type Options struct {
	app.CommonOptions
	CoordinatorOnly  bool   // -m --master_only, -c --coordinator_only
	Restricted       bool   // -R --restricted
	Timeout          int    // -t --timeout
	NoStandby        bool   // -y --no_standby
	SkipStandbyCheck bool   // -S --skip_standby_check (hidden)
	SkipHeapChecksum bool   // --skip-heap-checksum-validation
	Parallel         int    // -B --parallel
	SpecialMode      string // -U --specialMode (hidden): maintenance

	// NewExecutor opens the SSH executor for the other hosts.
	NewExecutor func(remote.SSHOptions) (gpstop.Executor, error)
}

// Validate applies Greenplum's option checks.
func (o *Options) Validate() error {
	if err := o.CommonOptions.Validate(); err != nil {
		return err
	}
	if o.Parallel < 1 || o.Parallel > 128 {
		return &app.ArgumentError{Msg: "Invalid value for parallel degree: " + strconv.Itoa(o.Parallel)}
	}
	if o.Timeout < 1 {
		return &app.ArgumentError{Msg: "Invalid value for timeout: " + strconv.Itoa(o.Timeout)}
	}
	switch o.SpecialMode {
	case "", "maintenance", "upgrade":
	default:
		return &app.ArgumentError{Msg: "Invalid value for special mode: " + o.SpecialMode + " (choose from 'maintenance')"}
	}
	return nil
}

// NewCommand returns the gpstart command. runF, when not nil, receives the
// parsed options instead of Run (for flag-parsing tests).
func NewCommand(env *app.Env, runF func(*Options) error) *cobra.Command {
	opts := &Options{NewExecutor: gpstop.NewSSHExecutor}
	spec := app.ToolSpec{
		Use:        "gpstart [options]",
		Short:      "Start a Greenplum Database system.",
		Positional: app.RejectLastArgument,
	}
	cmd := app.NewCommand(env, spec, opts, runF, func(ctx context.Context, o *Options) error {
		return Run(ctx, env, o)
	})
	f := cmd.Flags()
	f.BoolVarP(&opts.CoordinatorOnly, "master_only", "m", false, "start coordinator instance only in maintenance mode")
	f.BoolVarP(&opts.CoordinatorOnly, "coordinator_only", "c", false, "start coordinator instance only in maintenance mode")
	f.BoolVarP(&opts.Restricted, "restricted", "R", false, "start in restricted mode: only superusers may connect")
	f.IntVarP(&opts.Timeout, "timeout", "t", pgcmd.DefaultStartTimeout, "time to wait for each instance to start (in seconds)")
	f.BoolVarP(&opts.NoStandby, "no_standby", "y", false, "do not start the standby coordinator")
	f.BoolVarP(&opts.SkipStandbyCheck, "skip_standby_check", "S", false, "skip the check whether the standby was activated")
	f.BoolVar(&opts.SkipHeapChecksum, "skip-heap-checksum-validation", false, "do not check that the segments' data_checksums match the coordinator's")
	f.IntVarP(&opts.Parallel, "parallel", "B", DefaultParallel, "number of segment hosts to start at once, and of instances per host")
	f.StringVarP(&opts.SpecialMode, "specialMode", "U", "", "start in a special mode (maintenance)")
	_ = f.MarkHidden("skip_standby_check") // the flags exist; hiding cannot fail
	_ = f.MarkHidden("specialMode")
	return cmd
}

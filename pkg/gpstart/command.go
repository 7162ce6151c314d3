// Package gpstart is the gpstart command: its options, bound as Greenplum's
// gpstart names them, run pkg/startup, which starts the cluster (spec §7).
// The start itself lives below the tools because gpstop -r runs it too.
package gpstart

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
	"github.com/gpmgmt/gpmgmt/pkg/startup"
)

// NewCommand returns the gpstart command. runF, when not nil, receives the
// parsed options instead of Run (for flag-parsing tests).
func NewCommand(env *app.Env, runF func(*startup.Options) error) *cobra.Command {
	opts := &startup.Options{}
	spec := app.ToolSpec{
		Use:        "gpstart [options]",
		Short:      "Start a Greenplum Database system.",
		Positional: app.RejectLastArgument,
	}
	cmd := app.NewCommand(env, spec, opts, runF, func(ctx context.Context, o *startup.Options) error {
		return startup.Run(ctx, env, o)
	})
	f := cmd.Flags()
	f.BoolVarP(&opts.CoordinatorOnly, "master_only", "m", false, "start coordinator instance only in maintenance mode")
	f.BoolVarP(&opts.CoordinatorOnly, "coordinator_only", "c", false, "start coordinator instance only in maintenance mode")
	f.BoolVarP(&opts.Restricted, "restricted", "R", false, "start in restricted mode: only superusers may connect")
	f.IntVarP(&opts.Timeout, "timeout", "t", pgcmd.DefaultStartTimeout, "time to wait for each instance to start (in seconds)")
	f.BoolVarP(&opts.NoStandby, "no_standby", "y", false, "do not start the standby coordinator")
	f.BoolVarP(&opts.SkipStandbyCheck, "skip_standby_check", "S", false, "skip the check whether the standby was activated")
	f.BoolVar(&opts.SkipHeapChecksum, "skip-heap-checksum-validation", false, "do not check that the segments' data_checksums match the coordinator's")
	f.IntVarP(&opts.Parallel, "parallel", "B", startup.DefaultParallel, "number of segment hosts to start at once, and of instances per host")
	f.StringVarP(&opts.SpecialMode, "specialMode", "U", "", "start in a special mode (maintenance)")
	_ = f.MarkHidden("skip_standby_check") // the flags exist; hiding cannot fail
	_ = f.MarkHidden("specialMode")
	return cmd
}

// Package gpstop implements gpstop: stops (or reloads) a Greenplum cluster
// the way Greenplum's gpstop does, with per-host sh scripts (pkg/segctl)
// instead of gpsegstop.py on the segment hosts.
package gpstop

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
)

// DefaultParallel is gpstop's -B default (DEFAULT_NUM_WORKERS).
const DefaultParallel = 64

// Options are gpstop's command-line options (Greenplum's optparse names).
type Options struct {
	app.CommonOptions
	Fast, Immediate, Smart, Force bool   // -f -i -s -z (deprecated)
	Mode                          string // -M --mode
	Restart                       bool   // -r --restart
	CoordinatorOnly               bool   // -m --master_only, -c --coordinator_only
	NoStandby                     bool   // -y: do not stop the standby
	Reload                        bool   // -u
	Parallel                      int    // -B --parallel
	Timeout                       int    // -t --timeout
	Host                          string // --host
	SkipValidation                bool   // --skipvalidation
}

// Validate applies Greenplum's createProgram checks, and resolves the
// deprecated mode flags into Mode.
func (o *Options) Validate() error {
	if err := o.CommonOptions.Validate(); err != nil {
		return err
	}
	bad := func(msg string) error { return &app.ArgumentError{Msg: msg} }
	switch o.Mode {
	case "smart", "fast", "immediate":
	default:
		return bad("option -M: invalid choice: '" + o.Mode + "' (choose from 'fast', 'immediate', 'smart')")
	}
	if o.Mode != "smart" && (o.Fast || o.Immediate) {
		return bad("Can not mix --mode options with older deprecated '-f,-i,-s'")
	}
	if o.Host != "" {
		switch {
		case o.CoordinatorOnly:
			return bad("Incompatible flags. Cannot mix '--host' option with stopping coordinator-only.")
		case o.Restart:
			return bad("Incompatible flags. Cannot mix '--host' option with '-r' for restart.")
		case o.Reload:
			return bad("Incompatible flags. Cannot mix '--host' option with '-u' for config reload.")
		case o.NoStandby:
			return bad("Incompatible flags. Cannot mix '--host' option with '-y' for skipping standby.")
		}
	}
	if o.Fast {
		o.Mode = "fast"
	}
	if o.Immediate {
		o.Mode = "immediate"
	}
	if o.Smart {
		o.Mode = "smart"
	}
	if o.Force {
		o.Mode = "fast"
	}
	if o.Parallel > 128 || o.Parallel < 1 {
		return bad("Invalid value for parallel degree: " + strconv.Itoa(o.Parallel))
	}
	if o.Timeout < pgcmd.DefaultStopTimeout && !o.SkipValidation {
		return bad("Invalid timeout value.  Must be greater than " + strconv.Itoa(pgcmd.DefaultStopTimeout) + " seconds.")
	}
	return nil
}

// NewCommand returns the gpstop command. runF, when not nil, receives the
// parsed options instead of Run (for flag-parsing tests).
func NewCommand(env *app.Env, runF func(*Options) error) *cobra.Command {
	opts := &Options{}
	spec := app.ToolSpec{Use: "gpstop [options]", Short: "Stops a GPDB Array.", Positional: app.RejectLastArgument}
	cmd := app.NewCommand(env, spec, opts, runF, func(ctx context.Context, o *Options) error {
		return Run(ctx, env, o)
	})
	f := cmd.Flags()
	f.BoolVarP(&opts.Fast, "fast", "f", false, "<deprecated> Fast shutdown, active transactions interrupted and rolled back")
	f.BoolVarP(&opts.Immediate, "immediate", "i", false, "<deprecated> Immediate shutdown, active transaction aborted.")
	f.BoolVarP(&opts.Smart, "smart", "s", false, "<deprecated> Smart shutdown, wait for active transaction to complete. [default]")
	f.BoolVarP(&opts.Force, "force", "z", false, "<deprecated> Force shutdown of segment instances marked as invalid (now: fast mode)")
	f.StringVarP(&opts.Mode, "mode", "M", "smart", "set the method of shutdown (fast|immediate|smart)")
	f.BoolVarP(&opts.Restart, "restart", "r", false, "Restart Greenplum Database instance after successful gpstop.")
	f.BoolVarP(&opts.CoordinatorOnly, "master_only", "m", false, "stop coordinator instance started in maintenance mode")
	f.BoolVarP(&opts.CoordinatorOnly, "coordinator_only", "c", false, "stop coordinator instance started in maintenance mode")
	f.BoolVarP(&opts.NoStandby, "no-standby", "y", false, "Do not stop the standby coordinator process.")
	f.BoolVarP(&opts.Reload, "reload", "u", false, "upload new coordinator postgresql.conf settings, does not stop Greenplum array, issues a signal to the postmaster processes to reload")
	f.IntVarP(&opts.Parallel, "parallel", "B", DefaultParallel, "number of segment hosts to run in parallel. Default is 64")
	f.IntVarP(&opts.Timeout, "timeout", "t", pgcmd.DefaultStopTimeout, "time to wait for segment stop (in seconds)")
	f.StringVar(&opts.Host, "host", "", "stop all segments on this host (this will only complete if failover segments are available)")
	f.BoolVar(&opts.SkipValidation, "skipvalidation", false, "<development testing only> DO NOT USE")
	_ = f.MarkHidden("skipvalidation") // the flag exists; hiding cannot fail
	return cmd
}

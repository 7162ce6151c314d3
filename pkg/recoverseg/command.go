// Package recoverseg implements gprecoverseg: it recovers failed segment
// instances in place, incrementally (pg_rewind from the acting primary) or
// in full (-F, pg_basebackup through pkg/buildmirrors), in Greenplum's
// order and words (spec §4), with additions that make it safe to run at 3
// a.m.: a plan of what each recovery will do before the prompt, a lock
// whose stale owner is recognised, a journal and detached rewinds so that
// a run stopped anywhere is finished by running it again, and --dry-run.
//
// A -i file (configfile.go, fromfile.go) names the segments to recover, in
// place or at new locations; -p moves the failed segments onto spare hosts
// (spare.go); -o writes the selection as a -i file. A recovery to a new
// location is a full copy built there by pkg/buildmirrors, which moves the
// failed row in the catalog before it starts the copy (newlocation.go).
// gprecoverseg -r gives every content back to its preferred primary
// (rebalance.go); --differential (Greenplum 7 and Cloudberry) copies with
// rsync what differs (differential.go).
package recoverseg

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Defaults and ranges of -B and -b (spec §4.1).
const (
	DefaultParallel        = 16
	MaxParallel            = 64
	DefaultParallelPerHost = 64
	MaxParallelPerHost     = 128
)

// Options are gprecoverseg's command-line options (Greenplum's optparse
// names).
type Options struct {
	app.CommonOptions
	Full             bool    // -F
	Differential     bool    // --differential (GP7)
	ConfigFile       string  // -i
	OutputFile       string  // -o
	SpareHosts       string  // -p host[,host...]
	Rebalance        bool    // -r
	ReplayLag        float64 // --replay-lag (GB, with -r)
	DisableReplayLag bool    // --disable-replay-lag
	Parallel         int     // -B: hosts in parallel
	ParallelPerHost  int     // -b: segments per host in parallel
	Sequential       bool    // -s: progress as lines, not in place
	NoProgress       bool    // --no-progress
	HBAHostnames     bool    // --hba-hostnames
	DryRun           bool    // --dry-run (an addition)
	// PromotionTimeout bounds rebalance's wait for the mirrors'
	// promotion (Greenplum's 600 s; hidden --mirror-promotion-timeout,
	// for tests).
	PromotionTimeout time.Duration

	// LookupHost resolves host names for pg_hba.conf's CIDR entries;
	// NewCommand sets the system resolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)
}

// lookupHost resolves host with LookupHost (the host itself without one).
func (o *Options) lookupHost(ctx context.Context, host string) ([]string, error) {
	if o.LookupHost == nil {
		return []string{host}, nil
	}
	return o.LookupHost(ctx, host)
}

// Validate checks the ranges of -B and -b with Greenplum's messages (exit
// 2). The combinations of §4.3 depend on the flavour and are checked by
// Run once the installed binaries have said which it is.
func (o *Options) Validate() error {
	if err := o.CommonOptions.Validate(); err != nil {
		return err
	}
	if o.Parallel < 1 || o.Parallel > MaxParallel {
		return &app.ArgumentError{Msg: fmt.Sprintf("Invalid parallelDegree value provided with -B argument: %d", o.Parallel)}
	}
	if o.ParallelPerHost < 1 || o.ParallelPerHost > MaxParallelPerHost {
		return &app.ArgumentError{Msg: fmt.Sprintf("Invalid parallelPerHost value provided with -b argument: %d", o.ParallelPerHost)}
	}
	if o.PromotionTimeout <= 0 {
		return &app.ArgumentError{Msg: fmt.Sprintf("Invalid --mirror-promotion-timeout: %s", o.PromotionTimeout)}
	}
	if o.ReplayLag <= 0 {
		return &app.ArgumentError{Msg: fmt.Sprintf("Invalid --replay-lag value: %g (GB, greater than 0)", o.ReplayLag)}
	}
	return nil
}

// CheckCombinations applies spec §4.3 in flavour f's words (--differential
// is Greenplum 7's and Cloudberry's: refused on Greenplum 6).
func (o *Options) CheckCombinations(f cluster.Flavour) error {
	modes := 0
	for _, on := range []bool{o.ConfigFile != "", o.SpareHosts != "", o.Rebalance} {
		if on {
			modes++
		}
	}
	if f == cluster.GP6 {
		switch {
		case modes > 1:
			return &app.ArgumentError{Msg: "Only one of -i, -p, and -r may be specified"}
		case o.Differential:
			return &app.ArgumentError{Msg: "--differential is not available on Greenplum 6 (it is Greenplum 7's)"}
		}
	} else {
		if o.Differential {
			modes++
		}
		switch {
		case modes > 1:
			return &app.ArgumentError{Msg: "Only one of -i, -p, -r and --differential may be specified"}
		case o.Full && o.Differential:
			return &app.ArgumentError{Msg: "Only one of -F and --differential may be specified"}
		case o.Differential && o.OutputFile != "":
			return &app.ArgumentError{Msg: "Invalid -o provided with --differential argument"}
		}
	}
	switch {
	case o.DisableReplayLag && !o.Rebalance:
		return &app.ArgumentError{Msg: "--disable-replay-lag should be used only with -r"}
	case o.Rebalance && o.OutputFile != "":
		return &app.ArgumentError{Msg: "-o cannot be used with -r"}
	}
	return nil
}

// NewCommand returns the gprecoverseg command. runF, when not nil,
// receives the parsed options instead of Run (for flag-parsing tests).
func NewCommand(env *app.Env, runF func(*Options) error) *cobra.Command {
	spec := app.ToolSpec{
		Use:        "gprecoverseg [options]",
		Short:      "Recover failed segment instances and rebalance the Greenplum Database system.",
		Positional: app.RejectWithHelp,
	}
	opts := &Options{LookupHost: net.DefaultResolver.LookupHost}
	cmd := app.NewCommand(env, spec, opts, runF, func(ctx context.Context, o *Options) error {
		return Run(ctx, env, o)
	})
	f := cmd.Flags()
	f.BoolVarP(&opts.Full, "force-full", "F", false, "force a full copy (pg_basebackup) of every segment to recover")
	f.BoolVar(&opts.Differential, "differential", false, "differential recovery with rsync (Greenplum 7)")
	f.StringVarP(&opts.ConfigFile, "recover-config-file", "i", "", "recovery configuration `file`")
	f.StringVarP(&opts.OutputFile, "output-config-file", "o", "", "write a sample recovery configuration `file` and exit")
	f.StringVarP(&opts.SpareHosts, "new-hosts", "p", "", "recover failed segments onto these spare `hosts` (comma separated)")
	f.BoolVarP(&opts.Rebalance, "rebalance", "r", false, "return every segment to its preferred role")
	f.Float64Var(&opts.ReplayLag, "replay-lag", 10, "with -r: the mirror replay lag allowed, in GB")
	f.BoolVar(&opts.DisableReplayLag, "disable-replay-lag", false, "with -r: do not check the replay lag")
	f.IntVarP(&opts.Parallel, "parallel", "B", DefaultParallel, "hosts to work on in parallel (1-64)")
	f.IntVarP(&opts.ParallelPerHost, "parallel-per-host", "b", DefaultParallelPerHost, "segments of one host to work on in parallel (1-128)")
	f.BoolVarP(&opts.Sequential, "show-progress-sequential", "s", false, "show progress as lines, one block a second, instead of in place")
	f.BoolVar(&opts.NoProgress, "no-progress", false, "show no pg_rewind or pg_basebackup progress")
	f.BoolVar(&opts.HBAHostnames, "hba-hostnames", false, "use host names instead of CIDR addresses in pg_hba.conf")
	f.BoolVar(&opts.DryRun, "dry-run", false, "run the read-only checks, show the plan and every command, change nothing")
	f.DurationVar(&opts.PromotionTimeout, "mirror-promotion-timeout", DefaultPromotionTimeout, "with -r: how long to wait for FTS to promote the mirrors")
	_ = f.MarkHidden("mirror-promotion-timeout") // for tests; Greenplum's bound is fixed
	return cmd
}

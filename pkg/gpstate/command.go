// Package gpstate implements gpstate: shows the status of a running
// Greenplum cluster (spec §2), gathering from each segment host with one sh
// script over one SSH connection and no helper installed there.
package gpstate

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// DefaultParallel is gpstate's -B default.
const DefaultParallel = 16

// Options are gpstate's command-line options (Greenplum's optparse names).
type Options struct {
	app.CommonOptions
	Brief, Detail, Mirrors, Config, Errors, Quick bool // -b -s -m -c -e -Q
	Versions, Ports, Standby, Expand              bool // -i -p -f -x
	Pipe, SampleSQL                               bool // --segmentStatusPipeSeparatedForTableUse, --printSampleExternalTableSql
	JSON                                          bool // --json (an addition)
	Health                                        bool // --health (an addition)
	Metrics                                       bool // --metrics (an addition)
	Parallel                                      int  // -B
	Timeout                                       int  // --timeout, seconds; 0 none
	Retries                                       int  // --retries
}

// Mode is the report gpstate prints.
type Mode int

// The modes, in Greenplum's precedence order when -x is combined.
const (
	ModeBrief Mode = iota
	ModeMirrors
	ModeConfig
	ModeQuick
	ModeDetail
	ModeVersions
	ModeErrors
	ModeSampleSQL
	ModeStandby
	ModePorts
	ModePipe
	ModeExpand
	ModeJSON
	ModeHealth
	ModeMetrics
)

// Mode returns the report the options ask for.
func (o *Options) Mode() Mode {
	for _, m := range []struct {
		on   bool
		mode Mode
	}{
		{o.JSON, ModeJSON}, {o.Health, ModeHealth}, {o.Metrics, ModeMetrics},
		{o.Mirrors, ModeMirrors}, {o.Config, ModeConfig}, {o.Quick, ModeQuick}, {o.Detail, ModeDetail},
		{o.Versions, ModeVersions}, {o.Errors, ModeErrors}, {o.SampleSQL, ModeSampleSQL}, {o.Standby, ModeStandby},
		{o.Ports, ModePorts}, {o.Pipe, ModePipe}, {o.Expand, ModeExpand},
	} {
		if m.on {
			return m.mode
		}
	}
	return ModeBrief
}

// Validate applies Greenplum's option checks.
func (o *Options) Validate() error {
	if err := o.CommonOptions.Validate(); err != nil {
		return err
	}
	n := 0
	for _, on := range []bool{o.Mirrors, o.Config, o.Quick, o.Detail, o.Brief, o.Versions, o.Ports, o.Standby, o.Errors, o.Pipe, o.SampleSQL, o.JSON, o.Health, o.Metrics} {
		if on {
			n++
		}
	}
	if n > 1 {
		return &app.ArgumentError{Msg: "Too many output options specified"}
	}
	if o.Parallel < 1 || o.Parallel > 64 {
		return &app.ArgumentError{Msg: "Invalid parallelDegree provided with -B argument: " + strconv.Itoa(o.Parallel)}
	}
	return nil
}

// connectTimeout is --timeout as a duration.
func (o *Options) connectTimeout() time.Duration { return time.Duration(o.Timeout) * time.Second }

// NewCommand returns the gpstate command. runF, when not nil, receives the
// parsed options instead of Run (for flag-parsing tests).
func NewCommand(env *app.Env, runF func(*Options) error) *cobra.Command {
	opts := &Options{}
	spec := app.ToolSpec{
		Use:        "gpstate [options]",
		Short:      "Show the status of a running Greenplum Database system.",
		Positional: app.RejectWithHelp,
	}
	cmd := app.NewCommand(env, spec, opts, runF, func(ctx context.Context, o *Options) error {
		return Run(ctx, env, o)
	})
	// --json, --health and --metrics print a document for programs on
	// stdout: log lines go to the log file (errors to stderr too), set
	// before logging starts.
	cmd.PreRun = func(*cobra.Command, []string) { opts.MachineOutput = opts.JSON || opts.Health || opts.Metrics }
	f := cmd.Flags()
	f.BoolVarP(&opts.Brief, "brief", "b", false, "brief status summary (the default)")
	f.BoolVarP(&opts.Detail, "status", "s", false, "detailed status of every instance")
	f.BoolVarP(&opts.Mirrors, "mirrors", "m", false, "mirror instances and their status")
	f.BoolVarP(&opts.Config, "config", "c", false, "primary to mirror mapping")
	f.BoolVarP(&opts.Errors, "errors", "e", false, "segments with mirroring problems")
	f.BoolVarP(&opts.Quick, "quick", "Q", false, "quick status from the catalog only")
	f.BoolVarP(&opts.Versions, "versions", "i", false, "software version of every instance")
	f.BoolVarP(&opts.Ports, "ports", "p", false, "ports of every instance")
	f.BoolVarP(&opts.Standby, "standby", "f", false, "standby coordinator details")
	f.BoolVarP(&opts.Expand, "expand", "x", false, "gpexpand status")
	f.BoolVar(&opts.Pipe, "segmentStatusPipeSeparatedForTableUse", false, "machine-readable segment rows")
	f.BoolVar(&opts.SampleSQL, "printSampleExternalTableSql", false, "DDL of an external web table over --segmentStatusPipeSeparatedForTableUse")
	f.BoolVar(&opts.JSON, "json", false, "everything -s knows as JSON (schema in docs/gpstate-json.md)")
	f.BoolVar(&opts.Health, "health", false, "one verdict for cron and Nagios (OK, DEGRADED, ...) with Nagios exit codes")
	f.BoolVar(&opts.Metrics, "metrics", false, "the cluster's state as Prometheus metrics for node_exporter's textfile collector (docs/monitoring.md)")
	f.IntVarP(&opts.Parallel, "parallel", "B", DefaultParallel, "number of hosts to query at once (1..64)")
	f.IntVar(&opts.Timeout, "timeout", 0, "connect timeout of the first coordinator connection, in seconds")
	f.IntVar(&opts.Retries, "retries", 1, "attempts of the first coordinator connection")
	_ = f.MarkHidden("segmentStatusPipeSeparatedForTableUse") // the flags exist; hiding cannot fail
	_ = f.MarkHidden("printSampleExternalTableSql")
	return cmd
}

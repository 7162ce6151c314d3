// Package addmirrors implements gpaddmirrors: adds mirror segments to a Greenplum cluster that has none.
//
// The planning side (spec §5) is here: the options, the -m, -i and -o
// files, mirror placement, the interactive directory prompts and the
// display before the confirmation prompt. The copy, start and catalog
// registration are pkg/buildmirrors' pipeline (spec §3, in gpmgmt's order:
// see docs/differences.md).
package addmirrors

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// Defaults and ranges of the batch options (spec §5.1).
const (
	DefaultBatchSize        = 16
	MaxBatchSize            = 64
	DefaultSegmentBatchSize = 64
	MaxSegmentBatchSize     = 128
	DefaultPortOffset       = 1000
)

// Options are gpaddmirrors's command-line options (spec §5.1).
type Options struct {
	app.CommonOptions

	DirFile          string // -m: mirror data directory locations, one per line
	ConfigFile       string // -i: explicit mirror configuration (spec §5.4)
	OutputFile       string // -o: write the computed configuration and exit 0
	PortOffset       int    // -p: mirror port offset, may be negative
	Spread           bool   // -s: spread mirroring instead of group mirroring
	BatchSize        int    // -B, --batch-size: hosts in parallel, 1..64
	SegmentBatchSize int    // -b, --segment-batch-size: segments per host in parallel, 1..128
	HBAHostnames     bool   // --hba-hostnames: host names instead of CIDR in pg_hba.conf

	// DryRun prints the plan and exits 0 without changing anything (an
	// addition; Greenplum has no such option).
	DryRun bool

	// LookupHost resolves the host names of a -i file; an error rejects
	// the line naming the host. nil skips the check. NewCommand sets the
	// system resolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)

	// StreamTimeout bounds the wait for the new mirrors to stream
	// (0: buildmirrors.DefaultStreamTimeout).
	StreamTimeout time.Duration
}

// Validate checks the options before anything runs, with Greenplum's
// messages (exit 2).
func (o *Options) Validate() error {
	if err := o.CommonOptions.Validate(); err != nil {
		return err
	}
	if o.BatchSize < 1 || o.BatchSize > MaxBatchSize {
		return &app.ArgumentError{Msg: fmt.Sprintf("Invalid batch_size provided with -B argument: %d", o.BatchSize)}
	}
	if o.SegmentBatchSize < 1 || o.SegmentBatchSize > MaxSegmentBatchSize {
		return &app.ArgumentError{Msg: fmt.Sprintf("Invalid segment_batch_size provided with -b argument: %d", o.SegmentBatchSize)}
	}
	return nil
}

// FromConfigFile reports whether the mirrors come from a -i file, which
// takes precedence over -m, -s and -p (all ignored then, spec §5.1).
func (o *Options) FromConfigFile() bool { return o.ConfigFile != "" }

// NewCommand returns the gpaddmirrors command. runF, when not nil, receives the
// parsed options instead of Run (for flag-parsing tests).
func NewCommand(env *app.Env, runF func(*Options) error) *cobra.Command {
	spec := app.ToolSpec{
		Use:        "gpaddmirrors [options]",
		Short:      "Add mirror segments to a Greenplum Database system.",
		Positional: app.RejectWithHelp,
	}
	opts := &Options{LookupHost: net.DefaultResolver.LookupHost}
	cmd := app.NewCommand(env, spec, opts, runF, func(ctx context.Context, o *Options) error {
		return Run(ctx, env, o)
	})
	f := cmd.Flags()
	f.StringVarP(&opts.ConfigFile, "mirror-config", "i", "", "mirror configuration `file` (content|address|port|datadir per line)")
	f.StringVarP(&opts.OutputFile, "output-config", "o", "", "write the computed mirror configuration to `file` (for -i) and exit")
	f.StringVarP(&opts.DirFile, "datadir-config", "m", "", "`file` of mirror data directory locations, one per line (default: prompt)")
	f.BoolVarP(&opts.Spread, "spread", "s", false, "spread mirroring (default: group mirroring)")
	f.IntVarP(&opts.PortOffset, "port-offset", "p", DefaultPortOffset, "mirror port `offset`")
	f.IntVarP(&opts.BatchSize, "batch-size", "B", DefaultBatchSize, "hosts in parallel (1-64)")
	f.IntVarP(&opts.SegmentBatchSize, "segment-batch-size", "b", DefaultSegmentBatchSize, "segments per host in parallel (1-128)")
	f.BoolVar(&opts.HBAHostnames, "hba-hostnames", false, "use host names instead of CIDR in pg_hba.conf")
	f.BoolVar(&opts.DryRun, "dry-run", false, "show the plan and exit without changing anything")
	return cmd
}

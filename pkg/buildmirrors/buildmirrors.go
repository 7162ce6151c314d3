// Package buildmirrors builds new mirrors from their primaries: the shared
// "build mirrors" pipeline of spec §3, in gpmgmt's order, for gpaddmirrors
// and gpdemo (new mirrors) and gprecoverseg's full recoveries (in place,
// or to a new location).
//
// Greenplum registers the mirrors in the catalog first and copies after;
// this pipeline copies and starts first, waits until every mirror streams
// and only then registers the good ones in one transaction, so that a
// failure never leaves a catalog row without a mirror (docs/differences.md).
//
// The steps, in order (Steps returns them with their commands):
//
//  1. check targets (read-only): host keys, the catalog re-read (sources
//     are up acting primaries, targets are new), every target directory
//     absent, empty or a finished copy of an earlier run, no postmaster
//     there, its port free, enough disk space, no replication slot in use
//     on the sources;
//  2. update pg_hba.conf on the primaries (spec §6.4) and reload;
//  3. prepare replication slots: drop an unused leftover slot before a
//     copy (GP7 and later); create the slot for a reused copy when it is
//     missing;
//  4. create the mirror directories;
//  5. copy each primary with pg_basebackup (spec §6.1; the slot is created
//     up front; stoppable by pid file; progress streamed);
//  6. set each mirror's port;
//     (only with mirrors at a new location, Mirror.From: move their failed
//     rows to the new location in one catalog transaction, before the
//     start: FTS must never find a walreceiver for a row that names the
//     old place);
//  7. start the mirrors;
//  8. wait until every started mirror streams (pg_stat_replication on its
//     primary);
//  9. register the streaming mirrors in one catalog transaction (spec §3.4);
//  10. forget the finished copies (their markers): the next recovery of
//     the mirror copies again;
//  11. trigger an FTS probe.
//
// A failure on one mirror never stops the others. A failed mirror is
// cleaned up: its copy stopped, its instance stopped if this run started
// it, its slot dropped when no walsender uses it, its directory removed if
// this run created it and the copy did not finish, or emptied if it was
// there before (a finished copy is kept for the rerun, which reuses it
// instead of copying again); it gets no catalog row.
package buildmirrors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/ctxtime"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Defaults.
const (
	DefaultStreamTimeout    = 3 * time.Minute
	DefaultProgressInterval = 10 * time.Second
	DefaultStallTimeout     = 10 * time.Minute
	catalogTimeout          = 2 * time.Minute
	cleanupTimeout          = 5 * time.Minute
	connectTimeout          = 15 * time.Second
)

// Options say how to build.
type Options struct {
	Prog               string // "gpaddmirrors": history rows and messages
	Flavour            cluster.Flavour
	GPHome             string
	CoordinatorPort    int
	CoordinatorDataDir string // for the era
	User               string // OS user named in pg_hba.conf entries
	BatchSize          int    // -B: hosts in parallel
	SegmentBatchSize   int    // -b: mirrors per host in parallel
	HBAHostnames       bool   // --hba-hostnames
	DryRun             bool   // run the read-only checks, print the steps
	StreamTimeout      time.Duration
	ProgressInterval   time.Duration
	// StallTimeout stops a copy that has said nothing for this long (0:
	// DefaultStallTimeout).
	StallTimeout time.Duration
	// Terminal, when set, is the terminal the live bar of each copy is
	// drawn on; nil gives one log line per copy every ProgressInterval.
	Terminal *os.File
	// OwnProgress turns the pipeline's own progress display off: the
	// caller shows the copies' progress (Env.OnCopyLine).
	OwnProgress bool
}

// Env is what the pipeline runs with.
type Env struct {
	Log      *slog.Logger
	Progress io.Writer // live bars; nil: none
	Exec     remote.Executor
	// CheckHostKeys, when set, is the SSH host key preflight.
	CheckHostKeys func(ctx context.Context, hosts []string) error
	// Conn is the coordinator (normal connection): catalog re-read, FTS.
	Conn cluster.Conn
	// Connect opens the catalog-writing connection and the utility
	// connections to primaries.
	Connect cluster.Connector
	// LookupHost resolves host names for pg_hba.conf CIDR entries.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	Now        func() time.Time
	// Sleep waits between polls; nil means time.Sleep-like on ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnCopyLine, when set, receives every line a copy prints, with the
	// mirror's index (gprecoverseg's progress display and
	// recovery_progress.file).
	OnCopyLine func(i int, line string)
	// BeforeStep, when set, is called before each changing step runs,
	// with what has happened to every mirror so far (Created says which
	// directories this run made): the caller records it (its journal), so
	// that a rerun after kill -9 knows its own work. An error fails every
	// mirror still alive, which is cleaned up, and nothing more runs.
	BeforeStep func(step string, outcomes []Outcome) error
	// OnCopyStart, when set, is called with a mirror's index just before
	// its copy starts: after every check, so that a caller's record that
	// the copy began (gprecoverseg's journal) never precedes a refusal.
	OnCopyStart func(i int)
}

// Outcome is what happened to one mirror.
type Outcome struct {
	Mirror     Mirror
	Reused     bool   // an earlier run's finished copy was used
	Created    bool   // this run created the directory
	Copied     bool   // the copy finished (this run or an earlier one)
	Started    bool   // this run started the instance
	Registered bool   // the catalog row was written
	FailedStep string // the step that failed, "" if none
	Err        error
	// Left says the cleanup after the failure did not finish (its host
	// gone, say): what the run made or copied for the mirror may still
	// be there, for the caller's rerun to take over.
	Left bool
}

// OK reports whether the mirror was added.
func (o Outcome) OK() bool { return o.Registered && o.Err == nil }

// Report is the result of Run.
type Report struct {
	Outcomes []Outcome
}

// Log logs one line per mirror, what became of it, and a summary: the
// report gpaddmirrors and gpdemo print.
func (r Report) Log(log *slog.Logger) {
	ok := 0
	for _, o := range r.Outcomes {
		m := o.Mirror
		where := fmt.Sprintf("dbid %d content %d on %s:%d %s", m.Target.DBID, m.Target.ContentID, m.Target.Hostname, m.Target.Port, m.Target.DataDir)
		if o.OK() {
			ok++
			how := "copied"
			if o.Reused {
				how = "reused an earlier copy"
			}
			log.Info(fmt.Sprintf("Mirror %s: added (%s, streaming, registered)", where, how))
			continue
		}
		log.Warn(fmt.Sprintf("Mirror %s: failed at %q: %v", where, o.FailedStep, o.Err))
	}
	log.Info(fmt.Sprintf("%d of %d mirror(s) added", ok, len(r.Outcomes)))
}

// Failed returns the outcomes that failed.
func (r Report) Failed() []Outcome {
	var out []Outcome
	for _, o := range r.Outcomes {
		if !o.OK() {
			out = append(out, o)
		}
	}
	return out
}

// run is one pipeline run.
type run struct {
	env   Env
	opts  Options
	ms    []Mirror
	out   []Outcome
	probe map[int]TargetProbe
	// catalog is the catalog as the check read it.
	catalog *cluster.Cluster
	era     string
	mu      sync.Mutex

	cleaned []bool
	// copyRan says which mirrors' copies this run started.
	copyRan []bool
}

// failed reports whether mirror i has failed (i -1, no mirror, never has).
func (r *run) failed(i int) bool {
	if i < 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out[i].Err != nil
}

func (r *run) fail(i int, step string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.out[i].Err == nil {
		r.out[i].FailedStep, r.out[i].Err = step, err
	}
}

// alive returns the indices of mirrors that have not failed.
func (r *run) alive() []int {
	var idx []int
	for i := range r.ms {
		if !r.failed(i) {
			idx = append(idx, i)
		}
	}
	return idx
}

// Run builds mirrors. It returns an error without changing anything when
// the input or the targets are not fit (an *InputError); otherwise the
// report says what happened to each mirror, and err is only a context
// error (Ctrl-C), after the cleanup.
func Run(ctx context.Context, env Env, opts Options, mirrors []Mirror) (Report, error) {
	if opts.StreamTimeout <= 0 {
		opts.StreamTimeout = DefaultStreamTimeout
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = DefaultProgressInterval
	}
	if opts.StallTimeout <= 0 {
		opts.StallTimeout = DefaultStallTimeout
	}
	opts.BatchSize, opts.SegmentBatchSize = max(opts.BatchSize, 1), max(opts.SegmentBatchSize, 1)
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Sleep == nil {
		env.Sleep = ctxtime.Sleep
	}
	r := &run{env: env, opts: opts, ms: mirrors, out: make([]Outcome, len(mirrors)), cleaned: make([]bool, len(mirrors)), copyRan: make([]bool, len(mirrors))}
	for i, m := range mirrors {
		r.out[i].Mirror = m
	}
	if len(mirrors) == 0 {
		env.Log.Info(fmt.Sprintf("No segments to %s", verb(opts.Prog)))
		return Report{}, nil
	}
	env.Log.Info(fmt.Sprintf("%d segment(s) to %s", len(mirrors), verb(opts.Prog)))
	env.Log.Info(fmt.Sprintf("Step 1 of %d: %s", stepTotal(mirrors), StepCheck))
	if err := r.preflight(ctx); err != nil {
		return Report{}, err
	}
	era, err := cluster.ReadEra(opts.CoordinatorDataDir, opts.Flavour)
	if err != nil {
		// Starting mirrors with GPERA=None would hide a damaged file.
		return Report{}, &InputError{Problems: []error{fmt.Errorf("%w: fix or remove the file (gpstart writes a new one)", err)}}
	}
	r.era = era
	steps, err := r.steps(ctx)
	if err != nil {
		return Report{}, err
	}
	if opts.DryRun {
		r.printPlan(ctx, steps)
		return Report{Outcomes: r.out}, nil
	}
	return r.execute(ctx, steps)
}

func verb(prog string) string {
	if prog == "gprecoverseg" {
		return "recover"
	}
	return "add"
}

// hostsOf returns the sorted distinct hosts of the mirrors' targets (and,
// with sources, of their primaries).
func hostsOf(ms []Mirror, sources bool) []string {
	var hs []string
	for _, m := range ms {
		hs = append(hs, m.Target.Hostname)
		if sources {
			hs = append(hs, m.Source.Hostname)
		}
	}
	slices.Sort(hs)
	return slices.Compact(hs)
}

// resultErr turns a failed result into an error naming its output.
func resultErr(res remote.Result) error {
	if res.OK() {
		return nil
	}
	if res.Err != nil {
		return res.Err
	}
	return fmt.Errorf("%s on %s: exit status %d: %s", res.Command.Label, res.Command.Host, res.ExitCode, strings.TrimSpace(res.Stderr))
}

// InputError is a refusal before anything changed: every problem found,
// each an error that keeps its cause (an *remote.SSHError, a
// *remote.ChangedHostKeyError, ...) for errors.As.
type InputError struct {
	Problems []error
}

func (e *InputError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return "cannot build the mirrors; nothing was changed:\n  " + strings.Join(msgs, "\n  ")
}

// Unwrap returns the problems.
func (e *InputError) Unwrap() []error { return e.Problems }

var errSkipped = errors.New("skipped")

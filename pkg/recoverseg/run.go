package recoverseg

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Tool is the name of the lock and journal.
const Tool = "gprecoverseg"

// recovery is one run's state.
type recovery struct {
	env  *app.Env
	opts *Options
	co   *coordinator.Coordinator
	f    cluster.Flavour
	ssh  remote.HostExecutor
	// exec runs commands on the coordinator's host locally and on the
	// others over SSH.
	exec        remote.Executor
	unreachable map[string]error
	// prev is the journal an interrupted earlier run left, nil if none.
	prev    *oplock.Record
	journal *oplock.Journal
	// stamp dates this run's progress files (§3.2).
	stamp string
	// ftsSeconds is FTS's promotion time for rebalance's estimate.
	ftsSeconds int
	// spareHosts are -p's hosts, as parsed (the display names them).
	spareHosts []string
	// notes are the selection's warnings, shown after the display.
	notes []string
}

// Run does gprecoverseg's work (spec §4.4, §4.6): the prelude, the lock,
// the selection of failed segments, the heap checksum check, the plan and
// Greenplum's display, the prompt, then the recovery, incremental or full.
func Run(ctx context.Context, env *app.Env, opts *Options) (err error) {
	gphome, err := cluster.GPHome(env.Getenv)
	if err != nil {
		return &app.ExpectedError{Err: err}
	}
	v, mdd, err := coordinator.Locate(ctx, env, gphome, opts.DataDir)
	if err != nil {
		return err
	}
	if err := opts.CheckCombinations(v.Flavour); err != nil {
		return err
	}
	// Open checks these too, but the lock is made in mdd before it: a
	// path a shell would interpret, or another instance's directory, is
	// refused before anything is written there.
	if err := coordinator.CheckDataDir(env.Log, coordinator.RefuseUnsafe, mdd); err != nil {
		return err
	}
	if err := cluster.CheckCoordinatorDataDir(mdd, v.Flavour); err != nil {
		return &app.ExpectedError{Err: err}
	}
	if !opts.DryRun {
		lock, err := takeLock(env, mdd)
		if err != nil {
			return err
		}
		defer func() {
			if rerr := lock.Release(); rerr != nil {
				err = errors.Join(err, app.Errorf("%w", rerr))
			}
		}()
	}

	c, err := coordinator.Open(ctx, env, coordinator.Options{DataDir: opts.DataDir, Utility: false})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close(context.WithoutCancel(ctx))) }()
	if !c.Cluster.HasMirrors() {
		return app.Errorf("GPDB Mirroring replication is not configured for this Greenplum Database instance.")
	}
	r := &recovery{env: env, opts: opts, co: c, f: c.Flavour(), stamp: env.Start.Format("20060102_150405")}
	if r.ssh, err = env.OpenSSH(&opts.CommonOptions, c.GPHome); err != nil {
		return err
	}
	defer func() {
		if cerr := r.ssh.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close ssh connections: %w", cerr))
		}
	}()
	r.exec = remote.Router{Local: env.Exec, Remote: r.ssh, LocalHosts: []string{c.Cluster.Coordinator().Hostname}}
	return r.run(ctx)
}

// takeLock takes gprecoverseg's lock: a live owner is refused with
// Greenplum's two lines (exit 2, where Greenplum 6 exits 0); a stale one is
// taken over with a warning. A gpaddmirrors holding its own lock is
// refused the same way: both build mirrors from the same primaries.
func takeLock(env *app.Env, mdd string) (*oplock.Lock, error) {
	return oplock.Take(env, mdd, Tool, "gpaddmirrors")
}

// run is everything after the coordinator is open.
func (r *recovery) run(ctx context.Context) error {
	log := r.env.Log
	c := r.co.Cluster
	if err := r.ssh.CheckHostKeys(ctx, c.Hosts()); hostKeyRefusal(err) {
		return app.Errorf("%w", err)
	}
	r.unreachable = remote.Reach(ctx, r.runner(len(c.Hosts())), c.Hosts())
	if len(r.unreachable) > 0 {
		log.Warn("One or more hosts are not reachable via SSH.  Any segments on those hosts will be marked down")
		hosts := make([]string, 0, len(r.unreachable))
		for h := range r.unreachable {
			hosts = append(hosts, h)
		}
		slices.Sort(hosts)
		for _, h := range hosts {
			log.Warn(fmt.Sprintf("Host %s is unreachable: %v", h, r.unreachable[h]))
		}
	}
	prev, err := oplock.ReadJournal(r.co.DataDir, Tool)
	if err != nil {
		return app.Errorf("%w", err)
	}
	r.prev = prev
	if prev != nil {
		log.Info(fmt.Sprintf("An earlier gprecoverseg (PID %d, started %s, args: %s) did not finish; this run completes its work",
			prev.PID, prev.Started.Format("2006-01-02 15:04:05"), strings.Join(prev.Args, " ")))
	}

	if r.opts.Rebalance {
		return r.rebalance(ctx)
	}
	return r.recoverFailed(ctx)
}

// recoverFailed is spec §4.4 and §4.6 from the selection on: what
// gprecoverseg does without -r, and what rebalance runs in-process.
func (r *recovery) recoverFailed(ctx context.Context) error {
	log := r.env.Log
	targets, err := r.selectTargets(ctx)
	if err != nil {
		return err
	}
	if r.opts.OutputFile != "" {
		return r.writeOutput(targets)
	}
	if len(targets) == 0 {
		log.Info("No segments to recover")
		return r.finishJournal()
	}
	if err := r.checkConflicts(targets); err != nil {
		return err
	}
	data, err := r.checkHeapChecksums(ctx, targets)
	if err != nil {
		return err
	}
	if err := r.planTargets(ctx, targets, data); err != nil {
		return err
	}
	r.display(ctx, targets)
	if err := refuseImpossible(targets); err != nil {
		return err
	}
	if r.opts.DryRun {
		return r.dryRun(ctx, targets)
	}
	if !r.opts.NonInteractive {
		yes, err := app.Confirm(ctx, r.env, "Continue with segment recovery procedure", "")
		if err != nil {
			return err
		}
		if !yes {
			return app.ErrUserAbort
		}
	}
	return r.recover(ctx, targets)
}

// hostKeyRefusal reports whether the host key preflight's error names a
// host whose key is unknown or changed: the run is then refused before
// anything changes. A host the preflight could not reach refuses nothing:
// the reachability check that follows skips its failed segments (spec
// §4.8) and says why.
func hostKeyRefusal(err error) bool {
	var unknown *remote.UnknownHostKeyError
	var changed *remote.ChangedHostKeyError
	return errors.As(err, &unknown) || errors.As(err, &changed)
}

// runner runs per-host commands -B hosts at once (n hosts at most).
func (r *recovery) runner(n int) remote.Runner {
	return remote.Runner{Exec: r.exec, Limit: min(max(n, 1), r.opts.Parallel)}
}

// finishJournal removes an earlier run's journal once nothing is left to
// do.
func (r *recovery) finishJournal() error {
	if r.prev == nil || r.opts.DryRun {
		return nil
	}
	if err := oplock.RemoveJournal(r.co.DataDir, Tool); err != nil {
		return app.Errorf("%w", err)
	}
	return nil
}

package recoverseg

import (
	"context"
	"fmt"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// switchPair is one content that runs on its preferred mirror: rebalance
// stops Acting (role p, preferred m) so that FTS promotes Preferred (role
// m, preferred p), then recovers Acting in place as its mirror.
type switchPair struct {
	Acting    cluster.Segment
	Preferred cluster.Segment
	// Problem says why the pair is not switched ("" when it is): Greenplum
	// names down, unreachable and not synchronized; the replica's own
	// state (not streaming) is an addition.
	Problem string
	Lag     lagReading
}

// label names the pair in messages.
func (p switchPair) label() string {
	return fmt.Sprintf("content %d (primary dbid %d on %s:%d, mirror dbid %d on %s:%d)", p.Acting.ContentID,
		p.Acting.DBID, p.Acting.Hostname, p.Acting.Port, p.Preferred.DBID, p.Preferred.Hostname, p.Preferred.Port)
}

// unbalancedRows are spec §4.11 step 2's rows, every segment whose role
// is not its preferred one, in Greenplum's order: per content, the acting
// primary, then the acting mirror.
func unbalancedRows(c *cluster.Cluster) []cluster.Segment {
	var rows []cluster.Segment
	for _, p := range c.Pairs() {
		for _, s := range []*cluster.Segment{p.Primary, p.Mirror} {
			if s != nil && !s.IsBalanced() {
				rows = append(rows, *s)
			}
		}
	}
	return rows
}

// switchPairs are the contents whose acting primary is a preferred
// mirror, each with Greenplum's eligibility (both up, both hosts
// reachable, both in sync).
func switchPairs(c *cluster.Cluster, unreachable map[string]error) []switchPair {
	var out []switchPair
	for _, p := range c.Pairs() {
		if p.Mirror == nil || p.Primary.IsBalanced() {
			continue
		}
		sp := switchPair{Acting: *p.Primary, Preferred: *p.Mirror}
		var why []string
		for _, s := range []cluster.Segment{sp.Acting, sp.Preferred} {
			switch {
			case !s.IsUp():
				why = append(why, fmt.Sprintf("dbid %d is down", s.DBID))
			case unreachable[s.Hostname] != nil:
				why = append(why, fmt.Sprintf("host %s of dbid %d is unreachable", s.Hostname, s.DBID))
			case !s.IsSynced():
				why = append(why, fmt.Sprintf("dbid %d is not synchronized", s.DBID))
			}
		}
		sp.Problem = strings.Join(why, "; ")
		out = append(out, sp)
	}
	return out
}

// rebalance is spec §4.11: the unbalanced rows, the plan and Greenplum's
// display, the prompt, the eligibility and replay-lag gate, then the
// switch (stop, FTS promotion, proven by a distributed transaction) and
// the in-place recovery of the stopped instances as mirrors.
//
// A run stopped anywhere is finished by running gprecoverseg -r again:
// the journal says an earlier run did not finish, and the synchronization
// step runs even when nothing is left to switch.
func (r *recovery) rebalance(ctx context.Context) error {
	log := r.env.Log
	rows := unbalancedRows(r.co.Cluster)
	if len(rows) == 0 {
		log.Info("No segments are running in their non-preferred role and need to be rebalanced.")
		if r.prev == nil {
			return nil
		}
		return r.finishEarlierRebalance(ctx)
	}
	pairs := switchPairs(r.co.Cluster, r.unreachable)
	r.readLags(ctx, pairs)
	r.ftsSeconds = r.readFTSSeconds(ctx)
	r.displayRebalance(ctx, pairs, rows)
	if !r.opts.NonInteractive && !r.opts.DryRun {
		log.Warn("This operation will cancel queries that are currently executing.")
		log.Warn("Connections to the database however will not be interrupted.")
		yes, err := app.Confirm(ctx, r.env, "Continue with segment rebalance procedure", "")
		if err != nil {
			return err
		}
		if !yes {
			return app.ErrUserAbort
		}
		// The answer may have come much later: the gate judges the
		// catalog and the replication as they are now.
		if pairs, err = r.reread(ctx); err != nil {
			return err
		}
	}
	log.Info("Determining primary and mirror segment pairs to rebalance")
	eligible, err := r.gate(ctx, pairs)
	if err != nil {
		return err
	}
	if r.opts.DryRun {
		return r.dryRunRebalance(eligible)
	}
	if len(eligible) == 0 {
		log.Info("No segments to rebalance")
		if r.prev != nil {
			return r.finishEarlierRebalance(ctx)
		}
		r.rebalanceBanner(true)
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted before anything stopped
	}
	return r.switchBack(ctx, eligible)
}

// reread loads the catalog again and reads the pairs' replication anew.
func (r *recovery) reread(ctx context.Context) ([]switchPair, error) {
	c, err := cluster.Load(ctx, r.co.Conn)
	if err != nil {
		return nil, app.Errorf("read the segment configuration again: %w", err)
	}
	r.co.Cluster = c
	pairs := switchPairs(c, r.unreachable)
	r.readLags(ctx, pairs)
	return pairs, nil
}

// switchBack does the switch the user agreed to. From the first stop
// until the promotion is proven, nothing interrupts it (Greenplum ignores
// SIGINT there): a content is never left without a primary by a Ctrl-C.
func (r *recovery) switchBack(ctx context.Context, eligible []switchPair) error {
	if err := r.beginRebalanceJournal(eligible); err != nil {
		return err
	}
	wctx := context.WithoutCancel(ctx)
	restore := r.ignoreSignals(wctx)
	stopped, allStopped := r.stopActing(wctx, eligible)
	err := r.reconfigure(wctx, stopped)
	restore()
	if err != nil {
		return err
	}
	if err := r.synchronize(wctx); err != nil {
		return err
	}
	if err := oplock.RemoveJournal(r.co.DataDir, Tool); err != nil {
		r.env.Log.Warn(err.Error())
	}
	r.rebalanceBanner(allStopped)
	return nil
}

// finishEarlierRebalance completes what an interrupted run left: the
// instances it stopped were failed over by FTS and are recovered now. A
// dry run only says so.
func (r *recovery) finishEarlierRebalance(ctx context.Context) error {
	if r.opts.DryRun {
		r.env.Log.Info("Dry run: gprecoverseg -r would now recover the segments the earlier run left down; gprecoverseg --dry-run shows that recovery")
		return nil
	}
	if err := r.synchronize(ctx); err != nil {
		return err
	}
	if err := oplock.RemoveJournal(r.co.DataDir, Tool); err != nil {
		r.env.Log.Warn(err.Error())
	}
	r.rebalanceBanner(true)
	return nil
}

// rebalanceBanner is spec §4.11 step 9.
func (r *recovery) rebalanceBanner(full bool) {
	log := r.env.Log
	stars := strings.Repeat("*", 66)
	log.Info(stars)
	if full {
		log.Info("The rebalance operation has completed successfully.")
	} else {
		log.Info("The rebalance operation has completed with WARNINGS. Please review the output in the gprecoverseg log.")
	}
	log.Info(stars)
}

// Journal steps of a rebalance.
const (
	stepStopping  = "stopping"
	stepPromoted  = "promoted"
	stepRestarted = "restarted" // started again after a promotion timeout
)

// beginRebalanceJournal records the instances about to be stopped. An
// earlier run's recovery items are kept: a rewind it left at work, or a
// copy it began, must still be recognised if this run is killed before
// its synchronization step takes them over.
func (r *recovery) beginRebalanceJournal(pairs []switchPair) error {
	rec := oplock.Record{Tool: Tool, PID: r.env.PID, Started: r.env.Start, Args: r.env.Args}
	mine := map[int]bool{}
	for _, p := range pairs {
		a := p.Acting
		mine[a.DBID] = true
		rec.Items = append(rec.Items, oplock.Item{DBID: a.DBID, Method: "rebalance", Host: a.Hostname, DataDir: a.DataDir, Port: a.Port,
			Step: stepPlanned, Note: fmt.Sprintf("mirror dbid %d to be promoted", p.Preferred.DBID)})
	}
	if r.prev != nil {
		for _, it := range r.prev.Items {
			if it.Method != "rebalance" && !mine[it.DBID] {
				rec.Items = append(rec.Items, it)
			}
		}
	}
	j, err := oplock.NewJournal(r.co.DataDir, rec)
	if err != nil {
		return app.Errorf("%w", err)
	}
	r.journal = j
	return nil
}

// rebalanceStep records a pair's step.
func (r *recovery) rebalanceStep(p switchPair, step string) {
	if r.journal == nil {
		return
	}
	if err := r.journal.Step(p.Acting.DBID, step, ""); err != nil {
		r.env.Log.Warn(err.Error())
	}
}

// stoppedEarlier reports whether an interrupted earlier rebalance began
// to stop the acting primary dbid and did not start it again.
func (r *recovery) stoppedEarlier(dbid int) bool {
	if r.prev == nil {
		return false
	}
	it, ok := r.prev.Item(dbid)
	if !ok || it.Method != "rebalance" {
		return false
	}
	switch it.Step {
	case stepStopping, stepStopped, stepPromoted:
		return true
	}
	return false
}

// synchronize is spec §4.11 step 8: an in-process gprecoverseg -a -B
// <B> -b <b> between Greenplum's START and END ANOTHER RECOVER lines. It
// opens the coordinator again (the catalog changed) and recovers every
// failed segment in place, the stopped former primaries among them.
func (r *recovery) synchronize(ctx context.Context) error {
	log := r.env.Log
	log.Info("Starting segment synchronization")
	log.Info("=============================START ANOTHER RECOVER=========================================")
	err := r.recoverNested(ctx)
	if err != nil {
		code := app.Report(ctx, r.env, err)
		log.Error("Failed to start the synchronization step of the segment rebalance.")
		log.Error("Check the gprecoverseg log file, correct any problems, and re-run")
		log.Error(fmt.Sprintf("gprecoverseg -a -B %d -b %d", r.opts.Parallel, r.opts.ParallelPerHost))
		err = app.Errorf("Error synchronizing.\nError: %d", code)
	}
	log.Info("==============================END ANOTHER RECOVER==========================================")
	return err
}

// recoverNested is the nested run itself; the lock stays the outer run's.
func (r *recovery) recoverNested(ctx context.Context) (err error) {
	co, err := coordinator.Open(ctx, r.env, coordinator.Options{DataDir: r.opts.DataDir})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := co.Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = app.Errorf("close the coordinator connection: %w", cerr)
		}
	}()
	opts := *r.opts
	opts.Rebalance, opts.NonInteractive, opts.Full = false, true, false
	n := &recovery{env: r.env, opts: &opts, co: co, f: r.f, ssh: r.ssh, exec: r.exec,
		unreachable: r.unreachable, prev: r.prev, stamp: r.stamp}
	return n.recoverFailed(ctx)
}

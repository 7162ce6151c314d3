package buildmirrors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// streamPoll is how often the stream step asks the primaries again.
const streamPoll = 500 * time.Millisecond

// execute runs the steps in order, each through its own run function, so
// that what runs is what --dry-run printed. A mirror that fails leaves the
// later steps and is cleaned up before the catalog is written.
func (r *run) execute(ctx context.Context, steps []Step) (Report, error) {
	for i, s := range steps {
		if s.run == nil {
			continue
		}
		if err := r.beforeStep(s.Name); err != nil {
			r.env.Log.Error(fmt.Sprintf("%v: stopping before %q", err, s.Name))
			for _, k := range r.alive() {
				r.fail(k, s.Name, err)
			}
			r.cleanupFailed(ctx)
			break
		}
		r.env.Log.Info(fmt.Sprintf("Step %d of %d: %s", i+1, len(steps), s.Name))
		s.run(ctx, r, s)
	}
	return Report{Outcomes: r.out}, ctx.Err()
}

// beforeStep gives Env.BeforeStep a copy of the outcomes so far.
func (r *run) beforeStep(step string) error {
	if r.env.BeforeStep == nil {
		return nil
	}
	r.mu.Lock()
	out := append([]Outcome(nil), r.out...)
	r.mu.Unlock()
	return r.env.BeforeStep(step, out)
}

// runner runs commands -B hosts and -b commands per host at once.
func (r *run) runner(onDone func(int, remote.Result)) remote.Runner {
	return remote.Runner{Exec: r.env.Exec, Limit: r.opts.BatchSize, PerHost: r.opts.SegmentBatchSize, OnDone: onDone}
}

// mirrorCommands returns the commands of a per-mirror step for the mirrors
// still alive, and the mirror index of each.
func (r *run) mirrorCommands(s Step) ([]remote.Command, []int) {
	var cmds []remote.Command
	var idx []int
	for _, i := range r.alive() {
		if k, ok := s.ByMirror[i]; ok {
			cmds = append(cmds, s.Commands[k])
			idx = append(idx, i)
		}
	}
	return cmds, idx
}

// runPerMirror runs a per-mirror step and records each mirror's failure,
// and, with s.onResult, what its command did.
func runPerMirror(ctx context.Context, r *run, s Step) {
	cmds, idx := r.mirrorCommands(s)
	for k, res := range r.runner(nil).Run(ctx, cmds) {
		r.result(s, idx[k], res)
	}
}

// result records one mirror's command result in step s.
func (r *run) result(s Step, i int, res remote.Result) {
	if err := resultErr(res); err != nil {
		r.fail(i, s.Name, err)
		r.env.Log.Warn(fmt.Sprintf("%s: %s failed: %v", r.ms[i].Label(), s.Name, err))
	}
	if s.onResult != nil {
		r.onResult(s, i, res)
	}
}

func (r *run) onResult(s Step, i int, res remote.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.onResult(r, i, res)
}

// runCopy runs the copy step with progress and the stall watch; a mirror
// the step does not copy has a finished copy from an earlier run.
func runCopy(ctx context.Context, r *run, s Step) {
	for _, i := range r.alive() {
		if _, copies := s.ByMirror[i]; !copies {
			r.out[i].Copied, r.out[i].Reused = true, true
		}
	}
	cmds, idx := r.mirrorCommands(s)
	for _, i := range idx {
		r.copyRan[i] = true
	}
	if r.env.OnCopyStart != nil {
		for _, i := range idx {
			r.env.OnCopyStart(i)
		}
	}
	prog := newProgress(r, idx)
	for k := range cmds {
		cmds[k].OnLine = prog.onLine(idx[k])
	}
	stopProgress, stopWatch := prog.start(ctx), prog.watchStalls(ctx)
	res := r.runner(func(k int, _ remote.Result) { prog.finish(idx[k]) }).Run(ctx, cmds)
	stopWatch()
	stopProgress()
	for k, rs := range res {
		i := idx[k]
		r.result(s, i, rs)
		if rs.OK() {
			r.out[i].Copied = true
			r.env.Log.Info(fmt.Sprintf("Successfully ran pg_basebackup for dbid: %d", r.ms[i].Target.DBID))
		}
	}
}

// runHBA updates pg_hba.conf on the primaries' hosts; a host that fails
// fails every mirror whose primary it holds.
func runHBA(ctx context.Context, r *run, s Step) {
	r.env.Log.Info("Starting to create new pg_hba.conf on primary segments")
	ok := true
	for _, res := range (remote.Runner{Exec: r.env.Exec, Limit: r.opts.BatchSize}).Run(ctx, s.Commands) {
		if err := resultErr(res); err != nil {
			ok = false
			for i, m := range r.ms {
				if m.Source.Hostname == res.Command.Host {
					r.fail(i, s.Name, err)
				}
			}
		}
	}
	if ok {
		r.env.Log.Info("Successfully modified pg_hba.conf on primary segments to allow replication connections")
	}
}

// runSQL runs each statement of s on its primary, for the mirrors still
// alive; a failure fails the mirror.
func runSQL(ctx context.Context, r *run, s Step) {
	for _, a := range s.SQL {
		if r.failed(a.Mirror) {
			continue
		}
		r.env.Log.Debug(fmt.Sprintf("%s: %s", a.Where, a.Statement))
		err := r.onPrimary(ctx, *a.On, func(c cluster.Conn) error {
			_, err := c.Exec(ctx, a.Statement.SQL, a.Statement.Args...)
			return err
		})
		if err != nil {
			r.fail(a.Mirror, s.Name, fmt.Errorf("%s: %s: %w", a.Where, a.Statement, err))
		}
	}
}

// runStream waits until every started mirror's primary shows a streaming
// gp_walreceiver, StreamTimeout at most, asking the primaries -B at a
// time. A mirror that never streams fails with the last error its
// primary's query gave (authentication, a refused connection, ...), or
// with "not streaming" when the query worked.
func runStream(ctx context.Context, r *run, s Step) {
	deadline := r.env.Now().Add(r.opts.StreamTimeout)
	pending := map[int]SQLAction{}
	for _, a := range s.SQL {
		if !r.failed(a.Mirror) {
			pending[a.Mirror] = a
		}
	}
	lastErr := map[int]error{}
	for len(pending) > 0 {
		var mu sync.Mutex
		sem := make(chan struct{}, r.opts.BatchSize)
		var wg sync.WaitGroup
		round := make(map[int]SQLAction, len(pending))
		for i, a := range pending {
			round[i] = a
		}
		for i, a := range round {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				var n int
				err := r.onPrimary(ctx, *a.On, func(c cluster.Conn) error {
					return c.QueryRow(ctx, a.Statement.SQL, a.Statement.Args...).Scan(&n)
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && n > 0:
					delete(pending, i)
					delete(lastErr, i)
					r.env.Log.Info(fmt.Sprintf("%s streams from its primary", r.ms[i].Label()))
				case err != nil:
					lastErr[i] = err
				default:
					delete(lastErr, i)
				}
			}()
		}
		wg.Wait()
		if len(pending) == 0 {
			return
		}
		if err := ctx.Err(); err != nil {
			for i := range pending {
				r.fail(i, s.Name, err)
			}
			return
		}
		if !r.env.Now().Before(deadline) {
			for i := range pending {
				m := r.ms[i]
				err := fmt.Errorf("not streaming from %s:%d after %s", m.Source.Hostname, m.Source.Port, r.opts.StreamTimeout)
				if e := lastErr[i]; e != nil {
					err = fmt.Errorf("its primary %s:%d could not be asked for %s: %w", m.Source.Hostname, m.Source.Port, r.opts.StreamTimeout, e)
				}
				r.fail(i, s.Name, err)
			}
			return
		}
		if err := r.env.Sleep(ctx, streamPoll); err != nil {
			for i := range pending {
				r.fail(i, s.Name, err)
			}
			return
		}
	}
}

// runRegister first cleans up every failed mirror (nothing of it may be in
// the catalog), then writes the streaming mirrors' rows in one
// transaction, uninterruptible, with its own timeout. A COMMIT that fails
// may still have committed (the connection dropped after it was sent):
// the catalog is then read again on a fresh connection and decides. When
// the rows are not there, no mirror is registered and all are cleaned up.
func runRegister(ctx context.Context, r *run, s Step) {
	r.cleanupFailed(ctx)
	if ctx.Err() != nil {
		return
	}
	var stmts []cluster.Statement
	idx := r.alive()
	for _, a := range s.SQL {
		if !r.failed(a.Mirror) {
			stmts = append(stmts, a.Statement)
		}
	}
	if len(idx) == 0 {
		return
	}
	if len(stmts) == 0 {
		// Overwrite mirrors whose rows already say what they are.
		for _, i := range idx {
			r.out[i].Registered = true
		}
		return
	}
	r.env.Log.Info("Updating configuration for mirrors")
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), catalogTimeout)
	defer cancel()
	for _, st := range stmts {
		r.env.Log.Debug(st.String())
	}
	cfg := cluster.ConnConfig{Port: r.opts.CoordinatorPort, Flavour: r.opts.Flavour, AllowSystemTableMods: true, ConnectTimeout: connectTimeout}
	err := r.onCoordinator(tctx, cfg, func(c cluster.Conn) error { return cluster.ExecInTx(tctx, c, stmts) })
	if err != nil && errors.Is(err, cluster.ErrCommit) {
		var present bool
		present, err = r.registeredInCatalog(tctx, idx, err)
		if present {
			r.env.Log.Warn("The COMMIT of the catalog update failed, but the catalog read again holds the new rows: the update was committed")
		}
	}
	if err != nil {
		r.env.Log.Error(fmt.Sprintf("Updating the catalog failed, no mirror was registered: %v", err))
		for _, i := range idx {
			r.fail(i, s.Name, err)
		}
		r.cleanupFailed(ctx)
		return
	}
	r.env.Log.Debug("Committing configuration table changes")
	for _, i := range idx {
		r.out[i].Registered = true
	}
}

// registeredInCatalog reads gp_segment_configuration on a fresh connection
// after commitErr and reports whether every mirror of idx has its row as
// planned: then the transaction committed (err nil). When none has, it did
// not (commitErr is returned). Anything else cannot be decided and is an
// error that says so: nothing is cleaned up on a guess.
func (r *run) registeredInCatalog(ctx context.Context, idx []int, commitErr error) (bool, error) {
	cfg := cluster.ConnConfig{Port: r.opts.CoordinatorPort, Flavour: r.opts.Flavour, ConnectTimeout: connectTimeout}
	var c *cluster.Cluster
	err := r.onCoordinator(ctx, cfg, func(conn cluster.Conn) (err error) {
		c, err = cluster.Load(ctx, conn)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%w; reading the catalog again to see whether it committed failed too: %w", commitErr, err)
	}
	found, expected := 0, 0
	for _, i := range idx {
		t := r.ms[i].Target
		if r.ms[i].Overwrite {
			continue // its row was there before; only new rows tell
		}
		expected++
		if s, ok := c.ByDBID(t.DBID); ok && s.Hostname == t.Hostname && s.Port == t.Port && s.DataDir == t.DataDir {
			found++
		}
	}
	if expected == 0 {
		return false, fmt.Errorf("%w; the rows it updated cannot tell whether it committed: check gp_segment_configuration and gp_configuration_history", commitErr)
	}
	switch found {
	case expected:
		return true, nil
	case 0:
		return false, commitErr
	}
	return false, fmt.Errorf("%w; the catalog read again holds %d of the %d new rows: check gp_segment_configuration", commitErr, found, expected)
}

// onCoordinator runs fn on a new coordinator connection with cfg.
func (r *run) onCoordinator(ctx context.Context, cfg cluster.ConnConfig, fn func(cluster.Conn) error) (err error) {
	r.env.Log.Debug(cluster.ConnectMessage(cfg))
	conn, err := r.env.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close(ctx)) }()
	return fn(conn)
}

// runFTS asks for an FTS probe when a mirror was registered. The run's
// coordinator connection is gone when the coordinator restarted during
// the copies (a DBA, a crash): a request that fails on it is made again
// on a new connection, as the registration's is. Failing that too it is
// only a warning: the next regular probe finds the mirrors.
func runFTS(ctx context.Context, r *run, s Step) {
	if len(r.registered()) == 0 {
		return
	}
	r.env.Log.Info("Triggering FTS probe")
	cfg := cluster.ConnConfig{Port: r.opts.CoordinatorPort, Flavour: r.opts.Flavour, ConnectTimeout: connectTimeout}
	for _, a := range s.SQL {
		err := a.Statement.Exec(ctx, r.env.Conn)
		if err == nil {
			continue
		}
		r.env.Log.Debug(fmt.Sprintf("FTS probe request on the run's connection failed (%v): once more on a new connection", err))
		if err = r.onCoordinator(ctx, cfg, func(c cluster.Conn) error { return a.Statement.Exec(ctx, c) }); err != nil {
			r.env.Log.Warn(fmt.Sprintf("FTS probe request failed: %v; the next regular probe will pick the mirrors up", err))
			return
		}
	}
}

func (r *run) registered() []int {
	var idx []int
	for i, o := range r.out {
		if o.Registered {
			idx = append(idx, i)
		}
	}
	return idx
}

// cleanupFailed undoes the work of every failed mirror not yet cleaned up:
// the copy stopped (pid file), the instance stopped if this run started it,
// the slot dropped on its primary unless a walsender uses it, and, when
// the copy did not finish, its directory removed if this run created it,
// or emptied if it was there before and the copy wrote into it.
func (r *run) cleanupFailed(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	for i := range r.ms {
		o := &r.out[i]
		if o.Err == nil || r.cleaned[i] {
			continue
		}
		r.cleaned[i] = true
		m := r.ms[i]
		r.env.Log.Info(fmt.Sprintf("Cleaning up %s after its failure at %q", m.Label(), o.FailedStep))
		var errs []error
		if err := remote.Stop(cctx, r.env.Exec, m.Target.Hostname, PIDFile(m)); err != nil {
			errs = append(errs, err)
		}
		if o.Started {
			if err := resultErr(r.env.Exec.Exec(cctx, StopCommand(r.opts.GPHome, m))); err != nil {
				errs = append(errs, err)
			} else {
				o.Started = false
			}
		}
		if err := r.dropSlot(cctx, m); err != nil {
			errs = append(errs, err)
		}
		switch {
		case o.Created && !o.Copied:
			if err := resultErr(r.env.Exec.Exec(cctx, RemoveCommand(m))); err != nil {
				errs = append(errs, err)
			}
		case r.copyRan[i] && !o.Copied && !m.Overwrite:
			// A new mirror's directory that was there before: what the
			// copy wrote goes, the directory stays. (An Overwrite
			// target, a failed instance's own directory, is left to
			// its caller's rerun.)
			keep := m
			keep.OwnDir = false
			if err := resultErr(r.env.Exec.Exec(cctx, ResetCommand(keep))); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			o.Left = true
			r.env.Log.Warn(fmt.Sprintf("Cleanup of %s incomplete: %v", m.Label(), err))
		}
	}
}

// dropSlot drops the slot on m's primary unless a walsender uses it,
// waiting a little for the walsender of a just stopped mirror to go.
func (r *run) dropSlot(ctx context.Context, m Mirror) error {
	for try := 0; ; try++ {
		active, exists, err := r.slotState(ctx, m.Source)
		if err != nil {
			return err
		}
		if !exists {
			return nil
		}
		if !active {
			r.env.Log.Info(fmt.Sprintf("Dropping replication slot %s on %s:%d", SlotName, m.Source.Hostname, m.Source.Port))
			return r.onPrimary(ctx, m.Source, func(c cluster.Conn) error {
				_, err := c.Exec(ctx, DropSlotSQL, SlotName)
				return err
			})
		}
		if try >= 20 {
			return fmt.Errorf("replication slot %s on %s:%d is still in use: not dropped", SlotName, m.Source.Hostname, m.Source.Port)
		}
		if err := r.env.Sleep(ctx, streamPoll); err != nil {
			return err
		}
	}
}

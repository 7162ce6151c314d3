package buildmirrors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// execute runs the mutating steps in order; a mirror that fails leaves the
// later steps and is cleaned up before the catalog is written.
func (r *run) execute(ctx context.Context, steps []Step) (Report, error) {
	step := map[string]Step{}
	for _, s := range steps {
		step[s.Name] = s
	}
	n := len(steps)
	header := func(name string) {
		for i, s := range steps {
			if s.Name == name {
				r.env.Log.Info(fmt.Sprintf("Step %d of %d: %s", i+1, n, name))
			}
		}
	}

	header(StepHBA)
	r.env.Log.Info("Starting to create new pg_hba.conf on primary segments")
	hbaRes := remote.Runner{Exec: r.env.Exec, Limit: r.opts.BatchSize}.Run(ctx, step[StepHBA].Commands)
	hbaOK := true
	for _, res := range hbaRes {
		if err := resultErr(res); err != nil {
			hbaOK = false
			for i, m := range r.ms {
				if m.Source.Hostname == res.Command.Host {
					r.fail(i, StepHBA, err)
				}
			}
		}
	}
	if hbaOK {
		r.env.Log.Info("Successfully modified pg_hba.conf on primary segments to allow replication connections")
	}

	header(StepSlots)
	r.prepareSlots(ctx)

	header(StepMkdir)
	s := step[StepMkdir]
	for i, res := range r.runStep(ctx, s, nil) {
		if res.OK() && strings.Contains(res.Stdout, "created") {
			r.out[i].Created = true
		}
	}

	header(StepCopy)
	s = step[StepCopy]
	for i := range r.ms {
		if _, copies := s.ByMirror[i]; !copies && !r.failed(i) {
			r.out[i].Copied, r.out[i].Reused = true, true
		}
	}
	prog := newProgress(r, s)
	stopProgress, stopWatch := prog.start(ctx), prog.watchStalls(ctx)
	copyRes := r.runStep(ctx, s, prog)
	stopWatch()
	stopProgress()
	for i, res := range copyRes {
		if res.OK() {
			r.out[i].Copied = true
			r.env.Log.Info(fmt.Sprintf("Successfully ran pg_basebackup for dbid: %d", r.ms[i].Target.DBID))
		}
	}

	header(StepPort)
	for i := range r.runStep(ctx, step[StepPort], nil) {
		r.env.Log.Debug(fmt.Sprintf("Updated %s/postgresql.conf: port=%d", r.ms[i].Target.DataDir, r.ms[i].Target.Port))
	}

	header(StepStart)
	for i, res := range r.runStep(ctx, step[StepStart], nil) {
		if res.OK() {
			r.out[i].Started = true
		}
	}

	header(StepStream)
	r.waitStreaming(ctx)

	// Everything that failed is cleaned up before the catalog changes.
	r.cleanupFailed(ctx)
	if err := ctx.Err(); err != nil {
		return Report{Outcomes: r.out}, err
	}

	header(StepRegister)
	r.register(ctx)

	header(StepFTS)
	if len(r.registered()) > 0 {
		r.env.Log.Info("Triggering FTS probe")
		if err := cluster.TriggerFTS(ctx, r.env.Conn, r.opts.Flavour); err != nil {
			r.env.Log.Warn(fmt.Sprintf("FTS probe request failed: %v; the next regular probe will pick the mirrors up", err))
		}
	}
	return Report{Outcomes: r.out}, ctx.Err()
}

// runStep runs a per-mirror step for the mirrors still alive and records
// failures; it returns the results by mirror index. prog, when not nil,
// follows each command's output and end.
func (r *run) runStep(ctx context.Context, s Step, prog *progress) map[int]remote.Result {
	var done func(int)
	if prog != nil {
		done = prog.finish
	}
	res := r.runEach(ctx, r.alive(), func(i int) (remote.Command, bool) {
		k, ok := s.ByMirror[i]
		if !ok {
			return remote.Command{}, false
		}
		c := s.Commands[k]
		if prog != nil {
			c.OnLine = prog.onLine(i)
		}
		return c, true
	}, done)
	for i, rs := range res {
		if err := resultErr(rs); err != nil {
			r.fail(i, s.Name, err)
			r.env.Log.Warn(fmt.Sprintf("%s: %s failed: %v", r.ms[i].Label(), s.Name, err))
		}
	}
	return res
}

// prepareSlots drops an unused leftover slot on the source of each mirror
// to copy (GP7 and later: pg_basebackup --create-slot fails on an existing
// slot), and creates the slot for each reused copy when it is missing.
func (r *run) prepareSlots(ctx context.Context) {
	for _, i := range r.alive() {
		m := r.ms[i]
		reuse := r.probe[m.Target.DBID].Reusable(m)
		err := r.onPrimary(ctx, m.Source, func(c cluster.Conn) error {
			var exists bool
			rows, err := c.Query(ctx, SlotActiveSQL, SlotName)
			if err != nil {
				return err
			}
			for rows.Next() {
				exists = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			switch {
			case reuse && !exists:
				st := createSlot(r.opts.Flavour)
				r.env.Log.Debug(fmt.Sprintf("%s: %s", primaryWhere(m.Source), st))
				_, err = c.Exec(ctx, st.SQL, st.Args...)
			case !reuse && exists && r.opts.Flavour != cluster.GP6:
				r.env.Log.Info(fmt.Sprintf("Dropping the unused replication slot %s left on %s:%d", SlotName, m.Source.Hostname, m.Source.Port))
				_, err = c.Exec(ctx, DropSlotSQL, SlotName)
			}
			return err
		})
		if err != nil {
			r.fail(i, StepSlots, err)
		}
	}
}

// waitStreaming waits until every started mirror's primary shows a
// streaming gp_walreceiver, StreamTimeout at most.
func (r *run) waitStreaming(ctx context.Context) {
	deadline := r.env.Now().Add(r.opts.StreamTimeout)
	pending := r.alive()
	for len(pending) > 0 {
		var still []int
		for _, i := range pending {
			m := r.ms[i]
			var n int
			err := r.onPrimary(ctx, m.Source, func(c cluster.Conn) error {
				return c.QueryRow(ctx, StreamingSQL, WalReceiverName).Scan(&n)
			})
			switch {
			case err != nil && ctx.Err() != nil:
				r.fail(i, StepStream, ctx.Err())
			case n > 0:
				r.env.Log.Info(fmt.Sprintf("%s streams from its primary", m.Label()))
			default:
				still = append(still, i)
			}
		}
		pending = still
		if len(pending) == 0 {
			return
		}
		if !r.env.Now().Before(deadline) {
			for _, i := range pending {
				r.fail(i, StepStream, fmt.Errorf("not streaming from %s:%d after %s", r.ms[i].Source.Hostname, r.ms[i].Source.Port, r.opts.StreamTimeout))
			}
			return
		}
		if err := r.env.Sleep(ctx, 500*time.Millisecond); err != nil {
			for _, i := range pending {
				r.fail(i, StepStream, err)
			}
			return
		}
	}
}

// register writes every streaming mirror's rows in one transaction,
// uninterruptible, with its own timeout. On failure no mirror is
// registered, and all are cleaned up.
func (r *run) register(ctx context.Context) {
	idx := r.alive()
	if len(idx) == 0 {
		return
	}
	var ms []Mirror
	for _, i := range idx {
		ms = append(ms, r.ms[i])
	}
	r.env.Log.Info("Updating configuration for mirrors")
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), catalogTimeout)
	defer cancel()
	stmts := RegisterStatements(r.opts.Prog, ms)
	for _, s := range stmts {
		r.env.Log.Debug(s.String())
	}
	err := func() (err error) {
		cfg := cluster.ConnConfig{Port: r.opts.CoordinatorPort, Flavour: r.opts.Flavour, AllowSystemTableMods: true, ConnectTimeout: connectTimeout}
		r.env.Log.Debug(cluster.ConnectMessage(cfg))
		conn, err := r.env.Connect(tctx, cfg)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, conn.Close(tctx)) }()
		return cluster.ExecInTx(tctx, conn, stmts)
	}()
	if err != nil {
		r.env.Log.Error(fmt.Sprintf("Updating the catalog failed, no mirror was registered: %v", err))
		for _, i := range idx {
			r.fail(i, StepRegister, err)
		}
		r.cleanupFailed(ctx)
		return
	}
	r.env.Log.Debug("Committing configuration table changes")
	for _, i := range idx {
		r.out[i].Registered = true
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
// the slot dropped on its primary unless a walsender uses it, and its
// directory removed if this run created it and the copy did not finish.
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
		if o.Created && !o.Copied {
			if err := resultErr(r.env.Exec.Exec(cctx, RemoveCommand(m))); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
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
		if err := r.env.Sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

package recoverseg

import (
	"context"
	"errors"
	"fmt"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// stepCopying is the journal step of a full copy under way.
const stepCopying = "copying"

// mirrors are the full recoveries of ts as buildmirrors builds them: in
// place, each failed instance's own registered directory overwritten from
// its source. A target the earlier run's journal was copying into may hold
// that run's half-written copy, and is vouched for.
//
// A recovery to a new location is a mirror built there from its source,
// replacing the failed row (buildmirrors' From); the failed instance's own
// directory is not touched. A half-written copy an earlier run left at the
// new location is copied over.
func (r *recovery) mirrors(ts []target) []buildmirrors.Mirror {
	ms := make([]buildmirrors.Mirror, len(ts))
	for i, t := range ts {
		ms[i] = buildmirrors.Mirror{Source: t.Source, Target: t.Failed, Overwrite: true, ProgressFile: t.ProgressFile,
			PartialCopy: r.wasCopying(t)}
		if t.Move != nil {
			failed := t.Failed
			ms[i].Target, ms[i].Overwrite, ms[i].From = *t.Move, false, &failed
		}
	}
	return ms
}

// buildOptions are the pipeline's options for this run.
func (r *recovery) buildOptions(dry bool) buildmirrors.Options {
	return buildmirrors.Options{
		Prog:               Tool,
		Flavour:            r.f,
		GPHome:             r.co.GPHome,
		CoordinatorPort:    r.co.Port,
		CoordinatorDataDir: r.co.DataDir,
		User:               r.env.User,
		BatchSize:          r.opts.Parallel,
		SegmentBatchSize:   r.opts.ParallelPerHost,
		HBAHostnames:       r.opts.HBAHostnames,
		DryRun:             dry,
		OwnProgress:        true,
	}
}

// buildEnv is the pipeline's environment for this run; onLine and
// onCopy, when set, receive the copies' lines and starts.
func (r *recovery) buildEnv(onLine func(i int, line string), onCopy func(i int)) buildmirrors.Env {
	return buildmirrors.Env{
		Log:           r.env.Log,
		Progress:      r.env.Progress,
		Exec:          r.exec,
		CheckHostKeys: r.ssh.CheckHostKeys,
		Conn:          r.co.Conn,
		Connect:       r.env.Connect,
		LookupHost:    r.opts.LookupHost,
		Now:           r.env.Now,
		OnCopyLine:    onLine,
		OnCopyStart:   onCopy,
	}
}

// recoverFull is gprecoverseg -F in place (spec §4.7.2, §6.1): the failed
// instances that still run are stopped, an earlier run's orphaned copy is
// stopped by its pid file, then pkg/buildmirrors copies each source over
// its failed instance's own directory, fixes the port, starts it, waits
// until it streams, writes what the catalog needs (nothing after an FTS
// failover: the rows are down and not in sync already) and asks for an
// FTS probe.
func (r *recovery) recoverFull(ctx context.Context, ts []target) ([]outcome, error) {
	log := r.env.Log
	out := make([]outcome, len(ts))
	r.stopFailed(ctx, ts, out)
	if err := r.waitMarkedDown(ctx, ts, out); err != nil {
		return nil, err
	}
	var keep []target
	var idx []int
	for i, t := range ts {
		if out[i].Kind == "" {
			keep = append(keep, t)
			idx = append(idx, i)
		}
	}
	ms := r.mirrors(keep)
	for _, m := range ms {
		for _, pidFile := range []string{buildmirrors.PIDFile(m), rsyncPIDFile(m.Target.DataDir)} {
			if err := remote.Stop(ctx, r.exec, m.Target.Hostname, pidFile); err != nil {
				log.Warn(fmt.Sprintf("stop an earlier run's copy into %s: %v", m.Target.DataDir, err))
			}
		}
	}
	view := r.newProgressView(keep)
	onLine := func(k int, line string) { view.update(keep[k].Failed.DBID, line) }
	onCopy := func(k int) {
		r.step(keep[k], stepCopying, "pid file "+buildmirrors.PIDFile(buildmirrors.Mirror{Target: keep[k].at()}))
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	interrupted := false
	stopSignals := r.handleSignals(rctx, cancel, &interrupted)
	stopView := view.start(rctx)
	rep, err := buildmirrors.Run(rctx, r.buildEnv(onLine, onCopy), r.buildOptions(false), ms)
	stopSignals()
	if verr := stopView(); verr != nil {
		log.Warn(verr.Error())
	}
	var ie *buildmirrors.InputError
	if errors.As(err, &ie) {
		return nil, &app.ExpectedError{Err: err}
	}
	if interrupted {
		log.Error("gprecoverseg process was interrupted by the user.")
	} else if err != nil && len(rep.Outcomes) == 0 {
		return nil, app.Errorf("%w", err)
	}
	for k, o := range rep.Outcomes {
		i := idx[k]
		if o.OK() {
			out[i] = outcome{Started: true}
			r.step(ts[i], stepStarted, "")
			continue
		}
		out[i] = outcome{Kind: fullKind(o.FailedStep), Msg: fmt.Sprint(o.Err)}
		if out[i].Kind == "full" {
			// The copy failed midway (its pg_basebackup killed, its
			// host gone): the directory holds its half-written files.
			// The journal keeps the step, so that the next run knows
			// them for its own and copies over them (report keeps it).
			continue
		}
		r.step(ts[i], stepFailed, out[i].Kind+": "+out[i].Msg)
	}
	r.forgetRewinds(ctx, ts, out)
	r.removeProgressFiles(ctx, ts, out)
	return out, nil
}

// fullKind maps the step a full recovery failed at to Greenplum's error
// type (spec §4.10).
func fullKind(step string) string {
	switch step {
	case buildmirrors.StepCopy:
		return "full"
	case buildmirrors.StepPort:
		return "update"
	case buildmirrors.StepStart:
		return "start"
	case buildmirrors.StepStream:
		return "stream"
	}
	return "validation"
}

// forgetRewinds removes, after a full recovery of a target, the pid and
// status files an earlier incremental recovery left beside it, and the
// marker of a half-copied differential one: the copy replaced what they
// described.
func (r *recovery) forgetRewinds(ctx context.Context, ts []target, out []outcome) {
	files := map[string][]string{}
	var hosts []string
	for i, t := range ts {
		if out[i].Kind != "" || t.Move != nil {
			continue
		}
		h := t.Failed.Hostname
		if _, seen := files[h]; !seen {
			hosts = append(hosts, h)
		}
		files[h] = append(files[h], rewindFile(t, "pid"), rewindFile(t, "status"), differentialMarker(t.Failed.DataDir))
	}
	for _, h := range hosts {
		c := remote.Command{Host: h, Script: progressRemoveScript, Args: files[h], Label: "forget old rewinds on " + h, Timeout: removeTimeout}
		if res := r.exec.Exec(ctx, c); !res.OK() {
			r.env.Log.Debug(fmt.Sprintf("forget old rewinds on %s: %v", h, res.Err))
		}
	}
}

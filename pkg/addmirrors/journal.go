package addmirrors

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Tool is the name of gpaddmirrors's lock and journal (docs/locks.md).
const Tool = "gpaddmirrors"

// method is the journal items' method.
const method = "add"

// stepPlanned is an item's step before the pipeline changed anything for
// it; the later steps are the pipeline's step names.
const stepPlanned = "planned"

// resumption is what a run takes over from the journal an interrupted
// earlier run left: the rerun decisions, made from the journal and the
// plan alone.
type resumption struct {
	// vouched are the planned mirrors, by dbid, whose directory the
	// earlier run was copying into (or had copied into) when it stopped,
	// or had taken over from a run before it without replacing that copy
	// yet (its item is Partial): what is there is this command's work,
	// which this run redoes (a finished copy, proven by its marker, is
	// reused).
	vouched map[int]oplock.Item
	// running are the planned mirrors the earlier run may have started:
	// their instances are stopped before the checks.
	running []int
	// unmark are the mirrors the earlier run registered (they are in the
	// catalog as planned): their copies' markers are forgotten.
	unmark []oplock.Item
	// foreign are the earlier run's items this run neither plans nor finds
	// registered: another command's work, left alone.
	foreign []oplock.Item
}

// copiedSteps are the pipeline's steps at which a mirror's directory holds
// the run's copy, finished or not; startedSteps those at which its
// instance may run.
var (
	copiedSteps  = []string{buildmirrors.StepCopy, buildmirrors.StepPort, buildmirrors.StepStart, buildmirrors.StepStream, buildmirrors.StepRegister, buildmirrors.StepUnmark, buildmirrors.StepFTS}
	startedSteps = []string{buildmirrors.StepStart, buildmirrors.StepStream, buildmirrors.StepRegister, buildmirrors.StepUnmark, buildmirrors.StepFTS}
)

// resume decides what this run takes over from prev (nil: nothing): an
// item is this run's own earlier work only when a planned mirror matches
// it exactly (dbid, host, port and data directory): the same command run
// again. c is the catalog as this run found it.
func resume(prev *oplock.Record, c *cluster.Cluster, planned []Mirror) resumption {
	res := resumption{vouched: map[int]oplock.Item{}}
	if prev == nil || prev.Tool != Tool {
		return res
	}
	for _, it := range prev.Items {
		if m, ok := findMirror(planned, it); ok {
			if it.Partial || slices.Contains(copiedSteps, it.Step) {
				res.vouched[m.Mirror.DBID] = it
			}
			if slices.Contains(startedSteps, it.Step) {
				res.running = append(res.running, m.Mirror.DBID)
			}
			continue
		}
		if s, ok := c.ByDBID(it.DBID); ok && s.PreferredRole == cluster.RoleMirror && same(s, it) {
			res.unmark = append(res.unmark, it)
			continue
		}
		res.foreign = append(res.foreign, it)
	}
	return res
}

func findMirror(planned []Mirror, it oplock.Item) (Mirror, bool) {
	for _, m := range planned {
		if m.Mirror.DBID == it.DBID && same(m.Mirror, it) {
			return m, true
		}
	}
	return Mirror{}, false
}

func same(s cluster.Segment, it oplock.Item) bool {
	return s.Hostname == it.Host && s.Port == it.Port && filepath.Clean(s.DataDir) == filepath.Clean(it.DataDir)
}

// buildMirrors are the pipeline's mirrors for mirrors, the earlier run's
// partial copies vouched for.
func (res resumption) buildMirrors(mirrors []Mirror) []buildmirrors.Mirror {
	bms := make([]buildmirrors.Mirror, len(mirrors))
	for i, m := range mirrors {
		bms[i] = buildmirrors.Mirror{Source: m.Primary, Target: m.Mirror}
		if it, ok := res.vouched[m.Mirror.DBID]; ok {
			bms[i].PartialCopy, bms[i].OwnDir = true, it.Made
		}
	}
	return bms
}

// takeOver stops what the earlier run left running for the mirrors this
// run builds again (an instance it started, a copy still at work, found by
// its pid file) and forgets the copy markers of the mirrors it registered.
// A failure is a warning: the checks that follow refuse what is still in
// the way.
func (res resumption) takeOver(ctx context.Context, env *app.Env, ex remote.Executor, gphome string, bms []buildmirrors.Mirror) {
	log := env.Log
	for _, it := range res.foreign {
		log.Warn(fmt.Sprintf("The earlier run's mirror dbid %d (%s:%d %s, at %q) is not planned by this command: left as it is",
			it.DBID, it.Host, it.Port, it.DataDir, it.Step))
	}
	for _, m := range bms {
		if slices.Contains(res.running, m.Target.DBID) {
			log.Info(fmt.Sprintf("%s: stopping the instance an earlier run started", m.Label()))
			if r := ex.Exec(ctx, buildmirrors.StopCommand(gphome, m)); !r.OK() {
				log.Warn(fmt.Sprintf("%s: stop the instance an earlier run started: %v %s", m.Label(), r.Err, r.Stderr))
			}
		}
		if !m.PartialCopy {
			continue
		}
		if err := remote.Stop(ctx, ex, m.Target.Hostname, buildmirrors.PIDFile(m)); err != nil {
			log.Warn(fmt.Sprintf("%s: stop an earlier run's copy: %v", m.Label(), err))
		}
	}
	for _, it := range res.unmark {
		m := buildmirrors.Mirror{Target: cluster.Segment{DBID: it.DBID, Hostname: it.Host, Port: it.Port, DataDir: it.DataDir}}
		if r := ex.Exec(ctx, buildmirrors.UnmarkCommand(m)); !r.OK() {
			log.Warn(fmt.Sprintf("forget the finished copy of dbid %d: %v %s", it.DBID, r.Err, r.Stderr))
		}
	}
}

// journal records the pipeline's steps per mirror in gpaddmirrors's
// journal, which it writes at the first changing step (a run refused by
// the checks leaves an earlier run's journal as it was).
type journal struct {
	env *app.Env
	mdd string
	rec oplock.Record
	j   *oplock.Journal
}

// newJournal prepares the journal of mirrors. What the earlier run knew
// of a directory this run takes over is carried forward: that it made the
// directory (Made), and that the directory may hold its unfinished copy
// (Partial), so that this run, killed in turn before its own copy replaced
// that one, leaves a journal from which the next rerun still clears it,
// and still removes only a directory the tool made.
func newJournal(env *app.Env, mdd string, res resumption, mirrors []Mirror) *journal {
	rec := oplock.Record{Tool: Tool, PID: env.PID, Started: env.Start, Args: env.Args}
	for _, m := range mirrors {
		s := m.Mirror
		prev, vouched := res.vouched[s.DBID]
		rec.Items = append(rec.Items, oplock.Item{DBID: s.DBID, Method: method, Host: s.Hostname, DataDir: s.DataDir,
			Port: s.Port, Step: stepPlanned, Made: prev.Made, Partial: vouched})
	}
	return &journal{env: env, mdd: mdd, rec: rec}
}

// beforeStep is buildmirrors.Env.BeforeStep: before each changing step,
// which directories the run made and which step each live mirror begins.
func (jn *journal) beforeStep(step string, outs []buildmirrors.Outcome) error {
	if jn.j == nil {
		j, err := oplock.NewJournal(jn.mdd, jn.rec)
		if err != nil {
			return err
		}
		jn.j = j
	}
	for _, o := range outs {
		if o.Err != nil {
			continue
		}
		dbid := o.Mirror.Target.DBID
		if o.Created {
			if err := jn.j.Made(dbid); err != nil {
				return err
			}
		}
		if err := jn.j.Step(dbid, step, ""); err != nil {
			return err
		}
	}
	return nil
}

// finish removes the journal once the pipeline has returned: every mirror
// was added, or failed and was cleaned up. A mirror whose cleanup did not
// finish (its host gone midway) keeps it: its item, at the step that
// failed, vouches for what is left on the host to the rerun, which stops
// and redoes it. A run that never reached a changing step wrote none, and
// an earlier run's stays.
func (jn *journal) finish(rep buildmirrors.Report) error {
	if jn.j == nil {
		return nil
	}
	for _, o := range rep.Outcomes {
		if o.Left {
			jn.env.Log.Info(fmt.Sprintf("Keeping %s: the same command run again takes over what is left of %s", oplock.JournalPath(jn.mdd, Tool), o.Mirror.Label()))
			return nil
		}
	}
	if err := jn.j.Remove(); err != nil {
		return app.Errorf("%w", err)
	}
	return nil
}

// registeredAll reports whether every mirror of prev is registered in c as
// that run planned it: it was killed after its catalog transaction
// committed, before it finished.
func registeredAll(prev *oplock.Record, c *cluster.Cluster) bool {
	if prev == nil || prev.Tool != Tool || len(prev.Items) == 0 {
		return false
	}
	for _, it := range prev.Items {
		s, ok := c.ByDBID(it.DBID)
		if !ok || s.PreferredRole != cluster.RoleMirror || !same(s, it) {
			return false
		}
	}
	return true
}

// finishRegistered completes a run killed after it registered every
// mirror: its copies' markers are forgotten (a later recovery must copy
// again), FTS is asked for the probe that run's last step would have
// asked for (without it the mirrors stay down in the catalog until the
// next regular probe, up to gp_fts_probe_interval later), and its journal
// is removed. c is the coordinator (a normal connection) of flavour f.
func finishRegistered(ctx context.Context, env *app.Env, ex remote.Executor, c cluster.Conn, f cluster.Flavour, mdd string, prev *oplock.Record) error {
	env.Log.Info(fmt.Sprintf("The earlier %s registered every mirror it planned before it stopped; forgetting its finished copies", Tool))
	resumption{unmark: prev.Items}.takeOver(ctx, env, ex, "", nil)
	env.Log.Info("Triggering FTS probe")
	if err := cluster.TriggerFTS(ctx, c, f); err != nil {
		env.Log.Warn(fmt.Sprintf("FTS probe request failed: %v; the next regular probe will pick the mirrors up", err))
	}
	if err := oplock.RemoveJournal(mdd, Tool); err != nil {
		return app.Errorf("%w", err)
	}
	for _, l := range banner {
		env.Log.Info(l)
	}
	return nil
}

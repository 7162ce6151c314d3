package recoverseg

import (
	"context"
	"fmt"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// restoreTimeout is pg_ctl -t of a restarted primary (gpstart's default).
const restoreTimeout = 600

// restoreAction is what becomes of a stopped primary whose mirror was not
// promoted in time.
type restoreAction int

const (
	restorePromoted restoreAction = iota // FTS promoted its mirror after all: nothing to do
	restoreRestart                       // still the primary, mirror still a standby: start it again
	restoreLeave                         // anything else: leave it stopped for gprecoverseg
)

// decideRestore is issue 15's rule "never make it worse": a stopped
// primary is started again only if the catalog still shows it as the
// acting primary and its peer's pg_controldata still says "in archive
// recovery" (it was not promoted behind the catalog's back). Otherwise
// two primaries could serve one content, so it stays stopped. cur and
// peer are the catalog's rows now (nil: not known).
func decideRestore(cur, peer *cluster.Segment, peerState string) (restoreAction, string) {
	switch {
	case peer != nil && peer.IsPrimary() && peer.IsUp():
		return restorePromoted, fmt.Sprintf("its mirror dbid %d was promoted", peer.DBID)
	case cur == nil || peer == nil:
		return restoreLeave, "the catalog could not be read"
	case !cur.IsPrimary():
		return restoreLeave, fmt.Sprintf("the catalog no longer shows it as the primary (role %s, status %s)", cur.Role, cur.Status)
	case peerState != "in archive recovery":
		state := peerState
		if state == "" {
			state = "unknown"
		}
		return restoreLeave, fmt.Sprintf("its mirror dbid %d is not a standby any more (pg_controldata: %s)", peer.DBID, state)
	}
	return restoreRestart, fmt.Sprintf("its mirror dbid %d was not promoted and is still a standby", peer.DBID)
}

// restoreUnpromoted applies decideRestore to each stopped primary after
// the promotion timed out: those it may restart are started again (their
// content is served as before), the others are named for gprecoverseg.
// FTS may still act while this runs, so each restart is checked again
// afterwards, and undone at once if the peer was promoted meanwhile.
func (r *recovery) restoreUnpromoted(ctx context.Context, stopped []switchPair) {
	log := r.env.Log
	rows := r.catalogRows(ctx)
	states := r.peerStates(ctx, stopped)
	var restart []switchPair
	for _, p := range stopped {
		action, why := decideRestore(rows[p.Acting.DBID], rows[p.Preferred.DBID], states[p.Preferred.DBID])
		switch action {
		case restorePromoted:
			log.Info(fmt.Sprintf("%s: %s", p.label(), why))
		case restoreRestart:
			log.Warn(fmt.Sprintf("%s: %s; starting the primary again", p.label(), why))
			restart = append(restart, p)
		case restoreLeave:
			log.Error(fmt.Sprintf("%s: the primary stays stopped: %s. FTS fails it over; then run gprecoverseg to recover it", p.label(), why))
		}
	}
	if len(restart) == 0 {
		return
	}
	segs := make([]cluster.Segment, len(restart))
	for i, p := range restart {
		segs[i] = p.Acting
	}
	era, err := cluster.ReadEra(r.co.DataDir, r.f)
	if err != nil {
		log.Warn(fmt.Sprintf("Cannot read the era (%v); the primaries start without one", err))
	}
	spec := segctl.Start{GPHome: r.co.GPHome, Flavour: r.f, Era: era, Timeout: restoreTimeout, Batch: r.opts.ParallelPerHost,
		Version: r.co.Local.Raw, ChecksumVersion: -1}
	plans := segctl.PlanStart(spec, segs)
	started := map[int]bool{}
	for _, o := range segctl.Run(ctx, r.runner(len(plans)), plans) {
		if !o.OK() {
			log.Error(fmt.Sprintf("dbid %d (content %d) on %s:%d could not be started again: %s; FTS fails it over, then run gprecoverseg",
				o.Segment.DBID, o.Segment.ContentID, o.Segment.Hostname, o.Segment.Port, o.Reason))
			continue
		}
		started[o.Segment.DBID] = true
	}
	r.confirmRestarts(ctx, restart, started)
}

// confirmRestarts checks each restarted primary against the catalog and
// its peer once more: if FTS promoted the peer while it started, it is
// stopped at once (immediate), so that one primary serves the content.
func (r *recovery) confirmRestarts(ctx context.Context, restart []switchPair, started map[int]bool) {
	log := r.env.Log
	rows := r.catalogRows(ctx)
	states := r.peerStates(ctx, restart)
	var undo []segctl.Instance
	for _, p := range restart {
		if !started[p.Acting.DBID] {
			continue
		}
		cur, peer := rows[p.Acting.DBID], rows[p.Preferred.DBID]
		if cur != nil && cur.IsPrimary() && peer != nil && !peer.IsPrimary() && states[p.Preferred.DBID] == "in archive recovery" {
			r.rebalanceStep(p, stepRestarted)
			log.Info(fmt.Sprintf("dbid %d (content %d) on %s:%d serves as the primary again", p.Acting.DBID, p.Acting.ContentID, p.Acting.Hostname, p.Acting.Port))
			continue
		}
		log.Error(fmt.Sprintf("%s: FTS promoted the mirror while the primary started again; stopping the primary (immediate). Run gprecoverseg to recover it", p.label()))
		undo = append(undo, segctl.Instance{Segment: p.Acting})
	}
	if len(undo) == 0 {
		return
	}
	plans := segctl.PlanStop(segctl.Stop{GPHome: r.co.GPHome, Mode: "immediate", Timeout: rebalanceStopTimeout, Batch: r.opts.ParallelPerHost}, undo)
	for _, o := range segctl.Run(ctx, r.runner(len(plans)), plans) {
		if !o.OK() {
			log.Error(fmt.Sprintf("dbid %d on %s:%d could not be stopped: %s; stop it by hand (pg_ctl -D %s -m immediate stop)",
				o.Segment.DBID, o.Segment.Hostname, o.Segment.Port, o.Reason, o.Segment.DataDir))
		}
	}
}

// catalogRows reads gp_segment_configuration in a new session, by dbid;
// empty when it cannot be read (logged).
func (r *recovery) catalogRows(ctx context.Context) map[int]*cluster.Segment {
	rows := map[int]*cluster.Segment{}
	cctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	if err := r.onCoordinator(cctx, func(c cluster.Conn) error {
		segs, err := cluster.LoadSegments(cctx, c)
		for i := range segs {
			rows[segs[i].DBID] = &segs[i]
		}
		return err
	}); err != nil {
		r.env.Log.Warn(fmt.Sprintf("Cannot read the catalog to decide about the stopped primaries: %v", err))
		return map[int]*cluster.Segment{}
	}
	return rows
}

// peerStates is "Database cluster state" of each stopped primary's peer,
// by dbid ("" where pg_controldata could not say).
func (r *recovery) peerStates(ctx context.Context, stopped []switchPair) map[int]string {
	peers := make([]cluster.Segment, len(stopped))
	for i, p := range stopped {
		peers[i] = p.Preferred
	}
	cmds := segctl.ControlDataCommands(r.co.GPHome, peers)
	states := map[int]string{}
	for _, res := range r.runner(len(cmds)).Run(ctx, cmds) {
		if res.Err != nil {
			r.env.Log.Warn(fmt.Sprintf("pg_controldata on %s: %v", res.Command.Host, resultErr(res)))
		}
		for _, d := range segctl.ParseControlData(res.Stdout) {
			if d.ExitCode == 0 {
				states[d.DBID] = d.Field("Database cluster state")
			}
		}
	}
	return states
}

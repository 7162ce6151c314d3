package recoverseg

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/placement"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// movedEarlier reports whether the earlier run's journal moved s to where
// the catalog now has it (its item names s's dbid, this location, and
// where it came from) and returns where it came from.
func (r *recovery) movedEarlier(s cluster.Segment) (string, bool) {
	if r.prev == nil {
		return "", false
	}
	it, ok := r.prev.Item(s.DBID)
	if !ok || it.From == "" || it.Host != s.Hostname || it.Port != s.Port || filepath.Clean(it.DataDir) != filepath.Clean(s.DataDir) {
		return "", false
	}
	return it.From, true
}

// movedFrom is where a target's segment was before a recovery to a new
// location, this run's or an earlier one's; "" for a recovery in place.
func (t target) movedFrom() string {
	if t.Move != nil {
		return locationOf(t.Failed).String()
	}
	return t.MovedFrom
}

// reachNewHosts checks the hosts of new locations that are not segment
// hosts yet, as the catalog's were at the start: their SSH host keys
// (refused with the lines that fix them) and Greenplum's reachability
// check; those that do not answer join r.unreachable.
func (r *recovery) reachNewHosts(ctx context.Context, ts []target) error {
	known := r.co.Cluster.Hosts()
	var hosts []string
	for _, t := range ts {
		if h := t.at().Hostname; t.Move != nil && !slices.Contains(known, h) && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil
	}
	slices.Sort(hosts)
	if err := r.ssh.CheckHostKeys(ctx, hosts); hostKeyRefusal(err) {
		return app.Errorf("%w", err)
	}
	for h, err := range remote.Reach(ctx, r.runner(len(hosts)), hosts) {
		r.env.Log.Warn(fmt.Sprintf("Host %s is unreachable: %v", h, err))
		r.unreachable[h] = err
	}
	return nil
}

// checkConflicts is spec §3.1 step 3 over the configuration the recovery
// leaves: the catalog's rows, the moved ones at their new locations.
func (r *recovery) checkConflicts(ts []target) error {
	moved := map[int]cluster.Segment{}
	for _, t := range ts {
		if t.Move != nil {
			moved[t.Move.DBID] = *t.Move
		}
	}
	if len(moved) == 0 {
		return nil
	}
	var rows []cluster.Segment
	for _, s := range r.co.Cluster.All() {
		if m, ok := moved[s.DBID]; ok {
			s = m
		}
		rows = append(rows, s)
	}
	if err := placement.Conflicts(rows); err != nil {
		return &app.ExpectedError{Err: err}
	}
	return nil
}

// recoveryWarnings are spec §4.6 step 4's warnings, shown after the
// display: a new location on its source's host, then the notes of the
// selection (-p's spare hosts not needed).
func (r *recovery) recoveryWarnings(ts []target) []string {
	var out []string
	for _, t := range ts {
		if t.Move == nil || t.Move.Hostname != t.Source.Hostname {
			continue
		}
		out = append(out, fmt.Sprintf("Segment is being recovered to the same host as its primary: primary %s:%s    failover target: %s:%s",
			cluster.FormatAddress(t.Source.Address), t.Source.DataDir, cluster.FormatAddress(t.Move.Address), t.Move.DataDir))
	}
	return append(out, r.notes...)
}

// Bounds of the wait for FTS to mark stopped segments down (spec §3.1
// step 6).
const (
	markDownTimeout = 1800 * time.Second
	markDownPoll    = 5 * time.Second
)

// waitMarkedDown is spec §3.1 step 6: a segment named in a -i file that
// was up is stopped first (stopFailed); then, every 5 seconds, an FTS
// probe is asked for (an addition: Greenplum waits for FTS's own rounds)
// and the catalog read again, until every such segment is down. The
// catalog the run works from is then the one read last. A target that
// could not be stopped is left out of the wait (its outcome says why).
func (r *recovery) waitMarkedDown(ctx context.Context, ts []target, out []outcome) error {
	log := r.env.Log
	var wait []int
	for i, t := range ts {
		if t.Failed.IsUp() && out[i].Kind == "" {
			wait = append(wait, i)
		}
	}
	if len(wait) == 0 {
		return nil
	}
	log.Info("Waiting for segments to be marked down.")
	log.Info(fmt.Sprintf("This may take up to %d seconds on large clusters.", int(markDownTimeout.Seconds())))
	deadline := r.env.Now().Add(markDownTimeout)
	for {
		if err := cluster.TriggerFTS(ctx, r.co.Conn, r.f); err != nil {
			log.Debug(fmt.Sprintf("FTS probe request: %v", err))
		}
		c, err := cluster.Load(ctx, r.co.Conn)
		if err != nil {
			return app.Errorf("read the catalog while waiting for segments to be marked down: %w", err)
		}
		down := 0
		for _, i := range wait {
			if s, ok := c.ByDBID(ts[i].Failed.DBID); ok && !s.IsUp() {
				down++
			}
		}
		log.Info(fmt.Sprintf("%d of %d segments have been marked down.", down, len(wait)))
		if down == len(wait) {
			r.co.Cluster = c
			for i := range ts {
				if s, ok := c.ByDBID(ts[i].Failed.DBID); ok {
					ts[i].Failed = s
				}
				if s, ok := c.ByDBID(ts[i].Source.DBID); ok {
					ts[i].Source = s
				}
				if ts[i].Move != nil {
					ts[i].Move.Status, ts[i].Move.Mode = ts[i].Failed.Status, ts[i].Failed.Mode
				}
			}
			return nil
		}
		if !r.env.Now().Before(deadline) {
			return app.Errorf("%d segments were not marked down by FTS", len(wait)-down)
		}
		t := time.NewTimer(markDownPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// configLines are the -o lines of ts (spec §4.5).
func configLines(ts []target) []ConfigLine {
	out := make([]ConfigLine, len(ts))
	for i, t := range ts {
		out[i].Failed = locationOf(t.Failed)
		switch {
		case t.Move != nil:
			to := locationOf(*t.Move)
			out[i].New = &to
		case t.Twice:
			again := out[i].Failed
			out[i].New = &again
		}
	}
	return out
}

// writeOutput is -o (spec §4.5): the selection written as a -i file,
// exit 0; with --dry-run, nothing is written.
func (r *recovery) writeOutput(ts []target) error {
	name := r.opts.OutputFile
	if r.opts.DryRun {
		r.env.Log.Info(fmt.Sprintf("Dry run: the configuration file %s was not written (%d segment(s))", name, len(ts)))
		return nil
	}
	if err := writeOutputFile(name, configLines(ts)); err != nil {
		return err
	}
	r.env.Log.Info(fmt.Sprintf("Configuration file output to %s successfully.", name))
	return nil
}

// splitTargets separates the incremental recoveries from the full ones
// (in place, or at a new location), each with its index in ts.
func splitTargets(ts []target) (inc, full []target, incIdx, fullIdx []int) {
	for i, t := range ts {
		if t.Full {
			full, fullIdx = append(full, t), append(fullIdx, i)
		} else {
			inc, incIdx = append(inc, t), append(incIdx, i)
		}
	}
	return inc, full, incIdx, fullIdx
}

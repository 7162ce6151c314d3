package recoverseg

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/render"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// RebalanceRecords is Greenplum's display of a rebalance (spec §4.11
// step 3): the recovery type, then one "Unbalanced segment i of N" table
// per unbalanced row.
func RebalanceRecords(f cluster.Flavour, rows []cluster.Segment) []gplog.Record {
	recs := displayHead(f, recoveryType("Rebalance"))
	for i, s := range rows {
		recs = append(recs, info(fmt.Sprintf("Unbalanced segment %d of %d", i+1, len(rows))), info(displaySeparator))
		var tb render.Table
		tb.Add("Unbalanced instance host", "= "+s.Hostname)
		tb.Add("Unbalanced instance address", "= "+s.Address)
		tb.Add("Unbalanced instance directory", "= "+s.DataDir)
		tb.Add("Unbalanced instance port", "= "+strconv.Itoa(s.Port))
		tb.Add("Balanced role", "= "+s.PreferredRole.Label())
		tb.Add("Current role", "= "+s.Role.Label())
		recs = append(recs, tb.Records()...)
		recs = append(recs, info(displaySeparator))
	}
	return recs
}

// RebalancePlanView is the rebalance plan, an addition printed before
// Greenplum's display: per content, which instance gives the primary role
// back to which, the mirror's replay lag, and how long the content is
// expected to be without a primary.
func RebalancePlanView(pairs []switchPair, ftsSeconds int) render.View {
	v := render.View{Header: []string{"content", "primary now", "primary after", "replay lag", "unavailable (estimate)"}}
	for _, p := range pairs {
		lag := "-"
		switch {
		case p.Problem != "":
		case p.Lag.Err != nil:
			lag = "unknown"
		case !p.Lag.Streaming():
			lag = "not streaming"
		case p.Lag.Bytes >= 0:
			lag = human(p.Lag.Bytes)
		}
		estimate := unavailability(p.Lag, ftsSeconds)
		if p.Problem != "" {
			estimate = "not switched: " + p.Problem
		}
		v.Rows = append(v.Rows, []string{
			strconv.Itoa(p.Acting.ContentID),
			fmt.Sprintf("dbid %d %s:%d", p.Acting.DBID, p.Acting.Hostname, p.Acting.Port),
			fmt.Sprintf("dbid %d %s:%d", p.Preferred.DBID, p.Preferred.Hostname, p.Preferred.Port),
			lag, estimate,
		})
	}
	return v
}

// displayRebalance logs the plan, then Greenplum's display. The plan is
// for the one who answers the prompt (and for --dry-run): with -a it is a
// DEBUG message (shown, and written to the log file, with -v), so that the
// output stays Greenplum's.
func (r *recovery) displayRebalance(ctx context.Context, pairs []switchPair, rows []cluster.Segment) {
	log := r.env.Log
	level := slog.LevelInfo
	if r.opts.NonInteractive && !r.opts.DryRun {
		level = slog.LevelDebug
	}
	var b bytes.Buffer
	if len(pairs) > 0 {
		if err := RebalancePlanView(pairs, r.ftsSeconds).Write(&b); err == nil {
			log.Log(ctx, level, "Rebalance plan (unavailability is an estimate: replay lag at the sampled rate, plus FTS's promotion; the primaries' shutdown is not counted):")
			for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
				log.Log(ctx, level, l)
			}
		}
	}
	gplog.Emit(ctx, log, RebalanceRecords(r.f, rows))
}

// dryRunRebalance is --dry-run with -r: the steps the switch would run,
// then exit 0 with nothing changed.
func (r *recovery) dryRunRebalance(eligible []switchPair) error {
	log := r.env.Log
	log.Info("Dry run: the steps below would run; only the read-only checks ran")
	insts := make([]segctl.Instance, len(eligible))
	for i, p := range eligible {
		insts[i] = segctl.Instance{Segment: p.Acting}
	}
	var stops []remote.Command
	for _, pl := range segctl.PlanStop(segctl.Stop{GPHome: r.co.GPHome, Mode: rebalanceStopMode, Timeout: rebalanceStopTimeout, Batch: r.opts.ParallelPerHost}, insts) {
		stops = append(stops, pl.Command)
	}
	secs := int(r.opts.PromotionTimeout.Seconds())
	printStep(log.Info, "stop the acting primaries that are preferred mirrors", stops, nil)
	printStep(log.Info, "trigger FTS probe", nil, []string{"coordinator: " + reconfigureProbeSQL})
	printStep(log.Info, fmt.Sprintf("wait until the mirrors are promoted (at most %d s)", secs), nil,
		[]string{"coordinator, a new session each time: BEGIN; " + promotionSQL + "; COMMIT"})
	printStep(log.Info, fmt.Sprintf("recover the stopped instances in place as mirrors (gprecoverseg -a -B %d -b %d)", r.opts.Parallel, r.opts.ParallelPerHost), nil,
		[]string{"its plan depends on the promotion: run gprecoverseg --dry-run after the switch to see it"})
	log.Info(fmt.Sprintf("Dry run: %d content(s) to switch back; nothing was changed", len(eligible)))
	return nil
}

package recoverseg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// DefaultPromotionTimeout is Greenplum's MIRROR_PROMOTION_TIMEOUT: how
// long rebalance waits for FTS to promote the mirrors of the primaries it
// stopped.
const DefaultPromotionTimeout = 600 * time.Second

// Rebalance's stop and SQL (spec §4.11 steps 6 and 7).
const (
	rebalanceStopMode    = "fast"
	rebalanceStopTimeout = 600 // seconds, pg_ctl -t
	// reconfigureProbeSQL asks FTS for a probe round and waits for it.
	reconfigureProbeSQL = "SELECT pg_catalog.gp_request_fts_probe_scan()"
	// promotionSQL is Greenplum's proof of promotion: a distributed
	// transaction, which needs a serving primary for every content.
	promotionSQL = "CREATE TEMP TABLE temp_test(a int)"
	// promotionRetry is the pause between two attempts (Greenplum
	// retries at once).
	promotionRetry = 200 * time.Millisecond
)

// stopActing is spec §4.11 step 6: the acting primaries of the pairs are
// stopped (fast, 600 s, -b per host, -B hosts at once) with progress
// dots. It returns the pairs whose primary stopped and whether all did.
func (r *recovery) stopActing(ctx context.Context, pairs []switchPair) (stopped []switchPair, all bool) {
	log := r.env.Log
	log.Info("Stopping unbalanced primary segments...")
	insts := make([]segctl.Instance, len(pairs))
	byDBID := map[int]switchPair{}
	for i, p := range pairs {
		insts[i] = segctl.Instance{Segment: p.Acting}
		byDBID[p.Acting.DBID] = p
		r.rebalanceStep(p, stepStopping)
	}
	plans := segctl.PlanStop(segctl.Stop{GPHome: r.co.GPHome, Mode: rebalanceStopMode, Timeout: rebalanceStopTimeout,
		Batch: r.opts.ParallelPerHost}, insts)
	stopDots := gplog.Dots{W: r.env.Progress, Ticker: r.env.Ticker}.Start(ctx)
	outs := segctl.Run(ctx, r.runner(len(plans)), plans)
	stopDots()
	failed := 0
	for _, o := range outs {
		p := byDBID[o.Segment.DBID]
		if !o.OK() {
			failed++
			log.Warn(fmt.Sprintf("%s: the primary could not be stopped: %s", p.label(), o.Reason))
			continue
		}
		log.Debug(fmt.Sprintf("dbid %d: %s", o.Segment.DBID, o.Reason))
		r.rebalanceStep(p, stepStopped)
		stopped = append(stopped, p)
	}
	if failed > 0 {
		count := fmt.Sprint(failed)
		if r.f == cluster.GP6 {
			count = "%d" // Greenplum 6 prints its format unfilled
		}
		log.Warn(count + " segments failed to stop.  A full rebalance of the")
		log.Warn("system is not possible at this time.  Please check the")
		log.Warn("log files, correct the problem, and run gprecoverseg -r")
		log.Warn("again.")
		log.Info("gprecoverseg will continue with a partial rebalance.")
	}
	return stopped, failed == 0
}

// reconfigure is spec §4.11 step 7: an FTS probe, then, until the
// promotion timeout, a distributed transaction in a new session until one
// succeeds. If the mirrors are not promoted in time, the stopped
// primaries are dealt with by restoreUnpromoted and the run fails (exit
// 2).
func (r *recovery) reconfigure(ctx context.Context, stopped []switchPair) error {
	log := r.env.Log
	log.Info("Triggering segment reconfiguration")
	limit := r.opts.PromotionTimeout
	secs := int(limit.Round(time.Second) / time.Second)
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := r.requestProbe(wctx); err != nil {
		log.Debug(fmt.Sprintf("FTS probe: %v", err))
		r.restoreUnpromoted(ctx, stopped)
		return app.Errorf("FTS probing did not complete in %d seconds.", secs)
	}
	if err := r.awaitPromotion(wctx); err != nil {
		log.Debug(fmt.Sprintf("last attempt: %v", err))
		r.restoreUnpromoted(ctx, stopped)
		return app.Errorf("Mirror promotion did not complete in %d seconds.", secs)
	}
	for _, p := range stopped {
		r.rebalanceStep(p, stepPromoted)
	}
	return nil
}

// requestProbe asks FTS for a probe round in a new session, retrying the
// connection until ctx ends (as Greenplum 7 does until its timeout).
func (r *recovery) requestProbe(ctx context.Context) error {
	for {
		err := r.onCoordinator(ctx, func(c cluster.Conn) error {
			var ok bool
			if err := c.QueryRow(ctx, reconfigureProbeSQL).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return errors.New("gp_request_fts_probe_scan() returned false")
			}
			return nil
		})
		if err == nil || !r.pause(ctx) {
			return err
		}
		r.env.Log.Debug(fmt.Sprintf("FTS probe request: %v; retrying", err))
	}
}

// awaitPromotion runs promotionSQL in a new session until it succeeds or
// ctx ends. Failures are logged (at DEBUG) when they change.
func (r *recovery) awaitPromotion(ctx context.Context) error {
	last := ""
	for {
		err := r.onCoordinator(ctx, func(c cluster.Conn) error {
			for _, sql := range []string{"BEGIN", promotionSQL, "COMMIT"} {
				if _, err := c.Exec(ctx, sql); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			return nil
		}
		if msg := err.Error(); msg != last {
			r.env.Log.Debug(fmt.Sprintf("Waiting for the mirrors' promotion: %s", msg))
			last = msg
		}
		if !r.pause(ctx) {
			return err
		}
	}
}

// onCoordinator runs fn on a new normal connection to the coordinator,
// the connection attempt bounded by sourceTimeout and by ctx's deadline.
func (r *recovery) onCoordinator(ctx context.Context, fn func(cluster.Conn) error) (err error) {
	timeout := sourceTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(dl), time.Second))
	}
	conn, err := r.env.Connect(ctx, cluster.ConnConfig{Port: r.co.Port, Flavour: r.f, ConnectTimeout: timeout})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close(context.WithoutCancel(ctx))) }()
	return fn(conn)
}

// pause waits promotionRetry; false when ctx ends first.
func (r *recovery) pause(ctx context.Context) bool {
	t := time.NewTimer(promotionRetry)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

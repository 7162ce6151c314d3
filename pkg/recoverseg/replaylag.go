package recoverseg

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// lagReading is what a pair's acting primary says about its mirror's
// replay (spec §4.11 step 5; Greenplum 7's replay-lag check, for every
// flavour here).
type lagReading struct {
	Err       error // the query failed
	Streaming bool  // the mirror's walreceiver streams from the primary
	// Bytes is WAL the mirror flushed but has not replayed yet (-1:
	// unknown, the walsender has no positions yet); Replayed is the
	// replay position, in bytes from 0/0.
	Bytes, Replayed int64
	// Rate is the replay rate sampled over rateSample, in bytes a second
	// (0: not sampled, or the replay did not advance).
	Rate float64
}

// rateSample is how long the replay is watched to estimate its rate; only
// pairs with WAL left to replay are watched.
const rateSample = time.Second

// lagSQL is the replay lag of the mirror's walsender, in the flavour's
// words: Greenplum 7's pg_wal_lsn_diff(flush_lsn, replay_lsn), and the
// same in PostgreSQL 9.4's names for Greenplum 6. The walsender is picked
// by its application name: a pg_basebackup's would have no replay.
func lagSQL(f cluster.Flavour) string {
	if f == cluster.GP6 {
		return "SELECT state, pg_xlog_location_diff(flush_location, replay_location)::bigint, " +
			"pg_xlog_location_diff(replay_location, '0/0')::bigint FROM pg_catalog.pg_stat_replication WHERE application_name = $1"
	}
	return "SELECT state, pg_wal_lsn_diff(flush_lsn, replay_lsn)::bigint, " +
		"pg_wal_lsn_diff(replay_lsn, '0/0')::bigint FROM pg_catalog.pg_stat_replication WHERE application_name = $1"
}

// readLag asks acting (utility mode) about its mirror's replay.
func (r *recovery) readLag(ctx context.Context, acting cluster.Segment) lagReading {
	l := lagReading{Bytes: -1}
	err := r.onSource(ctx, acting, sourceTimeout, func(c cluster.Conn) error {
		rows, err := c.Query(ctx, lagSQL(r.f), buildmirrors.WalReceiverName)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var state string
			var lag, replayed *int64
			if err := rows.Scan(&state, &lag, &replayed); err != nil {
				return err
			}
			if state != "streaming" {
				continue
			}
			l.Streaming = true
			if lag != nil && replayed != nil {
				l.Bytes, l.Replayed = *lag, *replayed
			}
		}
		return rows.Err()
	})
	if err != nil {
		l.Err = err
	}
	return l
}

// readLags reads every switchable pair's lag at once (-B at a time), then,
// for the pairs with WAL left to replay, once more rateSample later for
// the rate. It also reads FTS's retry count for the estimate.
func (r *recovery) readLags(ctx context.Context, pairs []switchPair) {
	read := func(want func(p switchPair) bool) []lagReading {
		out := make([]lagReading, len(pairs))
		var wg sync.WaitGroup
		sem := make(chan struct{}, r.opts.Parallel)
		for i, p := range pairs {
			if !want(p) {
				continue
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				out[i] = r.readLag(ctx, p.Acting)
			})
		}
		wg.Wait()
		return out
	}
	behind := func(p switchPair) bool { return p.Problem == "" && p.Lag.Err == nil && p.Lag.Bytes > 0 }
	first := read(func(p switchPair) bool { return p.Problem == "" })
	started := r.env.Now()
	for i := range pairs {
		pairs[i].Lag = first[i]
	}
	r.ftsSeconds = r.readFTSSeconds(ctx)
	if !slices.ContainsFunc(pairs, behind) {
		return
	}
	wait := time.NewTimer(rateSample)
	select {
	case <-ctx.Done():
		wait.Stop()
		return
	case <-wait.C:
	}
	elapsed := r.env.Now().Sub(started).Seconds()
	second := read(behind)
	for i := range pairs {
		if !behind(pairs[i]) || second[i].Err != nil || second[i].Bytes < 0 || elapsed <= 0 {
			continue
		}
		if d := second[i].Replayed - pairs[i].Lag.Replayed; d > 0 {
			pairs[i].Lag.Rate = float64(d) / elapsed
		}
		pairs[i].Lag.Bytes = second[i].Bytes
	}
}

// defaultFTSRetries is Greenplum's gp_fts_probe_retries.
const defaultFTSRetries = 5

// readFTSSeconds is how long FTS takes to give up on a stopped primary and
// promote its mirror: one attempt, gp_fts_probe_retries more a second
// apart, then the promotion itself (about a second).
func (r *recovery) readFTSSeconds(ctx context.Context) int {
	retries := defaultFTSRetries
	var v string
	if err := r.co.Conn.QueryRow(ctx, "SHOW gp_fts_probe_retries").Scan(&v); err == nil {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			retries = n
		}
	} else {
		r.env.Log.Debug(fmt.Sprintf("SHOW gp_fts_probe_retries: %v; the estimate assumes %d", err, retries))
	}
	return retries + 1
}

// unavailability is the estimate beside the prompt (an addition): how
// long the content has no primary, its replay lag at the sampled rate
// plus FTS's promotion time.
func unavailability(l lagReading, ftsSeconds int) string {
	fts := fmt.Sprintf("FTS %ds", ftsSeconds)
	switch {
	case l.Err != nil || !l.Streaming:
		return "unknown"
	case l.Bytes <= 0:
		return fmt.Sprintf("~%ds (%s)", ftsSeconds, fts)
	case l.Rate <= 0:
		return fmt.Sprintf("unknown: %s to replay, replay not advancing (+ %s)", human(l.Bytes), fts)
	}
	replay := float64(l.Bytes) / l.Rate
	return fmt.Sprintf("~%ds (replay %s at %s/s + %s)", int(math.Ceil(replay))+ftsSeconds, seconds(replay), human(int64(l.Rate)), fts)
}

// seconds formats a duration in seconds, one decimal below ten.
func seconds(s float64) string {
	if s < 10 {
		return strconv.FormatFloat(s, 'f', 1, 64) + "s"
	}
	return strconv.FormatFloat(math.Ceil(s), 'f', 0, 64) + "s"
}

// lagLimitText is --replay-lag as Greenplum 7 prints it.
func lagLimitText(gb float64) string {
	return strconv.FormatFloat(gb, 'f', -1, 64)
}

// gate is spec §4.11 step 5 after the prompt: Greenplum's warning for
// each pair that is not switched, then the replay-lag check of each that
// is (unless --disable-replay-lag): one over the limit refuses the whole
// rebalance before anything stops (exit 2). A mirror that does not stream
// is not switched, whatever the catalog says: its promotion could lose
// committed transactions.
func (r *recovery) gate(pairs []switchPair) ([]switchPair, error) {
	log := r.env.Log
	var eligible []switchPair
	for _, p := range pairs {
		earlier := r.stoppedEarlier(p.Acting.DBID)
		problem := p.Problem
		switch {
		case problem != "" || earlier:
		case p.Lag.Err != nil && r.opts.DisableReplayLag:
			problem = fmt.Sprintf("cannot read the replication state of dbid %d: %v", p.Acting.DBID, p.Lag.Err)
		case p.Lag.Err == nil && !p.Lag.Streaming:
			problem = fmt.Sprintf("dbid %d does not stream from dbid %d", p.Preferred.DBID, p.Acting.DBID)
		}
		if problem != "" {
			log.Warn(fmt.Sprintf("Not rebalancing primary segment dbid %d with its mirror dbid %d because one is either down, unreachable, or not synchronized",
				p.Acting.DBID, p.Preferred.DBID))
			log.Warn(fmt.Sprintf("%s: %s", p.label(), problem))
			continue
		}
		switch {
		case earlier && p.Lag.Err != nil:
			// An interrupted earlier run stopped it after its own gate;
			// FTS has not failed it over yet.
			log.Info(fmt.Sprintf("dbid %d was stopped by the earlier gprecoverseg -r; its mirror dbid %d is promoted now", p.Acting.DBID, p.Preferred.DBID))
		case p.Lag.Err != nil:
			return nil, app.Errorf("Failed to query pg_stat_replication for host:%s, port:%d, error: %v", p.Acting.Hostname, p.Acting.Port, p.Lag.Err)
		case !r.opts.DisableReplayLag:
			msg := fmt.Sprintf("Allowed replay lag during rebalance is %s GB", lagLimitText(r.opts.ReplayLag))
			if r.f == cluster.GP6 {
				log.Debug(msg) // Greenplum 6 has no such check: its output stays as it was
			} else {
				log.Info(msg)
			}
			if float64(p.Lag.Bytes) >= r.opts.ReplayLag*(1<<30) {
				return nil, app.Errorf("%d bytes of wal is still to be replayed on mirror with dbid %d, let mirror catchup on replay then trigger rebalance. "+
					"Use --replay-lag to configure the allowed replay lag limit or --disable-replay-lag to disable the check completely if you wish to continue with rebalance anyway",
					p.Lag.Bytes, p.Preferred.DBID)
			}
		}
		eligible = append(eligible, p)
	}
	return eligible, nil
}

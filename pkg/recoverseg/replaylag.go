package recoverseg

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// lagReading is what a pair's acting primary says about its mirror's
// replay (spec §4.11 step 5; Greenplum 7's replay-lag check, for every
// flavour here).
type lagReading struct {
	Err error // the query failed
	// State and SyncState are the mirror's walsender's (pg_stat_replication):
	// "" when the primary has no walsender for its mirror.
	State, SyncState string
	// Stopped says that the acting primary was proven stopped after its
	// query failed (asked only of those an interrupted run stopped).
	Stopped bool
	// Bytes is WAL the mirror flushed but has not replayed yet (-1:
	// unknown, the walsender has no positions yet); Replayed is the
	// replay position, in bytes from 0/0.
	Bytes, Replayed int64
	// Rate is the replay rate sampled over rateSample, in bytes a second
	// (0: not sampled, or the replay did not advance).
	Rate float64
}

// Streaming reports whether the mirror's walreceiver streams.
func (l lagReading) Streaming() bool { return l.State == "streaming" }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
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
		return "SELECT state, sync_state, pg_xlog_location_diff(flush_location, replay_location)::bigint, " +
			"pg_xlog_location_diff(replay_location, '0/0')::bigint FROM pg_catalog.pg_stat_replication WHERE application_name = $1"
	}
	return "SELECT state, sync_state, pg_wal_lsn_diff(flush_lsn, replay_lsn)::bigint, " +
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
			var state, syncState *string
			var lag, replayed *int64
			if err := rows.Scan(&state, &syncState, &lag, &replayed); err != nil {
				return err
			}
			if l.Streaming() {
				continue // one streaming walsender is the mirror's
			}
			l.State, l.SyncState = deref(state), deref(syncState)
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
// the rate.
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
	started := time.Now()
	for i := range pairs {
		pairs[i].Lag = first[i]
	}
	r.proveStopped(ctx, pairs)
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
	elapsed := time.Since(started).Seconds()
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
	case l.Err != nil || !l.Streaming() || l.Bytes < 0:
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

package gpstate

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// standbyReplicationSQL is -f's query on the coordinator (utility session),
// with the flavour's LSN column names (spec §2.4.9).
func standbyReplicationSQL(f cluster.Flavour) string {
	if f == cluster.GP6 {
		return "SELECT state, sync_state, sent_location, flush_location, replay_location FROM pg_stat_replication"
	}
	return "SELECT state, sync_state, sent_lsn, flush_lsn, replay_lsn FROM pg_stat_replication"
}

// standbyRow is one row of standbyReplicationSQL; nil is SQL NULL.
type standbyRow [5]*string

// standby is gpstate -f (spec §2.4.9, __showStandbyMasterInformation):
// the standby coordinator's configuration and process as its host saw it
// (r.st.Obs), then the coordinator's pg_stat_replication. It exits 0; a
// failed query fails the run, as in Greenplum.
func (r *report) standby(ctx context.Context) error {
	gplog.Emit(ctx, r.env.Log, standbyDetailRecords(r.st))
	rows, err := r.standbyRows(ctx)
	if err != nil {
		gplog.Emit(ctx, r.env.Log, standbyReplicationHeading())
		return err
	}
	gplog.Emit(ctx, r.env.Log, standbyReplicationRecords(rows))
	return nil
}

// standbyRows runs standbyReplicationSQL on the coordinator connection.
func (r *report) standbyRows(ctx context.Context) ([]standbyRow, error) {
	sql := standbyReplicationSQL(r.st.Flavour)
	fail := func(err error) ([]standbyRow, error) {
		return nil, fmt.Errorf("%s on the %s: %w", sql, r.st.Flavour.CoordinatorWord(), err)
	}
	rows, err := r.co.Conn.Query(ctx, sql)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var out []standbyRow
	for rows.Next() {
		var row standbyRow
		if err := rows.Scan(&row[0], &row[1], &row[2], &row[3], &row[4]); err != nil {
			return fail(err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}

// standbyDetailRecords is the standby block (pure): "Standby master
// instance not configured", or its details table. The PID and state come
// from the status the standby's host gave: none (the host failed), no pid
// (postmaster.pid absent or empty: not running), a pid with Greenplum's
// pid error (the process may not be the server on that port), or a pid.
func standbyDetailRecords(st *Status) []gplog.Record {
	word := st.Flavour.CoordinatorWord()
	sb, ok := st.Cluster.Standby()
	if !ok {
		return modeInfo("Standby " + word + " instance not configured")
	}
	t := &render.Table{Arrows: true}
	t.Add("Standby address", "= "+sb.Address)
	t.Add("Standby data directory", "= "+sb.DataDir)
	t.Add("Standby port", "= "+strconv.Itoa(sb.Port))
	o := st.observed(sb)
	switch {
	case o.HostErr != "":
		t.Warn("Standby PID", "= "+o.HostErr)
		t.Warn("Standby status", "= Status could not be determined")
	case o.PID == 0:
		t.Warn("Standby PID", "= 0")
		t.Warn("Standby status", "= Standby process not running")
	case o.PIDError(sb.Port) != "":
		t.Warn("Standby PID", "= "+strconv.Itoa(o.PID), o.PIDError(sb.Port))
		t.Warn("Standby status", "= Status could not be determined")
	default:
		t.Add("Standby PID", "= "+strconv.Itoa(o.PID))
		t.Add("Standby status", "= Standby host passive")
	}
	recs := modeInfo("Standby "+word+" details", "----------------------")
	return append(recs, t.Records()...)
}

// standbyReplicationHeading opens the pg_stat_replication block.
func standbyReplicationHeading() []gplog.Record {
	return modeInfo(mirrorsDashes, "-pg_stat_replication", mirrorsDashes)
}

// standbyReplicationRecords is the pg_stat_replication block (pure): the
// one row's five values (NULL printed as Python's None), or a warning when
// there are more rows, or "No entries found.".
func standbyReplicationRecords(rows []standbyRow) []gplog.Record {
	recs := standbyReplicationHeading()
	switch {
	case len(rows) == 1:
		v := func(i int) string {
			if rows[0][i] == nil {
				return "None"
			}
			return *rows[0][i]
		}
		recs = append(recs, modeInfo(
			"-WAL Sender State: "+v(0),
			"-Sync state: "+v(1),
			"-Sent Location: "+v(2),
			"-Flush Location: "+v(3),
			"-Replay Location: "+v(4))...)
	case len(rows) > 1:
		recs = append(recs, modeWarn("pg_stat_replication shows more than 1 row.")...)
	default:
		recs = append(recs, modeInfo("No entries found.")...)
	}
	return append(recs, modeInfo(mirrorsDashes)...)
}

package cluster

import (
	"context"
	"fmt"
)

// HistoryInsertSQL adds one gp_configuration_history row. The layout
// (line breaks included) is GP6's, with the dbid and description bound as
// $1 and $2 instead of inlined (spec §3.4; gpaddmirrors -v transcript).
const HistoryInsertSQL = "INSERT INTO gp_configuration_history (time, dbid, \"desc\") VALUES(\nnow(),\n  $1,\n  $2\n)"

// HistoryInsert returns the statement that records desc for dbid.
func HistoryInsert(dbid int, desc string) Statement {
	return Statement{SQL: HistoryInsertSQL, Args: []any{dbid, desc}, Rows: 1}
}

// InsertHistory runs HistoryInsert(dbid, desc) through q.
func InsertHistory(ctx context.Context, q Querier, dbid int, desc string) error {
	return HistoryInsert(dbid, desc).Exec(ctx, q)
}

// HistoryAddedMirror is the description gpaddmirrors (prog) writes for a new
// mirror row.
func HistoryAddedMirror(prog string) string {
	return prog + ": segment config for resync: inserted mirror segment configuration"
}

// HistoryFullRecovery is the description written when a mirror row is
// removed and added again with the same dbid (full recovery, possibly to a
// new location).
func HistoryFullRecovery(prog string, dbid int) string {
	return fmt.Sprintf("%s: segment config for resync: inserted segment configuration for full recovery or original dbid %d", prog, dbid)
}

// HistoryModeStatus is the description written when only a row's mode or
// status changed.
func HistoryModeStatus(prog string) string {
	return prog + ": segment config for resync: segment mode and status"
}

// HistoryBackout is the description gprecoverseg writes when it puts back
// the row of a failed full recovery (spec §4.7.3).
func HistoryBackout(dbid int) string {
	return fmt.Sprintf("gprecoverseg: segment config for backout: inserted segment configuration for full recovery or original dbid %d", dbid)
}

// HistoryFTS is the description Greenplum's fault prober writes when it
// changes a row, e.g. "FTS: update role, status, and mode for dbid 3 with
// contentid 1 to m, d, and n": role, status, mode (gp6-observed §6 and §8).
func HistoryFTS(s Segment) string {
	return fmt.Sprintf("FTS: update role, status, and mode for dbid %d with contentid %d to %s, %s, and %s",
		s.DBID, s.ContentID, s.Role, s.Status, s.Mode)
}

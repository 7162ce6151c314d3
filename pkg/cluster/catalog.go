package cluster

import (
	"errors"
	"fmt"
	"strings"
)

// Catalog-writing SQL of spec §3.4 and §4.7.3, in GP6's text with every
// value a bound parameter. Run them on a coordinator connection opened with
// AllowSystemTableMods.
const (
	// AddSegmentSQL registers a row with an explicit dbid (gp_add_segment,
	// not gp_add_segment_mirror, which would pick a new dbid that no longer
	// matches the instance's internal.auto.conf). It returns the dbid.
	AddSegmentSQL = "SELECT gp_add_segment($1::int2, $2::int2, $3, $4, $5, $6, $7, $8, $9, $10)"

	// RemoveSegmentMirrorSQL deletes a content's mirror row; returns true.
	RemoveSegmentMirrorSQL = "SELECT gp_remove_segment_mirror($1::int2)"

	// RemoveSegmentSQL deletes a row by dbid (backout); returns true.
	RemoveSegmentSQL = "SELECT gp_remove_segment($1::int2)"

	// UpdateModeStatusSQL changes a row's mode and status in place.
	UpdateModeStatusSQL = "UPDATE pg_catalog.gp_segment_configuration SET mode = $1, status = $2 WHERE dbid = $3;"

	// BackoutPeerModeSQL marks the peer of a backed-out mirror not in sync.
	BackoutPeerModeSQL = "UPDATE gp_segment_configuration SET mode = $1 WHERE dbid = $2;"
)

// AddMirror returns the gp_add_segment call that registers s as a new,
// down, not-in-sync mirror under its own dbid (role, preferred role, mode
// and status are always m, m, n, d, as in GP6).
func AddMirror(s Segment) Statement {
	return Statement{
		SQL:  AddSegmentSQL,
		Args: []any{s.DBID, s.ContentID, RoleMirror, RoleMirror, ModeNotSynced, StatusDown, s.Port, s.Hostname, s.Address, s.DataDir},
		Want: s.DBID,
	}
}

// RemoveMirror returns the gp_remove_segment_mirror call for content.
func RemoveMirror(content int) Statement {
	return Statement{SQL: RemoveSegmentMirrorSQL, Args: []any{content}, Want: true}
}

// UpdateModeStatus returns the UPDATE that gives row dbid mode m and status st.
func UpdateModeStatus(dbid int, m Mode, st Status) Statement {
	return Statement{SQL: UpdateModeStatusSQL, Args: []any{m, st, dbid}, Rows: 1}
}

// PlanCatalogUpdate returns the ordered statements that turn the catalog
// described by before into after, for the tool prog ("gprecoverseg" or
// "gpaddmirrors"), each change followed by its gp_configuration_history
// row (spec §3.4):
//
//   - a mirror dbid only in after: gp_add_segment (new mirror);
//   - a mirror whose host, address, port, data directory, content or roles
//     changed: gp_remove_segment_mirror then gp_add_segment with the same
//     dbid (full recovery);
//   - a row whose only change is mode or status: UPDATE.
//
// Additions come before remove+add pairs, which come before updates; each
// group is in content order. It refuses, as Greenplum's writer does, to add,
// remove or move a primary, to remove a row, to leave a mirrored cluster
// with a content lacking its mirror, or to write an invalid pair state.
func PlanCatalogUpdate(prog string, before, after *Cluster) ([]Statement, error) {
	var problems []string
	for _, s := range before.All() {
		if _, ok := after.ByDBID(s.DBID); !ok {
			problems = append(problems, fmt.Sprintf("%s would be removed", s.Label()))
		}
	}
	if after.HasMirrors() {
		for _, p := range after.Pairs() {
			if p.Mirror == nil {
				problems = append(problems, fmt.Sprintf("content %d would have no mirror", p.Content))
			}
		}
	}
	var cfgErr *ConfigError
	if err := after.ValidatePairs(); errors.As(err, &cfgErr) {
		problems = append(problems, "the new configuration is invalid: "+strings.Join(cfgErr.Problems, "; "))
	}

	var adds, replaces, updates []Statement
	for _, s := range after.All() {
		old, existed := before.ByDBID(s.DBID)
		switch {
		case !existed && (s.IsSegment() && s.IsMirror() && s.PreferredRole == RoleMirror):
			adds = append(adds, AddMirror(s), HistoryInsert(s.DBID, HistoryAddedMirror(prog)))
		case !existed:
			problems = append(problems, fmt.Sprintf("%s would be added; only mirrors may be added", s.Label()))
		case identityChanged(old, s) && s.IsSegment() && s.IsMirror():
			replaces = append(replaces, RemoveMirror(s.ContentID), AddMirror(s),
				HistoryInsert(s.DBID, HistoryFullRecovery(prog, s.DBID)))
		case identityChanged(old, s):
			problems = append(problems, fmt.Sprintf("%s would change; only mirrors may be removed and added", old.Label()))
		case old.Mode != s.Mode || old.Status != s.Status:
			updates = append(updates, UpdateModeStatus(s.DBID, s.Mode, s.Status),
				HistoryInsert(s.DBID, HistoryModeStatus(prog)))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("plan catalog update: %s", strings.Join(problems, "; "))
	}
	return append(append(adds, replaces...), updates...), nil
}

// identityChanged reports whether anything but mode and status differs.
func identityChanged(a, b Segment) bool {
	a.Mode, a.Status = b.Mode, b.Status
	return a != b
}

// BackoutStatements returns the statements that put back the row of a
// failed full recovery of old (the row as loaded before the run), for
// gprecoverseg (spec §4.7.3): remove the new row, add old again as a down,
// not-in-sync mirror keeping its preferred role, record the backout in the
// history, and mark the peer (peerDBID) not in sync. Greenplum sends them
// after "SET allow_system_table_mods=true"; here the connection's
// AllowSystemTableMods option does that.
func BackoutStatements(old Segment, peerDBID int) []Statement {
	return []Statement{
		{SQL: RemoveSegmentSQL, Args: []any{old.DBID}, Want: true},
		{
			SQL:  AddSegmentSQL,
			Args: []any{old.DBID, old.ContentID, RoleMirror, old.PreferredRole, ModeNotSynced, StatusDown, old.Port, old.Hostname, old.Address, old.DataDir},
			Want: old.DBID,
		},
		HistoryInsert(old.DBID, HistoryBackout(old.DBID)),
		{SQL: BackoutPeerModeSQL, Args: []any{ModeNotSynced, peerDBID}, Rows: 1},
	}
}

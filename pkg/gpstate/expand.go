package gpstate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// The gpexpand queries of -x (spec §2.4.10), on a normal session to the
// database postgres.
const (
	expandProbeSQL    = "SELECT CASE WHEN to_regclass('gpexpand.status') IS NOT NULL THEN 1 ELSE 0 END"
	expandStatusSQL   = "SELECT status FROM gpexpand.status ORDER BY updated DESC LIMIT 1"
	expandProgressSQL = "SELECT quote_ident(dbname) AS fq_dbname, fq_name, status FROM gpexpand.status_detail"
)

// expandStatusFile is gpexpand's first-phase status file in the
// coordinator data directory.
const expandStatusFile = "gpexpand.status"

// expandTable is one row of gpexpand.status_detail.
type expandTable struct{ DB, Table, Status string }

// expandState is what -x learned (gp.get_gpexpand_status): phase 0 (no
// expansion), 1 (gpexpand.status file: metadata being replicated) or 2
// (gpexpand.status table: redistribution), the phase-2 status, and for a
// paused or active redistribution the tables of gpexpand.status_detail.
type expandState struct {
	Phase  int
	Status string
	Tables []expandTable
}

// expand is gpstate -x (spec §2.4.10, __showExpandStatus). It exits 0.
func (r *report) expand(ctx context.Context) error {
	st, err := r.expandState(ctx)
	if err != nil {
		return err
	}
	gplog.Emit(ctx, r.env.Log, expandRecords(st))
	return nil
}

// expandState detects the phase: the status file first; else, over a
// normal connection to postgres, the gpexpand.status table. A failed
// connection or detection query means no expansion can be seen: phase 0,
// with a DEBUG line. A failed progress query fails the run.
func (r *report) expandState(ctx context.Context) (expandState, error) {
	path := filepath.Join(r.st.DataDir, expandStatusFile)
	if _, err := os.Stat(path); err == nil {
		if s := expandFileStatus(path); s != "" {
			r.env.Log.Debug(fmt.Sprintf("gpexpand status file %s: %s", path, s))
		}
		return expandState{Phase: 1}, nil
	}
	cfg := cluster.ConnConfig{Port: r.st.Port, Flavour: r.st.Flavour, Database: "postgres"}
	r.env.Log.Debug(cluster.ConnectMessage(cfg))
	conn, err := r.env.Connect(ctx, cfg)
	if err != nil {
		r.env.Log.Debug(fmt.Sprintf("no connection to database postgres to look for gpexpand.status, taking no expansion: %v", err))
		return expandState{}, nil
	}
	defer func() {
		if err := conn.Close(ctx); err != nil {
			r.env.Log.Debug(fmt.Sprintf("closing the connection to database postgres: %v", err))
		}
	}()
	var exists int
	if err := conn.QueryRow(ctx, expandProbeSQL).Scan(&exists); err != nil {
		r.env.Log.Debug(fmt.Sprintf("%s: %v; taking no expansion", expandProbeSQL, err))
		return expandState{}, nil
	}
	if exists == 0 {
		return expandState{}, nil
	}
	st := expandState{Phase: 2}
	if err := conn.QueryRow(ctx, expandStatusSQL).Scan(&st.Status); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		r.env.Log.Debug(fmt.Sprintf("%s: %v; taking no expansion", expandStatusSQL, err))
		return expandState{}, nil
	}
	if expandShowsProgress(st.Status) {
		if st.Tables, err = expandTables(ctx, conn); err != nil {
			return st, fmt.Errorf("%s: %w", expandProgressSQL, err)
		}
	}
	return st, nil
}

// expandFileStatus is the status in gpexpand's status file: the text before
// the first ':' of its last line; "" when unreadable.
func expandFileStatus(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	last := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		last = sc.Text()
	}
	s, _, _ := strings.Cut(last, ":")
	return s
}

// expandTables reads gpexpand.status_detail.
func expandTables(ctx context.Context, q cluster.Querier) ([]expandTable, error) {
	rows, err := q.Query(ctx, expandProgressSQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []expandTable
	for rows.Next() {
		var t expandTable
		if err := rows.Scan(&t.DB, &t.Table, &t.Status); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// expandShowsProgress reports whether a phase-2 status is a paused or
// active redistribution, whose progress -x lists.
func expandShowsProgress(status string) bool {
	switch status {
	case "SETUP DONE", "EXPANSION STOPPED", "EXPANSION STARTED":
		return true
	}
	return false
}

// expandRecords builds -x's lines (pure).
func expandRecords(st expandState) []gplog.Record {
	const key = "Cluster Expansion State = "
	switch st.Phase {
	case 0:
		return modeInfo(key + "No Expansion Detected")
	case 1:
		return modeInfo(key+"Replicating Meta Data", "  Some database tools and functionality", "  are disabled during this process")
	}
	switch st.Status {
	case "SETUP DONE", "EXPANSION STOPPED":
		return append(modeInfo(key+"Data Distribution - Paused"), expandProgressRecords(st.Tables)...)
	case "EXPANSION STARTED":
		return append(modeInfo(key+"Data Distribution - Active"), expandProgressRecords(st.Tables)...)
	case "EXPANSION COMPLETE":
		return modeInfo(key + "Expansion Complete")
	}
	return modeInfo(key + "Data Distribution - Unknown")
}

// expandProgressRecords is __showExpandProgress: a separator, then the
// count of tables still to redistribute per database (those neither
// COMPLETED nor IN PROGRESS, databases in the order first seen), then the
// redistributions in progress, each a table of its own closed by a
// separator.
func expandProgressRecords(tables []expandTable) []gplog.Record {
	sep := &render.Table{Arrows: true}
	sep.Separator()
	recs := sep.Records()

	var dbs []string
	counts := map[string]int{}
	var active []expandTable
	for _, t := range tables {
		switch t.Status {
		case "COMPLETED":
		case "IN PROGRESS":
			active = append(active, t)
		default:
			if counts[t.DB] == 0 {
				dbs = append(dbs, t.DB)
			}
			counts[t.DB]++
		}
	}
	if len(dbs) > 0 {
		t := &render.Table{Arrows: true}
		t.Add("  Database", "Count of Tables to redistribute")
		for _, db := range dbs {
			t.Add("  "+db, fmt.Sprintf("%d", counts[db]))
		}
		t.Separator()
		recs = append(recs, modeInfo("Number of tables to be redistributed")...)
		recs = append(recs, t.Records()...)
	}
	if len(active) > 0 {
		t := &render.Table{Arrows: true}
		t.Add("  Action", "Database", "Table")
		for _, a := range active {
			t.Add("  Redistribute", a.DB, a.Table)
		}
		t.Separator()
		recs = append(recs, modeInfo(fmt.Sprintf("Active redistributions = %d", len(active)))...)
		recs = append(recs, t.Records()...)
	}
	return recs
}

package clustertest

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// SegmentColumns are the columns of cluster.LoadSQL with Greenplum 6's
// types (gp6-observed §3): int2 dbid and content, "char" role,
// preferred_role, mode and status, int4 port, text names, in text format.
var SegmentColumns = []Column{
	{"dbid", pgtype.Int2OID, pgtype.TextFormatCode},
	{"content", pgtype.Int2OID, pgtype.TextFormatCode},
	{"role", pgtype.QCharOID, pgtype.TextFormatCode},
	{"preferred_role", pgtype.QCharOID, pgtype.TextFormatCode},
	{"mode", pgtype.QCharOID, pgtype.TextFormatCode},
	{"status", pgtype.QCharOID, pgtype.TextFormatCode},
	{"hostname", pgtype.TextOID, pgtype.TextFormatCode},
	{"address", pgtype.TextOID, pgtype.TextFormatCode},
	{"port", pgtype.Int4OID, pgtype.TextFormatCode},
	{"datadir", pgtype.TextOID, pgtype.TextFormatCode},
}

// SegmentValues is s as one row of SegmentColumns.
func SegmentValues(s cluster.Segment) []any {
	return []any{int16(s.DBID), int16(s.ContentID), s.Role, s.PreferredRole, s.Mode, s.Status,
		s.Hostname, s.Address, int32(s.Port), s.DataDir}
}

// SegmentRows is the result of cluster.LoadSQL for segs, in their order:
// script it with conn.On(cluster.LoadSQL, SegmentRows(segs)).
func SegmentRows(segs []cluster.Segment) Result {
	r := Result{Columns: SegmentColumns}
	for _, s := range segs {
		r.Rows = append(r.Rows, SegmentValues(s))
	}
	return r
}

// ReadSegments reads a cluster fixture (testdata/segconfig/*.json: a JSON
// array of cluster.Segment), failing t on error.
func ReadSegments(t testing.TB, path string) []cluster.Segment {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var segs []cluster.Segment
	if err := json.Unmarshal(b, &segs); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return segs
}

package cluster

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/cluster")

const testdata = "../../testdata"

// checkGolden compares got with testdata/cluster/<name>, rewriting it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(testdata, "cluster", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
	}
}

// readFixture reads testdata/segconfig/<name>.json.
func readFixture(t *testing.T, name string) []Segment {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "segconfig", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var segs []Segment
	if err := json.Unmarshal(b, &segs); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return segs
}

// mustCluster builds a Cluster from a fixture, failing the test on error.
func mustCluster(t *testing.T, name string) *Cluster {
	t.Helper()
	c, err := New(readFixture(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// readTranscript reads testdata/cluster/<name>: '#' header lines are
// dropped and blocks are separated by lines holding only "--".
func readTranscript(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "cluster", name))
	if err != nil {
		t.Fatal(err)
	}
	var blocks, cur []string
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "--":
			blocks = append(blocks, strings.Join(cur, "\n"))
			cur = nil
		default:
			cur = append(cur, line)
		}
	}
	return append(blocks, strings.Join(cur, "\n"))
}

// fakeColumn is one result column: its name, type OID and wire format.
type fakeColumn struct {
	Name   string
	OID    uint32
	Format int16
}

// gp6SegConfigColumns are the load query's columns with GP6's types (gp6-observed §3).
var gp6SegConfigColumns = []fakeColumn{
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

// fakeRows is a minimal pgx.Rows over raw wire values, decoded by pgx's own
// type map so the real scanning paths run.
type fakeRows struct {
	cols []fakeColumn
	data [][][]byte // rows of raw values; nil is NULL
	i    int
	err  error
	m    *pgtype.Map
}

func newFakeRows(cols []fakeColumn, data [][][]byte) *fakeRows {
	return &fakeRows{cols: cols, data: data, i: -1, m: pgtype.NewMap()}
}

func (r *fakeRows) Close()                        {}
func (r *fakeRows) Err() error                    { return r.err }
func (r *fakeRows) CommandTag() pgconn.CommandTag { return pgconn.NewCommandTag("SELECT") }
func (r *fakeRows) Conn() *pgx.Conn               { return nil }
func (r *fakeRows) TypeMap() *pgtype.Map          { return r.m }
func (r *fakeRows) RawValues() [][]byte           { return r.data[r.i] }
func (r *fakeRows) Next() bool {
	if r.err != nil {
		return false
	}
	r.i++
	return r.i < len(r.data)
}

func (r *fakeRows) FieldDescriptions() []pgconn.FieldDescription {
	fds := make([]pgconn.FieldDescription, len(r.cols))
	for i, c := range r.cols {
		fds[i] = pgconn.FieldDescription{Name: c.Name, DataTypeOID: c.OID, Format: c.Format}
	}
	return fds
}

func (r *fakeRows) Scan(dest ...any) error {
	if len(dest) != len(r.cols) {
		return fmt.Errorf("fake rows: %d destinations for %d columns", len(dest), len(r.cols))
	}
	for i, c := range r.cols {
		if err := r.m.Scan(c.OID, c.Format, r.data[r.i][i], dest[i]); err != nil {
			r.err = fmt.Errorf("column %s: %w", c.Name, err)
			return r.err
		}
	}
	return nil
}

func (r *fakeRows) Values() ([]any, error) {
	vals := make([]any, len(r.cols))
	for i, c := range r.cols {
		typ, ok := r.m.TypeForOID(c.OID)
		if !ok {
			return nil, fmt.Errorf("fake rows: unknown oid %d", c.OID)
		}
		v, err := typ.Codec.DecodeValue(r.m, c.OID, c.Format, r.data[r.i][i])
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	return vals, nil
}

// fakeRow is a pgx.Row holding one value (or an error).
type fakeRow struct {
	val any
	err error
}

func (r fakeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if len(dest) != 1 {
		return fmt.Errorf("fake row: %d destinations", len(dest))
	}
	switch d := dest[0].(type) {
	case *bool:
		*d = r.val.(bool)
	case *int:
		*d = r.val.(int)
	case *string:
		*d = r.val.(string)
	default:
		return fmt.Errorf("fake row: unsupported destination %T", dest[0])
	}
	return nil
}

// call is one statement a fakeQuerier received.
type call struct {
	SQL  string
	Args []any
}

// fakeQuerier records calls and answers them from canned results.
type fakeQuerier struct {
	calls []call
	rows  *fakeRows
	row   func(sql string) fakeRow         // QueryRow answers
	exec  func(sql string) (string, error) // Exec command tag, e.g. "UPDATE 1"
}

func (q *fakeQuerier) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	q.calls = append(q.calls, call{sql, args})
	if q.rows == nil {
		return nil, fmt.Errorf("no rows")
	}
	return q.rows, nil
}

func (q *fakeQuerier) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	q.calls = append(q.calls, call{sql, args})
	return q.row(sql)
}

func (q *fakeQuerier) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	q.calls = append(q.calls, call{sql, args})
	tag, err := q.exec(sql)
	return pgconn.NewCommandTag(tag), err
}

package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgtype"
)

// encodeRows turns segments into raw column values the way a GP6 server
// sends them, in the given format per column.
func encodeRows(t *testing.T, cols []fakeColumn, segs []Segment) [][][]byte {
	t.Helper()
	m := pgtype.NewMap()
	var data [][][]byte
	for _, s := range segs {
		vals := []any{int16(s.DBID), int16(s.ContentID), s.Role, s.PreferredRole, s.Mode, s.Status, s.Hostname, s.Address, int32(s.Port), s.DataDir}
		row := make([][]byte, len(cols))
		for i, c := range cols {
			b, err := m.Encode(c.OID, c.Format, vals[i], nil)
			if err != nil {
				t.Fatal(err)
			}
			row[i] = b
		}
		data = append(data, row)
	}
	return data
}

func TestLoadGP6Columns(t *testing.T) {
	segs := readFixture(t, "failover")
	binary := append([]fakeColumn(nil), gp6SegConfigColumns...)
	for i := range binary {
		binary[i].Format = pgtype.BinaryFormatCode
	}
	for name, cols := range map[string][]fakeColumn{"text": gp6SegConfigColumns, "binary": binary} {
		t.Run(name, func(t *testing.T) {
			q := &fakeQuerier{rows: newFakeRows(cols, encodeRows(t, cols, segs))}
			c, err := Load(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(mustCluster(t, "failover").All(), c.All()); d != "" {
				t.Errorf("loaded rows (-want +got):\n%s", d)
			}
			if len(q.calls) != 1 || q.calls[0].SQL != LoadSQL || len(q.calls[0].Args) != 0 {
				t.Errorf("calls %v", q.calls)
			}
		})
	}
}

func TestLoadSQLText(t *testing.T) {
	// Spec §1.7, verbatim.
	const want = "SELECT dbid, content, role, preferred_role, mode, status, hostname, address, port, datadir FROM pg_catalog.gp_segment_configuration ORDER BY content, preferred_role DESC"
	if LoadSQL != want {
		t.Errorf("LoadSQL = %q", LoadSQL)
	}
}

func TestLoadErrors(t *testing.T) {
	segs := readFixture(t, "mirrored_group")
	data := encodeRows(t, gp6SegConfigColumns, segs)
	data[3][2] = []byte("x") // an invalid role for dbid 4
	_, err := Load(context.Background(), &fakeQuerier{rows: newFakeRows(gp6SegConfigColumns, data)})
	if err == nil || !strings.Contains(err.Error(), `invalid role "x"`) || !strings.Contains(err.Error(), "read gp_segment_configuration") {
		t.Errorf("bad role: %v", err)
	}

	data = encodeRows(t, gp6SegConfigColumns, readFixture(t, "invalid_duplicate_dbid"))
	_, err = Load(context.Background(), &fakeQuerier{rows: newFakeRows(gp6SegConfigColumns, data)})
	if err == nil || !strings.Contains(err.Error(), "load segment configuration: Invalid GpArray: dbid 8 appears 2 times") {
		t.Errorf("duplicate dbid: %v", err)
	}

	// A column missing from the result is an error, not a zero value.
	_, err = Load(context.Background(), &fakeQuerier{rows: newFakeRows(gp6SegConfigColumns[:9], nil)})
	if err == nil {
		t.Error("missing datadir column: no error")
	}
}

func TestFTS(t *testing.T) {
	q := &fakeQuerier{row: func(string) fakeRow { return fakeRow{val: true} }}
	if err := TriggerFTS(context.Background(), q, GP7); err != nil {
		t.Fatal(err)
	}
	if len(q.calls) != 2 || q.calls[0].SQL != "SELECT gp_request_fts_probe_scan()" {
		t.Errorf("GP7 calls %v", q.calls)
	}
	q.calls = nil
	if err := TriggerFTS(context.Background(), q, GP6); err != nil || len(q.calls) != 1 {
		t.Errorf("GP6: %v, calls %v", err, q.calls)
	}
	q.row = func(string) fakeRow { return fakeRow{val: false} }
	if err := RequestFTSProbe(context.Background(), q); err == nil {
		t.Error("false result: no error")
	}
}

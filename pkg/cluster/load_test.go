package cluster_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

// fixture reads testdata/segconfig/<name>.json.
func fixture(t *testing.T, name string) []cluster.Segment {
	t.Helper()
	return clustertest.ReadSegments(t, filepath.Join("..", "..", "testdata", "segconfig", name+".json"))
}

// mustNew builds a Cluster from a fixture, failing the test on error.
func mustNew(t *testing.T, name string) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(fixture(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

func TestLoadGP6Columns(t *testing.T) {
	segs := fixture(t, "failover")
	binary := append([]clustertest.Column(nil), clustertest.SegmentColumns...)
	for i := range binary {
		binary[i].Format = pgtype.BinaryFormatCode
	}
	for name, cols := range map[string][]clustertest.Column{"text": clustertest.SegmentColumns, "binary": binary} {
		t.Run(name, func(t *testing.T) {
			r := clustertest.SegmentRows(segs)
			r.Columns = cols
			q := &clustertest.FakeConn{}
			q.On(cluster.LoadSQL, r)
			c, err := cluster.Load(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(mustNew(t, "failover").All(), c.All()); d != "" {
				t.Errorf("loaded rows (-want +got):\n%s", d)
			}
			if calls := q.Calls(); len(calls) != 1 || calls[0].SQL != cluster.LoadSQL || len(calls[0].Args) != 0 {
				t.Errorf("calls %v", calls)
			}
		})
	}
}

func TestLoadSQLText(t *testing.T) {
	// Spec §1.7, verbatim.
	const want = "SELECT dbid, content, role, preferred_role, mode, status, hostname, address, port, datadir FROM pg_catalog.gp_segment_configuration ORDER BY content, preferred_role DESC"
	if cluster.LoadSQL != want {
		t.Errorf("LoadSQL = %q", cluster.LoadSQL)
	}
}

func TestLoadErrors(t *testing.T) {
	load := func(r clustertest.Result) error {
		q := &clustertest.FakeConn{}
		q.On(cluster.LoadSQL, r)
		_, err := cluster.Load(context.Background(), q)
		return err
	}
	r := clustertest.SegmentRows(fixture(t, "mirrored_group"))
	r.Rows[3][2] = clustertest.Raw("x") // an invalid role for dbid 4
	err := load(r)
	if err == nil || !strings.Contains(err.Error(), `invalid role "x"`) || !strings.Contains(err.Error(), "read gp_segment_configuration") {
		t.Errorf("bad role: %v", err)
	}

	err = load(clustertest.SegmentRows(fixture(t, "invalid_duplicate_dbid")))
	if err == nil || !strings.Contains(err.Error(), "load segment configuration: Invalid GpArray: dbid 8 appears 2 times") {
		t.Errorf("duplicate dbid: %v", err)
	}

	// A column missing from the result is an error, not a zero value.
	err = load(clustertest.Rows(clustertest.SegmentColumns[:9]))
	if err == nil {
		t.Error("missing datadir column: no error")
	}
}

func TestFTS(t *testing.T) {
	q := &clustertest.FakeConn{}
	q.On(cluster.FTSProbeSQL, clustertest.Bool(true))
	if err := cluster.TriggerFTS(context.Background(), q, cluster.GP7); err != nil {
		t.Fatal(err)
	}
	if calls := q.Calls(); len(calls) != 2 || calls[0].SQL != "SELECT gp_request_fts_probe_scan()" {
		t.Errorf("GP7 calls %v", calls)
	}
	q.ResetCalls()
	if err := cluster.TriggerFTS(context.Background(), q, cluster.GP6); err != nil || len(q.Calls()) != 1 {
		t.Errorf("GP6: %v, calls %v", err, q.Calls())
	}
	q.On(cluster.FTSProbeSQL, clustertest.Bool(false))
	if err := cluster.RequestFTSProbe(context.Background(), q); err == nil {
		t.Error("false result: no error")
	}
}

package clustertest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

func TestFakeConnScripts(t *testing.T) {
	ctx := context.Background()
	c := &clustertest.FakeConn{}
	c.On("SELECT n", clustertest.Int2(1), clustertest.Int2(2))
	var got []int
	for range 3 {
		var n int
		if err := c.QueryRow(ctx, "SELECT n").Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if d := cmp.Diff([]int{1, 2, 2}, got); d != "" {
		t.Errorf("queued results, last repeating (-want +got):\n%s", d)
	}

	if err := c.QueryRow(ctx, "SELECT missing", 7).Scan(new(int)); !errors.Is(err, clustertest.ErrUnscripted) {
		t.Errorf("unscripted: %v", err)
	}
	c.On("SELECT none", clustertest.Rows([]clustertest.Column{{Name: "x", OID: pgtype.TextOID}}))
	if err := c.QueryRow(ctx, "SELECT none").Scan(new(string)); !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("no rows: %v", err)
	}
	c.On("SELECT null", clustertest.Text("")) // replaced below
	c.On("SELECT null", clustertest.Value(pgtype.TextOID, nil))
	var s *string
	if err := c.QueryRow(ctx, "SELECT null").Scan(&s); err != nil || s != nil {
		t.Errorf("NULL: %v %v", s, err)
	}
	want := []clustertest.Call{{SQL: "SELECT n"}, {SQL: "SELECT n"}, {SQL: "SELECT n"},
		{SQL: "SELECT missing", Args: []any{7}}, {SQL: "SELECT none"}, {SQL: "SELECT null"}}
	if d := cmp.Diff(want, c.Calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}

	if err := c.Close(ctx); err != nil || !c.Closed() {
		t.Fatalf("Close: %v, closed %t", err, c.Closed())
	}
	if _, err := c.Exec(ctx, "SELECT n"); !errors.Is(err, clustertest.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestSegmentRowsScanIntoSegment(t *testing.T) {
	segs := []cluster.Segment{
		{DBID: 1, ContentID: -1, Role: cluster.RolePrimary, PreferredRole: cluster.RolePrimary, Mode: cluster.ModeNotSynced, Status: cluster.StatusUp, Hostname: "cdw", Address: "cdw", Port: 5432, DataDir: "/data/qd"},
		{DBID: 2, ContentID: 0, Role: cluster.RolePrimary, PreferredRole: cluster.RolePrimary, Mode: cluster.ModeNotSynced, Status: cluster.StatusUp, Hostname: "sdw1", Address: "sdw1", Port: 6000, DataDir: "/data/p0"},
	}
	c := &clustertest.FakeConn{}
	c.On(cluster.LoadSQL, clustertest.SegmentRows(segs))
	got, err := cluster.LoadSegments(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(segs, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestConnectorRecordsConfigs(t *testing.T) {
	c := &clustertest.FakeConn{}
	cfg := cluster.ConnConfig{Port: 7000, Flavour: cluster.GP6, Utility: true}
	conn, err := c.Connector()(context.Background(), cfg)
	if err != nil || conn != c {
		t.Fatalf("Connector: %v %v", conn, err)
	}
	if d := cmp.Diff([]cluster.ConnConfig{cfg}, c.Configs()); d != "" {
		t.Error(d)
	}
}

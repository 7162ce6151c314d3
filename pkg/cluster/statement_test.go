package cluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

func TestExecStatementsChecksResults(t *testing.T) {
	ctx := context.Background()
	seg, _ := mustNew(t, "mirrored_group").ByDBID(6)
	q := &clustertest.FakeConn{}
	q.On(cluster.RemoveSegmentMirrorSQL, clustertest.Bool(true))
	q.On(cluster.AddSegmentSQL, clustertest.Int2(6))
	q.On(cluster.HistoryInsertSQL, clustertest.Tag("INSERT 0 1"))
	stmts := []cluster.Statement{cluster.RemoveMirror(0), cluster.AddMirror(seg), cluster.HistoryInsert(6, "x")}
	if err := cluster.ExecStatements(ctx, q, stmts); err != nil {
		t.Fatal(err)
	}
	want := []clustertest.Call{
		{SQL: cluster.RemoveSegmentMirrorSQL, Args: []any{0}},
		{SQL: cluster.AddSegmentSQL, Args: []any{6, 0, cluster.RoleMirror, cluster.RoleMirror, cluster.ModeNotSynced, cluster.StatusDown, 7000, "sdw2", "sdw2-1", "/data/mirror/gpseg0"}},
		{SQL: cluster.HistoryInsertSQL, Args: []any{6, "x"}},
	}
	if d := cmp.Diff(want, q.Calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}

	q.On(cluster.RemoveSegmentMirrorSQL, clustertest.Bool(false))
	if err := cluster.RemoveMirror(0).Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "returned false, want true") {
		t.Errorf("false from gp_remove_segment_mirror: %v", err)
	}
	q.On(cluster.UpdateModeStatusSQL, clustertest.Tag("UPDATE 0"))
	if err := cluster.UpdateModeStatus(3, cluster.ModeNotSynced, cluster.StatusUp).Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "affected 0 rows, want 1") {
		t.Errorf("UPDATE 0: %v", err)
	}
	boom := errors.New("boom")
	q.On(cluster.HistoryInsertSQL, clustertest.Err(boom))
	if err := cluster.HistoryInsert(3, "x").Exec(ctx, q); !errors.Is(err, boom) {
		t.Errorf("exec error not wrapped: %v", err)
	}
}

func TestExecInTx(t *testing.T) {
	ctx := context.Background()
	stmts := []cluster.Statement{cluster.RemoveMirror(0), cluster.HistoryInsert(6, "x")}

	q := &clustertest.FakeConn{}
	q.On(cluster.RemoveSegmentMirrorSQL, clustertest.Bool(true))
	q.On(cluster.HistoryInsertSQL, clustertest.Tag("INSERT 0 1"))
	if err := cluster.ExecInTx(ctx, q, stmts); err != nil {
		t.Fatal(err)
	}
	want := []string{clustertest.SQLBegin, cluster.RemoveSegmentMirrorSQL, cluster.HistoryInsertSQL, clustertest.SQLCommit}
	if d := cmp.Diff(want, q.SQL()); d != "" {
		t.Errorf("committed transaction (-want +got):\n%s", d)
	}

	// A failing statement rolls back; the rest does not run.
	q = &clustertest.FakeConn{}
	q.On(cluster.RemoveSegmentMirrorSQL, clustertest.Bool(false))
	if err := cluster.ExecInTx(ctx, q, stmts); err == nil || !strings.Contains(err.Error(), "returned false") {
		t.Errorf("false: %v", err)
	}
	want = []string{clustertest.SQLBegin, cluster.RemoveSegmentMirrorSQL, clustertest.SQLRollback}
	if d := cmp.Diff(want, q.SQL()); d != "" {
		t.Errorf("rolled-back transaction (-want +got):\n%s", d)
	}

	// A failed commit is reported.
	q.On(cluster.RemoveSegmentMirrorSQL, clustertest.Bool(true))
	q.On(cluster.HistoryInsertSQL, clustertest.Tag("INSERT 0 1"))
	q.On(clustertest.SQLCommit, clustertest.Err(errors.New("could not serialize")))
	if err := cluster.ExecInTx(ctx, q, stmts); err == nil || !strings.Contains(err.Error(), "commit catalog transaction: could not serialize") {
		t.Errorf("commit failure: %v", err)
	}
}

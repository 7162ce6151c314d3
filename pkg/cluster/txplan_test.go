package cluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

// TestExecPlannedInTx: the plan reads inside the transaction, its
// statements run there and commit; a planning error rolls back with
// nothing written.
func TestExecPlannedInTx(t *testing.T) {
	db := &clustertest.FakeConn{}
	db.On(cluster.LoadSQL, clustertest.SegmentRows(nil))
	db.On(cluster.HistoryInsertSQL, clustertest.Tag("INSERT 0 1"))
	err := cluster.ExecPlannedInTx(t.Context(), db, func(ctx context.Context, q cluster.Querier) ([]cluster.Statement, error) {
		if _, err := cluster.LoadSegments(ctx, q); err != nil {
			return nil, err
		}
		return []cluster.Statement{cluster.HistoryInsert(3, "x")}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{clustertest.SQLBegin, cluster.LoadSQL, cluster.HistoryInsertSQL, clustertest.SQLCommit}, "\n")
	if got := strings.Join(db.SQL(), "\n"); got != want {
		t.Errorf("SQL:\n%s\nwant:\n%s", got, want)
	}

	db.ResetCalls()
	refused := errors.New("dbid 3 moved meanwhile")
	err = cluster.ExecPlannedInTx(t.Context(), db, func(ctx context.Context, q cluster.Querier) ([]cluster.Statement, error) {
		_, _ = cluster.LoadSegments(ctx, q)
		return nil, refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("%v, want the planning error", err)
	}
	want = strings.Join([]string{clustertest.SQLBegin, cluster.LoadSQL, clustertest.SQLRollback}, "\n")
	if got := strings.Join(db.SQL(), "\n"); got != want {
		t.Errorf("SQL after a planning error:\n%s\nwant:\n%s", got, want)
	}
}

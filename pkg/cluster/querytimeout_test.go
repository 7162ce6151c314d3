package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// deadlineQuerier records whether each query got a deadline and fails it.
type deadlineQuerier struct{ deadlines []time.Duration }

var errRecorded = errors.New("recorded")

func (q *deadlineQuerier) note(ctx context.Context) {
	d := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	q.deadlines = append(q.deadlines, d)
}

func (q *deadlineQuerier) Query(ctx context.Context, _ string, _ ...any) (pgx.Rows, error) {
	q.note(ctx)
	return nil, errRecorded
}

func (q *deadlineQuerier) QueryRow(ctx context.Context, _ string, _ ...any) pgx.Row {
	q.note(ctx)
	return errRow{}
}

func (q *deadlineQuerier) Exec(ctx context.Context, _ string, _ ...any) (pgconn.CommandTag, error) {
	q.note(ctx)
	return pgconn.CommandTag{}, errRecorded
}

type errRow struct{}

func (errRow) Scan(...any) error { return errRecorded }

// TestCatalogQueriesHaveADeadline: the prelude's queries after connecting
// (segment configuration, version(), gp_server_version_num) run under
// QueryTimeout even when the caller's context has no deadline, so that a
// coordinator that stalls after accepting the connection cannot hang a
// tool.
func TestCatalogQueriesHaveADeadline(t *testing.T) {
	q := &deadlineQuerier{}
	ctx := context.Background()
	_, _ = Load(ctx, q)
	_, _ = LoadSegments(ctx, q)
	_, _ = ServerVersion(ctx, q)
	_, _ = ServerVersionNum(ctx, q)
	if len(q.deadlines) != 4 {
		t.Fatalf("%d queries, want 4", len(q.deadlines))
	}
	for i, d := range q.deadlines {
		if d < 0 || d > QueryTimeout {
			t.Errorf("query %d: deadline in %s, want within %s", i, d, QueryTimeout)
		}
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, _ = ServerVersion(short, q)
	if d := q.deadlines[4]; d > time.Second {
		t.Errorf("a caller's shorter deadline was not kept: %s", d)
	}
}

// TestQueryTimeoutWording: a query that QueryTimeout ended says so.
func TestQueryTimeoutWording(t *testing.T) {
	qctx, cancel := context.WithTimeoutCause(context.Background(), time.Millisecond, errQueryTimeout)
	defer cancel()
	<-qctx.Done()
	err := queryErr(qctx, qctx.Err())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "no answer within 1m0s: ") {
		t.Fatalf("got %v", err)
	}
	if other := errors.New("x"); queryErr(context.Background(), other) != other {
		t.Fatal("an error without the timeout changed")
	}
}

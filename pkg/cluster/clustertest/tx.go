package clustertest

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// tx is the pgx.Tx of Begin: statements go to the connection.
type tx struct {
	conn *FakeConn
	done bool
}

func (t *tx) end(sql string) error {
	if t.done {
		return fmt.Errorf("%s: %w", sql, pgx.ErrTxClosed)
	}
	t.done = true
	return t.conn.control(sql)
}

func (t *tx) Commit(context.Context) error   { return t.end(SQLCommit) }
func (t *tx) Rollback(context.Context) error { return t.end(SQLRollback) }

func (t *tx) Begin(context.Context) (pgx.Tx, error) {
	return nil, fmt.Errorf("nested transaction: %w", ErrNotSupported)
}

func (t *tx) CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error) {
	return 0, fmt.Errorf("CopyFrom: %w", ErrNotSupported)
}

func (t *tx) SendBatch(context.Context, *pgx.Batch) pgx.BatchResults { return errBatch{t} }
func (t *tx) LargeObjects() pgx.LargeObjects                         { return pgx.LargeObjects{} }

func (t *tx) Prepare(context.Context, string, string) (*pgconn.StatementDescription, error) {
	return nil, fmt.Errorf("Prepare: %w", ErrNotSupported)
}

func (t *tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.done {
		return pgconn.CommandTag{}, pgx.ErrTxClosed
	}
	return t.conn.Exec(ctx, sql, args...)
}

func (t *tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.done {
		return nil, pgx.ErrTxClosed
	}
	return t.conn.Query(ctx, sql, args...)
}

func (t *tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.done {
		return row{err: pgx.ErrTxClosed}
	}
	return t.conn.QueryRow(ctx, sql, args...)
}

func (t *tx) Conn() *pgx.Conn { return nil }

// errBatch is the pgx.BatchResults of SendBatch, which is not supported.
type errBatch struct{ tx pgx.Tx }

func (errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, errBatchNotSupported }
func (errBatch) Query() (pgx.Rows, error)         { return nil, errBatchNotSupported }
func (errBatch) QueryRow() pgx.Row                { return row{err: errBatchNotSupported} }
func (errBatch) Close() error                     { return errBatchNotSupported }
func (b errBatch) Tx() pgx.Tx                     { return b.tx }

var errBatchNotSupported = fmt.Errorf("SendBatch: %w", ErrNotSupported)

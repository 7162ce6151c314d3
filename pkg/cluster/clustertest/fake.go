// Package clustertest provides FakeConn, a scripted cluster.Conn for the
// tests of packages that talk to a coordinator through pkg/cluster.
//
// Results are typed: each column has a name, a type OID and a wire format,
// and values are encoded and decoded by pgx's own type map, so the real
// scanning paths (pgx.RowToStructByName into cluster.Segment, Scan into
// *int from an int2 column) run as they do against a server.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// ErrUnscripted is the cause of the error for a statement no script
// answers.
var ErrUnscripted = errors.New("clustertest: no result scripted for this statement")

// ErrClosed is returned for statements run after Close.
var ErrClosed = errors.New("clustertest: connection closed")

// ErrNotSupported is returned by the parts of pgx.Tx the fake does not
// implement (CopyFrom, SendBatch, Prepare, nested Begin).
var ErrNotSupported = errors.New("clustertest: not supported")

// The statements FakeConn records for the transaction calls. They succeed
// unless scripted with On (e.g. On(SQLCommit, Err(...))).
const (
	SQLBegin    = "BEGIN"
	SQLCommit   = "COMMIT"
	SQLRollback = "ROLLBACK"
)

// Column is one result column: its name, type OID (pgtype.Int2OID,
// pgtype.QCharOID, ...) and wire format (pgtype.TextFormatCode or
// pgtype.BinaryFormatCode).
type Column struct {
	Name   string
	OID    uint32
	Format int16
}

// Raw is a value already in the column's wire format, passed through
// without encoding: the way to send what a server might but Go values
// cannot express (an invalid "char", say). A nil Raw, like a nil value, is
// SQL NULL.
type Raw []byte

// Result is the scripted answer to one statement.
type Result struct {
	Columns []Column
	// Rows hold Go values encoded with each column's OID and format
	// (int16 for int2, int32 for int4, a byte or byte-kinded type for
	// "char", string for text, bool for bool), Raw values, or nil for NULL.
	Rows [][]any
	// Tag is the command tag Exec returns ("UPDATE 1"); empty means
	// "SELECT <number of rows>".
	Tag string
	// Err fails the statement: Query and Exec return it, QueryRow's Scan
	// returns it, Begin/Commit/Rollback return it for SQLBegin etc.
	Err error
}

// Rows returns a Result with the given columns and rows.
func Rows(cols []Column, rows ...[]any) Result { return Result{Columns: cols, Rows: rows} }

// Value returns a one-row, one-column Result named "?column?".
func Value(oid uint32, v any) Result {
	return Rows([]Column{{Name: "?column?", OID: oid, Format: pgtype.TextFormatCode}}, []any{v})
}

// Text returns a one-row text Result, as select version(); gives.
func Text(s string) Result { return Value(pgtype.TextOID, s) }

// Bool returns a one-row bool Result.
func Bool(b bool) Result { return Value(pgtype.BoolOID, b) }

// Int2 returns a one-row int2 Result, as gp_add_segment gives.
func Int2(n int16) Result { return Value(pgtype.Int2OID, n) }

// Tag returns a Result for Exec with command tag tag ("UPDATE 1").
func Tag(tag string) Result { return Result{Tag: tag} }

// Err returns a Result that fails with err.
func Err(err error) Result { return Result{Err: err} }

// Call is one statement FakeConn received.
type Call struct {
	SQL  string
	Args []any
}

// FakeConn is a cluster.Conn scripted by exact SQL text with On. It
// records every statement, including SQLBegin, SQLCommit and SQLRollback
// for transactions; statements run inside a transaction go to the same
// script and record. A statement no script answers fails with an error
// wrapping ErrUnscripted that quotes it; after Close every statement fails
// with ErrClosed, until the Connector hands it out again (a new session
// with the same script). It is safe for concurrent use; the zero value is ready.
type FakeConn struct {
	// CloseErr is what Close returns.
	CloseErr error

	mu      sync.Mutex
	scripts map[string]*script
	calls   []Call
	closed  int
	open    bool // handed out by the Connector and not closed since
	configs []cluster.ConnConfig
}

type script struct {
	results []Result
	n       int
}

// On scripts the answers to sql, replacing any earlier script for it: the
// n-th call gets results[n-1], and the last result repeats.
func (c *FakeConn) On(sql string, results ...Result) {
	if len(results) == 0 {
		panic("clustertest: On without results")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.scripts == nil {
		c.scripts = map[string]*script{}
	}
	c.scripts[sql] = &script{results: slices.Clone(results)}
}

// Calls returns the statements received so far, in order.
func (c *FakeConn) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// SQL returns the text of the statements received so far, in order.
func (c *FakeConn) SQL() []string {
	var s []string
	for _, call := range c.Calls() {
		s = append(s, call.SQL)
	}
	return s
}

// ResetCalls forgets the statements received so far.
func (c *FakeConn) ResetCalls() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = nil
}

// Closed reports whether Close has been called.
func (c *FakeConn) Closed() bool { return c.CloseCount() > 0 }

// CloseCount is how many times Close has been called.
func (c *FakeConn) CloseCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Connector returns a cluster.Connector that records each ConnConfig (see
// Configs) and returns c, open again if it was closed.
func (c *FakeConn) Connector() cluster.Connector {
	return func(_ context.Context, cfg cluster.ConnConfig) (cluster.Conn, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.configs = append(c.configs, cfg)
		c.open = true
		return c, nil
	}
}

// Configs returns the configurations the Connector was called with.
func (c *FakeConn) Configs() []cluster.ConnConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.configs)
}

// answer records the call and finds its result; ok is false when no
// script matches.
func (c *FakeConn) answer(sql string, args []any) (Result, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, Call{SQL: sql, Args: args})
	if c.closed > 0 && !c.open {
		return Result{}, false, ErrClosed
	}
	s, ok := c.scripts[sql]
	if !ok {
		return Result{}, false, nil
	}
	r := s.results[min(s.n, len(s.results)-1)]
	s.n++
	return r, true, nil
}

// result is answer for statements that must be scripted.
func (c *FakeConn) result(sql string, args []any) (Result, error) {
	r, ok, err := c.answer(sql, args)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fmt.Errorf("%w: %q", ErrUnscripted, sql)
	}
	return r, r.Err
}

// Query returns the scripted rows for sql.
func (c *FakeConn) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	r, err := c.result(sql, args)
	if err != nil {
		return nil, err
	}
	return newRows(r)
}

// QueryRow returns the first scripted row for sql; Scan gives
// pgx.ErrNoRows when the result has none.
func (c *FakeConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := c.Query(ctx, sql, args...)
	return row{rows: rows, err: err}
}

// Exec returns the scripted command tag for sql.
func (c *FakeConn) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r, err := c.result(sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	if r.Tag == "" {
		return pgconn.NewCommandTag(fmt.Sprintf("SELECT %d", len(r.Rows))), nil
	}
	return pgconn.NewCommandTag(r.Tag), nil
}

// control runs SQLBegin, SQLCommit or SQLRollback: recorded, and
// successful unless scripted otherwise.
func (c *FakeConn) control(sql string) error {
	r, _, err := c.answer(sql, nil)
	if err != nil {
		return err
	}
	return r.Err
}

// Begin records SQLBegin and returns a transaction whose statements go to
// c. Commit and Rollback record SQLCommit and SQLRollback; after either,
// both return an error wrapping pgx.ErrTxClosed, as pgx's do.
func (c *FakeConn) Begin(_ context.Context) (pgx.Tx, error) {
	if err := c.control(SQLBegin); err != nil {
		return nil, err
	}
	return &tx{conn: c}, nil
}

// Close records the close and returns CloseErr.
func (c *FakeConn) Close(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed++
	c.open = false
	return c.CloseErr
}

var _ cluster.Conn = (*FakeConn)(nil)

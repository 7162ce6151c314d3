package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Statement is one SQL statement with its bound arguments and the result
// the writer insists on. Planning functions return []Statement so tests can
// compare them with the GP6 transcripts; Exec runs them.
type Statement struct {
	SQL  string
	Args []any

	// Want, when not nil, is the single value the statement must return:
	// an int (gp_add_segment returns the dbid) or a bool
	// (gp_remove_segment_mirror returns true). When nil the statement runs
	// with Exec and must affect exactly Rows rows.
	Want any
	Rows int64
}

// Exec runs the statement through q and checks its result.
func (s Statement) Exec(ctx context.Context, q Querier) error {
	switch want := s.Want.(type) {
	case nil:
		tag, err := q.Exec(ctx, s.SQL, s.Args...)
		if err != nil {
			return fmt.Errorf("run %s: %w", s, err)
		}
		if got := tag.RowsAffected(); got != s.Rows {
			return fmt.Errorf("run %s: affected %d rows, want %d", s, got, s.Rows)
		}
	case int:
		var got int
		if err := q.QueryRow(ctx, s.SQL, s.Args...).Scan(&got); err != nil {
			return fmt.Errorf("run %s: %w", s, err)
		}
		if got != want {
			return fmt.Errorf("run %s: returned %d, want %d", s, got, want)
		}
	case bool:
		var got bool
		if err := q.QueryRow(ctx, s.SQL, s.Args...).Scan(&got); err != nil {
			return fmt.Errorf("run %s: %w", s, err)
		}
		if got != want {
			return fmt.Errorf("run %s: returned %t, want %t", s, got, want)
		}
	default:
		return fmt.Errorf("run %s: unsupported expected result type %T", s, s.Want)
	}
	return nil
}

// String renders the statement with its arguments spelled as SQL literals,
// the way the GP6 tools log the statements they run (strings single-quoted
// with quotes and backslashes doubled). It is for logs and golden tests
// only: the server always receives SQL and Args separately.
func (s Statement) String() string {
	var b strings.Builder
	sql := s.SQL
	for i := 0; i < len(sql); i++ {
		if sql[i] != '$' {
			b.WriteByte(sql[i])
			continue
		}
		j := i + 1
		for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(sql[i+1 : j])
		if err != nil || n < 1 || n > len(s.Args) {
			b.WriteByte(sql[i])
			continue
		}
		b.WriteString(literal(s.Args[n-1]))
		i = j - 1
	}
	return b.String()
}

// literal spells v as GP6's catalog writer inlines it.
func literal(v any) string {
	switch x := v.(type) {
	case string:
		return quoteLiteral(x)
	case Role, Mode, Status:
		return quoteLiteral(fmt.Sprint(x))
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "NULL"
	}
	return fmt.Sprint(v)
}

func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// ExecStatements runs stmts in order through q (normally a pgx.Tx) and
// stops at the first failure.
func ExecStatements(ctx context.Context, q Querier, stmts []Statement) error {
	for _, s := range stmts {
		if err := s.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// ErrCommit marks an error of the COMMIT itself: the transaction may have
// committed anyway (the connection dropped after COMMIT was sent), so a
// caller that must know reads the catalog again on a fresh connection.
var ErrCommit = errors.New("commit catalog transaction")

// TxBeginner is a connection that can open a transaction; Conn and
// *pgx.Conn satisfy it.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// ExecInTx runs stmts in one transaction on db: all of them commit, or on
// any failure none do. Callers that must not be interrupted (the catalog
// update ignores SIGINT) pass a context.WithoutCancel context with its own
// timeout.
func ExecInTx(ctx context.Context, db TxBeginner, stmts []Statement) (err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin catalog transaction: %w", err)
	}
	defer func() {
		if err != nil {
			if rbErr := tx.Rollback(ctx); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
				err = errors.Join(err, fmt.Errorf("roll back catalog transaction: %w", rbErr))
			}
		}
	}()
	if err := ExecStatements(ctx, tx, stmts); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	return nil
}

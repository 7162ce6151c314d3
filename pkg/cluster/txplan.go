package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ExecPlannedInTx plans statements inside a transaction on db and runs
// them there: plan reads the rows it decides from through the transaction,
// just before they are written, and returns the statements; they commit
// together, or none does (each statement's own check, a row count or a
// returned value, refuses a row that changed in between). Nothing planned
// is not an error: the transaction commits empty. A failed COMMIT wraps
// ErrCommit, as ExecInTx's does.
func ExecPlannedInTx(ctx context.Context, db TxBeginner, plan func(ctx context.Context, q Querier) ([]Statement, error)) (err error) {
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
	stmts, err := plan(ctx, tx)
	if err != nil {
		return err
	}
	if err := ExecStatements(ctx, tx, stmts); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	return nil
}

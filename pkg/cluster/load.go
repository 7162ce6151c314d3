package cluster

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// LoadSQL is the catalog query every tool runs (spec §1.7), verbatim.
const LoadSQL = "SELECT dbid, content, role, preferred_role, mode, status, hostname, address, port, datadir FROM pg_catalog.gp_segment_configuration ORDER BY content, preferred_role DESC"

// Load reads gp_segment_configuration through q and validates it with New.
// Pair states are not checked; call ValidatePairs unless the coordinator runs
// in utility mode.
func Load(ctx context.Context, q Querier) (*Cluster, error) {
	segs, err := LoadSegments(ctx, q)
	if err != nil {
		return nil, err
	}
	c, err := New(segs)
	if err != nil {
		return nil, fmt.Errorf("load segment configuration: %w", err)
	}
	return c, nil
}

// LoadSegments reads the rows of gp_segment_configuration without
// validating them, for diagnostics of a broken catalog, within
// QueryTimeout.
func LoadSegments(ctx context.Context, q Querier) ([]Segment, error) {
	qctx, cancel := WithQueryTimeout(ctx)
	defer cancel()
	rows, err := q.Query(qctx, LoadSQL)
	if err != nil {
		return nil, fmt.Errorf("query gp_segment_configuration: %w", queryErr(qctx, err))
	}
	segs, err := pgx.CollectRows(rows, pgx.RowToStructByName[Segment])
	if err != nil {
		return nil, fmt.Errorf("read gp_segment_configuration: %w", queryErr(qctx, err))
	}
	return segs, nil
}

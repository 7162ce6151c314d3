package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// QueryTimeout bounds each catalog query the tools run once connected (the
// segment configuration, version(), gp_server_version_num): a coordinator
// that accepted the connection and then stalls (a lock on the catalog, a
// stopped backend) fails the query with a clear error instead of hanging
// the tool. Catalog reads take milliseconds; the bound is for the stall.
const QueryTimeout = time.Minute

// errQueryTimeout is the cause of a context that QueryTimeout ended.
var errQueryTimeout = fmt.Errorf("no answer within %s", QueryTimeout)

// WithQueryTimeout returns ctx bounded by QueryTimeout (or sooner, if ctx
// ends sooner), for one catalog query.
func WithQueryTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, QueryTimeout, errQueryTimeout)
}

// queryErr says, when err came from the QueryTimeout of qctx, that the
// server did not answer in time, keeping err for errors.Is.
func queryErr(qctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(qctx), errQueryTimeout) {
		return fmt.Errorf("%w: %w", errQueryTimeout, err)
	}
	return err
}

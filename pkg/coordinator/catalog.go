package coordinator

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// LoadCatalog loads and validates gp_segment_configuration through q, a
// connection to the instance on port whose data directory is mdd, and
// checks that this instance is the catalog's coordinator: a directory
// given as the coordinator's that is a segment's (Greenplum 6 primaries
// keep no sign of it in their files) is refused here, before any action.
// The coordinator row must have that port or that directory (symbolic
// links resolved), so that neither a -d through a symbolic link nor a
// port changed in postgresql.conf alone stops a tool that Greenplum's
// would run. Errors are app.ExpectedError values.
func LoadCatalog(ctx context.Context, q cluster.Querier, mdd string, port int, f cluster.Flavour) (*cluster.Cluster, error) {
	c, err := cluster.Load(ctx, q)
	var config *cluster.ConfigError
	switch {
	case errors.As(err, &config) && len(config.Segments) == 0:
		return nil, &app.HintError{Err: &app.ExpectedError{Err: err},
			Hint: fmt.Sprintf("is %s a segment's data directory? Set %s or pass -d with the %s data directory",
				mdd, cluster.DataDirVariable(f), f.CoordinatorWord())}
	case err != nil:
		return nil, &app.ExpectedError{Err: err}
	}
	if co := c.Coordinator(); co.Port != port && !samePath(co.DataDir, mdd) {
		word := f.CoordinatorWord()
		return nil, &app.ExpectedError{Err: &cluster.NotCoordinatorError{Dir: mdd, Flavour: f, What: "another instance",
			Reason: fmt.Sprintf("it runs on port %d, and gp_segment_configuration has the %s on %s:%d", port, word, co.Hostname, co.Port)}}
	}
	return c, nil
}

// samePath reports whether a and b name one directory on this host.
func samePath(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ra, errA := filepath.EvalSymlinks(a)
	rb, errB := filepath.EvalSymlinks(b)
	return errA == nil && errB == nil && ra == rb
}

package coordinator

import (
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// PathPolicy says what a tool does when the coordinator data directory or
// a row of the catalog holds a path, host name or address that
// cluster.CheckPath or cluster.CheckHost refuse (design.md, safety
// invariants 5 and 7).
type PathPolicy int

const (
	// RefuseUnsafe stops the tool, exit 2, before it acts: the policy of
	// every tool that starts, copies or changes instances, and the zero
	// value, so that a new caller is safe by default.
	RefuseUnsafe PathPolicy = iota
	// WarnUnsafe logs one WARNING line per refused value and goes on. For
	// gpstate, which only reads, so that a DBA still sees the state of such
	// a cluster; and for gpstop without -r, whose stops go through no
	// shell, so that such a cluster can still be stopped.
	WarnUnsafe
)

// warnSuffix ends a WARNING line of WarnUnsafe.
const warnSuffix = " (tools that start or copy instances refuse this cluster until it is fixed)"

// CheckDataDir applies p to the coordinator data directory mdd (-d or the
// environment), which gpstart hands to pg_ctl before any catalog is read.
func CheckDataDir(log *slog.Logger, p PathPolicy, mdd string) error {
	return apply(log, p, cluster.CheckPath("coordinator data directory", mdd))
}

// CheckCatalog applies p to every row of c (cluster.Cluster.CheckShellSafe).
// The coordinator row's data directory is not reported again when it is
// mdd, which CheckDataDir has already reported.
func CheckCatalog(log *slog.Logger, p PathPolicy, c *cluster.Cluster, mdd string) error {
	var unsafe *cluster.UnsafeCatalogError
	if !errors.As(c.CheckShellSafe(), &unsafe) {
		return nil
	}
	var rows []cluster.UnsafeRow
	for _, r := range unsafe.Rows {
		var pathErr *cluster.UnsafePathError
		if r.Segment.IsCoordinator() && errors.As(r.Err, &pathErr) && filepath.Clean(r.Segment.DataDir) == filepath.Clean(mdd) {
			continue
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	if p == WarnUnsafe {
		for _, r := range rows {
			log.Warn(r.Error() + warnSuffix)
		}
		return nil
	}
	return &app.ExpectedError{Err: &cluster.UnsafeCatalogError{Rows: rows}}
}

// apply returns err as an app.ExpectedError (RefuseUnsafe) or logs it as a
// warning (WarnUnsafe); nil stays nil.
func apply(log *slog.Logger, p PathPolicy, err error) error {
	switch {
	case err == nil:
		return nil
	case p == WarnUnsafe:
		log.Warn(err.Error() + warnSuffix)
		return nil
	}
	return &app.ExpectedError{Err: err}
}

package addmirrors

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/placement"
)

// Mirror is one mirror to build (placement's): the content's primary and
// the new mirror row.
type Mirror = placement.Mirror

// DirPrefix is the prefix of segment data directory names, taken from the
// coordinator data directory (spec §5.3): its base name up to the last
// "-1" ("gpseg" for gpseg-1), or "gp" when it has none.
func DirPrefix(coordinatorDataDir string) string {
	base := filepath.Base(coordinatorDataDir)
	if i := strings.LastIndex(base, "-1"); i >= 0 && base[:i] != "" {
		return base[:i]
	}
	return "gp"
}

// Port bounds of the port offset check (spec §5.2 step 3).
const (
	minMirrorPort = 6432
	maxMirrorPort = 61000
)

// CheckPortOffset is Greenplum's check of -p (spec §5.2 step 3), run
// without -i: the smallest and largest port of every catalog row, moved by
// the offset (thrice on one side, as Greenplum reserved three port sets),
// must stay within 6432..61000. The message is Greenplum's, missing space
// included.
func CheckPortOffset(c *cluster.Cluster, offset int) error {
	all := c.All()
	if len(all) == 0 {
		return nil
	}
	lo, hi := all[0].Port, all[0].Port
	for _, s := range all {
		lo, hi = min(lo, s.Port), max(hi, s.Port)
	}
	if offset < 0 {
		lo, hi = lo+3*offset, hi+offset
	} else {
		lo, hi = lo+offset, hi+3*offset
	}
	if lo < minMirrorPort || hi > maxMirrorPort {
		return &app.ArgumentError{Msg: fmt.Sprintf("Value of port offset supplied via -p option produces ports outside of the valid range"+
			"Mirror port base range must be between %d and %d", minMirrorPort, maxMirrorPort)}
	}
	return nil
}

// CheckConflicts is Greenplum's port and directory conflict check over the
// whole new configuration (spec §3.1 step 3, placement.Conflicts): the
// catalog's rows in order, then the new mirrors in build order; every
// conflict is reported (exit 2).
func CheckConflicts(c *cluster.Cluster, mirrors []Mirror) error {
	rows := c.All()
	for _, m := range mirrors {
		rows = append(rows, m.Mirror)
	}
	if err := placement.Conflicts(rows); err != nil {
		return &app.ExpectedError{Err: err}
	}
	return nil
}

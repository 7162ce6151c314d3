package addmirrors

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Mirror is one mirror to build: the content's primary (the copy source,
// with mode n as Greenplum sets it in memory) and the new mirror row.
type Mirror struct {
	Primary cluster.Segment
	Mirror  cluster.Segment
}

// newMirror returns the Mirror for primary placed at host/address:port in
// dir with dbid: role and preferred role m, mode n, status u in memory
// (spec §5.3; the catalog gets d/n, §3.4).
func newMirror(primary cluster.Segment, dbid int, host, address string, port int, dir string) Mirror {
	primary.Mode = cluster.ModeNotSynced
	return Mirror{
		Primary: primary,
		Mirror: cluster.Segment{
			DBID:          dbid,
			ContentID:     primary.ContentID,
			Role:          cluster.RoleMirror,
			PreferredRole: cluster.RoleMirror,
			Mode:          cluster.ModeNotSynced,
			Status:        cluster.StatusUp,
			Hostname:      host,
			Address:       address,
			Port:          port,
			DataDir:       dir,
		},
	}
}

// preferredPrimaries returns the segment rows created as primaries, which
// Greenplum mirrors (isSegmentPrimary(current_role=False)).
func preferredPrimaries(c *cluster.Cluster) []cluster.Segment {
	var out []cluster.Segment
	for _, s := range c.Segments() {
		if s.PreferredRole == cluster.RolePrimary {
			out = append(out, s)
		}
	}
	return out
}

// nextDBID is the first dbid for new mirrors: one more than the largest
// dbid of any row, coordinator and standby included.
func nextDBID(c *cluster.Cluster) int {
	n := 0
	for _, s := range c.All() {
		n = max(n, s.DBID)
	}
	return n + 1
}

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

// ErrHasMirrors is Greenplum's refusal to add mirrors to a mirrored cluster
// (two spaces after "added." as in Greenplum).
var ErrHasMirrors = errors.New("GPDB physical mirroring cannot be added.  The cluster is already configured with Mirrors.")

// CheckConflicts is Greenplum's port and directory conflict check over the
// whole new configuration (spec §3.1 step 3): on one host no two instances
// may share a port or a data directory. Rows are compared in catalog order
// followed by the new mirrors in build order; every conflict is reported.
func CheckConflicts(c *cluster.Cluster, mirrors []Mirror) error {
	rows := c.All()
	for _, m := range mirrors {
		rows = append(rows, m.Mirror)
	}
	type key struct{ host, val string }
	ports := map[key]int{}
	dirs := map[key]int{}
	var errs []error
	for _, s := range rows {
		pk := key{s.Hostname, fmt.Sprint(s.Port)}
		if d, ok := ports[pk]; ok {
			errs = append(errs, fmt.Errorf("Segment dbid's %d and %d on host %s cannot have the same port %d.", d, s.DBID, s.Hostname, s.Port))
		} else {
			ports[pk] = s.DBID
		}
		dk := key{s.Hostname, filepath.Clean(s.DataDir)}
		if d, ok := dirs[dk]; ok {
			errs = append(errs, fmt.Errorf("Segment dbid's %d and %d on host %s cannot have the same data directory '%s'.", d, s.DBID, s.Hostname, s.DataDir))
		} else {
			dirs[dk] = s.DBID
		}
	}
	if len(errs) > 0 {
		return &app.ExpectedError{Err: errors.Join(errs...)}
	}
	return nil
}

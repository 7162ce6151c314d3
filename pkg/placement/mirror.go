// Package placement decides where segment instances go: the mirrors of a
// mirrorless cluster, grouped or spread over its hosts (gpaddmirrors, and
// gpdemo's mirrored clusters), and failed segments moved onto spare hosts
// with the ports they get there (gprecoverseg -p). It is pure: a cluster
// and the caller's choices in, rows out.
package placement

import (
	"errors"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Mirror is one mirror to build: the content's primary (the copy source,
// with mode n as Greenplum sets it in memory) and the new mirror row.
type Mirror struct {
	Primary cluster.Segment
	Mirror  cluster.Segment
}

// NewMirror returns the Mirror for primary placed at host/address:port in
// dir with dbid: role and preferred role m, mode n, status u in memory
// (spec §5.3; the catalog gets d/n, §3.4).
func NewMirror(primary cluster.Segment, dbid int, host, address string, port int, dir string) Mirror {
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

// PreferredPrimaries returns the segment rows created as primaries, which
// Greenplum mirrors (isSegmentPrimary(current_role=False)).
func PreferredPrimaries(c *cluster.Cluster) []cluster.Segment {
	var out []cluster.Segment
	for _, s := range c.Segments() {
		if s.PreferredRole == cluster.RolePrimary {
			out = append(out, s)
		}
	}
	return out
}

// NextDBID is the first dbid for new mirrors: one more than the largest
// dbid of any row, coordinator and standby included.
func NextDBID(c *cluster.Cluster) int {
	n := 0
	for _, s := range c.All() {
		n = max(n, s.DBID)
	}
	return n + 1
}

// ErrHasMirrors is Greenplum's refusal to add mirrors to a mirrored cluster
// (two spaces after "added." as in Greenplum).
var ErrHasMirrors = errors.New("GPDB physical mirroring cannot be added.  The cluster is already configured with Mirrors.")

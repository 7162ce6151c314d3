package placement

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Conflicts is Greenplum's port and directory conflict check over a whole
// new configuration (spec §3.1 step 3): on one host no two instances may
// share a port or a data directory. rows are compared in order (the
// catalog's rows, then the new or moved ones); every conflict is reported
// in Greenplum's words, joined; nil when there is none.
func Conflicts(rows []cluster.Segment) error {
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
	return errors.Join(errs...)
}

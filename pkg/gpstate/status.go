package gpstate

import (
	"strconv"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Status is what every report reads: the catalog, what the hosts said,
// and the values spec §2.2 derives from them.
type Status struct {
	Flavour cluster.Flavour
	Cluster *cluster.Cluster
	Obs     *Observation // nil for the modes that contact no segment (-Q, -c, -p, ...)
	DataDir string       // the coordinator data directory
	Port    int          // the coordinator port
}

// observed returns what was seen of s (a HostErr-only value when nothing).
func (st *Status) observed(s cluster.Segment) Observed {
	if st.Obs == nil {
		return Observed{Ready: -1}
	}
	o, ok := st.Obs.Instances[s.DBID]
	if !ok {
		return Observed{HostErr: "No status output provided from host " + s.Address, Ready: -1}
	}
	return o
}

// PIDText is "PID": the pid from postmaster.pid when there is no pid
// error, else "Not found" (a warning).
func (st *Status) PIDText(s cluster.Segment) (string, bool) {
	o := st.observed(s)
	if o.HostErr != "" || o.PIDError(s.Port) != "" {
		return "Not found", true
	}
	return strconv.Itoa(o.PID), false
}

// DatabaseStatus is the instance's database status (spec §2.2): "Down in
// configuration", "Unknown -- unable to load segment status", "Process
// error -- database process may be down", or pg_isready's label. Anything
// but "Up" is a warning.
func (st *Status) DatabaseStatus(s cluster.Segment) (string, bool) {
	o := st.observed(s)
	var label string
	switch {
	case !s.IsUp():
		label = "Down in configuration"
	case o.HostErr != "":
		label = "Unknown -- unable to load segment status"
	case o.PIDError(s.Port) != "":
		label = "Process error -- database process may be down"
	default:
		label = o.ReadyLabel(s.IsPrimary())
		if label == "" {
			label = "Unknown -- unable to load segment status"
		}
	}
	return label, label != "Up"
}

// ProbablyDown reports whether s's database status is a warning.
func (st *Status) ProbablyDown(s cluster.Segment) bool {
	_, warn := st.DatabaseStatus(s)
	return warn
}

// Usable reports whether s can serve its content: a current primary not
// probably down, or a current mirror not probably down whose primary is in
// sync (FTS can promote it).
func (st *Status) Usable(p cluster.Pair, s *cluster.Segment) bool {
	if s == nil || st.ProbablyDown(*s) {
		return false
	}
	if s.IsPrimary() {
		return true
	}
	return p.Primary != nil && p.Primary.IsSynced()
}

// Unavailable reports whether some content has no usable instance: the
// cluster is "probably unavailable".
func (st *Status) Unavailable() bool {
	for _, p := range st.Cluster.Pairs() {
		if !st.Usable(p, p.Primary) && !st.Usable(p, p.Mirror) {
			return true
		}
	}
	return false
}

// Counts are the brief report's per-group counters (spec §2.4.1).
type Counts struct {
	Total, Valid, Failures           int
	PIDFilesMissing, PIDFilesFound   int
	PIDsMissing, PIDsFound           int
	LockFilesMissing, LockFilesFound int
	ProcessesMissing, ProcessesFound int
	ActingAsPrimary, ActingAsMirror  int // mirrors only
}

// Count counts the segments whose preferred role is role.
func (st *Status) Count(role cluster.Role) Counts {
	var c Counts
	for _, s := range st.Cluster.Segments() {
		if s.PreferredRole != role {
			continue
		}
		c.Total++
		if s.IsUp() {
			c.Valid++
		} else {
			c.Failures++
		}
		if role == cluster.RoleMirror {
			if s.IsPrimary() {
				c.ActingAsPrimary++
			} else {
				c.ActingAsMirror++
			}
		}
		o := st.observed(s)
		if o.HostErr != "" {
			c.PIDFilesMissing++
			c.PIDsMissing++
			c.LockFilesMissing++
			c.ProcessesMissing++
			continue
		}
		count(o.PIDFile, &c.PIDFilesFound, &c.PIDFilesMissing)
		count(o.Lock, &c.LockFilesFound, &c.LockFilesMissing)
		count(o.PID != 0, &c.PIDsFound, &c.PIDsMissing)
		count(o.PID != 0 && o.PIDError(s.Port) == "", &c.ProcessesFound, &c.ProcessesMissing)
	}
	return c
}

func count(found bool, yes, no *int) {
	if found {
		*yes++
	} else {
		*no++
	}
}

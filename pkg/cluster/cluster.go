// Package cluster is the Greenplum segment model: typed rows of
// gp_segment_configuration, a validated Cluster with sorted accessors, and
// the thin database layer around it (loading, connecting, catalog writes,
// history rows, the FTS trigger, version and flavour detection, coordinator
// discovery).
//
// Pure functions build SQL text, connection options and statement lists, so
// tests pin them against the GP6 transcripts; every value reaches the server
// as a bound parameter.
package cluster

import (
	"slices"
	"sort"
)

// Cluster is a validated segment configuration. The zero value is not
// usable; build one with New or Load. Accessors return fresh, sorted slices
// (content, then current role with primary first, then dbid), never map order.
type Cluster struct {
	segs []Segment // sorted by sortSegments
}

// New validates segs and returns the Cluster they describe. It enforces
// structural invariants: unique dbids; at most one row per (content,
// preferred_role); exactly one current primary and at most one current
// mirror per content; a coordinator (content -1, role p) and at most one
// standby; contents 0..N-1 contiguous; valid role, mode and status codes;
// ports in 1..65535; absolute data directories; no two instances sharing a
// host:port or a host:datadir. Pair states are checked separately by
// ValidatePairs. The error is a *ConfigError listing every problem.
func New(segs []Segment) (*Cluster, error) {
	sorted := slices.Clone(segs)
	sortSegments(sorted)
	if problems := validateRows(sorted); len(problems) > 0 {
		return nil, &ConfigError{Problems: problems, Segments: sorted}
	}
	return &Cluster{segs: sorted}, nil
}

// All returns every row, coordinator and standby included.
func (c *Cluster) All() []Segment { return slices.Clone(c.segs) }

// Dump renders every row in Greenplum's pipe-separated form, one per line.
func (c *Cluster) Dump() string { return dump(c.segs) }

// Coordinator returns the coordinator row (content -1, role p); New
// guarantees there is one (the zero Cluster returns a zero Segment).
func (c *Cluster) Coordinator() Segment {
	for _, s := range c.segs {
		if s.IsCoordinator() {
			return s
		}
	}
	return Segment{}
}

// Standby returns the coordinator's standby row, if one is configured.
func (c *Cluster) Standby() (Segment, bool) {
	for _, s := range c.segs {
		if s.IsStandby() {
			return s, true
		}
	}
	return Segment{}, false
}

// Segments returns the primary and mirror rows (content >= 0).
func (c *Cluster) Segments() []Segment { return c.filter(Segment.IsSegment) }

// Primaries returns the rows currently acting as primary (content >= 0).
func (c *Cluster) Primaries() []Segment {
	return c.filter(func(s Segment) bool { return s.IsSegment() && s.IsPrimary() })
}

// Mirrors returns the rows currently acting as mirror (content >= 0).
func (c *Cluster) Mirrors() []Segment {
	return c.filter(func(s Segment) bool { return s.IsSegment() && s.IsMirror() })
}

// Unbalanced returns the segment rows whose current role differs from their
// preferred role (spec §1.7 "unbalanced segments").
func (c *Cluster) Unbalanced() []Segment {
	return c.filter(func(s Segment) bool { return s.IsSegment() && !s.IsBalanced() })
}

// HasMirrors reports whether any segment row has preferred role m.
func (c *Cluster) HasMirrors() bool {
	for _, s := range c.segs {
		if s.IsSegment() && s.PreferredRole == RoleMirror {
			return true
		}
	}
	return false
}

// NumContents returns the number of segment contents (primaries).
func (c *Cluster) NumContents() int {
	n := 0
	for _, s := range c.segs {
		if s.IsSegment() && s.IsPrimary() {
			n++
		}
	}
	return n
}

// ByDBID returns the row with the given dbid.
func (c *Cluster) ByDBID(dbid int) (Segment, bool) {
	for _, s := range c.segs {
		if s.DBID == dbid {
			return s, true
		}
	}
	return Segment{}, false
}

// Hosts returns the distinct hostnames of segment rows (content >= 0),
// sorted. The coordinator's and standby's hosts are included only if they
// also run segments; see AllHosts.
func (c *Cluster) Hosts() []string { return hostsOf(c.Segments()) }

// AllHosts returns the distinct hostnames of every row, coordinator and
// standby included, sorted.
func (c *Cluster) AllHosts() []string { return hostsOf(c.segs) }

// HostSegments is the segment rows that live on one host.
type HostSegments struct {
	Host     string
	Segments []Segment // sorted like Cluster.Segments
}

// SegmentsByHost groups the segment rows (content >= 0) by hostname, hosts
// sorted by name.
func (c *Cluster) SegmentsByHost() []HostSegments {
	var out []HostSegments
	for _, h := range c.Hosts() {
		out = append(out, HostSegments{
			Host:     h,
			Segments: c.filter(func(s Segment) bool { return s.IsSegment() && s.Hostname == h }),
		})
	}
	return out
}

func (c *Cluster) filter(keep func(Segment) bool) []Segment {
	var out []Segment
	for _, s := range c.segs {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

func hostsOf(segs []Segment) []string {
	seen := map[string]bool{}
	var hosts []string
	for _, s := range segs {
		if !seen[s.Hostname] {
			seen[s.Hostname] = true
			hosts = append(hosts, s.Hostname)
		}
	}
	sort.Strings(hosts)
	return hosts
}

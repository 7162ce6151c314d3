package placement

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// StandardArray reports whether the cluster looks like a standard array
// (spec §5.3) and, when not, why, in Greenplum's words: every host with
// segments has the same numbers of primaries and mirrors, and every
// segment address is the host name or <host>-<digits>, with the same
// sorted suffixes on every host. Hosts are visited in sorted order.
func StandardArray(c *cluster.Cluster) (bool, string) {
	type counts struct{ primaries, mirrors int }
	var first string
	var firstCounts counts
	var firstSuffixes []string
	for i, hs := range c.SegmentsByHost() {
		var n counts
		var suffixes []string
		for _, s := range hs.Segments {
			if s.IsPrimary() {
				n.primaries++
			} else {
				n.mirrors++
			}
		}
		if i == 0 {
			first, firstCounts = hs.Host, n
		}
		switch {
		case n.primaries != firstCounts.primaries:
			return false, fmt.Sprintf("The number of primary segments is not consistent across all nodes: %s != %s.", hs.Host, first)
		case n.mirrors != firstCounts.mirrors:
			return false, fmt.Sprintf("The number of mirror segments is not consistent across all nodes. %s != %s.", hs.Host, first)
		}
		for _, s := range hs.Segments {
			if s.Address == hs.Host {
				if len(suffixes) > 0 {
					return false, fmt.Sprintf("The address value for %s is the same as the host name, but other addresses on the host are not.", s.Address)
				}
				continue
			}
			parts := strings.Split(s.Address, "-")
			suffix := parts[len(parts)-1]
			if suffix == "" || strings.IndexFunc(suffix, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
				return false, fmt.Sprintf("The address value for %s does not correspond to a standard address.", s.Address)
			}
			suffixes = append(suffixes, suffix)
		}
		sort.Strings(suffixes)
		if i == 0 {
			firstSuffixes = suffixes
		} else if !slices.Equal(suffixes, firstSuffixes) {
			return false, fmt.Sprintf("The address list for %s doesn't not have the same pattern as %s.", pyList(suffixes), pyList(firstSuffixes))
		}
	}
	return true, ""
}

// pyList prints a list of strings as Python's str() does: ['1', '2'].
func pyList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + s + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

package placement_test

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/placement"
)

func TestStandardArray(t *testing.T) {
	tests := []struct {
		name   string
		edit   func([]cluster.Segment)
		reason string
	}{
		{"standard", func([]cluster.Segment) {}, ""},
		{"uneven primaries", func(s []cluster.Segment) { s[4].Hostname = "sdw1"; s[4].Port = 6002 },
			"The number of primary segments is not consistent across all nodes: sdw2 != sdw1."},
		{"non-numeric suffix", func(s []cluster.Segment) { s[1].Address = "sdw1-a" },
			"The address value for sdw1-a does not correspond to a standard address."},
		{"host name after suffixed address", func(s []cluster.Segment) { s[2].Address = "sdw1" },
			"The address value for sdw1 is the same as the host name, but other addresses on the host are not."},
		{"different suffixes", func(s []cluster.Segment) { s[3].Address = "sdw2-2" },
			"The address list for ['1', '2'] doesn't not have the same pattern as ['1', '1']."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs := clustertest.ReadSegments(t, golden.Path("segconfig", "mirrorless_2host.json"))
			tt.edit(segs)
			c, err := cluster.New(segs)
			if err != nil {
				t.Fatal(err)
			}
			ok, reason := placement.StandardArray(c)
			if ok != (tt.reason == "") || reason != tt.reason {
				t.Errorf("StandardArray = %v, %q; want %q", ok, reason, tt.reason)
			}
		})
	}
}

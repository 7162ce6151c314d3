package placement_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/placement"
)

// failedOn returns the mirrored_group fixture (contents 0 and 1 with
// primaries on sdw1, 2 and 3 on sdw2, group mirrors) after the instances
// of dbids went down: a failed primary's mirror took over (FTS).
func failedOn(t *testing.T, dbids ...int) (*cluster.Cluster, []cluster.Segment) {
	t.Helper()
	segs := clustertest.ReadSegments(t, golden.Path("segconfig", "mirrored_group.json"))
	for i := range segs {
		if !slices.Contains(dbids, segs[i].DBID) {
			continue
		}
		if segs[i].IsPrimary() {
			for k := range segs {
				if segs[k].ContentID == segs[i].ContentID && segs[k].DBID != segs[i].DBID {
					segs[k].Role, segs[k].Mode = cluster.RolePrimary, cluster.ModeNotSynced
				}
			}
		} else {
			for k := range segs {
				if segs[k].ContentID == segs[i].ContentID && segs[k].DBID != segs[i].DBID {
					segs[k].Mode = cluster.ModeNotSynced
				}
			}
		}
		segs[i].Role, segs[i].Mode, segs[i].Status = cluster.RoleMirror, cluster.ModeNotSynced, cluster.StatusDown
	}
	c, err := cluster.New(segs)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ValidatePairs(); err != nil {
		t.Fatal(err)
	}
	var failed []cluster.Segment
	for _, s := range c.Segments() {
		if !s.IsUp() {
			failed = append(failed, s)
		}
	}
	return c, failed
}

func movesText(ms []placement.Move) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("dbid %d %s:%d %s -> %s|%s:%d %s", m.Failed.DBID, m.Failed.Hostname, m.Failed.Port, m.Failed.DataDir,
			m.Target.Hostname, m.Target.Address, m.Target.Port, m.Target.DataDir))
	}
	return out
}

// TestOntoSpareHosts: spec §4.4.2 over fixtures: failed segments grouped
// by host, hosts sorted and zipped with the spare hosts in order; ports
// from the smallest segment port up, skipping those the catalog and
// earlier moves use on the spare host; data directories kept.
func TestOntoSpareHosts(t *testing.T) {
	for _, tt := range []struct {
		name     string
		down     []int
		spares   []string
		want     []string
		unneeded []string
	}{
		{"a whole host lost, one fresh spare", []int{2, 3, 8, 9}, []string{"sdw3"}, []string{
			"dbid 2 sdw1:6000 /data/primary/gpseg0 -> sdw3|sdw3:6000 /data/primary/gpseg0",
			"dbid 3 sdw1:6001 /data/primary/gpseg1 -> sdw3|sdw3:6001 /data/primary/gpseg1",
			"dbid 8 sdw1:7000 /data/mirror/gpseg2 -> sdw3|sdw3:6002 /data/mirror/gpseg2",
			"dbid 9 sdw1:7001 /data/mirror/gpseg3 -> sdw3|sdw3:6003 /data/mirror/gpseg3",
		}, nil},
		{"two failed hosts, sorted, one spare too many", []int{7, 8}, []string{"sdw4", "sdw3", "sdw5"}, []string{
			"dbid 8 sdw1:7000 /data/mirror/gpseg2 -> sdw4|sdw4:6000 /data/mirror/gpseg2",
			"dbid 7 sdw2:7001 /data/mirror/gpseg1 -> sdw3|sdw3:6000 /data/mirror/gpseg1",
		}, []string{"sdw5"}},
		{"a spare host of the cluster: its ports are skipped", []int{2, 8}, []string{"sdw2"}, []string{
			"dbid 2 sdw1:6000 /data/primary/gpseg0 -> sdw2|sdw2:6002 /data/primary/gpseg0",
			"dbid 8 sdw1:7000 /data/mirror/gpseg2 -> sdw2|sdw2:6003 /data/mirror/gpseg2",
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, failed := failedOn(t, tt.down...)
			moves, unneeded, err := placement.OntoSpareHosts(c, failed, tt.spares)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, movesText(moves)); d != "" {
				t.Errorf("moves (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.unneeded, unneeded); d != "" {
				t.Errorf("unneeded (-want +got):\n%s", d)
			}
			for _, m := range moves {
				f, tg := m.Failed, m.Target
				if tg.DBID != f.DBID || tg.ContentID != f.ContentID || tg.Role != f.Role || tg.PreferredRole != f.PreferredRole || tg.Status != f.Status {
					t.Errorf("target %s of %s: only host, address and port may change", tg, f)
				}
			}
		})
	}
}

func TestOntoSpareHostsRefusals(t *testing.T) {
	c, failed := failedOn(t, 7, 8)
	if _, _, err := placement.OntoSpareHosts(c, failed, []string{"sdw3"}); !errors.Is(err, placement.ErrTooFewSpareHosts) ||
		err.Error() != "Not enough new recovery hosts given for recovery." {
		t.Errorf("two failed hosts, one spare: %v", err)
	}

	// Every port from the smallest segment port up is taken on sdw1.
	segs := clustertest.ReadSegments(t, golden.Path("segconfig", "mirrored_group.json"))
	for i := range segs {
		if segs[i].IsSegment() {
			segs[i].Port = 65535 - len(segs) + i + 1
			segs[i].Hostname = "sdw1"
			segs[i].DataDir = fmt.Sprintf("/data/%d", i)
		}
	}
	full, err := cluster.New(segs)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := placement.NewPorts(full)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ports.Take("sdw1"); err == nil || err.Error() != "Unable to assign port on sdw1" {
		t.Errorf("a host with every port taken: %v", err)
	}
	if p, err := ports.Take("sdw9"); err != nil || p != 65535-len(segs)+2 {
		t.Errorf("a fresh host: port %d, %v; want the smallest segment port", p, err)
	}
}

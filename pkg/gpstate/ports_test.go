package gpstate

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestPortsGolden pins -p on every fixture, with Greenplum 7 and
// Cloudberry wording, run on the catalog alone (no observation, no SQL):
// segment rows only (the standby fixture lists no standby), always exit 0
// (spec §2.3).
func TestPortsGolden(t *testing.T) {
	for _, tt := range modesCases(
		modesCase{"gp7", modesFlavoured(cluster.GP7, healthyGP6)},
		modesCase{"cloudberry", modesFlavoured(cluster.Cloudberry, healthyGP6)},
	) {
		t.Run(tt.name, func(t *testing.T) {
			out, code, tr := modesRun(t, modesCatalogOnly(tt.make)(), (*report).ports, nil)
			if code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			if sql := tr.conn.SQL(); len(sql) != 0 {
				t.Errorf("-p ran SQL: %q", sql)
			}
			golden.Check(t, "gpstate", "ports_"+tt.name+".golden", []byte(out))
		})
	}
}

// TestPortsMatchesTranscript: -p prints what GP6 printed on the healthy
// cluster, line for line (gp6-all-modes-healthy.txt; see
// modesOriginalPrefix for how the renamed transcript is compared).
func TestPortsMatchesTranscript(t *testing.T) {
	f := healthyGP6()
	f.obs = nil
	modesCheckTranscript(t, "gp6-all-modes-healthy.txt -p", f, (*report).ports, nil, transcript(t, "-p"), 0)
}

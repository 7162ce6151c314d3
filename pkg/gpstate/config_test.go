package gpstate

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestConfigGolden pins -c on every fixture, with Greenplum 7 and
// Cloudberry wording, run on the catalog alone (no observation, no SQL);
// -c always exits 0 (spec §2.3).
func TestConfigGolden(t *testing.T) {
	for _, tt := range modesCases(
		modesCase{"gp7", modesFlavoured(cluster.GP7, healthyGP6)},
		modesCase{"cloudberry", modesFlavoured(cluster.Cloudberry, healthyGP6)},
	) {
		t.Run(tt.name, func(t *testing.T) {
			out, code, tr := modesRun(t, modesCatalogOnly(tt.make)(), (*report).config, nil)
			if code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			if sql := tr.conn.SQL(); len(sql) != 0 {
				t.Errorf("-c ran SQL: %q", sql)
			}
			golden.Check(t, "gpstate", "config_"+tt.name+".golden", []byte(out))
		})
	}
}

// TestConfigMatchesTranscripts: -c prints what GP6 printed, line for line,
// healthy (gp6-all-modes-healthy.txt) and after a primary failure and its
// recovery (reference/gp6-transcripts/failover-gprecoverseg-and-rebalance.txt,
// copied here; the fixtures primary_down and unbalanced are those states).
// See modesOriginalPrefix for how the renamed transcripts are compared.
func TestConfigMatchesTranscripts(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    *fixture
		want []string
	}{
		{"gp6-all-modes-healthy.txt -c", healthyGP6(), transcript(t, "-c")},
		{"failover -c (degraded)", primaryDown(), []string{
			"-------------------------------------------------------------",
			"-Current GPDB mirror list and status",
			"-Type = Group",
			"-------------------------------------------------------------",
			"   Status                             Data State     Primary   Datadir                                      Port   Mirror   Datadir                                             Port",
			"   Primary Active, Mirror Available   Synchronized   mdw        /data/dbfast1/demoDataDir0   7002   mdw       /data/dbfast_mirror1/demoDataDir0   7004",
			"WARNING: Mirror Active, Primary Failed      Not In Sync    mdw        /data/dbfast2/demoDataDir1   7003   mdw       /data/dbfast_mirror2/demoDataDir1   7005   <<<<<<<<",
			"-------------------------------------------------------------",
			"WARNING: 1 segment(s) configured as mirror(s) are acting as primaries",
			"WARNING: 1 primary segment(s) are not synchronized",
		}},
		{"failover -c (recovered, unbalanced)", unbalanced(), []string{
			"-------------------------------------------------------------",
			"-Current GPDB mirror list and status",
			"-Type = Group",
			"-------------------------------------------------------------",
			"   Status                             Data State     Primary   Datadir                                      Port   Mirror   Datadir                                             Port",
			"   Primary Active, Mirror Available   Synchronized   mdw        /data/dbfast1/demoDataDir0   7002   mdw       /data/dbfast_mirror1/demoDataDir0   7004",
			"   Mirror Active, Primary Available   Synchronized   mdw        /data/dbfast2/demoDataDir1   7003   mdw       /data/dbfast_mirror2/demoDataDir1   7005",
			"-------------------------------------------------------------",
			"WARNING: 1 segment(s) configured as mirror(s) are acting as primaries",
		}},
	} {
		tt.f.obs = nil
		modesCheckTranscript(t, tt.name, tt.f, (*report).config, nil, tt.want, 0)
	}
}

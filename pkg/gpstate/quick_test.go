package gpstate

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestQuickGolden pins -Q on every fixture, with Greenplum 7 and
// Cloudberry wording, run on the catalog alone (no observation, no SQL),
// and its exit code (spec §2.3): 1 exactly when a segment is down in the
// catalog (primary_down, mirror_down; host_unreachable is up in the
// catalog).
func TestQuickGolden(t *testing.T) {
	wantExit := map[string]int{"primary_down": 1, "mirror_down": 1, "gp7_mirror_down": 1}
	for _, tt := range modesCases(
		modesCase{"gp7", modesFlavoured(cluster.GP7, healthyGP6)},
		modesCase{"gp7_mirror_down", modesFlavoured(cluster.GP7, mirrorDown)},
		modesCase{"cloudberry", modesFlavoured(cluster.Cloudberry, healthyGP6)},
	) {
		t.Run(tt.name, func(t *testing.T) {
			out, code, tr := modesRun(t, modesCatalogOnly(tt.make)(), (*report).quick, nil)
			if code != wantExit[tt.name] {
				t.Errorf("exit code %d, want %d", code, wantExit[tt.name])
			}
			if sql := tr.conn.SQL(); len(sql) != 0 {
				t.Errorf("-Q ran SQL: %q", sql)
			}
			golden.Check(t, "gpstate", "quick_"+tt.name+".golden", []byte(out))
		})
	}
}

// TestQuickMatchesTranscripts: -Q prints what GP6 printed, line for line,
// healthy (gp6-all-modes-healthy.txt) and after a primary failure
// (reference/gp6-transcripts/failover-gprecoverseg-and-rebalance.txt,
// copied here; the fixture primary_down is that state). See
// modesOriginalPrefix for how the renamed transcripts are compared.
func TestQuickMatchesTranscripts(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    *fixture
		want []string
		code int
	}{
		{"gp6-all-modes-healthy.txt -Q", healthyGP6(), transcript(t, "-Q"), 0},
		{"failover -Q (degraded)", primaryDown(), []string{
			"-Quick Greenplum database status from Master instance only",
			"----------------------------------------------------------",
			"# of up segments, from configuration table     = 3",
			"# of down segments, from configuration table   = 1",
			"   Down Segment   Datadir                                      Port",
			"   mdw             /data/dbfast2/demoDataDir1   7003",
			"----------------------------------------------------------",
		}, 1},
	} {
		tt.f.obs = nil
		modesCheckTranscript(t, tt.name, tt.f, (*report).quick, nil, tt.want, tt.code)
	}
}

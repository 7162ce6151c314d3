package placement_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/placement"
)

// fixture reads the cluster fixture testdata/segconfig/<name>.json.
func fixture(t *testing.T, name string) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(clustertest.ReadSegments(t, golden.Path("segconfig", name+".json")))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// planText renders mirrors one per line in Greenplum's pipe form, primary
// first: the format of the plan golden files.
func planText(mirrors []placement.Mirror) []byte {
	var b strings.Builder
	for _, m := range mirrors {
		b.WriteString("primary " + m.Primary.String() + "\n")
		b.WriteString("mirror  " + m.Mirror.String() + "\n")
	}
	return []byte(b.String())
}

// TestPlanMirrorsWorkedExample is spec §5.3's worked example.
func TestPlanMirrorsWorkedExample(t *testing.T) {
	c := fixture(t, "mirrorless_2host")
	got, err := placement.PlanMirrors(c, placement.Placement{
		PortOffset: 1000, Locations: []string{"/data/m1", "/data/m2"}, Prefix: "gpseg",
	})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		DBID, Content int
		Host, Address string
		Port          int
		Dir           string
	}
	want := []row{
		{6, 0, "sdw2", "sdw2-1", 7000, "/data/m1/gpseg0"},
		{7, 1, "sdw2", "sdw2-1", 7001, "/data/m2/gpseg1"},
		{8, 2, "sdw1", "sdw1-1", 7000, "/data/m1/gpseg2"},
		{9, 3, "sdw1", "sdw1-1", 7001, "/data/m2/gpseg3"},
	}
	var rows []row
	for _, m := range got {
		s := m.Mirror
		rows = append(rows, row{s.DBID, s.ContentID, s.Hostname, s.Address, s.Port, s.DataDir})
		if s.Role != cluster.RoleMirror || s.PreferredRole != cluster.RoleMirror || s.Mode != cluster.ModeNotSynced || s.Status != cluster.StatusUp {
			t.Errorf("mirror %s: want role m, preferred m, mode n, status u", s)
		}
		if m.Primary.ContentID != s.ContentID || m.Primary.Mode != cluster.ModeNotSynced {
			t.Errorf("primary %s of mirror %s: want the same content, mode n", m.Primary, s)
		}
	}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestPlanMirrorsGolden places mirrors on one to four hosts, group and
// spread; each golden file was checked by hand against spec §5.3.
func TestPlanMirrorsGolden(t *testing.T) {
	tests := []struct {
		fixture   string
		spread    bool
		offset    int
		locations []string
		prefix    string
		golden    string
	}{
		{"gpdemo_mirrorless", false, 2, []string{"/data/dbfast_mirror1", "/data/dbfast_mirror2"}, "demoDataDir", "plan_1host_group.golden"},
		{"mirrorless_2host", false, 1000, []string{"/data/mirror", "/data/mirror"}, "gpseg", "plan_2host_group.golden"},
		{"mirrorless_3host", false, 1000, []string{"/data1/mirror", "/data2/mirror"}, "gpseg", "plan_3host_group.golden"},
		{"mirrorless_3host", true, 1000, []string{"/data1/mirror", "/data2/mirror"}, "gpseg", "plan_3host_spread.golden"},
		{"mirrorless_4host", false, 500, []string{"/m1", "/m2", "/m3"}, "gpseg", "plan_4host_group.golden"},
		{"mirrorless_4host", true, -500, []string{"/m1", "/m2", "/m3"}, "gpseg", "plan_4host_spread.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := placement.PlanMirrors(fixture(t, tt.fixture), placement.Placement{
				Spread: tt.spread, PortOffset: tt.offset, Locations: tt.locations, Prefix: tt.prefix,
			})
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "placement", tt.golden, planText(got))
		})
	}
}

func TestPlanMirrorsRefusals(t *testing.T) {
	tests := []struct {
		name      string
		fixture   string
		spread    bool
		locations []string
		want      string
	}{
		{"already mirrored", "mirrored_group", false, []string{"/m1", "/m2"},
			"GPDB physical mirroring cannot be added.  The cluster is already configured with Mirrors."},
		{"spread on one host", "gpdemo_mirrorless", true, []string{"/m1", "/m2"},
			"Not enough hosts for spread mirroring.  You must have more hosts than primary segments per host (1 hosts with primaries, up to 2 primaries per host)"},
		{"spread on two hosts with two primaries each", "mirrorless_2host", true, []string{"/m1", "/m2"},
			"Not enough hosts for spread mirroring.  You must have more hosts than primary segments per host (2 hosts with primaries, up to 2 primaries per host)"},
		{"too few locations", "mirrorless_2host", false, []string{"/m1"},
			"Number of data directories must equal 2 but 1 were given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := placement.PlanMirrors(fixture(t, tt.fixture), placement.Placement{
				Spread: tt.spread, PortOffset: 1000, Locations: tt.locations, Prefix: "gpseg",
			})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	_, err := placement.PlanMirrors(fixture(t, "mirrored_group"), placement.Placement{Locations: []string{"/m1", "/m2"}})
	var exp *app.ExpectedError
	if !errors.As(err, &exp) || !errors.Is(err, placement.ErrHasMirrors) {
		t.Errorf("mirrored cluster: %v; want an ExpectedError wrapping ErrHasMirrors (exit 2)", err)
	}
}

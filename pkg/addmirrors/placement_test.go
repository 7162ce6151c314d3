package addmirrors_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestPlanMirrorsWorkedExample is spec §5.3's worked example.
func TestPlanMirrorsWorkedExample(t *testing.T) {
	c := fixture(t, "segconfig/mirrorless_2host")
	got, err := addmirrors.PlanMirrors(c, addmirrors.Placement{
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
		{"segconfig/mirrorless_2host", false, 1000, []string{"/data/mirror", "/data/mirror"}, "gpseg", "plan_2host_group.golden"},
		{"mirrorless_3host", false, 1000, []string{"/data1/mirror", "/data2/mirror"}, "gpseg", "plan_3host_group.golden"},
		{"mirrorless_3host", true, 1000, []string{"/data1/mirror", "/data2/mirror"}, "gpseg", "plan_3host_spread.golden"},
		{"mirrorless_4host", false, 500, []string{"/m1", "/m2", "/m3"}, "gpseg", "plan_4host_group.golden"},
		{"mirrorless_4host", true, -500, []string{"/m1", "/m2", "/m3"}, "gpseg", "plan_4host_spread.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := addmirrors.PlanMirrors(fixture(t, tt.fixture), addmirrors.Placement{
				Spread: tt.spread, PortOffset: tt.offset, Locations: tt.locations, Prefix: tt.prefix,
			})
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "addmirrors", tt.golden, planText(got))
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
		{"already mirrored", "segconfig/mirrored_group", false, []string{"/m1", "/m2"},
			"GPDB physical mirroring cannot be added.  The cluster is already configured with Mirrors."},
		{"spread on one host", "gpdemo_mirrorless", true, []string{"/m1", "/m2"},
			"Not enough hosts for spread mirroring.  You must have more hosts than primary segments per host (1 hosts with primaries, up to 2 primaries per host)"},
		{"spread on two hosts with two primaries each", "segconfig/mirrorless_2host", true, []string{"/m1", "/m2"},
			"Not enough hosts for spread mirroring.  You must have more hosts than primary segments per host (2 hosts with primaries, up to 2 primaries per host)"},
		{"too few locations", "segconfig/mirrorless_2host", false, []string{"/m1"},
			"Number of data directories must equal 2 but 1 were given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := addmirrors.PlanMirrors(fixture(t, tt.fixture), addmirrors.Placement{
				Spread: tt.spread, PortOffset: 1000, Locations: tt.locations, Prefix: "gpseg",
			})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	_, err := addmirrors.PlanMirrors(fixture(t, "segconfig/mirrored_group"), addmirrors.Placement{Locations: []string{"/m1", "/m2"}})
	var exp *app.ExpectedError
	if !errors.As(err, &exp) || !errors.Is(err, addmirrors.ErrHasMirrors) {
		t.Errorf("mirrored cluster: %v; want an ExpectedError wrapping ErrHasMirrors (exit 2)", err)
	}
}

func TestDirPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"/data/coordinator/gpseg-1": "gpseg",
		"/data/qddir/demoDataDir-1": "demoDataDir",
		"/data/master/dg-1/":        "dg",
		"/data/master/-1":           "gp",
		"/data/master/coordinator":  "gp",
		"/data/x-1y-1z":             "x-1y",
	} {
		if got := addmirrors.DirPrefix(in); got != want {
			t.Errorf("DirPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckPortOffset(t *testing.T) {
	c := fixture(t, "segconfig/mirrorless_2host") // ports 5432..6001
	tests := []struct {
		offset int
		ok     bool
	}{
		{1000, true},   // 6432..9001
		{999, false},   // 6431: below 6432
		{18333, true},  // 6000+3*18333 = 60999
		{18334, false}, // 61002
		{-100, false},  // 5432-300
	}
	for _, tt := range tests {
		err := addmirrors.CheckPortOffset(c, tt.offset)
		if (err == nil) != tt.ok {
			t.Errorf("offset %d: error %v, want ok=%v", tt.offset, err, tt.ok)
		}
		if err != nil && err.Error() != "Value of port offset supplied via -p option produces ports outside of the valid rangeMirror port base range must be between 6432 and 61000" {
			t.Errorf("offset %d: message %q", tt.offset, err)
		}
	}
	hi := fixture(t, "mirrorless_3host") // 5432..6001
	if err := addmirrors.CheckPortOffset(hi, 1000); err != nil {
		t.Error(err)
	}
}

func TestCheckConflicts(t *testing.T) {
	c := fixture(t, "gpdemo_mirrorless")
	p := c.Primaries()
	m := func(primary cluster.Segment, dbid, port int, dir string) addmirrors.Mirror {
		s := primary
		s.DBID, s.Role, s.PreferredRole, s.Port, s.DataDir = dbid, cluster.RoleMirror, cluster.RoleMirror, port, dir
		return addmirrors.Mirror{Primary: primary, Mirror: s}
	}
	ok := []addmirrors.Mirror{m(p[0], 4, 7004, "/m/demoDataDir0"), m(p[1], 5, 7005, "/m/demoDataDir1")}
	if err := addmirrors.CheckConflicts(c, ok); err != nil {
		t.Fatal(err)
	}
	bad := []addmirrors.Mirror{m(p[0], 4, 7003, "/m/demoDataDir0"), m(p[1], 5, 7005, "/data/dbfast1/demoDataDir0/")}
	want := "Segment dbid's 3 and 4 on host mdw cannot have the same port 7003.\n" +
		"Segment dbid's 2 and 5 on host mdw cannot have the same data directory '/data/dbfast1/demoDataDir0/'."
	if err := addmirrors.CheckConflicts(c, bad); err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

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
			segs := fixtureSegments(t, "segconfig", "mirrorless_2host")
			tt.edit(segs)
			c, err := cluster.New(segs)
			if err != nil {
				t.Fatal(err)
			}
			ok, reason := addmirrors.StandardArray(c)
			if ok != (tt.reason == "") || reason != tt.reason {
				t.Errorf("StandardArray = %v, %q; want %q", ok, reason, tt.reason)
			}
		})
	}
}

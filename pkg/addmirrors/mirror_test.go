package addmirrors_test

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

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
	c := fixture(t, "mirrorless_2host") // ports 5432..6001
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

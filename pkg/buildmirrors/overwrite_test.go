package buildmirrors_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

// inPlace are mirrors of the catalog in withMirrors() rebuilt in place
// (gprecoverseg -F): their rows are there, down.
func inPlace() []buildmirrors.Mirror {
	var ms []buildmirrors.Mirror
	for _, m := range mirrors {
		m.Target.Status, m.Target.Mode = cluster.StatusDown, cluster.ModeNotSynced
		m.Overwrite = true
		ms = append(ms, m)
	}
	return ms
}

// TestStaleDirectoryIsNotReused: a directory whose contents look like a
// finished copy of the mirror (gp_dbid, standby, port) but that has no copy
// marker is not taken for one: it may be a failed mirror's own stale
// directory. A new mirror's target is refused as not empty.
func TestStaleDirectoryIsNotReused(t *testing.T) {
	ex := fakeHosts(map[int]string{5: "state=notempty gpdbid=5 port=7000 standby=1 pid= busy=0 avail=100000000 copied="}, nil)
	_, err := buildmirrors.Run(t.Context(), env(ex, fakeDB(false)), opts(false), mirrors)
	var ie *buildmirrors.InputError
	if !asInput(err, &ie) || !strings.Contains(err.Error(), "Segment directory '/data/mirror/gpseg1' exists but is not empty!") {
		t.Fatalf("%v, want the not-empty refusal", err)
	}
}

// TestOverwriteInPlace: failed mirrors rebuilt into their own registered
// directories: the copy gets --force-overwrite, no row is added (the rows
// are already down and not in sync, so nothing is written), the markers
// are forgotten once the mirrors stream, and the outcome is success.
func TestOverwriteInPlace(t *testing.T) {
	ex := fakeHosts(map[int]string{
		4: "state=notempty gpdbid=4 port=7000 standby=1 pid= busy=0 avail=1 copied=",
		5: "state=notempty gpdbid=5 port=7000 standby=0 pid= busy=0 avail=1 copied=",
	}, nil)
	db := fakeDB(false)
	db.On(cluster.LoadSQL, clustertest.SegmentRows(withMirrors()))
	o := opts(false)
	o.Prog = "gprecoverseg"
	rep, err := buildmirrors.Run(t.Context(), env(ex, db), o, inPlace())
	if err != nil || len(rep.Failed()) != 0 {
		t.Fatalf("run: %v %+v", err, rep.Failed())
	}
	var copies, unmarks int
	for _, c := range ex.Calls() {
		if strings.HasPrefix(c.Label, "pg_basebackup") {
			copies++
			if !slices.Contains(c.Args, "--force-overwrite") {
				t.Errorf("copy without --force-overwrite: %v", c.Args)
			}
		}
		if strings.HasPrefix(c.Label, "forget the finished copy") {
			unmarks++
		}
		if strings.HasPrefix(c.Label, "remove directory") {
			t.Errorf("a failed instance's directory was removed: %s", c.Label)
		}
	}
	if copies != 2 || unmarks != 2 {
		t.Errorf("%d copies and %d markers forgotten, want 2 and 2", copies, unmarks)
	}
	if slices.Contains(db.SQL(), cluster.AddSegmentSQL) || slices.Contains(db.SQL(), clustertest.SQLBegin) {
		t.Errorf("the catalog was written for rows already right:\n%s", strings.Join(db.SQL(), "\n"))
	}
}

// TestOverwriteRefusals: the catalog read inside the run, and the target
// probe, must agree that the directory is the failed instance's: another
// instance's directory (gp_dbid) and an instance up in the catalog (the
// acting primary always is) are refused before anything changes.
func TestOverwriteRefusals(t *testing.T) {
	up := withMirrors()
	up[3].Status = cluster.StatusUp
	for _, tt := range []struct {
		name    string
		catalog []cluster.Segment
		probe   string
		want    string
	}{
		{"another instance's directory", withMirrors(), "state=notempty gpdbid=9 port=7000 standby=1 pid= busy=0 avail=1 copied=",
			"holds gp_dbid 9 in internal.auto.conf, not 4: it is not this instance's directory"},
		{"up in the catalog", up, "", "it is up in the catalog: only a failed instance is copied over"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			probes := map[int]string{}
			if tt.probe != "" {
				probes[4] = tt.probe
			}
			ex := fakeHosts(probes, nil)
			db := fakeDB(false)
			db.On(cluster.LoadSQL, clustertest.SegmentRows(tt.catalog))
			_, err := buildmirrors.Run(t.Context(), env(ex, db), opts(false), inPlace())
			var ie *buildmirrors.InputError
			if !asInput(err, &ie) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%v, want a refusal saying %q", err, tt.want)
			}
			for _, c := range ex.Calls() {
				if !strings.HasPrefix(c.Label, "check mirror targets") && !strings.HasPrefix(c.Label, "measure primaries") {
					t.Errorf("ran %q after the refusal", c.Label)
				}
			}
		})
	}
}

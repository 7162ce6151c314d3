package gpstop

import (
	"errors"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

const hostileDir = `/data/dbfast_mirror1/demo"; touch /tmp/owned; "`

// withHostileMirror loads gp6Demo with content 0's mirror in a directory
// that pg_ctl's /bin/sh would split.
func (r *rig) withHostileMirror() {
	segs := gp6Demo()
	for i := range segs {
		if segs[i].DBID == 4 {
			segs[i].DataDir = hostileDir
		}
	}
	r.conn.On(cluster.LoadSQL, clustertest.SegmentRows(segs))
}

// stopped reports whether the run stopped anything.
func (r *rig) stopped() bool {
	for _, c := range r.exec.Calls() {
		if strings.Contains(c.Script, "stop_one()") || len(c.Argv) > 1 && c.Argv[1] == "stop" {
			return true
		}
	}
	return false
}

// TestUnsafeCatalogStops: stopping goes through no shell, so gpstop warns
// about a catalog row a shell would interpret and stops the cluster.
func TestUnsafeCatalogStops(t *testing.T) {
	r := newRig(t, "", nil)
	r.withHostileMirror()
	if err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true}}); err != nil {
		t.Fatal(err)
	}
	want := `[WARNING]:-content 0 mirror (dbid 4) in gp_segment_configuration: data directory ` + hostileDir + ` contains '"'`
	if !strings.Contains(r.out.String(), want) {
		t.Errorf("no %q in\n%s", want, r.out)
	}
	if !r.stopped() {
		t.Error("nothing was stopped")
	}
}

// TestUnsafeCatalogRestartRefused: -r would start the cluster again, so
// it refuses before stopping anything.
func TestUnsafeCatalogRestartRefused(t *testing.T) {
	r := newRig(t, "", nil)
	r.withHostileMirror()
	err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true}, Restart: true})
	var expected *app.ExpectedError
	if !errors.As(err, &expected) || !strings.HasPrefix(err.Error(), "content 0 mirror (dbid 4) in gp_segment_configuration: data directory "+hostileDir+` contains '"'`) {
		t.Fatalf("got %v", err)
	}
	if r.stopped() {
		t.Error("something was stopped")
	}
}

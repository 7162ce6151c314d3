package coordinator_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
)

const (
	hostileMirror = "/data/dbfast_mirror1/$(touch /tmp/owned)"
	shellWhy      = ": pg_ctl passes paths to /bin/sh inside double quotes, where '$' is interpreted; use a path without $ ` \" \\ or control characters"
	warnTail      = " (tools that start or copy instances refuse this cluster until it is fixed)"
)

// withMirrorDir is the gpdemo catalog with content 0's mirror at dir.
func withMirrorDir(dir string) []cluster.Segment {
	segs := gpdemo()
	for i := range segs {
		if segs[i].DBID == 4 {
			segs[i].DataDir = dir
		}
	}
	return segs
}

// TestOpenUnsafeCatalog: a catalog row whose data directory a shell would
// interpret stops every tool right after the load (exit 2, the connection
// closed, nothing else asked), unless the tool only reads (gpstate), which
// logs a warning and goes on.
func TestOpenUnsafeCatalog(t *testing.T) {
	t.Run("refuse", func(t *testing.T) {
		b := newRig(t, cluster.GP6)
		b.conn.On(cluster.LoadSQL, clustertest.SegmentRows(withMirrorDir(hostileMirror)))
		_, err := b.open(t, coordinator.Options{})
		want := "content 0 mirror (dbid 4) in gp_segment_configuration: data directory " + hostileMirror + " contains '$'" + shellWhy
		var expected *app.ExpectedError
		var unsafe *cluster.UnsafeCatalogError
		if err == nil || err.Error() != want || !errors.As(err, &expected) || !errors.As(err, &unsafe) {
			t.Fatalf("got  %v\nwant %s (an ExpectedError)", err, want)
		}
		if b.conn.CloseCount() != 1 {
			t.Errorf("connection closed %d times, want once", b.conn.CloseCount())
		}
		if sql := b.conn.SQL(); sql[len(sql)-1] != cluster.LoadSQL {
			t.Errorf("statements after the load: %q", sql)
		}
	})
	t.Run("warn", func(t *testing.T) {
		b := newRig(t, cluster.GP6)
		b.conn.On(cluster.LoadSQL, clustertest.SegmentRows(withMirrorDir(hostileMirror)))
		c, err := b.open(t, coordinator.Options{Utility: true, UnsafePaths: coordinator.WarnUnsafe})
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := c.Cluster.ByDBID(4); !ok || m.DataDir != hostileMirror {
			t.Errorf("dbid 4: %+v", m)
		}
		want := "[WARNING]:-content 0 mirror (dbid 4) in gp_segment_configuration: data directory " + hostileMirror + " contains '$'" + shellWhy + warnTail + "\n"
		if !strings.Contains(b.out.String(), want) {
			t.Errorf("no warning %q in\n%s", want, b.out)
		}
	})
}

// TestOpenUnsafeDataDir: a coordinator data directory a shell would
// interpret is refused before anything is read or connected; with
// WarnUnsafe it is reported once, though the catalog's coordinator row
// holds it too.
func TestOpenUnsafeDataDir(t *testing.T) {
	for _, policy := range []coordinator.PathPolicy{coordinator.RefuseUnsafe, coordinator.WarnUnsafe} {
		b := newRig(t, cluster.GP6)
		mdd := filepath.Join(t.TempDir(), "gpseg-1$(reboot)")
		if err := os.Rename(b.dir, mdd); err != nil {
			t.Fatal(err)
		}
		b.vars["MASTER_DATA_DIRECTORY"] = mdd
		segs := gpdemo()
		segs[0].DataDir = mdd
		b.conn.On(cluster.LoadSQL, clustertest.SegmentRows(segs))
		msg := "coordinator data directory " + mdd + " contains '$'" + shellWhy
		_, err := b.open(t, coordinator.Options{Utility: true, UnsafePaths: policy})
		if policy == coordinator.RefuseUnsafe {
			var expected *app.ExpectedError
			if err == nil || err.Error() != msg || !errors.As(err, &expected) {
				t.Fatalf("got  %v\nwant %s", err, msg)
			}
			if len(b.conn.Configs()) != 0 {
				t.Error("connected")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(b.out.String(), "[WARNING]:-"); n != 1 || !strings.Contains(b.out.String(), "[WARNING]:-"+msg+warnTail+"\n") {
			t.Errorf("want one warning %q, got %d in\n%s", msg, n, b.out)
		}
	}
}

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

// TestOpenNotCoordinator: a data directory given as the coordinator's that
// is a mirror's or a segment's is refused with one line saying so, before
// any connection when its files tell, else right after the catalog load.
func TestOpenNotCoordinator(t *testing.T) {
	const fix = "; set MASTER_DATA_DIRECTORY or pass -d with the master data directory"
	for _, tt := range []struct {
		name      string
		setup     func(t *testing.T, b *rig)
		want      string // %s is the data directory
		hint      string
		connected bool
	}{
		{name: "mirror",
			setup: func(t *testing.T, b *rig) { b.write(t, "recovery.conf", "standby_mode = 'on'\n") },
			want:  "%s is the data directory of a mirror or a standby, not of the master (it holds recovery.conf)" + fix},
		{name: "gp7 segment",
			setup: func(t *testing.T, b *rig) {
				b.write(t, "postmaster.opts", `/usr/local/gpdb/bin/postgres "-D" "/data/primary/gpseg0" "-c" "gp_role=execute"`+"\n")
			},
			want: "%s is the data directory of a segment, not of the master (its postmaster.opts shows gp_role=execute)" + fix},
		{name: "segment with an empty catalog", connected: true,
			setup: func(t *testing.T, b *rig) { b.conn.On(cluster.LoadSQL, clustertest.SegmentRows(nil)) },
			want:  "load segment configuration: Invalid GpArray: no rows in gp_segment_configuration",
			hint:  "is %s a segment's data directory? Set MASTER_DATA_DIRECTORY or pass -d with the master data directory"},
		{name: "segment serving a catalog", connected: true,
			setup: func(t *testing.T, b *rig) { b.write(t, "postgresql.conf", "port = 7002\n") },
			want:  "%s is the data directory of another instance, not of the master (it runs on port 7002, and gp_segment_configuration has the master on mdw:7000)" + fix},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newRig(t, cluster.GP6)
			tt.setup(t, b)
			_, err := b.open(t, coordinator.Options{Utility: true})
			var expected *app.ExpectedError
			if want := strings.ReplaceAll(tt.want, "%s", b.dir); err == nil || err.Error() != want || !errors.As(err, &expected) {
				t.Fatalf("got  %v\nwant %s", err, want)
			}
			var hint *app.HintError
			if got := errors.As(err, &hint); got != (tt.hint != "") || got && hint.Hint != strings.ReplaceAll(tt.hint, "%s", b.dir) {
				t.Errorf("hint %+v, want %q", hint, tt.hint)
			}
			if connected := len(b.conn.Configs()) > 0; connected != tt.connected {
				t.Errorf("connected %v, want %v", connected, tt.connected)
			}
		})
	}
}

// TestOpenCoordinatorByPathOrPort: the catalog's coordinator row may
// differ from the instance in either its port (postgresql.conf edited) or
// the spelling of its directory (-d through a symbolic link), not both.
func TestOpenCoordinatorByPathOrPort(t *testing.T) {
	t.Run("port changed in postgresql.conf", func(t *testing.T) {
		b := newRig(t, cluster.GP6)
		b.write(t, "postgresql.conf", "port = 7100\n")
		segs := gpdemo()
		segs[0].DataDir = b.dir
		b.conn.On(cluster.LoadSQL, clustertest.SegmentRows(segs))
		if _, err := b.open(t, coordinator.Options{Utility: true}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("through a symbolic link", func(t *testing.T) {
		b := newRig(t, cluster.GP6)
		b.write(t, "postgresql.conf", "port = 7100\n")
		link := filepath.Join(t.TempDir(), "mdd")
		if err := os.Symlink(b.dir, link); err != nil {
			t.Fatal(err)
		}
		b.vars["MASTER_DATA_DIRECTORY"] = link
		segs := gpdemo()
		segs[0].DataDir = b.dir
		b.conn.On(cluster.LoadSQL, clustertest.SegmentRows(segs))
		if _, err := b.open(t, coordinator.Options{Utility: true}); err != nil {
			t.Fatal(err)
		}
	})
}

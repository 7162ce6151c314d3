package startup

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// hostileMirror is spread() with content 1's mirror in a directory that
// pg_ctl's /bin/sh would expand.
func hostileMirror() []cluster.Segment {
	segs := spread()
	for i := range segs {
		if segs[i].DBID == 6 {
			segs[i].DataDir = "/data/mirror/`touch /tmp/owned`"
		}
	}
	return segs
}

// TestUnsafeCatalogRefused: a catalog row a shell would interpret stops
// gpstart right after the catalog is read from the admin-mode coordinator,
// which is stopped again; no segment start is attempted, no era written.
func TestUnsafeCatalogRefused(t *testing.T) {
	r := newRig(t, gp7Version, hostileMirror(), "")
	err := r.run(t, nonInteractive())
	wantExit(t, err, app.ExitFatal)
	want := "content 1 mirror (dbid 6) in gp_segment_configuration: data directory /data/mirror/`touch /tmp/owned` contains '`'"
	var expected *app.ExpectedError
	if !errors.As(err, &expected) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want an ExpectedError starting %q", err, want)
	}
	if ids := r.startedDBIDs(); len(ids) != 0 {
		t.Errorf("segments started: %v", ids)
	}
	if _, err := os.Stat(r.pidFile()); !os.IsNotExist(err) {
		t.Errorf("the coordinator was left running: %v", err)
	}
	if era, err := cluster.ReadEra(r.dir, cluster.GP7); era != "" || err != nil {
		t.Errorf("an era was written: %q, %v", era, err)
	}
}

// TestUnsafeCatalogCoordinatorOnly: gpstart -m starts no segment, so it
// warns and starts the coordinator, which is how such a catalog is repaired.
func TestUnsafeCatalogCoordinatorOnly(t *testing.T) {
	r := newRig(t, gp7Version, hostileMirror(), "")
	o := nonInteractive()
	o.CoordinatorOnly = true
	if err := r.run(t, o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.messages(), "\n"), "WARNING: content 1 mirror (dbid 6) in gp_segment_configuration: data directory /data/mirror/`touch /tmp/owned` contains '`'") {
		t.Errorf("no warning in\n%s", strings.Join(r.messages(), "\n"))
	}
	if _, err := os.Stat(r.pidFile()); err != nil {
		t.Errorf("the coordinator is not running: %v", err)
	}
}

// TestUnsafeDataDirRefused: a coordinator data directory a shell would
// interpret is refused before pg_ctl or anything else runs on it.
func TestUnsafeDataDirRefused(t *testing.T) {
	r := newRig(t, gp7Version, spread(), "")
	r.env.Getenv = func(k string) string {
		return map[string]string{"GPHOME": gphome, "COORDINATOR_DATA_DIRECTORY": r.dir + "/x\\y"}[k]
	}
	err := r.run(t, nonInteractive())
	wantExit(t, err, app.ExitFatal)
	if want := "coordinator data directory " + r.dir + `/x\y contains '\'`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want %q...", err, want)
	}
	for _, c := range r.exec.Calls() {
		if len(c.Argv) > 0 && c.Argv[0] == "env" || strings.HasSuffix(strings.Join(c.Argv, " "), "pg_controldata") {
			t.Errorf("ran %v", c.Argv)
		}
	}
}

// TestGPHomeWithoutBinaries: a GPHOME that is no Greenplum installation
// gets Greenplum's message and a hint naming the missing program.
func TestGPHomeWithoutBinaries(t *testing.T) {
	r := newRig(t, gp7Version, spread(), "")
	r.env.Getenv = func(k string) string {
		return map[string]string{"GPHOME": "/opt/nothere", "COORDINATOR_DATA_DIRECTORY": r.dir}[k]
	}
	err := r.run(t, nonInteractive()) // test -x /opt/nothere/bin/initdb fails: the fake knows no such command
	wantExit(t, err, app.ExitFatal)
	var hint *app.HintError
	if !errors.As(err, &hint) || !strings.HasPrefix(err.Error(), "File permission mismatch.") ||
		hint.Hint != "/opt/nothere/bin/initdb is missing or not executable: is GPHOME=/opt/nothere a Greenplum installation?" {
		t.Fatalf("got %v (%+v)", err, hint)
	}
}

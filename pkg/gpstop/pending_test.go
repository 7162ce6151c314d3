package gpstop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// TestRerunAfterKill: a full gpstop killed after it stopped the
// coordinator left gpstop.pending; the rerun, finding no postmaster.pid,
// stops the standby and segments it lists instead of saying the cluster is
// stopped, without touching the coordinator, and removes the record.
func TestRerunAfterKill(t *testing.T) {
	r := newRig(t, "", nil)
	if err := os.Remove(filepath.Join(r.dir, "postmaster.pid")); err != nil {
		t.Fatal(err)
	}
	if err := writePending(r.dir, pending{PID: 4242, Started: time.Unix(0, 0).UTC(), Segments: gp6Demo()}); err != nil {
		t.Fatal(err)
	}
	if err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true}}); err != nil {
		t.Fatalf("rerun: %v\n%s", err, r.out.String())
	}
	out := r.out.String()
	for _, want := range []string{
		"An earlier gpstop (PID 4242, started 1970-01-01 00:00:00) stopped the master and did not finish; stopping the instances it left",
		"Targeting dbid [2, 4, 3, 5] for shutdown",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Stopping master segment") || strings.Contains(out, "Commencing Master instance shutdown") {
		t.Errorf("the stopped coordinator was stopped again:\n%s", out)
	}
	if p, err := readPending(r.dir); p != nil || err != nil {
		t.Errorf("gpstop.pending after the rerun: %+v %v", p, err)
	}
}

// TestPendingLifetime: a full stop records the instances before it stops
// the coordinator and removes the record when every instance stopped; a
// segment that failed to stop keeps it for the rerun.
func TestPendingLifetime(t *testing.T) {
	r := newRig(t, "", nil)
	if err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true}}); err != nil {
		t.Fatal(err)
	}
	if p, err := readPending(r.dir); p != nil || err != nil {
		t.Errorf("gpstop.pending after a full stop: %+v %v", p, err)
	}

	r = newRig(t, "", map[int]bool{3: true})
	_ = r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true}})
	p, err := readPending(r.dir)
	if err != nil || p == nil || len(p.Segments) != len(gp6Demo()) || p.PID != r.env.PID {
		t.Errorf("gpstop.pending after a failed segment stop: %+v %v", p, err)
	}
}

// TestPendingIgnoredAfterAStart: a record older than the coordinator's
// last start (postmaster.opts) may list instances the cluster no longer
// has: it is removed with a warning, and the stopped cluster is reported
// as Greenplum does.
func TestPendingIgnoredAfterAStart(t *testing.T) {
	r := newRig(t, "", nil)
	if err := os.Remove(filepath.Join(r.dir, "postmaster.pid")); err != nil {
		t.Fatal(err)
	}
	if err := writePending(r.dir, pending{PID: 4242, Started: time.Unix(0, 0).UTC(), Segments: gp6Demo()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "postmaster.opts"), []byte("postgres\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true}})
	if err == nil || !strings.Contains(err.Error(), "postmaster.pid file does not exist") {
		t.Fatalf("gpstop with a stale record: %v, want the already-stopped refusal\n%s", err, r.out.String())
	}
	if !strings.Contains(r.out.String(), "Ignoring gpstop.pending: the coordinator was started after the gpstop that wrote it") {
		t.Errorf("no warning about the stale record in:\n%s", r.out.String())
	}
	if strings.Contains(r.out.String(), "Targeting dbid") {
		t.Errorf("the stale record's instances were stopped:\n%s", r.out.String())
	}
	if p, err := readPending(r.dir); p != nil || err != nil {
		t.Errorf("gpstop.pending after the refusal: %+v %v", p, err)
	}
}

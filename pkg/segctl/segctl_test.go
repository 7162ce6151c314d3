package segctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

func seg(dbid, content int, role cluster.Role, host string, port int, dir string) cluster.Segment {
	return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: role, Mode: cluster.ModeSynced,
		Status: cluster.StatusUp, Hostname: host, Address: host, Port: port, DataDir: dir}
}

var segs = []cluster.Segment{
	seg(2, 0, cluster.RolePrimary, "sdw1", 6000, "/data/p0"),
	seg(3, 1, cluster.RolePrimary, "sdw2", 6001, "/data/p1 with space"),
	seg(4, 0, cluster.RoleMirror, "sdw2", 7000, "/data/m0"),
	seg(5, 1, cluster.RoleMirror, "sdw1", 7001, "/data/m1'quote"),
}

func render(plans []HostPlan) string {
	var b strings.Builder
	for _, p := range plans {
		fmt.Fprintf(&b, "host=%s label=%q\n  %s\n", p.Command.Host, p.Command.Label, remote.CommandLine(p.Command))
	}
	return b.String()
}

func TestPlanGolden(t *testing.T) {
	var insts []Instance
	for _, s := range segs {
		insts = append(insts, Instance{Segment: s})
	}
	insts[0].PIDs = []int{11, 12}
	got := "# stop\n" + render(PlanStop(Stop{GPHome: "/gphome", Mode: "smart", Timeout: 120, Batch: 64}, insts)) +
		"# reload\n" + render(PlanReload("/gphome", 0, segs)) +
		"# pids\n" + remote.CommandLine(PIDsCommand("mdw", "/data/qd")) + "\n"
	golden.Check(t, "segctl", "plan.golden", []byte(got))
	golden.Check(t, "segctl", "stop.sh.golden", []byte(stopScript))
	golden.Check(t, "segctl", "reload.sh.golden", []byte(reloadScript))
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		in   string
		want Line
		ok   bool
	}{
		{"segctl-result 2 stopped Shutdown Succeeded", Line{2, Stopped, "Shutdown Succeeded"}, true},
		{"segctl-result 12 failed Failed forceful termnation: rc: 1 stdout:  stderr: x. ", Line{12, Failed, "Failed forceful termnation: rc: 1 stdout:  stderr: x."}, true},
		{"segctl-result 3 reloaded ", Line{3, Reloaded, ""}, true},
		{"segctl-result 3 reloaded", Line{3, Reloaded, ""}, true},
		{"segctl-result x stopped y", Line{}, false},
		{"segctl-result 02 stopped y", Line{}, false},
		{"segctl-result -1 stopped y", Line{}, false},
		{"segctl-result 2 started Start Succeeded", Line{2, Started, "Start Succeeded"}, true},
		{"segctl-result 2 begun y", Line{}, false},
		{"STATUS--DIR:/d--STOPPED:True--REASON:Shutdown Succeeded", Line{}, false},
		{"", Line{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseLine(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add("segctl-result 2 stopped Shutdown Succeeded")
	f.Add("segctl-result 3 failed x")
	f.Fuzz(func(t *testing.T, s string) {
		l, ok := ParseLine(s)
		if !ok {
			return
		}
		again, ok2 := ParseLine(fmt.Sprintf("%s %d %s %s", Tag, l.DBID, l.Status, l.Reason))
		if !ok2 || again != l {
			t.Fatalf("round trip of %q: %+v then %+v", s, l, again)
		}
	})
}

func TestCollect(t *testing.T) {
	plans := PlanStop(Stop{GPHome: "/g", Mode: "fast", Timeout: 120, Batch: 2}, []Instance{{Segment: segs[0]}, {Segment: segs[1]}, {Segment: segs[3]}})
	hostErr := &remote.ConnectError{Host: "sdw2", Err: errors.New("dial sdw2: connection refused")}
	results := []remote.Result{
		{Stdout: "noise\nsegctl-result 2 stopped Shutdown Succeeded\n", ExitCode: 0},
		{ExitCode: -1, Err: hostErr},
	}
	got := Collect(plans, results)
	want := []Outcome{
		{Segment: segs[0], Status: Stopped, Reason: "Shutdown Succeeded"},
		{Segment: segs[3], Status: Failed, Reason: "no result line from sdw1"},
		{Segment: segs[1], Status: Failed, Reason: "host sdw2 is unreachable: " + hostErr.Error(), HostErr: hostErr},
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return a == b })); d != "" {
		t.Fatal(d)
	}
}

// fakeGPHome writes bin/pg_ctl and bin/pg_controldata shims.
func fakeGPHome(t *testing.T, pgctl, controldata string) string {
	t.Helper()
	return fakeBin(t, map[string]string{"pg_ctl": pgctl, "pg_controldata": controldata})
}

// fakeBin writes a GPHOME whose bin holds the given sh scripts.
func fakeBin(t *testing.T, progs map[string]string) string {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range progs {
		if err := os.WriteFile(filepath.Join(home, "bin", name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

func runLocal(t *testing.T, plans []HostPlan) []Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Run(ctx, remote.Runner{Exec: remote.LocalExecutor{}, Limit: 2}, plans)
}

func TestStopScriptSucceeds(t *testing.T) {
	home := fakeGPHome(t, `echo "waiting for server to shut down.... done"; echo "server stopped"`, `echo "Database cluster state:               shut down"`)
	a, b := seg(2, 0, cluster.RolePrimary, "localhost", 1, t.TempDir()), seg(3, 1, cluster.RolePrimary, "localhost", 2, t.TempDir())
	got := runLocal(t, PlanStop(Stop{GPHome: home, Mode: "smart", Timeout: 120, Batch: 1}, []Instance{{Segment: a}, {Segment: b}}))
	want := []Outcome{{Segment: a, Status: Stopped, Reason: "Shutdown Succeeded"}, {Segment: b, Status: Stopped, Reason: "Shutdown Succeeded"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
}

// TestStopScriptEscalates: pg_ctl fails, the socket lock file names the
// instance and a live process (one that ignores SIGTERM and SIGINT); the
// script escalates to SIGQUIT, removes the lock file, and kill -9s the
// remembered pids that still work in the instance's directory; a
// remembered pid now held by another program (working elsewhere) lives.
func TestStopScriptEscalates(t *testing.T) {
	port := 50000 + os.Getpid()%10000
	lock := fmt.Sprintf("/tmp/.s.PGSQL.%d.lock", port)
	if _, err := os.Stat(lock); err == nil {
		t.Fatalf("%s exists already", lock)
	}
	stuck := exec.Command("sh", "-c", "trap '' TERM INT; while :; do sleep 1; done")
	if err := stuck.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- stuck.Wait() }()
	dir := t.TempDir()
	other := exec.Command("sleep", "60")
	other.Dir = dir
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	reused := exec.Command("sleep", "60")
	reused.Dir = t.TempDir()
	if err := reused.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = other.Process.Kill()
		_ = other.Wait()
		_ = reused.Process.Kill()
		_, _ = reused.Process.Wait()
		_ = stuck.Process.Kill()
		os.Remove(lock)
	})
	if err := os.WriteFile(lock, fmt.Appendf(nil, "%d\n%s\n", stuck.Process.Pid, dir), 0o600); err != nil {
		t.Fatal(err)
	}
	home := fakeGPHome(t, `echo "pg_ctl: server does not shut down" >&2; exit 1`, `exit 1`)
	s := seg(7, 0, cluster.RolePrimary, "localhost", port, dir)
	got := runLocal(t, PlanStop(Stop{GPHome: home, Mode: "fast", Timeout: 120, Batch: 4}, []Instance{{Segment: s, PIDs: []int{other.Process.Pid, reused.Process.Pid}}}))
	want := []Outcome{{Segment: s, Status: Stopped, Reason: "Forceful termination success: rc: 1 stdout:  stderr: pg_ctl: server does not shut down."}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stuck process still running")
	}
	if _, err := os.Stat(lock); err == nil {
		t.Error("lock file not removed")
	}
	if err := other.Wait(); err == nil {
		t.Error("remembered pid was not killed")
	}
	// Killed, it would be a zombie already: its exit is there to collect.
	var ws syscall.WaitStatus
	if pid, err := syscall.Wait4(reused.Process.Pid, &ws, syscall.WNOHANG, nil); pid != 0 || err != nil {
		t.Errorf("a remembered pid working outside the instance's directory was killed: %v %v", ws, err)
	}
}

func TestReloadScript(t *testing.T) {
	home := fakeGPHome(t, `[ "$1" = reload ] && [ "$3" != /bad ] && echo "server signaled" && exit 0; echo "pg_ctl: PID file \"$3/postmaster.pid\" does not exist" >&2; exit 1`, ``)
	a, b := seg(2, 0, cluster.RolePrimary, "localhost", 1, "/good"), seg(3, 1, cluster.RolePrimary, "localhost", 2, "/bad")
	got := runLocal(t, PlanReload(home, 4, []cluster.Segment{a, b}))
	want := []Outcome{{Segment: a, Status: Reloaded, Reason: "server signaled"}, {Segment: b, Status: Failed, Reason: `pg_ctl: PID file "/bad/postmaster.pid" does not exist`}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
}

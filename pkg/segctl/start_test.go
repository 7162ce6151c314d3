package segctl

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

const testVersion = "postgres (Greenplum Database) 6.24.3 build commit:25d3498a"

// startHome is a GPHOME whose pg_ctl "starts" an instance by leaving a
// sleeping process's pid in postmaster.pid and recording its argv and
// GPERA in the data directory, and whose pg_controldata reports checksum
// version 1 unless the directory holds a file named checksum-0.
func startHome(t *testing.T, pgctl string) string {
	t.Helper()
	if pgctl == "" {
		pgctl = `dir=$2
printf 'GPERA=%s' "$GPERA" >"$dir/argv"
for a in "$@"; do printf ' [%s]' "$a" >>"$dir/argv"; done
sleep 30 >/dev/null 2>&1 &
echo $! >"$dir/postmaster.pid"
echo "waiting for server to start.... done"; echo "server started"`
	}
	return fakeBin(t, map[string]string{
		"pg_ctl":         pgctl,
		"pg_controldata": `if [ -e "$1/checksum-0" ]; then echo "Data page checksum version:           0"; else echo "Data page checksum version:           1"; fi`,
		"postgres":       `echo '` + testVersion + `'`,
	})
}

// stopSleepers kills the processes the fake pg_ctl left in dirs.
func stopSleepers(t *testing.T, dirs ...string) {
	t.Cleanup(func() {
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, "postmaster.pid"))
			if err != nil {
				continue
			}
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

func TestStartPlanGolden(t *testing.T) {
	s := Start{GPHome: "/gphome", Flavour: cluster.GP6, Era: "281f4dd391c358af_261123185433", Timeout: 600, Batch: 64, Version: testVersion, ChecksumVersion: 1}
	golden.Check(t, "segctl", "start-plan.golden", []byte(render(PlanStart(s, segs))))
	golden.Check(t, "segctl", "start.sh.golden", []byte(startScript))
}

// TestStartScript runs the script on this machine: two instances start
// (one with a space and a quote in its path, to prove each argv reaches
// pg_ctl whole), one has no data directory, one a different checksum
// version, one a stale postmaster.pid that must be cleared first.
func TestStartScript(t *testing.T) {
	home := startHome(t, "")
	base := t.TempDir()
	dir := func(name string) string {
		d := filepath.Join(base, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	ok1, ok2, sum0, stale := dir("p0"), dir("m0 it's"), dir("p1"), dir("m1")
	missing := filepath.Join(base, "gone")
	if err := os.WriteFile(filepath.Join(sum0, "checksum-0"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "postmaster.pid"), []byte("999999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stopSleepers(t, ok1, ok2, stale)
	in := []cluster.Segment{
		seg(2, 0, cluster.RolePrimary, "localhost", 6000, ok1),
		seg(4, 0, cluster.RoleMirror, "localhost", 7000, ok2),
		seg(3, 1, cluster.RolePrimary, "localhost", 6001, sum0),
		seg(5, 1, cluster.RoleMirror, "localhost", 7001, stale),
		seg(6, 2, cluster.RolePrimary, "localhost", 6002, missing),
	}
	s := Start{GPHome: home, Flavour: cluster.GP6, Era: "e1", Timeout: 600, Batch: 2, Version: testVersion, ChecksumVersion: 1}
	got := runLocal(t, PlanStart(s, in))
	want := []Outcome{
		{Segment: in[0], Status: Started, Reason: "Start Succeeded"},
		{Segment: in[1], Status: Started, Reason: "Start Succeeded"},
		{Segment: in[2], Status: Failed, Reason: "Segment checksum 0 does not match master checksum 1."},
		{Segment: in[3], Status: Started, Reason: "Start Succeeded"},
		{Segment: in[4], Status: Failed, Reason: "Segment data directory does not exist for: '" + missing + "'"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
	b, err := os.ReadFile(filepath.Join(ok2, "argv"))
	if err != nil {
		t.Fatal(err)
	}
	wantArgv := "GPERA=e1 [-D] [" + ok2 + "] [-l] [" + ok2 + "/pg_log/startup.log] [-w] [-t] [600] [-o] [ -p 7000 ] [start]"
	if string(b) != wantArgv {
		t.Errorf("pg_ctl argv\n got %s\nwant %s", b, wantArgv)
	}
}

func TestStartScriptRefusesOtherVersion(t *testing.T) {
	home := startHome(t, "")
	d := t.TempDir()
	in := []cluster.Segment{seg(2, 0, cluster.RolePrimary, "localhost", 6000, d), seg(3, 1, cluster.RolePrimary, "localhost", 6001, d)}
	s := Start{GPHome: home, Flavour: cluster.GP6, Timeout: 600, Batch: 2, Version: "postgres (Greenplum Database) 6.25.0", ChecksumVersion: -1}
	got := runLocal(t, PlanStart(s, in))
	for _, o := range got {
		if o.Status != Failed || !strings.HasPrefix(o.Reason, "Local Software Version does not match what is expected.") {
			t.Errorf("dbid %d: %+v", o.Segment.DBID, o)
		}
	}
	if _, err := os.Stat(filepath.Join(d, "argv")); err == nil {
		t.Error("pg_ctl ran on a host with other binaries")
	}
}

func TestStartScriptPgCtlFails(t *testing.T) {
	home := startHome(t, `echo "pg_ctl: could not start server"; echo "Examine the log output."; exit 1`)
	d := t.TempDir()
	g := seg(2, 0, cluster.RolePrimary, "localhost", 6000, d)
	got := runLocal(t, PlanStart(Start{GPHome: home, Flavour: cluster.GP7, Timeout: 5, Batch: 1, Version: testVersion, ChecksumVersion: -1}, []cluster.Segment{g}))
	want := []Outcome{{Segment: g, Status: Failed, Reason: "PG_CTL failed. stdout: pg_ctl: could not start server Examine the log output."}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
}

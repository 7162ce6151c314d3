package segctl

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/gp6clients"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestScriptsUnderGP6Clients runs the start, stop and reload scripts with
// GP6's client programs (package gp6clients: pg_ctl and pg_controldata as
// PostgreSQL 9.4 parses their arguments): every instance is started,
// stopped and reloaded, and no program refused an option.
func TestScriptsUnderGP6Clients(t *testing.T) {
	home := t.TempDir()
	log := gp6clients.Install(t, home, gp6clients.Answers{
		Version: testVersion,
		ControlData: `if [ -e "$1/postmaster.pid" ] && kill -0 "$(head -n 1 "$1/postmaster.pid")" 2>/dev/null; then state="in production"; else state="shut down"; fi
printf 'Database cluster state:               %s\nData page checksum version:           1\n' "$state"`,
		Ctl: `case $1 in
start) sleep 30 >/dev/null 2>&1 & echo $! >"$dir/postmaster.pid"; echo "server started" ;;
stop) kill "$(head -n 1 "$dir/postmaster.pid")" 2>/dev/null; rm -f "$dir/postmaster.pid"; echo "server stopped" ;;
status) [ -f "$dir/postmaster.pid" ] || return 3; echo "pg_ctl: server is running" ;;
reload) echo "server signaled" ;;
esac`,
	})
	a, b := t.TempDir(), t.TempDir()
	stopSleepers(t, a, b)
	in := []cluster.Segment{seg(2, 0, cluster.RolePrimary, "localhost", 6000, a), seg(3, 1, cluster.RolePrimary, "localhost", 6001, b)}

	got := runLocal(t, PlanStart(Start{GPHome: home, Flavour: cluster.GP6, Era: "e1", Timeout: 600, Batch: 2, Version: testVersion, ChecksumVersion: 1}, in))
	want := []Outcome{{Segment: in[0], Status: Started, Reason: "Start Succeeded"}, {Segment: in[1], Status: Started, Reason: "Start Succeeded"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("start under GP6 clients (-want +got):\n%s", d)
	}
	got = runLocal(t, PlanReload(home, 2, in))
	want = []Outcome{{Segment: in[0], Status: Reloaded, Reason: "server signaled"}, {Segment: in[1], Status: Reloaded, Reason: "server signaled"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("reload under GP6 clients (-want +got):\n%s", d)
	}
	got = runLocal(t, PlanStop(Stop{GPHome: home, Mode: "fast", Timeout: 120, Batch: 2}, []Instance{{Segment: in[0]}, {Segment: in[1]}}))
	want = []Outcome{{Segment: in[0], Status: Stopped, Reason: "Shutdown Succeeded"}, {Segment: in[1], Status: Stopped, Reason: "Shutdown Succeeded"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("stop under GP6 clients (-want +got):\n%s", d)
	}
	calls := gp6clients.Calls(t, log)
	for _, l := range calls {
		if strings.HasPrefix(l, "REFUSED") {
			t.Errorf("a GP6 client program refused an option: %s\ncalls:\n%s", l, strings.Join(calls, "\n"))
		}
	}
}

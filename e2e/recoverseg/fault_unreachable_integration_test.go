//go:build integration && reliability

package recoverseg_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestFaultRecoversegHostUnreachable: after content 0's failover, the host
// of its failed instance does not answer before gprecoverseg -a runs (the
// tool's ssh_config sends it to a closed port). The tool names the host
// and the SSH reason and recovers nothing there; once the host is back,
// the same command recovers it, the catalog true to disk, no row lost.
func TestFaultRecoversegHostUnreachable(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	b := newBed(t, 2)
	w := &written{}
	for content := range b.hosts {
		w.write(t, b.primary(t, content), "before_fault", 1000)
	}
	_, failed := b.failover(t, 0)
	host := failed.Hostname
	untouched := fingerprint(t, failed.DataDir)

	code, out := b.tool(t, toolRun{env: []string{"HOME=" + tooltest.UnreachableHome(t, host)}}, "gprecoverseg", "-a")
	problems := faulttest.Problems(out)
	if problems == "" || !strings.Contains(out, host) || !strings.Contains(out, "connection refused") {
		t.Errorf("gprecoverseg -a with %s unreachable does not name it and the SSH reason:\n%s", host, out)
	}
	after := b.describe(t, failed.DataDir)
	sameFingerprint(t, "the failed instance's directory, on the unreachable host", failed.DataDir, untouched)
	if s := byDBID(t, b.catalog(t), failed.DBID); s.IsUp() {
		t.Errorf("the failed instance on the unreachable host: %s, want it still down", s)
	}

	rerun, lost := b.rerunWithHostBack(t, w, failed, "-a")
	faulttest.Record(t, faulttest.Row{
		Fault:   host + " (the failed instance's host) unreachable before the run (ssh_config: a closed port)",
		Tool:    "gprecoverseg -a",
		Printed: faulttest.Short(problems, b.dir),
		Exit:    fmt.Sprintf("exit %d", code),
		After:   faulttest.Short(after, b.dir) + "; the failed instance's directory untouched",
		Rerun:   rerun,
		Lost:    lost,
	})
	t.Logf("wall time %.1f s", time.Since(begin).Seconds())
}

// TestFaultRecoversegHostUnreachableMidway: gprecoverseg -F -a reaches the
// failed instance's host through a gate (tooltest.GatedHome) that is shut
// once 32 MB of the copy are on disk: the host goes down midway (its
// connections cut, new ones refused). The tool names the host and exits
// 1; the catalog keeps the instance down. Once the host is back, the same
// command recovers it, true to disk, nothing lost.
func TestFaultRecoversegHostUnreachableMidway(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	b := newBed(t, 2)
	w := &written{}
	for content := range b.hosts {
		w.write(t, b.primary(t, content), "before_fault", 1000)
	}
	acting, failed := b.failover(t, 0)
	w.fill(t, acting, "big", childCopyRows)
	host := failed.Hostname
	copying := `^\S*/pg_basebackup .*-D ` + regexp.QuoteMeta(failed.DataDir) + `( |$)`
	home, gate := tooltest.GatedHome(t, host)
	cmd, cancel := b.command(t, toolRun{env: []string{"HOME=" + home}}, "gprecoverseg", "-F", "-a")
	defer cancel()
	r := faulttest.FaultWhen(t, cmd, func(string) bool {
		return len(pgrep(t, copying)) > 0 && dirSizeAtLeast(failed.DataDir, childCopyKill)
	}, gate.Shut)
	t.Logf("%s shut %.1f s after gprecoverseg started; it exited %d %.1f s later", host, r.After.Seconds(), r.Exit, (r.Took - r.After).Seconds())
	if r.Exit != 1 {
		t.Errorf("gprecoverseg -F -a with %s gone midway: exit %d, want 1\n%s", host, r.Exit, r.Output)
	}
	problems := faulttest.Problems(r.Output)
	if problems == "" || !strings.Contains(r.Output, host) {
		t.Errorf("the failure does not name %s:\n%s", host, r.Output)
	}
	if s := byDBID(t, b.catalog(t), failed.DBID); s.IsUp() || s.IsPrimary() {
		t.Errorf("the catalog after the fault: %s, want the instance still a down mirror", s)
	}
	after := b.describe(t, failed.DataDir)

	rerun, lost := b.rerunWithHostBack(t, w, failed, "-F", "-a")
	faulttest.Record(t, faulttest.Row{
		Fault:   host + " (the failed instance's host) unreachable midway through the -F copy (connections cut, new ones refused)",
		Tool:    "gprecoverseg -F -a",
		Printed: faulttest.Short(problems, b.dir),
		Exit:    fmt.Sprintf("exit %d, %.1f s after", r.Exit, (r.Took - r.After).Seconds()),
		After:   faulttest.Short(after, b.dir),
		Rerun:   rerun,
		Lost:    lost,
	})
	t.Logf("wall time %.1f s", time.Since(begin).Seconds())
}

// rerunWithHostBack runs gprecoverseg with args again, the failed
// instance's host back, and checks that it recovered content 0: exit 0,
// in sync, nothing left beside the directory, the catalog true to disk.
// It returns the row's rerun text and the rows lost.
func (b *bed) rerunWithHostBack(t *testing.T, w *written, failed cluster.Segment, args ...string) (string, int) {
	t.Helper()
	begin := time.Now()
	code, out := b.tool(t, toolRun{}, "gprecoverseg", args...)
	took := time.Since(begin)
	if code != 0 {
		t.Fatalf("gprecoverseg %s with %s back: exit %d\n%s", strings.Join(args, " "), failed.Hostname, code, out)
	}
	b.waitInSync(t, 0, failed.DBID, "")
	b.noLeftovers(t, failed.DataDir)
	b.trueToDisk(t)
	lost := w.lost(t, b)
	if lost != 0 {
		t.Errorf("%d rows lost", lost)
	}
	return fmt.Sprintf("with %s back: exit %d in %.1f s: %s", failed.Hostname, code, took.Seconds(), faulttest.Said(out)), lost
}

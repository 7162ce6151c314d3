//go:build integration && reliability

package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestFaultHostUnreachable: a segment host that does not answer before
// the run (the tool's ssh_config sends it to a closed port), one subtest
// per tool (gpstop, gpaddmirrors; gprecoverseg's is in e2e/recoverseg), each on a cluster of its own with rows written first. The
// tool names the host and the SSH reason; the run with the host back
// finishes, the catalog true to disk, no row lost.
func TestFaultHostUnreachable(t *testing.T) {
	t.Run("gpstop", func(t *testing.T) {
		t.Parallel()
		begin := time.Now()
		d := newStopDemo(t)
		d.writeBeforeKill(t)
		host := d.find(t, func(s cluster.Segment) bool { return s.IsSegment() && s.ContentID == 1 && s.IsPrimary() }).Hostname
		code, out := d.blindEnv(t, []string{"HOME=" + unreachableHome(t, host)}, "gpstop", "-a", "-M", "fast")
		after := d.describe(t)
		wantNamed(t, out, host)
		rcode, rout, took := timed(func() (int, string) { return d.blind(t, "gpstop", "-a", "-M", "fast") })
		if rcode != 0 {
			t.Fatalf("gpstop -a -M fast with %s back: exit %d\n%s", host, rcode, rout)
		}
		d.wantAllStopped(t)
		d.startAll(t)
		d.wantCatalog(t, d.segs)
		lost := d.lostBeforeKill(t)
		recordUnreachable(t, host, "gpstop -a -M fast", code, out, after, rcode, rout, took, lost, d.dir)
		t.Logf("wall time %.1f s", time.Since(begin).Seconds())
	})
	t.Run("gpaddmirrors", func(t *testing.T) {
		t.Parallel()
		begin := time.Now()
		d := newMirrorless(t)
		before := d.writeRows(t, "before_fault")
		file, _ := d.spreadMirrorFile(t)
		host := d.hosts[1] // content 0's mirror goes there
		catalog := fmt.Sprint(d.segments(t))
		code, out := d.toolEnv(t, []string{"HOME=" + unreachableHome(t, host)}, "", "gpaddmirrors", "-a", "-i", file)
		after := d.describe(t)
		wantNamed(t, out, host)
		if now := fmt.Sprint(d.segments(t)); now != catalog {
			t.Errorf("the catalog changed:\n%s\nwas\n%s", now, catalog)
		}
		rcode, rout, took := timed(func() (int, string) { return d.tool(t, "", "gpaddmirrors", "-a", "-i", file) })
		if rcode != 0 {
			t.Fatalf("gpaddmirrors with %s back: exit %d\n%s", host, rcode, rout)
		}
		d.checkMirrored(t, before)
		d.checkTrueToDisk(t)
		lost := d.lost(t, map[string]map[int]int{"before_fault": {0: 1000, 1: 1000}})
		recordUnreachable(t, host, "gpaddmirrors -a -i FILE", code, out, after, rcode, rout, took, lost, d.dir)
		t.Logf("wall time %.1f s", time.Since(begin).Seconds())
	})
}

// wantNamed fails t unless the tool's problems name host and an SSH
// reason.
func wantNamed(t *testing.T, out, host string) {
	t.Helper()
	if faulttest.Problems(out) == "" || !strings.Contains(out, host) || !strings.Contains(out, "connection refused") {
		t.Errorf("the tool's errors and warnings do not name %s and the SSH reason (connection refused):\n%s", host, out)
	}
}

// recordUnreachable records the row of a host unreachable before the run.
func recordUnreachable(t *testing.T, host, tool string, code int, out, after string, rcode int, rout string, took time.Duration, lost int, dir string) {
	t.Helper()
	if lost != 0 {
		t.Errorf("%d rows lost", lost)
	}
	faulttest.Record(t, faulttest.Row{
		Fault:   host + " unreachable before the run (ssh_config: a closed port)",
		Tool:    tool,
		Printed: faulttest.Short(faulttest.Problems(out), dir),
		Exit:    fmt.Sprintf("exit %d", code),
		After:   faulttest.Short(after, dir),
		Rerun:   fmt.Sprintf("with %s back: exit %d in %.1f s: %s", host, rcode, took.Seconds(), faulttest.Said(rout)),
		Lost:    lost,
	})
}

// TestFaultAddMirrorsHostUnreachableMidway: gpaddmirrors -a -i reaches
// content 1's mirror host through a gate (tooltest.GatedHome) that is
// shut once a quarter of content 1's copy is on disk: the host goes down
// midway (its connections cut, new ones refused). The tool names the host
// and the reason and exits 1; content 0's mirror is added, content 1 has
// no row. Once the host is back, the same command finishes, nothing lost.
func TestFaultAddMirrorsHostUnreachableMidway(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	d := newMirrorless(t)
	before := d.writeRows(t, "before_fault")
	d.fillContent(t, 1, midwayRows)
	file, targets := d.spreadMirrorFile(t)
	host := d.hosts[0] // content 1's mirror goes there
	copying := `^[^ ]*/pg_basebackup .*-D ` + regexp.QuoteMeta(targets[1]) + `( |$)`
	home, gate := tooltest.GatedHome(t, host)
	cmd := d.command(t, t.Context(), "gpaddmirrors", "-a", "-i", file)
	cmd.Env = append(cmd.Env, "HOME="+home)
	r := faulttest.FaultWhen(t, cmd, func(string) bool {
		return len(tooltest.Pgrep(t, copying)) > 0 && tooltest.DirSize(targets[1]) >= midwayCopied
	}, gate.Shut)
	t.Logf("%s shut %.1f s after gpaddmirrors started; it exited %d %.1f s later", host, r.After.Seconds(), r.Exit, (r.Took - r.After).Seconds())
	if r.Exit != 1 {
		t.Errorf("gpaddmirrors with %s gone midway: exit %d, want 1\n%s", host, r.Exit, r.Output)
	}
	problems := faulttest.Problems(r.Output)
	if problems == "" || !strings.Contains(r.Output, host) {
		t.Errorf("the failure does not name %s:\n%s", host, r.Output)
	}
	after := d.describe(t)

	rcode, rout, took := timed(func() (int, string) { return d.tool(t, "", "gpaddmirrors", "-a", "-i", file) })
	if rcode != 0 {
		t.Fatalf("gpaddmirrors with %s back: exit %d\n%s", host, rcode, rout)
	}
	d.checkMirrored(t, before)
	d.checkTrueToDisk(t)
	lost := d.lost(t, map[string]map[int]int{"before_fault": {0: 1000, 1: 1000}, "big": {1: midwayRows}})
	if lost != 0 {
		t.Errorf("%d rows lost", lost)
	}
	faulttest.Record(t, faulttest.Row{
		Fault:   host + " unreachable midway (content 1's copy a quarter done: its connections cut, new ones refused)",
		Tool:    "gpaddmirrors -a -i FILE",
		Printed: faulttest.Short(problems, d.dir),
		Exit:    fmt.Sprintf("exit %d, %.1f s after", r.Exit, (r.Took - r.After).Seconds()),
		After:   faulttest.Short(after, d.dir),
		Rerun:   fmt.Sprintf("with %s back: exit %d in %.1f s: %s", host, rcode, took.Seconds(), faulttest.Said(rout)),
		Lost:    lost,
	})
	t.Logf("wall time %.1f s", time.Since(begin).Seconds())
}

// The copy a host goes away from: about 170 MB, cut once 32 MB are on disk.
const (
	midwayRows   = 150_000
	midwayCopied = 32 << 20
)

// TestFaultGpstopHostUnreachableMidway: gpstop -a -M fast reaches content
// 1's primary host through a gate that is shut the moment the tool
// announces the segments' shutdown: the host goes down midway. The tool
// names the host and says what it could not stop; once the host is back,
// the same command finishes, and the cluster started again holds every
// row, its catalog as it was.
func TestFaultGpstopHostUnreachableMidway(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	at := regexp.MustCompile(`Commencing parallel .*segment instance shutdown`)
	d := newStopDemo(t)
	d.writeBeforeKill(t)
	host := d.find(t, func(s cluster.Segment) bool { return s.IsSegment() && s.ContentID == 1 && s.IsPrimary() }).Hostname
	home, gate := tooltest.GatedHome(t, host)
	cmd, cancel := command(toolTimeout, filepath.Join(toolsDir, "gpstop"), "-a", "-M", "fast", "-l", t.TempDir())
	defer cancel()
	cmd = testbed.Blind(t, cmd, d.hidden...)
	cmd.Env = d.env("HOME=" + home)
	r := faulttest.FaultWhen(t, cmd, at.MatchString, gate.Shut)
	t.Logf("%s shut %.1f s after gpstop started; it exited %d %.1f s later", host, r.After.Seconds(), r.Exit, (r.Took - r.After).Seconds())
	problems := faulttest.Problems(r.Output)
	if r.Exit == 0 || problems == "" || !strings.Contains(r.Output, host) {
		t.Errorf("gpstop with %s gone midway: exit %d, want a failure naming it\n%s", host, r.Exit, r.Output)
	}
	after := d.describe(t)

	rcode, rout, took := timed(func() (int, string) { return d.blind(t, "gpstop", "-a", "-M", "fast") })
	if rcode != 0 {
		t.Fatalf("gpstop -a -M fast with %s back: exit %d\n%s", host, rcode, rout)
	}
	d.wantAllStopped(t)
	d.startAll(t)
	d.wantAllRunning(t)
	d.wantCatalog(t, d.segs)
	lost := d.lostBeforeKill(t)
	if lost != 0 {
		t.Errorf("%d rows lost", lost)
	}
	faulttest.Record(t, faulttest.Row{
		Fault:   fmt.Sprintf("%s unreachable midway (at %q: its connections cut, new ones refused)", host, at.String()),
		Tool:    "gpstop -a -M fast",
		Printed: faulttest.Short(problems, d.dir),
		Exit:    fmt.Sprintf("exit %d", r.Exit),
		After:   faulttest.Short(after, d.dir),
		Rerun:   fmt.Sprintf("with %s back: exit %d in %.1f s: %s", host, rcode, took.Seconds(), faulttest.Said(rout)),
		Lost:    lost,
	})
	t.Logf("wall time %.1f s", time.Since(begin).Seconds())
}

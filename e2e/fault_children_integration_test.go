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
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestFaultAddMirrorsCopyKilled is TestAddMirrorsCopyKilled's row of the
// fault table: kill -9 of the remote pg_basebackup of gpaddmirrors,
// a quarter of content 1's copy on disk.
func TestFaultAddMirrorsCopyKilled(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	k := addMirrorsCopyKilled(t)
	faulttest.Record(t, faulttest.Row{
		Fault:   fmt.Sprintf("kill -9 of the remote pg_basebackup of content 1 (%d processes), a quarter copied", k.killed),
		Tool:    k.tool,
		Printed: faulttest.Short(faulttest.Problems(k.out), k.dir),
		Exit:    fmt.Sprintf("exit %d", k.exit),
		After:   faulttest.Short(k.after, k.dir),
		Rerun:   fmt.Sprintf("exit %d in %.1f s: %s", k.rerunExit, k.rerunTook.Seconds(), faulttest.Said(k.rerunOut)),
		Lost:    k.lost,
	})
	t.Logf("wall time %.1f s", time.Since(begin).Seconds())
}

// TestFaultGpstartSegmentStartKilled: gpstart -a of a stopped mirrored
// cluster, the pg_ctl starting content 0's primary killed -9 on its host.
// gpstart reports the segment that failed to start and exits 1 (spec
// §5: "Number of segments which failed to start"); the same command run
// again finishes, every instance runs where the catalog says, and the
// rows written before are all there.
func TestFaultGpstartSegmentStartKilled(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	d := newStopDemo(t)
	d.writeBeforeKill(t)
	if code, out := d.blind(t, "gpstop", "-a", "-M", "fast"); code != 0 {
		t.Fatalf("gpstop exit %d\n%s", code, out)
	}
	target := d.find(t, func(s cluster.Segment) bool { return s.IsSegment() && s.IsPrimary() && s.ContentID == 0 })
	pattern := `^\S*/pg_ctl .*-D ` + regexp.QuoteMeta(target.DataDir) + ` .*start$`
	c, cancel := command(toolTimeout, filepath.Join(toolsDir, "gpstart"), "-a", "-l", t.TempDir())
	defer cancel()
	cmd := testbed.Blind(t, c, d.hidden...)
	cmd.Env = d.env()
	k := faulttest.KillChild(t, cmd, pattern, func() bool { return true })
	t.Logf("killed %v %.1f s after gpstart started; it exited %d after %.1f s", k.Pids, k.After.Seconds(), k.Exit, k.Took.Seconds())
	if k.Exit != 1 {
		t.Errorf("gpstart with a segment's pg_ctl killed: exit %d, want 1\n%s", k.Exit, k.Output)
	}
	after := d.describe(t)
	t.Logf("after the fault: %s", after)

	rerun := time.Now()
	code, rout := d.blind(t, "gpstart", "-a")
	took := time.Since(rerun)
	rerunSaid := fmt.Sprintf("exit %d in %.1f s: %s", code, took.Seconds(), faulttest.Said(rout))
	if code != 0 {
		// Greenplum's gpstart refuses a cluster whose coordinator
		// runs (spec §5): the first run started it. What counts is
		// that the cluster is whole.
		if !strings.Contains(rout, "Coordinator instance process running") {
			t.Fatalf("the rerun of gpstart -a: exit %d\n%s", code, rout)
		}
		rerunSaid = fmt.Sprintf("exit %d in %.1f s: %s (Greenplum's refusal: the coordinator runs)", code, took.Seconds(), faulttest.Problems(rout))
	}
	d.wantAllRunning(t)
	d.wantCatalog(t, d.segs)
	lost := d.lostBeforeKill(t)
	if lost != 0 {
		t.Errorf("%d rows lost", lost)
	}
	faulttest.Record(t, faulttest.Row{
		Fault:   fmt.Sprintf("kill -9 of the remote pg_ctl starting content 0's primary (dbid %d)", target.DBID),
		Tool:    "gpstart -a",
		Printed: faulttest.Short(faulttest.Problems(k.Output), d.dir),
		Exit:    fmt.Sprintf("exit %d", k.Exit),
		After:   faulttest.Short(after, d.dir),
		Rerun:   rerunSaid,
		Lost:    lost,
	})
	t.Logf("wall time %.1f s", time.Since(begin).Seconds())
}

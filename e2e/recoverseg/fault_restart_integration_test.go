//go:build integration && reliability

package recoverseg_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestFaultCoordinatorRestarted: the coordinator restarted (pg_ctl restart
// -m fast, as a DBA or a crash would) while gprecoverseg -F copies about
// 400 MB over content 1's failed instance. What the tool prints and exits
// with is recorded; the same command run again finishes: exit 0, the
// mirror up and in sync past the rows written before, nothing left, and
// every row counted on content 0's primary and on content 1's recovered
// instance once promoted.
func TestFaultCoordinatorRestarted(t *testing.T) {
	t.Run("gprecoverseg -F", func(t *testing.T) {
		tr := &trail{b: newBed(t, 2), content: 1, rows: map[string]int{}}
		b := tr.b
		other := b.primary(t, 0)
		write(t, other, "before_fault", 1000)
		tr.acting = b.primary(t, tr.content)
		tr.write(t, "before_failover", 1000)
		tr.acting, tr.failed = b.failover(t, tr.content)
		tr.fill(t, "big", copyRows)
		lsn := tr.write(t, "before_fault", 5000)
		written := 1000
		for _, n := range tr.rows {
			written += n
		}

		copying := `^\S*/pg_basebackup .*-D ` + regexp.QuoteMeta(tr.failed.DataDir) + `( |$)`
		bg := b.start(t, toolRun{}, "gprecoverseg", "-F", "-a")
		bg.waitFor(t, "a quarter of the copy on disk", func() bool {
			return len(tooltest.Pgrep(t, copying)) > 0 && tooltest.DirSize(tr.failed.DataDir) >= copyKill
		})
		size := tooltest.DirSize(tr.failed.DataDir)
		// -l: the new postmaster's output goes to a file, not to the
		// pipe pgctl waits on.
		pgctl(t, "restart", "-m", "fast", "-w", "-t", "120", "-D", b.coord, "-l", filepath.Join(b.coord, "log", "restart.log"))
		code := bg.wait(t, toolTimeout)
		out := bg.out.String()
		t.Logf("gprecoverseg -F with the coordinator restarted %d MB into its copy: exit %d\n%s", size>>20, code, out)
		after := restartState(t, b, tr.failed)

		start := time.Now()
		rcode, rout := b.tool(t, toolRun{}, "gprecoverseg", "-F", "-a")
		rerun := fmt.Sprintf("exit %d in %.1f s: %s", rcode, time.Since(start).Seconds(), faulttest.Said(rout))
		if rcode != 0 {
			t.Fatalf("the rerun of gprecoverseg -F -a: exit %d\n%s", rcode, rout)
		}
		b.waitInSync(t, tr.content, tr.failed.DBID, lsn)
		b.noLeftovers(t, tr.failed.DataDir)
		counted := count(t, other, "before_fault")
		for table := range tr.rows {
			counted += count(t, tr.acting, table)
		}
		lost := written - counted
		if lost != 0 {
			t.Errorf("%d rows lost", lost)
		}
		tr.recovered(t, lsn) // and every row on the recovered instance, promoted
		short := func(s string) string { return strings.ReplaceAll(s, b.dir, "DIR") }
		faulttest.Record(t, faulttest.Row{
			Fault:   fmt.Sprintf("coordinator restarted (`pg_ctl restart -m fast`) while gprecoverseg -F copies content 1 (%d MB in)", size>>20),
			Tool:    "gprecoverseg -F -a",
			Printed: short(faulttest.Problems(out) + "; said: " + faulttest.Said(out)),
			Exit:    fmt.Sprintf("exit %d", code),
			After:   short(after),
			Rerun:   short(rerun),
			Lost:    lost,
		})
	})
}

// restartState describes the cluster after the fault: the failed
// instance's catalog row, whether it runs, and gprecoverseg's files left.
func restartState(t *testing.T, b *bed, failed cluster.Segment) string {
	t.Helper()
	row := byDBID(t, b.catalog(t), failed.DBID)
	parts := []string{fmt.Sprintf("dbid %d row %c%c%c, running %v", row.DBID, row.Role, row.Status, row.Mode, running(failed.DataDir))}
	var left []string
	for _, p := range []string{filepath.Join(b.coord, "gprecoverseg.lock"), filepath.Join(b.coord, "gprecoverseg.journal"),
		filepath.Join(filepath.Dir(failed.DataDir), "."+filepath.Base(failed.DataDir)+".pg_basebackup.pid")} {
		if _, err := os.Stat(p); err == nil {
			left = append(left, filepath.Base(p))
		}
	}
	if len(left) > 0 {
		parts = append(parts, "left: "+strings.Join(left, ", "))
	}
	return strings.Join(parts, "; ")
}

//go:build integration && reliability

package recoverseg_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// twiceRows is the failed-over content's fill for the double kill: about
// 140 MB of rows of 1 kB, so that each -F copy prints its progress.
const twiceRows = 120_000

// TestFaultRecoversegKilledTwice: gprecoverseg -a -F is killed -9 during
// its copy over content 1's failed instance, and its rerun is killed -9
// too; the third run finishes, with every row. The rerun's journal
// replaces the first run's, and must keep its word that the directory
// may hold a partial copy:
//
//   - rerun killed during its copy: the journal says so anyway;
//   - rerun killed before its copy began (at "Ensuring 1 failed
//     segment(s) are stopped"), the first run's orphaned pg_basebackup
//     killed too, as a crash of its host would end it: only the word
//     carried forward lets the third run copy over the half-written
//     directory, which holds no gp_dbid of the instance (before the fix it
//     was refused as another instance's directory).
func TestFaultRecoversegKilledTwice(t *testing.T) {
	copying := regexp.MustCompile(copyProgressLine)
	for _, tt := range []struct {
		name       string
		second     *regexp.Regexp
		secondName string
		killOrphan bool
	}{
		{"rerun killed during its copy", copying, "the rerun's copy's first progress line in kB", false},
		{"rerun killed before its copy", regexp.MustCompile(`\[INFO\]:-Ensuring 1 failed segment\(s\) are stopped$`), "the rerun's `Ensuring 1 failed segment(s) are stopped`", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			begin := time.Now()
			defer func() { t.Logf("wall time %.1f s", time.Since(begin).Seconds()) }()
			args := []string{"-a", "-F"}
			s := newScene(newBed(t, 2))
			_, mirror0 := pair(t, s.b.catalog(t), 0)
			_, failed := s.b.failover(t, 1)
			s.write(t, "before_fault", 1000)
			s.fill(t, 1, "big", twiceRows)
			logDir := t.TempDir()

			k1 := s.killAt(t, logDir, copying, args...)
			orphans := copyProcs(t, failed.DataDir)
			t.Logf("first run killed %.1f s after its start at %q; copies left running: %v", k1.After.Seconds(), k1.Last, orphans)
			fault1 := "kill -9 of gprecoverseg at the copy's first progress line in kB"
			if tt.killOrphan {
				killProcs(t, orphans)
				fault1 += fmt.Sprintf(", then of its orphaned pg_basebackup (%d processes)", len(orphans))
			}
			after1 := s.b.afterFault(t)

			k2 := s.killAt(t, logDir, tt.second, args...)
			t.Logf("the rerun killed %.1f s after its start at %q", k2.After.Seconds(), k2.Last)
			after2 := s.b.afterFault(t)
			rec, err := oplock.ReadJournal(s.b.coord, "gprecoverseg")
			if err != nil || rec == nil {
				t.Fatalf("the killed rerun's journal: %v, %v", rec, err)
			}
			if it, ok := rec.Item(failed.DBID); !ok || !it.Partial {
				t.Errorf("the killed rerun's journal item for dbid %d: %+v, want it to say the directory may hold a partial copy", failed.DBID, it)
			}

			rerun := s.rerun(t, logDir, args...)
			s.b.waitInSync(t, 1, failed.DBID, s.lsn[1])
			s.b.waitInSync(t, 0, mirror0.DBID, s.lsn[0])
			s.b.trueToDisk(t)
			var dirs []string
			for _, seg := range s.b.catalog(t) {
				dirs = append(dirs, seg.DataDir)
			}
			s.b.noLeftovers(t, dirs...)
			if left := copyProcs(t, failed.DataDir); len(left) > 0 {
				t.Errorf("copies into %s still run: %v", failed.DataDir, left)
			}
			lost := s.lost(t)
			faulttest.Record(t, faulttest.Row{
				Fault:   fault1 + "; the rerun killed -9 at " + tt.secondName,
				Tool:    toolLine(args...),
				Printed: shorten(s.b, k1.Last) + " / rerun: " + shorten(s.b, k2.Last),
				Exit:    "killed (137), rerun killed (137)",
				After:   "after the first kill: " + after1 + " | after the second: " + after2,
				Rerun:   "third run " + rerun,
				Lost:    lost,
			})
			if lost != 0 {
				t.Errorf("%d rows lost", lost)
			}
		})
	}
}

//go:build integration && reliability

package recoverseg_test

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// Sizes of the double kill: the failed-over content gets about 140 MB
// of rows of 1 kB; each -F copy is killed once 16 MB of it is on disk.
const (
	twiceRows = 120_000
	twiceKill = 16 << 20
)

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
	for _, tt := range []struct {
		name       string
		second     *regexp.Regexp // nil: during the rerun's copy
		secondName string
		killOrphan bool
	}{
		{"rerun killed during its copy", nil, "16 MB into its own copy", false},
		{"rerun killed before its copy", regexp.MustCompile(`\[INFO\]:-Ensuring 1 failed segment\(s\) are stopped$`), "its `Ensuring 1 failed segment(s) are stopped`", true},
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

			// copyOnDisk holds once a copy other than those running before
			// (the earlier run's orphans, which a rerun stops first) has
			// twiceKill on disk.
			copyOnDisk := func(before []int) func(string) bool {
				return func(string) bool {
					for _, pid := range copyProcs(t, failed.DataDir) {
						if !slices.Contains(before, pid) && tooltest.DirSize(failed.DataDir) >= twiceKill {
							return true
						}
					}
					return false
				}
			}
			k1 := s.killWhen(t, logDir, copyOnDisk(nil), args...)
			orphans := copyProcs(t, failed.DataDir)
			t.Logf("first run killed %.1f s after its start, last printed %q; copies left running: %v", k1.After.Seconds(), k1.Last, orphans)
			fault1 := "kill -9 of gprecoverseg 16 MB into its copy"
			if tt.killOrphan {
				killProcs(t, orphans)
				fault1 += fmt.Sprintf(", then of its orphaned pg_basebackup (%d processes)", len(orphans))
			}
			after1 := s.b.afterFault(t)

			var k2 faulttest.Killed
			if tt.second != nil {
				k2 = s.killAt(t, logDir, tt.second, args...)
			} else {
				k2 = s.killWhen(t, logDir, copyOnDisk(orphans), args...)
			}
			t.Logf("the rerun killed %.1f s after its start, last printed %q", k2.After.Seconds(), k2.Last)
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

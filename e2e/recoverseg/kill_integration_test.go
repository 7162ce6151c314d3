//go:build integration

package recoverseg_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// Sizes of the recoveries killed midway: rows of about 1 kB.
const (
	copyRows   = 350_000  // about 400 MB: the -F copy lasts long enough to be killed
	copyKill   = 96 << 20 // copied before the tool is killed: about a quarter
	rewindRows = 40_000   // about 45 MB written after the failover: the rewind copies it
)

// killDuringCopy is TestRecoverseg's second recovery: the acting primary,
// without a mirror, gets about 400 MB; gprecoverseg -F is killed -9 once a
// quarter of its copy over the failed instance is on disk. The catalog is
// untouched and the journal says what was under way; the same command run
// again takes the stale lock over, stops the orphaned copy, copies again
// over the half-written directory and brings the mirror up in sync.
func killDuringCopy(t *testing.T, tr *trail) {
	b, failed := tr.b, tr.failed
	tr.fill(t, "big", copyRows)
	lsn := tr.write(t, "before_copy", 5000)
	logDir := t.TempDir()
	// The real pg_basebackup under the compat shim, and the WAL streaming
	// child it forks, which shares its command line.
	copying := `^\S*/pg_basebackup .*-D ` + regexp.QuoteMeta(failed.DataDir) + `( |$)`
	bg := b.start(t, toolRun{logDir: logDir}, "gprecoverseg", "-F", "-a")
	begin := time.Now()
	bg.waitFor(t, "a quarter of the copy on disk", func() bool {
		// The shim empties the directory before the copy starts.
		return len(tooltest.Pgrep(t, copying)) > 0 && tooltest.DirSize(failed.DataDir) >= copyKill
	})
	killed, size := time.Since(begin), tooltest.DirSize(failed.DataDir)
	bg.kill(t)
	t.Logf("killed gprecoverseg -F %.1f s after it started, with %d MB of the copy on disk; copy processes left running: %v",
		killed.Seconds(), size>>20, tooltest.Pgrep(t, copying))
	if s := byDBID(t, b.catalog(t), failed.DBID); s.IsUp() || s.IsPrimary() {
		t.Errorf("the catalog after the kill: %s, want the failed instance still a down mirror", s)
	}
	rec, err := oplock.ReadJournal(b.coord, "gprecoverseg")
	if err != nil || rec == nil {
		t.Fatalf("the killed run's journal: %v, %v", rec, err)
	}
	if it, ok := rec.Item(failed.DBID); !ok || it.Method != "full" || it.Step != "copying" {
		t.Errorf("the killed run's journal item for dbid %d: %+v", failed.DBID, it)
	}

	rerun := time.Now()
	code, out := b.tool(t, toolRun{logDir: logDir}, "gprecoverseg", "-F", "-a")
	t.Logf("rerun: exit %d in %.1f s", code, time.Since(rerun).Seconds())
	if code != 0 {
		t.Fatalf("the rerun of gprecoverseg -F -a: exit %d\n%s", code, out)
	}
	tooltest.WantInOrder(t, out,
		`^\[WARNING\]:-Lockfile .*/gprecoverseg\.lock was left by gprecoverseg with PID `+strconv.Itoa(bg.pid())+`: its process is not running; taking it over$`,
		`^\[INFO\]:-An earlier gprecoverseg \(PID `+strconv.Itoa(bg.pid())+`, started .*\) did not finish; this run completes its work$`,
		`^\[INFO\]:-Successfully ran pg_basebackup for dbid: `+strconv.Itoa(failed.DBID)+`$`,
		`^\[INFO\]:-Segments successfully recovered\.$`)
	if left := tooltest.Pgrep(t, copying); len(left) != 0 {
		t.Errorf("copies still running: %v", left)
	}
	tr.recovered(t, lsn)
}

// killDuringRewind is TestRecoverseg's third recovery: rows written on the
// acting primary after the failover are what pg_rewind copies into the
// failed instance; gprecoverseg -a is killed -9 while pg_rewind runs. The
// detached rewind outlives the tool; the same command run again waits for
// it, or finds it finished, and never rewinds again.
func killDuringRewind(t *testing.T, tr *trail) {
	b, target := tr.b, tr.failed
	tr.fill(t, "diverged", rewindRows)
	lsn := tr.write(t, "before_rewind", 5000)
	logDir := t.TempDir()
	rewinding := `^\S*/pg_rewind --write-recovery-conf .*--target-pgdata=` + regexp.QuoteMeta(target.DataDir) + `( |$)`
	bg := b.start(t, toolRun{logDir: logDir}, "gprecoverseg", "-a")
	bg.waitFor(t, "the rewind under way", func() bool {
		return len(tooltest.Pgrep(t, rewinding)) > 0 && strings.Contains(progressText(t, logDir, target.DBID), "reading source file list")
	})
	bg.kill(t)
	t.Logf("killed gprecoverseg during the rewind; pg_rewind still running after the tool's death: %v", tooltest.Pgrep(t, rewinding))

	code, out := b.tool(t, toolRun{logDir: logDir}, "gprecoverseg", "-a")
	if code != 0 {
		t.Fatalf("the rerun of gprecoverseg -a: exit %d\n%s", code, out)
	}
	dbid := regexp.QuoteMeta(target.Hostname) + ` \(dbid ` + strconv.Itoa(target.DBID) + `\): `
	waited := regexp.MustCompile(`(?m)^` + dbid + `waiting for the pg_rewind an earlier run started`).MatchString(out)
	finished := regexp.MustCompile(`(?m)^` + dbid + `pg_rewind of an earlier run finished`).MatchString(out)
	t.Logf("the rerun waited for the running rewind: %v; found it finished: %v", waited, finished)
	if !finished {
		t.Errorf("the rerun did not find the earlier run's rewind finished:\n%s", out)
	}
	if n := strings.Count(progressText(t, logDir, target.DBID), "servers diverged at WAL location"); n != 1 {
		t.Errorf("pg_rewind ran %d times, want once:\n%s", n, progressText(t, logDir, target.DBID))
	}
	tooltest.WantInOrder(t, out,
		`^\[INFO\]:-An earlier gprecoverseg \(PID `+strconv.Itoa(bg.pid())+`, started .*\) did not finish; this run completes its work$`,
		`^\[INFO\]:-Segments successfully recovered\.$`)
	tr.recovered(t, lsn)
}

// fill creates table on s (a utility session) with rows rows of about
// 1 kB each (under the TOAST threshold: no compression).
func fill(t testing.TB, s cluster.Segment, table string, rows int) {
	t.Helper()
	begin := time.Now()
	execSQL(t, on(t, s),
		"CREATE TABLE public."+table+" (i int, pad text)",
		"INSERT INTO public."+table+" SELECT i, repeat('x', 1000) FROM generate_series(1, "+strconv.Itoa(rows)+") AS i")
	t.Logf("%d rows of 1 kB into %s on %s in %.1f s", rows, table, s.Label(), time.Since(begin).Seconds())
}

// progressText is what dbid's pg_rewind wrote into its progress files in
// logDir (spec §3.2); "" when there are none.
func progressText(t testing.TB, logDir string, dbid int) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(logDir, "pg_rewind.*.dbid"+strconv.Itoa(dbid)+".out"))
	var b strings.Builder
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		b.Write(text)
	}
	return b.String()
}

//go:build integration

package recoverseg_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestRecoverseg takes content 1 of a 2-host mirrored cluster through
// three recoveries in turn, each after a failover made the way it happens
// (kill -9, or an immediate stop, of its acting primary, and FTS probes):
//
//  1. the seed's second part: after the failover, gprecoverseg -a rewinds
//     the old primary and brings it back as an up mirror in sync; first,
//     the lock (spec §4.2): a run waiting at its prompt holds it and a
//     second run is refused with Greenplum's two lines (exit 2); killed
//     -9 at its prompt, the first leaves a stale lock, which the next run
//     takes over with a warning; then gpstate -e calls the pair
//     unsynchronized while the recovered mirror's walreceiver is stopped
//     (SIGSTOP, bounded well below wal_sender_timeout) and its primary
//     writes, and no longer after SIGCONT;
//  2. gprecoverseg -F killed -9 midway through copying about 400 MB, then
//     run again (kill_integration_test.go);
//  3. gprecoverseg -a killed -9 during the rewind, then run again
//     (kill_integration_test.go).
//
// After each recovery the recovered instance's primary is stopped and FTS
// promotes it, and every row written so far is counted on it: the next
// recovery starts from there.
func TestRecoverseg(t *testing.T) {
	tr := &trail{b: newBed(t, 2), content: 1, rows: map[string]int{}}
	tr.acting = tr.b.primary(t, tr.content)
	tr.write(t, "before_failover", 1000)
	tr.acting, tr.failed = tr.b.failover(t, tr.content)
	if f := tr.failed; f.Status != cluster.StatusDown || f.Mode != cluster.ModeNotSynced || !f.IsMirror() {
		t.Fatalf("the killed primary after the failover: %s, want m, d, n", f)
	}
	for _, step := range []struct {
		name string
		run  func(t *testing.T, tr *trail)
	}{
		{"incremental after a failover, the lock", recoverIncremental},
		{"kill -9 during the -F copy", killDuringCopy},
		{"kill -9 during the rewind", killDuringRewind},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(t, tr) }) {
			return // the next recovery starts where this one should have ended
		}
	}
}

// trail is the content a test takes through recoveries: its acting
// primary, its failed instance, and the rows written on it so far.
type trail struct {
	b       *bed
	content int
	acting  cluster.Segment
	failed  cluster.Segment
	rows    map[string]int
}

// write creates table with n rows on the acting primary and returns the
// WAL position after it.
func (tr *trail) write(t testing.TB, table string, n int) string {
	t.Helper()
	tr.rows[table] = n
	return write(t, tr.acting, table, n)
}

// fill creates table with n rows of about 1 kB on the acting primary.
func (tr *trail) fill(t testing.TB, table string, n int) {
	t.Helper()
	tr.rows[table] = n
	fill(t, tr.acting, table, n)
}

// recovered checks that the failed instance is back as an up mirror in
// sync that has replayed lsn, and that nothing of the recovery is left;
// then it stops the acting primary (immediate), waits for FTS to promote
// the recovered instance and counts every row on it. The two swap roles:
// the stopped primary is the next failed instance.
func (tr *trail) recovered(t *testing.T, lsn string) {
	t.Helper()
	tr.b.waitInSync(t, tr.content, tr.failed.DBID, lsn)
	tr.b.noLeftovers(t, tr.failed.DataDir)
	promoted := tr.b.promote(t, tr.content, tr.failed.DBID)
	for table, want := range tr.rows {
		if n := count(t, promoted, table); n != want {
			t.Errorf("%s on the recovered dbid %d once promoted: %d rows, want %d", table, promoted.DBID, n, want)
		}
	}
	tr.acting, tr.failed = promoted, byDBID(t, tr.b.catalog(t), tr.acting.DBID)
}

// recoverIncremental is TestRecoverseg's first recovery.
func recoverIncremental(t *testing.T, tr *trail) {
	b, primary, failed := tr.b, tr.acting, tr.failed
	lsn := tr.write(t, "after_failover", 2000)
	historyBefore := b.history(t)

	t.Run("lock", func(t *testing.T) {
		holder := b.start(t, toolRun{}, "gprecoverseg")
		holder.waitFor(t, "its prompt", func() bool { return strings.Contains(holder.out.String(), "Continue with segment recovery procedure") })
		lock := filepath.Join(b.coord, "gprecoverseg.lock")
		pid, err := os.ReadFile(filepath.Join(lock, "PID"))
		if err != nil || string(pid) != strconv.Itoa(holder.pid()) {
			t.Fatalf("%s/PID holds %q (%v), want the waiting run's pid %d without a newline", lock, pid, err, holder.pid())
		}
		code, out := b.tool(t, toolRun{}, "gprecoverseg", "-a")
		if code != 2 {
			t.Errorf("a second gprecoverseg while the first holds the lock: exit %d, want 2\n%s", code, out)
		}
		tooltest.WantInOrder(t, out,
			`^\[ERROR\]:-Lockfile `+regexp.QuoteMeta(lock)+` indicates that an instance of gprecoverseg is already running with PID `+strconv.Itoa(holder.pid())+`$`,
			`^\[ERROR\]:-If this is not the case, remove the lockfile directory at `+regexp.QuoteMeta(lock)+`$`)
		if strings.Contains(out, "Continue with segment recovery procedure") || strings.Contains(out, "Recovery 1 of 1") {
			t.Errorf("the refused run went on past the lock:\n%s", out)
		}

		// Killed -9 at its prompt, the holder leaves its lock behind.
		holder.kill(t)
		if _, err := os.Stat(filepath.Join(lock, "PID")); err != nil {
			t.Fatalf("the killed run left no lock: %v", err)
		}
		if failed := byDBID(t, b.catalog(t), failed.DBID); failed.IsUp() {
			t.Fatalf("dbid %d recovered by a run that never got its answer: %s", failed.DBID, failed)
		}
	})

	logDir := t.TempDir()
	code, out := b.tool(t, toolRun{logDir: logDir}, "gprecoverseg", "-a")
	if code != 0 {
		t.Fatalf("gprecoverseg -a: exit %d\n%s", code, out)
	}
	tooltest.WantInOrder(t, out,
		`^\[WARNING\]:-Lockfile .*/gprecoverseg\.lock was left by gprecoverseg with PID \d+: its process is not running; taking it over$`,
		`^\[INFO\]:-Heap checksum setting is consistent between coordinator and the segments that are candidates for recoverseg$`,
		`^\[INFO\]:-Greenplum instance recovery parameters$`,
		`^\[INFO\]:-Recovery 1 of 1$`,
		`^\[INFO\]:-   Synchronization mode +?= Incremental$`,
		`^\[INFO\]:-   Failed instance directory +?= `+regexp.QuoteMeta(failed.DataDir)+`$`,
		`^\[INFO\]:-   Recovery Source instance directory +?= `+regexp.QuoteMeta(primary.DataDir)+`$`,
		`^\[INFO\]:-Starting to create new pg_hba.conf on primary segments$`,
		`^\[INFO\]:-1 segment\(s\) to recover$`,
		`^\[INFO\]:-Ensuring 1 failed segment\(s\) are stopped$`,
		`^\[INFO\]:-Setting up the required segments for recovery$`,
		`^\[INFO\]:-Updating configuration for mirrors$`,
		`^\[INFO\]:-Initiating segment recovery\. Upon completion, will start the successfully recovered segments$`,
		`^\[INFO\]:-Triggering FTS probe$`,
		`^\[INFO\]:-Segments successfully recovered\.$`,
	)
	// With -a the output stays Greenplum's: our plan table is a DEBUG
	// message, seen with -v.
	if strings.Contains(out, "Recovery plan:") {
		t.Errorf("gprecoverseg -a printed the plan table, which only the log file gets:\n%s", out)
	}
	b.waitInSync(t, tr.content, failed.DBID, lsn)
	// Greenplum writes no catalog row for an in-place incremental
	// recovery after a failover (spec §4.7.1): FTS wrote its own.
	for _, h := range b.history(t)[len(historyBefore):] {
		if strings.HasPrefix(h, "gprecoverseg") {
			t.Errorf("gprecoverseg wrote a history row: %q", h)
		}
	}
	progress, _ := filepath.Glob(filepath.Join(logDir, "pg_rewind.*.dbid"+strconv.Itoa(failed.DBID)+".out"))
	if len(progress) != 0 {
		t.Errorf("the rewind's progress file is left: %v", progress)
	}
	if _, err := os.Stat(filepath.Join(logDir, "recovery_progress.file")); err == nil {
		t.Error("recovery_progress.file is left")
	}

	t.Run("gpstate -e with the walreceiver stopped", func(t *testing.T) {
		lsn = b.heldWalreceiver(t, primary, failed)
		tr.rows["while_held"] = heldRows
	})
	tr.recovered(t, lsn)
}

// primary returns content c's acting primary.
func (b *bed) primary(t testing.TB, c int) cluster.Segment {
	t.Helper()
	p, _ := pair(t, b.catalog(t), c)
	return p
}

// heldWalreceiver stops mirror's walreceiver with SIGSTOP while primary
// writes heldRows into while_held (its commits not waiting for the
// mirror), has FTS see the mirror behind, and checks gpstate -e's
// "Unsynchronized Segment Pairs" before, during and after: the pair is
// listed only while the walreceiver is held. It returns the primary's WAL
// position after the writes, which the mirror has replayed.
// The pair's roles stay switched (rebalancing is gprecoverseg -r's), so
// gpstate -e lists that section, and exits 1, throughout.
func (b *bed) heldWalreceiver(t *testing.T, primary, mirror cluster.Segment) string {
	unsynced := fmt.Sprintf(`^\[INFO\]:-   %s +%d +\S+ +%s +%d$`, regexp.QuoteMeta(primary.Address), primary.Port, regexp.QuoteMeta(mirror.Address), mirror.Port)
	clean := func(when string) {
		t.Helper()
		code, out := b.tool(t, toolRun{}, "gpstate", "-e")
		if code != 1 || strings.Contains(out, "Unsynchronized Segment Pairs") {
			t.Errorf("gpstate -e %s: exit %d, want 1 with no unsynchronized pair\n%s", when, code, out)
		}
		tooltest.WantInOrder(t, out, `^\[INFO\]:-Segments with Primary and Mirror Roles Switched$`)
	}
	clean("after the recovery")

	receivers := tooltest.Pgrep(t, `^postgres: .*walreceiver`)
	var held int
	pm := postmasterPID(mirror.DataDir)
	for _, pid := range receivers {
		if ppid(t, pid) == pm {
			held = pid
		}
	}
	if held == 0 {
		t.Fatalf("no walreceiver under dbid %d's postmaster %d (walreceivers %v)", mirror.DBID, pm, receivers)
	}
	if err := syscall.Kill(held, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	// Also when the test fails: a stopped process never stops the cluster.
	defer func() { _ = syscall.Kill(held, syscall.SIGCONT) }()
	conn := on(t, primary)
	execSQL(t, conn, "SET synchronous_commit = local", fmt.Sprintf("CREATE TABLE public.while_held AS SELECT generate_series(1, %d) AS i", heldRows))
	segs := b.waitCatalog(t, "FTS sees the held mirror behind", func(segs []cluster.Segment) bool {
		return !byDBID(t, segs, mirror.DBID).IsSynced()
	})
	if m := byDBID(t, segs, mirror.DBID); !m.IsUp() {
		t.Fatalf("the held mirror was marked down: %s", m)
	}
	code, out := b.tool(t, toolRun{}, "gpstate", "-e")
	if code != 1 {
		t.Errorf("gpstate -e with the walreceiver held: exit %d, want 1\n%s", code, out)
	}
	tooltest.WantInOrder(t, out,
		`^\[INFO\]:-Unsynchronized Segment Pairs$`,
		`^\[INFO\]:-   Current Primary +Port +WAL sync remaining bytes +Mirror +Port$`,
		unsynced)
	// The walsender gives up after wal_sender_timeout (60 s).
	if held := time.Since(stopped); held > 40*time.Second {
		t.Errorf("the walreceiver was held %s: the walsender may have timed out", held)
	}
	if err := syscall.Kill(held, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var lsn string
	if err := conn.QueryRow(t.Context(), "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	b.waitInSync(t, primary.ContentID, mirror.DBID, lsn)
	clean("after SIGCONT")
	return lsn
}

// heldRows is what the primary writes while its mirror's walreceiver is
// held.
const heldRows = 100_000

// ppid is pid's parent.
func ppid(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	n, _ := strconv.Atoi(f[1]) // state, then ppid
	return n
}

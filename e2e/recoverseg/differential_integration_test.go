//go:build integration

package recoverseg_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// differentialAppName is the application_name of gprecoverseg
// --differential's backup session on a source.
const differentialAppName = "__gprecoverseg_differential__"

// diffKillRows is how many rows of about 1 kB TestDifferential writes on
// content 1's primary before it kills gprecoverseg during their rsync:
// about 170 MB, so that the copy lasts long enough to be caught.
const diffKillRows = 150_000

// TestDifferential runs gprecoverseg --differential blind against one
// mirrored cluster (2 hosts, 1 primary each, group mirrors):
//
//   - a source with a user tablespace is refused, nothing changed;
//   - content 0's mirror is stopped while its primary takes writes, then
//     recovered with --differential: it streams in sync, and after its
//     primary is killed and it is promoted, every row is there; the
//     killed former primary is then recovered with --differential from it
//     (a timeline switch);
//   - gprecoverseg is killed (kill -9) while rsync copies content 1's
//     mirror: the primary holds no backup, the slot stays (as the down
//     mirror's did), the half-copied directory is refused to an
//     incremental recovery, and the same command run again completes.
func TestDifferential(t *testing.T) {
	b := newBed(t, 2)
	segs := b.catalog(t)
	p0, m0 := pair(t, segs, 0)
	p1, m1 := pair(t, segs, 1)
	b.mirrorDown(t, p0, m0)

	t.Run("user tablespace refused", func(t *testing.T) {
		loc := filepath.Join(t.TempDir(), "ts")
		if err := os.Mkdir(loc, 0o700); err != nil {
			t.Fatal(err)
		}
		conn := on(t, p0)
		execSQL(t, conn, "CREATE TABLESPACE diff_ts LOCATION '"+loc+"'")
		before, slots, files := dump(b.catalog(t)), slotState(t, p0), fingerprint(t, m0.DataDir)
		code, out := b.tool(t, toolRun{}, "gprecoverseg", "-a", "--differential")
		if code != 2 {
			t.Fatalf("exit %d, want 2\n%s", code, out)
		}
		tooltest.WantInOrder(t, out,
			`^\[ERROR\]:-dbid \d+ \(content 0\) on .*: differential recovery cannot work: the source .* has user tablespaces \(diff_ts at `+regexp.QuoteMeta(loc)+`\)`,
			`Greenplum instance recovery parameters`,
			`^\[ERROR\]:-gprecoverseg error: differential recovery of dbid \d+ \(content 0\) on .* cannot work: `)
		if after := dump(b.catalog(t)); after != before {
			t.Errorf("the catalog changed:\n%s\nwas:\n%s", after, before)
		}
		if got := slotState(t, p0); got != slots {
			t.Errorf("slots on the source: %s, were %s", got, slots)
		}
		sameFingerprint(t, "the down mirror", m0.DataDir, files)
		if _, err := os.Stat(marker(m0.DataDir)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("marker %s: %v, want none", marker(m0.DataDir), err)
		}
		if running(m0.DataDir) {
			t.Error("the mirror was started")
		}
		execSQL(t, conn, "DROP TABLESPACE diff_ts")
	})

	t.Run("mirror down while the primary writes", func(t *testing.T) {
		conn := on(t, p0)
		execSQL(t, conn,
			"CREATE TABLE public.diff AS SELECT i, repeat('x', 200) AS pad FROM generate_series(1, 20000) AS i",
			"UPDATE public.diff SET pad = 'changed' WHERE i % 10 = 0",
			"DELETE FROM public.diff WHERE i % 7 = 0")
		want := count(t, p0, "diff")
		if want != 20000-20000/7 {
			t.Fatalf("rows written: %d", want)
		}
		var lsn string
		if err := conn.QueryRow(t.Context(), "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
			t.Fatal(err)
		}

		code, out := b.tool(t, toolRun{}, "gprecoverseg", "-a", "--differential", "--dry-run")
		if code != 0 {
			t.Fatalf("--dry-run: exit %d\n%s", code, out)
		}
		tooltest.WantInOrder(t, out, `Dry run: 1 segment\(s\) planned; nothing was changed`)
		begin := time.Now()
		code, out = b.tool(t, toolRun{}, "gprecoverseg", "-a", "--differential")
		t.Logf("gprecoverseg --differential of content 0's mirror: exit %d in %.1f s", code, time.Since(begin).Seconds())
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		tooltest.WantInOrder(t, out,
			`^\[INFO\]:-   Synchronization mode                 = Differential$`,
			`^\[INFO\]:-Starting to create new pg_hba.conf on primary segments$`,
			`^\[INFO\]:-Running differential recovery with progress output temporarily in .*/rsync\.\d{8}_\d{6}\.dbid`+strconv.Itoa(m0.DBID)+`\.out$`,
			`^\[INFO\]:-Successfully ran differential recovery for dbid `+strconv.Itoa(m0.DBID)+`$`,
			`^\[INFO\]:-Triggering FTS probe$`,
			`^\[INFO\]:-Segments successfully recovered\.$`)
		b.waitInSync(t, 0, m0.DBID, lsn)
		b.wantClean(t, p0, m0)

		// Content 0's primary dies; FTS promotes the recovered mirror,
		// which has every row.
		promoted, failed := b.failover(t, 0)
		if got := count(t, promoted, "diff"); got != want {
			t.Fatalf("rows on the promoted mirror: %d, want %d", got, want)
		}

		// The killed former primary, recovered from its promoted mirror
		// across the timeline switch.
		code, out = b.tool(t, toolRun{}, "gprecoverseg", "-a", "--differential")
		if code != 0 {
			t.Fatalf("recovery of the former primary: exit %d\n%s", code, out)
		}
		b.waitInSync(t, 0, failed.DBID, "")
		b.wantClean(t, promoted, failed)
	})

	t.Run("gprecoverseg killed during rsync", func(t *testing.T) {
		b.mirrorDown(t, p1, m1)
		conn := on(t, p1)
		execSQL(t, conn,
			"CREATE TABLE public.big (i int, pad text)",
			"INSERT INTO public.big SELECT i, repeat('x', 1000) FROM generate_series(1, "+strconv.Itoa(diffKillRows)+") AS i")
		var size int64
		if err := conn.QueryRow(t.Context(), "SELECT pg_database_size(current_database())").Scan(&size); err != nil {
			t.Fatal(err)
		}

		rsync := `^rsync .*--delete .*` + regexp.QuoteMeta(m1.DataDir) + `$`
		bg := b.start(t, toolRun{}, "gprecoverseg", "-a", "--differential")
		begin := time.Now()
		bg.waitFor(t, "rsync into "+m1.DataDir, func() bool { return len(tooltest.Pgrep(t, rsync)) > 0 })
		time.Sleep(300 * time.Millisecond)
		bg.kill(t)
		t.Logf("content 1's primary holds %d MB; gprecoverseg was killed %.1f s after it started, during the rsync (%d MB in the target then)",
			size>>20, time.Since(begin).Seconds(), tooltest.DirSize(m1.DataDir)>>20)

		// The primary holds no backup: the session that held it is gone
		// (PostgreSQL ends a non-exclusive backup with its session), and
		// there is no backup_label, which an exclusive backup leaves.
		for deadline := time.Now().Add(10 * time.Second); backupSessions(t, conn) > 0; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("a backup session is still on content 1's primary 10 s after gprecoverseg was killed")
			}
		}
		if _, err := os.Stat(filepath.Join(p1.DataDir, "backup_label")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("backup_label in the primary: %v", err)
		}
		// The slot stays, as the down mirror's did; the rerun replaces it.
		if got := slotState(t, p1); got != "internal_wal_replication_slot:false" {
			t.Errorf("slots on content 1's primary: %s, want the inactive internal_wal_replication_slot", got)
		}
		if _, err := os.Stat(marker(m1.DataDir)); err != nil {
			t.Fatalf("no marker of the half-copied directory: %v", err)
		}

		// An incremental recovery would trust what rsync was writing: refused.
		code, iout := b.tool(t, toolRun{}, "gprecoverseg", "-a")
		if code != 2 {
			t.Fatalf("incremental recovery of the half-copied directory: exit %d, want 2\n%s", code, iout)
		}
		tooltest.WantInOrder(t, iout, `^\[ERROR\]:-gprecoverseg error: incremental recovery of dbid `+strconv.Itoa(m1.DBID)+` .* cannot work: an interrupted differential recovery left `+regexp.QuoteMeta(m1.DataDir)+` half-copied`)

		rerun := time.Now()
		code, rout := b.tool(t, toolRun{}, "gprecoverseg", "-a", "--differential")
		t.Logf("rerun: exit %d in %.1f s", code, time.Since(rerun).Seconds())
		if code != 0 {
			t.Fatalf("rerun: exit %d\n%s", code, rout)
		}
		tooltest.WantInOrder(t, rout,
			`^\[INFO\]:-An earlier gprecoverseg \(PID \d+, started .*\) did not finish; this run completes its work$`,
			`^\[INFO\]:-Replication slot internal_wal_replication_slot on .* is not in use and holds .* of WAL; it is replaced by a new one$`,
			`^\[INFO\]:-Successfully ran differential recovery for dbid `+strconv.Itoa(m1.DBID)+`$`,
			`^\[INFO\]:-Segments successfully recovered\.$`)
		var lsn string
		if err := conn.QueryRow(t.Context(), "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		b.waitInSync(t, 1, m1.DBID, lsn)
		b.wantClean(t, p1, m1)
		if got, want := count(t, p1, "big"), diffKillRows; got != want {
			t.Errorf("rows on content 1's primary: %d, want %d", got, want)
		}
	})
}

// mirrorDown stops mirror m of primary p and marks it down and the pair not
// in sync, as FTS would after its grace period (30 s, which the test does
// not wait), then asks for probes until the primary's synchronous
// replication is off.
func (b *bed) mirrorDown(t testing.TB, p, m cluster.Segment) {
	t.Helper()
	pgctl(t, "-D", m.DataDir, "-m", "fast", "-w", "-t", "60", "stop")
	ctx, cancel := context.WithTimeout(t.Context(), sqlTimeout)
	defer cancel()
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: b.port, Flavour: cluster.GP7, Utility: true, AllowSystemTableMods: true, ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []struct {
		sql  string
		dbid int
	}{
		{"UPDATE gp_segment_configuration SET mode = 'n' WHERE dbid = $1", p.DBID},
		{"UPDATE gp_segment_configuration SET mode = 'n', status = 'd' WHERE dbid = $1", m.DBID},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.dbid); err != nil {
			t.Fatal(err)
		}
	}
	primary := on(t, p)
	for deadline := time.Now().Add(ftsLimit); ; time.Sleep(100 * time.Millisecond) {
		b.probe(t)
		var ssn string
		if err := primary.QueryRow(t.Context(), "SHOW synchronous_standby_names").Scan(&ssn); err != nil {
			t.Fatal(err)
		}
		if ssn == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("primary dbid %d keeps synchronous_standby_names %q", p.DBID, ssn)
		}
	}
}

// wantClean checks what a differential recovery of target from source
// leaves: no marker, pid file or WAL list beside the target, no rsync into
// it, no lock or journal, no backup session on the source, the source's
// slot in use.
func (b *bed) wantClean(t testing.TB, source, target cluster.Segment) {
	t.Helper()
	b.noLeftovers(t, target.DataDir)
	for _, suffix := range []string{"differential", "rsync.pid", "rsync.wal"} {
		f := beside(target.DataDir, suffix)
		if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want none", f, err)
		}
	}
	if pids := tooltest.Pgrep(t, `^rsync .*`+regexp.QuoteMeta(target.DataDir)); len(pids) > 0 {
		t.Errorf("rsync into %s still runs: %v", target.DataDir, pids)
	}
	if n := backupSessions(t, on(t, source)); n != 0 {
		t.Errorf("backup sessions on the source: %d", n)
	}
	if got := slotState(t, source); got != "internal_wal_replication_slot:true" {
		t.Errorf("slots on the source: %s, want internal_wal_replication_slot in use", got)
	}
}

// backupSessions counts the sessions that hold a differential recovery's
// backup on the instance of conn.
func backupSessions(t testing.TB, conn cluster.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", differentialAppName).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// slotState lists the slots of s as "name:active", comma separated.
func slotState(t testing.TB, s cluster.Segment) string {
	t.Helper()
	var got string
	if err := on(t, s).QueryRow(t.Context(), "SELECT coalesce(string_agg(slot_name || ':' || active, ',' ORDER BY slot_name), '') FROM pg_replication_slots").Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// beside is the file ".<base>.<suffix>" next to dir.
func beside(dir, suffix string) string {
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+"."+suffix)
}

// marker is the file that says dir is half-copied by a differential
// recovery.
func marker(dir string) string { return beside(dir, "differential") }

//go:build integration

package e2e

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
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
	d := newMirroredDemo(t, 2, 1)
	coordPort := d.port(t)
	inst := func(content int, role cluster.Role) cluster.Segment {
		return d.find(t, func(s cluster.Segment) bool { return s.ContentID == content && s.PreferredRole == role })
	}
	p0, m0 := inst(0, cluster.RolePrimary), inst(0, cluster.RoleMirror)
	p1, m1 := inst(1, cluster.RolePrimary), inst(1, cluster.RoleMirror)
	d.mirrorDown(t, coordPort, p0, m0)

	t.Run("user tablespace refused", func(t *testing.T) {
		loc := filepath.Join(t.TempDir(), "ts")
		if err := os.Mkdir(loc, 0o700); err != nil {
			t.Fatal(err)
		}
		conn := connect(t, p0.Hostname, p0.Port, true)
		if _, err := conn.Exec(t.Context(), "CREATE TABLESPACE diff_ts LOCATION '"+loc+"'"); err != nil {
			t.Fatal(err)
		}
		before := dump(d.catalog(t))
		slots := slotState(t, p0)
		code, out := d.blind(t, "gprecoverseg", "-a", "--differential")
		if code != 2 {
			t.Fatalf("exit %d, want 2\n%s", code, out)
		}
		wantInOrder(t, out,
			`^\[ERROR\]:-dbid \d+ \(content 0\) on .*: differential recovery cannot work: the source .* has user tablespaces \(diff_ts at `+regexp.QuoteMeta(loc)+`\)`,
			`Greenplum instance recovery parameters`,
			`^\[ERROR\]:-gprecoverseg error: differential recovery of dbid \d+ \(content 0\) on .* cannot work: `)
		if after := dump(d.catalog(t)); after != before {
			t.Errorf("the catalog changed:\n%s\nwas:\n%s", after, before)
		}
		if got := slotState(t, p0); got != slots {
			t.Errorf("slots on the source: %s, were %s", got, slots)
		}
		if _, err := os.Stat(marker(m0.DataDir)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("marker %s: %v, want none", marker(m0.DataDir), err)
		}
		if running(m0) {
			t.Error("the mirror was started")
		}
		if _, err := conn.Exec(t.Context(), "DROP TABLESPACE diff_ts"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("mirror down while the primary writes", func(t *testing.T) {
		conn := connect(t, p0.Hostname, p0.Port, true)
		var want int
		for _, sql := range []string{
			"CREATE TABLE public.diff AS SELECT i, repeat('x', 200) AS pad FROM generate_series(1, 20000) AS i",
			"UPDATE public.diff SET pad = 'changed' WHERE i % 10 = 0",
			"DELETE FROM public.diff WHERE i % 7 = 0",
		} {
			if _, err := conn.Exec(t.Context(), sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM public.diff").Scan(&want); err != nil {
			t.Fatal(err)
		}
		var lsn string
		if err := conn.QueryRow(t.Context(), "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
			t.Fatal(err)
		}

		code, out := d.blind(t, "gprecoverseg", "-a", "--differential", "--dry-run")
		if code != 0 || !strings.Contains(out, "Dry run: 1 segment(s) planned; nothing was changed") {
			t.Fatalf("--dry-run: exit %d\n%s", code, out)
		}
		begin := time.Now()
		code, out = d.blind(t, "gprecoverseg", "-a", "--differential")
		t.Logf("gprecoverseg --differential of content 0's mirror: exit %d in %.1f s", code, time.Since(begin).Seconds())
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		wantInOrder(t, out,
			`^\[INFO\]:-   Synchronization mode                 = Differential$`,
			`^\[INFO\]:-Starting to create new pg_hba.conf on primary segments$`,
			`^\[INFO\]:-Running differential recovery with progress output temporarily in .*/rsync\.\d{8}_\d{6}\.dbid`+strconv.Itoa(m0.DBID)+`\.out$`,
			`^\[INFO\]:-Successfully ran differential recovery for dbid `+strconv.Itoa(m0.DBID)+`$`,
			`^\[INFO\]:-Triggering FTS probe$`,
			`^\[INFO\]:-Segments successfully recovered\.$`)
		waitSynced(t, coordPort)
		waitReplayed(t, conn, lsn)
		d.wantClean(t, p0, m0)

		// Content 0's primary dies; FTS promotes the recovered mirror,
		// which has every row.
		if out, err := exec.Command("kill", "-9", pidOf(t, p0)).CombinedOutput(); err != nil {
			t.Fatalf("kill -9 primary 0: %v %s", err, out)
		}
		waitFailover(t, coordPort, 0)
		var got int
		if err := connect(t, m0.Hostname, m0.Port, true).QueryRow(t.Context(), "SELECT count(*) FROM public.diff").Scan(&got); err != nil || got != want {
			t.Fatalf("rows on the promoted mirror: %d, %v; want %d", got, err, want)
		}

		// The killed former primary, recovered from its promoted mirror
		// across the timeline switch.
		code, out = d.blind(t, "gprecoverseg", "-a", "--differential")
		if code != 0 {
			t.Fatalf("recovery of the former primary: exit %d\n%s", code, out)
		}
		waitSynced(t, coordPort)
		d.wantClean(t, m0, p0)
	})

	t.Run("gprecoverseg killed during rsync", func(t *testing.T) {
		d.mirrorDown(t, coordPort, p1, m1)
		conn := connect(t, p1.Hostname, p1.Port, true)
		for _, sql := range []string{
			"CREATE TABLE public.big (i int, pad text)",
			"INSERT INTO public.big SELECT i, repeat('x', 1000) FROM generate_series(1, " + strconv.Itoa(diffKillRows) + ") AS i",
		} {
			if _, err := conn.Exec(t.Context(), sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		var size int64
		if err := conn.QueryRow(t.Context(), "SELECT pg_database_size(current_database())").Scan(&size); err != nil {
			t.Fatal(err)
		}

		cmd, cancel := command(toolTimeout, filepath.Join(toolsDir, "gprecoverseg"), "-a", "--differential", "-l", t.TempDir())
		defer cancel()
		cmd = testbed.Blind(t, cmd, d.hidden...)
		cmd.Env = append(os.Environ(), "GPHOME="+gphome, "COORDINATOR_DATA_DIRECTORY="+d.coord, "MASTER_DATA_DIRECTORY=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		rsync := `^rsync .*--delete .*` + regexp.QuoteMeta(m1.DataDir) + `$`
		begin := time.Now()
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
			select {
			case err := <-exited:
				t.Fatalf("gprecoverseg exited (%v) before its rsync was seen\n%s", err, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no rsync into %s within 2 minutes\n%s", m1.DataDir, out.String())
			}
			if len(pgrep(t, rsync)) > 0 {
				break
			}
		}
		time.Sleep(300 * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-exited
		t.Logf("content 1's primary holds %d MB; gprecoverseg was killed %.1f s after it started, during the rsync (%d MB in the target then)",
			size>>20, time.Since(begin).Seconds(), dirSize(m1.DataDir)>>20)

		// The primary holds no backup: the session that held it is gone
		// (PostgreSQL ends a non-exclusive backup with its session), and
		// there is no backup_label, which an exclusive backup leaves.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			var n int
			if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", differentialAppName).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d backup session(s) still on content 1's primary 10 s after gprecoverseg was killed", n)
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
		code, iout := d.blind(t, "gprecoverseg", "-a")
		if code != 2 {
			t.Fatalf("incremental recovery of the half-copied directory: exit %d, want 2\n%s", code, iout)
		}
		wantInOrder(t, iout, `^\[ERROR\]:-gprecoverseg error: incremental recovery of dbid `+strconv.Itoa(m1.DBID)+` .* cannot work: an interrupted differential recovery left `+regexp.QuoteMeta(m1.DataDir)+` half-copied`)

		rerun := time.Now()
		code, rout := d.blind(t, "gprecoverseg", "-a", "--differential")
		t.Logf("rerun: exit %d in %.1f s", code, time.Since(rerun).Seconds())
		if code != 0 {
			t.Fatalf("rerun: exit %d\n%s", code, rout)
		}
		wantInOrder(t, rout,
			`^\[INFO\]:-An earlier gprecoverseg \(PID \d+, started .*\) did not finish; this run completes its work$`,
			`^\[INFO\]:-Replication slot internal_wal_replication_slot on .* is not in use and holds .* of WAL; it is replaced by a new one$`,
			`^\[INFO\]:-Successfully ran differential recovery for dbid `+strconv.Itoa(m1.DBID)+`$`,
			`^\[INFO\]:-Segments successfully recovered\.$`)
		waitSynced(t, coordPort)
		d.wantClean(t, p1, m1)
		var lsn string
		if err := conn.QueryRow(t.Context(), "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		waitReplayed(t, conn, lsn)
	})
}

// mirrorDown stops mirror m of primary p and marks it down and the pair not
// in sync, as FTS would after its grace period (30 s, which the test does
// not wait), then asks for a probe, which turns the primary's synchronous
// replication off.
func (d stopDemo) mirrorDown(t testing.TB, coordPort int, p, m cluster.Segment) {
	t.Helper()
	if out, err := exec.Command(filepath.Join(gphome, "bin", "pg_ctl"), "-D", m.DataDir, "-m", "fast", "-w", "-t", "60", "stop").CombinedOutput(); err != nil {
		t.Fatalf("stop mirror dbid %d: %v\n%s", m.DBID, err, out)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: coordPort, Flavour: cluster.GP7, Utility: true, AllowSystemTableMods: true, ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"UPDATE gp_segment_configuration SET mode = 'n' WHERE dbid = $1", []any{p.DBID}},
		{"UPDATE gp_segment_configuration SET mode = 'n', status = 'd' WHERE dbid = $1", []any{m.DBID}},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	fts, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: coordPort, Flavour: cluster.GP7, Database: "postgres", ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer fts.Close(context.Background())
	primary := connect(t, p.Hostname, p.Port, true)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := fts.Exec(ctx, "SELECT gp_request_fts_probe_scan()"); err != nil {
			t.Fatal(err)
		}
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
		time.Sleep(100 * time.Millisecond)
	}
}

// wantClean checks what a differential recovery of target from source
// leaves: no marker, pid file or WAL list beside the target, no rsync into
// it, no backup session on the source, the source's slot in use.
func (d stopDemo) wantClean(t *testing.T, source, target cluster.Segment) {
	t.Helper()
	for _, suffix := range []string{"differential", "rsync.pid", "rsync.wal"} {
		f := beside(target.DataDir, suffix)
		if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want none", f, err)
		}
	}
	if pids := pgrep(t, `^rsync .*`+regexp.QuoteMeta(target.DataDir)); len(pids) > 0 {
		t.Errorf("rsync into %s still runs: %v", target.DataDir, pids)
	}
	var n int
	if err := connect(t, source.Hostname, source.Port, true).QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", differentialAppName).Scan(&n); err != nil || n != 0 {
		t.Errorf("backup sessions on the source: %d, %v", n, err)
	}
	if got := slotState(t, source); got != "internal_wal_replication_slot:true" {
		t.Errorf("slots on the source: %s, want internal_wal_replication_slot in use", got)
	}
}

// slotState lists the slots of s as "name:active", comma separated.
func slotState(t *testing.T, s cluster.Segment) string {
	t.Helper()
	var got string
	if err := connect(t, s.Hostname, s.Port, true).QueryRow(t.Context(), "SELECT coalesce(string_agg(slot_name || ':' || active, ',' ORDER BY slot_name), '') FROM pg_replication_slots").Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// beside is the file ".<base>.<suffix>" next to dir.
func beside(dir, suffix string) string {
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+"."+suffix)
}

// marker is the file that says a differential recovery half-copied dir.
func marker(dir string) string { return beside(dir, "differential") }

// pidOf is the postmaster pid of s.
func pidOf(t *testing.T, s cluster.Segment) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.DataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
}

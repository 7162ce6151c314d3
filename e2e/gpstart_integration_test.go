//go:build integration

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// rows is the catalog without what a start may change, for comparisons.
func rows(segs []cluster.Segment) []string {
	var out []string
	for _, s := range segs {
		out = append(out, s.String())
	}
	slices.Sort(out)
	return out
}

// wantAllRunning fails t unless every instance of the catalog taken when
// the cluster was made runs.
func (d stopDemo) wantAllRunning(t *testing.T) {
	t.Helper()
	for _, s := range d.segs {
		if !running(s) {
			t.Errorf("dbid %d (%s) not running", s.DBID, s.DataDir)
		}
	}
}

// wantCatalog fails t unless the catalog equals want.
func (d stopDemo) wantCatalog(t *testing.T, want []cluster.Segment) {
	t.Helper()
	if got := rows(d.catalog(t)); !slices.Equal(got, rows(want)) {
		t.Fatalf("catalog changed:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(rows(want), "\n"))
	}
}

// query runs one statement through a normal (dispatch) session.
func (d stopDemo) query(t *testing.T, sql string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: d.port(t), Flavour: cluster.GP7, Database: "postgres", ConnectTimeout: 10 * time.Second})
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var v string
	err = conn.QueryRow(ctx, sql).Scan(&v)
	return v, err
}

// unreachableHome is a HOME whose ssh_config sends the given hosts to a
// closed port on loopback (as a host that is down).
func unreachableHome(t *testing.T, hosts ...string) string {
	t.Helper()
	return tooltest.UnreachableHome(t, hosts...)
}

// TestGpstart runs the built gpstart (and gpstop -r) blind against one
// mirrored cluster with a standby, through its modes in turn.
func TestGpstart(t *testing.T) {
	d := newStopDemo(t)
	before := d.segs
	stop := func(t *testing.T, args ...string) {
		t.Helper()
		if code, out := d.blind(t, "gpstop", append([]string{"-a", "-M", "fast"}, args...)...); code != 0 {
			t.Fatalf("gpstop exit %d\n%s", code, out)
		}
	}

	// The fresh cluster is healthy: so says gpstate in every mode (issue
	// 11). Here rather than in a test of its own, to spare make test a
	// cluster.
	t.Run("gpstate healthy in every mode", func(t *testing.T) { wantHealthyInEveryMode(t, d.demo) })
	// A new user's first steps (issue 19): the README's post-demo
	// commands, as they are. Here too to spare make test a cluster.
	t.Run("README's post-demo commands", func(t *testing.T) { wantReadmeCommandsWork(t, d.demo) })

	t.Run("running cluster", func(t *testing.T) {
		code, out := d.blind(t, "gpstart", "-a")
		if code != 2 {
			t.Fatalf("gpstart on a running cluster: exit %d, want 2\n%s", code, out)
		}
		wantInOrder(t, out, `Have lock file /tmp/\.s\.PGSQL\.\d+ and a process running on port`, `Coordinator instance process running`)
		d.wantAllRunning(t)
	})

	t.Run("stop then start", func(t *testing.T) {
		stop(t)
		d.wantAllStopped(t)
		code, out := d.blind(t, "gpstart", "-a")
		if code != 0 {
			t.Fatalf("gpstart -a exit %d\n%s", code, out)
		}
		wantInOrder(t, out, `Starting Coordinator instance in admin mode`, `Setting new coordinator era`,
			`Shutting down coordinator`, `Commencing parallel primary and mirror segment instance startup`,
			`Successful segment starts +?= 4`, `Successfully started 4 of 4 segment instances $`,
			`Command pg_ctl reports Coordinator \S+ instance active`, `Starting standby coordinator`, `Database successfully started`)
		d.wantAllRunning(t)
		d.wantCatalog(t, before)
		if v, err := d.query(t, "SELECT current_setting('gp_role')"); err != nil || v != "dispatch" {
			t.Fatalf("a normal session after gpstart: gp_role %q, %v", v, err)
		}
	})

	// A power cut: every postmaster killed -9. With hot_standby off, as
	// Greenplum's instances run, pg_ctl -w returns while the coordinator
	// is still in crash recovery; gpstart waits for it to take
	// connections instead of failing "not accepting connections".
	t.Run("after every instance was killed", func(t *testing.T) {
		// WAL for the coordinator's crash recovery to replay, so that it
		// is still recovering when pg_ctl -w returns.
		if v, err := d.query(t, "SELECT count(*)::text FROM (SELECT pg_catalog.pg_logical_emit_message(false, 'gpstart_e2e', repeat('x', 8192)) FROM generate_series(1, 20000)) AS wal"); err != nil || v != "20000" {
			t.Fatalf("writing WAL on the coordinator: %q, %v", v, err)
		}
		// Every process of every instance, as a power cut ends them: a
		// backend outliving its postmaster would keep the shared memory
		// and refuse any start.
		var pids []string
		for _, s := range d.segs {
			b, err := os.ReadFile(filepath.Join(s.DataDir, "postmaster.pid"))
			if err != nil {
				t.Fatal(err)
			}
			pm := strings.SplitN(string(b), "\n", 2)[0]
			children, _ := exec.Command("pgrep", "-P", pm).Output()
			pids = append(append(pids, pm), strings.Fields(string(children))...)
		}
		// A short-lived child may be gone already: kill's status says
		// nothing; the wait below checks that every one ended.
		_ = exec.Command("kill", append([]string{"-9"}, pids...)...).Run()
		for deadline := time.Now().Add(30 * time.Second); ; {
			alive := slices.DeleteFunc(slices.Clone(pids), func(pid string) bool { return exec.Command("kill", "-0", pid).Run() != nil })
			if len(alive) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("processes of the cluster alive 30 s after kill -9: %v", alive)
			}
			time.Sleep(100 * time.Millisecond)
		}
		code, out := d.blind(t, "gpstart", "-a")
		if code != 0 {
			t.Fatalf("gpstart -a after a crash of every instance: exit %d\n%s", code, out)
		}
		wantInOrder(t, out, `postmaster.pid file exists on Coordinator, checking if recovery startup required`,
			`Commencing forced instance shutdown`, `Starting Coordinator instance in admin mode`,
			`Successfully started 4 of 4 segment instances $`, `Database successfully started`)
		d.wantAllRunning(t)
		d.wantCatalog(t, before)
	})

	t.Run("coordinator only", func(t *testing.T) {
		stop(t)
		code, out := d.blind(t, "gpstart", "-a", "-m")
		if code != 0 {
			t.Fatalf("gpstart -m exit %d\n%s", code, out)
		}
		wantInOrder(t, out, `\[WARNING\]:-Coordinator-only start requested`, `Coordinator Started\.\.\.`)
		if _, err := d.query(t, "SELECT 1::text"); err == nil || !strings.Contains(err.Error(), "only utility mode connections are allowed") {
			t.Fatalf("a normal session after gpstart -m: %v, want a refusal", err)
		}
		conn := connect(t, "", d.port(t), true)
		if err := conn.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, s := range d.segs {
			if s.IsSegment() && running(s) {
				t.Errorf("dbid %d started by gpstart -m", s.DBID)
			}
		}
		if code, out := d.blind(t, "gpstop", "-a", "-m"); code != 0 {
			t.Fatalf("gpstop -m exit %d\n%s", code, out)
		}
		if code, out := d.blind(t, "gpstart", "-a"); code != 0 {
			t.Fatalf("gpstart -a after -m exit %d\n%s", code, out)
		}
		d.wantAllRunning(t)
	})

	t.Run("restricted", func(t *testing.T) {
		conn := connect(t, "", d.port(t), false)
		if _, err := conn.Exec(t.Context(), "CREATE ROLE gpstart_e2e_user LOGIN"); err != nil {
			t.Fatal(err)
		}
		if err := conn.Close(t.Context()); err != nil { // no session left for the stop
			t.Fatal(err)
		}
		asUser := func() error {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: d.port(t), User: "gpstart_e2e_user", Flavour: cluster.GP7, Database: "postgres", ConnectTimeout: 10 * time.Second})
			if err == nil {
				err = conn.Close(ctx)
			}
			return err
		}
		if err := asUser(); err != nil {
			t.Fatalf("a non-superuser before -R: %v", err)
		}
		stop(t)
		code, out := d.blind(t, "gpstart", "-a", "-R")
		if code != 0 {
			t.Fatalf("gpstart -a -R exit %d\n%s", code, out)
		}
		wantInOrder(t, out, `Starting Coordinator instance in admin and RESTRICTED mode`, `Starting Coordinator instance \S+ directory \S+ in RESTRICTED mode$`, `Database successfully started`)
		if err := asUser(); err == nil || !strings.Contains(err.Error(), "remaining connection slots are reserved for non-replication superuser connections") {
			t.Fatalf("a non-superuser in restricted mode: %v, want a refusal", err)
		}
		if v, err := d.query(t, "SELECT current_setting('gp_role')"); err != nil || v != "dispatch" {
			t.Fatalf("a superuser in restricted mode: %q, %v", v, err)
		}
		stop(t)
		if code, out := d.blind(t, "gpstart", "-a"); code != 0 {
			t.Fatalf("gpstart -a after -R exit %d\n%s", code, out)
		}
		if err := asUser(); err != nil {
			t.Fatalf("a non-superuser after a normal start: %v", err)
		}
	})

	t.Run("restart", func(t *testing.T) {
		pidBefore, _ := os.ReadFile(filepath.Join(d.coord, "postmaster.pid"))
		code, out := d.blind(t, "gpstop", "-a", "-r", "-M", "fast")
		if code != 0 {
			t.Fatalf("gpstop -r exit %d\n%s", code, out)
		}
		wantInOrder(t, out, `Successfully shutdown 4 of 4 segment instances`, `Restarting System\.\.\.`, `Successfully started 4 of 4 segment instances`, `Database successfully started`)
		pidAfter, _ := os.ReadFile(filepath.Join(d.coord, "postmaster.pid"))
		if string(pidBefore) == string(pidAfter) {
			t.Error("the coordinator's postmaster.pid is unchanged: not restarted")
		}
		d.wantAllRunning(t)
		d.wantCatalog(t, before)
	})

	t.Run("standby unreachable", func(t *testing.T) {
		stop(t)
		sb := d.find(t, cluster.Segment.IsStandby)
		cmdHome := unreachableHome(t, sb.Hostname)
		code, out := d.blindEnv(t, []string{"HOME=" + cmdHome}, "gpstart", "-a")
		if code != 4 {
			t.Fatalf("gpstart -a with the standby's host down: exit %d, want 4\n%s", code, out)
		}
		wantInOrder(t, out, `Standby host is unreachable`, `Non interactive mode detected\. Not starting the cluster`)
		d.wantAllStopped(t)
	})

	t.Run("segment host unreachable", func(t *testing.T) {
		// Group mirroring on 2 hosts: the second host holds content 1's
		// primary and content 0's mirror. Content 1's mirror on the first
		// host is in sync, so the cluster starts without the second host.
		p1 := d.find(t, func(s cluster.Segment) bool { return s.ContentID == 1 && s.IsPrimary() })
		cmdHome := unreachableHome(t, p1.Hostname)
		code, out := d.blindEnv(t, []string{"HOME=" + cmdHome}, "gpstart", "-a", "-y")
		if code != 0 {
			t.Fatalf("gpstart -a with %s down: exit %d, want 0\n%s", p1.Hostname, code, out)
		}
		wantInOrder(t, out, `\[WARNING\]:-Host `+p1.Hostname+` is unreachable: .*connection refused`,
			`\[WARNING\]:-Marking segment \d+ down because `+p1.Hostname+` is unreachable`,
			`Successfully started 2 of 2 segment instances, skipped 2 other segments`,
			`There are 2 segment\(s\) marked down in the database`, `Number of segments not attempted to start: 2`)
		for _, s := range d.segs {
			if s.IsSegment() && running(s) == (s.Hostname == p1.Hostname) {
				t.Errorf("dbid %d on %s: running=%v", s.DBID, s.Hostname, running(s))
			}
		}
	})

	t.Run("restart after failover", func(t *testing.T) {
		// The coordinator that gpstart started above lives in the blind
		// harness's mount namespace, where the segment directories are
		// hidden, and the compat FTS promotes a mirror with pg_ctl on its
		// data directory: start the cluster outside the harness for the
		// failover itself.
		stop(t)
		d.startAll(t)
		p1 := d.find(t, func(s cluster.Segment) bool { return s.ContentID == 1 && s.IsPrimary() })
		m1 := d.find(t, func(s cluster.Segment) bool { return s.ContentID == 1 && s.IsMirror() })
		b, err := os.ReadFile(filepath.Join(p1.DataDir, "postmaster.pid"))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("kill", "-9", strings.SplitN(string(b), "\n", 2)[0]).CombinedOutput(); err != nil {
			t.Fatalf("kill -9 the primary of content 1: %v %s", err, out)
		}
		acting := func() cluster.Segment {
			for _, s := range d.catalog(t) {
				if s.DBID == m1.DBID {
					return s
				}
			}
			t.Fatalf("dbid %d gone from the catalog", m1.DBID)
			return cluster.Segment{}
		}
		for deadline := time.Now().Add(30 * time.Second); !acting().IsPrimary(); {
			if time.Now().After(deadline) {
				t.Fatalf("no failover within 30 s: %s", acting())
			}
			if _, err := d.query(t, "SELECT gp_request_fts_probe_scan()::text"); err != nil {
				t.Fatal(err)
			}
		}
		failedOver := d.catalog(t)
		stop(t)
		code, out := d.blind(t, "gpstart", "-a")
		if code != 0 {
			t.Fatalf("gpstart -a after the failover: exit %d\n%s", code, out)
		}
		wantInOrder(t, out, `Skipping startup of segment marked down in configuration: on `+p1.Hostname+` directory `+regexp.QuoteMeta(p1.DataDir),
			`Successfully started 3 of 3 segment instances, skipped 1 other segments`, `Number of segments not attempted to start: 1`)
		d.wantCatalog(t, failedOver)
		if s := acting(); !s.IsPrimary() || !running(s) {
			t.Fatalf("the acting primary of content 1 after gpstart: %s, running %v", s, running(s))
		}
		if running(p1) {
			t.Errorf("the failed primary dbid %d was started", p1.DBID)
		}
		// The failed-over cluster as monitoring sees it (issue 19): the
		// metrics agree with --json, the verdict DEGRADED, and the acting
		// primary of content 1 is a preferred mirror.
		code, out = d.blind(t, "gpstate", "--metrics")
		if code != 0 {
			t.Fatalf("gpstate --metrics after the failover: exit %d\n%s", code, out)
		}
		wantMetricsAgree(t, d.demo, "DEGRADED", out)
		for _, want := range []string{
			fmt.Sprintf(`greenplum_segment_up{content="1",dbid="%d",hostname="%s",port="%d"} 0`, p1.DBID, p1.Hostname, p1.Port),
			fmt.Sprintf(`greenplum_segment_role_primary{content="1",dbid="%d",hostname="%s",port="%d"} 1`, m1.DBID, m1.Hostname, m1.Port),
			fmt.Sprintf(`greenplum_segment_preferred_role_primary{content="1",dbid="%d",hostname="%s",port="%d"} 0`, m1.DBID, m1.Hostname, m1.Port),
		} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("gpstate --metrics after the failover lacks %s:\n%s", want, out)
			}
		}
	})
}

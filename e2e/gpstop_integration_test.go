//go:build integration

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
)

// stopDemo is a mirrored gpdemo cluster with a standby: segment hosts
// with their primaries, group mirrors, the standby on a host of its own.
type stopDemo struct {
	demo
	segs []cluster.Segment // the catalog when the cluster was made
}

// newStopDemo makes a stopDemo of 2 hosts with 1 primary each.
func newStopDemo(t testing.TB) stopDemo {
	t.Helper()
	return newMirroredDemo(t, 2, 1)
}

// newMirroredDemo makes a stopDemo on the test's slot: hosts segment hosts
// (at most 3) with perHost primaries each, and the standby on the next
// host; it is destroyed when the test ends.
func newMirroredDemo(t testing.TB, hosts, perHost int) stopDemo {
	t.Helper()
	slot := testbed.AcquireSlot(t)
	d := stopDemo{demo: demo{dir: filepath.Join(t.TempDir(), "cluster"), primary: hosts * perHost}}
	d.coord = filepath.Join(d.dir, "coordinator", "gpseg-1")
	run(t, "gpdemo", "create", "--dir", d.dir, "--gphome", gphome, "--hosts", strconv.Itoa(hosts), "--primaries-per-host", strconv.Itoa(perHost),
		"--standby", "--mirrors", "group", "--host-names", strings.Join(slot.Hosts[:hosts+1], ","), "--port-base", strconv.Itoa(slot.PortBase))
	t.Cleanup(func() { run(t, "gpdemo", "destroy", "--dir", d.dir) })
	for _, h := range slot.Hosts[:hosts] {
		d.hidden = append(d.hidden, filepath.Join(d.dir, h))
	}
	d.hidden = append(d.hidden, filepath.Join(d.dir, "standby"))
	d.segs = d.catalog(t)
	if want := 2 + 2*d.primary; len(d.segs) != want {
		t.Fatalf("want %d instances (coordinator, standby, %d primaries, %[2]d mirrors), got:\n%s", want, d.primary, dump(d.segs))
	}
	return d
}

func dump(segs []cluster.Segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteString(s.String() + "\n")
	}
	return b.String()
}

// catalog reads gp_segment_configuration in a utility session.
func (d stopDemo) catalog(t testing.TB) []cluster.Segment {
	t.Helper()
	conn := connect(t, "", d.port(t), true)
	segs, err := cluster.LoadSegments(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	// Closed now, so that no session is left open for a smart stop.
	if err := conn.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return segs
}

func (d stopDemo) port(t testing.TB) int {
	t.Helper()
	conf, err := cluster.ReadPostgresConf(d.coord)
	if err != nil {
		t.Fatal(err)
	}
	p, err := conf.Port()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (d stopDemo) find(t *testing.T, keep func(cluster.Segment) bool) cluster.Segment {
	t.Helper()
	for _, s := range d.segs {
		if keep(s) {
			return s
		}
	}
	t.Fatalf("no such instance in\n%s", dump(d.segs))
	return cluster.Segment{}
}

// running reports whether the instance's postmaster is alive.
func running(s cluster.Segment) bool {
	b, err := os.ReadFile(filepath.Join(s.DataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid > 0 && exec.Command("kill", "-0", strconv.Itoa(pid)).Run() == nil
}

// noPostgresOf fails t if any process mentions one of the cluster's data
// directories (postmasters and their children show -D or the title).
func (d stopDemo) wantAllStopped(t testing.TB) {
	t.Helper()
	for _, s := range d.segs {
		if running(s) {
			t.Errorf("dbid %d (%s) still running", s.DBID, s.DataDir)
		}
	}
	out, _ := exec.Command("pgrep", "-a", "-f", d.dir).Output()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(l, "postgres") {
			t.Errorf("postgres process of the cluster left: %s", l)
		}
	}
}

// startAll starts the instances that are not running with the compat
// pg_ctl, one after another, in gpstart's order: segments (primaries, then
// mirrors), the coordinator, the standby. It returns the sum of the wall
// times of those pg_ctl start -w runs (BenchmarkGpstart's floor). A
// stand-in for gpstart where a test needs the cluster up without it.
func (d stopDemo) startAll(t testing.TB) time.Duration {
	t.Helper()
	kind := func(s cluster.Segment) pgcmd.Kind {
		switch {
		case s.IsCoordinator():
			return pgcmd.CoordinatorNormal
		case s.IsStandby():
			return pgcmd.Standby
		}
		return pgcmd.Segment
	}
	order := func(s cluster.Segment) int {
		switch {
		case s.IsSegment() && s.IsPrimary():
			return 0
		case s.IsSegment():
			return 1
		case s.IsCoordinator():
			return 2
		}
		return 3
	}
	var took time.Duration
	for pass := range 4 {
		for _, s := range d.segs {
			if order(s) != pass || running(s) {
				continue
			}
			st := pgcmd.Start{Flavour: cluster.GP7, GPHome: gphome, Kind: kind(s), DataDir: s.DataDir, Port: s.Port, Wait: true, Timeout: 60}
			argv := st.Argv()
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env = append(os.Environ(), "GPHOME="+gphome)
			begin := time.Now()
			out, err := cmd.CombinedOutput()
			took += time.Since(begin)
			if err != nil {
				t.Fatalf("start dbid %d: %v\n%s", s.DBID, err, out)
			}
		}
	}
	return took
}

// TestGpstop runs the built gpstop blind against one mirrored cluster with
// a standby, through its modes in turn.
func TestGpstop(t *testing.T) {
	d := newStopDemo(t)
	primary0 := d.find(t, func(s cluster.Segment) bool { return s.ContentID == 0 && s.IsPrimary() })
	mirror0 := d.find(t, func(s cluster.Segment) bool { return s.ContentID == 0 && s.IsMirror() })

	t.Run("reload", func(t *testing.T) {
		conf := filepath.Join(primary0.DataDir, "postgresql.conf")
		f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString("\nwork_mem = '7777kB'\n")
		if cerr := f.Close(); err != nil || cerr != nil {
			t.Fatal(err, cerr)
		}
		pidBefore, _ := os.ReadFile(filepath.Join(primary0.DataDir, "postmaster.pid"))
		code, out := d.blind(t, "gpstop", "-u")
		if code != 0 {
			t.Fatalf("gpstop -u exit %d\n%s", code, out)
		}
		wantInOrder(t, out, `Signalling all postmaster processes to reload`)
		var got string
		deadline := time.Now().Add(10 * time.Second)
		for {
			conn := connect(t, primary0.Hostname, primary0.Port, true)
			if err := conn.QueryRow(t.Context(), "SHOW work_mem").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got == "7777kB" || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if got != "7777kB" {
			t.Fatalf("work_mem on primary 0 = %s after gpstop -u, want 7777kB", got)
		}
		pidAfter, _ := os.ReadFile(filepath.Join(primary0.DataDir, "postmaster.pid"))
		if string(pidBefore) != string(pidAfter) {
			t.Error("primary 0 was restarted by gpstop -u")
		}
	})

	t.Run("host refused when a content would lose both instances", func(t *testing.T) {
		// Content 0's mirror is down and marked so, as FTS would leave it:
		// stopping primary 0's host would take content 0 offline.
		cmd := exec.Command(filepath.Join(gphome, "bin", "pg_ctl"), "-D", mirror0.DataDir, "-m", "fast", "-w", "-t", "60", "stop")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("stop mirror 0: %v\n%s", err, out)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: d.port(t), Flavour: cluster.GP7, Utility: true, AllowSystemTableMods: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		mark := func(pmode, mmode, mstatus string) {
			t.Helper()
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{"UPDATE gp_segment_configuration SET mode = $1 WHERE dbid = $2", []any{pmode, primary0.DBID}},
				{"UPDATE gp_segment_configuration SET mode = $1, status = $2 WHERE dbid = $3", []any{mmode, mstatus, mirror0.DBID}},
			} {
				if _, err := conn.Exec(ctx, q.sql, q.args...); err != nil {
					t.Fatal(err)
				}
			}
		}
		mark("n", "n", "d")
		code, out := d.blind(t, "gpstop", "-a", "--host", primary0.Hostname)
		if code != 2 {
			t.Errorf("gpstop --host exit %d, want 2\n%s", code, out)
		}
		wantInOrder(t, out, `\[ERROR\]:-gpstop error: Segment '`+strconv.Itoa(primary0.DBID)+`\|0\|p\|p\|n\|u\|.*' not synchronized\. Aborting\.`)
		if !running(primary0) {
			t.Error("primary 0 was stopped despite the refusal")
		}
		mark("s", "s", "u")
		d.startAll(t)
	})

	t.Run("coordinator only, fast, with an open session", func(t *testing.T) {
		conn := connect(t, "", d.port(t), false)
		if _, err := conn.Exec(t.Context(), "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		code, out := d.blind(t, "gpstop", "-a", "-m", "-M", "fast")
		if code != 0 {
			t.Fatalf("gpstop -m exit %d\n%s", code, out)
		}
		wantInOrder(t, out, `Commencing Coordinator instance shutdown with mode='fast'`, `Coordinator segment instance directory=`+regexpQuote(d.coord))
		for _, s := range d.segs {
			if running(s) == s.IsCoordinator() {
				t.Errorf("after -m: dbid %d running=%v", s.DBID, running(s))
			}
		}
		d.startAll(t)
	})

	t.Run("stop all, smart", func(t *testing.T) {
		before := dump(d.catalog(t))
		code, out := d.blind(t, "gpstop", "-a")
		if code != 0 {
			t.Fatalf("gpstop -a exit %d\n%s", code, out)
		}
		wantInOrder(t, out,
			`\[INFO\]:-Starting gpstop with args: -a`,
			`\[INFO\]:-Gathering information and validating the environment\.\.\.`,
			`\[INFO\]:-Obtaining Greenplum Coordinator catalog information`,
			`\[INFO\]:-Obtaining Segment details from coordinator\.\.\.`,
			`\[INFO\]:-Greenplum Version: '`,
			`\[INFO\]:-Commencing Coordinator instance shutdown with mode='smart'`,
			`\[INFO\]:-Stopping coordinator segment and waiting for user connections to finish \.\.\.`,
			`\[INFO\]:-Attempting forceful termination of any leftover coordinator process`,
			`\[INFO\]:-Stopping coordinator standby host .* mode=smart`,
			`\[INFO\]:-Successfully shutdown standby process on `,
			`\[INFO\]:-Targeting dbid \[2, 4, 3, 5\] for shutdown|Targeting dbid \[`,
			`\[INFO\]:-Commencing parallel primary segment instance shutdown, please wait\.\.\.`,
			`\[INFO\]:-Commencing parallel mirror segment instance shutdown, please wait\.\.\.`,
			`\[INFO\]:-   Segments stopped successfully      = 4`,
			`\[INFO\]:-   Segments with errors during stop   = 0`,
			`\[INFO\]:-Successfully shutdown 4 of 4 segment instances $`,
			`\[INFO\]:-Database successfully shutdown with no errors reported`)
		d.wantAllStopped(t)

		code, out = d.blind(t, "gpstop", "-a")
		if code != 2 {
			t.Errorf("gpstop -a on a stopped cluster: exit %d, want 2\n%s", code, out)
		}
		wantInOrder(t, out, `\[ERROR\]:-gpstop error: postmaster\.pid file does not exist\.  is Greenplum instance already stopped\?`)
		d.wantAllStopped(t)

		d.startAll(t)
		if after := dump(d.catalog(t)); after != before {
			t.Errorf("catalog changed across stop and start:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})

	t.Run("stop all but the standby (-y), fast, with an open session", func(t *testing.T) {
		conn := connect(t, "", d.port(t), false)
		if _, err := conn.Exec(t.Context(), "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		code, out := d.blind(t, "gpstop", "-a", "-M", "fast", "-y")
		if code != 0 {
			t.Fatalf("gpstop -a -M fast -y exit %d\n%s", code, out)
		}
		wantInOrder(t, out, `Commencing Coordinator instance shutdown with mode='fast'`, `Database successfully shutdown with no errors reported`)
		if strings.Contains(out, "Stopping coordinator standby") || strings.Contains(out, "No standby") {
			t.Errorf("-y: standby mentioned:\n%s", out)
		}
		for _, s := range d.segs {
			if running(s) != s.IsStandby() {
				t.Errorf("after -M fast -y: dbid %d running=%v", s.DBID, running(s))
			}
		}
		d.startAll(t)
	})

	t.Run("smart with an open session falls back to fast after the timeout", func(t *testing.T) {
		conn := connect(t, "", d.port(t), false)
		if _, err := conn.Exec(t.Context(), "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		code, out := d.blind(t, "gpstop", "-a", "--skipvalidation", "-t", "2")
		if code != 0 {
			t.Fatalf("gpstop -a -t 2 exit %d\n%s", code, out)
		}
		wantInOrder(t, out,
			`\[INFO\]:-Stopping coordinator segment and waiting for user connections to finish \.\.\.`,
			`\[WARNING\]:-Smart mode failed to shutdown the coordinator\.`,
			`^unprefixed:   There were 1 user connections at the start of the shutdown\. Note: These connections may be outdated\.`,
			`\[INFO\]:-Stopping coordinator standby host .* mode=fast`,
			`Database successfully shutdown with no errors reported`)
		d.wantAllStopped(t)
	})
}

func regexpQuote(s string) string {
	return strings.NewReplacer(".", `\.`, "(", `\(`, ")", `\)`, "+", `\+`).Replace(s)
}

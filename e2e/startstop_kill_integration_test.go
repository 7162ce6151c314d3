//go:build integration

package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// killWhen runs tool blind in the background and kills it -9 as soon as
// ready holds (polled every 20 ms, 2 minutes at most); it returns what the
// tool printed. The tool exiting first fails t.
func (d demo) killWhen(t *testing.T, ready func() bool, tool string, args ...string) string {
	t.Helper()
	cmd, cancel := d.blindCmd(t, tool, args...)
	defer cancel()
	return killCmdWhen(t, cmd, ready)
}

// killCmdWhen starts cmd and kills it -9 as soon as ready holds (polled
// every 20 ms, 2 minutes at most); it returns what cmd printed. cmd
// exiting first fails t.
func killCmdWhen(t *testing.T, cmd *exec.Cmd, ready func() bool) string {
	t.Helper()
	tool := filepath.Base(cmd.Path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(2 * time.Minute); !ready(); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("%s exited (%v) before it was killed\n%s", tool, err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the moment to kill it never came within 2 minutes\n%s", tool, out.String())
		}
	}
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("%s after kill -9: %v, want death by SIGKILL", tool, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still runs 10 s after kill -9", tool)
	}
	return out.String()
}

// exec runs one statement in a normal (dispatch) session.
func (d stopDemo) exec(t *testing.T, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: d.port(t), Flavour: cluster.GP7, Database: "postgres", ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// writeBeforeKill writes 1000 rows into a new table before_kill on the
// coordinator and, in utility sessions, on every primary (the test bed's
// coordinator does not dispatch).
func (d stopDemo) writeBeforeKill(t *testing.T) {
	t.Helper()
	const sql = "CREATE TABLE public.before_kill AS SELECT generate_series(1, 1000) AS i"
	d.exec(t, sql)
	for _, s := range d.segs {
		if s.IsSegment() && s.IsPrimary() {
			if _, err := connect(t, s.Hostname, s.Port, true).Exec(t.Context(), sql); err != nil {
				t.Fatalf("%s on %s: %v", sql, s.Label(), err)
			}
		}
	}
}

// wantBeforeKill fails t unless before_kill holds its 1000 rows on the
// coordinator and on every acting primary: no row lost.
func (d stopDemo) wantBeforeKill(t *testing.T) {
	t.Helper()
	if got, want := d.countBeforeKill(t), d.writtenBeforeKill(); got != want {
		t.Errorf("%d rows of before_kill counted, %d written", got, want)
	}
}

// writtenBeforeKill is the number of rows writeBeforeKill writes.
func (d stopDemo) writtenBeforeKill() int { return 1000 * (1 + d.primary) }

// countBeforeKill counts the rows of before_kill on the coordinator and on
// every acting primary; a table or instance that cannot be read counts 0,
// with the reason logged.
func (d stopDemo) countBeforeKill(t *testing.T) int {
	t.Helper()
	const sql = "SELECT count(*)::text FROM public.before_kill"
	total := 0
	add := func(where, got string, err error) {
		n, _ := strconv.Atoi(got)
		if err != nil || n != 1000 {
			t.Logf("%s: %q rows of before_kill (%v), want 1000", where, got, err)
		}
		total += n
	}
	got, err := d.query(t, sql)
	add("coordinator", got, err)
	for _, s := range d.catalog(t) {
		if s.IsSegment() && s.IsPrimary() {
			var got string
			err := connect(t, s.Hostname, s.Port, true).QueryRow(t.Context(), sql).Scan(&got)
			add(s.Label(), got, err)
		}
	}
	return total
}

// runningNames returns the dbids of the instances that run.
func (d stopDemo) runningDBIDs() []int {
	var out []int
	for _, s := range d.segs {
		if running(s) {
			out = append(out, s.DBID)
		}
	}
	return out
}

// TestGpstopKilled: gpstop -a -M fast is killed -9 once the coordinator
// has stopped, segments still running; the identical rerun must stop
// what is left.
func TestGpstopKilled(t *testing.T) {
	d := newStopDemo(t)
	d.writeBeforeKill(t)
	coord := d.find(t, func(s cluster.Segment) bool { return s.IsCoordinator() })
	out := d.killWhen(t, func() bool { return !running(coord) }, "gpstop", "-a", "-M", "fast")
	t.Logf("gpstop killed -9 with dbids %v running; its last lines:\n%s", d.runningDBIDs(), tail(out, 3))

	code, rout := d.blind(t, "gpstop", "-a", "-M", "fast")
	t.Logf("rerun: exit %d, dbids %v running after it:\n%s", code, d.runningDBIDs(), tail(rout, 3))
	if code != 0 {
		t.Errorf("the rerun of gpstop -a -M fast: exit %d\n%s", code, rout)
	}
	d.wantAllStopped(t)
	d.startAll(t)
	d.wantBeforeKill(t)
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := bytes.Split(bytes.TrimRight([]byte(s), "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

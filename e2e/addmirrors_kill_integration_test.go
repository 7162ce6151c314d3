//go:build integration

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// killRows is how many rows of about 1 kB TestAddMirrorsCopyKilled writes
// on content 1's primary: about 400 MB of heap, so that its copy lasts a
// few seconds.
const killRows = 350_000

// killAfter is how much of the copy must be on disk before it is killed:
// about a quarter.
const killAfter = 96 << 20

// TestAddMirrorsCopyKilled: content 1's pg_basebackup is killed with
// SIGKILL midway, on its host, while gpaddmirrors runs. gpaddmirrors exits
// 1; content 0's mirror is added; content 1 leaves no catalog row, no slot
// on its primary, no process and no directory (this run created it and the
// copy did not finish). The same command then completes, and the catalog
// is true to what runs.
func TestAddMirrorsCopyKilled(t *testing.T) { addMirrorsCopyKilled(t) }

// copyKilled is what TestAddMirrorsCopyKilled observed, for the fault
// campaign's row (TestFaultAddMirrorsCopyKilled).
type copyKilled struct {
	tool       string // the command line, the mirror file as FILE
	killed     int    // how many processes were killed
	exit       int
	out, after string // after: the state the fault left
	rerunOut   string
	rerunExit  int
	rerunTook  time.Duration
	lost       int
	dir        string // the cluster's directory
}

func addMirrorsCopyKilled(t *testing.T) copyKilled {
	d := newMirrorless(t)
	before := d.writeRows(t, "before_fault")
	big := d.fillContent(t, 1, killRows)

	file, targets := d.spreadMirrorFile(t)
	target := targets[1]
	// Content 1's copy: the real pg_basebackup under the compat shim (the
	// shim is "/bin/sh .../pg_basebackup"), and the WAL-streaming child it
	// forks, which shares its command line. Both are killed, as
	// "pkill -9 -f" would: the main process alone leaves the child holding
	// the copy's SSH session open (see the report of issue 5).
	copyPattern := `^[^ ]*/pg_basebackup .*-D ` + regexp.QuoteMeta(target) + `( |$)`

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := d.command(t, ctx, "gpaddmirrors", "-a", "-i", file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Poll every 20 ms, for 60 s at most, for the copy to have written
	// killAfter bytes, then kill it.
	var (
		killedAt   time.Duration
		killedSize int64
		killed     []int
		exitErr    error
		done       bool
	)
	for deadline := time.Now().Add(time.Minute); killed == nil; time.Sleep(20 * time.Millisecond) {
		select {
		case exitErr = <-exited:
			t.Fatalf("gpaddmirrors exited (%v) before content 1's copy was killed\n%s", exitErr, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("content 1's copy never reached %d bytes within 60 s\n%s", killAfter, out.String())
		}
		pids := pgrep(t, copyPattern)
		if len(pids) == 0 {
			continue
		}
		size := dirSize(target)
		if size < killAfter {
			continue
		}
		killedAt, killedSize = time.Since(start), size
		for _, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				t.Fatalf("kill -9 %d: %v", pid, err)
			}
		}
		killed = pids
	}
	select {
	case exitErr = <-exited:
		done = true
	case <-time.After(90 * time.Second):
	}
	if !done {
		cancel()
		<-exited
		t.Fatalf("gpaddmirrors still runs 90 s after the copy was killed\n%s", out.String())
	}
	firstRun := time.Since(start)
	t.Logf("content 1's primary holds %d MB (%d rows); its copy was killed (kill -9 of pids %v) %.2f s after gpaddmirrors started, with %.1f MB on disk; gpaddmirrors took %.2f s",
		big>>20, killRows, killed, killedAt.Seconds(), float64(killedSize)/(1<<20), firstRun.Seconds())
	var exit *exec.ExitError
	if killedSize >= big {
		t.Errorf("the copy had %d of %d bytes when it was killed: not midway", killedSize, big)
	}
	if !errors.As(exitErr, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("gpaddmirrors with content 1's copy killed: %v, want exit 1\n%s", exitErr, out.String())
	}
	k := copyKilled{tool: "gpaddmirrors -a -i FILE", killed: len(killed), exit: exit.ExitCode(), out: out.String(), after: d.describe(t), dir: d.dir}
	// The two copies end in either order: content 1's failure is
	// reported when it happens.
	wantInOrder(t, out.String(), `^\[WARNING\]:-content 1 mirror \(dbid \d+\) on .*: copy primaries with pg_basebackup failed`)
	wantInOrder(t, out.String(),
		`^\[INFO\]:-Successfully ran pg_basebackup for dbid: \d+$`,
		`^\[INFO\]:-content 0 mirror \(dbid \d+\) on .* streams from its primary$`,
		`^\[INFO\]:-Cleaning up content 1 mirror .* after its failure at "copy primaries with pg_basebackup"$`,
		`^\[INFO\]:-Updating configuration for mirrors$`,
		`^\[INFO\]:-Mirror dbid \d+ content 0 .*: added \(copied, streaming, registered\)$`,
		`^\[WARNING\]:-Mirror dbid \d+ content 1 .*: failed at "copy primaries with pg_basebackup"`,
		`^\[INFO\]:-1 of 2 mirror\(s\) added$`,
		`^\[ERROR\]:-gpaddmirrors failed\. Please check the output for more details\.$`,
	)
	if strings.Contains(out.String(), "Cleanup of content 1") {
		t.Errorf("content 1's cleanup reported itself incomplete:\n%s", out.String())
	}

	// Content 0: registered and up. Content 1: no row.
	m0 := d.waitMirrorUp(t, 0)
	if m0.DataDir != targets[0] {
		t.Errorf("content 0's mirror row names %s, want %s", m0.DataDir, targets[0])
	}
	if got := d.mirrorContents(t); fmt.Sprint(got) != "[0]" {
		t.Errorf("mirror rows for contents %v, want [0] only", got)
	}
	// Content 1's primary: no slot left. Content 0's: its mirror's, in use.
	slots := d.slots(t)
	if len(slots[1]) != 0 {
		t.Errorf("content 1's primary keeps slots %v, want none", slots[1])
	}
	if strings.Join(slots[0], ",") != "internal_wal_replication_slot:true" {
		t.Errorf("content 0's primary has slots %v, want its mirror's active slot only", slots[0])
	}
	// Content 1's target: no process (copy or postmaster), no directory, no
	// pid file of the copy.
	if pids := pgrep(t, regexp.QuoteMeta(target)); len(pids) != 0 {
		t.Errorf("processes still name %s: %v", target, pids)
	}
	if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("content 1's mirror directory %s: %v, want absent (created by this run, copy unfinished)", target, err)
	}
	pidFile := filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".pg_basebackup.pid")
	if _, err := os.Stat(pidFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the copy's pid file %s: %v, want absent", pidFile, err)
	}

	// The same command again.
	rerun := time.Now()
	code, rout := d.tool(t, "", "gpaddmirrors", "-a", "-i", file)
	k.rerunExit, k.rerunOut, k.rerunTook = code, rout, time.Since(rerun)
	t.Logf("rerun: exit %d in %.2f s", code, k.rerunTook.Seconds())
	if code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, rout)
	}
	wantInOrder(t, rout,
		`^\[INFO\]:-1 of 2 contents already have a mirror`,
		`^\[INFO\]:-1 segment\(s\) to add$`,
		`^\[INFO\]:-Successfully ran pg_basebackup for dbid: \d+$`,
		`^\[INFO\]:-Mirror dbid \d+ content 1 .*: added \(copied, streaming, registered\)$`,
		`^\[INFO\]:-1 of 1 mirror\(s\) added$`,
	)
	d.checkMirrored(t, before)
	d.checkTrueToDisk(t)
	k.lost = d.lost(t, map[string]map[int]int{"before_fault": {0: 1000, 1: 1000}, "big": {1: killRows}})
	if k.lost != 0 {
		t.Errorf("%d rows lost", k.lost)
	}
	return k
}

// lost counts rows[table][content] rows of each table on each content's
// primary and returns how many are missing.
func (d mirrorless) lost(t testing.TB, rows map[string]map[int]int) int {
	t.Helper()
	lost := 0
	for table, byContent := range rows {
		for c, want := range byContent {
			var n int
			if err := connect(t, d.hosts[c], d.primaryPort(c), true).QueryRow(t.Context(), "SELECT count(*) FROM public."+table).Scan(&n); err != nil {
				t.Fatalf("count %s on content %d: %v", table, c, err)
			}
			lost += max(want-n, 0)
		}
	}
	return lost
}

// describe is the state a fault left, for the fault table: each segment
// row (dbid, content, role, status, mode) and whether its postmaster runs,
// the data directories under the hosts' mirror directories that no row
// names, and gpaddmirrors' files left on the coordinator.
func (d mirrorless) describe(t testing.TB) string {
	t.Helper()
	var cat []string
	rows := map[string]bool{}
	for _, s := range d.segments(t) {
		if !s.IsSegment() {
			continue
		}
		rows[s.DataDir] = true
		state := "stopped"
		if b, err := os.ReadFile(filepath.Join(s.DataDir, "postmaster.pid")); err == nil {
			if pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])); pid > 0 && syscall.Kill(pid, 0) == nil {
				state = "runs"
			}
		}
		cat = append(cat, fmt.Sprintf("dbid %d c%d %c/%c/%c %s", s.DBID, s.ContentID, s.Role, s.Status, s.Mode, state))
	}
	var extra, left []string
	for _, h := range d.hosts {
		dirs, _ := filepath.Glob(filepath.Join(d.dir, h, "mirror", "*"))
		for _, dir := range dirs {
			if !rows[dir] && !strings.HasPrefix(filepath.Base(dir), ".") {
				extra = append(extra, h+"/mirror/"+filepath.Base(dir))
			}
		}
		hidden, _ := filepath.Glob(filepath.Join(d.dir, h, "mirror", ".*"))
		for _, f := range hidden {
			left = append(left, h+"/mirror/"+filepath.Base(f))
		}
	}
	files, _ := filepath.Glob(filepath.Join(d.coord, "gpaddmirrors.*"))
	for _, f := range files {
		left = append(left, filepath.Base(f))
	}
	return fmt.Sprintf("catalog: %s; directories in no row: %s; files left: %s",
		strings.Join(cat, ", "), orNone(extra), orNone(left))
}

// orNone joins list, or says "none".
func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// command is the blind command for a built tool, with the cluster's
// environment, for tests that run it in the background.
func (d mirrorless) command(t *testing.T, ctx context.Context, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := testbed.Blind(t, exec.CommandContext(ctx, filepath.Join(toolsDir, name), append(args, "-l", t.TempDir())...), d.hidden...)
	cmd.Env = append(os.Environ(), "GPHOME="+gphome, "COORDINATOR_DATA_DIRECTORY="+d.coord, "MASTER_DATA_DIRECTORY=")
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// fillContent writes about rows kB into a new table on content c's primary
// (a utility session) and returns the size of its database in bytes.
// Rows of 1000 characters stay under the TOAST threshold: no compression.
func (d mirrorless) fillContent(t testing.TB, c, rows int) int64 {
	t.Helper()
	conn := connect(t, d.hosts[c], d.primaryPort(c), true)
	for _, sql := range []string{
		"CREATE TABLE public.big (i int, pad text)",
		"INSERT INTO public.big SELECT i, repeat('x', 1000) FROM generate_series(1, " + strconv.Itoa(rows) + ") AS i",
	} {
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s on content %d: %v", sql, c, err)
		}
	}
	var size int64
	if err := conn.QueryRow(t.Context(), "SELECT pg_database_size(current_database())").Scan(&size); err != nil {
		t.Fatal(err)
	}
	return size
}

// mirrorContents returns the contents that have a mirror row, in order.
func (d mirrorless) mirrorContents(t testing.TB) []int {
	t.Helper()
	var out []int
	for _, s := range d.segments(t) {
		if s.IsSegment() && s.PreferredRole == cluster.RoleMirror {
			out = append(out, s.ContentID)
		}
	}
	return out
}

func (d mirrorless) segments(t testing.TB) []cluster.Segment {
	t.Helper()
	segs, err := cluster.LoadSegments(t.Context(), connect(t, "", d.portBase, true))
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// waitMirrorUp waits (10 s at most) for content c's mirror row to be up,
// as the FTS probe gpaddmirrors triggers makes it, and returns it.
func (d mirrorless) waitMirrorUp(t testing.TB, c int) cluster.Segment {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var row *cluster.Segment
		for _, s := range d.segments(t) {
			if s.ContentID == c && s.PreferredRole == cluster.RoleMirror {
				row = &s
			}
		}
		if row != nil && row.Role == cluster.RoleMirror && row.Status == cluster.StatusUp {
			return *row
		}
		if time.Now().After(deadline) {
			t.Fatalf("content %d's mirror row %v: not up within 10 s", c, row)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkTrueToDisk checks that every segment row names a data directory
// whose postmaster runs, on the row's port, and that no other instance
// runs in the mirror directories.
func (d mirrorless) checkTrueToDisk(t testing.TB) {
	t.Helper()
	rows := map[string]bool{}
	var segs []cluster.Segment
	for _, s := range d.segments(t) {
		if s.IsSegment() {
			rows[s.DataDir] = true
			segs = append(segs, s)
		}
	}
	wantRunAsCataloged(t, segs)
	for _, h := range d.hosts {
		dirs, _ := filepath.Glob(filepath.Join(d.dir, h, "mirror", "*"))
		for _, dir := range dirs {
			if !rows[dir] {
				t.Errorf("%s is in no catalog row", dir)
			}
		}
	}
}

// wantRunAsCataloged fails t unless the postmaster of each row of segs
// runs in the row's data directory, on the row's port.
func wantRunAsCataloged(t testing.TB, segs []cluster.Segment) {
	t.Helper()
	for _, s := range segs {
		b, err := os.ReadFile(filepath.Join(s.DataDir, "postmaster.pid"))
		if err != nil {
			t.Errorf("row %s: %v", s, err)
			continue
		}
		// postmaster.pid: pid, data directory, start time, port, ...
		f := strings.Split(string(b), "\n")
		if len(f) < 4 {
			t.Errorf("row %s: short postmaster.pid %q", s, b)
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(f[0]))
		if pid <= 0 || syscall.Kill(pid, 0) != nil {
			t.Errorf("row %s: postmaster pid %q does not run", s, f[0])
		}
		if f[1] != s.DataDir || strings.TrimSpace(f[3]) != strconv.Itoa(s.Port) {
			t.Errorf("row %s: postmaster.pid names %s port %s", s, f[1], f[3])
		}
	}
}

// pgrep returns the pids whose full command line matches the extended
// regular expression pattern (pgrep -f), this test's own excepted.
func pgrep(t testing.TB, pattern string) []int { return tooltest.Pgrep(t, pattern) }

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) int64 { return tooltest.DirSize(dir) }

// spreadMirrorFile writes a gpaddmirrors -i file that puts each content's
// mirror on the other host, under <dir>/<host>/mirror (made here), and
// returns it with each content's target directory.
func (d mirrorless) spreadMirrorFile(t *testing.T) (string, map[int]string) {
	t.Helper()
	var lines []string
	targets := map[int]string{}
	for c := range d.hosts {
		host := d.hosts[(c+1)%2]
		dir := filepath.Join(d.dir, host, "mirror")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		targets[c] = filepath.Join(dir, fmt.Sprintf("gpseg%d", c))
		lines = append(lines, fmt.Sprintf("%d|%s|%d|%s", c, host, d.portBase+60+c, targets[c]))
	}
	file := filepath.Join(t.TempDir(), "mirrors")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, targets
}

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
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// TestAddMirrorsToolKilled: gpaddmirrors itself is killed -9 while it
// copies content 1's primary (a quarter of about 400 MB on disk), rows
// having been written on every content before. The killed run leaves its
// lock, its journal (content 1 at the copy, in a directory it made) and a
// half-written directory, and no catalog row. The identical command run
// again takes the stale lock over, stops the orphaned copy by its pid
// file, removes and copies again only the directory the killed run made,
// and adds both mirrors: exit 0, the catalog true to what runs, every row
// written before the kill on its primary and replayed by its mirror.
//
// On a gpaddmirrors without the journal the rerun refuses content 1's
// directory: "exists but is not empty".
func TestAddMirrorsToolKilled(t *testing.T) {
	d := newMirrorless(t)
	big := d.fillContent(t, 1, killRows)
	lsn := d.writeRows(t, "before_kill")

	file, targets := d.spreadMirrorFile(t)
	target := targets[1]
	// The real pg_basebackup under the compat shim, and the WAL streaming
	// child it forks, which shares its command line.
	copying := `^[^ ]*/pg_basebackup .*-D ` + regexp.QuoteMeta(target) + `( |$)`

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
	// Poll every 20 ms, 60 s at most, for a quarter of content 1's copy.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("gpaddmirrors exited (%v) before it was killed\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("content 1's copy never reached %d bytes within 60 s\n%s", killAfter, out.String())
		}
		if len(pgrep(t, copying)) > 0 && dirSize(target) >= killAfter {
			break
		}
	}
	killedAt, size := time.Since(start), dirSize(target)
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		var ws syscall.WaitStatus
		if errors.As(err, &ee) {
			ws, _ = ee.Sys().(syscall.WaitStatus)
		}
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("gpaddmirrors after kill -9: %v, want death by SIGKILL\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("gpaddmirrors still runs 10 s after kill -9")
	}
	t.Logf("content 1's primary holds %d MB (%d rows); gpaddmirrors was killed -9 %.2f s after it started, with %.1f MB of the copy on disk; copy processes left running: %v",
		big>>20, killRows, killedAt.Seconds(), float64(size)/(1<<20), pgrep(t, copying))
	if size >= big {
		t.Errorf("the copy had %d of %d bytes when gpaddmirrors was killed: not midway", size, big)
	}

	// What the killed run left: no catalog row, its journal, a half-written
	// directory.
	if got := d.mirrorContents(t); len(got) != 0 {
		t.Errorf("mirror rows for contents %v after the kill, want none (nothing registers before every copy streams)", got)
	}
	rec, err := oplock.ReadJournal(d.coord, "gpaddmirrors")
	switch {
	case err != nil || rec == nil:
		t.Errorf("the killed run's journal: %+v, %v", rec, err)
	default:
		var it *oplock.Item
		for _, x := range rec.Items {
			if x.DataDir == target {
				it = &x
			}
		}
		if it == nil || it.Step != "copy primaries with pg_basebackup" || !it.Made {
			t.Errorf("the killed run's journal item for %s: %+v, want at the copy, in a directory it made", target, it)
		}
	}
	if entries, _ := os.ReadDir(target); len(entries) == 0 {
		t.Errorf("content 1's directory %s is empty after the kill: the copy was not midway", target)
	}

	rerun := time.Now()
	code, rout := d.tool(t, "", "gpaddmirrors", "-a", "-i", file)
	t.Logf("rerun: exit %d in %.2f s", code, time.Since(rerun).Seconds())
	if code != 0 {
		t.Fatalf("the rerun of gpaddmirrors -a -i: exit %d\n%s", code, rout)
	}
	wantInOrder(t, rout,
		`^\[WARNING\]:-Lockfile .*/gpaddmirrors\.lock was left by gpaddmirrors with PID `+strconv.Itoa(cmd.Process.Pid)+`: its process is not running; taking it over$`,
		`^\[INFO\]:-An earlier gpaddmirrors \(PID `+strconv.Itoa(cmd.Process.Pid)+`, started .*\) did not finish; this run completes its work$`,
		`^\[INFO\]:-content 1 mirror \(dbid \d+\) on .*: `+regexp.QuoteMeta(target)+` holds the unfinished copy of an earlier run; removing it \(that run made it\) and copying again$`,
		`^\[INFO\]:-Mirror dbid \d+ content 1 .*: added \(copied, streaming, registered\)$`,
		`^\[INFO\]:-2 of 2 mirror\(s\) added$`,
	)
	if strings.Contains(rout, "exists but is not empty") {
		t.Errorf("the rerun refused a directory:\n%s", rout)
	}
	if left := pgrep(t, copying); len(left) != 0 {
		t.Errorf("copies still running after the rerun: %v", left)
	}
	for _, p := range []string{oplock.JournalPath(d.coord, "gpaddmirrors"), oplock.Path(d.coord, "gpaddmirrors"),
		filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".pg_basebackup.pid")} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after the rerun: %v, want absent", p, err)
		}
	}
	d.checkMirrored(t, lsn)
	d.checkTrueToDisk(t)
	// Rows lost: none.
	for c, h := range d.hosts {
		conn := connect(t, h, d.primaryPort(c), true)
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM public.before_kill").Scan(&n); err != nil || n != 1000 {
			t.Errorf("content %d: %d rows of before_kill (%v), want 1000", c, n, err)
		}
	}
	var n int
	if err := connect(t, d.hosts[1], d.primaryPort(1), true).QueryRow(t.Context(), "SELECT count(*) FROM public.big").Scan(&n); err != nil || n != killRows {
		t.Errorf("content 1: %d rows of big (%v), want %d", n, err, killRows)
	}
}

//go:build integration

package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
)

// fullFS is the small tmpfs scripts/setup-test-host.sh mounts, owned by
// gpadmin: a target filesystem smaller than a primary.
const fullFS = "/mnt/gpmgmt-full"

// smallFS returns a new directory of the test's own on fullFS, removed
// when the test ends, and the filesystem's size. fullFS not a tmpfs mount
// fails t with the reason: the campaign needs it.
func smallFS(t *testing.T) (string, int64) {
	t.Helper()
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	mounted := false
	for _, line := range strings.Split(string(info), "\n") {
		// "id parent major:minor root mountpoint options ... - fstype source super"
		f := strings.Fields(line)
		for i, w := range f {
			if w == "-" && len(f) > 4 && f[4] == fullFS && i+1 < len(f) && f[i+1] == "tmpfs" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Fatalf("%s is not a tmpfs mount: scripts/setup-test-host.sh mounts it when run as root (make test and make reliability run it); "+
			"where mount is impossible (a container without CAP_SYS_ADMIN) its output says why", fullFS)
	}
	dir, err := os.MkdirTemp(fullFS, strings.ReplaceAll(t.Name(), "/", "_")+".")
	if err != nil {
		t.Fatalf("%s: %v (it must be writable by the test user)", fullFS, err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var st syscall.Statfs_t
	if err := syscall.Statfs(fullFS, &st); err != nil {
		t.Fatal(err)
	}
	return dir, int64(st.Blocks) * st.Bsize
}

// TestFaultAddMirrorsTargetFull: gpaddmirrors -a -i with one mirror on a
// 64 MB filesystem (fullFS), rows written on every content first, in two
// ways, each on a cluster of its own:
//
//   - too small: content 1's primary holds about 110 MB of rows. The tool
//     refuses before it copies anything, naming the host, the directory,
//     the free space and the primary's size; the catalog is unchanged and
//     nothing is left on the small filesystem. The DBA points content 1's
//     mirror where there is room: that run finishes.
//   - filled during the copy: content 0's primary (an empty one, about
//     55 MB) fits, but the moment its pg_basebackup starts another file
//     takes all but 8 MB of the filesystem. The copy fails with "No space
//     left on device", which the tool reports naming the host and the
//     directory; content 0 gets no catalog row and its half copy is
//     removed. The DBA frees the space (the other file removed) and runs
//     the same command: it finishes.
//
// Either way nothing is lost and the catalog ends true to disk.
func TestFaultAddMirrorsTargetFull(t *testing.T) {
	t.Parallel()
	t.Run("too small", func(t *testing.T) {
		begin := time.Now()
		small, size := smallFS(t)
		d := newMirrorless(t)
		before := d.writeRows(t, "before_fault")
		big := d.fillContent(t, 1, fullRows)
		if big <= size {
			t.Fatalf("content 1's primary holds %d bytes, not more than the %d of %s", big, size, fullFS)
		}
		roomy, targets := d.spreadMirrorFile(t)
		target := filepath.Join(small, "gpseg1")
		tight := d.moveMirror(t, roomy, targets[1], target)
		catalog := fmt.Sprint(d.segments(t))

		code, out := d.tool(t, "", "gpaddmirrors", "-a", "-i", tight)
		t.Logf("gpaddmirrors with content 1's mirror on %s: exit %d", fullFS, code)
		problems := faulttest.Problems(out)
		if code == 0 || !strings.Contains(out, d.hosts[0]) || !strings.Contains(out, target) || !strings.Contains(out, "kB free where") {
			t.Errorf("gpaddmirrors with content 1's mirror on a %d MB filesystem: exit %d, want a refusal naming %s, %s and the free space\n%s",
				size>>20, code, d.hosts[0], target, out)
		}
		after := d.describe(t)
		if now := fmt.Sprint(d.segments(t)); now != catalog {
			t.Errorf("the catalog changed:\n%s\nwas\n%s", now, catalog)
		}
		wantEmpty(t, small)

		rcode, rout, took := timed(func() (int, string) { return d.tool(t, "", "gpaddmirrors", "-a", "-i", roomy) })
		if rcode != 0 {
			t.Fatalf("gpaddmirrors with room for every mirror: exit %d\n%s", rcode, rout)
		}
		d.checkMirrored(t, before)
		d.checkTrueToDisk(t)
		lost := d.lost(t, map[string]map[int]int{"before_fault": {0: 1000, 1: 1000}, "big": {1: fullRows}})
		if lost != 0 {
			t.Errorf("%d rows lost", lost)
		}
		faulttest.Record(t, faulttest.Row{
			Fault:   fmt.Sprintf("target filesystem too small: content 1's mirror on a %d MB tmpfs, its primary %d MB of rows", size>>20, big>>20),
			Tool:    "gpaddmirrors -a -i FILE",
			Printed: faulttest.Short(problems, small, d.dir),
			Exit:    fmt.Sprintf("exit %d", code),
			After:   faulttest.Short(after, d.dir) + "; the small filesystem: nothing written",
			Rerun:   fmt.Sprintf("content 1's mirror where there is room (FILE edited): exit %d in %.1f s: %s", rcode, took.Seconds(), faulttest.Said(rout)),
			Lost:    lost,
		})
		t.Logf("wall time %.1f s", time.Since(begin).Seconds())
	})

	t.Run("filled during the copy", func(t *testing.T) {
		begin := time.Now()
		small, size := smallFS(t)
		d := newMirrorless(t)
		before := d.writeRows(t, "before_fault")
		roomy, targets := d.spreadMirrorFile(t)
		target := filepath.Join(small, "gpseg0")
		tight := d.moveMirror(t, roomy, targets[0], target)
		host := d.hosts[1] // content 0's mirror goes there
		copying := `^[^ ]*/pg_basebackup .*-D ` + regexp.QuoteMeta(target) + `( |$)`
		filler := filepath.Join(filepath.Dir(small), filepath.Base(small)+".filler")
		t.Cleanup(func() { _ = os.Remove(filler) })

		cmd := d.command(t, t.Context(), "gpaddmirrors", "-a", "-i", tight)
		r := faulttest.FaultWhen(t, cmd, func(string) bool { return len(tooltest.Pgrep(t, copying)) > 0 },
			func() { fill(t, filler, 8<<20) })
		t.Logf("%s filled %.1f s after gpaddmirrors started; it exited %d %.1f s later", fullFS, r.After.Seconds(), r.Exit, (r.Took - r.After).Seconds())
		problems := faulttest.Problems(r.Output)
		if r.Exit != 1 || !strings.Contains(r.Output, host) || !strings.Contains(r.Output, target) || !strings.Contains(r.Output, "No space left on device") {
			t.Errorf("gpaddmirrors with %s filled during content 0's copy: exit %d, want 1 and a failure naming %s, %s and \"No space left on device\"\n%s",
				fullFS, r.Exit, host, target, r.Output)
		}
		after := d.describe(t)
		if got := d.mirrorContents(t); fmt.Sprint(got) != "[1]" {
			t.Errorf("mirror rows for contents %v, want [1] only", got)
		}
		wantEmpty(t, small)

		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		rcode, rout, took := timed(func() (int, string) { return d.tool(t, "", "gpaddmirrors", "-a", "-i", tight) })
		if rcode != 0 {
			t.Fatalf("gpaddmirrors once the space is freed: exit %d\n%s", rcode, rout)
		}
		d.checkMirrored(t, before)
		d.checkTrueToDisk(t)
		lost := d.lost(t, map[string]map[int]int{"before_fault": {0: 1000, 1: 1000}})
		if lost != 0 {
			t.Errorf("%d rows lost", lost)
		}
		// The reason, which Problems may clip out of a long line.
		printed := faulttest.Short(problems, small, d.dir)
		if i := strings.Index(r.Output, "No space left on device"); i >= 0 {
			from := max(0, i-120)
			printed += " [the reason in full: …" + faulttest.Short(r.Output[from:i+len("No space left on device")], small, d.dir) + "]"
		}
		faulttest.Record(t, faulttest.Row{
			Fault:   fmt.Sprintf("target filesystem filled during the copy: content 0's mirror on a %d MB tmpfs, another file takes all but 8 MB as its pg_basebackup starts (all of it when the copy wins the race)", size>>20),
			Tool:    "gpaddmirrors -a -i FILE",
			Printed: printed,
			Exit:    fmt.Sprintf("exit %d", r.Exit),
			After:   faulttest.Short(after, d.dir) + "; the small filesystem: the other file only",
			Rerun:   fmt.Sprintf("the other file removed, the same command: exit %d in %.1f s: %s", rcode, took.Seconds(), faulttest.Said(rout)),
			Lost:    lost,
		})
		t.Logf("wall time %.1f s", time.Since(begin).Seconds())
	})
}

// moveMirror writes a copy of the mirror file file with the target from
// replaced by to, and returns its path.
func (d mirrorless) moveMirror(t *testing.T, file, from, to string) string {
	t.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(t.TempDir(), "mirrors-moved")
	if err := os.WriteFile(moved, []byte(strings.Replace(string(text), "|"+from+"\n", "|"+to+"\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	return moved
}

// fill writes path until the filesystem it is on has at most room bytes
// free, or none when a copy writing there at the same time took them.
func fill(t *testing.T, path string, room int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	n := int64(st.Bavail)*st.Bsize - room
	if n <= 0 {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for n > 0 {
		w := min(n, int64(len(chunk)))
		if _, err := f.Write(chunk[:w]); errors.Is(err, syscall.ENOSPC) {
			return // the copy took the room left first: full all the same
		} else if err != nil {
			t.Fatalf("fill %s: %v", path, err)
		}
		n -= w
	}
}

// wantEmpty fails t unless dir holds nothing.
func wantEmpty(t *testing.T, dir string) {
	t.Helper()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("left in %s: %v", dir, names)
	}
}

// fullRows is how many rows of about 1 kB the "too small" case writes on
// content 1: about 110 MB, more than fullFS holds.
const fullRows = 100_000

// timed runs f and returns what it returned and how long it took.
func timed(f func() (int, string)) (int, string, time.Duration) {
	begin := time.Now()
	code, out := f()
	return code, out, time.Since(begin)
}

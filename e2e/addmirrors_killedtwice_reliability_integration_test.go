//go:build integration && reliability

package e2e

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// twiceRows is how many rows of about 1 kB TestFaultAddMirrorsKilledTwice
// writes on content 1's primary (about 170 MB): its copy lasts long enough
// to be killed midway.
const twiceRows = 150_000

// twiceAfter is how much of content 1's copy is on disk when the first run
// is killed.
const twiceAfter = 16 << 20

// TestFaultAddMirrorsKilledTwice: gpaddmirrors -a -i is killed -9 while it
// copies content 1 (into a directory it made; content 0's target is a
// directory that was there before, empty). The rerun, which takes over
// that unfinished copy, is itself killed -9 before its own copy replaced
// it: at the first changing step, at the step that clears the unfinished
// copy, or as its own copy begins. A third run of the same command must still finish,
// with no hand clean-up: exit 0, both mirrors up and streaming, the
// catalog true to disk, nothing of the tool's left, no row lost, and
// content 0's directory, which the tool did not make, never removed (the
// same inode throughout).
//
// Before the rerun carried the earlier journal's knowledge into its own,
// the third run refused content 1's directory: "exists but is not empty".
func TestFaultAddMirrorsKilledTwice(t *testing.T) {
	for _, second := range []int{2, 4, 5} {
		name := addMirrorsSteps[second-1]
		t.Run(fmt.Sprintf("rerun_killed_at_%02d_%s", second, name), func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			d := newMirrorless(t)
			d.fillContent(t, 1, twiceRows)
			lsn := d.writeRows(t, "before_kill")
			file, targets := d.spreadMirrorFile(t)
			if err := os.Mkdir(targets[0], 0o700); err != nil {
				t.Fatal(err)
			}
			inode0 := inode(t, targets[0])

			// The first run: killed while content 1's copy is midway.
			ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
			defer cancel()
			var sizeAtKill int64
			k1 := faulttest.KillWhen(t, d.command(t, ctx, "gpaddmirrors", "-a", "-i", file), func(string) bool {
				sizeAtKill = dirSize(targets[1])
				return len(pgrep(t, copyPattern(targets[1]))) > 0 && sizeAtKill >= twiceAfter
			})
			first := d.addMirrorsState(t, targets)
			t.Logf("first run killed -9 after %.2f s, last message %q; left: %s", k1.After.Seconds(), k1.Last, first)
			rec, err := oplock.ReadJournal(d.coord, "gpaddmirrors")
			if err != nil || rec == nil {
				t.Fatalf("the first run's journal: %+v, %v", rec, err)
			}

			// The rerun: killed at step `second`, before its own copy.
			at := fmt.Sprintf("Step %d of %d: %s", second, len(addMirrorsSteps), name)
			k2 := faulttest.KillAtLine(t, d.command(t, ctx, "gpaddmirrors", "-a", "-i", file), regexp.MustCompile(regexp.QuoteMeta(at)+`$`))
			after := d.addMirrorsState(t, targets)
			t.Logf("the rerun killed -9 after %.2f s at %q, last message %q; left: %s", k2.After.Seconds(), at, k2.Last, after)
			if !strings.Contains(k2.Output, "did not finish; this run completes its work") {
				t.Errorf("the rerun did not take the first run's work over:\n%s", k2.Output)
			}
			if _, err := os.Stat(buildmirrors.MarkerFile(buildmirrors.Mirror{Target: cluster.Segment{DataDir: targets[1]}})); err == nil {
				t.Errorf("content 1's copy finished before the rerun stopped it: the test needs it unfinished")
			}
			if rec, err := oplock.ReadJournal(d.coord, "gpaddmirrors"); err != nil || rec == nil {
				t.Errorf("the rerun's journal: %+v, %v", rec, err)
			} else {
				for _, it := range rec.Items {
					if it.DataDir == targets[1] && (!it.Partial || !it.Made) {
						t.Errorf("the rerun's journal item for content 1: %+v, want it to carry the unfinished copy (partial) in a directory the tool made", it)
					}
				}
			}
			if n := len(pgrep(t, copyPattern(targets[1]))); n != 0 {
				t.Errorf("%d copies into %s still run after the rerun took the first run's work over", n, targets[1])
			}

			// The third run.
			rerun, lost := d.rerunAddMirrors(t, file, targets, lsn, "before_kill")
			var big int
			if err := connect(t, d.hosts[1], d.primaryPort(1), true).QueryRow(t.Context(), "SELECT count(*) FROM public.big").Scan(&big); err != nil {
				t.Error(err)
			}
			if big != twiceRows {
				t.Errorf("content 1: %d rows of big, want %d", big, twiceRows)
			}
			lost += twiceRows - big
			if got := inode(t, targets[0]); got != inode0 {
				t.Errorf("content 0's directory %s, which the tool did not make, was removed and made again (inode %d, was %d)", targets[0], got, inode0)
			}
			faulttest.Record(t, faulttest.Row{
				Fault: fmt.Sprintf("kill -9 while it copies content 1 (%.0f MB on disk, %.1f s in), then kill -9 of the rerun at `%s`",
					float64(sizeAtKill)/(1<<20), k1.After.Seconds(), at),
				Tool:    "gpaddmirrors -a -i FILE (2 contents, mirrorless, spread; content 0's target made beforehand)",
				Printed: d.short("first: " + k1.Last + "; rerun: " + k2.Last),
				Exit:    "killed (137), rerun killed (137)",
				After:   after,
				Rerun:   rerun + fmt.Sprintf("; content 0's directory kept (same inode); %d rows of content 1's big table counted", big),
				Lost:    lost,
			})
			t.Logf("wall time %.1f s", time.Since(began).Seconds())
		})
	}
}

// inode is dir's inode number.
func inode(t testing.TB, dir string) uint64 {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

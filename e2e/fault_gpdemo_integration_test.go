//go:build integration && reliability

package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/gpdemo"
)

// The milestones of gpdemo create --standby --mirrors group (its numbered
// steps, then the mirrors) and of gpdemo destroy.
var (
	gpdemoCreateMilestones = []string{
		`Step 1 of \d+: create instances`,
		`Step 2 of \d+: start primaries`,
		`Step 3 of \d+: start coordinator in utility mode`,
		`Step 4 of \d+: load the gp_compat catalog`,
		`Step 5 of \d+: register coordinator and primaries`,
		`Step 6 of \d+: restart coordinator in dispatch mode`,
		`Step 7 of \d+: copy the standby from the coordinator`,
		`Step 8 of \d+: register the standby`,
		`Step 9 of \d+: start the standby`,
		`Building \d+ mirrors`,
	}
	gpdemoDestroyMilestones = []string{
		`Step 1 of \d+: stop instances`,
		`Step 2 of \d+: remove data directories`,
	}
)

// TestFaultGpdemo: gpdemo create (2 hosts, a standby, group mirrors, over
// SSH) killed -9 at each of its steps, then the same create run again:
// exit 0, the cluster whole, its catalog true to disk, no instance of the
// killed create left, and rows written on every content counted back.
// gpdemo destroy killed -9 at each step, then run again: exit 0, DIR gone,
// no process of the cluster left.
func TestFaultGpdemo(t *testing.T) {
	for i, at := range gpdemoCreateMilestones {
		t.Run(fmt.Sprintf("create/%d", i+1), func(t *testing.T) {
			t.Parallel()
			faultGpdemoCreate(t, at)
		})
	}
	for i, at := range gpdemoDestroyMilestones {
		t.Run(fmt.Sprintf("destroy/%d", i+1), func(t *testing.T) {
			t.Parallel()
			faultGpdemoDestroy(t, at)
		})
	}
}

// gpdemoCreateArgs is the create of a stopDemo in dir on slot.
func gpdemoCreateArgs(slot testbed.Slot, dir string) []string {
	return []string{"create", "--dir", dir, "--gphome", gphome, "--hosts", "2", "--primaries-per-host", "1", "--standby", "--mirrors", "group",
		"--host-names", strings.Join(slot.Hosts[:3], ","), "--port-base", strconv.Itoa(slot.PortBase)}
}

// shortTool is a gpdemo command line with the test's paths shortened.
func shortTool(args []string, dir string) string {
	s := "gpdemo " + strings.Join(args, " ")
	s = strings.ReplaceAll(s, dir, "DIR")
	return strings.ReplaceAll(s, gphome, "GPHOME")
}

// demoAt is the stopDemo gpdemo made in dir on slot.
func demoAt(t *testing.T, slot testbed.Slot, dir string) stopDemo {
	t.Helper()
	d := stopDemo{demo: demo{dir: dir, coord: filepath.Join(dir, "coordinator", "gpseg-1"), primary: 2}}
	for _, h := range slot.Hosts[:2] {
		d.hidden = append(d.hidden, filepath.Join(dir, h))
	}
	d.hidden = append(d.hidden, filepath.Join(dir, "standby"))
	d.segs = d.catalog(t)
	return d
}

// gpdemoLeft describes what a killed gpdemo left in dir.
func gpdemoLeft(t *testing.T, dir string) string {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "DIR gone"
	}
	parts := []string{fmt.Sprintf("%d postmaster.pid under DIR, %d postgres processes of DIR", postmasters(dir), len(postgresOf(t, dir)))}
	for _, f := range []string{gpdemo.ManifestName, gpdemo.EnvFileName} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			parts = append(parts, f+" present")
		} else {
			parts = append(parts, "no "+f)
		}
	}
	return strings.Join(parts, "; ")
}

// postgresOf returns the pids of postgres processes naming dir.
func postgresOf(t *testing.T, dir string) []int { return pgrep(t, "postgres.*"+regexp.QuoteMeta(dir)) }

func faultGpdemoCreate(t *testing.T, at string) {
	slot := testbed.AcquireSlot(t)
	dir := filepath.Join(t.TempDir(), "cluster")
	args := gpdemoCreateArgs(slot, dir)
	t.Cleanup(func() {
		if _, err := os.Stat(dir); err == nil {
			run(t, "gpdemo", "destroy", "--dir", dir)
		}
	})
	k := faulttest.KillAtLine(t, gpdemoCmd(t, args...), regexp.MustCompile(at))
	after := gpdemoLeft(t, dir)
	t.Logf("gpdemo create killed -9 %.1f s in, at %q; after: %s", k.After.Seconds(), k.Last, after)

	start := time.Now()
	code, out := tooltest.Run(t, gpdemoCmd(t, args...))
	rerun := fmt.Sprintf("exit %d in %.1f s: %s", code, time.Since(start).Seconds(), faulttest.Said(out))
	if code != 0 {
		t.Fatalf("the rerun of gpdemo create: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "holds the manifest of a gpdemo create that did not finish") {
		t.Errorf("the rerun did not say it destroyed the unfinished create:\n%s", out)
	}
	d := demoAt(t, slot, dir)
	if len(d.segs) != 6 {
		t.Fatalf("catalog after the rerun, want 6 instances:\n%s", dump(d.segs))
	}
	wantRunAsCataloged(t, d.segs)
	d.wantOnlyCatalogedPostmasters(t)
	if n := postmasters(dir); n != len(d.segs) {
		t.Errorf("%d postmaster.pid under %s, %d instances in the catalog", n, dir, len(d.segs))
	}
	d.writeBeforeKill(t)
	lost := d.writtenBeforeKill() - d.countBeforeKill(t)
	if lost != 0 {
		t.Errorf("%d rows lost", lost)
	}
	faulttest.Record(t, faulttest.Row{
		Fault:   "kill -9 at `" + at + "`",
		Tool:    shortTool(args, dir),
		Printed: rowText(k.Last, dir),
		Exit:    "killed (137)",
		After:   after,
		Rerun:   rowText(rerun, dir),
		Lost:    lost, // rows written after the rerun, on the cluster it made
	})
}

func faultGpdemoDestroy(t *testing.T, at string) {
	slot := testbed.AcquireSlot(t)
	dir := filepath.Join(t.TempDir(), "cluster")
	t.Cleanup(func() {
		if _, err := os.Stat(dir); err == nil {
			run(t, "gpdemo", "destroy", "--dir", dir)
		}
	})
	run(t, "gpdemo", gpdemoCreateArgs(slot, dir)...)
	d := demoAt(t, slot, dir)
	d.writeBeforeKill(t)
	args := []string{"destroy", "--dir", dir}
	k := faulttest.KillAtLine(t, gpdemoCmd(t, args...), regexp.MustCompile(at))
	after := gpdemoLeft(t, dir)
	t.Logf("gpdemo destroy killed -9 %.1f s in, at %q; after: %s", k.After.Seconds(), k.Last, after)

	start := time.Now()
	code, out := tooltest.Run(t, gpdemoCmd(t, args...))
	rerun := fmt.Sprintf("exit %d in %.1f s: %s", code, time.Since(start).Seconds(), faulttest.Said(out))
	if code != 0 {
		t.Fatalf("the rerun of gpdemo destroy: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after the rerun of destroy: %v, want gone", dir, err)
	}
	if pids := postgresOf(t, dir); len(pids) != 0 {
		t.Errorf("postgres processes of %s left: %v", dir, pids)
	}
	faulttest.Record(t, faulttest.Row{
		Fault:   "kill -9 at `" + at + "`",
		Tool:    shortTool(args, dir),
		Printed: rowText(k.Last, dir),
		Exit:    "killed (137)",
		After:   after,
		Rerun:   rowText(rerun, dir) + "; " + gpdemoLeft(t, dir),
		Lost:    0, // destroy removes the rows by design: nothing to count
	})
}

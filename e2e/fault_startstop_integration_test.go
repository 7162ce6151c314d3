//go:build integration && reliability

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// The milestones of gpstart -a and gpstop -a -M fast: the INFO lines a -v
// run of each prints as it enters a phase (gpstart: the coordinator's
// admin-mode start and stop, the segments, the coordinator, the standby;
// gpstop: the coordinator, the standby, the primaries, the mirrors).
var (
	gpstartMilestones = []string{
		`Starting Coordinator instance in admin mode`,
		`Shutting down coordinator`,
		`Commencing parallel primary and mirror segment instance startup`,
		`Starting Coordinator instance \S+ directory`,
		`Starting standby coordinator`,
	}
	gpstopMilestones = []string{
		`Commencing Coordinator instance shutdown`,
		`Stopping coordinator standby host`,
		`Commencing parallel primary segment instance shutdown`,
		`Commencing parallel mirror segment instance shutdown`,
	}
)

// TestFaultStartStop: gpstart -a and gpstop -a -M fast killed -9 at each
// of their milestones on a mirrored cluster with a standby; the same
// command run again exits 0 and leaves every instance as it should be
// (all running, or all stopped), the catalog unchanged and true to disk,
// no gpstop.pending, lock or journal left, and every row written before.
func TestFaultStartStop(t *testing.T) {
	for _, tool := range []string{"gpstart", "gpstop"} {
		milestones := gpstartMilestones
		if tool == "gpstop" {
			milestones = gpstopMilestones
		}
		for i, at := range milestones {
			t.Run(fmt.Sprintf("%s/%d", tool, i+1), func(t *testing.T) {
				t.Parallel()
				faultStartStop(t, tool, at)
			})
		}
	}
}

func faultStartStop(t *testing.T, tool, at string) {
	d := newStopDemo(t)
	before := d.segs
	d.writeBeforeKill(t)
	args := []string{"-a"}
	if tool == "gpstop" {
		args = append(args, "-M", "fast")
	} else if code, out := d.blind(t, "gpstop", "-a", "-M", "fast"); code != 0 {
		t.Fatalf("gpstop exit %d\n%s", code, out)
	}
	cmd, cancel := d.blindCmd(t, tool, args...)
	defer cancel()
	k := faulttest.KillAtLine(t, cmd, regexp.MustCompile(at))
	after := d.observe(t, before)
	t.Logf("%s killed -9 %.1f s in, at %q; after: %s", tool, k.After.Seconds(), k.Last, after)

	start := time.Now()
	code, out := d.blind(t, tool, args...)
	rerun := fmt.Sprintf("exit %d in %.1f s: %s", code, time.Since(start).Seconds(), faulttest.Said(out))
	if code != 0 {
		t.Errorf("the rerun of %s: exit %d\n%s", tool, code, out)
	}
	if tool == "gpstop" {
		d.wantAllStopped(t)
		d.wantNoToolFiles(t)
		d.startAll(t) // to count the rows
	} else {
		d.wantAllRunning(t)
		d.wantNoToolFiles(t)
	}
	d.wantCatalog(t, before)
	wantRunAsCataloged(t, before)
	d.wantOnlyCatalogedPostmasters(t)
	lost := d.writtenBeforeKill() - d.countBeforeKill(t)
	if lost != 0 {
		t.Errorf("%d rows lost", lost)
	}
	faulttest.Record(t, faulttest.Row{
		Fault:   "kill -9 at `" + at + "`",
		Tool:    tool + " " + strings.Join(args, " "),
		Printed: rowText(k.Last, d.dir),
		Exit:    "killed (137)",
		After:   rowText(after, d.dir),
		Rerun:   rowText(rerun, d.dir),
		Lost:    lost,
	})
}

// rowText is s for the fault table: the cluster's directory and GPHOME's
// as DIR and GPHOME (faulttest.Short), 200 characters at most.
func rowText(s, dir string) string {
	s = faulttest.Short(strings.ReplaceAll(s, gphome, "GPHOME"), dir)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}

// observe describes the cluster after a fault: which instances run, the
// catalog read in a utility session (when the coordinator answers) against
// the one taken before, the tool files left in the coordinator data
// directory and the postmaster.pid files naming no live process.
func (d stopDemo) observe(t *testing.T, before []cluster.Segment) string {
	t.Helper()
	var up, down []string
	stale := 0
	for _, s := range before {
		if running(s) {
			up = append(up, strconv.Itoa(s.DBID))
			continue
		}
		down = append(down, strconv.Itoa(s.DBID))
		if _, err := os.Stat(filepath.Join(s.DataDir, "postmaster.pid")); err == nil {
			stale++
		}
	}
	parts := []string{"dbids running [" + strings.Join(up, " ") + "], stopped [" + strings.Join(down, " ") + "]"}
	switch segs, err := d.tryCatalog(t); {
	case err != nil:
		parts = append(parts, "catalog unreadable (coordinator down)")
	case slices.Equal(rows(segs), rows(before)):
		parts = append(parts, "catalog unchanged")
	default:
		parts = append(parts, "catalog changed: "+strings.Join(rows(segs), "; "))
	}
	if files := toolFiles(d.coord); len(files) > 0 {
		parts = append(parts, "left: "+strings.Join(files, ", "))
	}
	if stale > 0 {
		parts = append(parts, fmt.Sprintf("%d stale postmaster.pid", stale))
	}
	return strings.Join(parts, "; ")
}

// tryCatalog reads the catalog in a utility session, or says why it cannot.
func (d stopDemo) tryCatalog(t *testing.T) ([]cluster.Segment, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: d.port(t), Flavour: cluster.GP7, Utility: true, ConnectTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	return cluster.LoadSegments(ctx, conn)
}

// toolFiles names what the changing tools leave in the coordinator data
// directory while they work: gpstop.pending, locks and journals.
func toolFiles(coord string) []string {
	var out []string
	for _, pattern := range []string{"gpstop.pending*", "*.lock", "*.journal*"} {
		m, _ := filepath.Glob(filepath.Join(coord, pattern))
		for _, f := range m {
			out = append(out, filepath.Base(f))
		}
	}
	return out
}

// wantNoToolFiles fails t if a tool left its pending file, lock or journal.
func (d stopDemo) wantNoToolFiles(t *testing.T) {
	t.Helper()
	if files := toolFiles(d.coord); len(files) > 0 {
		t.Errorf("left in %s: %v", d.coord, files)
	}
}

// wantOnlyCatalogedPostmasters fails t if a postmaster runs in a directory
// of the cluster that no catalog row names (an instance left over).
func (d stopDemo) wantOnlyCatalogedPostmasters(t *testing.T) {
	t.Helper()
	dirs := map[string]bool{}
	for _, s := range d.segs {
		dirs[s.DataDir] = true
	}
	out, _ := exec.Command("pgrep", "-a", "-f", "postgres.* -D "+d.dir).Output()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		for i := range f {
			if f[i] == "-D" && i+1 < len(f) && !dirs[f[i+1]] {
				t.Errorf("a postmaster no catalog row names: %s", l)
			}
		}
	}
}

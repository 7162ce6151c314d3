//go:build integration && reliability

package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// The state a killed gpaddmirrors left, as the fault campaign's tests
// observe it before the rerun, and the checks after the rerun.

// faultRows is how many rows writeRows puts on each content.
const faultRows = 1000

// addMirrorsState describes, in one line for the fault table, what is
// there for the mirrors of targets (by content): the catalog's mirror rows
// (role, status, mode), the journal's step per item (and whether the run
// made the directory), the lock, and per target its directory (absent,
// empty or how many entries), a running instance, the copy's pid file and
// finished-copy marker, and copies still running.
func (d mirrorless) addMirrorsState(t testing.TB, targets map[int]string) string {
	t.Helper()
	var parts []string
	var rows []string
	for _, s := range d.segments(t) {
		if s.IsSegment() && s.PreferredRole == cluster.RoleMirror {
			rows = append(rows, fmt.Sprintf("content %d %c/%c/%c", s.ContentID, s.Role, s.Status, s.Mode))
		}
	}
	if len(rows) == 0 {
		rows = []string{"none"}
	}
	parts = append(parts, "mirror rows: "+strings.Join(rows, ", "))

	rec, err := oplock.ReadJournal(d.coord, "gpaddmirrors")
	switch {
	case err != nil:
		parts = append(parts, fmt.Sprintf("journal unreadable (%v)", err))
	case rec == nil:
		parts = append(parts, "no journal")
	default:
		var items []string
		for _, it := range rec.Items {
			s := fmt.Sprintf("dbid %d at %q", it.DBID, it.Step)
			if it.Made {
				s += " (made its dir)"
			}
			if it.Partial {
				s += " (its dir may hold an unfinished copy)"
			}
			if it.Note != "" {
				s += " [" + it.Note + "]"
			}
			items = append(items, s)
		}
		parts = append(parts, "journal: "+strings.Join(items, ", "))
	}
	if _, err := os.Stat(oplock.Path(d.coord, "gpaddmirrors")); err == nil {
		parts = append(parts, "lock left")
	}

	for _, c := range contentsOf(targets) {
		dir := targets[c]
		m := buildmirrors.Mirror{Target: cluster.Segment{DataDir: dir}}
		var what []string
		entries, err := os.ReadDir(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			what = append(what, "no dir")
		case err != nil:
			what = append(what, err.Error())
		case len(entries) == 0:
			what = append(what, "empty dir")
		default:
			what = append(what, fmt.Sprintf("dir of %d entries, %.0f MB", len(entries), float64(dirSize(dir))/(1<<20)))
		}
		if runningIn(dir) {
			what = append(what, "instance running")
		}
		if _, err := os.Stat(buildmirrors.PIDFile(m)); err == nil {
			what = append(what, "copy pid file")
		}
		if _, err := os.Stat(buildmirrors.MarkerFile(m)); err == nil {
			what = append(what, "finished-copy marker")
		}
		if n := len(pgrep(t, copyPattern(dir))); n > 0 {
			what = append(what, fmt.Sprintf("%d copy processes", n))
		}
		parts = append(parts, fmt.Sprintf("content %d target: %s", c, strings.Join(what, ", ")))
	}
	return strings.Join(parts, "; ")
}

// copyPattern matches the copy into dir: the real pg_basebackup under the
// compat shim, and the WAL streaming child it forks.
func copyPattern(dir string) string {
	return `^[^ ]*/pg_basebackup .*-D ` + regexp.QuoteMeta(dir) + `( |$)`
}

// runningIn reports whether dir's postmaster.pid names a live process.
func runningIn(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return false
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

func contentsOf(targets map[int]string) []int {
	var cs []int
	for c := range targets {
		cs = append(cs, c)
	}
	sort.Ints(cs)
	return cs
}

// addMirrorsLeftovers returns gpaddmirrors's files still there for
// targets: its journal (and its temporary), its lock, and per target the
// copy's pid file and the finished-copy marker.
func (d mirrorless) addMirrorsLeftovers(targets map[int]string) []string {
	paths := []string{oplock.JournalPath(d.coord, "gpaddmirrors"), oplock.JournalPath(d.coord, "gpaddmirrors") + ".tmp",
		oplock.Path(d.coord, "gpaddmirrors")}
	for _, c := range contentsOf(targets) {
		m := buildmirrors.Mirror{Target: cluster.Segment{DataDir: targets[c]}}
		paths = append(paths, buildmirrors.PIDFile(m), buildmirrors.MarkerFile(m))
	}
	var left []string
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			left = append(left, p)
		}
	}
	return left
}

// rowsLost counts table's rows on every primary (utility sessions) and
// returns how many of the faultRows written on each content are missing.
func (d mirrorless) rowsLost(t testing.TB, table string) int {
	t.Helper()
	lost := 0
	for c, h := range d.hosts {
		var n int
		if err := connect(t, h, d.primaryPort(c), true).QueryRow(t.Context(), "SELECT count(*) FROM public."+table).Scan(&n); err != nil {
			t.Errorf("content %d: count %s: %v", c, table, err)
		}
		lost += faultRows - n
	}
	return lost
}

// short shows the cluster's directory in s as DIR, for the fault table.
func (d mirrorless) short(s string) string { return strings.ReplaceAll(s, d.dir, "DIR") }

// rerunAddMirrors runs the same command again and checks what every rerun
// of the campaign must leave: exit 0, both mirrors up, in sync and
// replayed past lsn, the catalog true to disk, no copy running, no
// journal, lock, pid or marker file, no row lost. It returns the Rerun
// cell of the fault table and the rows lost.
func (d mirrorless) rerunAddMirrors(t *testing.T, file string, targets map[int]string, lsn map[int]string, table string) (string, int) {
	t.Helper()
	start := time.Now()
	code, out := d.tool(t, "", "gpaddmirrors", "-a", "-i", file)
	took := time.Since(start)
	msgs := tooltest.Messages(out)
	key := ""
	for _, m := range msgs {
		if strings.Contains(m, "mirror(s) added") || strings.Contains(m, "registered every mirror") || strings.Contains(m, "ERROR") {
			key = m
		}
	}
	if key == "" && len(msgs) > 0 {
		key = msgs[len(msgs)-1]
	}
	cell := fmt.Sprintf("exit %d in %.1f s: %s", code, took.Seconds(), d.short(key))
	if code != 0 {
		t.Fatalf("the rerun of gpaddmirrors -a -i: exit %d\n%s", code, out)
	}
	t.Logf("rerun, its last lines:\n%s", tail(out, 4))
	d.checkMirrored(t, lsn)
	d.checkTrueToDisk(t)
	for _, c := range contentsOf(targets) {
		if left := pgrep(t, copyPattern(targets[c])); len(left) != 0 {
			t.Errorf("copies into %s still running after the rerun: %v", targets[c], left)
		}
	}
	if left := d.addMirrorsLeftovers(targets); len(left) != 0 {
		t.Errorf("left after the rerun: %v", left)
	}
	lost := d.rowsLost(t, table)
	if lost != 0 {
		t.Errorf("%d rows lost", lost)
	}
	return cell, lost
}

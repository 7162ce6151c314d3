//go:build integration && reliability

package recoverseg_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// scene is a fault test's cluster: the rows written on every content
// before the fault, by table and content, and the WAL position after them
// on each content's acting primary.
type scene struct {
	b    *bed
	rows map[int]map[string]int // content -> table -> rows
	lsn  map[int]string
}

func newScene(b *bed) *scene {
	return &scene{b: b, rows: map[int]map[string]int{}, lsn: map[int]string{}}
}

// write creates table with n rows on every content's acting primary.
func (s *scene) write(t testing.TB, table string, n int) {
	t.Helper()
	for c := range s.b.hosts {
		if s.rows[c] == nil {
			s.rows[c] = map[string]int{}
		}
		s.rows[c][table] = n
		s.lsn[c] = write(t, s.b.primary(t, c), table, n)
	}
}

// fill creates table with n rows of about 1 kB on content c's acting
// primary: what a rewind or a copy then takes long enough to be watched.
func (s *scene) fill(t testing.TB, c int, table string, n int) {
	t.Helper()
	s.rows[c][table] = n
	fill(t, s.b.primary(t, c), table, n)
}

// lost counts, on every content's acting primary, the rows written before
// the fault that are missing now.
func (s *scene) lost(t testing.TB) int {
	t.Helper()
	lost := 0
	for c, tables := range s.rows {
		p := s.b.primary(t, c)
		for table, want := range tables {
			if n := count(t, p, table); n != want {
				t.Errorf("%s on content %d's acting primary dbid %d: %d rows, want %d", table, c, p.DBID, n, want)
				lost += max(want-n, 0)
			}
		}
	}
	return lost
}

// killAt runs gprecoverseg with args blind and kills it -9 at the first
// line it prints that matches at.
func (s *scene) killAt(t testing.TB, logDir string, at *regexp.Regexp, args ...string) faulttest.Killed {
	t.Helper()
	cmd, cancel := s.b.command(t, toolRun{logDir: logDir}, "gprecoverseg", args...)
	defer cancel()
	return faulttest.KillAtLine(t, cmd, at)
}

// killWhen runs gprecoverseg with args blind and kills it -9 once ready
// holds.
func (s *scene) killWhen(t testing.TB, logDir string, ready func(string) bool, args ...string) faulttest.Killed {
	t.Helper()
	cmd, cancel := s.b.command(t, toolRun{logDir: logDir}, "gprecoverseg", args...)
	defer cancel()
	return faulttest.KillWhen(t, cmd, ready)
}

// rerun runs gprecoverseg with args again, fails t unless it exits 0,
// and says how it went for the fault table.
func (s *scene) rerun(t testing.TB, logDir string, args ...string) string {
	t.Helper()
	begin := time.Now()
	code, out := s.b.tool(t, toolRun{logDir: logDir}, "gprecoverseg", args...)
	took := time.Since(begin)
	if code != 0 {
		t.Fatalf("the rerun of gprecoverseg %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	// What it said of the earlier run, and how it ended.
	var key []string
	end := ""
	for _, m := range tooltest.Messages(out) {
		switch {
		case strings.Contains(m, "did not finish; this run completes its work"):
			key = append(key, "took the earlier run's journal over")
		case strings.Contains(m, "left by gprecoverseg") && strings.Contains(m, "taking it over"):
			key = append(key, "took the stale lock over")
		case strings.Contains(m, "earlier run"):
			key = append(key, shorten(s.b, m))
		case strings.Contains(m, "successfully") || strings.Contains(m, "No segments to recover"):
			end = m
		}
	}
	if end != "" {
		key = append(key, end)
	}
	return fmt.Sprintf("exit 0 in %.1f s: %s", took.Seconds(), strings.Join(slices.Compact(key), "; "))
}

// tool is the command line as the table shows it.
func toolLine(args ...string) string {
	return "gprecoverseg " + strings.Join(args, " ") + " -l DIR"
}

// shorten replaces the cluster's directory in text by DIR.
func shorten(b *bed, text string) string {
	return strings.ReplaceAll(text, b.dir, "DIR")
}

// afterFault is what the catalog and the disk show after a fault: each
// segment row (dbid, role, mode, status) and whether its instance runs,
// the journal's items, the lock, and the pid, status and marker files
// beside the data directories.
func (b *bed) afterFault(t testing.TB) string {
	t.Helper()
	var parts []string
	for _, s := range b.catalog(t) {
		if !s.IsSegment() {
			continue
		}
		state := "stopped"
		if running(s.DataDir) {
			state = "runs"
		}
		parts = append(parts, fmt.Sprintf("dbid %d %s/%s/%s %s", s.DBID, s.Role, s.Mode, s.Status, state))
	}
	catalog := "catalog: " + strings.Join(parts, ", ")
	journal := "no journal"
	switch rec, err := oplock.ReadJournal(b.coord, "gprecoverseg"); {
	case err != nil:
		journal = "journal: " + err.Error()
	case rec != nil:
		var items []string
		for _, it := range rec.Items {
			item := fmt.Sprintf("dbid %d %s %s", it.DBID, it.Method, it.Step)
			if it.Partial {
				item += " (partial copy)"
			}
			items = append(items, item)
		}
		journal = "journal: " + strings.Join(items, ", ")
	}
	lock := "no lock"
	if _, err := os.Stat(filepath.Join(b.coord, "gprecoverseg.lock")); err == nil {
		lock = "lock left"
	}
	files := "no pid/marker file"
	if left, _ := filepath.Glob(filepath.Join(b.dir, "*", "*", ".gpseg*")); len(left) > 0 {
		for i := range left {
			left[i] = filepath.Base(left[i])
		}
		files = strings.Join(left, ", ")
	}
	return strings.Join([]string{catalog, journal, lock, files}, "; ")
}

// trueToDisk fails t unless every segment row is up and its instance runs
// in its directory on its port, and no directory under the cluster's hosts
// is in no row.
func (b *bed) trueToDisk(t testing.TB) {
	t.Helper()
	dirs := map[string]bool{}
	for _, s := range b.catalog(t) {
		if !s.IsSegment() {
			continue
		}
		dirs[s.DataDir] = true
		if !s.IsUp() {
			t.Errorf("row %s: not up", s)
		}
		text, err := os.ReadFile(filepath.Join(s.DataDir, "postmaster.pid"))
		if err != nil {
			t.Errorf("row %s: %v", s, err)
			continue
		}
		// postmaster.pid: pid, data directory, start time, port, ...
		f := strings.Split(string(text), "\n")
		if len(f) < 4 {
			t.Errorf("row %s: short postmaster.pid %q", s, text)
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
	for _, h := range b.hosts {
		found, _ := filepath.Glob(filepath.Join(b.dir, h, "*", "*"))
		for _, d := range found {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() && !dirs[d] {
				t.Errorf("%s is in no catalog row", d)
			}
		}
	}
}

// copyProcs are the pids of the pg_basebackup processes copying into dir
// (the copy and the WAL streaming child it forks).
func copyProcs(t testing.TB, dir string) []int {
	return tooltest.Pgrep(t, `^\S*/pg_basebackup .*-D `+regexp.QuoteMeta(dir)+`( |$)`)
}

// killProcs kills pids -9 (a copy the test wants gone, as a host's crash
// would end it) and waits until they are gone.
func killProcs(t testing.TB, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		alive := 0
		for _, pid := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, fs.ErrNotExist) {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %v still run 10 s after kill -9", alive, pids)
		}
	}
}

//go:build integration && reliability

package recoverseg_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// written is what a fault test wrote before the fault: rows by table and
// content, counted again after the rerun.
type written struct {
	tables []writtenTable
}

type writtenTable struct {
	content int
	table   string
	rows    int
}

// write creates table with n rows on s, content s.ContentID's acting primary.
func (w *written) write(t testing.TB, s cluster.Segment, table string, n int) {
	t.Helper()
	write(t, s, table, n)
	w.tables = append(w.tables, writtenTable{s.ContentID, table, n})
}

// fill creates table with n rows of about 1 kB on s.
func (w *written) fill(t testing.TB, s cluster.Segment, table string, n int) {
	t.Helper()
	fill(t, s, table, n)
	w.tables = append(w.tables, writtenTable{s.ContentID, table, n})
}

// lost counts every table on its content's acting primary and returns
// how many rows written are missing.
func (w *written) lost(t testing.TB, b *bed) int {
	t.Helper()
	lost := 0
	for _, wt := range w.tables {
		if n := count(t, b.primary(t, wt.content), wt.table); n < wt.rows {
			lost += wt.rows - n
		}
	}
	return lost
}

// describe is the state a fault left, for the fault table: each catalog
// row (dbid, content, role, status, mode) and whether a postmaster runs
// in its directory, and the files of an unfinished run left on the
// coordinator (lock, journal) or beside dirs (pid, status and marker
// files).
func (b *bed) describe(t testing.TB, dirs ...string) string {
	t.Helper()
	var cat []string
	for _, s := range b.catalog(t) {
		if !s.IsSegment() {
			continue
		}
		state := "stopped"
		if running(s.DataDir) {
			state = "runs"
		}
		cat = append(cat, fmt.Sprintf("dbid %d c%d %c/%c/%c %s", s.DBID, s.ContentID, s.Role, s.Status, s.Mode, state))
	}
	var left []string
	for _, pattern := range []string{filepath.Join(b.coord, "gprecoverseg.*")} {
		m, _ := filepath.Glob(pattern)
		left = append(left, m...)
	}
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(filepath.Dir(d), "."+filepath.Base(d)+".*"))
		left = append(left, m...)
	}
	for i, f := range left {
		left[i] = filepath.Base(f)
	}
	if len(left) == 0 {
		left = []string{"none"}
	}
	return "catalog: " + strings.Join(cat, ", ") + "; files left: " + strings.Join(left, ", ")
}

// pgrep and dirSizeAtLeast are tooltest's.
func pgrep(t testing.TB, pattern string) []int { return tooltest.Pgrep(t, pattern) }

func dirSizeAtLeast(dir string, n int64) bool { return tooltest.DirSize(dir) >= n }

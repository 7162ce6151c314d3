//go:build integration && reliability

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// env is the environment a blind tool runs with on d.
func (d demo) env(extra ...string) []string {
	return append(append(os.Environ(), "GPHOME="+gphome, "COORDINATOR_DATA_DIRECTORY="+d.coord, "MASTER_DATA_DIRECTORY="), extra...)
}

// describe is the state a fault left, for the fault table: each instance
// of the catalog made with the cluster (dbid, content, role, status and
// mode now, when the coordinator answers) and whether it runs, and the
// tools' files left in the coordinator's directory.
func (d stopDemo) describe(t *testing.T) string {
	t.Helper()
	now := map[int]cluster.Segment{}
	if running(d.find(t, func(s cluster.Segment) bool { return s.IsCoordinator() })) {
		for _, s := range d.catalog(t) {
			now[s.DBID] = s
		}
	}
	var cat []string
	for _, s := range d.segs {
		state := "stopped"
		if running(s) {
			state = "runs"
		}
		row := "catalog unread"
		if n, ok := now[s.DBID]; ok {
			row = fmt.Sprintf("%c/%c/%c", n.Role, n.Status, n.Mode)
		}
		cat = append(cat, fmt.Sprintf("dbid %d c%d %s %s", s.DBID, s.ContentID, row, state))
	}
	var left []string
	for _, pattern := range []string{"*.lock", "*.journal", "*.pending"} {
		m, _ := filepath.Glob(filepath.Join(d.coord, pattern))
		for _, f := range m {
			left = append(left, filepath.Base(f))
		}
	}
	return "instances: " + strings.Join(cat, ", ") + "; files left: " + orNone(left)
}

// lostBeforeKill counts before_kill's rows (writeBeforeKill: 1000 on the
// coordinator and on every primary) and returns how many are missing.
func (d stopDemo) lostBeforeKill(t *testing.T) int {
	t.Helper()
	const sql = "SELECT count(*) FROM public.before_kill"
	lost := 0
	var n int
	if got, err := d.query(t, "SELECT count(*)::text FROM public.before_kill"); err != nil {
		t.Errorf("coordinator: %v", err)
		lost += 1000
	} else if _, err := fmt.Sscan(got, &n); err == nil {
		lost += max(1000-n, 0)
	}
	for _, s := range d.catalog(t) {
		if s.IsSegment() && s.IsPrimary() {
			if err := connect(t, s.Hostname, s.Port, true).QueryRow(t.Context(), sql).Scan(&n); err != nil {
				t.Errorf("%s: %v", s.Label(), err)
				lost += 1000
				continue
			}
			lost += max(1000-n, 0)
		}
	}
	return lost
}

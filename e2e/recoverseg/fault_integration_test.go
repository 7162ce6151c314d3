//go:build integration && reliability

package recoverseg_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
)

// A milestone of gprecoverseg: a line it prints (Greenplum's, not a
// numbered step) and the moment it is killed at.
type milestone struct {
	name string // the line, as the fault table names it
	at   string // the regexp of the printed line
	// fill: rows of about 1 kB the scene's failed-over content gets
	// more, so that the rewind or the copy lasts long enough to print its
	// progress.
	fill int
}

// The progress line gprecoverseg prints once a second for each copy or
// rewind when its output is not a terminal (spec §4.9).
const progressLine = `^\S+ \(dbid \d+\): \S`

// recoverMilestones are the INFO lines of spec §3.1/§4.6 an in-place
// recovery prints, in order.
var recoverMilestones = []milestone{
	{name: "Starting to create new pg_hba.conf on primary segments", at: `\[INFO\]:-Starting to create new pg_hba\.conf on primary segments$`},
	{name: "Ensuring 1 failed segment(s) are stopped", at: `\[INFO\]:-Ensuring 1 failed segment\(s\) are stopped$`},
	{name: "Setting up the required segments for recovery", at: `\[INFO\]:-Setting up the required segments for recovery$`},
	{name: "Updating configuration for mirrors", at: `\[INFO\]:-Updating configuration for mirrors$`},
	{name: "Initiating segment recovery", at: `\[INFO\]:-Initiating segment recovery\. `},
	{name: "the rewind's first progress line", at: progressLine, fill: rewindRows},
	{name: "Triggering FTS probe", at: `\[INFO\]:-Triggering FTS probe$`},
}

// fullMilestones are what gprecoverseg -F prints, in order: the stop of
// the failed instance, then pkg/buildmirrors' numbered steps.
var fullMilestones = append([]milestone{
	{name: "Ensuring 1 failed segment(s) are stopped", at: `\[INFO\]:-Ensuring 1 failed segment\(s\) are stopped$`},
}, append(buildSteps(
	"check targets",
	"update pg_hba.conf on primaries",
	"prepare replication slots",
	"create mirror directories",
	"copy primaries with pg_basebackup",
	"set mirror ports",
	"start mirrors",
	"wait for mirrors to stream",
	"register mirrors in the catalog",
	"forget the finished copies",
	"trigger FTS probe",
), milestone{name: "the copy's first progress line in kB", at: copyProgressLine, fill: twiceRows})...)

// buildSteps are the milestones of pkg/buildmirrors' numbered steps.
func buildSteps(names ...string) []milestone {
	var out []milestone
	for i, n := range names {
		line := fmt.Sprintf("Step %d of %d: %s", i+1, len(names), n)
		out = append(out, milestone{name: line, at: `\[INFO\]:-` + regexp.QuoteMeta(line) + `$`})
	}
	return out
}

// copyProgressLine is a progress line of pg_basebackup with what it has
// copied: the copy is under way.
const copyProgressLine = `^\S+ \(dbid \d+\): +\d+/\d+ kB`

// rebalanceMilestones are what gprecoverseg -r prints, in order: the
// switch, then the in-place recovery of the stopped primaries it runs.
var rebalanceMilestones = []milestone{
	{name: "Stopping unbalanced primary segments...", at: `\[INFO\]:-Stopping unbalanced primary segments\.\.\.$`},
	{name: "Triggering segment reconfiguration", at: `\[INFO\]:-Triggering segment reconfiguration$`},
	{name: "Starting segment synchronization", at: `\[INFO\]:-Starting segment synchronization$`},
	{name: "Ensuring 1 failed segment(s) are stopped", at: `\[INFO\]:-Ensuring 1 failed segment\(s\) are stopped$`},
	{name: "Updating configuration for mirrors", at: `\[INFO\]:-Updating configuration for mirrors$`},
	{name: "Initiating segment recovery", at: `\[INFO\]:-Initiating segment recovery\. `},
	{name: "Triggering FTS probe", at: `\[INFO\]:-Triggering FTS probe$`},
}

// faultMode is a way gprecoverseg is run: its arguments, and the scene
// it is run on, which returns the mirror dbid content 1 must end with.
type faultMode struct {
	name       string
	args       []string
	milestones []milestone
	prepare    func(t *testing.T, s *scene) (mirror int)
}

// failedOver: content 1 of a 2-host mirrored cluster failed over (kill -9
// of its primary, FTS promotes the mirror); the killed primary is to be
// recovered as content 1's mirror.
func failedOver(t *testing.T, s *scene) int {
	_, failed := s.b.failover(t, 1)
	return failed.DBID
}

// unbalanced: content 1 failed over and was recovered (gprecoverseg -a),
// so it runs in its non-preferred roles, in sync; -r switches it back and
// its preferred mirror is its mirror again.
func unbalanced(t *testing.T, s *scene) int {
	acting, failed := s.b.failover(t, 1)
	if code, out := s.b.tool(t, toolRun{}, "gprecoverseg", "-a"); code != 0 {
		t.Fatalf("gprecoverseg -a: exit %d\n%s", code, out)
	}
	s.b.waitInSync(t, 1, failed.DBID, "")
	return acting.DBID
}

// TestFaultRecoverseg kills gprecoverseg -9 at each of its milestones, in
// each mode: in-place incremental (-a), full (-a -F) and rebalance (-a
// -r). Each subtest has its own 2-host mirrored cluster whose content 1
// failed over (and, for -r, was recovered in its switched roles), with
// rows written on every content before the fault. After the kill the
// same command run again exits 0, content 1's pair is up and in sync with
// the mirror it should have, every row is on the acting primaries, the
// catalog is true to the disk and nothing of the runs is left.
func TestFaultRecoverseg(t *testing.T) {
	modes := []faultMode{
		{"incremental", []string{"-a"}, recoverMilestones, failedOver},
		{"full", []string{"-a", "-F"}, fullMilestones, failedOver},
		{"rebalance", []string{"-a", "-r"}, rebalanceMilestones, unbalanced},
	}
	for _, m := range modes {
		for _, ms := range m.milestones {
			t.Run(m.name+"/"+ms.name, func(t *testing.T) {
				t.Parallel()
				begin := time.Now()
				defer func() { t.Logf("wall time %.1f s", time.Since(begin).Seconds()) }()
				killAtMilestone(t, m, ms)
			})
		}
	}
}

// killAtMilestone is one row of TestFaultRecoverseg.
func killAtMilestone(t *testing.T, m faultMode, ms milestone) {
	s := newScene(newBed(t, 2))
	_, mirror0 := pair(t, s.b.catalog(t), 0)
	mirror := m.prepare(t, s)
	s.write(t, "before_fault", 1000)
	if ms.fill > 0 {
		s.fill(t, 1, "big", ms.fill)
	}
	logDir := t.TempDir()
	k := s.killAt(t, logDir, regexp.MustCompile(ms.at), m.args...)
	t.Logf("killed %.1f s after the start at %q", k.After.Seconds(), k.Last)
	after := s.b.afterFault(t)
	t.Logf("after the kill: %s", after)

	rerun := s.rerun(t, logDir, m.args...)
	p, mr := s.b.waitInSync(t, 1, mirror, s.lsn[1])
	if m.name == "rebalance" && (!p.IsBalanced() || !mr.IsBalanced()) {
		t.Errorf("content 1 after the rerun of -r: %s and %s, want both in their preferred roles", p, mr)
	}
	s.b.waitInSync(t, 0, mirror0.DBID, s.lsn[0])
	s.b.trueToDisk(t)
	var dirs []string
	for _, seg := range s.b.catalog(t) {
		dirs = append(dirs, seg.DataDir)
	}
	s.b.noLeftovers(t, dirs...)
	lost := s.lost(t)
	faulttest.Record(t, faulttest.Row{
		Fault:   "kill -9 of gprecoverseg at `" + ms.name + "`",
		Tool:    toolLine(m.args...),
		Printed: strings.TrimSpace(shorten(s.b, k.Last)),
		Exit:    "killed (137)",
		After:   after,
		Rerun:   rerun,
		Lost:    lost,
	})
}

//go:build integration && reliability

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// midCopy is gpaddmirrors -a -i FILE caught midway through content 1's
// copy on a mirrorless cluster: about 350 MB on content 1, and 1000 rows
// of before_fault on every content, written before it started.
type midCopy struct {
	d      mirrorless
	file   string
	target string         // content 1's mirror directory
	lsn    map[int]string // each primary's WAL position after the rows
	bg     *background    // the running gpaddmirrors
	args   []string       // its arguments
}

// startMidCopy makes the cluster, writes the rows, starts gpaddmirrors and
// returns once content 1's pg_basebackup has written killAfter bytes.
func startMidCopy(t *testing.T) *midCopy {
	t.Helper()
	m := &midCopy{d: newMirrorless(t)}
	m.d.fillContent(t, 1, killRows)
	m.lsn = m.d.writeRows(t, "before_fault")
	var targets map[int]string
	m.file, targets = m.d.spreadMirrorFile(t)
	m.target = targets[1]
	m.args = []string{"-a", "-i", m.file}
	copying := `^[^ ]*/pg_basebackup .*-D ` + regexp.QuoteMeta(m.target) + `( |$)`
	m.bg = startBackground(t, m.d.coord, m.d.hidden, "", "gpaddmirrors", m.args...)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if !m.bg.running() {
			t.Fatalf("gpaddmirrors exited before its copy was midway\n%s", m.bg.output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("content 1's copy never reached %d bytes within 60 s\n%s", killAfter, m.bg.output())
		}
		if len(pgrep(t, copying)) > 0 && dirSize(m.target) >= killAfter {
			return m
		}
	}
}

// tool is the command line of gpaddmirrors as the table shows it.
func (m *midCopy) tool() string { return "gpaddmirrors -a -i FILE" }

// written is the number of rows written before the fault.
func (m *midCopy) written() int { return 1000*len(m.d.hosts) + killRows }

// counted counts the rows of before_fault on every primary and of big on
// content 1's; what cannot be read counts 0, with the reason logged.
func (m *midCopy) counted(t *testing.T) int {
	t.Helper()
	total := 0
	add := func(c int, table string) {
		var n int
		if err := connect(t, m.d.hosts[c], m.d.primaryPort(c), true).QueryRow(t.Context(), "SELECT count(*) FROM public."+table).Scan(&n); err != nil {
			t.Logf("content %d: %s: %v", c, table, err)
		}
		total += n
	}
	for c := range m.d.hosts {
		add(c, "before_fault")
	}
	add(1, "big")
	return total
}

// state describes the cluster between a fault and the rerun: the mirror
// rows of the catalog, the instances running in the mirror directories
// and the tools' files left in the coordinator data directory.
func (m *midCopy) state(t *testing.T) string {
	t.Helper()
	var mirrors []string
	for _, s := range m.d.segments(t) {
		if s.IsSegment() && s.PreferredRole == cluster.RoleMirror {
			mirrors = append(mirrors, fmt.Sprintf("content %d %c%c%c", s.ContentID, s.Role, s.Status, s.Mode))
		}
	}
	runs := 0
	dirs, _ := filepath.Glob(filepath.Join(m.d.dir, "*", "mirror", "gpseg*"))
	for _, dir := range dirs {
		if running(cluster.Segment{DataDir: dir}) {
			runs++
		}
	}
	parts := []string{fmt.Sprintf("%d mirror rows [%s], %d of %d mirror directories running", len(mirrors), strings.Join(mirrors, ", "), runs, len(dirs))}
	if files := toolFiles(m.d.coord); len(files) > 0 {
		parts = append(parts, "left: "+strings.Join(files, ", "))
	}
	return strings.Join(parts, "; ")
}

// finish checks the end state after the reruns: both mirrors streaming
// past the rows written before, the catalog true to disk, no lock,
// journal or pid file left; it returns the rows lost.
func (m *midCopy) finish(t *testing.T) int {
	t.Helper()
	m.d.checkMirrored(t, m.lsn)
	m.d.checkTrueToDisk(t)
	if files := toolFiles(m.d.coord); len(files) > 0 {
		t.Errorf("left in %s: %v", m.d.coord, files)
	}
	if pids, _ := filepath.Glob(filepath.Join(m.d.dir, "*", "mirror", ".*.pid")); len(pids) > 0 {
		t.Errorf("pid files left: %v", pids)
	}
	lost := m.written() - m.counted(t)
	if lost != 0 {
		t.Errorf("%d rows lost", lost)
	}
	return lost
}

// timedRerun runs f and describes its outcome as the table's rerun column.
func timedRerun(f func() (int, string)) (int, string, string) {
	start := time.Now()
	code, out := f()
	return code, out, fmt.Sprintf("exit %d in %.1f s: %s", code, time.Since(start).Seconds(), faulttest.Said(out))
}

// TestFaultTwoTools: a second changing tool started while gpaddmirrors
// copies, per the lock matrix of docs/locks.md. Another gpaddmirrors and
// a gprecoverseg are refused (exit 2, Greenplum's two lock lines naming
// gpaddmirrors.lock) and change nothing: the first finishes, and the
// refused command run again then finishes (gprecoverseg: nothing to
// recover, exit 0; gpaddmirrors: the cluster is mirrored by the first,
// refused by Greenplum's rule, exit 2). gpstop warns and goes on: the
// first gpaddmirrors fails, and gpstart then the same gpaddmirrors run
// again finish the job. Every time: both mirrors streaming, the catalog
// true to disk, nothing left, no row lost.
func TestFaultTwoTools(t *testing.T) {
	for _, tt := range []struct {
		second []string
		refuse bool
	}{
		{[]string{"gpaddmirrors", "-a", "-i", "FILE"}, true},
		{[]string{"gprecoverseg", "-a"}, true},
		{[]string{"gpstop", "-a", "-M", "fast"}, false},
	} {
		t.Run(tt.second[0], func(t *testing.T) {
			t.Parallel()
			m := startMidCopy(t)
			args := replaceArg(tt.second[1:], "FILE", m.file)
			code, out := m.d.tool(t, "", tt.second[0], args...)
			printed := problemsOrSaid(out)
			t.Logf("%s while gpaddmirrors copies: exit %d\n%s", tt.second[0], code, out)
			held := regexp.MustCompile(`\[ERROR\]:-Lockfile \S+/gpaddmirrors\.lock indicates that an instance of gpaddmirrors is already running with PID \d+`)
			switch {
			case tt.refuse && (code != 2 || !held.MatchString(out)):
				t.Errorf("%s while gpaddmirrors copies: exit %d, want 2 and the lock lines naming gpaddmirrors.lock", tt.second[0], code)
			case !tt.refuse && (code != 0 || !strings.Contains(out, "A gpaddmirrors (PID ")):
				t.Errorf("%s while gpaddmirrors copies: exit %d, want 0 and the warning naming gpaddmirrors", tt.second[0], code)
			}
			firstCode, firstOut := m.bg.wait(t)
			t.Logf("the first gpaddmirrors: exit %d; %s", firstCode, problemsOrSaid(firstOut))
			after := fmt.Sprintf("first gpaddmirrors: exit %d (%s)", firstCode, problemsOrSaid(firstOut))
			var rerun string
			if tt.refuse {
				after += "; " + m.state(t)
				if firstCode != 0 {
					t.Errorf("the first gpaddmirrors: exit %d, want 0\n%s", firstCode, firstOut)
				}
				var rcode int
				var rout string
				rcode, rout, rerun = timedRerun(func() (int, string) { return m.d.tool(t, "", tt.second[0], args...) })
				switch done := "The cluster is already configured with Mirrors."; {
				case tt.second[0] == "gpaddmirrors":
					// The mirrors it asks for are the first run's: refused
					// by Greenplum's rule for a mirrored cluster.
					if rcode != 2 || !strings.Contains(rout, done) {
						t.Errorf("the rerun of gpaddmirrors after the first added the mirrors: exit %d, want 2 and %q\n%s", rcode, done, rout)
					}
				case rcode != 0:
					t.Errorf("the rerun of %s: exit %d\n%s", tt.second[0], rcode, rout)
				}
			} else {
				if code, out := m.d.tool(t, "", "gpstart", "-a"); code != 0 {
					t.Fatalf("gpstart -a: exit %d\n%s", code, out)
				}
				after += "; after gpstart -a: " + m.state(t)
				var rcode int
				var rout string
				rcode, rout, rerun = timedRerun(func() (int, string) { return m.d.tool(t, "", "gpaddmirrors", m.args...) })
				rerun = "gpstart -a, then gpaddmirrors -a -i FILE: " + rerun
				if rcode != 0 {
					t.Errorf("the rerun of gpaddmirrors: exit %d\n%s", rcode, rout)
				}
			}
			lost := m.finish(t)
			faulttest.Record(t, faulttest.Row{
				Fault:   "`" + strings.Join(tt.second, " ") + "` while gpaddmirrors copies content 1",
				Tool:    m.tool() + " + " + strings.Join(tt.second, " "),
				Printed: rowText(printed, m.d.dir),
				Exit:    fmt.Sprintf("exit %d", code),
				After:   rowText(after, m.d.dir),
				Rerun:   rowText(rerun, m.d.dir),
				Lost:    lost,
			})
		})
	}
}

// TestFaultCoordinatorRestarted: the coordinator restarted (pg_ctl restart
// -m fast, as a DBA or a crash would) while gpaddmirrors copies; what the
// tool prints and exits with is recorded, and the same command run again
// finishes (refused as the cluster is mirrored when the first run added
// the mirrors): both mirrors streaming and marked up and in sync, the
// catalog true to disk, no row lost.
func TestFaultCoordinatorRestarted(t *testing.T) {
	t.Run("gpaddmirrors", func(t *testing.T) {
		m := startMidCopy(t)
		// -l: the new postmaster's output goes to a file, not to the
		// pipe CombinedOutput would wait on for ever.
		restart := exec.Command(filepath.Join(gphome, "bin", "pg_ctl"), "restart", "-m", "fast", "-w", "-t", "120", "-D", m.d.coord,
			"-l", filepath.Join(m.d.coord, "log", "restart.log"))
		restart.Env = append(os.Environ(), "GPHOME="+gphome)
		if out, err := restart.CombinedOutput(); err != nil {
			t.Fatalf("pg_ctl restart of the coordinator: %v\n%s", err, out)
		}
		code, out := m.bg.wait(t)
		t.Logf("gpaddmirrors with the coordinator restarted during its copy: exit %d\n%s", code, out)
		after := m.state(t)
		rcode, rout, rerun := timedRerun(func() (int, string) { return m.d.tool(t, "", "gpaddmirrors", m.args...) })
		switch done := "The cluster is already configured with Mirrors."; {
		case code == 0 && (rcode != 2 || !strings.Contains(rout, done)):
			// It added the mirrors: the same command is refused by
			// Greenplum's rule for a mirrored cluster.
			t.Errorf("the rerun of gpaddmirrors after it added the mirrors: exit %d, want 2 and %q\n%s", rcode, done, rout)
		case code != 0 && rcode != 0:
			t.Errorf("the rerun of gpaddmirrors: exit %d\n%s", rcode, rout)
		}
		lost := m.finish(t)
		faulttest.Record(t, faulttest.Row{
			Fault:   "coordinator restarted (`pg_ctl restart -m fast`) while gpaddmirrors copies content 1",
			Tool:    m.tool(),
			Printed: rowText(problemsOrSaid(out), m.d.dir),
			Exit:    fmt.Sprintf("exit %d", code),
			After:   rowText(after, m.d.dir),
			Rerun:   rowText(rerun, m.d.dir),
			Lost:    lost,
		})
	})
}

// replaceArg returns s with every old replaced by new.
func replaceArg(s []string, old, new string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		if v == old {
			v = new
		}
		out[i] = v
	}
	return out
}

// problemsOrSaid is what a tool said about a fault: its ERROR and WARNING
// messages, or its last message when it has none.
func problemsOrSaid(out string) string {
	if p := faulttest.Problems(out); p != "" {
		return p
	}
	return faulttest.Said(out)
}

//go:build integration && reliability

package recoverseg_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/faulttest"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestFaultRecoversegChildKilled: kill -9, on its host, of each remote
// child gprecoverseg runs, one subtest (one row of the fault table) each,
// on a 2-host mirrored cluster of its own with rows written on every
// content first:
//
//   - pg_basebackup of gprecoverseg -F, a quarter of the copy on disk;
//   - pg_rewind of gprecoverseg -a (incremental), once it has started;
//   - rsync of gprecoverseg -a --differential;
//   - pg_ctl of gprecoverseg -a starting the rewound segment.
//
// The tool reports the failure naming the instance and exits 1 (spec
// §6: "gprecoverseg failed"); the catalog still calls the instance down;
// the same command run again recovers it (exit 0), the catalog is true to
// disk and no row is lost.
func TestFaultRecoversegChildKilled(t *testing.T) {
	for _, c := range []struct {
		name  string
		child string   // what is killed, for the row
		args  []string // gprecoverseg's
		// fault makes the instance to recover, after the rows are
		// written; it returns it.
		fault func(t *testing.T, b *bed, w *written) cluster.Segment
		// pattern matches the child's command line; ready says when
		// to kill it.
		pattern func(target cluster.Segment) string
		ready   func(t *testing.T, target cluster.Segment, logDir string) bool
		// advised, when set, is the command the tool tells the DBA to
		// run instead of the same one, and the line that says so
		// (spec §4.10: an incremental failure needs -F).
		advised []string
		advice  string
	}{
		{"pg_basebackup", "pg_basebackup", []string{"-F", "-a"},
			func(t *testing.T, b *bed, w *written) cluster.Segment {
				p, f := b.failover(t, 0)
				w.fill(t, p, "big", childCopyRows)
				return f
			},
			// The real pg_basebackup under the compat shim, and the WAL
			// streaming child it forks, which shares its command line.
			func(s cluster.Segment) string {
				return `^\S*/pg_basebackup .*-D ` + regexp.QuoteMeta(s.DataDir) + `( |$)`
			},
			func(t *testing.T, s cluster.Segment, _ string) bool {
				return dirSizeAtLeast(s.DataDir, childCopyKill)
			}, nil, ""},
		{"pg_rewind", "pg_rewind", []string{"-a"},
			func(t *testing.T, b *bed, w *written) cluster.Segment {
				p, f := b.failover(t, 0)
				w.fill(t, p, "diverged", rewindRows)
				return f
			},
			func(s cluster.Segment) string {
				return `^\S*/pg_rewind --write-recovery-conf .*--target-pgdata=` + regexp.QuoteMeta(s.DataDir) + `( |$)`
			},
			func(t *testing.T, s cluster.Segment, logDir string) bool {
				return strings.Contains(progressText(t, logDir, s.DBID), "reading source file list")
			},
			// pg_rewind stopped midway may leave the target unusable
			// (PostgreSQL's documentation): Greenplum's rule.
			[]string{"-F", "-a"}, `You must run gprecoverseg -F for all incremental failures`},
		{"rsync", "rsync", []string{"-a", "--differential"},
			func(t *testing.T, b *bed, w *written) cluster.Segment {
				p, m := pair(t, b.catalog(t), 1)
				b.mirrorDown(t, p, m)
				w.fill(t, p, "big", diffKillRows)
				return m
			},
			func(s cluster.Segment) string { return `^rsync .*--delete .*` + regexp.QuoteMeta(s.DataDir) + `$` },
			func(*testing.T, cluster.Segment, string) bool { return true }, nil, ""},
		{"pg_ctl", "pg_ctl start", []string{"-a"},
			func(t *testing.T, b *bed, w *written) cluster.Segment {
				_, f := b.failover(t, 0)
				return f
			},
			func(s cluster.Segment) string {
				return `^\S*/pg_ctl .*-D ` + regexp.QuoteMeta(s.DataDir) + ` .*start$`
			},
			func(*testing.T, cluster.Segment, string) bool { return true }, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			begin := time.Now()
			defer func() { t.Logf("wall time %.1f s", time.Since(begin).Seconds()) }()
			b := newBed(t, 2)
			w := &written{}
			for content := range b.hosts {
				w.write(t, b.primary(t, content), "before_fault", 1000)
			}
			target := c.fault(t, b, w)
			content := target.ContentID
			logDir := t.TempDir()
			pattern := c.pattern(target)

			bg := b.start(t, toolRun{logDir: logDir}, "gprecoverseg", c.args...)
			started := time.Now()
			bg.waitFor(t, c.child+" for dbid "+strconv.Itoa(target.DBID), func() bool {
				return len(pgrep(t, pattern)) > 0 && c.ready(t, target, logDir)
			})
			pids := faulttest.KillChildren(t, pattern)
			t.Logf("killed %s (pids %v) %.1f s after gprecoverseg started, %d MB in %s", c.child, pids,
				time.Since(started).Seconds(), tooltest.DirSize(target.DataDir)>>20, target.DataDir)
			code := bg.wait(t, 2*time.Minute)
			out := bg.out.String()
			if code != 1 {
				t.Errorf("gprecoverseg %s with its %s killed: exit %d, want 1\n%s", strings.Join(c.args, " "), c.child, code, out)
			}
			if !strings.Contains(out, "dbid "+strconv.Itoa(target.DBID)) && !strings.Contains(out, target.DataDir) {
				t.Errorf("the failure does not name dbid %d or %s:\n%s", target.DBID, target.DataDir, out)
			}
			if s := byDBID(t, b.catalog(t), target.DBID); s.IsUp() || s.IsPrimary() {
				t.Errorf("the catalog after the fault: %s, want the instance still a down mirror", s)
			}
			after := b.describe(t, target.DataDir)

			rerun := time.Now()
			rcode, rout := b.tool(t, toolRun{logDir: logDir}, "gprecoverseg", c.args...)
			took := time.Since(rerun)
			said := ""
			if c.advised != nil {
				// The same command refuses, naming the one to run.
				if rcode != 1 || !regexp.MustCompile(c.advice).MatchString(rout) {
					t.Fatalf("the rerun of gprecoverseg %s: exit %d, want 1 and %q\n%s", strings.Join(c.args, " "), rcode, c.advice, rout)
				}
				said = fmt.Sprintf("gprecoverseg %s again: exit %d in %.1f s, %q; then gprecoverseg %s: ",
					strings.Join(c.args, " "), rcode, took.Seconds(), c.advice, strings.Join(c.advised, " "))
				rerun = time.Now()
				rcode, rout = b.tool(t, toolRun{logDir: logDir}, "gprecoverseg", c.advised...)
				took = time.Since(rerun)
			}
			if rcode != 0 {
				t.Fatalf("the rerun: exit %d\n%s", rcode, rout)
			}
			b.waitInSync(t, content, target.DBID, "")
			b.noLeftovers(t, target.DataDir)
			b.trueToDisk(t)
			lost := w.lost(t, b)
			if lost != 0 {
				t.Errorf("%d rows lost", lost)
			}
			faulttest.Record(t, faulttest.Row{
				Fault:   fmt.Sprintf("kill -9 of the remote %s (%d processes) of dbid %d", c.child, len(pids), target.DBID),
				Tool:    "gprecoverseg " + strings.Join(c.args, " "),
				Printed: faulttest.Short(faulttest.Problems(out), b.dir, logDir),
				Exit:    "exit " + strconv.Itoa(code),
				After:   faulttest.Short(after, b.dir),
				Rerun:   said + fmt.Sprintf("exit %d in %.1f s: %s", rcode, took.Seconds(), faulttest.Said(rout)),
				Lost:    lost,
			})
		})
	}
}

// Sizes of the copies killed midway: rows of about 1 kB.
const (
	childCopyRows = 150_000  // about 170 MB: the -F copy lasts a few seconds
	childCopyKill = 32 << 20 // copied before the copy is killed
)

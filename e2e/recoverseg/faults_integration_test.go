//go:build integration

package recoverseg_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestRecoversegFaults runs gprecoverseg on a 3-host mirrored cluster
// (content c's primary on host c+1, its mirror on the next host) whose
// contents 0 and 2 have failed over, through these cases in turn:
//
//   - a double fault: content 0's acting primary is killed too. The run
//     is refused naming both instances, exit 2, and nothing changes: the
//     catalog, the history, both of content 0's directories, content 2's
//     failed directory and its source's pg_hba.conf;
//   - --dry-run and -F --dry-run, once content 0's primary is back: exit
//     0, every step shown, nothing changed (the same, and the sources'
//     replication slots);
//   - -F over content 0's failed directory, a former primary on the old
//     timeline, with a sentinel file placed in it, while content 2's
//     failed instance is on a host the tool cannot reach (its ssh_config
//     sends it to a closed port): that host is named with the SSH reason
//     and content 2 is skipped, left as it was; content 0's directory is
//     overwritten (the sentinel is gone) and its mirror comes back up and
//     in sync with the rows written after the failover.
func TestRecoversegFaults(t *testing.T) {
	b := newBed(t, 3)
	p0, f0 := b.failover(t, 0)
	p2, f2 := b.failover(t, 2)
	unreachable := f2.Hostname
	if f0.Hostname == unreachable || p0.Hostname == unreachable || p2.Hostname == unreachable {
		t.Fatalf("gpdemo's group layout changed: content 0 on %s and %s, content 2's source on %s, and %s to be unreachable",
			f0.Hostname, p0.Hostname, p2.Hostname, unreachable)
	}
	lsn := write(t, p0, "after_failover", 3000)

	// state is what must not change when a run changes nothing.
	type state struct {
		catalog, history, hba []string
		dirs                  map[string]map[string]string
	}
	snapshot := func(t *testing.T, dirs ...string) state {
		t.Helper()
		s := state{catalog: rows(b.catalog(t)), history: b.history(t), dirs: map[string]map[string]string{}}
		for _, d := range dirs {
			s.dirs[d] = fingerprint(t, d)
		}
		for _, src := range []cluster.Segment{p0, p2} {
			hba, err := os.ReadFile(filepath.Join(src.DataDir, "pg_hba.conf"))
			if err != nil {
				t.Fatal(err)
			}
			s.hba = append(s.hba, string(hba))
		}
		return s
	}
	unchanged := func(t *testing.T, before state) {
		t.Helper()
		after := snapshot(t)
		if !slices.Equal(after.catalog, before.catalog) {
			t.Errorf("the catalog changed:\n%s\nwas\n%s", strings.Join(after.catalog, "\n"), strings.Join(before.catalog, "\n"))
		}
		if !slices.Equal(after.history, before.history) {
			t.Errorf("gp_configuration_history changed: %q, was %q", after.history, before.history)
		}
		if !slices.Equal(after.hba, before.hba) {
			t.Error("a source's pg_hba.conf changed")
		}
		for d, fp := range before.dirs {
			sameFingerprint(t, "a data directory", d, fp)
		}
		b.noLeftovers(t, f0.DataDir, f2.DataDir)
	}

	t.Run("double fault", func(t *testing.T) {
		killPostmaster(t, p0.DataDir)
		// Started again whatever happens here: the cases below need it.
		defer func() {
			startSegment(t, p0)
			b.waitCatalog(t, "content 0's primary up again", func(segs []cluster.Segment) bool {
				p, _ := pair(t, segs, 0)
				return p.DBID == p0.DBID && p.IsUp()
			})
		}()
		b.probe(t) // FTS sees both down and promotes nothing
		before := snapshot(t, f0.DataDir, p0.DataDir, f2.DataDir)
		code, out := b.tool(t, toolRun{}, "gprecoverseg", "-a")
		if code != 2 {
			t.Errorf("gprecoverseg -a on a double fault: exit %d, want 2\n%s", code, out)
		}
		// The connection error is pgx's, over several lines.
		tooltest.WantInOrder(t, out,
			`^\[ERROR\]:-both instances of content 0 are unavailable: dbid `+strconv.Itoa(f0.DBID)+` is down, and its peer dbid `+strconv.Itoa(p0.DBID)+
				` \(`+p0.Hostname+`:`+strconv.Itoa(p0.Port)+`, the acting primary in the catalog\) does not answer: `,
			`connection refused; no copy is possible and nothing was changed$`,
			`^\[ERROR\]:-Hint: start the peer instance`)
		if strings.Contains(out, "Continue with segment recovery procedure") || strings.Contains(out, "Recovery 1 of") {
			t.Errorf("the refused run went on to the plan:\n%s", out)
		}
		unchanged(t, before)
	})

	t.Run("dry run", func(t *testing.T) {
		before := snapshot(t, f0.DataDir, f2.DataDir)
		slots := func() []string {
			var out []string
			for _, src := range []cluster.Segment{p0, p2} {
				r, err := on(t, src).Query(t.Context(), "SELECT $1::text || ': ' || slot_name || ' ' || active || ' ' || coalesce(restart_lsn::text, '-') FROM pg_replication_slots ORDER BY 1", src.Label())
				if err != nil {
					t.Fatal(err)
				}
				slots, err := pgx.CollectRows(r, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, slots...)
			}
			return out
		}
		slotsBefore := slots()
		logDir := t.TempDir()
		code, out := b.tool(t, toolRun{logDir: logDir}, "gprecoverseg", "--dry-run")
		if code != 0 {
			t.Fatalf("gprecoverseg --dry-run: exit %d\n%s", code, out)
		}
		tooltest.WantInOrder(t, out,
			`^\[INFO\]:-Recovery plan:$`,
			`^\[INFO\]:-Recovery 2 of 2$`,
			`^\[INFO\]:-Dry run: the steps below would run; only the read-only checks ran$`,
			`^\[INFO\]:-Step: update pg_hba.conf on the sources$`,
			`^\[INFO\]:-Step: rewind \(detached\), set the port and start each failed segment$`,
			`^\[INFO\]:-  `+f0.Hostname+`: .*pg_rewind`,
			`^\[INFO\]:-Step: trigger FTS probe$`,
			`^\[INFO\]:-Dry run: 2 segment\(s\) planned; nothing was changed$`)
		code, out = b.tool(t, toolRun{logDir: logDir}, "gprecoverseg", "-F", "--dry-run")
		if code != 0 {
			t.Fatalf("gprecoverseg -F --dry-run: exit %d\n%s", code, out)
		}
		tooltest.WantInOrder(t, out,
			`^\[INFO\]:-   Synchronization mode +?= Full$`,
			`^\[INFO\]:-Dry run: the steps below would run; only the read-only checks ran$`,
			`^\[INFO\]:-Step 5 of \d+: copy primaries with pg_basebackup$`,
			`^\[INFO\]:-  `+f0.Hostname+`: .*pg_basebackup -c fast -D `+regexp.QuoteMeta(f0.DataDir)+` .*--force-overwrite`,
			`^\[INFO\]:-Dry run: 2 segment\(s\) planned; nothing was changed$`)
		unchanged(t, before)
		if after := slots(); !slices.Equal(after, slotsBefore) {
			t.Errorf("replication slots changed: %q, were %q", after, slotsBefore)
		}
		for _, pattern := range []string{"pg_rewind.*", "pg_basebackup.*", "recovery_progress.file"} {
			if left, _ := filepath.Glob(filepath.Join(logDir, pattern)); len(left) != 0 {
				t.Errorf("the dry runs left %v", left)
			}
		}
	})

	t.Run("full over a diverged directory, a host unreachable", func(t *testing.T) {
		sentinel := filepath.Join(f0.DataDir, "gprecoverseg-sentinel")
		if err := os.WriteFile(sentinel, []byte("must be gone after -F\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		untouched := fingerprint(t, f2.DataDir)
		code, out := b.tool(t, toolRun{env: []string{"HOME=" + tooltest.UnreachableHome(t, unreachable)}}, "gprecoverseg", "-F", "-a")
		if code != 0 {
			t.Fatalf("gprecoverseg -F -a with %s unreachable: exit %d\n%s", unreachable, code, out)
		}
		tooltest.WantInOrder(t, out,
			`^\[WARNING\]:-Host `+unreachable+` is unreachable: .*connection refused`,
			`^\[WARNING\]:-Not recovering segment `+strconv.Itoa(f2.DBID)+` because `+unreachable+` is unreachable$`,
			`^\[INFO\]:-Recovery 1 of 1$`,
			`^\[INFO\]:-   Synchronization mode +?= Full$`,
			`^\[INFO\]:-   Failed instance directory +?= `+regexp.QuoteMeta(f0.DataDir)+`$`,
			`^\[INFO\]:-Successfully ran pg_basebackup for dbid: `+strconv.Itoa(f0.DBID)+`$`,
			`^\[INFO\]:-Segments successfully recovered\.$`)
		if _, err := os.Stat(sentinel); !os.IsNotExist(err) {
			t.Errorf("the sentinel in content 0's failed directory survived -F: %v", err)
		}
		b.waitInSync(t, 0, f0.DBID, lsn)
		b.noLeftovers(t, f0.DataDir)
		sameFingerprint(t, "content 2's failed directory, on the unreachable host", f2.DataDir, untouched)
		if s := byDBID(t, b.catalog(t), f2.DBID); s.IsUp() {
			t.Errorf("content 2's failed instance, on the unreachable host: %s, want it still down", s)
		}
	})
}

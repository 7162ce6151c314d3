//go:build integration

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// rebalanceDemo is the cluster of TestRebalance and BenchmarkRebalance: 4
// contents on 2 segment hosts, 2 primaries each, group mirrors (each
// host's primaries are mirrored on the other host), and a standby.
type rebalanceDemo struct {
	stopDemo
	coordPort int
}

func newRebalanceDemo(t testing.TB) rebalanceDemo {
	t.Helper()
	d := rebalanceDemo{stopDemo: newMirroredDemo(t, 2, 2)}
	d.coordPort = d.port(t)
	return d
}

// tool runs a built tool blind, with the cluster's environment, and
// returns its exit code and output.
func (d rebalanceDemo) tool(t testing.TB, name string, args ...string) (int, string) {
	t.Helper()
	return d.toolInput(t, "", name, args...)
}

// toolInput is tool with stdin.
func (d rebalanceDemo) toolInput(t testing.TB, stdin, name string, args ...string) (int, string) {
	t.Helper()
	return mirrorless{coord: d.coord, hidden: d.hidden}.tool(t, stdin, name, args...)
}

// contentRows are content c's rows in segs: the acting primary and the
// acting mirror.
func contentRows(t testing.TB, segs []cluster.Segment, c int) (primary, mirror cluster.Segment) {
	t.Helper()
	var p, m *cluster.Segment
	for i, s := range segs {
		switch {
		case s.ContentID != c:
		case s.IsPrimary():
			p = &segs[i]
		default:
			m = &segs[i]
		}
	}
	if p == nil || m == nil {
		t.Fatalf("content %d has no primary and mirror rows in\n%s", c, dump(segs))
	}
	return *p, *m
}

// unbalancedContents are the contents whose acting primary is their
// preferred mirror, in order.
func unbalancedContents(segs []cluster.Segment) []int {
	var out []int
	for _, s := range segs {
		if s.IsSegment() && s.IsPrimary() && !s.IsBalanced() {
			out = append(out, s.ContentID)
		}
	}
	slices.Sort(out)
	return out
}

// postmasterPID is the pid in dir's postmaster.pid.
func postmasterPID(t testing.TB, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		t.Fatalf("%s/postmaster.pid: bad pid in %q", dir, b)
	}
	return pid
}

// unbalance makes contents run on their preferred mirrors, as a failover
// leaves them: the postmaster of each content's primary is killed -9, FTS
// probes are requested until every mirror is promoted, gprecoverseg -a
// recovers the killed primaries as mirrors, and FTS probes are requested
// until every pair is in sync. The contents must be balanced.
func (d rebalanceDemo) unbalance(t testing.TB, contents ...int) {
	t.Helper()
	segs := d.catalog(t)
	var ids []string
	for _, c := range contents {
		p, _ := contentRows(t, segs, c)
		if !p.IsBalanced() {
			t.Fatalf("content %d already runs on its preferred mirror:\n%s", c, dump(segs))
		}
		if err := syscall.Kill(postmasterPID(t, p.DataDir), syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 the postmaster of dbid %d: %v", p.DBID, err)
		}
		ids = append(ids, strconv.Itoa(c))
	}
	probeUntil(t, d.coordPort, fmt.Sprintf("the mirrors of contents %v promoted", contents),
		fmt.Sprintf("SELECT count(*) = %d FROM gp_segment_configuration WHERE content IN (%s) AND role = 'p' AND preferred_role = 'm'",
			len(contents), strings.Join(ids, ",")))
	if code, out := d.tool(t, "gprecoverseg", "-a"); code != 0 {
		t.Fatalf("gprecoverseg -a after killing the primaries of contents %v: exit %d\n%s", contents, code, out)
	}
	waitSynced(t, d.coordPort)
	if got := unbalancedContents(d.catalog(t)); !slices.Equal(got, contents) {
		t.Fatalf("unbalanced contents %v, want %v", got, contents)
	}
}

// prepare brings the cluster to where a rebalance test starts: every
// segment up and in sync, and exactly contents running on their preferred
// mirrors. A state left by an earlier test is kept when it is that one;
// otherwise down segments are recovered, the cluster is rebalanced, and
// contents are unbalanced afresh.
func (d rebalanceDemo) prepare(t testing.TB, contents ...int) {
	t.Helper()
	segs := d.catalog(t)
	if slices.ContainsFunc(segs, func(s cluster.Segment) bool { return s.IsSegment() && !s.IsUp() }) {
		if code, out := d.tool(t, "gprecoverseg", "-a"); code != 0 {
			t.Fatalf("gprecoverseg -a to restore the cluster: exit %d\n%s", code, out)
		}
	}
	waitSynced(t, d.coordPort)
	now := unbalancedContents(d.catalog(t))
	if slices.Equal(now, contents) {
		return
	}
	if len(now) > 0 {
		if code, out := d.tool(t, "gprecoverseg", "-r", "-a"); code != 0 {
			t.Fatalf("gprecoverseg -r -a to restore the cluster: exit %d\n%s", code, out)
		}
		waitSynced(t, d.coordPort)
	}
	d.unbalance(t, contents...)
}

// wantBalancedInSync fails t unless every segment is up and in sync (FTS
// probes are requested until it is, 60 s at most), every content runs on
// its preferred primary, and every instance's postmaster runs.
func (d rebalanceDemo) wantBalancedInSync(t testing.TB) {
	t.Helper()
	waitSynced(t, d.coordPort)
	segs := d.catalog(t)
	for _, s := range segs {
		if !s.IsBalanced() {
			t.Errorf("dbid %d (content %d) has role %s, preferred %s", s.DBID, s.ContentID, s.Role, s.PreferredRole)
		}
		if !running(s) {
			t.Errorf("dbid %d (%s) does not run", s.DBID, s.DataDir)
		}
	}
	if t.Failed() {
		t.Fatalf("the catalog:\n%s", dump(segs))
	}
}

// wantServed checks that every content is served: an insert on each
// content's catalog primary (utility mode) succeeds, and so does
// Greenplum's proof of a serving primary for every content, a CREATE TEMP
// TABLE in a dispatch session on the coordinator.
func (d rebalanceDemo) wantServed(t testing.TB, run string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, s := range d.catalog(t) {
		if !s.IsSegment() || !s.IsPrimary() {
			continue
		}
		conn := connect(t, s.Hostname, s.Port, true)
		if _, err := conn.Exec(ctx, "INSERT INTO public.rebalance_writes (run, seq) VALUES ($1, 0)", run); err != nil {
			t.Errorf("content %d: insert on its catalog primary dbid %d: %v", s.ContentID, s.DBID, err)
		}
		if err := conn.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	conn := connect(t, "", d.coordPort, false)
	if _, err := conn.Exec(ctx, "CREATE TEMP TABLE served(a int)"); err != nil {
		t.Errorf("CREATE TEMP TABLE on the coordinator: %v", err)
	}
	if err := conn.Close(ctx); err != nil {
		t.Error(err)
	}
}

// createWriteTable creates the table the writers fill, on every primary
// (segments are separate databases: nothing is dispatched).
func (d rebalanceDemo) createWriteTable(t testing.TB) {
	t.Helper()
	for _, s := range d.catalog(t) {
		if s.IsSegment() && s.IsPrimary() {
			conn := connect(t, s.Hostname, s.Port, true)
			if _, err := conn.Exec(t.Context(), "CREATE TABLE public.rebalance_writes (run text, seq int, PRIMARY KEY (run, seq))"); err != nil {
				t.Fatalf("content %d: %v", s.ContentID, err)
			}
			if err := conn.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// planEstimates reads the "unavailable (estimate)" column of the tool's
// Rebalance plan table (INFO beside the prompt, DEBUG with -a -v), by
// content; rows whose estimate has no figure ("unknown", "not switched")
// are left out.
func planEstimates(t testing.TB, out string) map[int]time.Duration {
	t.Helper()
	secs := regexp.MustCompile(`^~(\d+)s\b`)
	rowPrefix := regexp.MustCompile(`^\[(INFO|DEBUG)\]:-\|`)
	est := map[int]time.Duration{}
	for _, m := range messages(out) {
		loc := rowPrefix.FindStringIndex(m)
		if loc == nil {
			continue
		}
		row := m[loc[1]:]
		f := strings.Split(row, "|")
		if len(f) < 5 {
			continue
		}
		c, err := strconv.Atoi(strings.TrimSpace(f[0]))
		if err != nil {
			continue // the header
		}
		if s := secs.FindStringSubmatch(strings.TrimSpace(f[4])); s != nil {
			n, _ := strconv.Atoi(s[1])
			est[c] = time.Duration(n) * time.Second
		}
	}
	return est
}

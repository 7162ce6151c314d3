//go:build integration

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// TestRebalance proves gprecoverseg -r (issue 15) on one mirrored cluster
// of 4 contents on 2 hosts, run blind over real SSH; each subtest starts
// from contents unbalanced by a real failover (kill -9, FTS promotion,
// gprecoverseg -a) and leaves the cluster for the next.
func TestRebalance(t *testing.T) {
	begin := time.Now()
	d := newRebalanceDemo(t)
	d.createWriteTable(t)
	t.Logf("cluster made in %.1f s", time.Since(begin).Seconds())
	t.Run("UnderWrites", d.testUnderWrites)
	t.Run("MirrorNotInSync", d.testMirrorNotInSync)
	t.Run("ReplayLagOverLimit", d.testReplayLagOverLimit)
	t.Run("DryRun", d.testDryRun)
	t.Run("KilledBeforePromotion", d.testKilledBeforePromotion)
	t.Run("KilledAfterStop", d.testKilledAfterStop)
	t.Run("KilledDuringRecovery", d.testKilledDuringRecovery)
}

// rebalanced is the tail of a successful rebalance's output.
var rebalanced = []string{
	`^\[INFO\]:-Determining primary and mirror segment pairs to rebalance$`,
	`^\[INFO\]:-Stopping unbalanced primary segments\.\.\.$`,
	`^\[INFO\]:-Triggering segment reconfiguration$`,
	`^\[INFO\]:-Starting segment synchronization$`,
	`^\[INFO\]:-=+START ANOTHER RECOVER=+$`,
	`^\[INFO\]:-=+END ANOTHER RECOVER=+$`,
	`^\[INFO\]:-The rebalance operation has completed successfully\.$`,
}

// testUnderWrites: while a client writes to each content's acting
// primary, both primaries of one host are killed -9 and failed over by
// FTS, recovered by gprecoverseg -a, then switched back by gprecoverseg
// -r, answered y at its prompt as a DBA would (the plan with its
// estimates is shown beside the prompt only): it exits 0 with every
// content on its preferred primary, in sync, every row acknowledged since
// before the kill there, and every content accepting a write when the
// tool exits.
func (d rebalanceDemo) testUnderWrites(t *testing.T) {
	d.prepare(t)
	load := d.startWriters(t, "under-writes", 0, 1, 2, 3)
	loaded := time.Now()
	d.unbalance(t, 0, 1)
	t.Logf("failover and gprecoverseg -a under writes took %.2f s", time.Since(loaded).Seconds())
	began := time.Now()
	code, out := d.toolInput(t, "y\n", "gprecoverseg", "-r")
	exited := time.Now()
	d.wantServed(t, "under-writes-at-exit")
	if code != 0 {
		t.Fatalf("gprecoverseg -r: exit %d\n%s", code, out)
	}
	wantInOrder(t, out, append([]string{
		`^\[INFO\]:-Rebalance plan \(unavailability is an estimate`,
		`^\[INFO\]:-Recovery type += Rebalance$`,
		`^\[INFO\]:-Unbalanced segment 1 of 4$`,
		`^\[INFO\]:-Unbalanced segment 4 of 4$`,
		`^\[WARNING\]:-This operation will cancel queries that are currently executing\.$`,
		`Continue with segment rebalance procedure Yy\|Nn \(default=N\):`,
		`\[INFO\]:-Determining primary and mirror segment pairs to rebalance$`, // after the prompt, on its line
	}, rebalanced[1:]...)...)
	d.wantBalancedInSync(t)
	load.wantAcknowledgedPresent(t, d)
	t.Logf("gprecoverseg -r took %.2f s", exited.Sub(began).Seconds())
	load.report(t, loaded)
	// Where each content's writes went: the switched contents move from
	// the preferred mirror to the preferred primary.
	segs := d.catalog(t)
	estimates := planEstimates(t, out)
	for _, w := range load.all {
		p, _ := contentRows(t, segs, w.content)
		if a, ok := w.firstOn(p.Port, began); ok {
			estimate := "not switched"
			if e, ok := estimates[w.content]; ok {
				estimate = fmt.Sprintf("unavailability estimated by the plan: %v", e)
			}
			t.Logf("content %d: first write on its preferred primary dbid %d at +%.2f s, %.2f s before the tool exited; %s",
				w.content, p.DBID, a.at.Sub(began).Seconds(), exited.Sub(a.at).Seconds(), estimate)
		} else {
			t.Errorf("content %d: no write acknowledged by its preferred primary dbid %d", w.content, p.DBID)
		}
	}
}

// testMirrorNotInSync: both contents of one host unbalanced, and content
// 2's mirror behind (its walreceiver stopped while its primary commits
// without waiting for it), which FTS marks not in sync: gprecoverseg -r
// leaves content 2 as it is, with Greenplum's warning, and balances
// content 3. Released, content 2 catches up; it stays unbalanced for
// testReplayLagOverLimit.
func (d rebalanceDemo) testMirrorNotInSync(t *testing.T) {
	d.prepare(t, 2, 3)
	acting, behind := contentRows(t, d.catalog(t), 2)
	receiver := walreceiverPID(t, behind.DataDir)
	signal(t, receiver, "STOP")
	released := false
	defer func() {
		if !released {
			signal(t, receiver, "CONT")
		}
	}()
	conn := connect(t, acting.Hostname, acting.Port, true)
	for _, sql := range []string{"SET synchronous_commit = local", "INSERT INTO public.rebalance_writes (run, seq) SELECT 'not-in-sync', generate_series(1, 1000)"} {
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	waitMode(t, d.coordPort, 2, cluster.ModeNotSynced)
	code, out := d.tool(t, "gprecoverseg", "-r", "-a")
	if code != 0 {
		t.Fatalf("gprecoverseg -r -a with content 2 not in sync: exit %d\n%s", code, out)
	}
	wantInOrder(t, out, append([]string{
		`^\[INFO\]:-Determining primary and mirror segment pairs to rebalance$`,
		`^\[WARNING\]:-Not rebalancing primary segment dbid ` + strconv.Itoa(acting.DBID) + ` with its mirror dbid ` + strconv.Itoa(behind.DBID) +
			` because one is either down, unreachable, or not synchronized$`,
	}, rebalanced[1:]...)...)
	segs := d.catalog(t)
	if got := unbalancedContents(segs); !cmp.Equal(got, []int{2}) {
		t.Errorf("unbalanced contents after the rebalance: %v, want [2]\n%s", got, dump(segs))
	}
	if p, _ := contentRows(t, segs, 2); p.DBID != acting.DBID {
		t.Errorf("content 2's primary is dbid %d, want dbid %d (not switched)", p.DBID, acting.DBID)
	}
	signal(t, receiver, "CONT")
	released = true
	waitSynced(t, d.coordPort)
}

// testReplayLagOverLimit: content 2 unbalanced, its mirror's replay held
// (its startup process stopped) while its primary writes more WAL than
// --replay-lag allows: gprecoverseg -r refuses with Greenplum 7's message,
// exit 2, before anything stops; released, the same rebalance succeeds.
func (d rebalanceDemo) testReplayLagOverLimit(t *testing.T) {
	d.prepare(t, 2)
	acting, held := contentRows(t, d.catalog(t), 2)
	startup := childPID(t, held.DataDir, "startup")
	signal(t, startup, "STOP")
	released := false
	defer func() {
		if !released {
			signal(t, startup, "CONT")
		}
	}()
	conn := connect(t, acting.Hostname, acting.Port, true)
	for _, sql := range []string{
		"CREATE TABLE public.lag_fill (i int, pad text)",
		"INSERT INTO public.lag_fill SELECT i, repeat('x', 500) FROM generate_series(1, 2000) AS i",
	} {
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	const limit = 0.0001 // GB: 107,374 bytes
	lag := replayLag(t, conn)
	for deadline := time.Now().Add(30 * time.Second); float64(lag) <= limit*(1<<30); lag = replayLag(t, conn) {
		if time.Now().After(deadline) {
			t.Fatalf("mirror dbid %d: %d bytes not replayed 30 s after about 1 MB written, want more than %.0f", held.DBID, lag, limit*(1<<30))
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := d.catalog(t)
	code, out := d.tool(t, "gprecoverseg", "-r", "-a", "--replay-lag", fmt.Sprint(limit))
	if code != 2 {
		t.Fatalf("gprecoverseg -r -a --replay-lag %v with %d bytes to replay: exit %d, want 2\n%s", limit, lag, code, out)
	}
	wantInOrder(t, out,
		`^\[INFO\]:-Determining primary and mirror segment pairs to rebalance$`,
		`^\[INFO\]:-Allowed replay lag during rebalance is 0\.0001 GB$`,
		`^\[ERROR\]:-.*\d+ bytes of wal is still to be replayed on mirror with dbid `+strconv.Itoa(held.DBID)+
			`, let mirror catchup on replay then trigger rebalance\. Use --replay-lag to configure`)
	if strings.Contains(out, "Stopping unbalanced primary segments") {
		t.Errorf("the refused rebalance stopped primaries:\n%s", out)
	}
	if diff := cmp.Diff(dump(before), dump(d.catalog(t))); diff != "" {
		t.Errorf("the refused rebalance changed the catalog (-before +after):\n%s", diff)
	}
	for _, s := range before {
		if !running(s) {
			t.Errorf("dbid %d does not run after the refused rebalance", s.DBID)
		}
	}
	if _, err := os.Stat(oplock.JournalPath(d.coord, "gprecoverseg")); err == nil {
		t.Errorf("the refused rebalance left a journal")
	}

	var written string
	if err := conn.QueryRow(t.Context(), "SELECT pg_current_wal_lsn()::text").Scan(&written); err != nil {
		t.Fatal(err)
	}
	signal(t, startup, "CONT")
	released = true
	tooltest.WaitReplayed(t, conn, written, 30*time.Second)
	if code, out := d.tool(t, "gprecoverseg", "-r", "-a", "--replay-lag", "0.01"); code != 0 {
		t.Fatalf("gprecoverseg -r -a --replay-lag 0.01 after the mirror caught up: exit %d\n%s", code, out)
	} else {
		wantInOrder(t, out, append([]string{rebalanced[0], `^\[INFO\]:-Allowed replay lag during rebalance is 0\.01 GB$`}, rebalanced[1:]...)...)
	}
	d.wantBalancedInSync(t)
}

// replayLag is what the primary on conn says its mirror flushed but has
// not replayed, in bytes (as gprecoverseg reads it).
func replayLag(t testing.TB, conn cluster.Conn) int64 {
	t.Helper()
	var lag int64
	err := conn.QueryRow(t.Context(), "SELECT pg_wal_lsn_diff(flush_lsn, replay_lsn)::bigint FROM pg_stat_replication WHERE application_name = 'gp_walreceiver' AND state = 'streaming'").Scan(&lag)
	if err != nil {
		t.Fatalf("replay lag: %v", err)
	}
	return lag
}

// testDryRun: content 0 unbalanced; gprecoverseg -r --dry-run shows the
// plan and the steps it would run, exits 0, and changes nothing: the
// catalog and its history, every instance's postmaster (the same process),
// no journal. Content 0 stays unbalanced for testKilledBeforePromotion.
func (d rebalanceDemo) testDryRun(t *testing.T) {
	d.prepare(t, 0)
	before := d.catalog(t)
	pids := map[int]int{}
	for _, s := range before {
		pids[s.DBID] = postmasterPID(t, s.DataDir)
	}
	history := d.historyRows(t)
	code, out := d.tool(t, "gprecoverseg", "-r", "--dry-run")
	if code != 0 {
		t.Fatalf("gprecoverseg -r --dry-run: exit %d\n%s", code, out)
	}
	wantInOrder(t, out,
		`^\[INFO\]:-Rebalance plan \(unavailability is an estimate`,
		`^\[INFO\]:-Recovery type += Rebalance$`,
		`^\[INFO\]:-Determining primary and mirror segment pairs to rebalance$`,
		`^\[INFO\]:-Dry run: the steps below would run; only the read-only checks ran$`,
		`^\[INFO\]:-Dry run: 1 content\(s\) to switch back; nothing was changed$`)
	for _, m := range messages(out) {
		if strings.Contains(m, "Stopping unbalanced primary segments") || strings.Contains(m, "Continue with segment rebalance") {
			t.Errorf("the dry run went further than the plan: %s", m)
		}
	}
	if diff := cmp.Diff(dump(before), dump(d.catalog(t))); diff != "" {
		t.Errorf("the dry run changed the catalog (-before +after):\n%s", diff)
	}
	if got := d.historyRows(t); got != history {
		t.Errorf("the dry run added %d rows to gp_configuration_history", got-history)
	}
	for _, s := range before {
		if !running(s) {
			t.Errorf("dbid %d does not run after the dry run", s.DBID)
		} else if pid := postmasterPID(t, s.DataDir); pid != pids[s.DBID] {
			t.Errorf("dbid %d was restarted by the dry run: postmaster %d, was %d", s.DBID, pid, pids[s.DBID])
		}
	}
	if _, err := os.Stat(oplock.JournalPath(d.coord, "gprecoverseg")); err == nil {
		t.Errorf("the dry run left a journal")
	}
}

// historyRows counts the rows of gp_configuration_history.
func (d rebalanceDemo) historyRows(t testing.TB) int {
	t.Helper()
	conn := connect(t, "", d.coordPort, true)
	defer conn.Close(context.WithoutCancel(t.Context()))
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM gp_configuration_history").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// testKilledBeforePromotion: gprecoverseg -r is killed -9 as it triggers
// the reconfiguration, its primaries stopped: after one FTS probe every
// content is served again, and the same command finishes the job.
func (d rebalanceDemo) testKilledBeforePromotion(t *testing.T) {
	d.prepare(t, 0)
	_, preferred := contentRows(t, d.catalog(t), 0)
	bg := d.startBackground(t, `\[INFO\]:-Triggering segment reconfiguration$`, "gprecoverseg", "-r", "-a")
	code, out := bg.wait(t)
	l, killed := bg.killedOn()
	if !killed {
		t.Fatalf("gprecoverseg -r -a exited %d before it was killed\n%s", code, out)
	}
	t.Logf("killed %.2f s after it started, at %q", l.at.Sub(bg.began).Seconds(), l.text)
	t.Logf("the journal left: %s", journal(t, d.coord))

	conn := connect(t, "", d.coordPort, false)
	var ok bool
	if err := conn.QueryRow(t.Context(), "SELECT gp_request_fts_probe_scan()").Scan(&ok); err != nil || !ok {
		t.Fatalf("one FTS probe: %v, %v", ok, err)
	}
	if err := conn.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p, _ := contentRows(t, d.catalog(t), 0); p.DBID != preferred.DBID {
		t.Errorf("after one probe content 0's primary is dbid %d, want its promoted preferred primary dbid %d", p.DBID, preferred.DBID)
	}
	d.wantServed(t, "served-after-kill")

	code, out = d.tool(t, "gprecoverseg", "-r", "-a")
	if code != 0 {
		t.Fatalf("gprecoverseg -r -a after the killed run: exit %d\n%s", code, out)
	}
	wantInOrder(t, out, rebalanced[3:]...)
	d.wantBalancedInSync(t)
}

// testKilledAfterStop: gprecoverseg -r is killed -9 as soon as the
// acting primary it stops is gone (its postmaster.pid removed, which
// pg_ctl stop polls for every 100 ms), normally before FTS is asked to
// promote its mirror, and no probe is requested: the journal names the
// primary the killed run was stopping, and the same command, run at once,
// finishes the job.
func (d rebalanceDemo) testKilledAfterStop(t *testing.T) {
	d.prepare(t, 3)
	acting, _ := contentRows(t, d.catalog(t), 3)
	pidFile := filepath.Join(acting.DataDir, "postmaster.pid")
	bg := d.startBackground(t, "", "gprecoverseg", "-r", "-a")
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
		if _, err := os.Stat(pidFile); errors.Is(err, fs.ErrNotExist) {
			break
		}
		select {
		case <-bg.exited:
			_, out := bg.wait(t)
			t.Fatalf("gprecoverseg -r -a exited before dbid %d stopped\n%s", acting.DBID, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there 2 minutes after gprecoverseg -r -a started", pidFile)
		}
	}
	bg.kill()
	_, out := bg.wait(t)
	if _, ok := bg.lineAt("Triggering segment reconfiguration"); ok {
		t.Logf("the tool had announced the probe when it was killed")
	}
	wantInOrder(t, out, rebalanced[:2]...)
	j, err := oplock.ReadJournal(d.coord, "gprecoverseg")
	if err != nil || j == nil {
		t.Fatalf("the journal after the kill: %v, %v", j, err)
	}
	if it, ok := j.Item(acting.DBID); !ok || it.Step == "planned" {
		t.Errorf("the journal after the kill: dbid %d %+v (found %v), want it marked as being stopped", acting.DBID, it, ok)
	}
	t.Logf("the journal left: %s", journal(t, d.coord))
	p, _ := contentRows(t, d.catalog(t), 3)
	t.Logf("content 3 in the catalog after the kill: %s", p)

	code, out := d.tool(t, "gprecoverseg", "-r", "-a")
	if code != 0 {
		t.Fatalf("gprecoverseg -r -a after the killed run: exit %d\n%s", code, out)
	}
	wantInOrder(t, out, rebalanced[3:]...)
	for _, m := range messages(out) {
		if strings.Contains(m, "by the earlier gprecoverseg -r") || strings.Contains(m, "need to be rebalanced") {
			t.Logf("the rerun: %s", m)
		}
	}
	d.wantBalancedInSync(t)
}

// journal is gprecoverseg's journal in the coordinator data directory, on
// one line, for the log.
func journal(t testing.TB, coord string) string {
	t.Helper()
	b, err := os.ReadFile(oplock.JournalPath(coord, "gprecoverseg"))
	if err != nil {
		return err.Error()
	}
	return regexp.MustCompile(`\s+`).ReplaceAllString(string(b), " ")
}

// testKilledDuringRecovery: gprecoverseg -r is killed -9 once the mirror
// is promoted and the in-place recovery of the stopped instance has begun
// (on "Initiating segment recovery", its catalog updated, its rewind about
// to start): every content is served at once, without a probe, and the
// same command, which finds nothing left to switch, recovers what the
// killed run left down and says the rebalance completed.
func (d rebalanceDemo) testKilledDuringRecovery(t *testing.T) {
	d.prepare(t, 1)
	bg := d.startBackground(t, `\[INFO\]:-Initiating segment recovery`, "gprecoverseg", "-r", "-a")
	code, out := bg.wait(t)
	l, killed := bg.killedOn()
	if !killed {
		t.Fatalf("gprecoverseg -r -a exited %d before it was killed\n%s", code, out)
	}
	t.Logf("killed %.2f s after it started, at %q", l.at.Sub(bg.began).Seconds(), l.text)
	t.Logf("the journal left: %s", journal(t, d.coord))
	if got := unbalancedContents(d.catalog(t)); len(got) != 0 {
		t.Errorf("contents %v still unbalanced after the promotion the killed run proved", got)
	}
	d.wantServed(t, "served-after-kill-in-recovery")

	code, out = d.tool(t, "gprecoverseg", "-r", "-a")
	if code != 0 {
		t.Fatalf("gprecoverseg -r -a after the killed run: exit %d\n%s", code, out)
	}
	wantInOrder(t, out,
		`^\[INFO\]:-No segments are running in their non-preferred role and need to be rebalanced\.$`,
		rebalanced[len(rebalanced)-1])
	d.wantBalancedInSync(t)
	if _, err := os.Stat(oplock.JournalPath(d.coord, "gprecoverseg")); err == nil {
		t.Errorf("the rerun left a journal: %s", journal(t, d.coord))
	}
}

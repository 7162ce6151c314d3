//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// briefShape reduces gpstate's brief report to what must match Greenplum
// line for line: the level, the key in GP7's words, and the column of its
// "=" (so the alignment counts); values, host names and paths aside.
func briefShape(msgs []string) []string {
	master := regexp.MustCompile(`\b(M|m)aster\b`)
	var out []string
	on := false
	for _, m := range msgs {
		if strings.Contains(m, "instance status summary") {
			on = true
		}
		if !on || strings.HasPrefix(m, "[DEBUG]") {
			continue
		}
		if k, _, ok := strings.Cut(m, " = "); ok {
			m = fmt.Sprintf("%s = <value> (at column %d)", strings.TrimRight(k, " "), len(k))
		}
		m = master.ReplaceAllStringFunc(m, func(w string) string { return map[string]string{"Master": "Coordinator", "master": "coordinator"}[w] })
		out = append(out, strings.TrimRight(m, " <"))
	}
	return out
}

// TestSeedWalkthrough replays the seed article's steps 1 to 11 with the
// built tools, blind: a mirrorless 2-segment cluster on one host; gpstate;
// gpaddmirrors answering its prompts; gpstate with 4 instances and 2
// mirrors acting as mirrors (the report's lines as Greenplum 6's); data
// written; the postmaster of content 1's primary killed -9; an FTS probe;
// the data read back from the acting primary; gpstate with the seed's
// warnings; gprecoverseg answered y; gpstate during a resync and after;
// gprecoverseg -r; gpstate clean and balanced; and the FTS rows of the
// whole flow in gp_configuration_history, in order.
func TestSeedWalkthrough(t *testing.T) {
	// Step 1: one host, two primaries, no mirrors.
	slot := testbed.AcquireSlot(t)
	host := slot.Hosts[0]
	d := mirrorless{dir: filepath.Join(t.TempDir(), "cluster"), hosts: []string{host}, portBase: slot.PortBase}
	d.coord = filepath.Join(d.dir, "coordinator", "gpseg-1")
	run(t, "gpdemo", "create", "--dir", d.dir, "--gphome", gphome, "--hosts", "1", "--primaries-per-host", "2",
		"--host-names", host, "--port-base", strconv.Itoa(d.portBase))
	t.Cleanup(func() { run(t, "gpdemo", "destroy", "--dir", d.dir) })
	t.Cleanup(func() { d.removeMirrors(t) })
	d.hidden = []string{filepath.Join(d.dir, host)}

	// Step 2: gpstate on the mirrorless cluster.
	code, out := d.tool(t, "", "gpstate")
	if code != 0 {
		t.Fatalf("gpstate: exit %d\n%s", code, out)
	}
	wantInOrder(t, out, `^\[INFO\]:-Greenplum instance status summary$`,
		`^\[INFO\]:-   Total segment instance count from metadata +\s= 2$`,
		`^\[INFO\]:-   Mirror Segment Status$`, `^\[INFO\]:-   Mirrors not configured on this array$`)

	// Step 3: gpaddmirrors, answering the directory prompts and the
	// confirmation as the seed's DBA does.
	loc := filepath.Join(d.dir, "mirror")
	if err := os.Mkdir(loc, 0o700); err != nil {
		t.Fatal(err)
	}
	d.hidden = append(d.hidden, loc)
	code, out = d.tool(t, loc+"\n"+loc+"\ny\n", "gpaddmirrors", "-p", "50")
	if code != 0 {
		t.Fatalf("gpaddmirrors: exit %d\n%s", code, out)
	}
	wantInOrder(t, out, `Enter mirror segment data directory location 1 of 2 >`, `Enter mirror segment data directory location 2 of 2 >`,
		`^\[INFO\]:-Mirror 2 of 2$`, `Continue with add mirrors procedure`, `^\[INFO\]:-2 of 2 mirror\(s\) added$`)

	// Step 4: 4 instances, 2 mirrors acting as mirrors, the report's lines
	// those of Greenplum 6's gpstate on the same shape of cluster.
	code, out = d.tool(t, "", "gpstate")
	if code != 0 {
		t.Fatalf("gpstate: exit %d\n%s", code, out)
	}
	wantInOrder(t, out, `^\[INFO\]:-   Total segment instance count from metadata += 4$`,
		`^\[INFO\]:-   Total number mirror segments acting as primary segments += 0$`,
		`^\[INFO\]:-   Total number mirror segments acting as mirror segments += 2$`)
	gp6, err := os.ReadFile(filepath.Join(testbed.RepoRoot(), "testdata", "gpstate", "gp6-v.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(briefShape(messages(string(gp6))), briefShape(messages(out))); diff != "" {
		t.Errorf("gpstate's report differs from Greenplum 6's (-gp6 +ours):\n%s", diff)
	}

	// The other modes agree that the cluster is healthy.
	wantExits(t, d, map[string]int{"-e": 0, "-s": 0, "-m": 0, "-Q": 0, "--health": 0})
	if _, out := d.tool(t, "", "gpstate", "--health"); !strings.HasPrefix(out, "GPSTATE OK - ") {
		t.Errorf("gpstate --health on a healthy cluster:\n%s", out)
	}

	// Step 5: write rows on content 1 and wait until its mirror replayed
	// them (mirrors refuse sessions: their replay position is the proof).
	p1, m1 := d.portBase+3, d.portBase+53
	conn := connect(t, host, p1, true)
	if _, err := conn.Exec(t.Context(), "CREATE TABLE public.seed AS SELECT generate_series(1, 1000) AS i"); err != nil {
		t.Fatal(err)
	}
	var lsn string
	if err := conn.QueryRow(t.Context(), "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	waitReplayed(t, conn, lsn)
	if err := conn.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Step 6: kill -9 the postmaster of content 1's primary.
	pdir := filepath.Join(d.dir, host, "primary", "gpseg1")
	b, err := os.ReadFile(filepath.Join(pdir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.SplitN(string(b), "\n", 2)[0]
	if out, err := exec.Command("kill", "-9", pid).CombinedOutput(); err != nil {
		t.Fatalf("kill -9 %s: %v %s", pid, err, out)
	}

	// Step 7: an FTS probe promotes the mirror; the rows are still there,
	// read from the acting primary.
	coordPort := d.portBase
	waitFailover(t, coordPort, 1)
	acting := connect(t, host, m1, true)
	var n int
	if err := acting.QueryRow(t.Context(), "SELECT count(*) FROM public.seed").Scan(&n); err != nil || n != 1000 {
		t.Fatalf("rows on the acting primary of content 1: %d, %v; want 1000", n, err)
	}

	// Step 8: gpstate shows the seed's warnings; the history has FTS's rows.
	code, out = d.tool(t, "", "gpstate")
	if code != 0 {
		t.Fatalf("gpstate: exit %d\n%s", code, out)
	}
	wantInOrder(t, out,
		`^\[WARNING\]:-Total primary segment failures \(at coordinator\) +?= 1 +<<<<<<<<$`,
		`^\[WARNING\]:-Total number postmaster processes missing +?= 1 +<<<<<<<<$`,
		`^\[WARNING\]:-Total number mirror segments acting as primary segments +?= 1 +<<<<<<<<$`,
		`^\[INFO\]:-   Total number mirror segments acting as mirror segments +?= 1$`)
	// The exit codes change as documented (spec §2.3, docs/gpstate-json.md).
	wantExits(t, d, map[string]int{"-e": 1, "-s": 1, "-m": 0, "-Q": 1, "-c": 0, "--health": 1})
	if _, out := d.tool(t, "", "gpstate", "-e"); !strings.Contains(out, "Segments with Primary and Mirror Roles Switched") {
		t.Errorf("gpstate -e after the failover:\n%s", out)
	}
	code, out = d.tool(t, "", "gpstate", "--json")
	var doc struct {
		Segments []struct {
			DBID     int `json:"dbid"`
			Observed struct {
				ProbablyDown bool `json:"probably_down"`
			} `json:"observed"`
		} `json:"segments"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
		t.Fatalf("gpstate --json: exit %d, %v\n%s", code, err, out)
	}
	for _, sg := range doc.Segments {
		if sg.Observed.ProbablyDown != (sg.DBID == 3) {
			t.Errorf("--json: dbid %d probably_down %v", sg.DBID, sg.Observed.ProbablyDown)
		}
	}

	// The segment host stops answering SSH: gpstate says so, in bounded
	// time, without a stack trace. --health names the host, and as every
	// instance is on it, no content has a usable instance: exit 2.
	down := []string{"HOME=" + unreachableHome(t, host)}
	begin := time.Now()
	code, out = d.toolEnv(t, down, "", "gpstate")
	if code != 0 || !strings.Contains(out, "[WARNING]:-Error getting status from host "+host) || strings.Contains(out, "goroutine") {
		t.Errorf("gpstate with %s unreachable: exit %d\n%s", host, code, out)
	}
	code, out = d.toolEnv(t, down, "", "gpstate", "--health")
	if code != 2 || !strings.HasPrefix(out, "GPSTATE DOUBLE_FAULT - ") || !strings.Contains(out, "\nUNREACHABLE: host "+host+" did not answer") {
		t.Errorf("gpstate --health with %s unreachable: exit %d\n%s", host, code, out)
	}
	if took := time.Since(begin); took > 60*time.Second {
		t.Errorf("two gpstate runs against an unreachable host took %s", took)
	}

	history := historyDescs(t, coordPort, `"desc" LIKE 'FTS:%'`)
	if !slices.ContainsFunc(history, regexp.MustCompile(`^FTS: update role, status, and mode for dbid \d+ with contentid 1 to p, u, and n$`).MatchString) {
		t.Errorf("no FTS promotion row for content 1 in gp_configuration_history:\n%s", strings.Join(history, "\n"))
	}

	// Step 9: gprecoverseg, interactive, answered y as the seed's DBA
	// does: the failed primary is rewound from its promoted mirror and
	// becomes that mirror's mirror.
	code, out = d.tool(t, "y\n", "gprecoverseg")
	if code != 0 {
		t.Fatalf("gprecoverseg: exit %d\n%s", code, out)
	}
	wantInOrder(t, out, `^\[INFO\]:-Recovery type += Standard$`, `^\[INFO\]:-   Synchronization mode += Incremental$`,
		`^\[INFO\]:-   Failed instance directory += `+regexp.QuoteMeta(pdir)+`$`,
		`Continue with segment recovery procedure Yy\|Nn \(default=N\):`, `^\[INFO\]:-Segments successfully recovered\.$`)
	waitSynced(t, coordPort)

	// Step 10: gpstate during a resync. The new mirror's walreceiver is
	// held (SIGSTOP) while rows are written on the acting primary without
	// waiting for it; FTS finds the pair behind and marks it not in sync,
	// which gpstate reports; released, the mirror catches up.
	receiver := walreceiverPID(t, pdir)
	signal(t, receiver, "STOP")
	released := false
	defer func() {
		if !released {
			signal(t, receiver, "CONT")
		}
	}()
	if _, err := acting.Exec(t.Context(), "SET synchronous_commit = local"); err != nil {
		t.Fatal(err)
	}
	if _, err := acting.Exec(t.Context(), "INSERT INTO public.seed SELECT generate_series(1001, 2000)"); err != nil {
		t.Fatal(err)
	}
	waitMode(t, coordPort, 1, cluster.ModeNotSynced)
	code, out = d.tool(t, "", "gpstate", "-e")
	if code != 1 {
		t.Errorf("gpstate -e during the resync: exit %d, want 1\n%s", code, out)
	}
	wantInOrder(t, out, `^\[INFO\]:-Unsynchronized Segment Pairs$`, `^\[INFO\]:-   Current Primary +Port +WAL sync remaining bytes +Mirror +Port$`,
		`^\[INFO\]:-   `+regexp.QuoteMeta(host)+` +`+strconv.Itoa(m1)+` +\d+ +`+regexp.QuoteMeta(host)+` +`+strconv.Itoa(p1)+`$`)
	signal(t, receiver, "CONT")
	released = true
	waitSynced(t, coordPort)
	code, out = d.tool(t, "", "gpstate", "-e")
	if code != 1 || strings.Contains(out, "Unsynchronized Segment Pairs") || !strings.Contains(out, "Segments with Primary and Mirror Roles Switched") {
		t.Errorf("gpstate -e after the resync, before the rebalance: exit %d\n%s", code, out)
	}

	// Step 11: gprecoverseg -r, interactive: content 1 runs on its
	// preferred primary again, in sync, with every row; gpstate is clean.
	code, out = d.tool(t, "y\n", "gprecoverseg", "-r")
	if code != 0 {
		t.Fatalf("gprecoverseg -r: exit %d\n%s", code, out)
	}
	wantInOrder(t, out,
		`^\[INFO\]:-Recovery type += Rebalance$`, `^\[INFO\]:-Unbalanced segment 1 of 2$`, `^\[INFO\]:-Unbalanced segment 2 of 2$`,
		`^\[WARNING\]:-This operation will cancel queries that are currently executing\.$`,
		`^\[WARNING\]:-Connections to the database however will not be interrupted\.$`,
		`Continue with segment rebalance procedure Yy\|Nn \(default=N\):`,
		`\[INFO\]:-Determining primary and mirror segment pairs to rebalance$`, // after the prompt, on its line
		`^\[INFO\]:-Stopping unbalanced primary segments\.\.\.$`,
		`^\[INFO\]:-Triggering segment reconfiguration$`,
		`^\[INFO\]:-Starting segment synchronization$`,
		`^\[INFO\]:-=============================START ANOTHER RECOVER=========================================$`,
		`^\[INFO\]:-Obtaining Segment details from coordinator\.\.\.$`,
		`^\[INFO\]:-   Failed instance port += `+strconv.Itoa(m1)+`$`,
		`^\[INFO\]:-Segments successfully recovered\.$`,
		`^\[INFO\]:-==============================END ANOTHER RECOVER==========================================$`,
		`^\[INFO\]:-The rebalance operation has completed successfully\.$`)
	waitSynced(t, coordPort)
	code, out = d.tool(t, "", "gpstate")
	if code != 0 {
		t.Fatalf("gpstate after the rebalance: exit %d\n%s", code, out)
	}
	wantInOrder(t, out, `^\[INFO\]:-   Total number mirror segments acting as primary segments += 0$`,
		`^\[INFO\]:-   Total number mirror segments acting as mirror segments += 2$`)
	if strings.Contains(out, "<<<<<<<<") {
		t.Errorf("gpstate after the rebalance still warns:\n%s", out)
	}
	wantExits(t, d, map[string]int{"-e": 0, "-s": 0, "-m": 0, "-Q": 0, "--health": 0})
	if _, out := d.tool(t, "", "gpstate", "-e"); !strings.Contains(out, "All segments are running normally") {
		t.Errorf("gpstate -e after the rebalance:\n%s", out)
	}
	primary := connect(t, host, p1, true)
	if err := primary.QueryRow(t.Context(), "SELECT count(*) FROM public.seed").Scan(&n); err != nil || n != 2000 {
		t.Errorf("rows on content 1's preferred primary after the rebalance: %d, %v; want 2000", n, err)
	}

	// The whole history: FTS's rows of this flow, in Greenplum 6's (and
	// 7's) words and order, and no row of gprecoverseg's (FTS had already
	// marked everything gprecoverseg would have).
	mirrorDBID := map[int]int{}
	rows, err := connect(t, "", coordPort, true).Query(t.Context(), "SELECT content, dbid FROM gp_segment_configuration WHERE content >= 0 AND preferred_role = 'm'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c, id int
		if err := rows.Scan(&c, &id); err != nil {
			t.Fatal(err)
		}
		mirrorDBID[c] = id
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	fts := func(dbid, content int, rsm string) string {
		return fmt.Sprintf("FTS: update role, status, and mode for dbid %d with contentid %d to %c, %c, and %c", dbid, content, rsm[0], rsm[1], rsm[2])
	}
	m0, m1dbid := mirrorDBID[0], mirrorDBID[1]
	wantHistoryGroups(t, coordPort,
		[]string{fts(2, 0, "pus"), fts(m0, 0, "mus"), fts(3, 1, "pus"), fts(m1dbid, 1, "mus")}, // the mirrors added
		[]string{fts(3, 1, "mdn"), fts(m1dbid, 1, "pun")},                                      // kill -9, failover
		[]string{fts(m1dbid, 1, "pus"), fts(3, 1, "mus")},                                      // gprecoverseg
		[]string{fts(m1dbid, 1, "pun"), fts(3, 1, "mun")},                                      // walreceiver held
		[]string{fts(m1dbid, 1, "pus"), fts(3, 1, "mus")},                                      // released
		[]string{fts(m1dbid, 1, "mdn"), fts(3, 1, "pun")},                                      // -r: promotion
		[]string{fts(3, 1, "pus"), fts(m1dbid, 1, "mus")},                                      // -r: synchronization
	)
}

// wantHistoryGroups checks gp_configuration_history on the coordinator:
// no row of gprecoverseg, and FTS's rows, by time, are the groups given,
// in order. A group is one probe round's rows: written in one
// transaction, they share a timestamp, so their order within the group
// is not compared.
func wantHistoryGroups(t *testing.T, coordPort int, groups ...[]string) {
	t.Helper()
	got := historyDescs(t, coordPort, `"desc" LIKE 'FTS:%' OR "desc" LIKE 'gprecoverseg%'`)
	var want []string
	i := 0
	for _, g := range groups {
		want = append(want, g...)
		if i+len(g) > len(got) {
			break
		}
		have := slices.Clone(got[i : i+len(g)])
		w := slices.Clone(g)
		slices.Sort(have)
		slices.Sort(w)
		if !slices.Equal(have, w) {
			break
		}
		i += len(g)
	}
	if i != len(got) || len(want) != len(got) {
		t.Errorf("gp_configuration_history's FTS and gprecoverseg rows by time:\n%s\nwant (each round's rows in any order):\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// historyDescs is the "desc" of gp_configuration_history's rows that
// match where, by time.
func historyDescs(t *testing.T, coordPort int, where string) []string {
	t.Helper()
	rows, err := connect(t, "", coordPort, true).Query(t.Context(), `SELECT "desc" FROM gp_configuration_history WHERE `+where+` ORDER BY time`)
	if err != nil {
		t.Fatal(err)
	}
	var descs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		descs = append(descs, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return descs
}

// walreceiverPID is the walreceiver process of the standby in dir.
func walreceiverPID(t testing.TB, dir string) string {
	t.Helper()
	return childPID(t, dir, "walreceiver")
}

// childPID is the one child of the postmaster in dir whose command line
// contains name (its process title: "walreceiver", "startup"), waited
// for 30 s at most.
func childPID(t testing.TB, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pm := strings.SplitN(string(b), "\n", 2)[0]
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := exec.Command("pgrep", "-P", pm, "-f", name).Output()
		if pid := strings.TrimSpace(string(out)); err == nil && pid != "" && !strings.Contains(pid, "\n") {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s under postmaster %s of %s", name, pm, dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signal sends SIGname to pid.
func signal(t testing.TB, pid, name string) {
	t.Helper()
	if out, err := exec.Command("kill", "-"+name, pid).CombinedOutput(); err != nil {
		t.Fatalf("kill -%s %s: %v %s", name, pid, err, out)
	}
}

// waitSynced requests FTS probes until every segment is up and in sync.
func waitSynced(t testing.TB, coordPort int) {
	t.Helper()
	probeUntil(t, coordPort, "every segment up and in sync",
		"SELECT count(*) = 0 FROM gp_segment_configuration WHERE content >= 0 AND (mode <> 's' OR status <> 'u')")
}

// waitMode requests FTS probes until content's primary has mode m.
func waitMode(t testing.TB, coordPort, content int, m cluster.Mode) {
	t.Helper()
	probeUntil(t, coordPort, fmt.Sprintf("content %d's primary in mode %s", content, m),
		fmt.Sprintf("SELECT count(*) = 1 FROM gp_segment_configuration WHERE content = %d AND role = 'p' AND mode = '%s'", content, m))
}

// probeUntil requests FTS probes until sql returns true (60 s at most).
func probeUntil(t testing.TB, coordPort int, what, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: coordPort, Flavour: cluster.GP7, Database: "postgres", ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		var done bool
		if err := conn.QueryRow(ctx, sql).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done {
			return
		}
		if _, err := conn.Exec(ctx, "SELECT gp_request_fts_probe_scan()"); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
}

// wantExits runs gpstate with each option and checks its exit code.
func wantExits(t *testing.T, d mirrorless, want map[string]int) {
	t.Helper()
	for opt, code := range want {
		if got, out := d.tool(t, "", "gpstate", opt); got != code {
			t.Errorf("gpstate %s: exit %d, want %d\n%s", opt, got, code, out)
		}
	}
}

// waitReplayed waits until the mirror streaming from conn's primary has
// replayed lsn.
func waitReplayed(t *testing.T, conn cluster.Conn, lsn string) {
	t.Helper()
	tooltest.WaitReplayed(t, conn, lsn, 30*time.Second)
}

// waitFailover requests FTS probes until content's mirror is its primary.
func waitFailover(t *testing.T, coordPort, content int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{Port: coordPort, Flavour: cluster.GP7, Database: "postgres", ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		if _, err := conn.Exec(ctx, "SELECT gp_request_fts_probe_scan()"); err != nil {
			t.Fatal(err)
		}
		var promoted bool
		if err := conn.QueryRow(ctx, "SELECT count(*) = 1 FROM gp_segment_configuration WHERE content = $1 AND role = 'p' AND preferred_role = 'm'", content).Scan(&promoted); err != nil {
			t.Fatal(err)
		}
		if promoted {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("no failover of content %d within 60 s", content)
		}
	}
}

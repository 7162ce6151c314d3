package recoverseg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// transcriptRebalanceBlock returns the messages of file from "instance
// recovery parameters" up to "Determining primary and mirror segment
// pairs to rebalance": the rebalance display.
func transcriptRebalanceBlock(t *testing.T, file string) []string {
	return transcriptMessages(t, file, "[INFO]:-Determining primary and mirror segment pairs to rebalance")
}

func rebalanceDisplayed(t *testing.T, f cluster.Flavour, rows []cluster.Segment) []string {
	t.Helper()
	var buf bytes.Buffer
	log := slog.New(gplog.NewHandler(gplog.Config{Prog: "gprecoverseg", Host: "vm", User: "gpadmin", PID: 1}, gplog.Sink{W: &buf, Level: slog.LevelInfo}))
	gplog.Emit(t.Context(), log, RebalanceRecords(f, rows))
	return stripped(buf.String())
}

// TestRebalanceDisplayMatchesGP6 compares the display with Greenplum 6's,
// line for line after the log prefix, on both GP6 clusters: the unbalanced
// rows in Greenplum's order (the acting primary first).
func TestRebalanceDisplayMatchesGP6(t *testing.T) {
	p, m := cluster.RolePrimary, cluster.RoleMirror
	mdw := func(dbid, content int, role, preferred cluster.Role, port int, dir string) cluster.Segment {
		return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: preferred, Mode: cluster.ModeSynced,
			Status: cluster.StatusUp, Hostname: "mdw", Address: "mdw", Port: port, DataDir: dir}
	}
	for _, tt := range []struct {
		file string
		segs []cluster.Segment
	}{
		{"gp6-rebalance.txt", []cluster.Segment{
			vmSeg(1, -1, p, p, 7000, "coordinator/gpseg-1"),
			vmSeg(2, 0, p, p, 7002, "primary/gpseg0"), vmSeg(4, 0, m, m, 7004, "mirror/gpseg0"),
			vmSeg(3, 1, m, p, 7003, "primary/gpseg1"), vmSeg(5, 1, p, m, 7005, "mirror/gpseg1"),
		}},
		{"gp6-seed-rebalance.txt", []cluster.Segment{
			mdw(1, -1, p, p, 7000, "/data/qddir/demoDataDir-1"),
			mdw(2, 0, p, p, 7002, "/data/dbfast1/demoDataDir0"), mdw(4, 0, m, m, 7004, "/data/dbfast_mirror1/demoDataDir0"),
			mdw(3, 1, m, p, 7003, "/data/dbfast2/demoDataDir1"), mdw(5, 1, p, m, 7005, "/data/dbfast_mirror2/demoDataDir1"),
		}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			c, err := cluster.New(tt.segs)
			if err != nil {
				t.Fatal(err)
			}
			want := transcriptRebalanceBlock(t, tt.file)
			if len(want) < 10 {
				t.Fatalf("no display in %s", tt.file)
			}
			if d := cmp.Diff(want, rebalanceDisplayed(t, cluster.GP6, unbalancedRows(c))); d != "" {
				t.Errorf("display differs from Greenplum 6's (-gp6 +ours):\n%s", d)
			}
		})
	}
}

// unbalanced is a cluster of four contents: 0 balanced; 1 and 3 on their
// preferred mirrors, in sync; 2 on its preferred mirror whose peer is not
// in sync.
func unbalanced() []cluster.Segment {
	p, m, s, n, u := cluster.RolePrimary, cluster.RoleMirror, cluster.ModeSynced, cluster.ModeNotSynced, cluster.StatusUp
	return []cluster.Segment{
		seg(1, -1, p, p, n, u, "mdw", 5432, "/data/coordinator/gpseg-1"),
		seg(2, 0, p, p, s, u, "sdw1", 6000, "/data/primary/gpseg0"),
		seg(6, 0, m, m, s, u, "sdw2", 7000, "/data/mirror/gpseg0"),
		seg(3, 1, m, p, s, u, "sdw2", 6000, "/data/primary/gpseg1"),
		seg(7, 1, p, m, s, u, "sdw1", 7000, "/data/mirror/gpseg1"),
		seg(4, 2, m, p, n, u, "sdw1", 6001, "/data/primary/gpseg2"),
		seg(8, 2, p, m, n, u, "sdw2", 7001, "/data/mirror/gpseg2"),
		seg(5, 3, m, p, s, u, "sdw2", 6001, "/data/primary/gpseg3"),
		seg(9, 3, p, m, s, u, "sdw1", 7001, "/data/mirror/gpseg3"),
	}
}

// TestSwitchPairs: Greenplum's eligibility, both up, both reachable, both
// in sync; every other pair is named with its reason.
func TestSwitchPairs(t *testing.T) {
	segs := unbalanced()
	segs[8].Status = cluster.StatusDown // content 3's acting primary is marked down
	c, err := cluster.New(segs)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(unbalancedRows(c)); got != 6 {
		t.Errorf("%d unbalanced rows, want 6", got)
	}
	pairs := switchPairs(c, map[string]error{})
	var got []string
	for _, p := range pairs {
		got = append(got, p.Problem)
	}
	want := []string{"", "dbid 8 is not synchronized; dbid 4 is not synchronized", "dbid 9 is down"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("problems (-want +got):\n%s", d)
	}
	pairs = switchPairs(c, map[string]error{"sdw1": errors.New("timeout")})
	if pairs[0].Problem != "host sdw1 of dbid 7 is unreachable" {
		t.Errorf("unreachable: %q", pairs[0].Problem)
	}
}

// lagRig is a recovery whose acting primaries answer lagSQL as scripted,
// by port (a port absent from lags refuses connections). earlier names
// the acting primaries (by dbid) an interrupted rebalance began to stop,
// with what pg_ctl status says of each now (3: not running).
func lagRig(t *testing.T, f cluster.Flavour, lags map[int][]any, earlier map[int]int) (*selectRig, []switchPair) {
	t.Helper()
	rig := newSelectRig(t, unbalanced())
	rig.r.f = f
	rig.r.opts.ReplayLag = 10
	rig.r.opts.Parallel = 4
	rig.r.co.GPHome = "/usr/local/gp"
	if len(earlier) > 0 {
		rig.r.prev = &oplock.Record{}
		for dbid := range earlier {
			rig.r.prev.Items = append(rig.r.prev.Items, oplock.Item{DBID: dbid, Method: "rebalance", Step: stepStopping})
		}
	}
	fake := &remotetest.Fake{}
	fake.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		if c.Script != statusScript {
			return remotetest.Response{}, false
		}
		var out strings.Builder
		for i := 1; i+1 < len(c.Args); i += 2 {
			dbid, _ := strconv.Atoi(c.Args[i])
			fmt.Fprintf(&out, "STATUS %d %d\n", dbid, earlier[dbid])
		}
		return remotetest.Response{Stdout: out.String()}, true
	})
	rig.r.exec = fake
	cols := []clustertest.Column{{Name: "state", OID: pgtype.TextOID}, {Name: "sync_state", OID: pgtype.TextOID},
		{Name: "lag", OID: pgtype.Int8OID}, {Name: "replayed", OID: pgtype.Int8OID}}
	for _, port := range []int{7000, 7001, 6000, 6001} {
		row, ok := lags[port]
		if !ok {
			rig.refuse[port] = errors.New("connection refused")
			continue
		}
		c := rig.source(port, false, 0)
		if row == nil {
			c.On(lagSQL(f), clustertest.Rows(cols))
		} else {
			c.On(lagSQL(f), clustertest.Rows(cols, row))
		}
	}
	rig.coord.On("SHOW gp_fts_probe_retries", clustertest.Text("5"))
	pairs := switchPairs(rig.r.co.Cluster, rig.r.unreachable)
	rig.r.readLags(t.Context(), pairs)
	return rig, pairs
}

// TestGate: the replay-lag check refuses the whole rebalance with
// Greenplum 7's message before anything stops; pairs that are not
// eligible, or whose mirror does not stream, are skipped with Greenplum's
// warning.
func TestGate(t *testing.T) {
	t.Run("within the limit", func(t *testing.T) {
		rig, pairs := lagRig(t, cluster.GP7, map[int][]any{7000: {"streaming", "sync", int64(0), int64(100)}, 7001: {"streaming", "sync", int64(0), int64(100)}}, nil)
		eligible, err := rig.r.gate(t.Context(), pairs)
		if err != nil {
			t.Fatal(err)
		}
		if len(eligible) != 2 || eligible[0].Acting.DBID != 7 || eligible[1].Acting.DBID != 9 {
			t.Errorf("eligible %+v", eligible)
		}
		out := rig.out.String()
		for _, want := range []string{
			"[WARNING]:-Not rebalancing primary segment dbid 8 with its mirror dbid 4 because one is either down, unreachable, or not synchronized",
			"[INFO]:-Allowed replay lag during rebalance is 10 GB",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in\n%s", want, out)
			}
		}
	})
	t.Run("over the limit", func(t *testing.T) {
		rig, pairs := lagRig(t, cluster.GP7, map[int][]any{7000: {"streaming", "sync", int64(0), int64(100)}, 7001: {"streaming", "sync", int64(11 << 30), int64(100)}}, nil)
		_, err := rig.r.gate(t.Context(), pairs)
		var ee *app.ExpectedError
		want := "11811160064 bytes of wal is still to be replayed on mirror with dbid 5, let mirror catchup on replay then trigger rebalance. " +
			"Use --replay-lag to configure the allowed replay lag limit or --disable-replay-lag to disable the check completely if you wish to continue with rebalance anyway"
		if !errors.As(err, &ee) || err.Error() != want {
			t.Errorf("%v, want %q", err, want)
		}
		rig.r.opts.DisableReplayLag = true
		if eligible, err := rig.r.gate(t.Context(), pairs); err != nil || len(eligible) != 2 {
			t.Errorf("--disable-replay-lag: %v, %d eligible", err, len(eligible))
		}
	})
	t.Run("not streaming", func(t *testing.T) {
		rig, pairs := lagRig(t, cluster.GP7, map[int][]any{7000: nil, 7001: {"catchup", "async", int64(0), int64(0)}}, nil)
		eligible, err := rig.r.gate(t.Context(), pairs)
		if err != nil || len(eligible) != 0 {
			t.Fatalf("%v, %d eligible", err, len(eligible))
		}
		if !strings.Contains(rig.out.String(), "dbid 7 has no walsender for its mirror dbid 3") || !strings.Contains(rig.out.String(), "dbid 5 does not stream from dbid 9 (walsender state catchup)") {
			t.Errorf("no reason:\n%s", rig.out)
		}
	})
	t.Run("query fails", func(t *testing.T) {
		rig, pairs := lagRig(t, cluster.GP7, map[int][]any{7000: {"streaming", "sync", int64(0), int64(0)}}, nil)
		_, err := rig.r.gate(t.Context(), pairs)
		if err == nil || !strings.HasPrefix(err.Error(), "Failed to query pg_stat_replication for host:sdw1, port:7001, error: connection refused") {
			t.Errorf("%v", err)
		}
	})
	t.Run("stopped by an interrupted run", func(t *testing.T) {
		// dbid 9's query fails and pg_ctl finds it stopped: the earlier
		// run's stop is resumed.
		rig, pairs := lagRig(t, cluster.GP7, map[int][]any{7000: {"streaming", "sync", int64(0), int64(0)}}, map[int]int{9: 3})
		eligible, err := rig.r.gate(t.Context(), pairs)
		if err != nil || len(eligible) != 2 {
			t.Errorf("%v, %d eligible", err, len(eligible))
		}
	})
	t.Run("an interrupted run's primary that still runs", func(t *testing.T) {
		// The journal says dbid 9 was being stopped, but it runs: its
		// failed query is a failure, not a stop.
		rig, pairs := lagRig(t, cluster.GP7, map[int][]any{7000: {"streaming", "sync", int64(0), int64(0)}}, map[int]int{9: 0})
		if _, err := rig.r.gate(t.Context(), pairs); err == nil || !strings.HasPrefix(err.Error(), "Failed to query pg_stat_replication for host:sdw1, port:7001") {
			t.Errorf("%v", err)
		}
		// ... and one that runs and answers, its mirror not streaming,
		// is judged like any other.
		rig, pairs = lagRig(t, cluster.GP7, map[int][]any{7000: {"streaming", "sync", int64(0), int64(0)}, 7001: {"catchup", "async", int64(0), int64(0)}}, map[int]int{9: 0})
		eligible, err := rig.r.gate(t.Context(), pairs)
		if err != nil || len(eligible) != 1 || eligible[0].Acting.DBID != 7 {
			t.Errorf("%v, eligible %+v", err, eligible)
		}
	})
	t.Run("not a synchronous standby", func(t *testing.T) {
		rig, pairs := lagRig(t, cluster.GP7, map[int][]any{7000: {"streaming", "async", int64(0), int64(0)}, 7001: {"streaming", "sync", int64(0), int64(0)}}, nil)
		eligible, err := rig.r.gate(t.Context(), pairs)
		if err != nil || len(eligible) != 1 || eligible[0].Acting.DBID != 9 {
			t.Errorf("%v, eligible %+v", err, eligible)
		}
		if !strings.Contains(rig.out.String(), "dbid 3 is not a synchronous standby of dbid 7 (sync_state async)") {
			t.Errorf("no reason:\n%s", rig.out)
		}
	})
	t.Run("lag unknown", func(t *testing.T) {
		rig, pairs := lagRig(t, cluster.GP7, map[int][]any{7000: {"streaming", "sync", nil, nil}, 7001: {"streaming", "sync", int64(0), int64(0)}}, nil)
		if _, err := rig.r.gate(t.Context(), pairs); err == nil || !strings.HasPrefix(err.Error(), "cannot read the replay lag of mirror dbid 3") {
			t.Errorf("%v", err)
		}
	})
	t.Run("interrupted before the gate", func(t *testing.T) {
		rig, pairs := lagRig(t, cluster.GP7, map[int][]any{7000: {"streaming", "sync", int64(0), int64(0)}, 7001: {"streaming", "sync", int64(0), int64(0)}}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := rig.r.gate(ctx, pairs); !errors.Is(err, context.Canceled) {
			t.Errorf("%v, want context.Canceled", err)
		}
	})
	t.Run("GP6 keeps its output", func(t *testing.T) {
		rig, pairs := lagRig(t, cluster.GP6, map[int][]any{7000: {"streaming", "sync", int64(0), int64(0)}, 7001: {"streaming", "sync", int64(0), int64(0)}}, nil)
		if _, err := rig.r.gate(t.Context(), pairs); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(rig.out.String(), "[INFO]:-Allowed replay lag") {
			t.Errorf("GP6 printed GP7's line:\n%s", rig.out)
		}
	})
}

// TestLagSQL: each flavour asks in its own server's words; GP6's are
// PostgreSQL 9.4's.
func TestLagSQL(t *testing.T) {
	gp6 := lagSQL(cluster.GP6)
	for _, bad := range []string{"_lsn", "pg_wal"} {
		if strings.Contains(gp6, bad) {
			t.Errorf("GP6 query uses %q: %s", bad, gp6)
		}
	}
	for _, want := range []string{"pg_xlog_location_diff(flush_location, replay_location)", "pg_stat_replication"} {
		if !strings.Contains(gp6, want) {
			t.Errorf("GP6 query lacks %q", want)
		}
	}
	for _, f := range []cluster.Flavour{cluster.GP7, cluster.Cloudberry} {
		if q := lagSQL(f); !strings.Contains(q, "pg_wal_lsn_diff(flush_lsn, replay_lsn)") {
			t.Errorf("%v: %s", f, q)
		}
	}
}

// TestUnavailability: the estimate is the replay lag at the sampled rate
// plus FTS's promotion time, and says so; without a rate it says it does
// not know.
func TestUnavailability(t *testing.T) {
	for _, tt := range []struct {
		l    lagReading
		want string
	}{
		{lagReading{State: "streaming", SyncState: "sync", Bytes: 0}, "~6s (FTS 6s)"},
		{lagReading{State: "streaming", SyncState: "sync", Bytes: 50 << 20, Rate: 20 << 20}, "~9s (replay 2.5s at 20 MB/s + FTS 6s)"},
		{lagReading{State: "streaming", SyncState: "sync", Bytes: 50 << 20}, "unknown: 50 MB to replay, replay not advancing (+ FTS 6s)"},
		{lagReading{Err: errors.New("refused")}, "unknown"},
	} {
		if got := unavailability(tt.l, 6); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.l, got, tt.want)
		}
	}
}

// TestDecideRestore: a stopped primary is started again only when the
// catalog still names it the primary and its peer is still a standby.
func TestDecideRestore(t *testing.T) {
	p, m, s, n, u, d := cluster.RolePrimary, cluster.RoleMirror, cluster.ModeSynced, cluster.ModeNotSynced, cluster.StatusUp, cluster.StatusDown
	acting := seg(7, 1, p, m, s, u, "sdw1", 7000, "/m1")
	peer := seg(3, 1, m, p, s, u, "sdw2", 6000, "/p1")
	promotedPeer := seg(3, 1, p, p, n, u, "sdw2", 6000, "/p1")
	failedOver := seg(7, 1, m, m, n, d, "sdw1", 7000, "/m1")
	for _, tt := range []struct {
		name       string
		cur, other *cluster.Segment
		state      string
		want       restoreAction
	}{
		{"still primary, peer a standby", &acting, &peer, "in archive recovery", restoreRestart},
		{"peer promoted", &failedOver, &promotedPeer, "in production", restorePromoted},
		{"peer promoted behind the catalog", &acting, &peer, "in production", restoreLeave},
		{"peer state unknown", &acting, &peer, "", restoreLeave},
		{"failed over, peer not up yet", &failedOver, &peer, "in archive recovery", restoreLeave},
		{"catalog unreadable", nil, nil, "in archive recovery", restoreLeave},
	} {
		if got, why := decideRestore(tt.cur, tt.other, tt.state); got != tt.want {
			t.Errorf("%s: %v (%s), want %v", tt.name, got, why, tt.want)
		}
	}
}

// TestPromotionTimeout: when the distributed transaction keeps failing
// past the bound, the run fails with Greenplum's message; a stopped
// primary that the catalog still names and whose peer is still a standby
// is started again, one whose peer shows otherwise stays stopped.
func TestPromotionTimeout(t *testing.T) {
	rig := newSelectRig(t, unbalanced())
	fake := &remotetest.Fake{}
	rig.r.exec = fake
	rig.r.opts.PromotionTimeout = 700 * time.Millisecond
	rig.r.opts.Parallel, rig.r.opts.ParallelPerHost = 4, 4
	rig.r.co.GPHome = "/usr/local/gp"
	sessions := 0
	rig.r.env.Connect = func(_ context.Context, cfg cluster.ConnConfig) (cluster.Conn, error) {
		if cfg.Port != rig.r.co.Port || cfg.Utility {
			return nil, fmt.Errorf("unexpected connection %+v", cfg)
		}
		sessions++
		coord := &clustertest.FakeConn{} // a new session each time
		coord.On(reconfigureProbeSQL, clustertest.Bool(true))
		coord.On("BEGIN", clustertest.Tag("BEGIN"))
		coord.On(promotionSQL, clustertest.Err(errors.New("ERROR: failed to acquire resources on one or more segments (SQLSTATE 08006)")))
		coord.On(cluster.LoadSQL, clustertest.SegmentRows(unbalanced()))
		return coord, nil
	}
	// content 1's peer (dbid 3 on sdw2) is still a standby; content 3's
	// (dbid 5, sdw2) was promoted behind the catalog's back.
	fake.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		if c.Label != "pg_controldata" {
			return remotetest.Response{}, false
		}
		return remotetest.Response{Stdout: "@@ 3 0\nDatabase cluster state:               in archive recovery\n@@stderr\n" +
			"@@ 5 0\nDatabase cluster state:               in production\n@@stderr\n"}, true
	})
	fake.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		if !strings.HasPrefix(c.Label, "start ") {
			return remotetest.Response{}, false
		}
		return remotetest.Response{Stdout: segctl.Tag + " 7 started Start Succeeded\n"}, true
	})
	pairs := switchPairs(rig.r.co.Cluster, rig.r.unreachable)
	stopped := []switchPair{pairs[0], pairs[2]}

	err := rig.r.reconfigure(t.Context(), stopped)
	var ee *app.ExpectedError
	if !errors.As(err, &ee) || err.Error() != "Mirror promotion did not complete in 1 seconds." {
		t.Fatalf("%v", err)
	}
	if sessions < 3 {
		t.Errorf("%d sessions: the transaction was not retried in new sessions", sessions)
	}
	var started []string
	for _, c := range fake.Calls() {
		if strings.HasPrefix(c.Label, "start ") {
			started = append(started, c.Host)
			if args := strings.Join(c.Args, " "); !strings.Contains(args, "/data/mirror/gpseg1") || strings.Contains(args, "/data/mirror/gpseg3") {
				t.Errorf("start arguments %q: want dbid 7's directory alone", args)
			}
		}
	}
	if d := cmp.Diff([]string{"sdw1"}, started); d != "" {
		t.Errorf("start commands by host (-want +got):\n%s", d)
	}
	out := rig.out.String()
	for _, want := range []string{
		"its mirror dbid 3 was not promoted and is still a standby; starting the primary again",
		"dbid 7 (content 1) on sdw1:7000 serves as the primary again",
		"[ERROR]:-content 3 (primary dbid 9 on sdw1:7001, mirror dbid 5 on sdw2:6001): the primary stays stopped: its mirror dbid 5 is not a standby any more (pg_controldata: in production)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

// TestPromotionDuringRestart: FTS promotes the peer while the stopped
// primary starts again; the check that follows finds it and stops the
// restarted primary at once (immediate), leaving one primary.
func TestPromotionDuringRestart(t *testing.T) {
	rig := newSelectRig(t, unbalanced())
	fake := &remotetest.Fake{}
	rig.r.exec = fake
	rig.r.opts.Parallel, rig.r.opts.ParallelPerHost = 4, 4
	rig.r.co.GPHome = "/usr/local/gp"
	var mu sync.Mutex
	restarted := false
	promoted := unbalanced() // content 1 failed over back: dbid 3 primary, dbid 7 down
	promoted[3].Role, promoted[4].Role, promoted[4].Status = cluster.RolePrimary, cluster.RoleMirror, cluster.StatusDown
	rig.r.env.Connect = func(_ context.Context, cfg cluster.ConnConfig) (cluster.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		coord := &clustertest.FakeConn{}
		if restarted {
			coord.On(cluster.LoadSQL, clustertest.SegmentRows(promoted))
		} else {
			coord.On(cluster.LoadSQL, clustertest.SegmentRows(unbalanced()))
		}
		return coord, nil
	}
	fake.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		if c.Label != "pg_controldata" {
			return remotetest.Response{}, false
		}
		mu.Lock()
		defer mu.Unlock()
		state := "in archive recovery"
		if restarted {
			state = "in production"
		}
		return remotetest.Response{Stdout: "@@ 3 0\nDatabase cluster state:               " + state + "\n@@stderr\n"}, true
	})
	fake.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		switch {
		case strings.HasPrefix(c.Label, "start "):
			mu.Lock()
			restarted = true
			mu.Unlock()
			return remotetest.Response{Stdout: segctl.Tag + " 7 started Start Succeeded\n"}, true
		case strings.HasPrefix(c.Label, "stop "):
			return remotetest.Response{Stdout: segctl.Tag + " 7 stopped Shutdown Immediate\n"}, true
		}
		return remotetest.Response{}, false
	})
	pairs := switchPairs(rig.r.co.Cluster, rig.r.unreachable)
	rig.r.restoreUnpromoted(t.Context(), pairs[:1])

	var stops []string
	for _, c := range fake.Calls() {
		if strings.HasPrefix(c.Label, "stop ") {
			stops = append(stops, strings.Join(c.Args[:2], " "))
		}
	}
	if d := cmp.Diff([]string{"/usr/local/gp immediate"}, stops); d != "" {
		t.Errorf("stops after the restart (-want +got):\n%s", d)
	}
	if !strings.Contains(rig.out.String(), "FTS promoted the mirror while the primary started again; stopping the primary (immediate)") {
		t.Errorf("not reported:\n%s", rig.out)
	}
}

// TestRebalanceDryRunKeepsJournal: --dry-run -r with an earlier run's
// journal and nothing left to switch says what it would do, and neither
// recovers anything nor removes the journal.
func TestRebalanceDryRunKeepsJournal(t *testing.T) {
	p, m, s, n, u := cluster.RolePrimary, cluster.RoleMirror, cluster.ModeSynced, cluster.ModeNotSynced, cluster.StatusUp
	rig := newSelectRig(t, []cluster.Segment{
		seg(1, -1, p, p, n, u, "mdw", 5432, "/c"),
		seg(2, 0, p, p, s, u, "sdw1", 6000, "/p0"),
		seg(3, 0, m, m, s, u, "sdw2", 7000, "/m0"),
	})
	rig.r.opts.DryRun, rig.r.opts.NonInteractive = true, true
	rig.r.co.DataDir = t.TempDir()
	j, err := oplock.NewJournal(rig.r.co.DataDir, oplock.Record{Tool: Tool, Items: []oplock.Item{{DBID: 3, Method: "rebalance", Step: stepStopped}}})
	if err != nil {
		t.Fatal(err)
	}
	rig.r.prev = ptr(j.Record())
	if err := rig.r.rebalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(oplock.JournalPath(rig.r.co.DataDir, Tool)); err != nil {
		t.Errorf("the journal is gone after a dry run: %v", err)
	}
	out := rig.out.String()
	if !strings.Contains(out, "Dry run: gprecoverseg -r would now recover the segments the earlier run left down") || strings.Contains(out, "START ANOTHER RECOVER") {
		t.Errorf("dry run output:\n%s", out)
	}
}

func ptr[T any](v T) *T { return &v }

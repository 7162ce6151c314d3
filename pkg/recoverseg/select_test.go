package recoverseg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// seg is a row of a 2-host test cluster (host name ≠ address, the same
// ports and paths on each host).
func seg(dbid, content int, role, preferred cluster.Role, mode cluster.Mode, status cluster.Status, host string, port int, dir string) cluster.Segment {
	return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: preferred, Mode: mode,
		Status: status, Hostname: host, Address: host + "-1", Port: port, DataDir: dir}
}

// degraded is a cluster where content 0's mirror (dbid 4) is down and
// content 1's primary (dbid 3) failed over to its mirror (dbid 5).
func degraded() []cluster.Segment {
	p, m, s, n, u, d := cluster.RolePrimary, cluster.RoleMirror, cluster.ModeSynced, cluster.ModeNotSynced, cluster.StatusUp, cluster.StatusDown
	return []cluster.Segment{
		seg(1, -1, p, p, n, u, "mdw", 5432, "/data/coordinator/gpseg-1"),
		seg(2, 0, p, p, n, u, "sdw1", 6000, "/data/primary/gpseg0"),
		seg(4, 0, m, m, n, d, "sdw2", 7000, "/data/mirror/gpseg0"),
		seg(3, 1, m, p, n, d, "sdw2", 6000, "/data/primary/gpseg1"),
		seg(5, 1, p, m, n, u, "sdw1", 7000, "/data/mirror/gpseg1"),
		seg(6, 2, p, p, s, u, "sdw2", 6001, "/data/primary/gpseg2"),
		seg(7, 2, m, m, s, u, "sdw1", 7001, "/data/mirror/gpseg2"),
	}
}

// selectRig is a recovery with a fake coordinator connection and fake
// utility connections to the sources, by port.
type selectRig struct {
	r       *recovery
	out     *bytes.Buffer
	coord   *clustertest.FakeConn
	sources map[int]*clustertest.FakeConn
	refuse  map[int]error // connection errors by port
}

func newSelectRig(t *testing.T, segs []cluster.Segment) *selectRig {
	t.Helper()
	env, out, _ := apptest.Env(t, "gprecoverseg")
	env.Log = slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: out, Level: slog.LevelDebug}))
	c, err := cluster.New(segs)
	if err != nil {
		t.Fatal(err)
	}
	rig := &selectRig{out: out, coord: &clustertest.FakeConn{}, sources: map[int]*clustertest.FakeConn{}, refuse: map[int]error{}}
	rig.coord.On(basebackupRunningSQL, clustertest.Rows([]clustertest.Column{{Name: "gp_segment_id", OID: pgtype.Int4OID}}))
	env.Connect = func(ctx context.Context, cfg cluster.ConnConfig) (cluster.Conn, error) {
		if err := rig.refuse[cfg.Port]; err != nil {
			return nil, err
		}
		return rig.source(cfg.Port, false, 0).Connector()(ctx, cfg) // a new session each time
	}
	rig.r = &recovery{env: env, opts: &Options{}, co: &coordinator.Coordinator{Cluster: c, Conn: rig.coord}, f: cluster.GP7, unreachable: map[string]error{}}
	return rig
}

// source returns the fake of the instance on port, scripted to answer
// sourceStateSQL with inRecovery and rewinds the first time it is made,
// and that no differential recovery copies from it.
func (rig *selectRig) source(port int, inRecovery bool, rewinds int64) *clustertest.FakeConn {
	if c := rig.sources[port]; c != nil {
		return c
	}
	c := &clustertest.FakeConn{}
	c.On(sourceStateSQL, clustertest.Rows([]clustertest.Column{{Name: "r", OID: pgtype.BoolOID}, {Name: "n", OID: pgtype.Int8OID}}, []any{inRecovery, rewinds}))
	c.On(differentialRunningSQL, clustertest.Rows([]clustertest.Column{{Name: "b", OID: pgtype.BoolOID}, {Name: "n", OID: pgtype.Int8OID}}, []any{false, int64(0)}))
	rig.sources[port] = c
	return c
}

func dbids(ts []target) string {
	var s []string
	for _, t := range ts {
		s = append(s, fmt.Sprintf("%d<-%d", t.Failed.DBID, t.Source.DBID))
	}
	return strings.Join(s, " ")
}

// TestSelectTargets: every down row is paired with its acting primary, in
// catalog order, with the progress file of spec §3.2.
func TestSelectTargets(t *testing.T) {
	rig := newSelectRig(t, degraded())
	rig.r.stamp = "20261204_144917"
	rig.r.opts.LogDir = "/home/gpadmin/gpAdminLogs"
	ts, err := rig.r.selectTargets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := dbids(ts); got != "4<-2 3<-5" {
		t.Errorf("targets %s, want 4<-2 3<-5", got)
	}
	if ts[1].ProgressFile != "/home/gpadmin/gpAdminLogs/pg_rewind.20261204_144917.dbid3.out" {
		t.Errorf("progress file %q", ts[1].ProgressFile)
	}
}

// TestSelectSkips: Greenplum's skip rules, each with its warning: a
// source that feeds a pg_basebackup, a source a pg_rewind this run did
// not start is running against, and a failed instance whose host is
// unreachable.
func TestSelectSkips(t *testing.T) {
	for _, tt := range []struct {
		name    string
		prepare func(rig *selectRig)
		want    string
		warning string
	}{
		{"basebackup", func(rig *selectRig) {
			rig.coord.On(basebackupRunningSQL, clustertest.Rows([]clustertest.Column{{Name: "gp_segment_id", OID: pgtype.Int4OID}}, []any{int32(0)}))
		}, "3<-5", "Found pg_basebackup running for segments with contentIds [0], skipping recovery of these segments"},
		{"rewind", func(rig *selectRig) { rig.source(7000, false, 1) },
			"4<-2", "Found pg_rewind running for segments with contentIds [1], skipping recovery of these segments"},
		{"unreachable", func(rig *selectRig) { rig.r.unreachable["sdw2"] = errors.New("connection refused") },
			"", "Not recovering segment 4 because sdw2 is unreachable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rig := newSelectRig(t, degraded())
			tt.prepare(rig)
			ts, err := rig.r.selectTargets(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got := dbids(ts); got != tt.want {
				t.Errorf("targets %q, want %q", got, tt.want)
			}
			if !strings.Contains(rig.out.String(), "[WARNING]:-"+tt.warning) {
				t.Errorf("no warning %q:\n%s", tt.warning, rig.out)
			}
		})
	}
}

// TestSelectOwnCopy: a pg_basebackup from content 0's primary is an
// earlier full run's orphan when its journal was copying dbid 4 into the
// very place this run copies to: a full rerun keeps the segment (it stops
// the orphan and copies again); an incremental rerun, or a journal that
// was copying it elsewhere, skips it with Greenplum's warning.
func TestSelectOwnCopy(t *testing.T) {
	const skipped = "Found pg_basebackup running for segments with contentIds [0], skipping recovery of these segments"
	for _, tt := range []struct {
		name string
		full bool
		item oplock.Item
		want string
	}{
		{"full rerun, copying there", true, oplock.Item{DBID: 4, Method: "full", Host: "sdw2", Port: 7000, DataDir: "/data/mirror/gpseg0/", Step: stepCopying}, "4<-2 3<-5"},
		{"incremental rerun", false, oplock.Item{DBID: 4, Method: "full", Host: "sdw2", Port: 7000, DataDir: "/data/mirror/gpseg0", Step: stepCopying}, "3<-5"},
		{"full rerun, copying elsewhere", true, oplock.Item{DBID: 4, Method: "full", Host: "sdw3", Port: 7000, DataDir: "/data/mirror/gpseg0", Step: stepCopying}, "3<-5"},
		{"full rerun, the copy done", true, oplock.Item{DBID: 4, Method: "full", Host: "sdw2", Port: 7000, DataDir: "/data/mirror/gpseg0", Step: stepStarted}, "3<-5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rig := newSelectRig(t, degraded())
			rig.coord.On(basebackupRunningSQL, clustertest.Rows([]clustertest.Column{{Name: "gp_segment_id", OID: pgtype.Int4OID}}, []any{int32(0)}))
			rig.r.opts.Full = tt.full
			rig.r.prev = &oplock.Record{Items: []oplock.Item{tt.item}}
			ts, err := rig.r.selectTargets(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got := dbids(ts); got != tt.want {
				t.Errorf("targets %q, want %q", got, tt.want)
			}
			if warned := strings.Contains(rig.out.String(), "[WARNING]:-"+skipped); warned != (tt.want != "4<-2 3<-5") {
				t.Errorf("warning %v:\n%s", warned, rig.out)
			}
		})
	}
}

// TestSelectDoubleFault: FTS never marks both instances of a content
// down, so the source is proven live before anything changes; one that
// does not answer, or answers in recovery, refuses the whole run naming
// both instances (exit 2).
func TestSelectDoubleFault(t *testing.T) {
	for _, tt := range []struct {
		name    string
		prepare func(rig *selectRig)
		cause   string
	}{
		{"source down", func(rig *selectRig) {
			rig.refuse[7000] = errors.New("dial tcp 127.0.60.1:7000: connect: connection refused")
		},
			"does not answer: dial tcp 127.0.60.1:7000: connect: connection refused"},
		{"source in recovery", func(rig *selectRig) { rig.source(7000, true, 0) }, "is in recovery (a mirror, not a primary)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rig := newSelectRig(t, degraded())
			tt.prepare(rig)
			_, err := rig.r.selectTargets(t.Context())
			var ee *app.ExpectedError
			var he *app.HintError
			if !errors.As(err, &ee) || !errors.As(err, &he) {
				t.Fatalf("%v, want an expected error with a hint", err)
			}
			want := "both instances of content 1 are unavailable: dbid 3 is down, and its peer dbid 5 (sdw1:7000, the acting primary in the catalog) " + tt.cause + "; no copy is possible and nothing was changed"
			if !strings.Contains(err.Error(), want) || !strings.Contains(rig.out.String(), "[ERROR]:-"+want) {
				t.Errorf("%v\n%s\nwant %q", err, rig.out, want)
			}
		})
	}
}

// TestValidSource: §3's triple validation with Greenplum's messages.
func TestValidSource(t *testing.T) {
	p, m, n, u, d := cluster.RolePrimary, cluster.RoleMirror, cluster.ModeNotSynced, cluster.StatusUp, cluster.StatusDown
	failed := seg(4, 0, m, m, n, d, "sdw2", 7000, "/m0")
	for _, tt := range []struct {
		src         cluster.Segment
		unreachable string
		want        string
	}{
		{seg(2, 0, m, p, n, u, "sdw1", 6000, "/p0"), "", "Segment to recover from for content 0 is not a primary"},
		{seg(2, 0, p, p, n, d, "sdw1", 6000, "/p0"), "", "Primary segment is not up for content 0"},
		{seg(1, -1, p, p, n, u, "mdw", 5432, "/c"), "", "Segment to recover from for content 0 is not a correct segment (it is a master or standby master)"},
		{seg(2, 0, p, p, n, u, "sdw1", 6000, "/p0"), "sdw1", "The recovery source segment sdw1 (content 0) is unreachable."},
		{seg(2, 0, p, p, n, u, "sdw1", 6000, "/p0"), "", ""},
	} {
		un := map[string]error{}
		if tt.unreachable != "" {
			un[tt.unreachable] = errors.New("timeout")
		}
		err := validSource(failed, tt.src, un)
		if (err == nil) != (tt.want == "") || (err != nil && err.Error() != tt.want) {
			t.Errorf("%v: %v, want %q", tt.src, err, tt.want)
		}
	}
}

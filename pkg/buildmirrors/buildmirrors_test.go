package buildmirrors_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
)

const gphome = "/usr/local/greenplum-db"

func seg(dbid, content int, role cluster.Role, host string, port int, dir string) cluster.Segment {
	return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: role,
		Mode: cluster.ModeNotSynced, Status: cluster.StatusUp, Hostname: host, Address: host + "-1", Port: port, DataDir: dir}
}

// A 2-host cluster (hostname ≠ address, same ports and paths on each host)
// and its group mirrors.
var (
	coord   = seg(1, -1, cluster.RolePrimary, "mdw", 5432, "/data/master/gpseg-1")
	p0      = seg(2, 0, cluster.RolePrimary, "sdw1", 6000, "/data/primary/gpseg0")
	p1      = seg(3, 1, cluster.RolePrimary, "sdw2", 6000, "/data/primary/gpseg1")
	mirrors = []buildmirrors.Mirror{
		{Source: p0, Target: seg(4, 0, cluster.RoleMirror, "sdw2", 7000, "/data/mirror/gpseg0")},
		{Source: p1, Target: seg(5, 1, cluster.RoleMirror, "sdw1", 7000, "/data/mirror/gpseg1")},
	}
)

func opts(dry bool) buildmirrors.Options {
	return buildmirrors.Options{Prog: "gpaddmirrors", Flavour: cluster.GP7, GPHome: gphome, CoordinatorPort: 5432,
		CoordinatorDataDir: "/nonexistent", User: "gpadmin", BatchSize: 16, SegmentBatchSize: 64, DryRun: dry,
		StreamTimeout: time.Second}
}

// fakeHosts scripts the segment hosts: probe answers from targets (by
// dbid), every other command succeeds except those fail says fail.
func fakeHosts(targets map[int]string, fail func(remote.Command) bool) *remotetest.Fake {
	f := &remotetest.Fake{}
	f.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		if fail != nil && fail(c) {
			return remotetest.Response{ExitCode: 1, Stderr: "pg_basebackup: error: could not create directory: Permission denied"}, true
		}
		switch {
		case strings.HasPrefix(c.Label, "check mirror targets"):
			var out strings.Builder
			for i := 0; i+3 < len(c.Args); i += 4 {
				var dbid int
				fmt.Sscan(c.Args[i], &dbid)
				t, ok := targets[dbid]
				if !ok {
					t = "state=absent gpdbid= port= standby=0 pid= busy=0 avail=100000000"
				}
				fmt.Fprintf(&out, "TARGET %d %s\n", dbid, t)
			}
			return remotetest.Response{Stdout: out.String()}, true
		case strings.HasPrefix(c.Label, "measure primaries"):
			var out strings.Builder
			for i := 0; i+1 < len(c.Args); i += 2 {
				fmt.Fprintf(&out, "SIZE %s 40000\n", c.Args[i])
			}
			return remotetest.Response{Stdout: out.String()}, true
		case strings.HasPrefix(c.Label, "create directory"):
			return remotetest.Response{Stdout: "created\n"}, true
		case strings.HasPrefix(c.Label, "clear the unfinished copy"):
			if c.Args[1] == "1" {
				return remotetest.Response{Stdout: "created\n"}, true
			}
			return remotetest.Response{Stdout: "emptied\n"}, true
		case strings.HasPrefix(c.Label, "pg_basebackup"):
			return remotetest.Response{Stderr: "20000/40000 kB (50%), 0/1 tablespace\n40000/40000 kB (100%), 1/1 tablespace\n"}, true
		}
		return remotetest.Response{}, true
	})
	return f
}

// fakeDB scripts one connection for the coordinator and the primaries.
func fakeDB(slotExists bool) *clustertest.FakeConn {
	db := &clustertest.FakeConn{}
	db.On(cluster.LoadSQL, clustertest.SegmentRows([]cluster.Segment{coord, p0, p1}))
	active := clustertest.Rows([]clustertest.Column{{Name: "active", OID: pgtype.BoolOID}})
	if slotExists {
		active = clustertest.Rows([]clustertest.Column{{Name: "active", OID: pgtype.BoolOID}}, []any{false})
	}
	db.On(buildmirrors.SlotActiveSQL, active)
	db.On(buildmirrors.DropSlotSQL, clustertest.Tag("SELECT 1"))
	db.On(buildmirrors.CreateSlotSQL, clustertest.Tag("SELECT 1"))
	db.On(buildmirrors.StreamingSQL, clustertest.Value(pgtype.Int8OID, int64(1)))
	db.On(cluster.AddSegmentSQL, clustertest.Int2(4), clustertest.Int2(5))
	db.On(cluster.HistoryInsertSQL, clustertest.Tag("INSERT 0 1"))
	db.On(cluster.FTSProbeSQL, clustertest.Bool(true))
	return db
}

func env(ex remote.Executor, db *clustertest.FakeConn) buildmirrors.Env {
	return buildmirrors.Env{
		Log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Exec: ex,
		Conn: db,
		Connect: func(context.Context, cluster.ConnConfig) (cluster.Conn, error) {
			return noClose{db}, nil
		},
		LookupHost: func(_ context.Context, h string) ([]string, error) { return []string{"10.0.0." + h[len(h)-1:]}, nil },
		Sleep:      func(context.Context, time.Duration) error { return nil },
	}
}

// noClose shares one fake connection among every connection the pipeline
// opens (coordinator and primaries).
type noClose struct{ *clustertest.FakeConn }

func (noClose) Close(context.Context) error { return nil }

// TestStepsGP7 pins every step's per-host commands and SQL (golden).
func TestStepsGP7(t *testing.T) {
	hba := map[string][]string{}
	addrs := map[string][]string{"sdw1": {"10.0.0.1"}, "sdw2": {"10.0.0.2"}}
	for _, m := range mirrors {
		hba[m.Source.DataDir] = buildmirrors.HBAEntries("gpadmin", false, m.Source, []string{m.Target.Hostname}, addrs)
	}
	probe := map[int]buildmirrors.TargetProbe{}
	steps := buildmirrors.Steps(opts(false), mirrors, probe, "281f4dd391c358af_261123185258", hba, nil)
	golden.Check(t, "buildmirrors", "steps_gp7.golden", []byte(buildmirrors.RenderSteps(steps)))
}

// TestGP6CommandsMatchTranscript compares the GP6 command lines and SQL
// with reference/gp6-transcripts/gpaddmirrors-i-v.txt (mirror dbid 4 of
// the transcript's single-host gpdemo cluster).
func TestGP6CommandsMatchTranscript(t *testing.T) {
	src := cluster.Segment{DBID: 2, ContentID: 0, Role: cluster.RolePrimary, PreferredRole: cluster.RolePrimary,
		Mode: cluster.ModeNotSynced, Status: cluster.StatusUp, Hostname: "mdw", Address: "mdw", Port: 7002, DataDir: "/data/dbfast1/demoDataDir0"}
	m := buildmirrors.Mirror{Source: src, Target: cluster.Segment{DBID: 4, ContentID: 0, Role: cluster.RoleMirror, PreferredRole: cluster.RoleMirror,
		Mode: cluster.ModeNotSynced, Status: cluster.StatusUp, Hostname: "mdw", Address: "mdw", Port: 7004, DataDir: "/data/dbfast_mirror1/demoDataDir0"}}

	got := strings.Join(buildmirrors.BaseBackupArgv(cluster.GP6, gphome, m)[1:], " ")
	want := "-c fast -D /data/dbfast_mirror1/demoDataDir0 -h mdw -p 7002 --slot internal_wal_replication_slot --xlog-method stream --write-recovery-conf --target-gp-dbid 4 -E ./db_dumps -E ./gpperfmon/data -E ./gpperfmon/logs -E ./promote --progress --verbose"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("pg_basebackup (-transcript +ours):\n%s", d)
	}

	start := strings.Join(buildmirrors.StartArgv(cluster.GP6, "$GPHOME", "281f4dd391c358af_261123185258", m), " ")
	wantStart := `env GPSESSID=0000000000 GPERA=281f4dd391c358af_261123185258 $GPHOME/bin/pg_ctl -D /data/dbfast_mirror1/demoDataDir0 -l /data/dbfast_mirror1/demoDataDir0/pg_log/startup.log -w -t 600 -o  -p 7004 -c gp_role=utility  start`
	if d := cmp.Diff(wantStart, start); d != "" {
		t.Errorf("pg_ctl start (-transcript +ours):\n%s", d)
	}

	var sql []string
	for _, s := range buildmirrors.RegisterStatements("gpaddmirrors", []buildmirrors.Mirror{m}) {
		sql = append(sql, s.String())
	}
	wantSQL := []string{
		"SELECT gp_add_segment(4::int2, 0::int2, 'm', 'm', 'n', 'd', 7004, 'mdw', 'mdw', '/data/dbfast_mirror1/demoDataDir0')",
		"INSERT INTO gp_configuration_history (time, dbid, \"desc\") VALUES(\nnow(),\n  4,\n  'gpaddmirrors: segment config for resync: inserted mirror segment configuration'\n)",
	}
	if d := cmp.Diff(wantSQL, sql); d != "" {
		t.Errorf("catalog SQL (-transcript +ours):\n%s", d)
	}

	hba := buildmirrors.HBAEntries("gpadmin", false, src, []string{"mdw"}, map[string][]string{"mdw": {"10.0.0.2", "fd00::a"}})
	wantHBA := []string{
		"host replication gpadmin samehost trust",
		"host all gpadmin 10.0.0.2/32 trust",
		"host all gpadmin fd00::a/128 trust",
		"host replication gpadmin 10.0.0.2/32 trust",
		"host replication gpadmin fd00::a/128 trust",
	}
	if d := cmp.Diff(wantHBA, hba); d != "" {
		t.Errorf("pg_hba.conf entries (-transcript +ours):\n%s", d)
	}
}

func labels(calls []remote.Command) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Host+": "+c.Label)
	}
	slices.Sort(out)
	return out
}

func hasLabel(calls []remote.Command, label string) bool {
	return slices.ContainsFunc(calls, func(c remote.Command) bool { return c.Label == label })
}

// TestOneCopyFails: content 1's copy on sdw1 fails; content 0 is copied,
// started and registered; content 1 is cleaned up: its pg_basebackup
// stopped by pid file, its slot dropped, its directory (created by the
// run) removed, no catalog row.
func TestOneCopyFails(t *testing.T) {
	ex := fakeHosts(nil, func(c remote.Command) bool { return c.Host == "sdw1" && strings.HasPrefix(c.Label, "pg_basebackup") })
	db := fakeDB(true)
	rep, err := buildmirrors.Run(t.Context(), env(ex, db), opts(false), mirrors)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, o := range rep.Outcomes {
		got = append(got, fmt.Sprintf("dbid %d ok=%t step=%q created=%t copied=%t", o.Mirror.Target.DBID, o.OK(), o.FailedStep, o.Created, o.Copied))
	}
	want := []string{
		`dbid 4 ok=true step="" created=true copied=true`,
		`dbid 5 ok=false step="copy primaries with pg_basebackup" created=true copied=false`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("outcomes (-want +got):\n%s", d)
	}
	calls := ex.Calls()
	stop := slices.ContainsFunc(calls, func(c remote.Command) bool {
		return c.Host == "sdw1" && slices.Contains(c.Args, filepath.Join("/data/mirror", ".gpseg1.pg_basebackup.pid"))
	})
	if !stop {
		t.Errorf("no stop of content 1's pg_basebackup by pid file; calls:\n%s", strings.Join(labels(calls), "\n"))
	}
	if !hasLabel(calls, "remove directory of content 1 mirror (dbid 5)") {
		t.Errorf("content 1's directory not removed; calls:\n%s", strings.Join(labels(calls), "\n"))
	}
	if hasLabel(calls, "start content 1 mirror (dbid 5)") || hasLabel(calls, "remove directory of content 0 mirror (dbid 4)") {
		t.Errorf("content 1 started or content 0 removed:\n%s", strings.Join(labels(calls), "\n"))
	}
	var adds, drops []string
	for _, c := range db.Calls() {
		switch c.SQL {
		case cluster.AddSegmentSQL:
			adds = append(adds, fmt.Sprint(c.Args[0]))
		case buildmirrors.DropSlotSQL:
			drops = append(drops, fmt.Sprint(c.Args...))
		}
	}
	if d := cmp.Diff([]string{"4"}, adds); d != "" {
		t.Errorf("gp_add_segment dbids (-want +got):\n%s", d)
	}
	// one leftover-slot drop per copied mirror before the copy (GP7), one for the failed mirror's cleanup
	if len(drops) != 3 {
		t.Errorf("%d slot drops, want 3 (2 before the copies, 1 in the cleanup): %v", len(drops), drops)
	}
	sql := strings.Join(db.SQL(), "\n")
	if !strings.Contains(sql, "BEGIN\n"+cluster.AddSegmentSQL+"\n"+cluster.HistoryInsertSQL+"\nCOMMIT") {
		t.Errorf("the registration is not one transaction:\n%s", sql)
	}
}

// TestRerunReusesCopy: content 1's directory holds a finished copy for
// dbid 5 (an earlier run's): it is not copied again, its slot is
// recreated, it is started and registered with content 0.
func TestRerunReusesCopy(t *testing.T) {
	ex := fakeHosts(map[int]string{5: "state=notempty gpdbid=5 port=6000 standby=1 pid= busy=0 avail=1 copied=5"}, nil)
	db := fakeDB(false)
	rep, err := buildmirrors.Run(t.Context(), env(ex, db), opts(false), mirrors)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed()) != 0 || !rep.Outcomes[1].Reused {
		t.Fatalf("outcomes %+v", rep.Outcomes)
	}
	calls := ex.Calls()
	if hasLabel(calls, "pg_basebackup content 1 mirror (dbid 5)") || hasLabel(calls, "create directory of content 1 mirror (dbid 5)") {
		t.Errorf("content 1 copied again:\n%s", strings.Join(labels(calls), "\n"))
	}
	for _, l := range []string{"pg_basebackup content 0 mirror (dbid 4)", "set port of content 1 mirror (dbid 5)", "start content 1 mirror (dbid 5)"} {
		if !hasLabel(calls, l) {
			t.Errorf("no %q:\n%s", l, strings.Join(labels(calls), "\n"))
		}
	}
	if !slices.Contains(db.SQL(), buildmirrors.CreateSlotSQL) {
		t.Errorf("slot not recreated for the reused copy:\n%s", strings.Join(db.SQL(), "\n"))
	}
}

// TestRefusals: a non-empty directory that is no copy, a busy port and a
// running postmaster stop the run before anything changes.
func TestRefusals(t *testing.T) {
	ex := fakeHosts(map[int]string{
		4: "state=notempty gpdbid= port= standby=0 pid= busy=1 avail=100000000",
		5: "state=notempty gpdbid=5 port=7000 standby=1 pid=4242 busy=1 avail=100000000",
	}, nil)
	db := fakeDB(false)
	_, err := buildmirrors.Run(t.Context(), env(ex, db), opts(false), mirrors)
	var ie *buildmirrors.InputError
	if err == nil || !asInput(err, &ie) {
		t.Fatalf("err %v, want an InputError", err)
	}
	for _, want := range []string{
		"for segment with port 7000: Segment directory '/data/mirror/gpseg0' exists but is not empty!",
		"port 7000 is in use on sdw2",
		"a postmaster (pid 4242) runs in /data/mirror/gpseg1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, c := range ex.Calls() {
		if !strings.HasPrefix(c.Label, "check mirror targets") && !strings.HasPrefix(c.Label, "measure primaries") {
			t.Errorf("ran %q after a refusal", c.Label)
		}
	}
}

// TestShellUnsafeTargetRefused: pg_ctl starts the postmaster through
// sh -c with -D "<dir>", so a target directory holding a command
// substitution would run it as the cluster's owner at the mirror's start.
// It is refused before anything runs, with the mirror and the character
// named (safety invariant 7).
func TestShellUnsafeTargetRefused(t *testing.T) {
	ex := fakeHosts(nil, nil)
	db := fakeDB(false)
	ms := slices.Clone(mirrors)
	ms[1].Target.DataDir = "/data/mirror/$(touch /tmp/owned)/gpseg1"
	_, err := buildmirrors.Run(t.Context(), env(ex, db), opts(false), ms)
	var ie *buildmirrors.InputError
	if !asInput(err, &ie) || !strings.Contains(err.Error(), "contains '$': pg_ctl passes paths to /bin/sh inside double quotes") ||
		!strings.Contains(err.Error(), ms[1].Label()) {
		t.Fatalf("%v, want the refusal naming %s", err, ms[1].Label())
	}
	if calls := ex.Calls(); len(calls) > 0 {
		t.Errorf("ran %q after the refusal", calls[0].Label)
	}
	if sql := db.SQL(); len(sql) > 0 {
		t.Errorf("ran %q after the refusal", sql[0])
	}
}

func asInput(err error, ie **buildmirrors.InputError) bool {
	e, ok := err.(*buildmirrors.InputError)
	*ie = e
	return ok
}

// TestDryRunChangesNothing: only the read-only probes run.
func TestDryRunChangesNothing(t *testing.T) {
	ex := fakeHosts(nil, nil)
	db := fakeDB(false)
	if _, err := buildmirrors.Run(t.Context(), env(ex, db), opts(true), mirrors); err != nil {
		t.Fatal(err)
	}
	for _, c := range ex.Calls() {
		if !strings.HasPrefix(c.Label, "check mirror targets") && !strings.HasPrefix(c.Label, "measure primaries") {
			t.Errorf("dry run ran %q", c.Label)
		}
	}
	for _, s := range db.SQL() {
		if s != cluster.LoadSQL && s != buildmirrors.SlotActiveSQL {
			t.Errorf("dry run ran %q", s)
		}
	}
}

func TestParseProgress(t *testing.T) {
	d, tot, ok := buildmirrors.ParseProgress("   12345/67890 kB (18%), 0/1 tablespace (/data/mirror/gpseg0/base/1)")
	if !ok || d != 12345 || tot != 67890 {
		t.Errorf("got %d %d %t", d, tot, ok)
	}
}

// stuckCopy is the hosts of fakeHosts, except that content 1's copy says
// one line and then hangs until the stop by pid file comes, as a copy does
// whose WAL streamer outlived it and holds the session open.
type stuckCopy struct {
	*remotetest.Fake
	stopped chan struct{}
	once    sync.Once
}

func (s *stuckCopy) Exec(ctx context.Context, c remote.Command) remote.Result {
	switch {
	case c.Host == "sdw1" && strings.HasPrefix(c.Label, "pg_basebackup"):
		c.OnLine(remote.Line{Stream: remote.Stderr, Text: "pg_basebackup: initiating base backup, waiting for checkpoint to complete"})
		select {
		case <-s.stopped:
			return remote.Result{Command: c, ExitCode: -1, Err: errors.New("signal: terminated")}
		case <-time.After(10 * time.Second):
			return remote.Result{Command: c, ExitCode: 0}
		}
	case strings.HasPrefix(c.Label, "stop pid in") && slices.Contains(c.Args, filepath.Join("/data/mirror", ".gpseg1.pg_basebackup.pid")):
		s.once.Do(func() { close(s.stopped) })
	}
	return s.Fake.Exec(ctx, c)
}

// TestStalledCopyIsStopped: a copy that says nothing for StallTimeout is
// stopped by its pid file and fails like any other; the other mirror is
// added.
func TestStalledCopyIsStopped(t *testing.T) {
	ex := &stuckCopy{Fake: fakeHosts(nil, nil), stopped: make(chan struct{})}
	o := opts(false)
	o.StallTimeout = 100 * time.Millisecond
	start := time.Now()
	rep, err := buildmirrors.Run(t.Context(), env(ex, fakeDB(true)), o, mirrors)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("took %s: the stalled copy was not stopped", took)
	}
	got := []string{}
	for _, o := range rep.Outcomes {
		got = append(got, fmt.Sprintf("dbid %d ok=%t step=%q", o.Mirror.Target.DBID, o.OK(), o.FailedStep))
	}
	want := []string{`dbid 4 ok=true step=""`, `dbid 5 ok=false step="copy primaries with pg_basebackup"`}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("outcomes (-want +got):\n%s", d)
	}
}

// TestFTSAfterCoordinatorRestart: the run's coordinator connection is gone
// by the time the mirrors are registered (the coordinator restarted during
// the copies): the FTS probe is requested on a new connection, with no
// warning.
func TestFTSAfterCoordinatorRestart(t *testing.T) {
	ex := fakeHosts(nil, nil)
	db := fakeDB(false)
	// The run's own connection reads the catalog, then answers nothing.
	gone := &clustertest.FakeConn{}
	gone.On(cluster.LoadSQL, clustertest.SegmentRows([]cluster.Segment{coord, p0, p1}))
	e := env(ex, db)
	e.Conn = gone
	var log bytes.Buffer
	e.Log = slog.New(slog.NewTextHandler(&log, nil))
	rep, err := buildmirrors.Run(t.Context(), e, opts(false), mirrors)
	if err != nil || len(rep.Failed()) != 0 {
		t.Fatalf("run: %v, outcomes %+v", err, rep.Outcomes)
	}
	if !slices.Contains(db.SQL(), cluster.FTSProbeSQL) {
		t.Errorf("no FTS probe on a new connection:\n%s", strings.Join(db.SQL(), "\n"))
	}
	if strings.Contains(log.String(), "FTS probe request failed") {
		t.Errorf("warned although the probe was requested:\n%s", log.String())
	}
}

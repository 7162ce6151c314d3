package recoverseg

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
)

// diffRig is one differential recovery of diffTarget against fakes: the
// target host's commands (scripted by step) and the source's sessions,
// every one of them a new session of src.
type diffRig struct {
	r      *recovery
	out    *bytes.Buffer
	src    *clustertest.FakeConn
	exec   *remotetest.Fake
	mu     sync.Mutex
	events []string // "sql <statement>" and "run <label>", in order
	answer map[string]remotetest.Response
}

// The labels' first words of the remote steps, and what each answers by
// default.
var diffSteps = map[string]remotetest.Response{
	"stop pid in":                  {Stdout: "no pid file: nothing to stop\n"},
	"check the target":             {Stdout: "RESULT ok ready\n"},
	"rsync the data directory":     {Stdout: "PROGRESS     123,456 100%   10.00MB/s    0:00:01 (xfr#9, to-chk=0/9)\nRESULT ok rsync exit 0\n"},
	"write the backup label":       {Stdout: "RESULT ok written\n"},
	"write the configuration":      {},
	"rsync the WAL":                {Stdout: "RESULT ok rsync exit 0\n"},
	"rsync pg_control":             {Stdout: "RESULT ok rsync exit 24\n"},
	"start dbid":                   {Stdout: "RESULT ok started\n"},
	"check that sdw2 reaches sdw1": {Stdout: "PROBE ok\n"},
	"measure sources on sdw1":      {Stdout: "SIZE 5 1048576\n"},
}

func newDiffRig(t *testing.T) *diffRig {
	t.Helper()
	env, out, _ := apptest.Env(t, "gprecoverseg")
	env.Log = slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: out, Level: slog.LevelDebug}))
	rig := &diffRig{out: out, src: &clustertest.FakeConn{}, exec: &remotetest.Fake{}, answer: map[string]remotetest.Response{}}
	for k, v := range diffSteps {
		rig.answer[k] = v
	}
	text := func(n string) clustertest.Column { return clustertest.Column{Name: n, OID: pgtype.TextOID} }
	rig.src.On(setAppNameSQL, clustertest.Text(differentialAppName))
	rig.src.On(sourceSettingsSQL, clustertest.Rows([]clustertest.Column{{Name: "s", OID: pgtype.Int8OID}, text("d")}, []any{int64(16 << 20), "log"}))
	rig.src.On(slotStateSQL, clustertest.Rows([]clustertest.Column{{Name: "a", OID: pgtype.BoolOID}, {Name: "h", OID: pgtype.Int8OID}}, []any{false, int64(5 << 20)}))
	rig.src.On(buildmirrors.DropSlotSQL, clustertest.Tag("SELECT 1"))
	rig.src.On(createSlotSQL, clustertest.Tag("SELECT 1"))
	rig.src.On(cluster.ServerVersionNumPGSQL, clustertest.Value(pgtype.Int4OID, int32(120012)))
	sql := cluster.BackupStatements(120012)
	rig.src.On(sql.Start, clustertest.Text("0/5000028"))
	rig.src.On(sql.Stop, clustertest.Rows([]clustertest.Column{text("lsn"), text("labelfile"), text("spcmapfile")},
		[]any{"0/6000100", label("0/5000028", "000000010000000000000005"), ""}))
	rig.src.On(tablespacesSQL, clustertest.Rows([]clustertest.Column{text("n"), text("l")}))
	env.Connect = func(ctx context.Context, cfg cluster.ConnConfig) (cluster.Conn, error) {
		if cfg.Port != 6001 || !cfg.Utility {
			return nil, errors.New("unexpected connection")
		}
		conn, err := rig.src.Connector()(ctx, cfg)
		return &recordingConn{Conn: conn, rig: rig}, err
	}
	rig.exec.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		for prefix, res := range rig.answer {
			if strings.HasPrefix(c.Label, prefix) {
				rig.record("run " + prefix)
				return res, true
			}
		}
		return remotetest.Response{}, false
	})
	rig.r = &recovery{env: env, opts: &Options{Differential: true, Parallel: 16, ParallelPerHost: 64, NoProgress: true},
		co: &coordinator.Coordinator{GPHome: "/usr/local/gp", DataDir: t.TempDir()}, f: cluster.GP7, exec: rig.exec, unreachable: map[string]error{}}
	return rig
}

func (rig *diffRig) record(e string) {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	rig.events = append(rig.events, e)
}

func (rig *diffRig) log() []string {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	return slices.Clone(rig.events)
}

// recordingConn puts the statements of a source session in rig's events.
type recordingConn struct {
	cluster.Conn
	rig *diffRig
}

func (c *recordingConn) name(sql string) string {
	for name, s := range map[string]string{
		"name session": setAppNameSQL, "settings": sourceSettingsSQL, "slot state": slotStateSQL,
		"drop slot": buildmirrors.DropSlotSQL, "create slot": createSlotSQL, "version": cluster.ServerVersionNumPGSQL,
		"start backup": cluster.BackupStatements(120012).Start, "stop backup": cluster.BackupStatements(120012).Stop,
		"tablespaces": tablespacesSQL,
	} {
		if s == sql {
			return "sql " + name
		}
	}
	return "sql " + sql
}

func (c *recordingConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c.rig.record(c.name(sql))
	return c.Conn.QueryRow(ctx, sql, args...)
}

func (c *recordingConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.rig.record(c.name(sql))
	return c.Conn.Exec(ctx, sql, args...)
}

func (c *recordingConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.rig.record(c.name(sql))
	return c.Conn.Query(ctx, sql, args...)
}

func (c *recordingConn) Close(ctx context.Context) error {
	c.rig.record("close session")
	return c.Conn.Close(ctx)
}

func (rig *diffRig) run(ctx context.Context) outcome {
	tg := diffTarget()
	return rig.r.differential(ctx, tg, "", rig.r.newProgressView([]target{tg}))
}

// TestDifferentialOrder: a differential recovery's steps in order. The
// slot is made before the backup starts; the backup is held by one named
// session from its start to its stop, around the data directory's rsync;
// the label, configuration, WAL and pg_control follow, then the start.
func TestDifferentialOrder(t *testing.T) {
	rig := newDiffRig(t)
	if o := rig.run(t.Context()); o.Kind != "" || !o.Started {
		t.Fatalf("%+v\n%s", o, rig.out)
	}
	want := []string{
		"run stop pid in", "run check the target",
		"sql name session", "sql settings", "sql slot state", "sql drop slot", "sql create slot", "sql version", "sql start backup",
		"run rsync the data directory",
		"sql stop backup", "close session",
		"run write the backup label", "run write the configuration", "run rsync the WAL", "run rsync pg_control", "run start dbid",
	}
	if got := rig.log(); !slices.Equal(got, want) {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range rig.exec.Calls() {
		switch {
		case strings.HasPrefix(c.Label, "rsync the data directory"):
			if c.Args[2] != differentialMarker("/data/mirror/gpseg1") || c.PIDFile != rsyncPIDFile("/data/mirror/gpseg1") || c.Timeout != 0 {
				t.Errorf("data rsync: marker %q, pid file %q, timeout %s", c.Args[2], c.PIDFile, c.Timeout)
			}
		case strings.HasPrefix(c.Label, "rsync the WAL"):
			if got := strings.Join(c.Args[3:8], " "); got != walListFile("/data/mirror/gpseg1")+" 00000001 256 5 6" {
				t.Errorf("WAL rsync: list and range %q", got)
			}
		case strings.HasPrefix(c.Label, "write the backup label"):
			if c.Args[1] != label("0/5000028", "000000010000000000000005") {
				t.Errorf("backup_label %q", c.Args[1])
			}
		case strings.HasPrefix(c.Label, "check the target"), strings.HasPrefix(c.Label, "start dbid"):
			if c.Timeout != diffStepTimeout {
				t.Errorf("%s: timeout %s", c.Label, c.Timeout)
			}
		}
	}
	for _, want := range []string{
		"[INFO]:-Running differential recovery with progress output temporarily in /home/gpadmin/gpAdminLogs/rsync.20261204_144917.dbid5.out",
		"[INFO]:-Replication slot internal_wal_replication_slot on sdw1:6001 is not in use and holds 5120 kB of WAL; it is replaced by a new one",
		"[DEBUG]:-Successfully ran pg_start_backup() for segment on host sdw1, port 6001",
		"[INFO]:-Successfully ran differential recovery for dbid 5",
	} {
		if !strings.Contains(rig.out.String(), want) {
			t.Errorf("no %q in\n%s", want, rig.out)
		}
	}
}

// TestDifferentialFailures: a copy that fails before it is complete drops
// the slot its run made (in a new session, the backup's session closed
// first), and an rsync is stopped by its pid file; once the copy is
// complete, a failed start keeps the slot, which the copy needs.
func TestDifferentialFailures(t *testing.T) {
	for _, tt := range []struct {
		name      string
		step      string
		res       remotetest.Response
		kind, msg string
		dropped   bool
	}{
		{"rsync", "rsync the data directory", remotetest.Response{Stdout: "RESULT differential rsync exited with status 23: some files could not be transferred\n", ExitCode: 1},
			"differential", "rsync exited with status 23", true},
		{"configuration", "write the configuration", remotetest.Response{Stderr: "pg_basebackup: error: could not connect", ExitCode: 1},
			"differential", "pg_basebackup --write-conf-files-only failed", true},
		{"start", "start dbid", remotetest.Response{Stdout: "RESULT start pg_ctl: could not start server\n", ExitCode: 1},
			"start", "pg_ctl: could not start server", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rig := newDiffRig(t)
			rig.answer[tt.step] = tt.res
			o := rig.run(t.Context())
			if o.Kind != tt.kind || !strings.Contains(o.Msg, tt.msg) {
				t.Fatalf("%+v, want %s %q", o, tt.kind, tt.msg)
			}
			ev := rig.log()
			drops := 0
			for _, e := range ev {
				if e == "sql drop slot" {
					drops++
				}
			}
			if got := drops == 2; got != tt.dropped {
				t.Errorf("slot dropped after the failure: %v, want %v\n%s", got, tt.dropped, strings.Join(ev, "\n"))
			}
			if tt.dropped && slices.Contains(ev, "sql stop backup") && tt.step == "rsync the data directory" {
				t.Error("the backup was stopped after a failed copy: closing its session ends it")
			}
			if tt.step != "start dbid" {
				if last := ev[len(ev)-2:]; !slices.Equal(last, []string{"sql drop slot", "close session"}) || !strings.Contains(rig.out.String(), "Dropped the replication slot internal_wal_replication_slot this run made on sdw1:6001") {
					t.Errorf("last steps %q, want the slot dropped in a session of its own\n%s", last, rig.out)
				}
			}
		})
	}
}

// TestDifferentialInterrupted: an interrupt during rsync stops it by its
// pid file, ends the backup (its session closes) and drops the slot, all
// despite the cancelled context.
func TestDifferentialInterrupted(t *testing.T) {
	rig := newDiffRig(t)
	rig.answer["rsync the data directory"] = remotetest.Response{Delay: time.Minute}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	o := rig.run(ctx)
	if o.Kind != "differential" || !strings.HasPrefix(o.Msg, "interrupted: ") {
		t.Fatalf("%+v", o)
	}
	ev := rig.log()
	i := slices.Index(ev, "run rsync the data directory")
	if want := []string{"run stop pid in", "close session", "sql drop slot", "close session"}; i < 0 || !slices.Equal(ev[i+1:], want) {
		t.Errorf("after the interrupted rsync: %q, want %q", ev[i+1:], want)
	}
}

// TestDifferentialSlotInUse: a slot something streams from is never
// dropped, and no backup starts.
func TestDifferentialSlotInUse(t *testing.T) {
	rig := newDiffRig(t)
	rig.src.On(slotStateSQL, clustertest.Rows([]clustertest.Column{{Name: "a", OID: pgtype.BoolOID}, {Name: "h", OID: pgtype.Int8OID}}, []any{true, int64(0)}))
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	o := rig.run(ctx)
	if o.Kind != "differential" {
		t.Fatalf("%+v", o)
	}
	for _, e := range rig.log() {
		if e == "sql drop slot" || e == "sql start backup" || strings.HasPrefix(e, "run rsync") {
			t.Errorf("%s with the slot in use", e)
		}
	}
}

// TestPlanDifferential: a source with user tablespaces, or a target host
// whose ssh cannot reach the source, makes the recovery impossible, and
// the run is refused before anything changes, with -F as the way.
func TestPlanDifferential(t *testing.T) {
	rig := newDiffRig(t)
	ts := []target{diffTarget()}
	if err := rig.r.planDifferential(t.Context(), ts); err != nil || ts[0].Plan.Impossible != "" {
		t.Fatalf("%v %+v", err, ts[0].Plan)
	}
	if ts[0].Plan.BytesNote != "only what differs (rsync -c); at most the source's 1024 MB" {
		t.Errorf("to copy: %q", ts[0].Plan.BytesNote)
	}

	rig.src.On(tablespacesSQL, clustertest.Rows([]clustertest.Column{{Name: "n", OID: pgtype.TextOID}, {Name: "l", OID: pgtype.TextOID}}, []any{"fast", "/ssd/ts"}))
	rig.answer["check that sdw2 reaches sdw1"] = remotetest.Response{Stdout: "PROBE ssh 255 Host key verification failed.\n"}
	ts = []target{diffTarget()}
	if err := rig.r.planDifferential(t.Context(), ts); err != nil {
		t.Fatal(err)
	}
	err := refuseImpossible(ts)
	var he *app.HintError
	if !errors.As(err, &he) || !strings.Contains(he.Hint, "gprecoverseg -F") {
		t.Fatalf("%v", err)
	}
	for _, want := range []string{
		"differential recovery of dbid 5 (content 1) on sdw2:7001 cannot work: the source sdw1:6001 has user tablespaces (fast at /ssd/ts); Greenplum keeps each instance's tablespace data under <location>/<dbid>",
		"sdw2's known_hosts has no key for sdw1 (key): on sdw2, as gpadmin, run: ssh-keyscan sdw1 >> ~/.ssh/known_hosts",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in %v", want, err)
		}
	}
	for _, e := range rig.log() {
		if e != "sql tablespaces" && !strings.HasPrefix(e, "run check that") && !strings.HasPrefix(e, "run measure") && e != "close session" {
			t.Errorf("the plan ran %s", e)
		}
	}
}

// TestSkipDifferentialRunning: a source in exclusive backup mode
// (Greenplum's own --differential) or holding gpmgmt's backup session is
// skipped with Greenplum's warning; the session of this tool's own
// interrupted run (its journal says so) is ended instead.
func TestSkipDifferentialRunning(t *testing.T) {
	running := func(rig *selectRig, port int, exclusive bool, sessions int64) *clustertest.FakeConn {
		c := rig.source(port, false, 0)
		c.On(differentialRunningSQL, clustertest.Rows([]clustertest.Column{{Name: "b", OID: pgtype.BoolOID}, {Name: "n", OID: pgtype.Int8OID}}, []any{exclusive, sessions}))
		c.On(endOrphanSQL, clustertest.Value(pgtype.Int8OID, sessions))
		return c
	}
	for _, tt := range []struct {
		name     string
		prepare  func(rig *selectRig)
		want     string
		warnings []string
	}{
		{"exclusive backup", func(rig *selectRig) { running(rig, 7000, true, 0) }, "4<-2", []string{
			"The source sdw1:7000 of content 1 is in exclusive backup mode: if no gprecoverseg --differential of Greenplum runs, an interrupted one left it so",
			"Found differential recovery running for segments with contentIds [1], skipping recovery of these segments"}},
		{"another run's session", func(rig *selectRig) { running(rig, 6000, false, 1) }, "3<-5", []string{
			"Found differential recovery running for segments with contentIds [0], skipping recovery of these segments"}},
		{"this tool's interrupted run", func(rig *selectRig) {
			c := running(rig, 6000, false, 1)
			rig.r.prev = &oplock.Record{Items: []oplock.Item{{DBID: 4, Method: "differential"}}}
			t.Cleanup(func() {
				if !slices.Contains(c.SQL(), endOrphanSQL) {
					t.Error("the orphan session was not ended")
				}
			})
		}, "4<-2 3<-5", []string{"Ended 1 backup session(s) an interrupted gprecoverseg --differential left on sdw1:6000"}},
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
			for _, w := range tt.warnings {
				if !strings.Contains(rig.out.String(), "[WARNING]:-"+w) {
					t.Errorf("no warning %q:\n%s", w, rig.out)
				}
			}
		})
	}
	rig := newSelectRig(t, degraded())
	rig.r.f = cluster.GP6
	if _, err := rig.r.selectTargets(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, c := range rig.sources {
		if slices.Contains(c.SQL(), differentialRunningSQL) {
			t.Error("Greenplum 6's sources were asked about differential recoveries")
		}
	}
}

// TestRefuseHalfCopied: an incremental recovery of a directory an
// interrupted differential one left half-copied cannot work.
func TestRefuseHalfCopied(t *testing.T) {
	rig := newDiffRig(t)
	rig.exec.OnScript("sdw2", markerScript, remotetest.Response{Stdout: "MARKER 5 yes\n"})
	tg := diffTarget()
	tg.Differential = false
	other := diffTarget()
	other.Differential, other.Failed.DataDir, other.Failed.DBID = false, "/data/mirror/gpseg2", 6
	ts := []target{tg, other}
	refuseHalfCopied(ts, rig.r.halfCopied(t.Context(), ts))
	if !strings.Contains(ts[0].Plan.Impossible, "an interrupted differential recovery left /data/mirror/gpseg1 half-copied (/data/mirror/.gpseg1.differential): only gprecoverseg --differential or -F can complete it") {
		t.Errorf("%q", ts[0].Plan.Impossible)
	}
	if ts[1].Plan.Impossible != "" {
		t.Errorf("the other directory: %q", ts[1].Plan.Impossible)
	}
}

// TestDifferentialCombinations: --differential is Greenplum 7's and
// Cloudberry's, alone, without -F or -o (spec §4.3, exit 2 otherwise).
func TestDifferentialCombinations(t *testing.T) {
	for _, tt := range []struct {
		f    cluster.Flavour
		o    Options
		want string
	}{
		{cluster.GP7, Options{Differential: true}, ""},
		{cluster.Cloudberry, Options{Differential: true, Parallel: 4}, ""},
		{cluster.GP6, Options{Differential: true}, "--differential is not available on Greenplum 6 (it is Greenplum 7's)"},
		{cluster.GP7, Options{Differential: true, Full: true}, "Only one of -F and --differential may be specified"},
		{cluster.Cloudberry, Options{Differential: true, OutputFile: "f"}, "Invalid -o provided with --differential argument"},
		{cluster.GP7, Options{Differential: true, Rebalance: true}, "Only one of -i, -p, -r and --differential may be specified"},
	} {
		o := tt.o
		err := o.CheckCombinations(tt.f)
		var ae *app.ArgumentError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %+v: %v", tt.f, tt.o, err)
		case tt.want != "" && (!errors.As(err, &ae) || ae.Msg != tt.want):
			t.Errorf("%s %+v: %v, want %q (exit 2)", tt.f, tt.o, err, tt.want)
		}
	}
}

// TestReportDifferential: Greenplum 7's words for differential failures.
func TestReportDifferential(t *testing.T) {
	r, out := reportRig(t)
	r.f, r.opts.Differential = cluster.GP7, true
	err := r.report(t.Context(), []target{diffTarget()}, []outcome{{Kind: "differential", Msg: "rsync exited with status 12"}})
	var ee *app.ExitError
	if !errors.As(err, &ee) || ee.Code != app.ExitFailures {
		t.Fatalf("%v, want exit 1", err)
	}
	for _, want := range []string{
		"[INFO]:-Failed to recover the following segments. You must run either gprecoverseg --differential or gprecoverseg -F for all differential failures\n",
		"[INFO]:- hostname: sdw2; port: 7001; logfile: /home/gpadmin/gpAdminLogs/rsync.20261204_144917.dbid5.out; recoverytype: differential\n",
		"[ERROR]:-gprecoverseg differential recovery failed. Please check the gprecoverseg log file and rsync log file for more details.\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

// TestDifferentialDisplay: Greenplum's display says Differential; the plan
// says rsync and what it may copy; recovery_progress.file gets rsync's
// progress as "differential:<dbid>:<text>".
func TestDifferentialDisplay(t *testing.T) {
	tg := diffTarget()
	tg.Plan = plan{Bytes: -1, BytesNote: "only what differs (rsync -c); at most the source's 12 GB"}
	if got := displayed(t, cluster.GP7, []target{tg}); !slices.Contains(got, "[INFO]:-   Synchronization mode                 = Differential") {
		t.Errorf("display:\n%s", strings.Join(got, "\n"))
	}
	var b bytes.Buffer
	if err := PlanView([]target{tg}).Write(&b); err != nil || !strings.Contains(b.String(), "differential (rsync)") || !strings.Contains(b.String(), "at most the source's 12 GB") {
		t.Errorf("plan: %v\n%s", err, b.String())
	}

	file := filepath.Join(t.TempDir(), ProgressFileName)
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	v := &progressView{w: &b, file: file, now: func() time.Time { return apptest.At }, targets: []target{tg}, last: map[int]string{}, first: map[int]sample{}}
	for _, line := range []string{"base/16384/1259", "  1,036,923,510  99%   39.90MB/s    0:00:24 (xfr#3, to-chk=2/1200)"} {
		v.update(5, line)
		v.refresh()
	}
	got, _ := os.ReadFile(file)
	if string(got) != "differential:5:  1,036,923,510  99%   39.90MB/s    0:00:24 (xfr#3, to-chk=2/1200)\n" {
		t.Errorf("recovery_progress.file: %q", got)
	}
}

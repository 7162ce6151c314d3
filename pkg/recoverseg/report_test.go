package recoverseg

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

func reportRig(t *testing.T) (*recovery, *bytes.Buffer) {
	t.Helper()
	env, out, _ := apptest.Env(t, "gprecoverseg")
	env.Log = slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: out, Level: slog.LevelInfo}))
	return &recovery{env: env, opts: &Options{}, co: &coordinator.Coordinator{DataDir: t.TempDir()}, f: cluster.GP6}, out
}

// reportTargets are five recoveries, one of each outcome.
func reportTargets() []target {
	var ts []target
	for i, full := range []bool{false, true, false, false, false} {
		dbid := 10 + i
		ts = append(ts, target{
			Failed: cluster.Segment{DBID: dbid, ContentID: i, Hostname: "sdw2", Address: "sdw2", Port: 7000 + i, DataDir: "/data/mirror/gpseg" + itoa(i)},
			Full:   full, ProgressFile: "/home/gpadmin/gpAdminLogs/pg_rewind.20261204_144917.dbid" + itoa(dbid) + ".out",
		})
	}
	return ts
}

// TestReportFailures pins spec §4.10's report (golden): the copy failures
// (incremental first, with the -F advice), the start and port failures,
// an interrupted rewind, each failure's reason (an addition), the closing
// error and exit 1.
func TestReportFailures(t *testing.T) {
	r, out := reportRig(t)
	err := r.report(t.Context(), reportTargets(), []outcome{
		{Kind: "incremental", Msg: "pg_rewind failed (exit 1): see /home/gpadmin/gpAdminLogs/pg_rewind.20261204_144917.dbid10.out"},
		{Kind: "full", Msg: "pg_basebackup: error: could not connect to server"},
		{Kind: "start", Msg: "pg_ctl: could not start server"},
		{Kind: "update", Msg: "could not update the port in /data/mirror/gpseg3/postgresql.conf"},
		{Kind: "interrupted", Msg: "the pg_rewind an earlier run started (pid 4242) was stopped before it finished"},
	})
	var ee *app.ExitError
	if !errors.As(err, &ee) || ee.Code != app.ExitFailures {
		t.Fatalf("%v, want exit 1", err)
	}
	golden.Check(t, "recoverseg", "report_failures.golden", out.Bytes())
}

// TestReportSuccess: Greenplum's banner, exit 0, and the journal gone.
func TestReportSuccess(t *testing.T) {
	r, out := reportRig(t)
	j, err := oplock.NewJournal(r.co.DataDir, oplock.Record{Tool: Tool, Items: []oplock.Item{{DBID: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	r.journal = j
	if err := r.report(t.Context(), reportTargets()[:1], []outcome{{Started: true}}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "recoverseg", "report_success.golden", out.Bytes())
	if rec, _ := oplock.ReadJournal(r.co.DataDir, Tool); rec != nil {
		t.Errorf("journal left after success: %+v", rec)
	}
}

// TestProgressFile: recovery_progress.file in Greenplum's format while the
// copies run (type, dbid, the progress line with its leading spaces; only
// lines that say how far a copy is), the sequential block on the console,
// and the file gone at the end.
func TestProgressFile(t *testing.T) {
	r, _ := reportRig(t)
	var console bytes.Buffer
	r.env.Progress = &console
	r.opts.LogDir = t.TempDir()
	never := make(chan time.Time) // refreshed by hand below, one at a time
	r.env.Ticker = func(time.Duration) (<-chan time.Time, func()) { return never, func() {} }
	ts := reportTargets()[:2]
	v := r.newProgressView(ts)
	stop := v.start(t.Context())
	path := filepath.Join(r.opts.LogDir, ProgressFileName)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("recovery_progress.file not created: %v", err)
	}
	v.update(10, "connected to server")
	v.update(11, " 1164848/1371715 kB (84%), 0/1 tablespace (...)")
	v.refresh()
	v.update(10, " 51530/152375 kB (33%) copied")
	v.refresh()
	b, _ := os.ReadFile(path)
	want := "full:11: 1164848/1371715 kB (84%), 0/1 tablespace (...)\n" +
		"incremental:10: 51530/152375 kB (33%) copied\nfull:11: 1164848/1371715 kB (84%), 0/1 tablespace (...)\n"
	if string(b) != want {
		t.Errorf("recovery_progress.file:\n%q\nwant\n%q", b, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("recovery_progress.file left: %v", err)
	}
	if !strings.Contains(console.String(), "sdw2 (dbid 10): connected to server\nsdw2 (dbid 11):  1164848/1371715 kB (84%), 0/1 tablespace (...)\n") {
		t.Errorf("console:\n%s", console.String())
	}
}

// TestProgressOff: -q and --no-progress show nothing and write no file.
func TestProgressOff(t *testing.T) {
	for _, o := range []Options{{CommonOptions: app.CommonOptions{Quiet: true}}, {NoProgress: true}} {
		r, _ := reportRig(t)
		var console bytes.Buffer
		r.env.Progress = &console
		o.LogDir = t.TempDir()
		r.opts = &o
		v := r.newProgressView(reportTargets())
		stop := v.start(t.Context())
		v.update(10, " 1/2 kB (50%)")
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(o.LogDir)
		if console.Len() > 0 || len(entries) > 0 {
			t.Errorf("%+v: console %q, files %v", o, console.String(), entries)
		}
	}
}

// TestReportKeepsJournalOfHalfCopy: a full copy that failed midway (its
// pg_basebackup killed) leaves its half-written files in the failed
// instance's directory; the journal stays, so that the next run knows
// them for its own (wasCopying) instead of refusing the directory.
func TestReportKeepsJournalOfHalfCopy(t *testing.T) {
	r, _ := reportRig(t)
	ts := reportTargets()[1:2]
	at := ts[0].at()
	j, err := oplock.NewJournal(r.co.DataDir, oplock.Record{Tool: Tool, Items: []oplock.Item{
		{DBID: at.DBID, Method: "full", Host: at.Hostname, Port: at.Port, DataDir: at.DataDir, Step: stepCopying}}})
	if err != nil {
		t.Fatal(err)
	}
	r.journal = j
	err = r.report(t.Context(), ts, []outcome{{Kind: "full", Msg: "pg_basebackup: signal: killed"}})
	var ee *app.ExitError
	if !errors.As(err, &ee) || ee.Code != app.ExitFailures {
		t.Fatalf("%v, want exit 1", err)
	}
	rec, err := oplock.ReadJournal(r.co.DataDir, Tool)
	if err != nil || rec == nil {
		t.Fatalf("the journal after a failed copy: %v, %v; want it kept", rec, err)
	}
	r.prev = rec
	if !r.wasCopying(ts[0]) {
		t.Errorf("the next run does not recognise the half-written copy: %+v", rec.Items)
	}
}

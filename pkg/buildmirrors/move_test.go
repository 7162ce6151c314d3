package buildmirrors_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
)

// failedOver is the catalog after content 0's primary (dbid 2 on sdw1)
// failed and its mirror (dbid 4 on sdw2) took over; content 1 is healthy.
func failedOver() []cluster.Segment {
	p, m, s, n, u, d := cluster.RolePrimary, cluster.RoleMirror, cluster.ModeSynced, cluster.ModeNotSynced, cluster.StatusUp, cluster.StatusDown
	row := func(dbid, content int, role, preferred cluster.Role, mode cluster.Mode, status cluster.Status, host string, port int, dir string) cluster.Segment {
		return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: preferred, Mode: mode, Status: status,
			Hostname: host, Address: host + "-1", Port: port, DataDir: dir}
	}
	return []cluster.Segment{
		coord,
		row(2, 0, m, p, n, d, "sdw1", 6000, "/data/primary/gpseg0"),
		row(4, 0, p, m, n, u, "sdw2", 7000, "/data/mirror/gpseg0"),
		row(3, 1, p, p, s, u, "sdw2", 6000, "/data/primary/gpseg1"),
		row(5, 1, m, m, s, u, "sdw1", 7000, "/data/mirror/gpseg1"),
	}
}

// moveToSdw3 is the failed former primary of failedOver rebuilt on sdw3.
func moveToSdw3() buildmirrors.Mirror {
	segs := failedOver()
	failed, source := segs[1], segs[2]
	target := failed
	target.Hostname, target.Address = "sdw3", "sdw3"
	return buildmirrors.Mirror{Source: source, Target: target, From: &failed}
}

// moveDB is the coordinator and primaries of failedOver, scripted for a
// move: the catalog read answers rows (the check's read first, then the
// transaction's).
func moveDB(rows ...[]cluster.Segment) *clustertest.FakeConn {
	db := fakeDB(false)
	var results []clustertest.Result
	for _, r := range rows {
		results = append(results, clustertest.SegmentRows(r))
	}
	db.On(cluster.LoadSQL, results...)
	db.On(cluster.RemoveSegmentMirrorSQL, clustertest.Bool(true))
	db.On(cluster.AddSegmentSQL, clustertest.Int2(2))
	return db
}

func recoverOpts() buildmirrors.Options {
	o := opts(false)
	o.Prog = "gprecoverseg"
	return o
}

// TestMoveToNewLocation: a failed former primary rebuilt on another host.
// The copy and the port come first, then one transaction moves its row
// (Greenplum's statements and history text, GP6's spelling), and only
// then is it started; the old directory is never touched.
func TestMoveToNewLocation(t *testing.T) {
	db := moveDB(failedOver())
	ex := fakeHosts(nil, nil)
	var mu sync.Mutex
	var movedBeforeStart []bool
	inner := ex
	ex = &remotetest.Fake{}
	ex.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		if strings.HasPrefix(c.Label, "start ") {
			mu.Lock()
			sql := strings.Join(db.SQL(), "\n")
			movedBeforeStart = append(movedBeforeStart, strings.Contains(sql, cluster.AddSegmentSQL+"\n"+cluster.HistoryInsertSQL+"\n"+clustertest.SQLCommit))
			mu.Unlock()
		}
		res := inner.Exec(t.Context(), c)
		return remotetest.Response{Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode}, true
	})
	rep, err := buildmirrors.Run(t.Context(), env(ex, db), recoverOpts(), []buildmirrors.Mirror{moveToSdw3()})
	if err != nil || len(rep.Failed()) != 0 {
		t.Fatalf("run: %v %+v", err, rep.Outcomes)
	}
	if !slices.Equal(movedBeforeStart, []bool{true}) {
		t.Errorf("started before the catalog moved the row: %v", movedBeforeStart)
	}
	var moved []string
	for _, c := range db.Calls() {
		switch c.SQL {
		case cluster.RemoveSegmentMirrorSQL, cluster.AddSegmentSQL, cluster.HistoryInsertSQL:
			moved = append(moved, cluster.Statement{SQL: c.SQL, Args: c.Args}.String())
		}
	}
	want := []string{
		"SELECT gp_remove_segment_mirror(0::int2)",
		"SELECT gp_add_segment(2::int2, 0::int2, 'm', 'm', 'n', 'd', 6000, 'sdw3', 'sdw3', '/data/primary/gpseg0')",
		"INSERT INTO gp_configuration_history (time, dbid, \"desc\") VALUES(\nnow(),\n  2,\n  'gprecoverseg: segment config for resync: inserted segment configuration for full recovery or original dbid 2'\n)",
	}
	if d := cmp.Diff(want, moved); d != "" {
		t.Errorf("catalog statements (-want +got):\n%s", d)
	}
	sql := strings.Join(db.SQL(), "\n")
	if !strings.Contains(sql, clustertest.SQLBegin+"\n"+cluster.LoadSQL+"\n"+cluster.RemoveSegmentMirrorSQL) {
		t.Errorf("the move was not planned from rows read inside its transaction:\n%s", sql)
	}
	for _, c := range ex.Calls() {
		if c.Host == "sdw1" || slices.Contains(c.Args, "/data/primary/gpseg0") && c.Host != "sdw3" && !strings.HasPrefix(c.Label, "update pg_hba") {
			t.Errorf("touched the failed instance's host or directory: %s: %s", c.Host, c.Label)
		}
	}
}

// TestMoveStartFails: the row stays at the new location, down, as in
// Greenplum; nothing is backed out and the copy is kept for the rerun.
func TestMoveStartFails(t *testing.T) {
	db := moveDB(failedOver())
	ex := fakeHosts(nil, func(c remote.Command) bool { return strings.HasPrefix(c.Label, "start ") })
	rep, err := buildmirrors.Run(t.Context(), env(ex, db), recoverOpts(), []buildmirrors.Mirror{moveToSdw3()})
	if err != nil {
		t.Fatal(err)
	}
	o := rep.Outcomes[0]
	if o.OK() || o.FailedStep != buildmirrors.StepStart || !o.Registered || !o.Copied {
		t.Errorf("outcome %+v: want failed at %q, registered and copied", o, buildmirrors.StepStart)
	}
	if slices.Contains(db.SQL(), cluster.RemoveSegmentSQL) {
		t.Errorf("the move was backed out:\n%s", strings.Join(db.SQL(), "\n"))
	}
	if hasLabel(ex.Calls(), "remove directory of content 0 mirror (dbid 2)") {
		t.Error("the finished copy was removed")
	}
}

// TestMoveRefusals: before anything changes, a new location must be
// absent or empty (Greenplum's words; gprecoverseg in Greenplum would
// overwrite it), and the row must still be where the caller saw it and
// down.
func TestMoveRefusals(t *testing.T) {
	elsewhere := failedOver()
	elsewhere[1].Port = 6100
	up := failedOver()
	up[1].Status, up[2].Mode, up[3].Mode = cluster.StatusUp, cluster.ModeSynced, cluster.ModeSynced
	for _, tt := range []struct {
		name    string
		catalog []cluster.Segment
		probe   string
		want    string
	}{
		{"directory not empty", failedOver(), "state=notempty gpdbid= port= standby=0 pid= busy=0 avail=100000000 copied=",
			"for segment with port 6000: Segment directory '/data/primary/gpseg0' exists but is not empty!"},
		{"row moved meanwhile", elsewhere, "", "content 0 mirror (dbid 2) on sdw3:6000: its row changed in the catalog (now 2|0|m|p|n|d|sdw1|sdw1-1|6100|/data/primary/gpseg0)"},
		{"row up", up, "", "dbid 2 is up in the catalog: only a failed instance is moved"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			probes := map[int]string{}
			if tt.probe != "" {
				probes[2] = tt.probe
			}
			ex := fakeHosts(probes, nil)
			db := moveDB(tt.catalog)
			_, err := buildmirrors.Run(t.Context(), env(ex, db), recoverOpts(), []buildmirrors.Mirror{moveToSdw3()})
			var ie *buildmirrors.InputError
			if !asInput(err, &ie) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%v\nwant a refusal saying %q", err, tt.want)
			}
			for _, c := range ex.Calls() {
				if !strings.HasPrefix(c.Label, "check mirror targets") && !strings.HasPrefix(c.Label, "measure primaries") {
					t.Errorf("ran %q after the refusal", c.Label)
				}
			}
			for _, s := range db.SQL() {
				if s != cluster.LoadSQL && s != buildmirrors.SlotActiveSQL {
					t.Errorf("ran %q after the refusal", s)
				}
			}
		})
	}
}

// TestMovePartialCopy: an earlier run's unfinished copy at the new
// location, vouched for by the caller, is copied over.
func TestMovePartialCopy(t *testing.T) {
	ex := fakeHosts(map[int]string{2: "state=notempty gpdbid= port= standby=0 pid= busy=0 avail=1 copied="}, nil)
	m := moveToSdw3()
	m.PartialCopy = true
	rep, err := buildmirrors.Run(t.Context(), env(ex, moveDB(failedOver())), recoverOpts(), []buildmirrors.Mirror{m})
	if err != nil || len(rep.Failed()) != 0 {
		t.Fatalf("run: %v %+v", err, rep.Outcomes)
	}
	for _, c := range ex.Calls() {
		if strings.HasPrefix(c.Label, "pg_basebackup") && !slices.Contains(c.Args, "--force-overwrite") {
			t.Errorf("the half-written copy is not overwritten: %v", c.Args)
		}
	}
}

// TestMoveAlreadyCommitted: the rows read inside the transaction already
// name the new location (an earlier COMMIT whose answer was lost): nothing
// is written, and the mirror counts as registered.
func TestMoveAlreadyCommitted(t *testing.T) {
	moved := failedOver()
	moved[1].Hostname, moved[1].Address = "sdw3", "sdw3"
	db := moveDB(failedOver(), moved)
	rep, err := buildmirrors.Run(t.Context(), env(fakeHosts(nil, nil), db), recoverOpts(), []buildmirrors.Mirror{moveToSdw3()})
	if err != nil || len(rep.Failed()) != 0 || !rep.Outcomes[0].Registered {
		t.Fatalf("run: %v %+v", err, rep.Outcomes)
	}
	for _, s := range db.SQL() {
		if s == cluster.RemoveSegmentMirrorSQL || s == cluster.AddSegmentSQL {
			t.Errorf("wrote %q for a row already moved", s)
		}
	}
}

// TestMoveSteps: the plan of a move has the move step between the port
// and the start, with the statements planned from the catalog the check
// read.
func TestMoveSteps(t *testing.T) {
	c, err := cluster.New(failedOver())
	if err != nil {
		t.Fatal(err)
	}
	steps := buildmirrors.Steps(recoverOpts(), []buildmirrors.Mirror{moveToSdw3()}, nil, "e", map[string][]string{}, c)
	var names []string
	for _, s := range steps {
		names = append(names, s.Name)
	}
	want := []string{buildmirrors.StepCheck, buildmirrors.StepHBA, buildmirrors.StepSlots, buildmirrors.StepMkdir, buildmirrors.StepCopy,
		buildmirrors.StepPort, buildmirrors.StepMove, buildmirrors.StepStart, buildmirrors.StepStream, buildmirrors.StepRegister,
		buildmirrors.StepUnmark, buildmirrors.StepFTS}
	if d := cmp.Diff(want, names); d != "" {
		t.Fatalf("steps (-want +got):\n%s", d)
	}
	move, register := steps[6], steps[9]
	if len(move.SQL) != 3 || move.SQL[0].Statement.SQL != cluster.RemoveSegmentMirrorSQL || len(register.SQL) != 0 {
		t.Errorf("move step SQL %v, register step SQL %v", move.SQL, register.SQL)
	}
}

// TestCopyStartAfterChecks: OnCopyStart, the caller's record that a copy
// began, is told of each copy just before it starts, and never when the
// checks refuse: a journal must not vouch for a directory no copy wrote.
func TestCopyStartAfterChecks(t *testing.T) {
	var mu sync.Mutex
	var started []int
	var copiedAfterStart []bool
	ex := &remotetest.Fake{}
	inner := fakeHosts(nil, nil)
	ex.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		if strings.HasPrefix(c.Label, "pg_basebackup") {
			mu.Lock()
			copiedAfterStart = append(copiedAfterStart, len(started) == 1)
			mu.Unlock()
		}
		res := inner.Exec(t.Context(), c)
		return remotetest.Response{Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode}, true
	})
	e := env(ex, moveDB(failedOver()))
	e.OnCopyStart = func(i int) { mu.Lock(); started = append(started, i); mu.Unlock() }
	if _, err := buildmirrors.Run(t.Context(), e, recoverOpts(), []buildmirrors.Mirror{moveToSdw3()}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(started, []int{0}) || !slices.Equal(copiedAfterStart, []bool{true}) {
		t.Errorf("copy starts %v, copies after their start %v", started, copiedAfterStart)
	}

	started = nil
	refuse := env(fakeHosts(map[int]string{2: "state=notempty gpdbid= port= standby=0 pid= busy=0 avail=1 copied="}, nil), moveDB(failedOver()))
	refuse.OnCopyStart = func(i int) { started = append(started, i) }
	if _, err := buildmirrors.Run(t.Context(), refuse, recoverOpts(), []buildmirrors.Mirror{moveToSdw3()}); err == nil || len(started) != 0 {
		t.Errorf("refused run: %v, copy starts %v", err, started)
	}
}

// TestMoveStatementsGP6 pins the move's transaction in Greenplum 6's
// dialect (golden): gp_remove_segment_mirror, gp_add_segment with the same
// dbid and Greenplum's 'm', 'm', 'n', 'd' (its server puts the preferred
// role back, as no row of the content is the preferred primary), the
// history text of a full recovery; a peer still marked in sync is set not
// in sync; two moves go in content order. The spelling of gp_add_segment
// and of the history INSERT is the one pkg/cluster compares with the
// gpaddmirrors -v transcript of a real Greenplum 6.
func TestMoveStatementsGP6(t *testing.T) {
	segs := failedOver()
	c, err := cluster.New(segs)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	render := func(name string, stmts []cluster.Statement) {
		out.WriteString("### " + name + "\n")
		for _, s := range stmts {
			out.WriteString(s.String() + "\n--\n")
		}
	}
	stmts, done, err := buildmirrors.MoveStatements("gprecoverseg", c, []buildmirrors.Mirror{moveToSdw3()})
	if err != nil || len(done) != 0 {
		t.Fatal(err, done)
	}
	render("failed former primary after an FTS failover", stmts)

	// Content 1's mirror down, its primary still marked in sync (FTS has
	// not run), moved with content 0's former primary.
	both := failedOver()
	both[4].Status = cluster.StatusDown
	c2, err := cluster.New(both)
	if err != nil {
		t.Fatal(err)
	}
	m1 := both[4]
	m1.Hostname, m1.Address, m1.DataDir = "sdw4", "sdw4", "/data2/mirror/o'brien/gpseg1"
	from1 := both[4]
	stmts, _, err = buildmirrors.MoveStatements("gprecoverseg", c2, []buildmirrors.Mirror{{Source: both[3], Target: m1, From: &from1}, moveToSdw3()})
	if err != nil {
		t.Fatal(err)
	}
	render("two moves, one peer still in sync", stmts)
	golden.Check(t, "buildmirrors", "move_gp6.golden", []byte(out.String()))
}

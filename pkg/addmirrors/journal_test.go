package addmirrors

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

func rseg(dbid, content int, role cluster.Role, host string, port int, dir string) cluster.Segment {
	return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: role,
		Mode: cluster.ModeNotSynced, Status: cluster.StatusUp, Hostname: host, Address: host, Port: port, DataDir: dir}
}

// A 2-host mirrorless cluster and its two planned mirrors (dbids 4, 5).
var (
	rcoord   = rseg(1, -1, cluster.RolePrimary, "mdw", 5432, "/data/master/gpseg-1")
	rp0      = rseg(2, 0, cluster.RolePrimary, "sdw1", 6000, "/data/primary/gpseg0")
	rp1      = rseg(3, 1, cluster.RolePrimary, "sdw2", 6000, "/data/primary/gpseg1")
	rplanned = []Mirror{
		{Primary: rp0, Mirror: rseg(4, 0, cluster.RoleMirror, "sdw2", 7000, "/data/mirror/gpseg0")},
		{Primary: rp1, Mirror: rseg(5, 1, cluster.RoleMirror, "sdw1", 7000, "/data/mirror/gpseg1")},
	}
)

func item(m Mirror, step string, made bool) oplock.Item {
	return oplock.Item{DBID: m.Mirror.DBID, Method: method, Host: m.Mirror.Hostname, DataDir: m.Mirror.DataDir, Port: m.Mirror.Port, Step: step, Made: made}
}

// TestResume pins the rerun decisions: only an item the plan matches
// exactly is this run's own work; from the copy on its directory is the
// earlier run's (made by it or not, as the journal says), from the start
// on an instance of it may run; a registered item's marker is forgotten;
// anything else is left alone.
func TestResume(t *testing.T) {
	c, err := cluster.New([]cluster.Segment{rcoord, rp0, rp1})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := rplanned[1]
	elsewhere.Mirror.DataDir = "/other/gpseg1"
	for _, tt := range []struct {
		name          string
		prev          *oplock.Record
		catalog       *cluster.Cluster
		wantVouched   map[int]bool // dbid: OwnDir
		wantRunning   []int
		wantUnmark    []int
		wantForeignDB []int
	}{
		{name: "no journal", wantVouched: map[int]bool{}},
		{name: "killed before the copy", prev: rec(item(rplanned[0], buildmirrors.StepMkdir, false), item(rplanned[1], stepPlanned, false)),
			wantVouched: map[int]bool{}},
		{name: "killed during the copy", prev: rec(item(rplanned[0], buildmirrors.StepCopy, true), item(rplanned[1], buildmirrors.StepCopy, false)),
			wantVouched: map[int]bool{4: true, 5: false}},
		{name: "killed while waiting for streaming", prev: rec(item(rplanned[0], buildmirrors.StepStream, true), item(rplanned[1], buildmirrors.StepStart, true)),
			wantVouched: map[int]bool{4: true, 5: true}, wantRunning: []int{4, 5}},
		{name: "killed again before its own copy", prev: rec(partial(item(rplanned[0], buildmirrors.StepHBA, true)), partial(item(rplanned[1], buildmirrors.StepMkdir, false))),
			wantVouched: map[int]bool{4: true, 5: false}},
		{name: "another command's directory", prev: rec(item(rplanned[0], buildmirrors.StepCopy, true), item(elsewhere, buildmirrors.StepCopy, true)),
			wantVouched: map[int]bool{4: true}, wantForeignDB: []int{5}},
		{name: "another tool's journal", prev: &oplock.Record{Tool: "gprecoverseg", Items: []oplock.Item{item(rplanned[0], buildmirrors.StepCopy, true)}},
			wantVouched: map[int]bool{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := resume(tt.prev, c, rplanned)
			got := map[int]bool{}
			for dbid, it := range res.vouched {
				got[dbid] = it.Made
			}
			if d := cmp.Diff(tt.wantVouched, got); d != "" {
				t.Errorf("vouched (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantRunning, res.running); d != "" {
				t.Errorf("running (-want +got):\n%s", d)
			}
			var foreign []int
			for _, it := range res.foreign {
				foreign = append(foreign, it.DBID)
			}
			if d := cmp.Diff(tt.wantForeignDB, foreign); d != "" {
				t.Errorf("foreign (-want +got):\n%s", d)
			}
			bms := res.buildMirrors(rplanned)
			for i, m := range bms {
				own, ok := tt.wantVouched[m.Target.DBID]
				if m.PartialCopy != ok || m.OwnDir != (ok && own) || m.Overwrite {
					t.Errorf("pipeline mirror %d: partial=%t own=%t overwrite=%t", i, m.PartialCopy, m.OwnDir, m.Overwrite)
				}
			}
		})
	}
}

// TestResumeRegistered: a journal item whose mirror is registered as
// planned (the earlier run committed before it was killed) is not built
// again; its copy marker is forgotten.
func TestResumeRegistered(t *testing.T) {
	m0 := rplanned[0].Mirror
	m0.Status = cluster.StatusDown
	c, err := cluster.New([]cluster.Segment{rcoord, rp0, rp1, m0})
	if err != nil {
		t.Fatal(err)
	}
	res := resume(rec(item(rplanned[0], buildmirrors.StepRegister, true), item(rplanned[1], buildmirrors.StepRegister, true)), c, rplanned[1:])
	if len(res.unmark) != 1 || res.unmark[0].DBID != 4 || len(res.foreign) != 0 {
		t.Errorf("unmark %+v foreign %+v, want dbid 4's marker forgotten", res.unmark, res.foreign)
	}
	if _, ok := res.vouched[5]; !ok || len(res.running) != 1 || res.running[0] != 5 {
		t.Errorf("vouched %+v running %v, want dbid 5 taken over", res.vouched, res.running)
	}
}

// TestJournalRecordsSteps: the journal is written at the first changing
// step (not before: a refused run leaves the earlier one's), says which
// directories the run made before the copy, keeps the earlier run's Made,
// and is removed when the pipeline returns.
func TestJournalRecordsSteps(t *testing.T) {
	mdd := t.TempDir()
	res := resumption{vouched: map[int]oplock.Item{5: item(rplanned[1], buildmirrors.StepCopy, true)}}
	jn := newJournal(&app.Env{PID: 42, Start: time.Unix(0, 0).UTC(), Args: []string{"-a"}}, mdd, res, rplanned)
	if _, err := os.Stat(oplock.JournalPath(mdd, Tool)); !os.IsNotExist(err) {
		t.Fatalf("journal before the first step: %v", err)
	}
	outs := []buildmirrors.Outcome{{Mirror: buildmirrors.Mirror{Target: rplanned[0].Mirror}}, {Mirror: buildmirrors.Mirror{Target: rplanned[1].Mirror}}}
	if err := jn.beforeStep(buildmirrors.StepMkdir, outs); err != nil {
		t.Fatal(err)
	}
	outs[0].Created = true
	if err := jn.beforeStep(buildmirrors.StepCopy, outs); err != nil {
		t.Fatal(err)
	}
	got, err := oplock.ReadJournal(mdd, Tool)
	if err != nil {
		t.Fatal(err)
	}
	want := []oplock.Item{item(rplanned[0], buildmirrors.StepCopy, true), partial(item(rplanned[1], buildmirrors.StepCopy, true))}
	if got.PID != 42 || got.Tool != Tool {
		t.Errorf("journal record %+v", got)
	}
	if d := cmp.Diff(want, got.Items); d != "" {
		t.Errorf("journal items (-want +got):\n%s", d)
	}
	if err := jn.finish(buildmirrors.Report{Outcomes: outs}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mdd, Tool+".journal")); !os.IsNotExist(err) {
		t.Errorf("journal after finish: %v", err)
	}
}

// TestJournalCarriesForward: a rerun that takes over the unfinished
// copies of a run killed at the copy, and is killed in turn before its own
// copy (at the pg_hba.conf step), leaves a journal from which a third run
// makes the same decisions as the second: both directories are still
// cleared, and only the one the first run made is removed (OwnDir).
func TestJournalCarriesForward(t *testing.T) {
	c, err := cluster.New([]cluster.Segment{rcoord, rp0, rp1})
	if err != nil {
		t.Fatal(err)
	}
	first := rec(item(rplanned[0], buildmirrors.StepCopy, true), item(rplanned[1], buildmirrors.StepCopy, false))
	second := resume(first, c, rplanned)

	mdd := t.TempDir()
	jn := newJournal(&app.Env{PID: 43}, mdd, second, rplanned)
	outs := []buildmirrors.Outcome{{Mirror: buildmirrors.Mirror{Target: rplanned[0].Mirror}}, {Mirror: buildmirrors.Mirror{Target: rplanned[1].Mirror}}}
	if err := jn.beforeStep(buildmirrors.StepHBA, outs); err != nil {
		t.Fatal(err)
	}
	left, err := oplock.ReadJournal(mdd, Tool)
	if err != nil {
		t.Fatal(err)
	}
	want := []oplock.Item{partial(item(rplanned[0], buildmirrors.StepHBA, true)), partial(item(rplanned[1], buildmirrors.StepHBA, false))}
	if d := cmp.Diff(want, left.Items); d != "" {
		t.Errorf("the second run's journal (-want +got):\n%s", d)
	}

	third := resume(left, c, rplanned)
	if d := cmp.Diff(second.buildMirrors(rplanned), third.buildMirrors(rplanned)); d != "" {
		t.Errorf("the third run's pipeline mirrors differ from the second's (-second +third):\n%s", d)
	}
	for _, m := range third.buildMirrors(rplanned) {
		if !m.PartialCopy || m.OwnDir != (m.Target.DBID == 4) {
			t.Errorf("third run, dbid %d: partial=%t own=%t, want partial, own only for dbid 4", m.Target.DBID, m.PartialCopy, m.OwnDir)
		}
	}

	// A journal that never vouched for a copy carries nothing.
	plain := newJournal(&app.Env{PID: 44}, t.TempDir(), resume(nil, c, rplanned), rplanned)
	for _, it := range plain.rec.Items {
		if it.Partial || it.Made {
			t.Errorf("a first run's item %+v: partial or made", it)
		}
	}
}

func partial(it oplock.Item) oplock.Item {
	it.Partial = true
	return it
}

// TestJournalKeptWhenCleanupIncomplete: a mirror whose copy failed and
// whose cleanup could not finish (its host gone midway) keeps the
// journal, its item at the failed step: the rerun of the same command
// vouches for the half-written directory (the rerun of issue 18's "exists
// but is not empty") instead of refusing it.
func TestJournalKeptWhenCleanupIncomplete(t *testing.T) {
	mdd := t.TempDir()
	env := &app.Env{PID: 42, Start: time.Unix(0, 0).UTC(), Log: slog.New(slog.DiscardHandler)}
	jn := newJournal(env, mdd, resumption{vouched: map[int]oplock.Item{}}, rplanned)
	outs := []buildmirrors.Outcome{{Mirror: buildmirrors.Mirror{Target: rplanned[0].Mirror}}, {Mirror: buildmirrors.Mirror{Target: rplanned[1].Mirror}}}
	if err := jn.beforeStep(buildmirrors.StepMkdir, outs); err != nil {
		t.Fatal(err)
	}
	outs[1].Created = true
	if err := jn.beforeStep(buildmirrors.StepCopy, outs); err != nil {
		t.Fatal(err)
	}
	outs[1].Err, outs[1].FailedStep, outs[1].Left = errors.New("connection lost"), buildmirrors.StepCopy, true
	if err := jn.finish(buildmirrors.Report{Outcomes: outs}); err != nil {
		t.Fatal(err)
	}
	got, err := oplock.ReadJournal(mdd, Tool)
	if err != nil || got == nil {
		t.Fatalf("journal after a failed cleanup: %v, %v; want it kept", got, err)
	}
	c, err := cluster.New([]cluster.Segment{rcoord, rp0, rp1})
	if err != nil {
		t.Fatal(err)
	}
	res := resume(got, c, rplanned[1:])
	if it, ok := res.vouched[rplanned[1].Mirror.DBID]; !ok || !it.Made {
		t.Errorf("the rerun's resumption %+v: want dbid %d's directory vouched for, made by the run", res, rplanned[1].Mirror.DBID)
	}
}

func rec(items ...oplock.Item) *oplock.Record {
	return &oplock.Record{Tool: Tool, PID: 7, Items: items}
}

// TestRegisteredAll: a journal all of whose mirrors are in the catalog as
// planned is a run killed after its commit; one missing, or registered
// elsewhere, is not.
func TestRegisteredAll(t *testing.T) {
	m0, m1 := rplanned[0].Mirror, rplanned[1].Mirror
	both := rec(item(rplanned[0], buildmirrors.StepUnmark, true), item(rplanned[1], buildmirrors.StepUnmark, true))
	moved := m1
	moved.Port = 7100
	for _, tt := range []struct {
		name string
		segs []cluster.Segment
		want bool
	}{
		{"both registered", []cluster.Segment{rcoord, rp0, rp1, m0, m1}, true},
		{"one registered", []cluster.Segment{rcoord, rp0, rp1, m0}, false},
		{"registered elsewhere", []cluster.Segment{rcoord, rp0, rp1, m0, moved}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cluster.New(tt.segs)
			if err != nil {
				t.Fatal(err)
			}
			if got := registeredAll(both, c); got != tt.want {
				t.Errorf("registeredAll = %t, want %t", got, tt.want)
			}
		})
	}
	if registeredAll(nil, nil) {
		t.Error("no journal: registeredAll")
	}
}

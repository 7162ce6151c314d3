package buildmirrors_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// halfCopied is content 1's target holding an earlier run's unfinished
// copy: not empty, no marker.
const halfCopied = "state=notempty gpdbid= port= standby=0 pid= busy=0 avail=100000000 copied="

// vouched returns mirrors with content 1's target vouched for as the
// caller's earlier run's partial copy, in a directory it made or not.
func vouched(own bool) []buildmirrors.Mirror {
	ms := slices.Clone(mirrors)
	ms[1].PartialCopy, ms[1].OwnDir = true, own
	return ms
}

// TestPartialCopyIsRedone: a new mirror's non-empty target that the caller
// vouches for (its journal) is not refused: it is cleared (removed and
// made again, the earlier run having made it) and copied again, and
// BeforeStep hears of every changing step in order, with the directories
// made known before the copy starts.
func TestPartialCopyIsRedone(t *testing.T) {
	ex := fakeHosts(map[int]string{5: halfCopied}, nil)
	e := env(ex, fakeDB(false))
	var heard []string
	e.BeforeStep = func(step string, outs []buildmirrors.Outcome) error {
		heard = append(heard, fmt.Sprintf("%s created=%t,%t", step, outs[0].Created, outs[1].Created))
		return nil
	}
	rep, err := buildmirrors.Run(t.Context(), e, opts(false), vouched(true))
	if err != nil || len(rep.Failed()) != 0 {
		t.Fatalf("run: %v %+v", err, rep.Failed())
	}
	var clear *remote.Command
	for _, c := range ex.Calls() {
		if c.Label == "clear the unfinished copy in content 1 mirror (dbid 5)" {
			clear = &c
		}
	}
	if clear == nil || clear.Host != "sdw1" || !slices.Equal(clear.Args, []string{"/data/mirror/gpseg1", "1"}) {
		t.Fatalf("content 1's directory not cleared as the earlier run's own: %+v\n%s", clear, strings.Join(labels(ex.Calls()), "\n"))
	}
	if !hasLabel(ex.Calls(), "pg_basebackup content 1 mirror (dbid 5)") || !hasLabel(ex.Calls(), "create directory of content 0 mirror (dbid 4)") {
		t.Errorf("content 1 not copied again, or content 0 not made:\n%s", strings.Join(labels(ex.Calls()), "\n"))
	}
	want := []string{
		"update pg_hba.conf on primaries created=false,false",
		"prepare replication slots created=false,false",
		"create mirror directories created=false,false",
		"copy primaries with pg_basebackup created=true,true",
		"set mirror ports created=true,true",
		"start mirrors created=true,true",
		"wait for mirrors to stream created=true,true",
		"register mirrors in the catalog created=true,true",
		"forget the finished copies created=true,true",
		"trigger FTS probe created=true,true",
	}
	if d := cmp.Diff(want, heard); d != "" {
		t.Errorf("BeforeStep (-want +got):\n%s", d)
	}
}

// TestPartialCopyNotVouchedIsRefused: the same directory, not vouched for,
// is still refused before anything changes.
func TestPartialCopyNotVouchedIsRefused(t *testing.T) {
	ex := fakeHosts(map[int]string{5: halfCopied}, nil)
	_, err := buildmirrors.Run(t.Context(), env(ex, fakeDB(false)), opts(false), mirrors)
	var ie *buildmirrors.InputError
	if !asInput(err, &ie) || !strings.Contains(err.Error(), "Segment directory '/data/mirror/gpseg1' exists but is not empty!") {
		t.Fatalf("%v, want the not-empty refusal", err)
	}
}

// TestPartialCopyInForeignDirIsKept: a vouched directory the earlier run
// did not make is emptied, never removed, before the copy and again when
// this run's copy fails.
func TestPartialCopyInForeignDirIsKept(t *testing.T) {
	ex := fakeHosts(map[int]string{5: halfCopied}, func(c remote.Command) bool {
		return c.Host == "sdw1" && strings.HasPrefix(c.Label, "pg_basebackup")
	})
	rep, err := buildmirrors.Run(t.Context(), env(ex, fakeDB(false)), opts(false), vouched(false))
	if err != nil {
		t.Fatal(err)
	}
	if o := rep.Outcomes[1]; o.OK() || o.Created || o.FailedStep != buildmirrors.StepCopy {
		t.Fatalf("content 1: %+v", o)
	}
	var clears int
	for _, c := range ex.Calls() {
		if c.Label == "clear the unfinished copy in content 1 mirror (dbid 5)" {
			clears++
			if c.Args[1] != "0" {
				t.Errorf("the directory the earlier run did not make was to be removed: %v", c.Args)
			}
		}
		if strings.HasPrefix(c.Label, "remove directory of content 1") {
			t.Errorf("the directory the earlier run did not make was removed: %s", c.Label)
		}
	}
	if clears != 2 {
		t.Errorf("content 1's directory emptied %d times, want 2 (before the copy, after its failure):\n%s", clears, strings.Join(labels(ex.Calls()), "\n"))
	}
}

// TestBeforeStepFailureStops: a journal that cannot be written stops the
// run before the step, every mirror failed and cleaned up.
func TestBeforeStepFailureStops(t *testing.T) {
	ex := fakeHosts(nil, nil)
	e := env(ex, fakeDB(false))
	e.BeforeStep = func(step string, _ []buildmirrors.Outcome) error {
		if step == buildmirrors.StepCopy {
			return fmt.Errorf("disk full")
		}
		return nil
	}
	rep, err := buildmirrors.Run(t.Context(), e, opts(false), mirrors)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rep.Outcomes {
		if o.OK() || o.FailedStep != buildmirrors.StepCopy {
			t.Errorf("dbid %d: %+v, want failed at the copy", o.Mirror.Target.DBID, o)
		}
	}
	if hasLabel(ex.Calls(), "pg_basebackup content 0 mirror (dbid 4)") || !hasLabel(ex.Calls(), "remove directory of content 0 mirror (dbid 4)") {
		t.Errorf("copied after the journal failed, or not cleaned up:\n%s", strings.Join(labels(ex.Calls()), "\n"))
	}
}

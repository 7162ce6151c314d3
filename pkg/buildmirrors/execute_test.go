package buildmirrors_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// withMirrors is the catalog after the registration of mirrors.
func withMirrors() []cluster.Segment {
	segs := []cluster.Segment{coord, p0, p1}
	for _, m := range mirrors {
		t := m.Target
		t.Status, t.Mode = cluster.StatusDown, cluster.ModeNotSynced
		segs = append(segs, t)
	}
	return segs
}

// TestCommitMayHaveSucceeded (review finding 2): the COMMIT of the
// registration fails as when the connection drops after it was sent. The
// catalog read again on a fresh connection decides: with the rows there,
// the mirrors are registered and nothing is cleaned up; without them, no
// mirror is registered and both are cleaned up.
func TestCommitMayHaveSucceeded(t *testing.T) {
	reset := errors.New("unexpected EOF: connection reset by peer")
	for _, tt := range []struct {
		name      string
		reread    []cluster.Segment
		committed bool
	}{
		{"committed", withMirrors(), true},
		{"not committed", []cluster.Segment{coord, p0, p1}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ex := fakeHosts(nil, nil)
			db := fakeDB(false)
			db.On(clustertest.SQLCommit, clustertest.Err(reset))
			db.On(cluster.LoadSQL, clustertest.SegmentRows([]cluster.Segment{coord, p0, p1}), clustertest.SegmentRows(tt.reread))
			rep, err := buildmirrors.Run(t.Context(), env(ex, db), opts(false), mirrors)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range rep.Outcomes {
				if o.Registered != tt.committed || o.OK() != tt.committed {
					t.Errorf("dbid %d: registered=%t ok=%t err=%v, want registered=%t", o.Mirror.Target.DBID, o.Registered, o.OK(), o.Err, tt.committed)
				}
				if !tt.committed && (o.Err == nil || !errors.Is(o.Err, reset)) {
					t.Errorf("dbid %d: error %v does not carry the COMMIT's", o.Mirror.Target.DBID, o.Err)
				}
			}
			stopped := slices.ContainsFunc(ex.Calls(), func(c remote.Command) bool { return strings.HasPrefix(c.Label, "stop content") })
			if stopped == tt.committed {
				t.Errorf("mirrors stopped: %t, want %t:\n%s", stopped, !tt.committed, strings.Join(labels(ex.Calls()), "\n"))
			}
		})
	}
}

// TestStreamKeepsTheError (review finding 5): a primary that cannot be
// asked whether its mirror streams fails that mirror with the reason, not
// with "not streaming".
func TestStreamKeepsTheError(t *testing.T) {
	auth := errors.New(`FATAL: password authentication failed for user "gpadmin" (SQLSTATE 28P01)`)
	db := fakeDB(false)
	db.On(buildmirrors.StreamingSQL, clustertest.Err(auth))
	rep, err := buildmirrors.Run(t.Context(), env(fakeHosts(nil, nil), db), opts(false), mirrors)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rep.Outcomes {
		if o.OK() || o.FailedStep != buildmirrors.StepStream || !errors.Is(o.Err, auth) {
			t.Errorf("dbid %d: ok=%t step=%q err=%v, want the authentication failure", o.Mirror.Target.DBID, o.OK(), o.FailedStep, o.Err)
		}
	}
}

// TestDiskSpaceIsChecked (review finding 7): no free space at all, and
// free space df could not read, are refusals, not a skipped check.
func TestDiskSpaceIsChecked(t *testing.T) {
	for avail, want := range map[string]string{
		"0": "0 kB free where /data/mirror/gpseg0 goes, the primary holds 40000 kB",
		"":  "cannot read the free space where /data/mirror/gpseg0 goes (df failed on sdw2)",
	} {
		ex := fakeHosts(map[int]string{4: "state=absent gpdbid= port= standby=0 pid= busy=0 avail=" + avail}, nil)
		_, err := buildmirrors.Run(t.Context(), env(ex, fakeDB(false)), opts(false), mirrors)
		var ie *buildmirrors.InputError
		if !asInput(err, &ie) || !strings.Contains(err.Error(), want) {
			t.Errorf("avail=%q: %v, want a refusal saying %q", avail, err, want)
		}
	}
}

// TestUnreadableEraRefuses (review finding 7): a coordinator era file
// that cannot be read refuses the run instead of starting mirrors with
// GPERA=None.
func TestUnreadableEraRefuses(t *testing.T) {
	mdd := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mdd, "log"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mdd, "log", "gp_era"), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := opts(false)
	o.CoordinatorDataDir = mdd
	ex := fakeHosts(nil, nil)
	_, err := buildmirrors.Run(t.Context(), env(ex, fakeDB(false)), o, mirrors)
	var ie *buildmirrors.InputError
	if !asInput(err, &ie) || !strings.Contains(err.Error(), "no era line") {
		t.Fatalf("%v, want a refusal naming the era file", err)
	}
	for _, c := range ex.Calls() {
		if !strings.HasPrefix(c.Label, "check mirror targets") && !strings.HasPrefix(c.Label, "measure primaries") {
			t.Errorf("ran %q after the refusal", c.Label)
		}
	}
}

// TestExecutionIsThePlan (review finding 10): what a run executes on the
// hosts and the primaries is exactly what --dry-run printed: every command
// and statement of the steps after the check, each as often as the plan
// shows it.
func TestExecutionIsThePlan(t *testing.T) {
	e := env(fakeHosts(nil, nil), fakeDB(true))
	var printed []string
	e.Log = slog.New(captureHandler{&printed})
	if _, err := buildmirrors.Run(t.Context(), e, opts(true), mirrors); err != nil {
		t.Fatal(err)
	}
	entry := regexp.MustCompile(`^  (sdw\d+|primary \S+ \(utility\)|coordinator( \([^)]*\))?): (.*)$`)
	var plan []string
	inCheck := false
	for _, l := range printed {
		if strings.HasPrefix(l, "Step ") {
			inCheck = strings.Contains(l, buildmirrors.StepCheck)
		}
		if m := entry.FindStringSubmatch(l); m != nil && !inCheck {
			plan = append(plan, m[3])
		}
	}

	ex, db := fakeHosts(nil, nil), fakeDB(true)
	rep, err := buildmirrors.Run(t.Context(), env(ex, db), opts(false), mirrors)
	if err != nil || len(rep.Failed()) != 0 {
		t.Fatalf("run: %v %+v", err, rep.Failed())
	}
	var ran []string
	for _, c := range ex.Calls() {
		if !strings.HasPrefix(c.Label, "check mirror targets") && !strings.HasPrefix(c.Label, "measure primaries") {
			ran = append(ran, firstLine(remote.CommandLine(c)))
		}
	}
	for _, c := range db.Calls() {
		switch c.SQL {
		case cluster.LoadSQL, buildmirrors.SlotActiveSQL, clustertest.SQLBegin, clustertest.SQLCommit:
			continue // the check, which ran before the plan, and the transaction's frame
		}
		ran = append(ran, firstLine(cluster.Statement{SQL: c.SQL, Args: c.Args}.String()))
	}
	slices.Sort(plan)
	slices.Sort(ran)
	if d := cmp.Diff(plan, ran); d != "" {
		t.Errorf("executed differs from the plan (-plan +executed):\n%s", d)
	}
	if len(ran) < 10 {
		t.Fatalf("only %d commands and statements ran", len(ran))
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// captureHandler keeps every log message.
type captureHandler struct{ msgs *[]string }

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	*h.msgs = append(*h.msgs, r.Message)
	return nil
}
func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }

package gpstate

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// This file holds, besides the tests of -m, the helpers the tests of the
// modes -m -c -e -Q -i -p -f -x share (prefix "modes").

// modesCase is a named fixture, the element type of fixtures.
type modesCase = struct {
	name string
	make func() *fixture
}

// modesCases are the shared fixtures followed by more.
func modesCases(more ...modesCase) []modesCase {
	return append(append([]modesCase{}, fixtures...), more...)
}

// modesFlavoured is the fixture under another flavour: only the wording
// (and the SQL column names) change.
func modesFlavoured(f cluster.Flavour, make func() *fixture) func() *fixture {
	return func() *fixture {
		x := make()
		x.flavour = f
		return x
	}
}

// modesCatalogOnly is the fixture as the catalog-only modes (-m -c -Q -p
// -x) see it: Run gathers nothing for them, so r.st.Obs is nil.
func modesCatalogOnly(make func() *fixture) func() *fixture {
	return func() *fixture {
		x := make()
		x.obs = nil
		return x
	}
}

// modesRun runs one report (a method value such as (*report).mirrors) on
// f at INFO, after setup (which may be nil) adjusts the test report, and
// returns the console output, the exit code and the test report.
func modesRun(t *testing.T, f *fixture, run func(*report, context.Context) error, setup func(*testReport)) (string, int, *testReport) {
	t.Helper()
	tr := newTestReport(t, f, &Options{}, slog.LevelInfo)
	if setup != nil {
		setup(tr)
	}
	code := exitCode(t, run(tr.report, t.Context()))
	return tr.out.String(), code, tr
}

// The reference transcripts were renamed after the runs: the host "vm" (see
// the helper's program name "gpgetstatususingtransition.py_vm" in
// gp6-e-v.txt, which the renaming missed) became "mdw", and every data
// directory lost 16 characters of its prefix, which became "/data". The
// TableLogger widths in the transcripts are those of the original names:
// the header "Datadir" padded to 49 + 3 is the original longest directory,
// and a row's "mdw" padded to 7 + 3 was a 2-letter "vm" in a 6-wide
// "Mirror" column. So the tables are compared by rendering the original
// lengths (modesOriginalNames) and renaming the output as the transcripts
// were (modesRenamed); the golden files show the same report under the
// names as given.
const modesOriginalPrefix = "/data" + "________________" // "/data" + 16 characters

// modesOriginalNames renames f's host mdw to vm and its data directories
// under /data to modesOriginalPrefix, in place, and returns it.
func modesOriginalNames(f *fixture) *fixture {
	for i := range f.segs {
		s := &f.segs[i]
		if s.Hostname == "mdw" {
			s.Hostname, s.Address = "vm", "vm"
		}
		s.DataDir = modesOriginalDir(s.DataDir)
	}
	if f.obs != nil {
		if v, ok := f.obs.Binary["mdw"]; ok {
			f.obs.Binary["vm"] = v
			delete(f.obs.Binary, "mdw")
		}
	}
	return f
}

// modesOriginalDir is dir under its original, longer prefix.
func modesOriginalDir(dir string) string {
	if rest, ok := strings.CutPrefix(dir, "/data/"); ok {
		return modesOriginalPrefix + "/" + rest
	}
	return dir
}

var modesHostVM = regexp.MustCompile(`\bvm\b`)

// modesRenamed renames messages as the transcripts were.
func modesRenamed(msgs []string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = modesHostVM.ReplaceAllString(strings.ReplaceAll(m, modesOriginalPrefix, "/data"), "mdw")
	}
	return out
}

// modesOriginalReport sets the coordinator data directory of the test
// report to its original name too (-p prints it).
func modesOriginalReport(tr *testReport) {
	tr.st.DataDir = modesOriginalDir(tr.st.DataDir)
	tr.co.DataDir = tr.st.DataDir
}

// modesCheckTranscript runs a report on the original names of f and
// compares its renamed messages with want.
func modesCheckTranscript(t *testing.T, name string, f *fixture, run func(*report, context.Context) error, setup func(*testReport), want []string, wantCode int) {
	t.Helper()
	out, code, _ := modesRun(t, modesOriginalNames(f), run, func(tr *testReport) {
		modesOriginalReport(tr)
		if setup != nil {
			setup(tr)
		}
	})
	if code != wantCode {
		t.Errorf("%s: exit code %d, want %d", name, code, wantCode)
	}
	if d := cmp.Diff(want, modesRenamed(messages(out))); d != "" {
		t.Errorf("%s differs (-transcript +got):\n%s", name, d)
	}
}

// TestMirrorsGolden pins -m on every fixture, with Greenplum 7 and
// Cloudberry wording, run on the catalog alone (no observation, no SQL),
// and its exit code (spec §2.3): 1 exactly when a preferred mirror is down
// and not acting as primary (mirror_down).
func TestMirrorsGolden(t *testing.T) {
	wantExit := map[string]int{"mirror_down": 1}
	for _, tt := range modesCases(
		modesCase{"gp7", modesFlavoured(cluster.GP7, healthyGP6)},
		modesCase{"cloudberry", modesFlavoured(cluster.Cloudberry, healthyGP6)},
	) {
		t.Run(tt.name, func(t *testing.T) {
			out, code, tr := modesRun(t, modesCatalogOnly(tt.make)(), (*report).mirrors, nil)
			if code != wantExit[tt.name] {
				t.Errorf("exit code %d, want %d", code, wantExit[tt.name])
			}
			if sql := tr.conn.SQL(); len(sql) != 0 {
				t.Errorf("-m ran SQL: %q", sql)
			}
			golden.Check(t, "gpstate", "mirrors_"+tt.name+".golden", []byte(out))
		})
	}
}

// TestMirrorsMatchesTranscripts: -m prints what GP6 printed, line for line:
// the healthy run (gp6-all-modes-healthy.txt), and the runs after a
// primary failure and after its recovery of
// reference/gp6-transcripts/failover-gprecoverseg-and-rebalance.txt
// (copied here: the fixtures primary_down and unbalanced are those states).
func TestMirrorsMatchesTranscripts(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    *fixture
		want []string
		code int
	}{
		{"gp6-all-modes-healthy.txt -m", healthyGP6(), transcript(t, "-m"), 0},
		{"failover -m (degraded)", primaryDown(), []string{
			"-------------------------------------------------------------",
			"-Current GPDB mirror list and status",
			"-Type = Group",
			"-------------------------------------------------------------",
			"   Mirror   Datadir                                             Port   Status              Data Status    ",
			"   mdw       /data/dbfast_mirror1/demoDataDir0   7004   Passive             Synchronized",
			"   mdw       /data/dbfast_mirror2/demoDataDir1   7005   Acting as Primary   Not In Sync",
			"-------------------------------------------------------------",
			"WARNING: 1 segment(s) configured as mirror(s) are acting as primaries",
			"WARNING: 1 mirror segment(s) acting as primaries are not synchronized",
		}, 0},
		{"failover -m (recovered, unbalanced)", unbalanced(), []string{
			"-------------------------------------------------------------",
			"-Current GPDB mirror list and status",
			"-Type = Group",
			"-------------------------------------------------------------",
			"   Mirror   Datadir                                             Port   Status              Data Status    ",
			"   mdw       /data/dbfast_mirror1/demoDataDir0   7004   Passive             Synchronized",
			"   mdw       /data/dbfast_mirror2/demoDataDir1   7005   Acting as Primary   Synchronized",
			"-------------------------------------------------------------",
			"WARNING: 1 segment(s) configured as mirror(s) are acting as primaries",
		}, 0},
	} {
		tt.f.obs = nil
		modesCheckTranscript(t, tt.name, tt.f, (*report).mirrors, nil, tt.want, tt.code)
	}
}

// TestMirrorsFailedRow checks the warning row of a failed mirror against
// spec §2.4.3's example: no data status, the arrows after the padded empty
// data status cell, and the warnings after the closing line.
func TestMirrorsFailedRow(t *testing.T) {
	recs, failed := mirrorsRecords(modesStatus(t, mirrorDown()))
	if !failed {
		t.Error("failed = false, want true")
	}
	var got []string
	for _, r := range recs[4:] {
		got = append(got, r.Level.String()+" "+r.Msg)
	}
	want := []string{
		"INFO    Mirror   Datadir                             Port   Status    Data Status    ",
		"INFO    mdw      /data/dbfast_mirror1/demoDataDir0   7004   Passive   Synchronized",
		"WARN mdw      /data/dbfast_mirror2/demoDataDir1   7005   Failed                   <<<<<<<<",
		"INFO -------------------------------------------------------------",
		"WARN 1 segment(s) configured as mirror(s) have failed",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// modesStatus is the Status of a fixture, catalog only (no observation).
func modesStatus(t *testing.T, f *fixture) *Status {
	t.Helper()
	c, err := cluster.New(f.segs)
	if err != nil {
		t.Fatal(err)
	}
	return &Status{Flavour: f.flavour, Cluster: c, DataDir: "/data/qddir/demoDataDir-1", Port: 7000}
}

// TestMirrorsType covers Greenplum's guess of the mirror placement
// (guessIsSpreadMirror, spec §2.4.3).
func TestMirrorsType(t *testing.T) {
	p, m, s := cluster.RolePrimary, cluster.RoleMirror, cluster.ModeSynced
	coord := seg(1, -1, p, cluster.ModeNotSynced, "cdw", 5432, "/c/gpseg-1")
	for _, tt := range []struct {
		name string
		segs []cluster.Segment
		want string
	}{
		{"mirrorless", []cluster.Segment{coord,
			seg(2, 0, p, cluster.ModeNotSynced, "sdw1", 6000, "/p/gpseg0")}, "No Mirror"},
		{"one host", healthyGP6().segs, "Group"},
		{"2 hosts, 1 segment each: Spread", []cluster.Segment{coord,
			seg(2, 0, p, s, "sdw1", 6000, "/p/gpseg0"), seg(4, 0, m, s, "sdw2", 7000, "/m/gpseg0"),
			seg(3, 1, p, s, "sdw2", 6000, "/p/gpseg1"), seg(5, 1, m, s, "sdw1", 7000, "/m/gpseg1")}, "Spread"},
		{"group: both mirrors of sdw1 on sdw2", []cluster.Segment{coord,
			seg(2, 0, p, s, "sdw1", 6000, "/p/gpseg0"), seg(6, 0, m, s, "sdw2", 7000, "/m/gpseg0"),
			seg(3, 1, p, s, "sdw1", 6001, "/p/gpseg1"), seg(7, 1, m, s, "sdw2", 7001, "/m/gpseg1"),
			seg(4, 2, p, s, "sdw2", 6000, "/p/gpseg2"), seg(8, 2, m, s, "sdw1", 7000, "/m/gpseg2"),
			seg(5, 3, p, s, "sdw2", 6001, "/p/gpseg3"), seg(9, 3, m, s, "sdw1", 7001, "/m/gpseg3")}, "Group"},
		{"spread over 3 hosts", []cluster.Segment{coord,
			seg(2, 0, p, s, "sdw1", 6000, "/p/gpseg0"), seg(8, 0, m, s, "sdw2", 7000, "/m/gpseg0"),
			seg(3, 1, p, s, "sdw1", 6001, "/p/gpseg1"), seg(9, 1, m, s, "sdw3", 7000, "/m/gpseg1"),
			seg(4, 2, p, s, "sdw2", 6000, "/p/gpseg2"), seg(10, 2, m, s, "sdw3", 7001, "/m/gpseg2"),
			seg(5, 3, p, s, "sdw2", 6001, "/p/gpseg3"), seg(11, 3, m, s, "sdw1", 7000, "/m/gpseg3"),
			seg(6, 4, p, s, "sdw3", 6000, "/p/gpseg4"), seg(12, 4, m, s, "sdw1", 7001, "/m/gpseg4"),
			seg(7, 5, p, s, "sdw3", 6001, "/p/gpseg5"), seg(13, 5, m, s, "sdw2", 7001, "/m/gpseg5")}, "Spread"},
		{"failed over: preferred roles decide", func() []cluster.Segment {
			segs := healthyGP6().segs
			segs[3].Role, segs[4].Role = m, p
			return segs
		}(), "Group"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cluster.New(tt.segs)
			if err != nil {
				t.Fatal(err)
			}
			if got := mirrorsType(c); got != tt.want {
				t.Errorf("mirrorsType = %q, want %q", got, tt.want)
			}
		})
	}
}

package gpstate

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// briefGatheringLine is logged by report.gather (run.go) before any report;
// the report tests do not run gather (it needs the hosts), so it is taken
// off the front of the transcripts, after checking it is there.
const briefGatheringLine = "Gathering data from segments..."

// briefFlavoured is the healthy cluster under another flavour: only the
// wording changes.
func briefFlavoured(f cluster.Flavour) func() *fixture {
	return func() *fixture {
		x := healthyGP6()
		x.flavour = f
		return x
	}
}

// briefStandbyUnreachable: the standby's host gave no status.
func briefStandbyUnreachable() *fixture {
	f := withStandby()
	f.obs.Instances[6] = Observed{HostErr: "Error getting status from host smdw", Ready: -1}
	f.obs.HostWarnings["smdw"] = "Error getting status from host smdw"
	return f
}

// briefStandbyDown: the standby's host answered, its postmaster is gone.
func briefStandbyDown() *fixture {
	f := withStandby()
	f.obs.Instances[6] = stopped()
	return f
}

// briefCase is a named fixture, the element type of fixtures.
type briefCase = struct {
	name string
	make func() *fixture
}

// briefCases are the shared fixtures followed by more.
func briefCases(more ...briefCase) []briefCase {
	return append(append([]briefCase{}, fixtures...), more...)
}

// runBrief runs the brief report on f with no gpexpand in progress (an
// empty coordinator data directory) and returns the console output.
func runBrief(t *testing.T, f *fixture) string {
	t.Helper()
	tr := newTestReport(t, f, &Options{Brief: true}, slog.LevelInfo)
	tr.co.DataDir = t.TempDir()
	if code := exitCode(t, tr.brief(t.Context())); code != 0 {
		t.Errorf("exit code %d, want 0 (spec §2.3: -b always exits 0)", code)
	}
	if calls := tr.conn.SQL(); len(calls) != 0 {
		t.Errorf("-b ran SQL: %q", calls)
	}
	return tr.out.String()
}

// TestBriefGolden pins -b on every fixture (testdata/gpstate/brief_*.golden),
// and that it exits 0 whatever the state (spec §2.3).
func TestBriefGolden(t *testing.T) {
	for _, tt := range briefCases(
		briefCase{"gp7", briefFlavoured(cluster.GP7)}, briefCase{"cloudberry", briefFlavoured(cluster.Cloudberry)},
		briefCase{"standby_unreachable", briefStandbyUnreachable}, briefCase{"standby_down", briefStandbyDown},
	) {
		t.Run(tt.name, func(t *testing.T) {
			golden.Check(t, "gpstate", "brief_"+tt.name+".golden", []byte(runBrief(t, tt.make())))
		})
	}
}

// TestBriefMatchesTranscripts: on the healthy cluster, -b prints what GP6
// printed, line for line, in both reference runs: the "-b" section of
// gp6-all-modes-healthy.txt and `gpstate -v` (gp6-v.txt) without its
// DEBUG records (and the continuation lines of the one DEBUG record that
// spans lines, the helper's stdout/stderr). Nothing is excluded but the
// gather line, which is not brief's (see briefGatheringLine).
func TestBriefMatchesTranscripts(t *testing.T) {
	got := messages(runBrief(t, healthyGP6()))
	for _, tt := range []struct {
		name string
		want []string
	}{
		{"gp6-all-modes-healthy.txt -b", transcript(t, "-b")},
		{"gp6-v.txt", withoutDebug(transcriptSection(t, "gp6-v.txt", ""))},
	} {
		want := tt.want
		if len(want) == 0 || want[0] != briefGatheringLine {
			t.Fatalf("%s: first line %q, want %q", tt.name, want, briefGatheringLine)
		}
		if d := cmp.Diff(want[1:], got); d != "" {
			t.Errorf("%s differs (-transcript +got):\n%s", tt.name, d)
		}
	}
}

// TestBriefLayout checks the layout rules of spec §2.4.1 and §1.3.1 on a
// report with warnings, independently of the golden files: one '='
// column for the whole block, warning rows without the indent and with the
// arrows padded past the widest value.
func TestBriefLayout(t *testing.T) {
	recs := briefRecords(briefStatus(t, hostUnreachable()), false)
	if recs[0].Msg != "Greenplum instance status summary" || recs[0].Level != slog.LevelInfo {
		t.Fatalf("heading %+v", recs[0])
	}
	eq := -1
	warnings := 0
	for _, r := range recs[1:] {
		i := strings.Index(r.Msg, "= ")
		if i < 0 {
			continue
		}
		col := i
		if r.Level == slog.LevelWarn {
			warnings++
			col += len("   ") // the indent the longer [WARNING] tag replaces
			if !strings.HasSuffix(r.Msg, "   "+"<<<<<<<<") {
				t.Errorf("warning row without arrows: %q", r.Msg)
			}
		} else if !strings.HasPrefix(r.Msg, "   ") {
			t.Errorf("info row without indent: %q", r.Msg)
		}
		if eq < 0 {
			eq = col
		}
		if col != eq {
			t.Errorf("'=' at %d, want %d: %q", col, eq, r.Msg)
		}
	}
	// the two mirrors on sdw2: the four "missing" counters are warnings
	if warnings != 4 {
		t.Errorf("%d warning rows, want 4", warnings)
	}
}

// briefStatus is the Status of a fixture.
func briefStatus(t *testing.T, f *fixture) *Status {
	t.Helper()
	c, err := cluster.New(f.segs)
	if err != nil {
		t.Fatal(err)
	}
	return &Status{Flavour: f.flavour, Cluster: c, Obs: f.obs, DataDir: "/data/qddir/demoDataDir-1", Port: 7000}
}

// TestBriefExpansion: with MDD/gpexpand.status present, -b ends with
// "Cluster Expansion = In Progress" and a separator, in the same table.
func TestBriefExpansion(t *testing.T) {
	tr := newTestReport(t, healthyGP6(), &Options{Brief: true}, slog.LevelInfo)
	tr.co.DataDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(tr.co.DataDir, "gpexpand.status"), []byte("UNINITIALIZED:None\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tr.brief(t.Context()); err != nil {
		t.Fatal(err)
	}
	msgs := messages(tr.out.String())
	want := []string{
		"   Total number mirror segments acting as mirror segments    = 2",
		"----------------------------------------------------",
		"   Cluster Expansion                                         = In Progress",
		"----------------------------------------------------",
	}
	if d := cmp.Diff(want, msgs[len(msgs)-4:]); d != "" {
		t.Errorf("end of -b (-want +got):\n%s", d)
	}
}

// TestBriefStandbyState covers the three standby states of spec §2.4.1
// and their wording per flavour.
func TestBriefStandbyState(t *testing.T) {
	for _, tt := range []struct {
		name    string
		f       *fixture
		flavour cluster.Flavour
		want    []string
	}{
		{"passive", withStandby(), cluster.GP6, []string{
			"   Master standby                                            = smdw",
			"   Standby master state                                      = Standby host passive"}},
		{"down", briefStandbyDown(), cluster.GP6, []string{
			"   Master standby                                            = smdw",
			"WARNING: Standby master state                                      = Standby host DOWN   <<<<<<<<"}},
		{"unreachable", briefStandbyUnreachable(), cluster.GP6, []string{
			"   Master standby                                            = smdw",
			"WARNING: Standby master state                                      = Status could not be determined: Error getting status from host smdw   <<<<<<<<"}},
		{"none gp7", healthyGP6(), cluster.GP7, []string{
			"   Coordinator standby                                       = No coordinator standby configured"}},
		{"passive cloudberry", withStandby(), cluster.Cloudberry, []string{
			"   Coordinator standby                                       = smdw",
			"   Standby coordinator state                                 = Standby host passive"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.flavour = tt.flavour
			msgs := messages(runBrief(t, tt.f))
			if d := cmp.Diff(tt.want, msgs[3:3+len(tt.want)]); d != "" {
				t.Errorf("standby rows (-want +got):\n%s", d)
			}
		})
	}
}

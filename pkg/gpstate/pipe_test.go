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

// runPipe runs --segmentStatusPipeSeparatedForTableUse on f and returns
// everything written to stdout (the rows and any log line).
func runPipe(t *testing.T, f *fixture) string {
	t.Helper()
	tr := newTestReport(t, f, &Options{Pipe: true}, slog.LevelInfo)
	if code := exitCode(t, tr.pipe(t.Context())); code != 0 {
		t.Errorf("exit code %d, want 0 (spec §2.3)", code)
	}
	return tr.out.String()
}

// pipeRowLines are the lines of out that are not log records.
func pipeRowLines(out string) []string {
	var rows []string
	for _, m := range messages(out) {
		if l, ok := strings.CutPrefix(m, "verbatim: "); ok {
			rows = append(rows, l)
		}
	}
	return rows
}

// TestPipeGolden pins the machine-readable rows (testdata/gpstate/pipe_*.golden):
// one line of exactly 19 fields per segment, coordinator and standby left
// out, in -s's order; the replication warnings are logged (not printed) as
// -s logs them.
func TestPipeGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		make func() *fixture
	}{
		{"healthy", healthyGP6}, {"primary_down", primaryDown},
		{"mirrorless", mirrorless}, {"host_unreachable", hostUnreachable}, {"standby", withStandby},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.make()
			out := runPipe(t, f)
			rows := pipeRowLines(out)
			c, err := cluster.New(f.segs)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(c.Segments()) {
				t.Errorf("%d rows, want one per segment (%d)", len(rows), len(c.Segments()))
			}
			for _, r := range rows {
				if n := len(strings.Split(r, "|")); n != 19 {
					t.Errorf("%d fields, want 19: %q", n, r)
				}
			}
			golden.Check(t, "gpstate", "pipe_"+tt.name+".golden", []byte(out))
		})
	}
}

// TestPipeFields spells out the fields of two rows against spec §2.4.11,
// independently of the golden files.
func TestPipeFields(t *testing.T) {
	st := briefStatus(t, primaryDown())
	rows := pipeRows(st, st.Replication())
	byDBID := map[string][]string{}
	for _, r := range rows {
		byDBID[r[0]] = r
	}
	want := map[string][]string{
		// the old primary, down in the catalog and stopped: nothing found,
		// no pid, status warning
		"3": {"3", "1", "mdw", "mdw", "/data/dbfast2/demoDataDir1", "7003", "Mirror", "Primary", "Not In Sync", "",
			"Down", "Down in configuration", "t", "", "f", "", "f", "", ""},
		// its mirror, acting as primary alone
		"5": {"5", "1", "mdw", "mdw", "/data/dbfast_mirror2/demoDataDir1", "7005", "Primary", "Mirror", "Not In Sync", "",
			"Up", "Up", "f", "", "t", "6059", "t", "6059", ""},
	}
	for dbid, w := range want {
		if d := cmp.Diff(w, byDBID[dbid]); d != "" {
			t.Errorf("dbid %s (-want +got):\n%s", dbid, d)
		}
	}
	st = briefStatus(t, hostUnreachable())
	for _, r := range pipeRows(st, st.Replication()) {
		if r[0] != "4" {
			continue
		}
		w := []string{"4", "0", "sdw2", "sdw2", "/data/dbfast_mirror1/demoDataDir0", "7004", "Mirror", "Mirror", "Streaming", "",
			"Up", "Unknown -- unable to load segment status", "t", "Error getting status from host sdw2", "", "", "", "", ""}
		if d := cmp.Diff(w, r); d != "" {
			t.Errorf("unreachable dbid 4 (-want +got):\n%s", d)
		}
	}
}

// TestPipeEscapesBar: a '|' inside a value becomes '_', so that the row
// keeps its 19 fields.
func TestPipeEscapesBar(t *testing.T) {
	f := healthyGP6()
	f.byDBID(2).DataDir = "/data/a|b/demoDataDir0"
	f.obs.Instances[3] = Observed{HostErr: "Error getting status from host m|dw", Ready: -1}
	rows := pipeRowLines(runPipe(t, f))
	if len(rows) != 4 {
		t.Fatalf("rows %q", rows)
	}
	if want := "2|0|mdw|mdw|/data/a_b/demoDataDir0|7002|Primary|Primary|Synchronized||Up|Up|f||t|6161|t|6161|"; rows[0] != want {
		t.Errorf("row\n %q, want\n %q", rows[0], want)
	}
	if !strings.Contains(rows[2], "|Error getting status from host m_dw|") {
		t.Errorf("row %q does not carry the escaped error", rows[2])
	}
	for _, r := range rows {
		if n := len(strings.Split(r, "|")); n != 19 {
			t.Errorf("%d fields: %q", n, r)
		}
	}
	if got := pipeLine([]string{"a|b", "", "|"}); got != "a_b||_" {
		t.Errorf("pipeLine: %q", got)
	}
}

// TestSampleSQL pins --printSampleExternalTableSql: the DDL with the 19
// columns of the pipe rows and their types, printed verbatim with
// Greenplum's blank lines; ON MASTER on GP6, ON COORDINATOR after.
func TestSampleSQL(t *testing.T) {
	gp6 := sampleSQLText(cluster.GP6, "/usr/local/greenplum-db/bin", "/data/qddir/demoDataDir-1")
	golden.Check(t, "gpstate", "pipe_sample_sql.golden", []byte(gp6))
	if len(pipeColumns) != 19 {
		t.Errorf("%d columns, want 19", len(pipeColumns))
	}
	for _, f := range []cluster.Flavour{cluster.GP7, cluster.Cloudberry} {
		got := sampleSQLText(f, "/usr/local/greenplum-db/bin", "/data/qddir/demoDataDir-1")
		if want := strings.Replace(gp6, "' ON MASTER\n", "' ON COORDINATOR\n", 1); got != want {
			t.Errorf("%s:\n%s\nwant\n%s", f, got, want)
		}
	}

	// the report itself names the running executable's directory and the
	// coordinator data directory, on stdout only
	tr := newTestReport(t, healthyGP6(), &Options{SampleSQL: true}, slog.LevelInfo)
	if err := tr.sampleSQL(t.Context()); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleSQLText(cluster.GP6, filepath.Dir(exe), "/data/qddir/demoDataDir-1"); tr.out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", tr.out, want)
	}
}

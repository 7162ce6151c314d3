package render_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// segmentCounts are the numbers of one group of the gpstate -b summary.
type segmentCounts struct {
	total, valid, failures           int
	pidFilesMissing, pidFilesFound   int
	pidsMissing, pidsFound           int
	lockFilesMissing, lockFilesFound int
	processesMissing, processesFound int
	actingAsPrimary, actingAsMirror  int // mirror group only
}

// summaryTable builds the gpstate -b summary table (spec §2.4.1) the way
// gpstate will, so the test pins both the rows and their formatting.
func summaryTable(standby string, segs int, p, m segmentCounts) *render.Table {
	t := &render.Table{Arrows: true}
	t.Separator()
	t.Add("Master instance", "= Active")
	t.Add("Master standby", "= "+standby)
	t.Add("Total segment instance count from metadata", fmt.Sprintf("= %d", segs))
	for _, g := range []struct {
		role, heading string
		c             segmentCounts
	}{{"primary", "Primary Segment Status", p}, {"mirror", "Mirror Segment Status", m}} {
		t.Separator()
		t.Add(g.heading)
		t.Separator()
		n := func(v int) string { return fmt.Sprintf("= %d", v) }
		t.Add("Total "+g.role+" segments", n(g.c.total))
		t.Add("Total "+g.role+" segment valid (at master)", n(g.c.valid))
		t.AddIf(g.c.failures > 0, "Total "+g.role+" segment failures (at master)", n(g.c.failures))
		t.AddIf(g.c.pidFilesMissing > 0, "Total number of postmaster.pid files missing", n(g.c.pidFilesMissing))
		t.Add("Total number of postmaster.pid files found", n(g.c.pidFilesFound))
		t.AddIf(g.c.pidsMissing > 0, "Total number of postmaster.pid PIDs missing", n(g.c.pidsMissing))
		t.Add("Total number of postmaster.pid PIDs found", n(g.c.pidsFound))
		t.AddIf(g.c.lockFilesMissing > 0, "Total number of /tmp lock files missing", n(g.c.lockFilesMissing))
		t.Add("Total number of /tmp lock files found", n(g.c.lockFilesFound))
		t.AddIf(g.c.processesMissing > 0, "Total number postmaster processes missing", n(g.c.processesMissing))
		t.Add("Total number postmaster processes found", n(g.c.processesFound))
		if g.role == "mirror" {
			t.AddIf(g.c.actingAsPrimary > 0, "Total number mirror segments acting as primary segments", n(g.c.actingAsPrimary))
			t.Add("Total number mirror segments acting as mirror segments", n(g.c.actingAsMirror))
		}
	}
	t.Separator()
	return t
}

// logTable logs t with the prefix values of a transcript.
func logTable(t *testing.T, tbl *render.Table, at time.Time, pid int) []byte {
	t.Helper()
	var buf bytes.Buffer
	cfg := gplog.Config{Prog: "gpstate", Host: "mdw", User: "gpadmin", PID: pid, Now: func() time.Time { return at }}
	tbl.Log(t.Context(), slog.New(gplog.NewHandler(cfg, gplog.Sink{W: &buf, Level: slog.LevelInfo})))
	return buf.Bytes()
}

// TestSummaryHealthy reproduces the summary block of
// reference/gp6-transcripts/gpstate-v.txt byte for byte.
func TestSummaryHealthy(t *testing.T) {
	all := segmentCounts{total: 2, valid: 2, pidFilesFound: 2, pidsFound: 2, lockFilesFound: 2, processesFound: 2}
	mirrors := all
	mirrors.actingAsMirror = 2
	tbl := summaryTable("No master standby configured", 4, all, mirrors)
	got := logTable(t, tbl, time.Date(2026, 11, 23, 18, 54, 19, 0, time.UTC), 16262)
	checkGolden(t, "gpstate_summary_healthy.golden", got)
}

// TestSummaryWarnings reproduces the summary block after a primary failure
// from reference/gp6-transcripts/failover-gprecoverseg-and-rebalance.txt
// byte for byte: warning rows lose the indent and their value cell is
// padded to the widest value (= No master standby configured) + 3 before
// the arrows.
func TestSummaryWarnings(t *testing.T) {
	p := segmentCounts{total: 2, valid: 1, failures: 1, pidFilesFound: 2, pidsFound: 2, lockFilesFound: 2, processesMissing: 1, processesFound: 1}
	m := segmentCounts{total: 2, valid: 2, pidFilesFound: 2, pidsFound: 2, lockFilesFound: 2, processesFound: 2, actingAsPrimary: 1, actingAsMirror: 1}
	tbl := summaryTable("No master standby configured", 4, p, m)
	got := logTable(t, tbl, time.Date(2026, 11, 23, 18, 51, 20, 0, time.UTC), 9236)
	checkGolden(t, "gpstate_summary_warnings.golden", got)
}

func TestTableRecords(t *testing.T) {
	tests := []struct {
		name  string
		build func(*render.Table)
		want  []gplog.Record
	}{
		{
			name:  "empty",
			build: func(*render.Table) {},
			want:  []gplog.Record{},
		},
		{
			name: "widths span all rows and the last cell is unpadded",
			build: func(t *render.Table) {
				t.Add("a", "= 1", "x")
				t.Add("longer key", "= 22")
				t.Add("single")
			},
			want: []gplog.Record{
				{Level: slog.LevelInfo, Msg: "   a            = 1    x"},
				{Level: slog.LevelInfo, Msg: "   longer key   = 22"},
				{Level: slog.LevelInfo, Msg: "   single"},
			},
		},
		{
			name: "warning without arrows",
			build: func(t *render.Table) {
				t.Add("key", "= ok")
				t.Warn("bad key", "= 3")
			},
			want: []gplog.Record{
				{Level: slog.LevelInfo, Msg: "   key       = ok"},
				{Level: slog.LevelWarn, Msg: "bad key   = 3"},
			},
		},
		{
			name: "arrow cell counts towards the widths",
			build: func(t *render.Table) {
				t.Arrows = true
				t.Warn("k", "= 1")
				t.Add("key", "= 1", "tail cell wider than arrows")
			},
			want: []gplog.Record{
				{Level: slog.LevelWarn, Msg: "k     = 1   <<<<<<<<"},
				{Level: slog.LevelInfo, Msg: "   key   = 1   tail cell wider than arrows"},
			},
		},
		{
			name: "separator is 52 dashes at INFO without indent",
			build: func(t *render.Table) {
				t.Separator()
			},
			want: []gplog.Record{{Level: slog.LevelInfo, Msg: "----------------------------------------------------"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tbl render.Table
			tt.build(&tbl)
			if d := cmp.Diff(tt.want, tbl.Records()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestWarnDoesNotAliasCallerSlice(t *testing.T) {
	cells := make([]string, 2, 10)
	cells[0], cells[1] = "k", "v"
	tbl := render.Table{Arrows: true}
	tbl.Warn(cells...)
	if got := cells[:3][2]; got != "" {
		t.Errorf("Warn wrote %q into the caller's backing array", got)
	}
}

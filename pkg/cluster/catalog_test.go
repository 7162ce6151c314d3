package cluster

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseSegLine reads Greenplum's dbid|content|role|preferred_role|mode|status|hostname|address|port|datadir.
func parseSegLine(t *testing.T, line string) Segment {
	t.Helper()
	f := strings.Split(line, "|")
	if len(f) != 10 {
		t.Fatalf("bad row %q", line)
	}
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var s Segment
	s.DBID, s.ContentID, s.Port = num(f[0]), num(f[1]), num(f[8])
	s.Hostname, s.Address, s.DataDir = f[6], f[7], f[9]
	for _, e := range []error{
		s.Role.UnmarshalText([]byte(f[2])), s.PreferredRole.UnmarshalText([]byte(f[3])),
		s.Mode.UnmarshalText([]byte(f[4])), s.Status.UnmarshalText([]byte(f[5])),
	} {
		if e != nil {
			t.Fatal(e)
		}
	}
	if s.String() != line {
		t.Fatalf("round trip %q -> %q", line, s.String())
	}
	return s
}

func parseSegBlock(t *testing.T, block string) []Segment {
	var segs []Segment
	for _, l := range strings.Split(block, "\n") {
		segs = append(segs, parseSegLine(t, l))
	}
	return segs
}

func renderStatements(stmts []Statement) string {
	var b strings.Builder
	for _, s := range stmts {
		b.WriteString(s.String())
		b.WriteString("\n--\n")
	}
	return b.String()
}

// TestGP6AddMirrorsTranscript pins our catalog SQL to what GP6's
// gpaddmirrors ran, statement by statement.
func TestGP6AddMirrorsTranscript(t *testing.T) {
	blocks := readTranscript(t, "gp6-gpaddmirrors-segments.txt")
	beforeRows := parseSegBlock(t, blocks[0])
	before, err := New(beforeRows)
	if err != nil {
		t.Fatal(err)
	}
	after, err := New(append(beforeRows, parseSegBlock(t, blocks[1])...))
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := PlanCatalogUpdate("gpaddmirrors", before, after)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range stmts {
		got = append(got, s.String())
	}
	if d := cmp.Diff(readTranscript(t, "gp6-gpaddmirrors-catalog.txt"), got); d != "" {
		t.Errorf("statements differ from GP6 (-gp6 +ours):\n%s", d)
	}
	// Every value is bound, none is in the SQL text.
	for _, s := range stmts {
		if strings.Contains(s.SQL, "mdw") || strings.Contains(s.SQL, "gpaddmirrors") {
			t.Errorf("value inlined in SQL: %s", s.SQL)
		}
	}
}

func with(segs []Segment, dbid int, change func(*Segment)) []Segment {
	out := append([]Segment(nil), segs...)
	for i := range out {
		if out[i].DBID == dbid {
			change(&out[i])
		}
	}
	return out
}

func TestPlanCatalogUpdateGolden(t *testing.T) {
	group := readFixture(t, "mirrored_group")
	mirrorless := readFixture(t, "mirrorless_2host")
	var added []Segment
	for _, s := range group {
		if s.IsMirror() {
			s.Mode, s.Status = ModeNotSynced, StatusDown
			added = append(added, s)
		}
	}
	newHost := with(readFixture(t, "mirror_down"), 7, func(s *Segment) {
		s.Hostname, s.Address, s.DataDir = "sdw3", "sdw3-1", "/data/mirror/o'brien\\gpseg1"
	})
	tests := []struct {
		name          string
		prog          string
		before, after []Segment
	}{
		{"add_mirrors", "gpaddmirrors", mirrorless, append(append([]Segment(nil), mirrorless...), added...)},
		{"full_recovery_new_host", "gprecoverseg", readFixture(t, "mirror_down"), newHost},
		{"mode_status_update", "gprecoverseg", group, readFixture(t, "mirror_down")},
		{"full_recovery_in_place", "gprecoverseg", readFixture(t, "mirror_down"), readFixture(t, "mirror_down")},
	}
	var out strings.Builder
	for _, tt := range tests {
		before, err := New(tt.before)
		if err != nil {
			t.Fatal(err)
		}
		after, err := New(tt.after)
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := PlanCatalogUpdate(tt.prog, before, after)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		out.WriteString("### " + tt.name + "\n" + renderStatements(stmts))
	}
	old, _ := mustCluster(t, "mirror_down").ByDBID(7)
	out.WriteString("### backout\n" + renderStatements(BackoutStatements(old, 3)))
	checkGolden(t, "catalog_update.golden", out.String())
}

func TestPlanCatalogUpdateRefuses(t *testing.T) {
	group := readFixture(t, "mirrored_group")
	mirrorless := readFixture(t, "mirrorless_2host")
	tests := []struct {
		name          string
		before, after []Segment
		want          string
	}{
		{"remove row", group, mirrorless, "content 0 mirror (dbid 6) would be removed"},
		{"add primary", mirrorless[:4], mirrorless, "content 3 primary (dbid 5) would be added; only mirrors may be added"},
		{"move primary", group, with(group, 2, func(s *Segment) { s.Port = 6100 }), "content 0 primary (dbid 2) would change"},
		{"partial mirrors", mirrorless, append(append([]Segment(nil), mirrorless...), with(group, 6, func(s *Segment) { s.Mode, s.Status = 'n', 'd' })[5]),
			"content 1 would have no mirror"},
		{"invalid pair", group, with(group, 6, func(s *Segment) { s.Status = StatusDown }), "invalid pair state (u,s,d,s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := New(tt.before)
			if err != nil {
				t.Fatal(err)
			}
			after, err := New(tt.after)
			if err != nil {
				t.Fatal(err)
			}
			_, err = PlanCatalogUpdate("gprecoverseg", before, after)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestHistoryDescriptionsMatchGP6(t *testing.T) {
	for _, block := range readTranscript(t, "gp6-history.txt") {
		f := strings.SplitN(block, "|", 6)
		dbid, _ := strconv.Atoi(f[0])
		var got string
		if f[1] == "-" {
			got = HistoryAddedMirror("gpaddmirrors")
		} else {
			content, _ := strconv.Atoi(f[1])
			s := Segment{DBID: dbid, ContentID: content}
			if err := errors.Join(s.Role.UnmarshalText([]byte(f[2])), s.Mode.UnmarshalText([]byte(f[3])), s.Status.UnmarshalText([]byte(f[4]))); err != nil {
				t.Fatal(err)
			}
			got = HistoryFTS(s)
		}
		if got != f[5] {
			t.Errorf("got  %q\nwant %q", got, f[5])
		}
	}
}

func TestHistoryGolden(t *testing.T) {
	got := strings.Join([]string{
		HistoryAddedMirror("gpaddmirrors"),
		HistoryFullRecovery("gprecoverseg", 7),
		HistoryModeStatus("gprecoverseg"),
		HistoryBackout(7),
		HistoryFTS(Segment{DBID: 3, ContentID: 1, Role: RoleMirror, Mode: ModeNotSynced, Status: StatusDown}),
	}, "\n") + "\n"
	checkGolden(t, "history.golden", got)
}

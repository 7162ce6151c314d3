package cluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func dbids(segs []Segment) []int {
	var ids []int
	for _, s := range segs {
		ids = append(ids, s.DBID)
	}
	return ids
}

func pairStates(c *Cluster) []PairState {
	var st []PairState
	for _, p := range c.Pairs() {
		st = append(st, p.State())
	}
	return st
}

func TestValidFixtures(t *testing.T) {
	S, R, D, L := PairSynced, PairResyncing, PairMirrorDown, PairMirrorless
	tests := []struct {
		fixture    string
		contents   int
		hasMirrors bool
		hosts      []string
		allHosts   []string
		primaries  []int
		mirrors    []int
		unbalanced []int
		states     []PairState
		standby    int // dbid, 0 for none
		pairsErr   string
	}{
		{"mirrorless_2host", 4, false, []string{"sdw1", "sdw2"}, []string{"cdw", "sdw1", "sdw2"},
			[]int{2, 3, 4, 5}, nil, nil, []PairState{L, L, L, L}, 0, ""},
		{"mirrored_group", 4, true, []string{"sdw1", "sdw2"}, []string{"cdw", "sdw1", "sdw2"},
			[]int{2, 3, 4, 5}, []int{6, 7, 8, 9}, nil, []PairState{S, S, S, S}, 0, ""},
		{"mirrored_spread", 6, true, []string{"sdw1", "sdw2", "sdw3"}, []string{"cdw", "sdw1", "sdw2", "sdw3"},
			[]int{2, 3, 4, 5, 6, 7}, []int{8, 9, 10, 11, 12, 13}, nil, []PairState{S, S, S, S, S, S}, 0, ""},
		{"failover", 4, true, []string{"sdw1", "sdw2"}, []string{"cdw", "sdw1", "sdw2"},
			[]int{6, 3, 4, 5}, []int{2, 7, 8, 9}, []int{6, 2}, []PairState{D, S, S, S}, 0, ""},
		{"mirror_down", 4, true, []string{"sdw1", "sdw2"}, []string{"cdw", "sdw1", "sdw2"},
			[]int{2, 3, 4, 5}, []int{6, 7, 8, 9}, nil, []PairState{S, D, S, S}, 0, ""},
		{"not_in_sync", 4, true, []string{"sdw1", "sdw2"}, []string{"cdw", "sdw1", "sdw2"},
			[]int{2, 3, 4, 5}, []int{6, 7, 8, 9}, nil, []PairState{S, S, R, S}, 0, ""},
		{"unbalanced", 4, true, []string{"sdw1", "sdw2"}, []string{"cdw", "sdw1", "sdw2"},
			[]int{6, 3, 4, 5}, []int{2, 7, 8, 9}, []int{6, 2}, []PairState{S, S, S, S}, 0, ""},
		{"standby", 4, true, []string{"sdw1", "sdw2"}, []string{"cdw", "scdw", "sdw1", "sdw2"},
			[]int{2, 3, 4, 5}, []int{6, 7, 8, 9}, nil, []PairState{S, S, S, S}, 10, ""},
		{"invalid_bad_pair_state", 4, true, []string{"sdw1", "sdw2"}, []string{"cdw", "sdw1", "sdw2"},
			[]int{2, 3, 4, 5}, []int{6, 7, 8, 9}, nil, []PairState{PairInvalid, S, S, S}, 0,
			"Invalid GpArray: content 0: invalid pair state (u,s,d,s) (primary dbid 2, mirror dbid 6)"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			c := mustCluster(t, tt.fixture)
			if got := c.NumContents(); got != tt.contents {
				t.Errorf("NumContents() = %d, want %d", got, tt.contents)
			}
			if got := c.HasMirrors(); got != tt.hasMirrors {
				t.Errorf("HasMirrors() = %t", got)
			}
			if co := c.Coordinator(); co.DBID != 1 || !co.IsCoordinator() {
				t.Errorf("Coordinator() = %v", co)
			}
			sb, ok := c.Standby()
			if (tt.standby != 0) != ok || sb.DBID != tt.standby {
				t.Errorf("Standby() = %v, %t; want dbid %d", sb, ok, tt.standby)
			}
			for _, d := range []struct {
				what      string
				got, want any
			}{
				{"Hosts", c.Hosts(), tt.hosts},
				{"AllHosts", c.AllHosts(), tt.allHosts},
				{"Primaries", dbids(c.Primaries()), tt.primaries},
				{"Mirrors", dbids(c.Mirrors()), tt.mirrors},
				{"Unbalanced", dbids(c.Unbalanced()), tt.unbalanced},
				{"pair states", pairStates(c), tt.states},
			} {
				if diff := cmp.Diff(d.want, d.got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", d.what, diff)
				}
			}
			err := c.ValidatePairs()
			if tt.pairsErr == "" && err != nil {
				t.Errorf("ValidatePairs: %v", err)
			}
			if tt.pairsErr != "" {
				var ce *ConfigError
				if err == nil || !strings.Contains(err.Error(), tt.pairsErr) || !errors.As(err, &ce) {
					t.Errorf("ValidatePairs = %v, want %q", err, tt.pairsErr)
				}
			}
		})
	}
}

func TestInvalidFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		want    []string
	}{
		{"invalid_duplicate_dbid", []string{"Invalid GpArray: ", "dbid 8 appears 2 times (contents 2, 3)"}},
		{"invalid_two_primaries", []string{"content 0 has 2 primaries (dbid 2, 6)"}},
		{"invalid_duplicate_host_port", []string{"dbid 2, 3 share the port sdw1:6000"}},
		{"invalid_relative_datadir", []string{`dbid 4: data directory "data/primary/gpseg2" is not an absolute path`}},
		{"invalid_content_gap", []string{"segment contents are not contiguous from 0: missing content 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			_, err := New(readFixture(t, tt.fixture))
			if err == nil {
				t.Fatal("New: no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			// The dump lists the rows in Greenplum's form.
			if !strings.Contains(err.Error(), "\n1|-1|p|p|n|u|cdw|cdw-1|5432|/data/coordinator/gpseg-1\n") {
				t.Errorf("error lacks the row dump:\n%v", err)
			}
		})
	}
}

func TestNewRowChecks(t *testing.T) {
	base := readFixture(t, "mirrorless_2host")
	tests := []struct {
		name   string
		change func([]Segment) []Segment
		want   string
	}{
		{"empty", func([]Segment) []Segment { return nil }, "no rows in gp_segment_configuration"},
		{"no coordinator", func(s []Segment) []Segment { return s[1:] }, "no coordinator: no row with content -1"},
		{"coordinator is mirror", func(s []Segment) []Segment { s[0].Role = RoleMirror; return s }, "no coordinator: content -1 has no row with role p (dbid 1)"},
		{"port zero", func(s []Segment) []Segment { s[2].Port = 0; return s }, "dbid 3: port 0 out of range 1..65535"},
		{"port too big", func(s []Segment) []Segment { s[2].Port = 65536; return s }, "dbid 3: port 65536 out of range"},
		{"bad mode", func(s []Segment) []Segment { s[2].Mode = 'x'; return s }, "dbid 3: invalid mode 'x'"},
		{"same datadir", func(s []Segment) []Segment { s[2].DataDir = s[1].DataDir + "/"; return s },
			"dbid 2, 3 share the data directory sdw1:/data/primary/gpseg0"},
		{"two preferred primaries", func(s []Segment) []Segment {
			m := s[1]
			m.DBID, m.Role, m.Hostname, m.Address = 9, RoleMirror, "sdw2", "sdw2-1"
			return append(s, m)
		}, "content 0 has 2 rows with preferred role p (dbid 2, 9)"},
		{"empty hostname", func(s []Segment) []Segment { s[1].Hostname = ""; return s }, "dbid 2: empty hostname"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs := tt.change(append([]Segment(nil), base...))
			_, err := New(segs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAccessorsSortedAndCopied(t *testing.T) {
	segs := readFixture(t, "mirrored_spread")
	// Reverse the input: accessors must not depend on input order.
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	c, err := New(segs)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{1, 2, 8, 3, 9, 4, 10, 5, 11, 6, 12, 7, 13}
	if d := cmp.Diff(want, dbids(c.All())); d != "" {
		t.Errorf("All() order (-want +got):\n%s", d)
	}
	byHost := c.SegmentsByHost()
	var got []string
	for _, h := range byHost {
		for _, s := range h.Segments {
			got = append(got, h.Host+":"+s.Label())
		}
	}
	wantHosts := []string{
		"sdw1:content 0 primary (dbid 2)", "sdw1:content 1 primary (dbid 3)",
		"sdw1:content 3 mirror (dbid 11)", "sdw1:content 4 mirror (dbid 12)",
		"sdw2:content 0 mirror (dbid 8)", "sdw2:content 2 primary (dbid 4)",
		"sdw2:content 3 primary (dbid 5)", "sdw2:content 5 mirror (dbid 13)",
		"sdw3:content 1 mirror (dbid 9)", "sdw3:content 2 mirror (dbid 10)",
		"sdw3:content 4 primary (dbid 6)", "sdw3:content 5 primary (dbid 7)",
	}
	if d := cmp.Diff(wantHosts, got); d != "" {
		t.Errorf("SegmentsByHost (-want +got):\n%s", d)
	}
	all := c.All()
	all[0].Port = 1
	if c.Coordinator().Port != 5432 {
		t.Error("All() exposes the cluster's own slice")
	}
	p := c.Pairs()[0]
	p.Primary.Port = 1
	if s, _ := c.ByDBID(2); s.Port != 6000 {
		t.Error("Pairs() exposes the cluster's own rows")
	}
}

func TestPairHelpers(t *testing.T) {
	c := mustCluster(t, "failover")
	p := c.Pairs()[0]
	if p.Balanced() || !p.FailedOver() || p.Synced() {
		t.Errorf("failover pair: balanced %t failed over %t synced %t", p.Balanced(), p.FailedOver(), p.Synced())
	}
	if d := dbids(p.Down()); !cmp.Equal(d, []int{2}) {
		t.Errorf("Down() = %v", d)
	}
	if p.StateCode() != "(u,n,d,n)" || p.State().String() != "mirror down" {
		t.Errorf("state %s %s", p.StateCode(), p.State())
	}
	u := mustCluster(t, "unbalanced").Pairs()[0]
	if u.Balanced() || !u.Synced() {
		t.Errorf("unbalanced pair: balanced %t synced %t", u.Balanced(), u.Synced())
	}
}

package gpstate

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// versionsServerText is version() on the instances of the GP6 transcripts
// (gp6-all-modes-healthy.txt); gp6Version (fixtures_test.go) is
// `postgres --gp-version` of the same build.
const versionsServerText = "PostgreSQL 9.4.26 (Greenplum Database 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213) on x86_64-unknown-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit compiled on Nov 23 2026 18:42:17"

// versionsOtherBinary is the binaries of another build.
const versionsOtherBinary = "postgres (Greenplum Database) 6.26.0 build commit:0123456789abcdef0123456789abcdef01234567"

// versionsGathered is f as the -i gather would have seen it: version() of
// the coordinator and of every current primary that accepts connections,
// and the binaries of every host that answered.
func versionsGathered(make func() *fixture) func() *fixture {
	return func() *fixture {
		f := make()
		for _, s := range f.segs {
			o := f.obs.Instances[s.DBID]
			if s.IsPrimary() && o.HostErr == "" && o.Ready == 0 {
				o.Version = versionsServerText
				f.obs.Instances[s.DBID] = o
			}
			if f.obs.HostWarnings[s.Hostname] == "" {
				f.obs.Binary[s.Hostname] = gp6Version
			}
		}
		return f
	}
}

// versionsMismatch: the standby's host has the binaries of another build.
func versionsMismatch() *fixture {
	f := versionsGathered(withStandby)()
	f.obs.Binary["smdw"] = versionsOtherBinary
	return f
}

// TestVersionsGolden pins -i on every fixture and on a standby host with
// other binaries; -i always exits 0 (spec §2.3) and runs no SQL of its own.
// Primaries and the coordinator show version(); mirrors and the standby,
// which refuse SQL sessions, the binaries of their host; instances down in
// the catalog or on a host that did not answer "unable to retrieve
// version".
func TestVersionsGolden(t *testing.T) {
	cases := []modesCase{}
	for _, c := range fixtures {
		cases = append(cases, modesCase{c.name, versionsGathered(c.make)})
	}
	cases = append(cases, modesCase{"mismatch", versionsMismatch})
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			out, code, tr := modesRun(t, tt.make(), (*report).versions, nil)
			if code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			if sql := tr.conn.SQL(); len(sql) != 0 {
				t.Errorf("-i ran SQL: %q", sql)
			}
			golden.Check(t, "gpstate", "versions_"+tt.name+".golden", []byte(out))
		})
	}
}

// TestVersionsMatchesTranscript: -i prints what GP6 printed on the healthy
// cluster, line for line (gp6-all-modes-healthy.txt; see
// modesOriginalPrefix for the renamed transcript). There GP6 read every
// instance's version() text, the mirrors' from their refusal message, so
// the fixture's instances all carry it.
func TestVersionsMatchesTranscript(t *testing.T) {
	f := healthyGP6()
	for dbid, o := range f.obs.Instances {
		o.Version = versionsServerText
		f.obs.Instances[dbid] = o
	}
	// The first line is logged by gather (run.go), before the hosts are
	// asked; the report prints the rest.
	want := transcript(t, "-i")
	if len(want) == 0 || want[0] != "Loading version information" {
		t.Fatalf("transcript -i starts with %q", want)
	}
	if _, announce, _ := gathers(ModeVersions, mustCluster(t, f.segs)); announce != want[0] {
		t.Errorf("gather announces %q for -i, want %q", announce, want[0])
	}
	modesCheckTranscript(t, "gp6-all-modes-healthy.txt -i", f, (*report).versions, nil, want[1:], 0)
}

// TestVersionsShown covers what -i shows of one instance.
func TestVersionsShown(t *testing.T) {
	p, m := cluster.RolePrimary, cluster.RoleMirror
	base := seg(4, 0, m, cluster.ModeSynced, "sdw2", 7000, "/m/gpseg0")
	for _, tt := range []struct {
		name   string
		seg    cluster.Segment
		obs    Observed
		binary string
		want   string
	}{
		{"version() wins", base, Observed{PIDFile: true, PID: 9, Lock: true, Active: true, Version: versionsServerText}, gp6Version, versionsServerText},
		{"running mirror: its host's binaries", base, running(9, m), gp6Version, gp6Version},
		{"running mirror, no binaries", base, running(9, m), "", ""},
		{"host did not answer", base, Observed{HostErr: "Error getting status from host sdw2", Ready: -1}, gp6Version, ""},
		{"postmaster not running", base, stopped(), gp6Version, ""},
		{"down in the catalog", func() cluster.Segment { s := base; s.Status = cluster.StatusDown; return s }(), running(9, m), gp6Version, ""},
		{"primary that gave no version()", seg(2, 0, p, cluster.ModeSynced, "sdw2", 6000, "/p/gpseg0"), running(9, p), gp6Version, gp6Version},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &Status{Obs: &Observation{Instances: map[int]Observed{tt.seg.DBID: tt.obs}, Binary: map[string]string{}}}
			if tt.binary != "" {
				st.Obs.Binary["sdw2"] = tt.binary
			}
			if got := versionsShown(st, tt.seg); got != tt.want {
				t.Errorf("versionsShown = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersionsBuild: the version-match check compares product, release
// and build, so version() and the binaries of one build agree.
func TestVersionsBuild(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{versionsServerText, "Greenplum Database 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213"},
		{gp6Version, "Greenplum Database 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213"},
		{versionsOtherBinary, "Greenplum Database 6.26.0 build commit:0123456789abcdef0123456789abcdef01234567"},
		{"postgres (Cloudberry Database) 1.6.0 build 1", "Cloudberry Database 1.6.0 build 1"},
		{"PostgreSQL 14.4 (Cloudberry Database 1.6.0 build 1) on x86_64-pc-linux-gnu", "Cloudberry Database 1.6.0 build 1"},
		{"postgres (Apache Cloudberry) 2.0.0-incubating build dev", "Apache Cloudberry 2.0.0-incubating build dev"},
		{"something else", "something else"},
	} {
		if got := versionsBuild(tt.in); got != tt.want {
			t.Errorf("versionsBuild(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestVersionsVerdict covers the closing lines of spec §2.4.7.
func TestVersionsVerdict(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    *fixture
		want []string
	}{
		{"same", versionsGathered(healthyGP6)(), []string{"All segments are running the same software version"}},
		{"mismatch", versionsMismatch(), []string{"WARNING: Versions for some segments do not match.  Review table above for details."}},
		{"missing", versionsGathered(mirrorDown)(), []string{"WARNING: Unable to retrieve version data from all segments.  Review table above for details."}},
		{"mismatch and missing", func() *fixture {
			f := versionsMismatch()
			f.byDBID(5).Status = cluster.StatusDown
			f.byDBID(3).Mode, f.byDBID(5).Mode = cluster.ModeNotSynced, cluster.ModeNotSynced
			return f
		}(), []string{
			"WARNING: Versions for some segments do not match.  Review table above for details.",
			"WARNING: Unable to retrieve version data from all segments.  Review table above for details.",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, _, _ := modesRun(t, tt.f, (*report).versions, nil)
			msgs := messages(out)
			if d := cmp.Diff(tt.want, msgs[len(msgs)-len(tt.want):]); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

package gpstate

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

// gp6TranscriptServerText is version() of the coordinator of the GP6
// transcripts ("master Greenplum Version" of their prelude), which -s
// prints as "Greenplum current version"; fixtures_test.go's gp6ServerText
// is another build's.
const gp6TranscriptServerText = "PostgreSQL 9.4.26 (Greenplum Database 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213) on x86_64-unknown-linux-gnu, compiled by gcc (Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit compiled on Nov 23 2026 18:42:17"

// detailVersions are the coordinator's answers for a flavour: version(),
// gp_version_at_initdb and server_version. GP6's are the transcripts';
// the others are made-up builds of the right shape (only the wording
// around them is pinned).
func detailVersions(f cluster.Flavour) (version, initdb, server string) {
	switch f {
	case cluster.GP7:
		return "PostgreSQL 12.12 (Greenplum Database 7.1.0 build commit:e7c2b1f14bb42a1018ac57d14f4436880e0a0515) on x86_64-pc-linux-gnu, compiled by gcc (GCC) 8.5.0 20210514 (Red Hat 8.5.0-18), 64-bit compiled on Jan 19 2024 06:50:38 Bhuvnesh C.",
			"7.1.0 build commit:e7c2b1f14bb42a1018ac57d14f4436880e0a0515", "12.12"
	case cluster.Cloudberry:
		return "PostgreSQL 14.4 (Cloudberry Database 1.4.0 build 1) on x86_64-pc-linux-gnu, compiled by gcc (GCC) 10.2.1 20210130 (Red Hat 10.2.1-11), 64-bit compiled on Jul 31 2024 14:01:12",
			"1.4.0 build 1", "14.4"
	}
	return gp6TranscriptServerText, "6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213", "9.4.26"
}

// newDetailReport is a -s report on f whose coordinator answers the two
// queries with detailVersions, and whose data directory has no gpexpand.
func newDetailReport(t *testing.T, f *fixture) *testReport {
	t.Helper()
	tr := newTestReport(t, f, &Options{Detail: true}, slog.LevelInfo)
	tr.co.DataDir = t.TempDir()
	version, initdb, server := detailVersions(f.flavour)
	tr.co.ServerVersion = version
	tr.conn.On(detailInitVersionSQL, clustertest.Text(initdb))
	tr.conn.On(detailServerVersionSQL, clustertest.Text(server))
	return tr
}

// detailCoordinatorUnreachable: the coordinator's host (mdw, which also
// runs every segment) gave no status.
func detailCoordinatorUnreachable() *fixture {
	f := healthyGP6()
	for dbid := range f.obs.Instances {
		f.obs.Instances[dbid] = Observed{HostErr: "Error getting status from host mdw", Ready: -1}
	}
	f.obs.HostWarnings["mdw"] = "Error getting status from host mdw"
	return f
}

// detailFullRecovery: content 1's mirror (dbid 5) is down and being rebuilt
// by a full recovery: its primary shows a pg_basebackup connection in
// state backup, and no walreceiver.
func detailFullRecovery() *fixture {
	f := mirrorDown()
	f.obs.Repl[3].Rows = []ReplRow{{AppName: "pg_basebackup", State: "backup", Sent: "0/16000000",
		BackendStart: "2026-11-23 18:52:10.123456+00", SentLeft: "0"}}
	return f
}

// TestDetailGolden pins -s on every fixture (testdata/gpstate/detail_*.golden)
// with its exit code: 1 exactly when a row of either table is a warning
// (spec §2.3), which the wants below state from the fixtures' states.
func TestDetailGolden(t *testing.T) {
	wantExit := map[string]int{
		"healthy": 0, "mirrorless": 0, "standby": 0,
		"not_in_sync": 0, // catching up: every value known, all up
		"unbalanced":  0, // roles switched, both up and streaming
		// a down instance: "Configuration reports status as = Down" and
		// "Segment status = Down in configuration", Unknown WAL values
		"primary_down": 1, "mirror_down": 1,
		"host_unreachable": 1, // "Unknown -- unable to load segment status"
		"gp7":              0, "cloudberry": 0,
		"coordinator_unreachable": 1, // "Master port = Error fetching data: ..."
		"full_recovery":           1, // the down mirror
	}
	cases := briefCases(
		briefCase{"gp7", briefFlavoured(cluster.GP7)}, briefCase{"cloudberry", briefFlavoured(cluster.Cloudberry)},
		briefCase{"coordinator_unreachable", detailCoordinatorUnreachable}, briefCase{"full_recovery", detailFullRecovery},
	)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			want, ok := wantExit[tt.name]
			if !ok {
				t.Fatalf("no exit code stated for fixture %q", tt.name)
			}
			tr := newDetailReport(t, tt.make())
			if got := exitCode(t, tr.detail(t.Context())); got != want {
				t.Errorf("exit code %d, want %d", got, want)
			}
			golden.Check(t, "gpstate", "detail_"+tt.name+".golden", tr.out.Bytes())
		})
	}
}

// TestDetailMatchesTranscripts: on the healthy cluster, -s prints what GP6
// printed, line for line: the "-s" section of gp6-all-modes-healthy.txt
// (the fixture carries its pids and WAL positions), and `gpstate -s -v`
// (gp6-s-v.txt) without its DEBUG records, on a copy of the fixture with
// that run's pids and WAL positions. Nothing is excluded but the gather
// line, which is not detail's (see briefGatheringLine).
func TestDetailMatchesTranscripts(t *testing.T) {
	laterRun := func() *fixture {
		f := healthyGP6()
		for dbid, pid := range map[int]int{1: 14657, 2: 14634, 4: 16110, 3: 14635, 5: 16104} {
			o := f.obs.Instances[dbid]
			o.PID = pid
			f.obs.Instances[dbid] = o
		}
		for _, dbid := range []int{2, 3} {
			r := f.obs.Repl[dbid]
			r.CurrentWAL = "0/14000000"
			w := &r.Rows[0]
			w.Sent, w.Flush, w.Replay, w.FlushLeft, w.ReplayLeft, w.SentLeft = "0/14000000", "0/14000000", "0/14000000", "0", "0", "0"
		}
		return f
	}
	for _, tt := range []struct {
		name string
		f    *fixture
		want []string
	}{
		{"gp6-all-modes-healthy.txt -s", healthyGP6(), transcript(t, "-s")},
		{"gp6-s-v.txt", laterRun(), withoutDebug(transcriptSection(t, "gp6-s-v.txt", ""))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := newDetailReport(t, tt.f)
			if err := tr.detail(t.Context()); err != nil {
				t.Fatalf("exit: %v", err)
			}
			if len(tt.want) == 0 || tt.want[0] != briefGatheringLine {
				t.Fatalf("first line %q, want %q", tt.want, briefGatheringLine)
			}
			if d := cmp.Diff(tt.want[1:], messages(tr.out.String())); d != "" {
				t.Errorf("differs (-transcript +got):\n%s", d)
			}
		})
	}
}

// TestDetailCoordinatorSQL: -s asks the coordinator connection (utility
// mode) exactly spec §2.4.2's two queries, then opens one normal
// connection to the coordinator's port; its success makes the role
// "dispatch", its failure "utility".
func TestDetailCoordinatorSQL(t *testing.T) {
	t.Run("dispatch", func(t *testing.T) {
		tr := newDetailReport(t, healthyGP6())
		d, err := tr.detailCoordinator(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if d.Role != "dispatch" || d.InitVersion != "6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213" || d.PostgresVersion != "9.4.26" {
			t.Errorf("got %+v", d)
		}
		if d := cmp.Diff([]string{detailInitVersionSQL, detailServerVersionSQL}, tr.conn.SQL()); d != "" {
			t.Errorf("SQL (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]cluster.ConnConfig{{Port: 7000, Flavour: cluster.GP6}}, tr.conn.Configs()); d != "" {
			t.Errorf("connections (-want +got):\n%s", d)
		}
		if !tr.conn.Closed() {
			t.Error("the normal connection was not closed")
		}
	})
	t.Run("utility", func(t *testing.T) {
		tr := newDetailReport(t, healthyGP6())
		var asked []cluster.ConnConfig
		tr.env.Connect = func(_ context.Context, cfg cluster.ConnConfig) (cluster.Conn, error) {
			asked = append(asked, cfg)
			return nil, errors.New("FATAL:  connections to the master are not allowed in utility mode")
		}
		if err := tr.detail(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(asked) != 1 || asked[0].Utility {
			t.Errorf("connections asked: %+v", asked)
		}
		msgs := messages(tr.out.String())
		if want := "   Master current role            = utility"; msgs[7] != want {
			t.Errorf("role row %q, want %q", msgs[7], want)
		}
	})
	t.Run("query fails", func(t *testing.T) {
		tr := newDetailReport(t, healthyGP6())
		tr.conn.On(detailServerVersionSQL, clustertest.Err(errors.New("ERROR:  canceling statement")))
		err := tr.detail(t.Context())
		if err == nil || detailIsReported(err) {
			t.Fatalf("got %v, want a plain error (CRITICAL, exit 2)", err)
		}
		if tr.out.Len() != 0 {
			t.Errorf("printed before failing:\n%s", tr.out)
		}
	})
}

// detailIsReported reports whether err is one of the errors Main reports
// with its own wording (exit code, expected error) rather than as an
// unexpected failure.
func detailIsReported(err error) bool {
	var exit *app.ExitError
	var expected *app.ExpectedError
	return errors.As(err, &exit) || errors.As(err, &expected)
}

// TestDetailReplicationWarnings: the warnings Greenplum logs while reading
// pg_stat_replication come before the coordinator heading.
func TestDetailReplicationWarnings(t *testing.T) {
	tr := newDetailReport(t, primaryDown())
	_ = tr.detail(t.Context())
	msgs := messages(tr.out.String())
	want := []string{
		"WARNING: pg_stat_replication shows no standby connections",
		"----------------------------------------------------",
		"-Master Configuration & Status",
	}
	if d := cmp.Diff(want, msgs[:3]); d != "" {
		t.Errorf("start of -s (-want +got):\n%s", d)
	}
}

// TestDetailExpansion: with MDD/gpexpand.status present, the segment table
// ends with a separator, "Cluster Expansion = In Progress" and a separator
// (Greenplum's __showExpandStatusSummary with both separators), aligned
// with the segment rows.
func TestDetailExpansion(t *testing.T) {
	tr := newDetailReport(t, healthyGP6())
	if err := os.WriteFile(filepath.Join(tr.co.DataDir, "gpexpand.status"), []byte("UNINITIALIZED:None\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tr.detail(t.Context()); err != nil {
		t.Fatal(err)
	}
	msgs := messages(tr.out.String())
	want := []string{
		"      Segment status                        = Up",
		"----------------------------------------------------",
		"   Cluster Expansion                        = In Progress",
		"----------------------------------------------------",
	}
	if d := cmp.Diff(want, msgs[len(msgs)-4:]); d != "" {
		t.Errorf("end of -s (-want +got):\n%s", d)
	}
}

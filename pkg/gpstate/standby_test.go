package gpstate

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

// standbyColumns are the columns of standbyReplicationSQL as the server
// names them: GP6's *_location, GP7's and Cloudberry's *_lsn.
func standbyColumns(f cluster.Flavour) []clustertest.Column {
	names := []string{"state", "sync_state", "sent_lsn", "flush_lsn", "replay_lsn"}
	if f == cluster.GP6 {
		names = []string{"state", "sync_state", "sent_location", "flush_location", "replay_location"}
	}
	cols := make([]clustertest.Column, len(names))
	for i, n := range names {
		cols[i] = clustertest.Column{Name: n, OID: pgtype.TextOID, Format: pgtype.TextFormatCode}
	}
	return cols
}

// standbyStreaming is the coordinator's walsender row of a streaming
// standby.
var standbyStreaming = []any{"streaming", "sync", "0/C000060", "0/C000060", "0/C000060"}

// standbyScript answers standbyReplicationSQL on the coordinator: one
// walsender row when f has a standby whose postmaster runs (or whose host
// did not answer our SSH: it may well be streaming), none otherwise.
func standbyScript(f *fixture) func(*testReport) {
	return func(tr *testReport) {
		var rows [][]any
		if sb, ok := tr.st.Cluster.Standby(); ok {
			if o := f.obs.Instances[sb.DBID]; o.Active || o.HostErr != "" {
				rows = append(rows, standbyStreaming)
			}
		}
		tr.conn.On(standbyReplicationSQL(f.flavour), clustertest.Rows(standbyColumns(f.flavour), rows...))
	}
}

// standbyVariant is withStandby with the standby's observation replaced.
func standbyVariant(o Observed, hostWarning string) func() *fixture {
	return func() *fixture {
		f := withStandby()
		f.obs.Instances[6] = o
		if hostWarning != "" {
			f.obs.HostWarnings["smdw"] = hostWarning
		}
		return f
	}
}

// TestStandbyGolden pins -f on every fixture, under Greenplum 7 and
// Cloudberry wording with a standby, and with the standby's host
// unreachable, the standby stopped, and a pid whose server is not on the
// port; -f always exits 0 (spec §2.3) and runs exactly its one query, with
// the flavour's column names.
func TestStandbyGolden(t *testing.T) {
	for _, tt := range modesCases(
		modesCase{"gp7", modesFlavoured(cluster.GP7, withStandby)},
		modesCase{"gp7_none", modesFlavoured(cluster.GP7, healthyGP6)},
		modesCase{"cloudberry", modesFlavoured(cluster.Cloudberry, withStandby)},
		modesCase{"standby_unreachable", standbyVariant(Observed{HostErr: "Error getting status from host smdw", Ready: -1}, "Error getting status from host smdw")},
		modesCase{"standby_stopped", standbyVariant(stopped(), "")},
		modesCase{"standby_pid_error", standbyVariant(Observed{PIDFile: true, PID: 7101, Ready: 2}, "")},
	) {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.make()
			out, code, tr := modesRun(t, f, (*report).standby, standbyScript(f))
			if code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			if d := cmp.Diff([]string{standbyReplicationSQL(f.flavour)}, tr.conn.SQL()); d != "" {
				t.Errorf("SQL (-want +got):\n%s", d)
			}
			golden.Check(t, "gpstate", "standby_"+tt.name+".golden", []byte(out))
		})
	}
}

// TestStandbyMatchesTranscript: -f prints what GP6 printed on the healthy
// cluster without a standby, line for line (gp6-all-modes-healthy.txt).
func TestStandbyMatchesTranscript(t *testing.T) {
	f := healthyGP6()
	out, code, _ := modesRun(t, f, (*report).standby, standbyScript(f))
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if d := cmp.Diff(transcript(t, "-f"), messages(out)); d != "" {
		t.Errorf("-f differs (-transcript +got):\n%s", d)
	}
}

// TestStandbySQL pins the query per flavour (spec §2.4.9).
func TestStandbySQL(t *testing.T) {
	if got, want := standbyReplicationSQL(cluster.GP6), "SELECT state, sync_state, sent_location, flush_location, replay_location FROM pg_stat_replication"; got != want {
		t.Errorf("GP6: %q, want %q", got, want)
	}
	for _, f := range []cluster.Flavour{cluster.GP7, cluster.Cloudberry} {
		if got, want := standbyReplicationSQL(f), "SELECT state, sync_state, sent_lsn, flush_lsn, replay_lsn FROM pg_stat_replication"; got != want {
			t.Errorf("%v: %q, want %q", f, got, want)
		}
	}
}

// TestStandbyReplicationRows covers the pg_stat_replication block: one row
// (NULL printed as Python's None), more rows (a warning), and a failed
// query, which fails the run after the block's heading.
func TestStandbyReplicationRows(t *testing.T) {
	heading := []string{
		"-------------------------------------------------------------",
		"-pg_stat_replication",
		"-------------------------------------------------------------",
	}
	closing := "-------------------------------------------------------------"
	for _, tt := range []struct {
		name    string
		result  clustertest.Result
		want    []string
		wantErr bool
	}{
		{"startup row with NULLs", clustertest.Rows(standbyColumns(cluster.GP6), []any{"startup", "async", nil, nil, nil}),
			append(append([]string{}, heading...), "-WAL Sender State: startup", "-Sync state: async",
				"-Sent Location: None", "-Flush Location: None", "-Replay Location: None", closing), false},
		{"two rows", clustertest.Rows(standbyColumns(cluster.GP6), standbyStreaming, standbyStreaming),
			append(append([]string{}, heading...), "WARNING: pg_stat_replication shows more than 1 row.", closing), false},
		{"query fails", clustertest.Err(errors.New("connection reset")), heading, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTestReport(t, withStandby(), &Options{}, 0)
			tr.conn.On(standbyReplicationSQL(cluster.GP6), tt.result)
			err := tr.standby(t.Context())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "connection reset") {
				t.Errorf("err = %v, want the cause", err)
			}
			msgs := messages(tr.out.String())
			if d := cmp.Diff(tt.want, msgs[len(msgs)-len(tt.want):]); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

package gpstate

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

// expandColumns are the columns of expandProgressSQL.
var expandColumns = []clustertest.Column{
	{Name: "fq_dbname", OID: pgtype.TextOID, Format: pgtype.TextFormatCode},
	{Name: "fq_name", OID: pgtype.TextOID, Format: pgtype.TextFormatCode},
	{Name: "status", OID: pgtype.TextOID, Format: pgtype.TextFormatCode},
}

// expandDetail is a gpexpand.status_detail with tables of every state in
// two databases.
var expandDetail = clustertest.Rows(expandColumns,
	[]any{"postgres", "public.t1", "COMPLETED"},
	[]any{"sales", "public.orders", "NOT STARTED"},
	[]any{"sales", "public.lines", "IN PROGRESS"},
	[]any{`"Big DB"`, `public."Wide"`, "NOT STARTED"},
	[]any{"sales", "public.customers", "NOT STARTED"},
	[]any{"postgres", "public.t2", "IN PROGRESS"},
)

// TestExpandNoExpansion: on every fixture, with no gpexpand.status file
// and no gpexpand.status table, -x prints GP6's line of the healthy
// transcript (gp6-all-modes-healthy.txt), exits 0, and looked for the
// table over a normal (not utility) connection to database postgres on the
// coordinator port.
func TestExpandNoExpansion(t *testing.T) {
	for _, tt := range modesCases(modesCase{"gp7", modesFlavoured(cluster.GP7, healthyGP6)}) {
		t.Run(tt.name, func(t *testing.T) {
			f := modesCatalogOnly(tt.make)()
			out, code, tr := modesRun(t, f, (*report).expand, func(tr *testReport) {
				tr.st.DataDir = t.TempDir()
				tr.conn.On(expandProbeSQL, clustertest.Value(pgtype.Int4OID, int32(0)))
			})
			if code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			if d := cmp.Diff(transcript(t, "-x"), messages(out)); d != "" {
				t.Errorf("-x differs (-transcript +got):\n%s", d)
			}
			want := []cluster.ConnConfig{{Port: 7000, Flavour: f.flavour, Database: "postgres"}}
			if d := cmp.Diff(want, tr.conn.Configs()); d != "" {
				t.Errorf("connections (-want +got):\n%s", d)
			}
			if d := cmp.Diff([]string{expandProbeSQL}, tr.conn.SQL()); d != "" {
				t.Errorf("SQL (-want +got):\n%s", d)
			}
			if !tr.conn.Closed() {
				t.Error("the connection to postgres was not closed")
			}
		})
	}
}

// TestExpandGolden pins -x in each phase and phase-2 status (spec
// §2.4.10): the file of phase 1 wins without any connection; in phase 2
// a paused or active redistribution lists its progress (tables to go per
// database, in the order first seen, and those in progress).
func TestExpandGolden(t *testing.T) {
	for _, tt := range []struct {
		name     string
		file     string // content of MDD/gpexpand.status; "" none
		status   string // gpexpand.status's last status; "" no table
		progress bool   // whether status_detail is read
		wantSQL  []string
	}{
		{name: "phase1", file: "UNINITIALIZED:None\nEXPANSION PREPARE STARTED:None\n"},
		{name: "paused", status: "SETUP DONE", progress: true, wantSQL: []string{expandProbeSQL, expandStatusSQL, expandProgressSQL}},
		{name: "stopped", status: "EXPANSION STOPPED", progress: true, wantSQL: []string{expandProbeSQL, expandStatusSQL, expandProgressSQL}},
		{name: "active", status: "EXPANSION STARTED", progress: true, wantSQL: []string{expandProbeSQL, expandStatusSQL, expandProgressSQL}},
		{name: "complete", status: "EXPANSION COMPLETE", wantSQL: []string{expandProbeSQL, expandStatusSQL}},
		{name: "unknown", status: "SETUP", wantSQL: []string{expandProbeSQL, expandStatusSQL}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := modesCatalogOnly(healthyGP6)()
			out, code, tr := modesRun(t, f, (*report).expand, func(tr *testReport) {
				tr.st.DataDir = t.TempDir()
				if tt.file != "" {
					if err := os.WriteFile(filepath.Join(tr.st.DataDir, expandStatusFile), []byte(tt.file), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				tr.conn.On(expandProbeSQL, clustertest.Value(pgtype.Int4OID, int32(1)))
				tr.conn.On(expandStatusSQL, clustertest.Text(tt.status))
				tr.conn.On(expandProgressSQL, expandDetail)
			})
			if code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			if d := cmp.Diff(tt.wantSQL, tr.conn.SQL()); d != "" {
				t.Errorf("SQL (-want +got):\n%s", d)
			}
			if tt.file != "" && len(tr.conn.Configs()) != 0 {
				t.Errorf("phase 1 connected: %+v", tr.conn.Configs())
			}
			golden.Check(t, "gpstate", "expand_"+tt.name+".golden", []byte(out))
		})
	}
}

// TestExpandConnectionFails: when no normal connection to postgres can be
// had (the coordinator in utility mode, say), -x reports no expansion and
// says why at DEBUG.
func TestExpandConnectionFails(t *testing.T) {
	tr := newTestReport(t, modesCatalogOnly(healthyGP6)(), &Options{}, slog.LevelDebug)
	tr.st.DataDir = t.TempDir()
	tr.env.Connect = func(context.Context, cluster.ConnConfig) (cluster.Conn, error) {
		return nil, errors.New("FATAL:  System was started in master-only utility mode - only utility mode connections are allowed")
	}
	if err := tr.expand(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"DEBUG: Connecting to dbname='postgres'",
		"DEBUG: no connection to database postgres to look for gpexpand.status, taking no expansion: FATAL:  System was started in master-only utility mode - only utility mode connections are allowed",
		"Cluster Expansion State = No Expansion Detected",
	}
	if d := cmp.Diff(want, messages(tr.out.String())); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestExpandProgressFails: a failed status_detail query fails the run.
func TestExpandProgressFails(t *testing.T) {
	tr := newTestReport(t, modesCatalogOnly(healthyGP6)(), &Options{}, slog.LevelInfo)
	tr.st.DataDir = t.TempDir()
	tr.conn.On(expandProbeSQL, clustertest.Value(pgtype.Int4OID, int32(1)))
	tr.conn.On(expandStatusSQL, clustertest.Text("EXPANSION STARTED"))
	tr.conn.On(expandProgressSQL, clustertest.Err(errors.New("permission denied for schema gpexpand")))
	if err := tr.expand(t.Context()); err == nil {
		t.Fatal("no error")
	}
}

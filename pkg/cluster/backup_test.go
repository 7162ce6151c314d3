package cluster_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
)

// backupFake is a session to a server of version n that answers a
// backup's statements.
func backupFake(n int32) *clustertest.FakeConn {
	c := &clustertest.FakeConn{}
	c.On(cluster.ServerVersionNumPGSQL, clustertest.Value(pgtype.Int4OID, n))
	sql := cluster.BackupStatements(int(n))
	c.On(sql.Start, clustertest.Text("0/5000028"))
	text := func(name string) clustertest.Column { return clustertest.Column{Name: name, OID: pgtype.TextOID} }
	c.On(sql.Stop, clustertest.Rows([]clustertest.Column{text("lsn"), text("labelfile"), text("spcmapfile")},
		[]any{"0/5000138", "START WAL LOCATION: 0/5000028 (file 000000010000000000000005)\n", ""}))
	return c
}

// TestBackupStatementsPerFlavour: the statements of a non-exclusive backup
// on each flavour's PostgreSQL major, in the order a backup runs them,
// with their arguments (testdata/cluster/backup_sql.golden).
func TestBackupStatementsPerFlavour(t *testing.T) {
	var out strings.Builder
	for _, f := range []struct {
		name string
		num  int32
	}{
		{"Greenplum 7 (PostgreSQL 12)", 120012},
		{"Cloudberry (PostgreSQL 14)", 140004},
		{"compat bed (PostgreSQL 15)", 150014},
	} {
		c := backupFake(f.num)
		b, err := cluster.StartBackup(t.Context(), c, "differential_backup")
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if b.StartLSN != "0/5000028" {
			t.Errorf("%s: start LSN %q", f.name, b.StartLSN)
		}
		r, err := b.Stop(t.Context())
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if r.StopLSN != "0/5000138" || !strings.HasPrefix(r.Label, "START WAL LOCATION: 0/5000028") || r.TablespaceMap != "" {
			t.Errorf("%s: stop returned %+v", f.name, r)
		}
		fmt.Fprintf(&out, "# %s, server_version_num %d\n", f.name, f.num)
		for _, call := range c.Calls() {
			fmt.Fprintf(&out, "%s", call.SQL)
			if len(call.Args) > 0 {
				fmt.Fprintf(&out, "    -- %q", call.Args)
			}
			out.WriteString("\n")
		}
		out.WriteString("\n")
	}
	golden.Check(t, "cluster", "backup_sql.golden", []byte(out.String()))
}

// TestBackupNeverExclusive: no statement of any dialect asks for an
// exclusive backup or leaves one (pg_start_backup's third argument false,
// pg_stop_backup's first false; 15's functions have no exclusive mode).
func TestBackupNeverExclusive(t *testing.T) {
	for _, n := range []int{90424, 120012, 140004, 150000, 170002} {
		sql := cluster.BackupStatements(n)
		switch {
		case strings.Contains(sql.Start, "pg_start_backup"):
			if !strings.Contains(sql.Start, "($1, true, false)") || !strings.Contains(sql.Stop, "pg_stop_backup(false, true)") {
				t.Errorf("%d: %+v", n, sql)
			}
		case !strings.Contains(sql.Start, "pg_backup_start($1, true)") || !strings.Contains(sql.Stop, "pg_backup_stop(true)"):
			t.Errorf("%d: %+v", n, sql)
		}
		if n >= 150000 && strings.Contains(sql.Start, "pg_start_backup") {
			t.Errorf("%d: PostgreSQL 15 has no pg_start_backup: %+v", n, sql)
		}
	}
}

// TestBackupErrors: a failed start says so; a backup stops once.
func TestBackupErrors(t *testing.T) {
	c := backupFake(150014)
	boom := errors.New("must be superuser")
	c.On(cluster.BackupStatements(150014).Start, clustertest.Err(boom))
	var be *cluster.BackupError
	if _, err := cluster.StartBackup(t.Context(), c, "x"); !errors.Is(err, boom) || !errors.As(err, &be) || be.Func != "pg_backup_start()" {
		t.Errorf("start: %v", err)
	}
	c = backupFake(120012)
	b, err := cluster.StartBackup(t.Context(), c, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stop(t.Context()); err == nil {
		t.Error("a second Stop succeeded")
	}
}

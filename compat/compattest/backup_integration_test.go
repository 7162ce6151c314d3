//go:build integration

package compattest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/compat/compattest/bed"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// TestBackupFunctions: what gprecoverseg --differential asks of a source
// runs on the bed in both dialects (cluster.BackupStatements): Greenplum
// 7's pg_start_backup/pg_stop_backup through the bed's wrappers, and
// PostgreSQL 15's own functions; exclusive mode is refused;
// pg_is_in_backup() answers; and the pg_basebackup shim's
// --write-conf-files-only writes what Greenplum 7's does.
func TestBackupFunctions(t *testing.T) {
	b := bed.New(t)
	conn := b.MustConnect(t, b.Primary.Port, "template1", bed.Utility)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	for _, d := range []struct {
		name string
		num  int
	}{{"Greenplum 7's, through the wrappers", 120012}, {"PostgreSQL 15's", 150000}} {
		t.Run(d.name, func(t *testing.T) {
			sql := cluster.BackupStatements(d.num)
			var start string
			if err := conn.QueryRow(ctx, sql.Start, "differential_backup").Scan(&start); err != nil {
				t.Fatalf("%s: %v", sql.Start, err)
			}
			var stop, label, spcmap string
			if err := conn.QueryRow(ctx, sql.Stop).Scan(&stop, &label, &spcmap); err != nil {
				t.Fatalf("%s: %v", sql.Stop, err)
			}
			for _, want := range []string{"START WAL LOCATION: " + start + " (file ", "CHECKPOINT LOCATION: ", "BACKUP METHOD: streamed", "LABEL: differential_backup\n", "START TIMELINE: 1\n"} {
				if !strings.Contains(label, want) {
					t.Errorf("backup_label lacks %q:\n%s", want, label)
				}
			}
			if spcmap != "" {
				t.Errorf("tablespace map %q, want empty (no tablespaces)", spcmap)
			}
			var after bool
			if err := conn.QueryRow(ctx, "SELECT $1::pg_lsn > $2::pg_lsn", stop, start).Scan(&after); err != nil || !after {
				t.Errorf("stop LSN %s is not after start LSN %s (%v)", stop, start, err)
			}
		})
	}

	t.Run("the session's backup, through cluster.StartBackup", func(t *testing.T) {
		bk, err := cluster.StartBackup(ctx, conn, "differential_backup")
		if err != nil {
			t.Fatal(err)
		}
		r, err := bk.Stop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.Label, "START WAL LOCATION: "+bk.StartLSN) {
			t.Errorf("label %q does not start at %s", r.Label, bk.StartLSN)
		}
	})

	t.Run("exclusive mode refused", func(t *testing.T) {
		for _, sql := range []string{"SELECT pg_start_backup('x')", "SELECT pg_start_backup('x', true, true)", "SELECT * FROM pg_stop_backup(true)"} {
			_, err := conn.Exec(ctx, sql)
			if err == nil || !strings.Contains(err.Error(), "exclusive backup mode is not supported by the compat GPHOME") {
				t.Errorf("%s: %v", sql, err)
			}
		}
		if bed.FileExists(filepath.Join(b.Primary.Dir, "backup_label")) {
			t.Error("a refused exclusive backup left backup_label in the primary")
		}
	})

	t.Run("pg_is_in_backup", func(t *testing.T) {
		var in bool
		if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_is_in_backup()").Scan(&in); err != nil || in {
			t.Errorf("pg_is_in_backup() = %v, %v; want false (the bed has no exclusive backups)", in, err)
		}
	})

	t.Run("pg_basebackup --write-conf-files-only", func(t *testing.T) {
		dir := filepath.Join(b.Root, "confonly")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		bed.WriteFile(t, filepath.Join(dir, "postgresql.auto.conf"), "synchronous_standby_names = '*'\n")
		bed.WriteFile(t, filepath.Join(dir, "internal.auto.conf"), "gp_dbid=2\n")
		args := func(extra ...string) []string {
			return append([]string{"-c", "fast", "-D", dir, "-h", "127.0.0.1", "-p", fmt.Sprint(b.Primary.Port), "--write-conf-files-only",
				"--slot", "internal_wal_replication_slot", "--wal-method", "stream", "--target-gp-dbid", "9", "--progress", "--verbose"}, extra...)
		}
		for _, bad := range []struct{ arg, msg string }{
			{"--create-slot", "pg_basebackup: error: --create_slot cannot be used with --write-conf-files-only"},
			{"--write-recovery-conf", "pg_basebackup: error: --write-recovery-conf cannot be used with --write-conf-files-only"},
		} {
			out, err := b.Try("pg_basebackup", args(bad.arg)...)
			if err == nil || !strings.Contains(out, bad.msg) {
				t.Errorf("with %s: %v\n%s", bad.arg, err, out)
			}
		}
		out, err := b.Try("pg_basebackup", "-D", dir, "-h", "127.0.0.1", "-p", fmt.Sprint(bed.FreePort(t)), "--write-conf-files-only", "--target-gp-dbid", "9")
		if err == nil || !strings.Contains(out, "pg_basebackup: error: ") {
			t.Errorf("to a port nothing listens on: %v\n%s", err, out)
		}
		if bed.ReadFile(t, filepath.Join(dir, "internal.auto.conf")) != "gp_dbid=2\n" || bed.FileExists(filepath.Join(dir, "standby.signal")) {
			t.Fatal("a refused --write-conf-files-only changed the directory")
		}

		b.Run(t, "pg_basebackup", args()...)
		if got := bed.ReadFile(t, filepath.Join(dir, "internal.auto.conf")); got != "gp_dbid=9\n" {
			t.Errorf("internal.auto.conf %q", got)
		}
		if !bed.FileExists(filepath.Join(dir, "standby.signal")) {
			t.Error("no standby.signal")
		}
		auto := bed.ReadFile(t, filepath.Join(dir, "postgresql.auto.conf"))
		want := fmt.Sprintf("synchronous_standby_names = '*'\nprimary_conninfo = 'user=%s host=127.0.0.1 port=%d application_name=gp_walreceiver'\nprimary_slot_name = 'internal_wal_replication_slot'\n", b.User, b.Primary.Port)
		if auto != want {
			t.Errorf("postgresql.auto.conf:\n%s\nwant:\n%s", auto, want)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 3 {
			t.Errorf("%d entries in %s, want 3: the two configuration files and standby.signal, nothing copied", len(entries), dir)
		}
	})
}

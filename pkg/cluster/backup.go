package cluster

import (
	"context"
	"errors"
	"fmt"
)

// A non-exclusive base backup (PostgreSQL's low-level backup API), as
// gprecoverseg --differential takes one of its source: started and stopped
// in the same session, which holds it. A session that ends for any reason,
// the tool killed with it, ends the backup: unlike Greenplum's exclusive
// backup, it can never leave a primary in backup mode, nor a backup_label
// in its data directory that stops it from restarting after a crash. The
// backup_label (and tablespace map) the copy needs come from the stop's
// result and are written into the copy by the caller.

// BackupSQL is the statements of a non-exclusive backup on one PostgreSQL
// major. Start takes the label as $1 and returns the start LSN as text;
// Stop returns the stop LSN as text, the backup_label contents and the
// tablespace_map contents (empty without user tablespaces).
type BackupSQL struct {
	Start, Stop         string
	StartFunc, StopFunc string // the functions' names, for messages
}

// backupFunctionsRenamed is the server_version_num from which PostgreSQL
// has pg_backup_start/pg_backup_stop and no exclusive backups (15).
const backupFunctionsRenamed = 150000

// ServerVersionNumPGSQL reads PostgreSQL's server_version_num (120012 on
// Greenplum 7.x, 140004 on Cloudberry 1.x, 15xxxx on the compat bed).
const ServerVersionNumPGSQL = "SELECT pg_catalog.current_setting('server_version_num')::int"

// BackupStatements returns the backup statements for a server whose
// server_version_num is n: Greenplum 7 (PostgreSQL 12) and Cloudberry
// (14) take pg_start_backup(label, fast, exclusive => false) and
// pg_stop_backup(exclusive => false, wait_for_archive => true);
// PostgreSQL 15 and later pg_backup_start(label, fast) and
// pg_backup_stop(wait_for_archive).
func BackupStatements(n int) BackupSQL {
	if n >= backupFunctionsRenamed {
		return BackupSQL{
			Start:     "SELECT pg_catalog.pg_backup_start($1, true)::text",
			Stop:      "SELECT lsn::text, labelfile, coalesce(spcmapfile, '') FROM pg_catalog.pg_backup_stop(true)",
			StartFunc: "pg_backup_start()",
			StopFunc:  "pg_backup_stop()",
		}
	}
	return BackupSQL{
		Start:     "SELECT pg_catalog.pg_start_backup($1, true, false)::text",
		Stop:      "SELECT lsn::text, labelfile, coalesce(spcmapfile, '') FROM pg_catalog.pg_stop_backup(false, true)",
		StartFunc: "pg_start_backup()",
		StopFunc:  "pg_stop_backup()",
	}
}

// Backup is a non-exclusive backup under way on the session it was
// started in.
type Backup struct {
	conn     Conn
	sql      BackupSQL
	StartLSN string
	stopped  bool
}

// BackupResult is what stopping a backup returns.
type BackupResult struct {
	StopLSN       string
	Label         string // the backup_label file of the copy
	TablespaceMap string // the tablespace_map file; "" when there is none
}

// StartBackup starts a non-exclusive backup labelled label on conn, with
// an immediate checkpoint, in the dialect of the server's PostgreSQL
// major. conn must stay open, and be used for nothing else, until Stop.
func StartBackup(ctx context.Context, conn Conn, label string) (*Backup, error) {
	var n int
	if err := conn.QueryRow(ctx, ServerVersionNumPGSQL).Scan(&n); err != nil {
		return nil, fmt.Errorf("read server_version_num: %w", err)
	}
	b := &Backup{conn: conn, sql: BackupStatements(n)}
	if err := conn.QueryRow(ctx, b.sql.Start, label).Scan(&b.StartLSN); err != nil {
		return nil, &BackupError{Func: b.sql.StartFunc, Err: err}
	}
	return b, nil
}

// BackupError is a backup function that failed: Func names it
// ("pg_start_backup()"), as Greenplum's messages do.
type BackupError struct {
	Func string
	Err  error
}

func (e *BackupError) Error() string { return e.Func + ": " + e.Err.Error() }

func (e *BackupError) Unwrap() error { return e.Err }

// errBackupStopped is Stop's error for a backup already stopped.
var errBackupStopped = errors.New("the backup was already stopped")

// StartFunc is the name of the function that started b.
func (b *Backup) StartFunc() string { return b.sql.StartFunc }

// Stop ends the backup and returns its backup_label and tablespace map.
func (b *Backup) Stop(ctx context.Context) (BackupResult, error) {
	if b.stopped {
		return BackupResult{}, errBackupStopped
	}
	var r BackupResult
	if err := b.conn.QueryRow(ctx, b.sql.Stop).Scan(&r.StopLSN, &r.Label, &r.TablespaceMap); err != nil {
		return BackupResult{}, &BackupError{Func: b.sql.StopFunc, Err: err}
	}
	b.stopped = true
	return r, nil
}

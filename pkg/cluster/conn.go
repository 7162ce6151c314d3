package cluster

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier is the part of a database connection that reads and writes.
// *pgx.Conn and pgx.Tx satisfy it; tests use a fake.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Conn is an open connection to one instance. *pgx.Conn satisfies it.
type Conn interface {
	Querier
	Begin(ctx context.Context) (pgx.Tx, error)
	Close(ctx context.Context) error
}

// ConnConfig says where and how to connect (spec §1.6).
type ConnConfig struct {
	Host     string // "" means the local socket directory
	Port     int
	User     string // "" means $PGUSER, then $USER, then the OS user (Dialer.OSUser)
	Database string // "" means template1

	Flavour Flavour // selects the utility-mode option and session settings
	Utility bool    // utility mode: no dispatch, allowed on a single instance

	// AllowSystemTableMods adds -c allow_system_table_mods=true, needed for
	// catalog writes.
	AllowSystemTableMods bool

	ConnectTimeout time.Duration // 0: none
	Retries        int           // attempts on "timeout expired"; 0 means 1

	// StartupWait is how long to keep trying while the server answers
	// that it is still starting up (SQLSTATE 57P03), for a connection
	// made right after the tool's own pg_ctl start: with hot_standby off
	// (as Greenplum's instances run), pg_ctl -w returns as soon as crash
	// recovery begins, before the server accepts connections. 0: no wait.
	StartupWait time.Duration
}

// Connector opens connections; app.Env carries the real one, tests a fake.
type Connector func(ctx context.Context, cfg ConnConfig) (Conn, error)

// DatabaseName is the database cfg connects to: Database, or template1.
func (cfg ConnConfig) DatabaseName() string {
	if cfg.Database == "" {
		return DefaultDatabase
	}
	return cfg.Database
}

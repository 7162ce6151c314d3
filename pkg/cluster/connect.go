package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gpmgmt/gpmgmt/internal/ctxtime"
)

// Dialer opens pgx connections as the Greenplum tools do (spec §1.6). Its
// Connect method is a Connector.
//
// Passwords come from pgx's usual sources ($PGPASSWORD, ~/.pgpass, read by
// pgx from the process environment), as libpq does for the Python tools;
// other PG* variables (PGSSLMODE, ...) act as libpq defaults too, but the
// host, port, user, database and options always come from ConnConfig.
type Dialer struct {
	// Getenv looks up PGUSER, USER and PGPORT for the defaults of an empty
	// ConnConfig.User or zero Port; nil means none is set.
	Getenv func(string) string

	// OSUser is the name of the OS user running the tool, the database
	// user when PGUSER and USER are unset, as libpq (psql) does; under
	// docker exec, cron or sudo USER may be unset.
	OSUser string

	// OnTimeout, if set, is called after each attempt that timed out, with
	// the 1-based attempt number and the number of attempts, so the tool can
	// log "Timeout expired connecting to <db>, attempt i/n".
	OnTimeout func(cfg ConnConfig, attempt, attempts int)
}

// Connect opens a connection for cfg, retrying on connect timeouts when
// cfg.ConnectTimeout is set (cfg.Retries attempts, at least one), then runs
// the flavour's post-connect statements.
func (d Dialer) Connect(ctx context.Context, cfg ConnConfig) (Conn, error) {
	pcfg, err := d.PgxConfig(cfg)
	if err != nil {
		return nil, err
	}
	attempts := 1
	if cfg.ConnectTimeout > 0 {
		attempts = max(cfg.Retries, 1)
	}
	var conn *pgx.Conn
	startingUntil := time.Now().Add(cfg.StartupWait)
	for i := 1; ; i++ {
		conn, err = pgx.ConnectConfig(ctx, pcfg)
		if err == nil {
			break
		}
		if isStartingUp(err) && time.Now().Before(startingUntil) {
			if werr := ctxtime.Sleep(ctx, startupPoll); werr != nil {
				return nil, fmt.Errorf("connect to %s: %w", describe(pcfg), errors.Join(err, werr))
			}
			i-- // not an attempt: the server is not accepting anyone yet
			continue
		}
		if i >= attempts || ctx.Err() != nil || !isTimeout(err) {
			return nil, fmt.Errorf("connect to %s: %w", describe(pcfg), err)
		}
		if d.OnTimeout != nil {
			d.OnTimeout(cfg, i, attempts)
		}
	}
	for _, sql := range postConnectSQL(cfg.Flavour) {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return nil, errors.Join(fmt.Errorf("set up session on %s: %s: %w", describe(pcfg), sql, err), conn.Close(ctx))
		}
	}
	return conn, nil
}

// startupPoll is how often a connection is tried again while the
// server is starting up.
const startupPoll = 100 * time.Millisecond

// isStartingUp reports whether err is the server's "the database system
// is starting up" or "not accepting connections" (SQLSTATE 57P03,
// cannot_connect_now), which a server in crash recovery answers; the same
// code for "the database system is shutting down" is not waited for.
func isStartingUp(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "57P03" && !strings.Contains(pgErr.Message, "shutting down")
}

// isTimeout reports whether err is a connect timeout (libpq's "timeout
// expired").
func isTimeout(err error) bool {
	return pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded)
}

func describe(c *pgx.ConnConfig) string {
	return fmt.Sprintf("database %s on %s:%d as %s", c.Database, c.Host, c.Port, c.User)
}

// PgxConfig builds the pgx configuration for cfg: database template1 by
// default, user cfg.User else $PGUSER else $USER else d.OSUser, host "" meaning the Unix
// socket in /tmp, port 0 meaning $PGPORT else 5432, the flavour's options,
// and connect_timeout.
func (d Dialer) PgxConfig(cfg ConnConfig) (*pgx.ConnConfig, error) {
	if cfg.Utility && cfg.Flavour == FlavourUnknown {
		return nil, fmt.Errorf("utility-mode connection needs the server flavour, which is unknown")
	}
	getenv := d.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	user := cfg.User
	for _, name := range []string{"PGUSER", "USER"} {
		if user == "" {
			user = getenv(name)
		}
	}
	if user == "" {
		user = d.OSUser
	}
	if user == "" {
		return nil, fmt.Errorf("no database user: set PGUSER or USER")
	}
	port := cfg.Port
	if port == 0 {
		port = 5432
		if p := getenv("PGPORT"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, fmt.Errorf("PGPORT %q: %w", p, err)
			}
			port = n
		}
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("port %d out of range 1..65535", port)
	}
	host := cfg.Host
	if host == "" {
		host = DefaultSocketDir
	}
	db := cfg.DatabaseName()

	kv := []string{
		"host=" + quoteConnValue(host),
		"port=" + strconv.Itoa(port),
		"user=" + quoteConnValue(user),
		"dbname=" + quoteConnValue(db),
	}
	if opts := connOptions(cfg); opts != "" {
		kv = append(kv, "options="+quoteConnValue(opts))
	}
	if cfg.ConnectTimeout > 0 {
		kv = append(kv, "connect_timeout="+strconv.Itoa(timeoutSeconds(cfg)))
	}
	pcfg, err := pgx.ParseConfig(strings.Join(kv, " "))
	if err != nil {
		return nil, fmt.Errorf("build connection config for %s:%d: %w", host, port, err)
	}
	if cfg.ConnectTimeout > 0 {
		pcfg.ConnectTimeout = cfg.ConnectTimeout
	}
	return pcfg, nil
}

// quoteConnValue quotes a keyword/value connection-string value as libpq
// wants: single quotes, with backslashes and quotes backslash-escaped.
func quoteConnValue(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}

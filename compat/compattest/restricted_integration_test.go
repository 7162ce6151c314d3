//go:build integration

package compattest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gpmgmt/gpmgmt/compat/compattest/bed"
)

// reservedMessage is PostgreSQL's and Greenplum's refusal of a non-superuser
// when the remaining slots are reserved for superusers (SQLSTATE 53300).
const reservedMessage = "remaining connection slots are reserved for non-replication superuser connections"

// connectAs is bed.Connect as another role.
func connectAs(b *bed.Bed, port int, user string, params map[string]string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=template1 user=%s sslmode=disable connect_timeout=10",
		b.SockDir, port, user))
	if err != nil {
		return nil, err
	}
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return pgx.ConnectConfig(ctx, cfg)
}

// wantReserved checks that err is the reserved-slots refusal.
func wantReserved(t *testing.T, err error) {
	t.Helper()
	wantPgError(t, err, "FATAL", reservedMessage, "", "")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code != "53300" {
		t.Fatalf("SQLSTATE %s, want 53300 (too_many_connections)", pgErr.Code)
	}
}

// TestRestrictedMode proves Greenplum's restricted mode (gpstart -R): the
// coordinator started with -c superuser_reserved_connections equal to its
// max_connections starts, admits superusers and refuses other roles.
func TestRestrictedMode(t *testing.T) {
	b := bed.New(t)
	const role = "compattest_restricted"
	coord := b.Coord

	admin := b.MustConnect(t, coord.Port, "template1", bed.Utility)
	if err := exec1(admin, "CREATE ROLE "+role+" LOGIN NOSUPERUSER"); err != nil {
		t.Fatal(err)
	}
	maxConns, err := strconv.Atoi(queryString(t, admin, "SHOW max_connections"))
	if err != nil {
		t.Fatal(err)
	}
	_ = admin.Close(context.Background())

	// connect as the non-superuser and close; retried for a few seconds
	// while the slots of sessions that just closed are still taken
	wantAdmitted := func(t *testing.T) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			conn, err := connectAs(b, coord.Port, role, bed.Utility)
			if err == nil {
				if got := queryString(t, conn, "SELECT current_user"); got != role {
					t.Fatalf("current_user = %q", got)
				}
				_ = conn.Close(context.Background())
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s refused: %v", role, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	t.Run("normal start admits the non-superuser", wantAdmitted)

	restrictedOpts := fmt.Sprintf("-c gp_role=utility -c superuser_reserved_connections=%d", maxConns)
	b.Stop(t, coord.Dir)
	b.Start(t, coord.Dir, restrictedOpts)

	t.Run("restricted start admits superusers only", func(t *testing.T) {
		opts := bed.ReadFile(t, filepath.Join(coord.Dir, "postmaster.opts"))
		if want := fmt.Sprintf("gp_compat.superuser_reserved_connections=%d", maxConns); !strings.Contains(opts, want) || !strings.Contains(opts, "gp_role=utility") {
			t.Fatalf("postmaster.opts lacks %s or gp_role=utility: %s", want, opts)
		}

		conn := b.MustConnect(t, coord.Port, "template1", bed.Utility)
		for sql, want := range map[string]string{
			"SHOW gp_role":                                                     "utility",
			"SHOW superuser_reserved_connections":                              "3",
			"SHOW gp_compat.superuser_reserved_connections":                    fmt.Sprint(maxConns),
			"SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user": "true",
		} {
			if got := queryString(t, conn, sql); got != want {
				t.Errorf("%s = %q, want %q", sql, got, want)
			}
		}

		_, err := connectAs(b, coord.Port, role, bed.Utility)
		wantReserved(t, err)
		// Greenplum checks the reserved slots before the session's role
		_, err = connectAs(b, coord.Port, role, nil)
		wantReserved(t, err)
		_, err = b.Connect(coord.Port, "template1", nil)
		wantPgError(t, err, "FATAL", "System was started in single node mode - only utility mode connections are allowed", "", "")
	})

	// Below max_connections, PostgreSQL's rule: a non-superuser is refused
	// when fewer than N regular slots are free. N = max_connections - 1
	// leaves room for the newcomer alone.
	t.Run("fewer reserved slots than max_connections", func(t *testing.T) {
		b.Stop(t, coord.Dir)
		b.Start(t, coord.Dir, fmt.Sprintf("-c gp_role=utility -c superuser_reserved_connections=%d", maxConns-1))
		wantAdmitted(t)
		held := b.MustConnect(t, coord.Port, "template1", bed.Utility)
		_, err := connectAs(b, coord.Port, role, bed.Utility)
		wantReserved(t, err)
		_ = held.Close(context.Background())
		wantAdmitted(t)
	})

	t.Run("more reserved slots than max_connections refused", func(t *testing.T) {
		b.Stop(t, coord.Dir)
		out, err := b.Try("pg_ctl", "-D", coord.Dir, "-l", coord.Dir+".log", "-w", "-t", "60",
			"-o", fmt.Sprintf(" -c gp_role=utility -c superuser_reserved_connections=%d ", maxConns+1), "start")
		if err == nil {
			t.Fatalf("pg_ctl start with superuser_reserved_connections=%d succeeded:\n%s", maxConns+1, out)
		}
		want := fmt.Sprintf("superuser_reserved_connections (%d) must be less than max_connections (%d)", maxConns+1, maxConns)
		if log := bed.ReadFile(t, coord.Dir+".log"); !strings.Contains(log, want) {
			t.Fatalf("log lacks %q:\n%s", want, log)
		}
	})

	b.Start(t, coord.Dir, "-c gp_role=utility")
	t.Run("normal restart admits the non-superuser again", wantAdmitted)
}

//go:build integration

// Package compattest proves the compat GPHOME (compat/): it builds it and
// creates a coordinator and one primary with package bed, adds a mirror,
// and checks the Greenplum 7 interface the management tools rely on.
//
// Run as a non-root user (PostgreSQL refuses root), for example:
//
//	runuser -u gpadmin -- go test -tags integration ./compat/...
//
// A missing PostgreSQL or build tool fails the test; it never skips.
package compattest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gpmgmt/gpmgmt/compat/compattest/bed"
)

func queryString(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s string
	if err := conn.QueryRow(ctx, sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func exec1(conn *pgx.Conn, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := conn.Exec(ctx, sql, args...)
	return err
}

// wantPgError checks that err is a server error with these fields.
func wantPgError(t *testing.T, err error, severity, message, detail, hint string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("want %s %q, got %v", severity, message, err)
	}
	if pgErr.Severity != severity || pgErr.Message != message || pgErr.Detail != detail || pgErr.Hint != hint {
		t.Fatalf("want %s %q detail %q hint %q,\ngot  %s %q detail %q hint %q",
			severity, message, detail, hint, pgErr.Severity, pgErr.Message, pgErr.Detail, pgErr.Hint)
	}
}

type segRow struct {
	dbid, content                     int16
	role, preferredRole, mode, status string
	port                              int32
	hostname, address, datadir        string
}

func segmentConfiguration(t *testing.T, conn *pgx.Conn) []segRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := conn.Query(ctx, `SELECT dbid, content, role::text, preferred_role::text, mode::text, status::text, port, hostname, address, datadir FROM pg_catalog.gp_segment_configuration ORDER BY content, preferred_role DESC`)
	if err != nil {
		t.Fatal(err)
	}
	var result []segRow
	for rows.Next() {
		var r segRow
		if err := rows.Scan(&r.dbid, &r.content, &r.role, &r.preferredRole, &r.mode, &r.status, &r.port, &r.hostname, &r.address, &r.datadir); err != nil {
			t.Fatal(err)
		}
		result = append(result, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return result
}

func TestCompatGPHOME(t *testing.T) {
	b := bed.New(t)

	t.Run("gp-version", func(t *testing.T) {
		out := b.Run(t, "postgres", "--gp-version")
		if !regexp.MustCompile(`^postgres \(Greenplum Database\) 7\.\d+\.\d+\S* build \S+\n$`).MatchString(out) {
			t.Fatalf("postgres --gp-version = %q", out)
		}
	})

	// Greenplum's postgres prints the catalog version it was built with;
	// gpstart compares it with pg_controldata's.
	t.Run("catalog-version", func(t *testing.T) {
		out := b.Run(t, "postgres", "--catalog-version")
		m := regexp.MustCompile(`^Catalog version number: (\d+)\n$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("postgres --catalog-version = %q", out)
		}
		ctl := regexp.MustCompile(`(?m)^Catalog version number:\s+(\d+)$`).FindStringSubmatch(b.Run(t, "pg_controldata", b.Coord.Dir))
		if ctl == nil {
			t.Fatal("pg_controldata printed no catalog version number")
		}
		if m[1] != ctl[1] {
			t.Fatalf("postgres --catalog-version = %s, pg_controldata %s = %s", m[1], b.Coord.Dir, ctl[1])
		}
	})

	t.Run("utility coordinator refuses normal sessions", func(t *testing.T) {
		opts := bed.ReadFile(t, filepath.Join(b.Coord.Dir, "postmaster.opts"))
		if !strings.Contains(opts, "gp_role=utility") {
			t.Fatalf("postmaster.opts lacks gp_role=utility: %s", opts)
		}
		_, err := b.Connect(b.Coord.Port, "template1", nil)
		wantPgError(t, err, "FATAL", "System was started in single node mode - only utility mode connections are allowed", "", "")
		_, err = b.Connect(b.Coord.Port, "template1", map[string]string{"options": "-c gp_role=dispatch"})
		wantPgError(t, err, "FATAL", "System was started in single node mode - only utility mode connections are allowed", "", "")
		conn := b.MustConnect(t, b.Coord.Port, "template1", bed.Utility)
		if got := queryString(t, conn, "SHOW gp_role"); got != "utility" {
			t.Fatalf("SHOW gp_role = %q", got)
		}
	})

	// Registration, as gpinitsystem does it: utility session, mode 's'.
	t.Run("gp_add_segment forces mode n", func(t *testing.T) {
		conn := b.MustConnect(t, b.Coord.Port, "template1", bed.Utility)
		for _, in := range []bed.Instance{b.Coord, b.Primary} {
			got := queryString(t, conn, `SELECT pg_catalog.gp_add_segment($1::int2, $2::int2, 'p', 'p', 's', 'u', $3, 'cdw', '127.0.0.1', $4)::text`,
				in.DBID, in.Content, in.Port, in.Dir)
			if got != fmt.Sprint(in.DBID) {
				t.Fatalf("gp_add_segment returned %s", got)
			}
		}
		rows := segmentConfiguration(t, conn)
		if len(rows) != 2 {
			t.Fatalf("rows = %+v", rows)
		}
		for _, r := range rows {
			if r.mode != "n" || r.role != "p" || r.status != "u" {
				t.Fatalf("row %+v: want p/n/u", r)
			}
		}
	})

	b.Stop(t, b.Coord.Dir)
	b.Start(t, b.Coord.Dir, "-c gp_role=dispatch")

	t.Run("SHOW gp_role and identity", func(t *testing.T) {
		conn := b.MustConnect(t, b.Coord.Port, "postgres", nil)
		for sql, want := range map[string]string{
			"SHOW gp_role":               "dispatch",
			"SHOW gp_contentid":          "-1",
			"SHOW gp_dbid":               "1",
			"SHOW gp_server_version_num": "70100",
		} {
			if got := queryString(t, conn, sql); got != want {
				t.Errorf("coordinator %s = %q, want %q", sql, got, want)
			}
		}
		conn = b.MustConnect(t, b.Coord.Port, "postgres", bed.Utility)
		if got := queryString(t, conn, "SHOW gp_role"); got != "utility" {
			t.Errorf("coordinator utility session: SHOW gp_role = %q", got)
		}
	})

	// version() in Greenplum's shape, however the query calls it, in a
	// normal and a utility session (gpstate -i compares it across
	// instances; every tool logs the coordinator's).
	t.Run("version() in Greenplum's shape", func(t *testing.T) {
		want := regexp.MustCompile(`^PostgreSQL 15\.\d+ \(Greenplum Database 7\.1\.0-compat build dev\) on \S+, compiled by `)
		for _, params := range []map[string]string{nil, bed.Utility} {
			conn := b.MustConnect(t, b.Coord.Port, "template1", params)
			for _, sql := range []string{"select version()", "SELECT pg_catalog.version()", "SELECT v FROM version() AS v"} {
				if got := queryString(t, conn, sql); !want.MatchString(got) {
					t.Errorf("%s (options %v) = %q, want Greenplum's shape", sql, params, got)
				}
			}
		}
	})

	t.Run("segment accepts utility sessions only", func(t *testing.T) {
		const hint = "To force a connection anyway (dangerous!), use utility mode."
		const detail = "This database instance is running as a primary segment in a Greenplum cluster and does not permit direct connections."
		_, err := b.Connect(b.Primary.Port, "template1", nil)
		wantPgError(t, err, "FATAL", "connections to primary segments are not allowed", detail, hint)
		_, err = b.Connect(b.Primary.Port, "template1", map[string]string{"options": "-c gp_role=dispatch"})
		wantPgError(t, err, "FATAL", "connections to primary segments are not allowed", detail, hint)

		for _, params := range []map[string]string{
			{"options": "-c gp_role=utility"},
			{"options": "-c gp_session_role=utility"},
			{"options": "-c search_path= -c gp_role=utility -c client_min_messages=ERROR"},
			{"gp_role": "utility"},
		} {
			conn := b.MustConnect(t, b.Primary.Port, "template1", params)
			for sql, want := range map[string]string{
				"SHOW gp_role":      "utility",
				"SHOW gp_contentid": "0",
				"SHOW gp_dbid":      "2",
			} {
				if got := queryString(t, conn, sql); got != want {
					t.Errorf("segment with %v: %s = %q, want %q", params, sql, got, want)
				}
			}
			if n := queryString(t, conn, "SELECT count(*)::text FROM pg_catalog.gp_segment_configuration"); n != "0" {
				t.Errorf("segment gp_segment_configuration has %s rows, want 0", n)
			}
		}
		if opts := bed.ReadFile(t, filepath.Join(b.Primary.Dir, "postmaster.opts")); !strings.Contains(opts, "gp_role=execute") {
			t.Errorf("postmaster.opts: %s", opts)
		}
	})

	t.Run("catalog writes need allow_system_table_mods", func(t *testing.T) {
		conn := b.MustConnect(t, b.Coord.Port, "template1", nil)
		for _, sql := range []string{
			`UPDATE pg_catalog.gp_segment_configuration SET status = 'd' WHERE dbid = 2`,
			`DELETE FROM gp_segment_configuration WHERE dbid = 2`,
			`TRUNCATE gp_compat.gp_segment_configuration`,
		} {
			err := exec1(conn, sql)
			wantPgError(t, err, "ERROR", `permission denied: "gp_segment_configuration" is a system catalog`, "", "")
		}
		err := exec1(conn, `INSERT INTO gp_configuration_history ("time", dbid, "desc") VALUES (now(), 2, 'x')`)
		wantPgError(t, err, "ERROR", `permission denied: "gp_configuration_history" is a system catalog`, "", "")

		mods := b.MustConnect(t, b.Coord.Port, "template1", map[string]string{"options": "-c allow_system_table_mods=true"})
		if err := exec1(mods, `BEGIN`); err != nil {
			t.Fatal(err)
		}
		if err := exec1(mods, `UPDATE pg_catalog.gp_segment_configuration SET mode = 's' WHERE dbid = 2`); err != nil {
			t.Fatal(err)
		}
		if err := exec1(mods, `INSERT INTO gp_configuration_history ("time", dbid, "desc") VALUES (now(), 2, 'compattest: mode s')`); err != nil {
			t.Fatal(err)
		}
		if err := exec1(mods, `COMMIT`); err != nil {
			t.Fatal(err)
		}
		if got := queryString(t, conn, `SELECT mode::text FROM gp_segment_configuration WHERE dbid = 2`); got != "s" {
			t.Fatalf("mode = %q after the update", got)
		}
	})

	t.Run("new database shows current rows", func(t *testing.T) {
		conn := b.MustConnect(t, b.Coord.Port, "postgres", nil)
		if err := exec1(conn, `CREATE DATABASE compattest_late`); err != nil {
			t.Fatal(err)
		}
		mods := b.MustConnect(t, b.Coord.Port, "template1", map[string]string{"options": "-c allow_system_table_mods=true"})
		if err := exec1(mods, `UPDATE gp_segment_configuration SET status = 'd' WHERE dbid = 2`); err != nil {
			t.Fatal(err)
		}
		for _, db := range []string{"postgres", "compattest_late"} {
			c := b.MustConnect(t, b.Coord.Port, db, nil)
			got := queryString(t, c, `SELECT string_agg(dbid || ':' || mode::text || status::text, ',' ORDER BY dbid) FROM gp_segment_configuration`)
			if got != "1:nu,2:sd" {
				t.Errorf("%s sees %q, want 1:nu,2:sd", db, got)
			}
			got = queryString(t, c, `SELECT "desc" FROM gp_configuration_history ORDER BY "time" DESC LIMIT 1`)
			if got != "compattest: mode s" {
				t.Errorf("%s history = %q", db, got)
			}
		}
		if err := exec1(mods, `UPDATE gp_segment_configuration SET status = 'u' WHERE dbid = 2`); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("gp_request_fts_probe_scan", func(t *testing.T) {
		conn := b.MustConnect(t, b.Coord.Port, "template1", bed.Utility)
		err := exec1(conn, `SELECT gp_request_fts_probe_scan()`)
		wantPgError(t, err, "ERROR", "this function can only be called by master (without utility mode)", "", "")
		conn = b.MustConnect(t, b.Coord.Port, "template1", nil)
		if got := queryString(t, conn, `SELECT gp_request_fts_probe_scan()::text`); got != "true" {
			t.Fatalf("gp_request_fts_probe_scan() = %s", got)
		}
	})

	t.Run("mirror: pg_basebackup, pg_isready 64, gp_stat_replication", func(t *testing.T) {
		mirror := bed.Instance{Dir: filepath.Join(b.Root, "m0"), Port: bed.FreePort(t)}
		b.Run(t, "pg_basebackup", "-c", "fast", "-D", mirror.Dir, "-h", "127.0.0.1", "-p", fmt.Sprint(b.Primary.Port),
			"--create-slot", "--slot", "internal_wal_replication_slot", "--wal-method", "stream",
			"--no-verify-checksums", "--write-recovery-conf", "-E", "./db_dumps", "-E", "./promote",
			"--target-gp-dbid", "3")
		if got := bed.ReadFile(t, filepath.Join(mirror.Dir, "internal.auto.conf")); got != "gp_dbid=3\n" {
			t.Errorf("internal.auto.conf = %q", got)
		}
		auto := bed.ReadFile(t, filepath.Join(mirror.Dir, "postgresql.auto.conf"))
		if !regexp.MustCompile(`(?m)^primary_conninfo = '.* application_name=gp_walreceiver'$`).MatchString(auto) ||
			!strings.Contains(auto, "primary_slot_name = 'internal_wal_replication_slot'") {
			t.Errorf("postgresql.auto.conf:\n%s", auto)
		}
		if _, err := os.Stat(filepath.Join(mirror.Dir, "standby.signal")); err != nil {
			t.Error(err)
		}
		bed.AppendFile(t, filepath.Join(mirror.Dir, "postgresql.conf"), fmt.Sprintf("port = %d\n", mirror.Port))
		b.Start(t, mirror.Dir, "-c gp_role=execute")

		mods := b.MustConnect(t, b.Coord.Port, "template1", map[string]string{"options": "-c allow_system_table_mods=true"})
		if got := queryString(t, mods, `SELECT gp_add_segment_mirror(0::int2, 'cdw', '127.0.0.1', $1, $2)::text`, mirror.Port, mirror.Dir); got != "3" {
			t.Fatalf("gp_add_segment_mirror = %s", got)
		}

		// pg_isready: 64 for the live mirror, 0 for the primary (utility), 1
		// for the primary without utility mode, 2 for nothing.
		isready := func(port int, opts string) int {
			_, err := b.TryEnv([]string{"PGOPTIONS=" + opts}, "pg_isready", "-q", "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-d", "postgres")
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				return exitErr.ExitCode()
			}
			if err != nil {
				t.Fatal(err)
			}
			return 0
		}
		if rc := isready(mirror.Port, "-c gp_role=utility"); rc != 64 {
			t.Errorf("pg_isready on the mirror = %d, want 64", rc)
		}
		if rc := isready(b.Primary.Port, "-c gp_role=utility"); rc != 0 {
			t.Errorf("pg_isready on the primary = %d, want 0", rc)
		}
		if rc := isready(b.Primary.Port, ""); rc != 1 {
			t.Errorf("pg_isready on the primary without utility mode = %d, want 1", rc)
		}
		if rc := isready(bed.FreePort(t), "-c gp_role=utility"); rc != 2 {
			t.Errorf("pg_isready on a free port = %d, want 2", rc)
		}

		// gp_stat_replication on the coordinator sees the primary's walsender
		conn := b.MustConnect(t, b.Coord.Port, "template1", nil)
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := queryString(t, conn, `SELECT coalesce(string_agg(gp_segment_id || ':' || coalesce(application_name, '-') || ':' || coalesce(state, '-') || ':' || sync_error, ','), '') FROM gp_stat_replication`)
			if got == "0:gp_walreceiver:streaming:none" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("gp_stat_replication = %q", got)
			}
			time.Sleep(500 * time.Millisecond)
		}

		t.Run("a stalled primary: skipped after remote_query_timeout, and a cancel ends the wait", func(t *testing.T) {
			stalledPrimary(t, b)
		})
		t.Run("pg_rewind shim: primary_slot_name written escaped", func(t *testing.T) {
			rewindSlotName(t, b, mirror)
		})
	})
}

// stalledPrimary registers a primary (content 1) that accepts a session
// and then never answers a query, as a stopped backend does: the
// coordinator's read of its walsenders for gp_stat_replication must end
// after gp_compat.remote_query_timeout (WARNING, no row for it), and
// statement_timeout (a cancel) must end it sooner. libpq's blocking PQexec
// ignored both: the coordinator's backend waited for good.
func stalledPrimary(t *testing.T, b *bed.Bed) {
	port := silentPostgres(t)
	mods := b.MustConnect(t, b.Coord.Port, "template1", map[string]string{"options": "-c gp_role=utility -c allow_system_table_mods=true"})
	if got := queryString(t, mods, `SELECT gp_add_segment(9::int2, 1::int2, 'p', 'p', 'n', 'u', $1, 'stalled', '127.0.0.1', '/nonexistent')::text`, port); got != "9" {
		t.Fatalf("gp_add_segment = %s", got)
	}
	defer func() {
		if got := queryString(t, mods, `SELECT gp_remove_segment(9::int2)::text`); got != "true" {
			t.Errorf("gp_remove_segment = %s", got)
		}
	}()
	const replication = `SELECT coalesce(string_agg(gp_segment_id || ':' || coalesce(application_name, '-'), ','), '') FROM gp_stat_replication`

	conn := b.MustConnect(t, b.Coord.Port, "template1", map[string]string{"options": "-c gp_role=utility -c gp_compat.remote_query_timeout=2"})
	start := time.Now()
	got := queryString(t, conn, replication)
	if took := time.Since(start); got != "0:gp_walreceiver" || took > 8*time.Second {
		t.Errorf("gp_stat_replication with content 1's primary stalled: %q after %s, want content 0's row after about 2 s", got, took)
	}

	if err := exec1(conn, "SET statement_timeout = '1s'; SET gp_compat.remote_query_timeout = 3600"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	err := exec1(conn, replication)
	var pgErr *pgconn.PgError
	if took := time.Since(start); !errors.As(err, &pgErr) || pgErr.Code != "57014" || took > 8*time.Second {
		t.Errorf("statement_timeout did not cancel the wait: %v after %s", err, took)
	}
}

// silentPostgres listens on loopback and speaks PostgreSQL's protocol as
// far as ReadyForQuery, then never answers a query; it returns its port.
func silentPostgres(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				be := pgproto3.NewBackend(c, c)
				for {
					msg, err := be.ReceiveStartupMessage()
					if err != nil {
						return
					}
					switch msg.(type) {
					case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
						if _, err := c.Write([]byte("N")); err != nil {
							return
						}
						continue
					}
					break
				}
				be.Send(&pgproto3.AuthenticationOk{})
				be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "15.0"})
				be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
				if err := be.Flush(); err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, c) // read the query, answer nothing
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// rewindSlotName runs the pg_rewind shim on the stopped mirror: a slot
// name the server would refuse (a quote, a backslash) is refused before
// anything changes, where the shim wrote it unquoted and left a
// postgresql.auto.conf that no longer parses; a valid one is written so
// that the server reads it back.
func rewindSlotName(t *testing.T, b *bed.Bed, mirror bed.Instance) {
	b.Stop(t, mirror.Dir)
	auto := filepath.Join(mirror.Dir, "postgresql.auto.conf")
	before := bed.ReadFile(t, auto)
	source := fmt.Sprintf("--source-server=host=127.0.0.1 port=%d dbname=template1", b.Primary.Port)
	utility := []string{"PGOPTIONS=-c gp_role=utility"}
	out, err := b.TryEnv(utility, "pg_rewind", "--write-recovery-conf", `--slot=we'ird\slot`, source, "--target-pgdata="+mirror.Dir)
	if err == nil || !strings.Contains(out, `invalid replication slot name "we'ird\slot"`) {
		t.Errorf("a bad slot name was not refused: %v\n%s", err, out)
	}
	if after := bed.ReadFile(t, auto); after != before {
		t.Fatalf("postgresql.auto.conf changed by a refused rewind:\n%s", after)
	}
	b.RunEnv(t, utility, "pg_rewind", "--write-recovery-conf", "--slot=internal_wal_replication_slot", source, "--target-pgdata="+mirror.Dir)
	if got, err := b.Try("postgres", "-D", mirror.Dir, "-C", "primary_slot_name"); err != nil || got != "internal_wal_replication_slot\n" {
		t.Fatalf("postgres -C primary_slot_name = %q, %v\n%s", got, err, bed.ReadFile(t, auto))
	}
}

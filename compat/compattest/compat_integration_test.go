//go:build integration

// Package compattest proves the compat GPHOME (compat/): it builds it with
// compat/Makefile, creates a coordinator, one primary and its mirror from it
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
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgConfig is the pg_config of the PostgreSQL 15 the GPHOME is built on.
func pgConfig() string {
	if p := os.Getenv("COMPAT_PG_CONFIG"); p != "" {
		return p
	}
	return "/usr/lib/postgresql/15/bin/pg_config"
}

// bed is one compat cluster: a coordinator and a primary (content 0).
type bed struct {
	gphome  string
	sockDir string
	user    string
	env     []string
	coord   instance
	primary instance
}

type instance struct {
	dir  string
	port int
	dbid int
}

// run runs a program of the GPHOME and returns its combined output.
func (b *bed) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := b.try(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (b *bed) try(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// programs of the GPHOME by path: exec looks names up in our own PATH
	if path := filepath.Join(b.gphome, "bin", name); fileExists(path) {
		name = path
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = b.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// connect opens a session; params become startup parameters (the key
// "options" is libpq's command-line options string).
func (b *bed) connect(port int, db string, params map[string]string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=%s user=%s sslmode=disable connect_timeout=10",
		b.sockDir, port, db, b.user))
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

func (b *bed) mustConnect(t *testing.T, port int, db string, params map[string]string) *pgx.Conn {
	t.Helper()
	conn, err := b.connect(port, db, params)
	if err != nil {
		t.Fatalf("connect to port %d db %s with %v: %v", port, db, params, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

var utility = map[string]string{"options": "-c gp_role=utility"}

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

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newBed builds the GPHOME and creates the cluster the way gpinitsystem
// does: initdb, configuration, coordinator started in utility mode, catalog
// bootstrap and registration, then a normal start.
func newBed(t *testing.T) *bed {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Fatal("PostgreSQL refuses to run as root: run this test as gpadmin")
	}
	if _, err := os.Stat(pgConfig()); err != nil {
		t.Fatalf("PostgreSQL 15 is required: %v", err)
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	b := &bed{
		gphome:  filepath.Join(root, "gphome"),
		sockDir: filepath.Join(root, "s"),
		user:    u.Username,
		coord:   instance{dir: filepath.Join(root, "qd"), port: freePort(t), dbid: 1},
		primary: instance{dir: filepath.Join(root, "p0"), port: freePort(t), dbid: 2},
	}
	if err := os.Mkdir(b.sockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	b.env = append(os.Environ(),
		"GPHOME="+b.gphome,
		"PATH="+filepath.Join(b.gphome, "bin")+":"+os.Getenv("PATH"),
		"PGHOST="+b.sockDir,
		"LC_ALL=C",
		"PGOPTIONS=",
	)

	out, err := b.try("make", "-C", filepath.Join(repo, "compat"), "gphome",
		"GPHOME_DIR="+b.gphome, "PG_CONFIG="+pgConfig())
	if err != nil {
		t.Fatalf("make gphome: %v\n%s", err, out)
	}

	for _, in := range []struct {
		instance
		content int
	}{{b.coord, -1}, {b.primary, 0}} {
		b.run(t, "initdb", "-A", "trust", "-U", b.user, "-E", "UNICODE", "--locale=C",
			"--data-checksums", "-D", in.dir)
		conf := fmt.Sprintf(`
port = %d
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
shared_preload_libraries = '%s'
gp_compat.gp_contentid = %d
hot_standby = off
wal_level = replica
lc_messages = 'C'
`, in.port, b.sockDir, filepath.Join(b.gphome, "lib/postgresql/gp_compat.so"), in.content)
		appendFile(t, filepath.Join(in.dir, "postgresql.conf"), conf)
		appendFile(t, filepath.Join(in.dir, "pg_hba.conf"), "host replication all 127.0.0.1/32 trust\n")
		writeFile(t, filepath.Join(in.dir, "internal.auto.conf"), fmt.Sprintf("gp_dbid=%d\n", in.dbid))
	}

	t.Cleanup(func() {
		for _, dir := range []string{b.coord.dir, b.primary.dir, filepath.Join(root, "m0")} {
			if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err == nil {
				b.try("pg_ctl", "-D", dir, "-m", "immediate", "-w", "stop")
			}
		}
	})

	b.start(t, b.primary.dir, "-c gp_role=execute")
	b.start(t, b.coord.dir, "-c gp_role=utility")

	// catalog bootstrap on every instance, in the databases initdb made
	sql := filepath.Join(b.gphome, "share/gp_compat/gp_compat.sql")
	for _, port := range []int{b.coord.port, b.primary.port} {
		for _, db := range []string{"template1", "postgres"} {
			b.runUtility(t, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-p", fmt.Sprint(port), "-d", db, "-f", sql)
		}
	}
	return b
}

func (b *bed) start(t *testing.T, dir, opts string) {
	t.Helper()
	b.run(t, "pg_ctl", "-D", dir, "-l", dir+".log", "-w", "-t", "60", "-o", " "+opts+" ", "start")
}

func (b *bed) stop(t *testing.T, dir string) {
	t.Helper()
	b.run(t, "pg_ctl", "-D", dir, "-m", "fast", "-w", "-t", "60", "stop")
}

// runUtility runs a client program with PGOPTIONS asking for utility mode.
func (b *bed) runUtility(t *testing.T, name string, args ...string) string {
	t.Helper()
	saved := b.env
	b.env = append(append([]string(nil), saved...), "PGOPTIONS=-c gp_role=utility")
	defer func() { b.env = saved }()
	return b.run(t, name, args...)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
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
	b := newBed(t)

	t.Run("gp-version", func(t *testing.T) {
		out := b.run(t, "postgres", "--gp-version")
		if !regexp.MustCompile(`^postgres \(Greenplum Database\) 7\.\d+\.\d+\S* build \S+\n$`).MatchString(out) {
			t.Fatalf("postgres --gp-version = %q", out)
		}
	})

	t.Run("utility coordinator refuses normal sessions", func(t *testing.T) {
		opts := readFile(t, filepath.Join(b.coord.dir, "postmaster.opts"))
		if !strings.Contains(opts, "gp_role=utility") {
			t.Fatalf("postmaster.opts lacks gp_role=utility: %s", opts)
		}
		_, err := b.connect(b.coord.port, "template1", nil)
		wantPgError(t, err, "FATAL", "System was started in single node mode - only utility mode connections are allowed", "", "")
		_, err = b.connect(b.coord.port, "template1", map[string]string{"options": "-c gp_role=dispatch"})
		wantPgError(t, err, "FATAL", "System was started in single node mode - only utility mode connections are allowed", "", "")
		conn := b.mustConnect(t, b.coord.port, "template1", utility)
		if got := queryString(t, conn, "SHOW gp_role"); got != "utility" {
			t.Fatalf("SHOW gp_role = %q", got)
		}
	})

	// Registration, as gpinitsystem does it: utility session, mode 's'.
	t.Run("gp_add_segment forces mode n", func(t *testing.T) {
		conn := b.mustConnect(t, b.coord.port, "template1", utility)
		for _, in := range []struct {
			instance
			content int
		}{{b.coord, -1}, {b.primary, 0}} {
			got := queryString(t, conn, `SELECT pg_catalog.gp_add_segment($1::int2, $2::int2, 'p', 'p', 's', 'u', $3, 'cdw', '127.0.0.1', $4)::text`,
				in.dbid, in.content, in.port, in.dir)
			if got != fmt.Sprint(in.dbid) {
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

	b.stop(t, b.coord.dir)
	b.start(t, b.coord.dir, "-c gp_role=dispatch")

	t.Run("SHOW gp_role and identity", func(t *testing.T) {
		conn := b.mustConnect(t, b.coord.port, "postgres", nil)
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
		conn = b.mustConnect(t, b.coord.port, "postgres", utility)
		if got := queryString(t, conn, "SHOW gp_role"); got != "utility" {
			t.Errorf("coordinator utility session: SHOW gp_role = %q", got)
		}
	})

	t.Run("segment accepts utility sessions only", func(t *testing.T) {
		const hint = "To force a connection anyway (dangerous!), use utility mode."
		const detail = "This database instance is running as a primary segment in a Greenplum cluster and does not permit direct connections."
		_, err := b.connect(b.primary.port, "template1", nil)
		wantPgError(t, err, "FATAL", "connections to primary segments are not allowed", detail, hint)
		_, err = b.connect(b.primary.port, "template1", map[string]string{"options": "-c gp_role=dispatch"})
		wantPgError(t, err, "FATAL", "connections to primary segments are not allowed", detail, hint)

		for _, params := range []map[string]string{
			{"options": "-c gp_role=utility"},
			{"options": "-c gp_session_role=utility"},
			{"options": "-c search_path= -c gp_role=utility -c client_min_messages=ERROR"},
			{"gp_role": "utility"},
		} {
			conn := b.mustConnect(t, b.primary.port, "template1", params)
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
		if opts := readFile(t, filepath.Join(b.primary.dir, "postmaster.opts")); !strings.Contains(opts, "gp_role=execute") {
			t.Errorf("postmaster.opts: %s", opts)
		}
	})

	t.Run("catalog writes need allow_system_table_mods", func(t *testing.T) {
		conn := b.mustConnect(t, b.coord.port, "template1", nil)
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

		mods := b.mustConnect(t, b.coord.port, "template1", map[string]string{"options": "-c allow_system_table_mods=true"})
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
		conn := b.mustConnect(t, b.coord.port, "postgres", nil)
		if err := exec1(conn, `CREATE DATABASE compattest_late`); err != nil {
			t.Fatal(err)
		}
		mods := b.mustConnect(t, b.coord.port, "template1", map[string]string{"options": "-c allow_system_table_mods=true"})
		if err := exec1(mods, `UPDATE gp_segment_configuration SET status = 'd' WHERE dbid = 2`); err != nil {
			t.Fatal(err)
		}
		for _, db := range []string{"postgres", "compattest_late"} {
			c := b.mustConnect(t, b.coord.port, db, nil)
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
		conn := b.mustConnect(t, b.coord.port, "template1", utility)
		err := exec1(conn, `SELECT gp_request_fts_probe_scan()`)
		wantPgError(t, err, "ERROR", "this function can only be called by master (without utility mode)", "", "")
		conn = b.mustConnect(t, b.coord.port, "template1", nil)
		if got := queryString(t, conn, `SELECT gp_request_fts_probe_scan()::text`); got != "true" {
			t.Fatalf("gp_request_fts_probe_scan() = %s", got)
		}
	})

	t.Run("mirror: pg_basebackup, pg_isready 64, gp_stat_replication", func(t *testing.T) {
		mirror := instance{dir: filepath.Join(filepath.Dir(b.coord.dir), "m0"), port: freePort(t)}
		b.run(t, "pg_basebackup", "-c", "fast", "-D", mirror.dir, "-h", "127.0.0.1", "-p", fmt.Sprint(b.primary.port),
			"--create-slot", "--slot", "internal_wal_replication_slot", "--wal-method", "stream",
			"--no-verify-checksums", "--write-recovery-conf", "-E", "./db_dumps", "-E", "./promote",
			"--target-gp-dbid", "3")
		if got := readFile(t, filepath.Join(mirror.dir, "internal.auto.conf")); got != "gp_dbid=3\n" {
			t.Errorf("internal.auto.conf = %q", got)
		}
		auto := readFile(t, filepath.Join(mirror.dir, "postgresql.auto.conf"))
		if !regexp.MustCompile(`(?m)^primary_conninfo = '.* application_name=gp_walreceiver'$`).MatchString(auto) ||
			!strings.Contains(auto, "primary_slot_name = 'internal_wal_replication_slot'") {
			t.Errorf("postgresql.auto.conf:\n%s", auto)
		}
		if _, err := os.Stat(filepath.Join(mirror.dir, "standby.signal")); err != nil {
			t.Error(err)
		}
		appendFile(t, filepath.Join(mirror.dir, "postgresql.conf"), fmt.Sprintf("port = %d\n", mirror.port))
		b.start(t, mirror.dir, "-c gp_role=execute")

		mods := b.mustConnect(t, b.coord.port, "template1", map[string]string{"options": "-c allow_system_table_mods=true"})
		if got := queryString(t, mods, `SELECT gp_add_segment_mirror(0::int2, 'cdw', '127.0.0.1', $1, $2)::text`, mirror.port, mirror.dir); got != "3" {
			t.Fatalf("gp_add_segment_mirror = %s", got)
		}

		// pg_isready: 64 for the live mirror, 0 for the primary (utility), 1
		// for the primary without utility mode, 2 for nothing.
		isready := func(port int, opts string) int {
			saved := b.env
			b.env = append(append([]string(nil), saved...), "PGOPTIONS="+opts)
			defer func() { b.env = saved }()
			_, err := b.try("pg_isready", "-q", "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-d", "postgres")
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				return exitErr.ExitCode()
			}
			if err != nil {
				t.Fatal(err)
			}
			return 0
		}
		if rc := isready(mirror.port, "-c gp_role=utility"); rc != 64 {
			t.Errorf("pg_isready on the mirror = %d, want 64", rc)
		}
		if rc := isready(b.primary.port, "-c gp_role=utility"); rc != 0 {
			t.Errorf("pg_isready on the primary = %d, want 0", rc)
		}
		if rc := isready(b.primary.port, ""); rc != 1 {
			t.Errorf("pg_isready on the primary without utility mode = %d, want 1", rc)
		}
		if rc := isready(freePort(t), "-c gp_role=utility"); rc != 2 {
			t.Errorf("pg_isready on a free port = %d, want 2", rc)
		}

		// gp_stat_replication on the coordinator sees the primary's walsender
		conn := b.mustConnect(t, b.coord.port, "template1", nil)
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
	})
}

//go:build integration

package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pgBin is where the Debian PostgreSQL 15 server programs live.
const pgBin = "/usr/lib/postgresql/15/bin"

// gp6CatalogDDL gives stock PostgreSQL GP6's catalog tables (gp6-observed
// §3) and stand-ins for the functions the tools call.
var gp6CatalogDDL = []string{
	`CREATE TABLE pg_catalog.gp_segment_configuration (
		dbid smallint NOT NULL, content smallint NOT NULL,
		role "char" NOT NULL, preferred_role "char" NOT NULL,
		mode "char" NOT NULL, status "char" NOT NULL,
		port integer NOT NULL, hostname text, address text, datadir text)`,
	`CREATE UNIQUE INDEX gp_segment_config_content_preferred_role_index ON pg_catalog.gp_segment_configuration (content, preferred_role)`,
	`CREATE UNIQUE INDEX gp_segment_config_dbid_index ON pg_catalog.gp_segment_configuration (dbid)`,
	`CREATE TABLE pg_catalog.gp_configuration_history (
		"time" timestamp with time zone NOT NULL, dbid smallint NOT NULL, "desc" text)`,
	`CREATE FUNCTION pg_catalog.gp_add_segment(smallint, smallint, "char", "char", "char", "char", integer, text, text, text)
		RETURNS smallint LANGUAGE sql AS $$
		INSERT INTO pg_catalog.gp_segment_configuration (dbid, content, role, preferred_role, mode, status, port, hostname, address, datadir)
		VALUES ($1, $2, $3, $4, 'n', $6, $7, $8, $9, $10) RETURNING dbid $$`,
	`CREATE FUNCTION pg_catalog.gp_remove_segment_mirror(smallint) RETURNS boolean LANGUAGE sql AS $$
		WITH d AS (DELETE FROM pg_catalog.gp_segment_configuration WHERE content = $1 AND role = 'm' RETURNING 1)
		SELECT count(*) = 1 FROM d $$`,
	`CREATE FUNCTION pg_catalog.gp_request_fts_probe_scan() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$`,
}

type testServer struct {
	sockDir string
	port    int
	user    string
}

// startPostgres initdbs and starts a throwaway PostgreSQL 15 with
// allow_system_table_mods on and GP6's catalog in template1. A missing
// PostgreSQL fails the test: it never skips.
func startPostgres(t *testing.T) testServer {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		t.Fatalf("PostgreSQL 15 server programs are required in %s (apt-get install postgresql-15): %v", pgBin, err)
	}
	if os.Geteuid() == 0 {
		t.Fatal("integration tests must run as a non-root user such as gpadmin: PostgreSQL refuses to run as root")
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "s")
	if err := os.Mkdir(sock, 0o700); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, filepath.Join(pgBin, name), args...).CombinedOutput()
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, log)
		}
	}
	run("initdb", "-D", data, "-U", u.Username, "--auth=trust", "--no-sync", "--data-checksums")
	port := freePort(t)
	opts := fmt.Sprintf("-c port=%d -c listen_addresses='' -c unix_socket_directories=%s -c allow_system_table_mods=on -c fsync=off", port, sock)
	run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "start")
	t.Cleanup(func() {
		_ = exec.Command(filepath.Join(pgBin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop").Run()
	})
	srv := testServer{sockDir: sock, port: port, user: u.Username}

	conn := srv.connect(t, ConnConfig{Flavour: GP7})
	for _, ddl := range gp6CatalogDDL {
		if _, err := conn.Exec(t.Context(), ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	return srv
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

func (s testServer) connect(t *testing.T, cfg ConnConfig) Conn {
	t.Helper()
	cfg.Host, cfg.Port = s.sockDir, s.port
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	d := Dialer{Getenv: func(k string) string {
		if k == "USER" {
			return s.user
		}
		return ""
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := d.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func insertRows(t *testing.T, q Querier, segs []Segment) {
	t.Helper()
	for _, s := range segs {
		_, err := q.Exec(t.Context(), `INSERT INTO pg_catalog.gp_segment_configuration
			(dbid, content, role, preferred_role, mode, status, port, hostname, address, datadir)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			s.DBID, s.ContentID, s.Role, s.PreferredRole, s.Mode, s.Status, s.Port, s.Hostname, s.Address, s.DataDir)
		if err != nil {
			t.Fatal(err)
		}
	}
}

func historyCount(t *testing.T, q Querier) int {
	t.Helper()
	var n int
	if err := q.QueryRow(t.Context(), "SELECT count(*) FROM gp_configuration_history").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIntegrationLoadAndCatalogUpdate(t *testing.T) {
	srv := startPostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	// Each flavour's session settings are accepted by the server and leave
	// search_path empty.
	for _, f := range []Flavour{GP6, GP7} {
		conn := srv.connect(t, ConnConfig{Flavour: f, AllowSystemTableMods: true})
		var sp, mods, cmm string
		if err := conn.QueryRow(ctx, "SELECT current_setting('search_path'), current_setting('allow_system_table_mods'), current_setting('client_min_messages')").Scan(&sp, &mods, &cmm); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if (sp != "" && sp != `""`) || mods != "on" || cmm != "error" {
			t.Errorf("%s session: search_path %q allow_system_table_mods %q client_min_messages %q", f, sp, mods, cmm)
		}
	}

	conn := srv.connect(t, ConnConfig{Flavour: GP6, AllowSystemTableMods: true})
	insertRows(t, conn, readFixture(t, "mirror_down"))
	before, err := Load(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(mustCluster(t, "mirror_down").All(), before.All()); d != "" {
		t.Fatalf("loaded (-want +got):\n%s", d)
	}
	if err := before.ValidatePairs(); err != nil {
		t.Fatal(err)
	}

	// Full recovery of content 1's mirror (dbid 7) to a new host.
	afterRows := with(before.All(), 7, func(s *Segment) { s.Hostname, s.Address, s.DataDir = "sdw3", "sdw3-1", "/data/mirror/o'brien/gpseg1" })
	after, err := New(afterRows)
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := PlanCatalogUpdate("gprecoverseg", before, after)
	if err != nil {
		t.Fatal(err)
	}

	// An injected failure after the catalog writes rolls all of them back.
	broken := append(append([]Statement(nil), stmts...), Statement{SQL: "SELECT 1/0", Want: 1})
	err = ExecInTx(ctx, conn, broken)
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("injected failure: %v", err)
	}
	again, err := Load(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before.All(), again.All()); d != "" || historyCount(t, conn) != 0 {
		t.Fatalf("rollback left changes (history %d):\n%s", historyCount(t, conn), d)
	}

	if err := ExecInTx(ctx, conn, stmts); err != nil {
		t.Fatal(err)
	}
	got, err := Load(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(after.All(), got.All()); d != "" {
		t.Errorf("after update (-want +got):\n%s", d)
	}
	var desc string
	var dbid int
	if err := conn.QueryRow(ctx, `SELECT dbid, "desc" FROM gp_configuration_history`).Scan(&dbid, &desc); err != nil {
		t.Fatal(err)
	}
	if dbid != 7 || desc != HistoryFullRecovery("gprecoverseg", 7) {
		t.Errorf("history row %d %q", dbid, desc)
	}

	// A mode/status UPDATE that matches no row fails the transaction.
	err = ExecInTx(ctx, conn, []Statement{UpdateModeStatus(99, ModeSynced, StatusUp)})
	if err == nil || !strings.Contains(err.Error(), "affected 0 rows, want 1") {
		t.Errorf("update of missing dbid: %v", err)
	}

	if err := RequestFTSProbe(ctx, conn); err != nil {
		t.Errorf("fts probe: %v", err)
	}
}

func TestIntegrationConnectErrors(t *testing.T) {
	srv := startPostgres(t)
	d := Dialer{Getenv: func(k string) string { return map[string]string{"USER": srv.user}[k] }}
	_, err := d.Connect(t.Context(), ConnConfig{Host: srv.sockDir, Port: srv.port, Flavour: GP7, Database: "nosuchdb"})
	var pgErr interface{ SQLState() string }
	if err == nil || !errors.As(err, &pgErr) || pgErr.SQLState() != "3D000" {
		t.Errorf("missing database: %v", err)
	}
}

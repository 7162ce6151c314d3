// Package bed builds compat test beds for integration tests: the compat
// GPHOME (compat/Makefile) and, from it, a coordinator and one primary
// created the way gpinitsystem creates them (README "Creating an
// instance"). Functions take a testing.TB and fail it, as httptest's do.
//
// PostgreSQL refuses to run as root: run the tests as a user such as
// gpadmin. A missing PostgreSQL or build tool fails the test; it never
// skips.
package bed

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGConfig is the pg_config of the PostgreSQL 15 the GPHOME is built on:
// $COMPAT_PG_CONFIG, else Debian's.
func PGConfig() string {
	if p := os.Getenv("COMPAT_PG_CONFIG"); p != "" {
		return p
	}
	return "/usr/lib/postgresql/15/bin/pg_config"
}

// Instance is one postmaster's data directory, port and identity.
type Instance struct {
	Dir     string
	Port    int
	DBID    int
	Content int
}

// Bed is one compat cluster under a temporary directory: a coordinator
// (dbid 1, content -1) and a primary (dbid 2, content 0). Every instance
// listens on 127.0.0.1 and on Unix sockets in SockDir and in /tmp, where
// Greenplum's tools (and cluster.Dialer's default host) look.
type Bed struct {
	Root    string   // the temporary directory holding everything
	GPHome  string   // the compat GPHOME
	SockDir string   // first unix_socket_directories entry
	User    string   // the OS user, the database superuser
	Env     []string // environment of the programs Run starts
	Coord   Instance
	Primary Instance

	mu      sync.Mutex
	started []string // data directories Start started, stopped at cleanup
}

// Utility is the startup parameter of a utility-mode session, for Connect.
var Utility = map[string]string{"options": "-c gp_role=utility"}

// New builds the GPHOME and creates the cluster the way gpinitsystem does:
// initdb, configuration, the primary started as a segment and the
// coordinator in utility mode, and the catalog bootstrap in template1 and
// postgres of both. Nothing is registered in gp_segment_configuration yet.
// Everything is stopped when t ends.
func New(t testing.TB) *Bed {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Fatal("PostgreSQL refuses to run as root: run this test as gpadmin (runuser -u gpadmin -- go test -tags integration ...)")
	}
	if _, err := os.Stat(PGConfig()); err != nil {
		t.Fatalf("PostgreSQL 15 with its server development files is required (apt-get install postgresql-15 postgresql-server-dev-15): %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	b := &Bed{
		Root:    root,
		GPHome:  filepath.Join(root, "gphome"),
		SockDir: filepath.Join(root, "s"),
		User:    u.Username,
		Coord:   Instance{Dir: filepath.Join(root, "qd"), Port: FreePort(t), DBID: 1, Content: -1},
		Primary: Instance{Dir: filepath.Join(root, "p0"), Port: FreePort(t), DBID: 2, Content: 0},
	}
	if err := os.Mkdir(b.SockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	b.Env = append(os.Environ(),
		"GPHOME="+b.GPHome,
		"PATH="+filepath.Join(b.GPHome, "bin")+":"+os.Getenv("PATH"),
		"PGHOST="+b.SockDir,
		"LC_ALL=C",
		"PGOPTIONS=",
	)

	out, err := b.Try("make", "-C", filepath.Join(RepoRoot(), "compat"), "gphome",
		"GPHOME_DIR="+b.GPHome, "PG_CONFIG="+PGConfig())
	if err != nil {
		t.Fatalf("make gphome: %v\n%s", err, out)
	}

	for _, in := range []Instance{b.Coord, b.Primary} {
		b.InitInstance(t, in)
	}

	t.Cleanup(func() {
		b.mu.Lock()
		dirs := slices.Clone(b.started)
		b.mu.Unlock()
		for _, dir := range dirs {
			if FileExists(filepath.Join(dir, "postmaster.pid")) {
				_, _ = b.Try("pg_ctl", "-D", dir, "-m", "immediate", "-w", "stop")
			}
		}
	})

	b.Start(t, b.Primary.Dir, "-c gp_role=execute")
	b.Start(t, b.Coord.Dir, "-c gp_role=utility")

	// catalog bootstrap on every instance, in the databases initdb made
	for _, port := range []int{b.Coord.Port, b.Primary.Port} {
		b.Bootstrap(t, port)
	}
	return b
}

// InitInstance creates the data directory of in the way gpinitsystem does
// (README "Creating an instance", steps 1-3): initdb, the settings appended
// to postgresql.conf, a replication entry in pg_hba.conf and
// internal.auto.conf. It does not start it.
func (b *Bed) InitInstance(t testing.TB, in Instance) {
	t.Helper()
	b.Run(t, "initdb", "-A", "trust", "-U", b.User, "-E", "UNICODE", "--locale=C",
		"--data-checksums", "-D", in.Dir)
	conf := fmt.Sprintf(`
port = %d
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s, /tmp'
shared_preload_libraries = '%s'
gp_compat.gp_contentid = %d
hot_standby = off
wal_level = replica
lc_messages = 'C'
`, in.Port, b.SockDir, filepath.Join(b.GPHome, "lib/postgresql/gp_compat.so"), in.Content)
	AppendFile(t, filepath.Join(in.Dir, "postgresql.conf"), conf)
	AppendFile(t, filepath.Join(in.Dir, "pg_hba.conf"), "host replication all 127.0.0.1/32 trust\n")
	WriteFile(t, filepath.Join(in.Dir, "internal.auto.conf"), fmt.Sprintf("gp_dbid=%d\n", in.DBID))
}

// Bootstrap runs the catalog script in template1 and postgres of the
// running instance on port, in a utility session (README step 5).
func (b *Bed) Bootstrap(t testing.TB, port int) {
	t.Helper()
	sql := filepath.Join(b.GPHome, "share/gp_compat/gp_compat.sql")
	for _, db := range []string{"template1", "postgres"} {
		b.RunEnv(t, []string{"PGOPTIONS=-c gp_role=utility"},
			"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-p", fmt.Sprint(port), "-d", db, "-f", sql)
	}
}

// AddPrimary creates another segment instance (content, dbid) under Root,
// starts it as a segment and bootstraps its catalog. It is not registered
// on the coordinator.
func (b *Bed) AddPrimary(t testing.TB, dbid, content int) Instance {
	t.Helper()
	in := Instance{Dir: filepath.Join(b.Root, fmt.Sprintf("p%d", content)), Port: FreePort(t), DBID: dbid, Content: content}
	b.InitInstance(t, in)
	b.Start(t, in.Dir, "-c gp_role=execute")
	b.Bootstrap(t, in.Port)
	return in
}

// SyncStandbyNames is the synchronous_standby_names a primary has while its
// mirror is up, as on Greenplum (and as compat's FTS sets it).
const SyncStandbyNames = "*"

// MakeMirror makes a mirror of primary with dbid the way gpaddmirrors does
// (GP7's pg_basebackup command through the shim), starts it as a segment,
// waits until it streams and turns synchronous replication on on the
// primary (synchronous_standby_names = SyncStandbyNames, ALTER SYSTEM), as
// Greenplum's primary has it while its mirror is up. The mirror is not
// registered on the coordinator (gp_add_segment_mirror).
func (b *Bed) MakeMirror(t testing.TB, primary Instance, dbid int) Instance {
	t.Helper()
	m := Instance{Dir: filepath.Join(b.Root, fmt.Sprintf("m%d", primary.Content)), Port: FreePort(t), DBID: dbid, Content: primary.Content}
	b.Run(t, "pg_basebackup", "-c", "fast", "-D", m.Dir, "-h", "127.0.0.1", "-p", fmt.Sprint(primary.Port),
		"--create-slot", "--slot", "internal_wal_replication_slot", "--wal-method", "stream",
		"--no-verify-checksums", "--write-recovery-conf", "-E", "./db_dumps", "-E", "./promote",
		"--target-gp-dbid", fmt.Sprint(dbid))
	AppendFile(t, filepath.Join(m.Dir, "postgresql.conf"), fmt.Sprintf("port = %d\n", m.Port))
	b.Start(t, m.Dir, "-c gp_role=execute")
	b.WaitStreaming(t, primary.Port, true)

	conn := b.MustConnect(t, primary.Port, "template1", Utility)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, sql := range []string{
		"ALTER SYSTEM SET synchronous_standby_names = '" + SyncStandbyNames + "'",
		"SELECT pg_reload_conf()",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return m
}

// WaitStreaming waits (30 s at most) until the primary on port has (want)
// or has not (!want) a gp_walreceiver walsender in state streaming.
func (b *Bed) WaitStreaming(t testing.TB, port int, want bool) {
	t.Helper()
	conn := b.MustConnect(t, port, "template1", Utility)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication WHERE application_name = 'gp_walreceiver' AND state = 'streaming'`).Scan(&n)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if (n > 0) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %d: gp_walreceiver streaming = %v after 30 s", port, !want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PostmasterPID is the pid in the first line of dir/postmaster.pid.
func PostmasterPID(t testing.TB, dir string) int {
	t.Helper()
	first, _, _ := strings.Cut(ReadFile(t, filepath.Join(dir, "postmaster.pid")), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("postmaster.pid of %s: %v", dir, err)
	}
	return pid
}

// Kill9 kills the postmaster of dir with SIGKILL, as a crash would, and
// waits until it is gone (its children go on their own when they notice).
// postmaster.pid stays.
func (b *Bed) Kill9(t testing.TB, dir string) {
	t.Helper()
	pid := PostmasterPID(t, dir)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("postmaster %d still exists 30 s after kill -9", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart starts a crashed (Kill9) instance again, retrying while the old
// postmaster's children still hold its shared memory.
func (b *Bed) Restart(t testing.TB, dir, opts string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := b.Try("pg_ctl", "-D", dir, "-l", dir+".log", "-w", "-t", "60", "-o", " "+opts+" ", "start")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pg_ctl start %s: %v\n%s", dir, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// RepoRoot is the top of the gpmgmt source tree this package is in.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(file))))
}

// Run runs a program of the GPHOME (or of PATH) and returns its combined
// output, failing t when it fails.
func (b *Bed) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	return b.RunEnv(t, nil, name, args...)
}

// RunEnv is Run with extra environment entries (KEY=value), which override
// Env's.
func (b *Bed) RunEnv(t testing.TB, extra []string, name string, args ...string) string {
	t.Helper()
	out, err := b.TryEnv(extra, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// Try runs a program like Run and returns its error instead of failing.
func (b *Bed) Try(name string, args ...string) (string, error) {
	return b.TryEnv(nil, name, args...)
}

// TryEnv is Try with extra environment entries.
func (b *Bed) TryEnv(extra []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// programs of the GPHOME by path: exec looks names up in our own PATH
	if path := filepath.Join(b.GPHome, "bin", name); FileExists(path) {
		name = path
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(slices.Clone(b.Env), extra...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Start starts the instance in dir through the shim pg_ctl with
// Greenplum's postmaster options (e.g. "-c gp_role=utility"), logging to
// dir+".log". It is stopped when the test ends.
func (b *Bed) Start(t testing.TB, dir, opts string) {
	t.Helper()
	b.mu.Lock()
	if !slices.Contains(b.started, dir) {
		b.started = append(b.started, dir)
	}
	b.mu.Unlock()
	b.Run(t, "pg_ctl", "-D", dir, "-l", dir+".log", "-w", "-t", "60", "-o", " "+opts+" ", "start")
}

// Stop stops the instance in dir (fast shutdown).
func (b *Bed) Stop(t testing.TB, dir string) {
	t.Helper()
	b.Run(t, "pg_ctl", "-D", dir, "-m", "fast", "-w", "-t", "60", "stop")
}

// Connect opens a session on port through SockDir; params become startup
// parameters (the key "options" is libpq's command-line options string).
func (b *Bed) Connect(port int, db string, params map[string]string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=%s user=%s sslmode=disable connect_timeout=10",
		b.SockDir, port, db, b.User))
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

// MustConnect is Connect failing t on error; the session is closed when t
// ends.
func (b *Bed) MustConnect(t testing.TB, port int, db string, params map[string]string) *pgx.Conn {
	t.Helper()
	conn, err := b.Connect(port, db, params)
	if err != nil {
		t.Fatalf("connect to port %d db %s with %v: %v", port, db, params, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FileExists reports whether path exists.
func FileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// AppendFile appends text to the file at path.
func AppendFile(t testing.TB, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		_ = f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// WriteFile writes text to path (mode 0600).
func WriteFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ReadFile returns the content of path.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

//go:build integration

package gpdemo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Run as a non-root user with PostgreSQL 15, the sdw host names and sshd
// (scripts/setup-test-host.sh), for example:
//
//	runuser -u gpadmin -- go test -tags integration ./pkg/gpdemo/...
//
// A missing piece fails the tests; they never skip.

// testGPHome is the compat GPHOME built once for the package by TestMain.
var testGPHome string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Geteuid() == 0 {
		fmt.Fprintln(os.Stderr, "FAIL: gpdemo integration tests must run as a non-root user such as gpadmin: PostgreSQL refuses to run as root")
		return 1
	}
	root, err := os.MkdirTemp("", "gpdemo-gphome-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(root)
	testGPHome = filepath.Join(root, "gphome")
	if err := testbed.BuildCompatGPHome(testGPHome); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	return m.Run()
}

// gpdemo runs the gpdemo command in process with args, logging into a
// temporary directory, and returns its exit code and console output.
func gpdemo(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return gpdemoHome(t, "", args...)
}

// gpdemoHome is gpdemo with another home directory (for ~/.ssh) when home
// is not empty.
func gpdemoHome(t *testing.T, home string, args ...string) (int, string) {
	t.Helper()
	env := app.RealEnv("gpdemo")
	if home != "" {
		env.Home = home
	}
	var out bytes.Buffer
	env.Args = append(args, "-l", t.TempDir())
	env.In, env.Out, env.Err = strings.NewReader(""), &out, &out
	env.Log = nil
	code := app.Main(NewCommand(NewEnv(env), nil, nil), env)
	return code, out.String()
}

func mustGpdemo(t *testing.T, args ...string) time.Duration {
	t.Helper()
	start := time.Now()
	code, out := gpdemo(t, args...)
	if code != 0 {
		t.Fatalf("gpdemo %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return time.Since(start)
}

// destroyOnFailure destroys what a failed test left behind.
func destroyOnFailure(t *testing.T, dir string) {
	t.Cleanup(func() {
		if _, err := os.Stat(ManifestPath(dir)); err == nil {
			gpdemo(t, "destroy", "--dir", dir)
		}
	})
}

// assertGone checks that no process mentions dir and that dir is gone.
func assertGone(t *testing.T, dir string) {
	t.Helper()
	out, err := exec.Command("pgrep", "-af", dir).Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("processes of %s left behind (pgrep: %v):\n%s", dir, err, out)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind: %v", dir, err)
	}
}

func connect(t *testing.T, host string, port int, utility bool) (cluster.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	return cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cluster.ConnConfig{
		Host: host, Port: port, Database: "postgres", Flavour: cluster.GP7, Utility: utility, ConnectTimeout: 10 * time.Second,
	})
}

func queryString(t *testing.T, host string, port int, utility bool, sql string) string {
	t.Helper()
	conn, err := connect(t, host, port, utility)
	if err != nil {
		t.Fatalf("connect to %s:%d: %v", host, port, err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(t.Context(), sql).Scan(&s); err != nil {
		t.Fatalf("%s on %s:%d: %v", sql, host, port, err)
	}
	return s
}

// TestCreateDestroySSH builds a cluster over real SSH with a standby,
// checks every instance and the catalog against the plan, then destroys it.
func TestCreateDestroySSH(t *testing.T) {
	slot := testbed.AcquireSlot(t)
	dir := filepath.Join(t.TempDir(), "demo")
	destroyOnFailure(t, dir)
	hosts := slot.Hosts[:3] // two segment hosts, then the standby host
	took := mustGpdemo(t, "create", "--dir", dir, "--gphome", testGPHome, "--host-names", strings.Join(hosts, ","),
		"--standby", "--port-base", fmt.Sprint(slot.PortBase))
	t.Logf("create (2 hosts × 2 primaries + standby, over SSH): %.1f s", took.Seconds())

	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	coord := m.Coordinator()

	// catalog rows are the plan's, with host names, never addresses
	conn, err := connect(t, "", coord.Port, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.Load(t.Context(), conn)
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []cluster.Segment
	for _, in := range m.Instances {
		want = append(want, in.Segment)
	}
	got := c.All()
	if d := cmp.Diff(len(want), len(got)); d != "" {
		t.Fatalf("catalog rows: %s", c.Dump())
	}
	for _, w := range want {
		g, ok := c.ByDBID(w.DBID)
		if !ok || g != w {
			t.Errorf("catalog row of dbid %d: %+v, want %+v", w.DBID, g, w)
		}
		if net.ParseIP(g.Hostname) != nil || net.ParseIP(g.Address) != nil {
			t.Errorf("dbid %d carries an address: %+v", w.DBID, g)
		}
	}
	assertCatalogMatchesDisk(t, c)
	if s, ok := c.Standby(); !ok || s.Hostname != hosts[2] || s.Port != slot.PortBase+1 {
		t.Errorf("standby %+v", s)
	}

	out, err := exec.Command(filepath.Join(testGPHome, "bin", "postgres"), "--gp-version").Output()
	if err != nil || !regexp.MustCompile(`^postgres \(Greenplum Database\) 7\.`).Match(out) {
		t.Errorf("postgres --gp-version: %q %v", out, err)
	}
	if r := queryString(t, "", coord.Port, false, "SHOW gp_role"); r != "dispatch" {
		t.Errorf("coordinator gp_role = %s", r)
	}
	for _, p := range m.Primaries() {
		if r := queryString(t, p.Hostname, p.Port, true, "SHOW gp_role"); r != "utility" {
			t.Errorf("%s utility session: gp_role = %s", p.Label(), r)
		}
		_, err := connect(t, p.Hostname, p.Port, false)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Message != "connections to primary segments are not allowed" {
			t.Errorf("%s normal session: %v", p.Label(), err)
		}
	}
	s, _ := m.Standby()
	isready := exec.Command(filepath.Join(testGPHome, "bin", "pg_isready"), "-q", "-h", s.Hostname, "-p", fmt.Sprint(s.Port), "-d", "postgres")
	isready.Env = append(os.Environ(), "PGOPTIONS=-c gp_role=utility")
	var ee *exec.ExitError
	if err := isready.Run(); !errors.As(err, &ee) || ee.ExitCode() != 64 {
		t.Errorf("pg_isready on the standby: %v, want exit 64 (a live mirror)", err)
	}

	// the env file sources cleanly and psql through it reaches the coordinator
	sh := exec.Command("sh", "-c", `. "$1" && psql -XAtc "SELECT current_setting('port') || ' ' || current_setting('gp_role')"`, "sh", EnvFilePath(dir))
	sh.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + os.Getenv("HOME"), "USER=" + os.Getenv("USER")}
	out, err = sh.CombinedOutput()
	if want := fmt.Sprintf("%d dispatch\n", coord.Port); err != nil || string(out) != want {
		t.Errorf("psql through the env file: %q %v, want %q", out, err, want)
	}

	took = mustGpdemo(t, "destroy", "--dir", dir)
	t.Logf("destroy: %.1f s", took.Seconds())
	assertGone(t, dir)
	if code, out := gpdemo(t, "destroy", "--dir", dir); code != 0 {
		t.Errorf("second destroy: exit %d\n%s", code, out)
	}
}

// TestCreateMirrorsGroup builds a group-mirrored cluster over SSH through
// gpaddmirrors' pipeline: the catalog has the planned mirror rows, in sync
// after FTS, streaming from their primaries; destroy stops them too.
func TestCreateMirrorsGroup(t *testing.T) {
	slot := testbed.AcquireSlot(t)
	dir := filepath.Join(t.TempDir(), "demo")
	destroyOnFailure(t, dir)
	hosts := slot.Hosts[:2]
	took := mustGpdemo(t, "create", "--dir", dir, "--gphome", testGPHome, "--host-names", strings.Join(hosts, ","),
		"--primaries-per-host", "1", "--mirrors", "group", "--port-base", fmt.Sprint(slot.PortBase+20))
	t.Logf("create --mirrors group (2 hosts × 1 primary + 2 mirrors, over SSH): %.1f s", took.Seconds())
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	ms := m.Mirrors()
	if len(ms) != 2 {
		t.Fatalf("manifest mirrors: %+v", ms)
	}
	conn, err := connect(t, "", m.Coordinator().Port, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.Load(t.Context(), conn)
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range ms {
		// group: host i's primary is mirrored on host i+1; ports after the primaries'
		wantHost := hosts[(i+1)%2]
		wantDir := filepath.Join(dir, wantHost, "mirror", fmt.Sprintf("gpseg%d", w.ContentID))
		if w.Hostname != wantHost || w.DataDir != wantDir || w.Port <= slot.PortBase+20+1+len(m.Primaries()) {
			t.Errorf("planned mirror %s", w.Segment)
		}
		g, ok := c.ByDBID(w.DBID)
		if !ok || g.Hostname != w.Hostname || g.Port != w.Port || g.DataDir != w.DataDir || g.Role != cluster.RoleMirror ||
			g.Status != cluster.StatusUp || g.Mode != cluster.ModeSynced {
			t.Errorf("catalog row of dbid %d: %+v, want %+v in sync", w.DBID, g, w.Segment)
		}
		// the mirror answers on its own host's address, as Greenplum's
		// tools reach it: pg_isready exits 64 for a live mirror
		isready := exec.Command(filepath.Join(testGPHome, "bin", "pg_isready"), "-q", "-h", w.Hostname, "-p", fmt.Sprint(w.Port), "-d", "postgres")
		isready.Env = append(os.Environ(), "PGOPTIONS=-c gp_role=utility")
		var ee *exec.ExitError
		if err := isready.Run(); !errors.As(err, &ee) || ee.ExitCode() != 64 {
			t.Errorf("pg_isready -h %s -p %d on mirror dbid %d: %v, want exit 64", w.Hostname, w.Port, w.DBID, err)
		}
	}
	for _, p := range m.Primaries() {
		if n := queryString(t, p.Hostname, p.Port, true, "SELECT count(*)::text FROM pg_stat_replication WHERE application_name = 'gp_walreceiver' AND state = 'streaming'"); n != "1" {
			t.Errorf("%s: %s streaming walreceivers, want 1", p.Label(), n)
		}
	}
	mustGpdemo(t, "destroy", "--dir", dir)
	assertGone(t, dir)
}

// TestCreateDestroyLocal builds a small cluster without SSH.
func TestCreateDestroyLocal(t *testing.T) {
	slot := testbed.AcquireSlot(t)
	dir := filepath.Join(t.TempDir(), "demo")
	destroyOnFailure(t, dir)
	took := mustGpdemo(t, "create", "--dir", dir, "--gphome", testGPHome, "--local", "--primaries-per-host", "1",
		"--host-names", strings.Join(slot.Hosts[:2], ","), "--port-base", fmt.Sprint(slot.PortBase+10))
	t.Logf("create --local (2 hosts × 1 primary): %.1f s", took.Seconds())
	m, err := ReadManifest(dir)
	if err != nil || !m.Local {
		t.Fatalf("manifest: %+v %v", m, err)
	}
	if r := queryString(t, "", m.Coordinator().Port, false, "SELECT count(*)::text FROM gp_segment_configuration"); r != "3" {
		t.Errorf("catalog rows: %s", r)
	}
	took = mustGpdemo(t, "destroy", "--dir", dir)
	t.Logf("destroy --local: %.1f s", took.Seconds())
	assertGone(t, dir)
}

// TestRollback: a create that fails after instances started (a catalog
// script that fails) leaves no process and no directory behind.
func TestRollback(t *testing.T) {
	slot := testbed.AcquireSlot(t)
	broken := filepath.Join(t.TempDir(), "gphome")
	if out, err := exec.Command("cp", "-a", testGPHome, broken).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	sql := filepath.Join(broken, "share", "gp_compat", "gp_compat.sql")
	if err := os.WriteFile(sql, []byte("SELECT 1/0;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "demo")
	destroyOnFailure(t, dir)
	code, out := gpdemo(t, "create", "--dir", dir, "--gphome", broken, "--local", "--primaries-per-host", "1",
		"--host-names", slot.Hosts[0], "--port-base", fmt.Sprint(slot.PortBase+20))
	if code != 2 || !strings.Contains(out, "load the gp_compat catalog") || !strings.Contains(out, "division by zero") ||
		!strings.Contains(out, "Rolled back: nothing of the demo cluster is left") {
		t.Errorf("exit %d\n%s", code, out)
	}
	assertGone(t, dir)
}

// TestRefusals: bad input is refused before anything is created.
func TestRefusals(t *testing.T) {
	slot := testbed.AcquireSlot(t)
	base := slot.PortBase + 30
	// a listener on the first primary's port, on that host's address
	addrs, err := net.LookupHost(slot.Hosts[0])
	if err != nil {
		t.Fatalf("the test host names are missing (scripts/setup-test-host.sh): %v", err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(addrs[0], fmt.Sprint(base+2)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	hostArgs := []string{"--host-names", slot.Hosts[0], "--primaries-per-host", "1", "--port-base", fmt.Sprint(base)}
	tests := []struct {
		name string
		dir  string
		args []string
		want string
	}{
		{"port in use", filepath.Join(empty, "demo"), append([]string{"--gphome", testGPHome}, hostArgs...),
			fmt.Sprintf("port %d of the content 0 primary (dbid 2) on %s is in use: listen tcp %s:%d: bind: address already in use", base+2, slot.Hosts[0], addrs[0], base+2)},
		{"dir not empty", full, append([]string{"--gphome", testGPHome}, hostArgs...),
			"--dir " + full + " is not empty: it holds notes.txt"},
		{"GPHOME without PostgreSQL", filepath.Join(empty, "demo"), append([]string{"--gphome", empty}, hostArgs...),
			"GPHOME " + empty + " is not usable: missing bin/postgres"},
		{"unknown host", filepath.Join(empty, "demo"), []string{"--gphome", testGPHome, "--host-names", "nosuchhost.invalid", "--port-base", fmt.Sprint(base)},
			"host nosuchhost.invalid does not resolve"},
	}
	// a home whose ssh_config trusts no host key
	noKeys := t.TempDir()
	if err := os.Mkdir(filepath.Join(noKeys, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(noKeys, ".ssh", "config"), []byte("Host *\n  UserKnownHostsFile /dev/null\n  GlobalKnownHostsFile /dev/null\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, struct {
		name string
		dir  string
		args []string
		want string
	}{"unknown host key", filepath.Join(empty, "demo"), []string{"--gphome", testGPHome, "--host-names", slot.Hosts[1], "--port-base", fmt.Sprint(base + 10)},
		"ssh-keyscan -p 22 -t ed25519 " + slot.Hosts[1] + " >>"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := ""
			if tt.name == "unknown host key" {
				home = noKeys
			}
			code, out := gpdemoHome(t, home, append([]string{"create", "--dir", tt.dir}, tt.args...)...)
			if code != 2 || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, want 2 and %q in:\n%s", code, tt.want, out)
			}
			if tt.dir != full {
				assertGone(t, tt.dir)
			}
			if entries, _ := os.ReadDir(full); len(entries) != 1 {
				t.Errorf("%s changed: %v", full, entries)
			}
		})
	}
}

// assertCatalogMatchesDisk checks every catalog row against its data
// directory: a running postmaster (postmaster.pid) on the row's port, the
// row's dbid in internal.auto.conf and its content id in postgresql.conf;
// and, for primaries, the identity the running server reports.
func assertCatalogMatchesDisk(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	for _, s := range c.All() {
		pid, err := os.ReadFile(filepath.Join(s.DataDir, "postmaster.pid"))
		if err != nil {
			t.Errorf("dbid %d: no running postmaster in %s: %v", s.DBID, s.DataDir, err)
			continue
		}
		// postmaster.pid: pid, data directory, start time, port, ...
		if lines := strings.Split(string(pid), "\n"); len(lines) < 4 || lines[3] != fmt.Sprint(s.Port) {
			t.Errorf("dbid %d: the postmaster in %s does not listen on catalog port %d:\n%s", s.DBID, s.DataDir, s.Port, pid)
		}
		auto, err := os.ReadFile(filepath.Join(s.DataDir, "internal.auto.conf"))
		if err != nil || !strings.Contains(string(auto), fmt.Sprintf("gp_dbid=%d", s.DBID)) {
			t.Errorf("dbid %d: internal.auto.conf says %q (%v)", s.DBID, auto, err)
		}
		conf, err := os.ReadFile(filepath.Join(s.DataDir, "postgresql.conf"))
		if err != nil || !regexp.MustCompile(fmt.Sprintf(`(?m)^gp_compat\.gp_contentid\s*=\s*'?%d'?\s*(#.*)?$`, s.ContentID)).Match(conf) {
			t.Errorf("dbid %d: postgresql.conf lacks gp_compat.gp_contentid = %d (%v)", s.DBID, s.ContentID, err)
		}
		if s.IsPrimary() && s.ContentID >= 0 {
			got := queryString(t, s.Hostname, s.Port, true, "SELECT current_setting('gp_dbid') || ' ' || current_setting('gp_contentid')")
			if want := fmt.Sprintf("%d %d", s.DBID, s.ContentID); got != want {
				t.Errorf("dbid %d: the server says dbid and content %q, want %q", s.DBID, got, want)
			}
		}
	}
}

// TestCreateOverUnfinished: over a DIR an unfinished create left (its
// instances running, no env file), a create whose GPHOME has no Greenplum
// refuses and stops nothing; two good creates started together never both
// go on: one destroys the unfinished cluster and makes its own, the other
// refuses (DIR locked, or, when it comes second, not empty).
func TestCreateOverUnfinished(t *testing.T) {
	slot := testbed.AcquireSlot(t)
	dir := filepath.Join(t.TempDir(), "demo")
	destroyOnFailure(t, dir)
	args := []string{"create", "--dir", dir, "--gphome", testGPHome, "--local", "--primaries-per-host", "1",
		"--host-names", slot.Hosts[0], "--port-base", fmt.Sprint(slot.PortBase + 40)}
	mustGpdemo(t, args...)
	// What a create killed before its last step leaves.
	if err := os.Remove(EnvFilePath(dir)); err != nil {
		t.Fatal(err)
	}
	port := slot.PortBase + 40

	code, out := gpdemo(t, append(slices.Clone(args), "--gphome", t.TempDir())...)
	if code != 2 || !strings.Contains(out, "is not usable") || strings.Contains(out, "destroying what it made") {
		t.Errorf("create with a GPHOME without Greenplum over the unfinished DIR: exit %d\n%s", code, out)
	}
	if _, err := ReadManifest(dir); err != nil {
		t.Errorf("the unfinished create's manifest after the refusal: %v", err)
	}
	queryString(t, "", port, false, "SELECT 1") // its coordinator still runs

	var wg sync.WaitGroup
	codes, outs := make([]int, 2), make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], outs[i] = gpdemo(t, args...)
		}()
	}
	wg.Wait()
	refusal := regexp.MustCompile(`another gpdemo create or destroy is working in it|is not empty`)
	switch {
	case codes[0] == 0 && codes[1] == 2 && refusal.MatchString(outs[1]):
		t.Logf("the second create refused:\n%s", outs[1])
	case codes[1] == 0 && codes[0] == 2 && refusal.MatchString(outs[0]):
		t.Logf("the first create refused:\n%s", outs[0])
	default:
		t.Fatalf("two creates at once: exits %v, want one 0 and one refusal\n%s\n----\n%s", codes, outs[0], outs[1])
	}
	if r := queryString(t, "", port, false, "SELECT count(*)::text FROM gp_segment_configuration"); r != "2" {
		t.Errorf("catalog rows after the two creates: %s, want 2", r)
	}
	if _, err := os.Stat(EnvFilePath(dir)); err != nil {
		t.Errorf("the winning create's env file: %v", err)
	}
	mustGpdemo(t, "destroy", "--dir", dir)
	assertGone(t, dir)
}

//go:build integration

// Package recoverseg_test proves gprecoverseg against mirrored gpdemo
// clusters over real SSH, run blind (testbed.Blind: every segment data
// directory hidden from the tool): failover and incremental recovery, -F
// over a diverged directory, a double fault, the lock, kill -9 of the tool
// midway, an unreachable host and --dry-run. Faults are made the way they
// happen: kill -9 of postmasters, FTS failovers requested with
// gp_request_fts_probe_scan().
package recoverseg_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
	"github.com/gpmgmt/gpmgmt/internal/tooltest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
)

// install is built once by TestMain.
var install tooltest.Install

func TestMain(m *testing.M) { os.Exit(tooltest.Main(m, func(in tooltest.Install) { install = in })) }

// Bounds of the tests' own waits.
const (
	toolTimeout = 3 * time.Minute  // one run of a tool
	sqlTimeout  = 30 * time.Second // one statement of the test
	ftsLimit    = 60 * time.Second // a failover or a mirror marked up and in sync
)

// bed is a mirrored gpdemo cluster (group mirroring, one primary per
// host, no standby) made for one test and destroyed when it ends.
type bed struct {
	dir, coord string
	hosts      []string
	port       int      // the coordinator's
	hidden     []string // the segment hosts' directories
}

// newBed makes a bed of n hosts on the test's slot.
func newBed(t testing.TB, n int) *bed {
	t.Helper()
	slot := testbed.AcquireSlot(t)
	b := &bed{dir: filepath.Join(t.TempDir(), "cluster"), hosts: slot.Hosts[:n], port: slot.PortBase}
	b.coord = filepath.Join(b.dir, "coordinator", "gpseg-1")
	// Last: no process may outlive the cluster (a detached pg_rewind, a
	// copy, a postmaster a test started by hand).
	t.Cleanup(func() { b.killLeftovers(t) })
	begin := time.Now()
	defer func() { t.Logf("gpdemo create: %d hosts in %.1f s", n, time.Since(begin).Seconds()) }()
	run(t, "gpdemo", "create", "--dir", b.dir, "--gphome", install.GPHome, "--hosts", strconv.Itoa(n), "--primaries-per-host", "1",
		"--mirrors", "group", "--host-names", strings.Join(b.hosts, ","), "--port-base", strconv.Itoa(b.port))
	t.Cleanup(func() {
		if t.Failed() {
			// What a failed recovery leaves beside a data directory (pid,
			// status and marker files), which gpdemo refuses to remove as
			// not its own. A passing test leaves none: destroy checks.
			left, _ := filepath.Glob(filepath.Join(b.dir, "*", "*", ".gpseg*"))
			for _, f := range left {
				_ = os.Remove(f)
			}
		}
		run(t, "gpdemo", "destroy", "--dir", b.dir)
	})
	for _, h := range b.hosts {
		b.hidden = append(b.hidden, filepath.Join(b.dir, h))
	}
	if segs := b.catalog(t); len(segs) != 1+2*n {
		t.Fatalf("want the coordinator, %d primaries and %[1]d mirrors, got:\n%s", n, dump(segs))
	}
	return b
}

// killLeftovers fails t for, and kills, every process still naming the
// cluster's directory once it is destroyed.
func (b *bed) killLeftovers(t testing.TB) {
	for _, pid := range tooltest.Pgrep(t, regexp.QuoteMeta(b.dir)) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		t.Errorf("process %d outlived the cluster: %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// run runs a built tool outside the harness and fails t unless it exits 0.
func run(t testing.TB, tool string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(install.Tools, tool), append(args, "-l", t.TempDir())...)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
}

// toolRun is one blind run of a tool; its standard input is empty.
type toolRun struct {
	env    []string // NAME=value added to the cluster's environment
	logDir string   // -l; a new temporary directory when empty
}

// command is the blind command for a built tool with the cluster's
// environment, killed after toolTimeout; the caller starts it and calls
// cancel when it is done. It does not derive from t.Context(), which is
// cancelled before the cleanups that destroy the cluster run.
func (b *bed) command(t testing.TB, r toolRun, tool string, args ...string) (*exec.Cmd, context.CancelFunc) {
	t.Helper()
	if r.logDir == "" {
		r.logDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	cmd := testbed.Blind(t, exec.CommandContext(ctx, filepath.Join(install.Tools, tool), append(args, "-l", r.logDir)...), b.hidden...)
	cmd.Env = append(append(os.Environ(), "GPHOME="+install.GPHome, "COORDINATOR_DATA_DIRECTORY="+b.coord, "MASTER_DATA_DIRECTORY="), r.env...)
	cmd.Stdin = strings.NewReader("")
	cmd.WaitDelay = 10 * time.Second
	return cmd, cancel
}

// tool runs a built tool blind and returns its exit status and output.
func (b *bed) tool(t testing.TB, r toolRun, tool string, args ...string) (int, string) {
	t.Helper()
	cmd, cancel := b.command(t, r, tool, args...)
	defer cancel()
	return tooltest.Run(t, cmd)
}

// background is a tool running in the background, its standard input a
// pipe held open: a prompt waits for an answer.
type background struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	out    lockedBuffer
	done   chan struct{}
	err    error
}

// start starts a built tool blind in the background; t's cleanup kills it
// if the test has not waited for it.
func (b *bed) start(t testing.TB, r toolRun, tool string, args ...string) *background {
	t.Helper()
	bg := &background{done: make(chan struct{})}
	bg.cmd, bg.cancel = b.command(t, r, tool, args...)
	in, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	bg.cmd.Stdin = in
	bg.cmd.Stdout, bg.cmd.Stderr = &bg.out, &bg.out
	if err := bg.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = in.Close() // the tool has its copy
	go func() {
		bg.err = bg.cmd.Wait()
		bg.cancel()
		close(bg.done)
	}()
	t.Cleanup(func() {
		select {
		case <-bg.done:
		default:
			_ = bg.cmd.Process.Kill()
			<-bg.done
		}
		_ = w.Close()
	})
	return bg
}

// pid is the tool's process id (the harness executes the tool in place).
func (bg *background) pid() int { return bg.cmd.Process.Pid }

// waitFor polls ok every 20 ms, two minutes at most; it fails t if the
// tool exits first.
func (bg *background) waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !ok(); time.Sleep(20 * time.Millisecond) {
		select {
		case <-bg.done:
			t.Fatalf("the tool exited (%v) before %s:\n%s", bg.err, what, bg.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 2 minutes:\n%s", what, bg.out.String())
		}
	}
}

// kill kills the tool with SIGKILL and waits for it to die.
func (bg *background) kill(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(bg.pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := bg.wait(t, 10*time.Second); code != -1 {
		t.Fatalf("the tool after kill -9: exit %d, want death by the signal", code)
	}
}

// wait waits for the tool to exit, limit at most, and returns its exit
// status (-1 when killed by a signal).
func (bg *background) wait(t testing.TB, limit time.Duration) int {
	t.Helper()
	select {
	case <-bg.done:
	case <-time.After(limit):
		t.Fatalf("the tool still runs after %s:\n%s", limit, bg.out.String())
	}
	var exit *exec.ExitError
	switch {
	case bg.err == nil:
		return 0
	case errors.As(bg.err, &exit):
		return exit.ExitCode()
	}
	t.Fatalf("the tool: %v\n%s", bg.err, bg.out.String())
	return 0
}

// lockedBuffer is a bytes.Buffer a running command writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// connect opens a session on an instance (host "" is the coordinator's
// socket) in utility mode or, for the coordinator, a normal one in
// database postgres; it is closed when t ends.
func connect(t testing.TB, host string, port int, utility bool) cluster.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), sqlTimeout)
	defer cancel()
	cfg := cluster.ConnConfig{Host: host, Port: port, Flavour: cluster.GP7, Utility: utility, ConnectTimeout: 10 * time.Second}
	if !utility {
		cfg.Database = "postgres"
	}
	conn, err := cluster.Dialer{Getenv: os.Getenv}.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// on opens a utility session on s.
func on(t testing.TB, s cluster.Segment) cluster.Conn {
	t.Helper()
	return connect(t, s.Address, s.Port, true)
}

// execSQL runs statements on conn.
func execSQL(t testing.TB, conn cluster.Conn, sqls ...string) {
	t.Helper()
	for _, sql := range sqls {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
		_, err := conn.Exec(ctx, sql)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// catalog reads gp_segment_configuration in a utility session.
func (b *bed) catalog(t testing.TB) []cluster.Segment {
	t.Helper()
	conn := connect(t, "", b.port, true)
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), sqlTimeout)
	defer cancel()
	segs, err := cluster.LoadSegments(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// pair returns content c's acting primary and mirror rows in segs.
func pair(t testing.TB, segs []cluster.Segment, c int) (primary, mirror cluster.Segment) {
	t.Helper()
	for _, s := range segs {
		switch {
		case s.ContentID != c:
		case s.IsPrimary():
			primary = s
		default:
			mirror = s
		}
	}
	if primary.DBID == 0 || mirror.DBID == 0 {
		t.Fatalf("content %d has no primary and mirror in:\n%s", c, dump(segs))
	}
	return primary, mirror
}

// byDBID returns the row of dbid in segs.
func byDBID(t testing.TB, segs []cluster.Segment, dbid int) cluster.Segment {
	t.Helper()
	for _, s := range segs {
		if s.DBID == dbid {
			return s
		}
	}
	t.Fatalf("no dbid %d in:\n%s", dbid, dump(segs))
	return cluster.Segment{}
}

func dump(segs []cluster.Segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteString(s.String() + "\n")
	}
	return b.String()
}

// rows is the catalog as sorted lines, for comparisons.
func rows(segs []cluster.Segment) []string {
	var out []string
	for _, s := range segs {
		out = append(out, s.String())
	}
	slices.Sort(out)
	return out
}

// history returns gp_configuration_history's descriptions, oldest first.
func (b *bed) history(t testing.TB) []string {
	t.Helper()
	conn := connect(t, "", b.port, true)
	defer conn.Close(context.Background())
	r, err := conn.Query(t.Context(), `SELECT "desc" FROM gp_configuration_history ORDER BY time`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// probe asks FTS for a probe round and waits for it.
func (b *bed) probe(t testing.TB) {
	t.Helper()
	conn := connect(t, "", b.port, false)
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), ftsLimit)
	defer cancel()
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT gp_request_fts_probe_scan()").Scan(&ok); err != nil || !ok {
		t.Fatalf("gp_request_fts_probe_scan(): %v, %v", ok, err)
	}
}

// waitCatalog requests FTS probes until the catalog satisfies ok, ftsLimit
// at most, and returns it.
func (b *bed) waitCatalog(t testing.TB, what string, ok func([]cluster.Segment) bool) []cluster.Segment {
	t.Helper()
	deadline := time.Now().Add(ftsLimit)
	for {
		segs := b.catalog(t)
		if ok(segs) {
			return segs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; the catalog:\n%s", what, ftsLimit, dump(segs))
		}
		b.probe(t)
	}
}

// failover kills content c's acting primary with -9 and waits for FTS to
// promote its mirror; it returns the pair as FTS left it: the promoted
// mirror, now primary, and the killed primary, now a mirror marked down.
func (b *bed) failover(t testing.TB, c int) (primary, failed cluster.Segment) {
	t.Helper()
	p, m := pair(t, b.catalog(t), c)
	killPostmaster(t, p.DataDir)
	segs := b.waitCatalog(t, fmt.Sprintf("failover of content %d", c), func(segs []cluster.Segment) bool {
		return byDBID(t, segs, m.DBID).IsPrimary()
	})
	return byDBID(t, segs, m.DBID), byDBID(t, segs, p.DBID)
}

// waitInSync waits until content c's pair is up and in sync in the
// catalog (p, u, s and m, u, s) with mirror dbid as its mirror, and its
// mirror has replayed lsn (when not ""), and returns the pair.
func (b *bed) waitInSync(t testing.TB, c, mirror int, lsn string) (primary, mirrorRow cluster.Segment) {
	t.Helper()
	segs := b.waitCatalog(t, fmt.Sprintf("content %d up and in sync with mirror dbid %d", c, mirror), func(segs []cluster.Segment) bool {
		p, m := pair(t, segs, c)
		return m.DBID == mirror && p.IsUp() && p.IsSynced() && m.IsUp() && m.IsSynced()
	})
	primary, mirrorRow = pair(t, segs, c)
	if lsn != "" {
		tooltest.WaitReplayed(t, on(t, primary), lsn, sqlTimeout)
	}
	return primary, mirrorRow
}

// write creates table on s (a utility session) with n rows and returns
// the WAL position after it.
func write(t testing.TB, s cluster.Segment, table string, n int) string {
	t.Helper()
	conn := on(t, s)
	execSQL(t, conn, fmt.Sprintf("CREATE TABLE public.%s AS SELECT generate_series(1, %d) AS i", table, n))
	var lsn string
	if err := conn.QueryRow(t.Context(), "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	return lsn
}

// count counts table's rows on s.
func count(t testing.TB, s cluster.Segment, table string) int {
	t.Helper()
	var n int
	if err := on(t, s).QueryRow(t.Context(), "SELECT count(*) FROM public."+table).Scan(&n); err != nil {
		t.Fatalf("count %s on %s: %v", table, s.Label(), err)
	}
	return n
}

// promote stops content c's acting primary (pg_ctl stop -m immediate) and
// waits for FTS to promote mirror dbid, which it returns: the rows a
// recovered mirror holds can then be counted.
func (b *bed) promote(t testing.TB, c, mirror int) cluster.Segment {
	t.Helper()
	p, m := pair(t, b.catalog(t), c)
	if m.DBID != mirror {
		t.Fatalf("content %d's mirror is dbid %d, not %d", c, m.DBID, mirror)
	}
	pgctl(t, "-D", p.DataDir, "-m", "immediate", "-w", "-t", "60", "stop")
	segs := b.waitCatalog(t, fmt.Sprintf("promotion of dbid %d", mirror), func(segs []cluster.Segment) bool {
		return byDBID(t, segs, mirror).IsPrimary()
	})
	return byDBID(t, segs, mirror)
}

// pgctl runs the compat GPHOME's pg_ctl.
func pgctl(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, filepath.Join(install.GPHome, "bin", "pg_ctl"), args...).CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// startSegment starts s by hand as a segment, as gpstart would.
func startSegment(t testing.TB, s cluster.Segment) {
	t.Helper()
	argv := pgcmd.Start{Flavour: cluster.GP7, GPHome: install.GPHome, Kind: pgcmd.Segment, DataDir: s.DataDir, Port: s.Port, Wait: true, Timeout: 60}.Argv()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "GPHOME="+install.GPHome)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start %s: %v\n%s", s.Label(), err, out)
	}
}

// postmasterPID is the pid on the first line of dir's postmaster.pid, 0
// when there is none.
func postmasterPID(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// running reports whether a postmaster runs in dir.
func running(dir string) bool {
	pid := postmasterPID(dir)
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// killPostmaster kills the postmaster of dir with SIGKILL and waits, 10 s
// at most, until it is gone.
func killPostmaster(t testing.TB, dir string) {
	t.Helper()
	pid := postmasterPID(dir)
	if pid <= 0 {
		t.Fatalf("no postmaster.pid in %s", dir)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d (%s): %v", pid, dir, err)
	}
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("postmaster %d of %s still runs 10 s after kill -9", pid, dir)
		}
	}
}

// fingerprint describes every regular file under dir by path, size,
// modification and change times: a directory nothing wrote into keeps it
// (a file written back as it was still gets a new change time).
func fingerprint(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat_t", path)
		}
		out[path] = fmt.Sprintf("size %d mtime %s ctime %d.%09d", fi.Size(), fi.ModTime().Format(time.RFC3339Nano), st.Ctim.Sec, st.Ctim.Nsec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out[filepath.Join(dir, "global", "pg_control")] == "" {
		t.Fatalf("%s holds no global/pg_control: not a data directory", dir)
	}
	return out
}

// sameFingerprint fails t unless dir still has the fingerprint want.
func sameFingerprint(t testing.TB, what, dir string, want map[string]string) {
	t.Helper()
	got := fingerprint(t, dir)
	var diff []string
	for p, w := range want {
		if g := got[p]; g != w {
			diff = append(diff, fmt.Sprintf("%s: %q, was %q", p, g, w))
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			diff = append(diff, fmt.Sprintf("%s: %q, new", p, g))
		}
	}
	if len(diff) > 0 {
		slices.Sort(diff)
		t.Errorf("%s (%s) changed:\n%s", what, dir, strings.Join(diff, "\n"))
	}
}

// noLeftovers fails t if the coordinator keeps gprecoverseg's lock or
// journal, or a rewind left its pid or status file beside dirs.
func (b *bed) noLeftovers(t testing.TB, dirs ...string) {
	t.Helper()
	paths := []string{filepath.Join(b.coord, "gprecoverseg.lock"), filepath.Join(b.coord, "gprecoverseg.journal")}
	for _, d := range dirs {
		for _, kind := range []string{"pid", "status"} {
			paths = append(paths, filepath.Join(filepath.Dir(d), "."+filepath.Base(d)+".pg_rewind."+kind))
		}
		paths = append(paths, filepath.Join(filepath.Dir(d), "."+filepath.Base(d)+".pg_basebackup.pid"),
			filepath.Join(filepath.Dir(d), "."+filepath.Base(d)+".gpmgmt-copied"))
	}
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is left (%v)", p, err)
		}
	}
}

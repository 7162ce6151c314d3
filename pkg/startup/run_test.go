package startup

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
	"github.com/gpmgmt/gpmgmt/pkg/segctl/segctltest"
)

const (
	gphome     = "/usr/local/greenplum-db"
	gp6Version = "postgres (Greenplum Database) 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213"
	gp7Version = "postgres (Greenplum Database) 7.1.0 build commit:e7c2b1f14bb42a1018ac57d14f4436880e0a0515"
	// testPort is the coordinator's port in these tests: below the
	// ephemeral range and outside the test bed's, so that nothing answers
	// on it unless a test listens there itself.
	testPort = 29471
)

func seg(dbid, content int, role cluster.Role, host string, port int, dir string) cluster.Segment {
	return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: role, Mode: cluster.ModeSynced,
		Status: cluster.StatusUp, Hostname: host, Address: host, Port: port, DataDir: dir}
}

// gp6Demo is the cluster of the GP6 transcripts: everything on mdw.
func gp6Demo() []cluster.Segment {
	return []cluster.Segment{
		seg(1, -1, cluster.RolePrimary, "mdw", testPort, "/data/qddir/demoDataDir-1"),
		seg(2, 0, cluster.RolePrimary, "mdw", 7002, "/data/dbfast1/demoDataDir0"),
		seg(4, 0, cluster.RoleMirror, "mdw", 7004, "/data/dbfast_mirror1/demoDataDir0"),
		seg(3, 1, cluster.RolePrimary, "mdw", 7003, "/data/dbfast2/demoDataDir1"),
		seg(5, 1, cluster.RoleMirror, "mdw", 7005, "/data/dbfast_mirror2/demoDataDir1"),
	}
}

// spread is a GP7 cluster over three hosts with a standby on smdw.
func spread() []cluster.Segment {
	return []cluster.Segment{
		seg(1, -1, cluster.RolePrimary, "mdw", testPort, "/data/coordinator/gpseg-1"),
		seg(8, -1, cluster.RoleMirror, "smdw", testPort, "/data/coordinator/gpseg-1"),
		seg(2, 0, cluster.RolePrimary, "sdw1", 6000, "/data/primary/gpseg0"),
		seg(3, 1, cluster.RolePrimary, "sdw2", 6000, "/data/primary/gpseg1"),
		seg(4, 2, cluster.RolePrimary, "sdw3", 6000, "/data/primary/gpseg2"),
		seg(5, 0, cluster.RoleMirror, "sdw2", 7000, "/data/mirror/gpseg0"),
		seg(6, 1, cluster.RoleMirror, "sdw3", 7000, "/data/mirror/gpseg1"),
		seg(7, 2, cluster.RoleMirror, "sdw1", 7000, "/data/mirror/gpseg2"),
	}
}

// controlData is pg_controldata's report with the fields gpstart reads.
func controlData(tli int) string {
	return fmt.Sprintf("pg_control version number:            1300\nCatalog version number:               301908232\n"+
		"Latest checkpoint's TimeLineID:       %d\nData page checksum version:           1\n", tli)
}

// rig is a cluster of fakes: the coordinator host's commands (env.Exec),
// the other hosts' (ssh), and the coordinator's catalog (conn). The fake
// pg_ctl start leaves a postmaster.pid naming this process, as a started
// coordinator would, and the fake stop script removes it.
type rig struct {
	env     *app.Env
	out     *bytes.Buffer
	exec    *remotetest.Fake
	ssh     *remotetest.Fake
	conn    *clustertest.FakeConn
	dir     string
	version string
	segs    []cluster.Segment

	failStart   map[int]bool // dbids whose pg_ctl start fails
	unreachable map[string]bool
	turnAway    map[string]error // hosts that answer with this SSH failure
	standbyTLI  int
	// catalogVersion is what the binaries say; the data directories
	// say 301908232.
	catalogVersion string
}

func newRig(t *testing.T, version string, segs []cluster.Segment, in string) *rig {
	t.Helper()
	env, out, _ := apptest.Env(t, "gpstart")
	env.Log = slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: out, Level: slog.LevelInfo}))
	env.In = strings.NewReader(in)
	env.Progress = &bytes.Buffer{}
	r := &rig{env: env, out: out, exec: &remotetest.Fake{}, ssh: &remotetest.Fake{}, conn: &clustertest.FakeConn{},
		dir: t.TempDir(), version: version, segs: segs, failStart: map[int]bool{}, unreachable: map[string]bool{}, standbyTLI: 1, catalogVersion: "301908232"}
	vars := map[string]string{"GPHOME": gphome, "MASTER_DATA_DIRECTORY": r.dir, "COORDINATOR_DATA_DIRECTORY": r.dir}
	env.Getenv = func(k string) string { return vars[k] }
	env.Exec, env.Connect = r.exec, r.conn.Connector()
	r.conn.On(cluster.LoadSQL, clustertest.SegmentRows(segs))
	conf := fmt.Sprintf("port=%d\nmax_connections=25\n", testPort)
	if err := os.WriteFile(filepath.Join(r.dir, "postgresql.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"pg_log", "log"} { // the era file's directory, GP6 and GP7
		if err := os.MkdirAll(filepath.Join(r.dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r.exec.OnArgv("localhost", []string{gphome + "/bin/postgres", "--gp-version"}, remotetest.Response{Stdout: version + "\n"})
	r.exec.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		if !slices.Equal(c.Argv, []string{gphome + "/bin/postgres", "--catalog-version"}) {
			return remotetest.Response{}, false
		}
		return remotetest.Response{Stdout: "Catalog version number: " + r.catalogVersion + "\n"}, true
	})
	r.exec.OnArgv("localhost", []string{"test", "-x", gphome + "/bin/initdb"}, remotetest.Response{})
	r.exec.OnFunc(r.coordinatorHost)
	r.exec.OnFunc(r.stop)
	r.exec.OnFunc(segctltest.Start(r.failStart))
	r.ssh.OnFunc(r.otherHost)
	return r
}

func (r *rig) pidFile() string { return filepath.Join(r.dir, "postmaster.pid") }

// coordinatorHost answers pg_ctl, pg_controldata and the pids script.
func (r *rig) coordinatorHost(c remote.Command) (remotetest.Response, bool) {
	switch {
	case len(c.Argv) > 0 && c.Argv[0] == "env": // pg_ctl start
		if err := os.WriteFile(r.pidFile(), []byte(strconv.Itoa(os.Getpid())+"\n"+r.dir+"\n"), 0o600); err != nil {
			return remotetest.Response{ExitCode: 1, Stderr: err.Error()}, true
		}
		return remotetest.Response{Stdout: "waiting for server to start.... done\nserver started\n"}, true
	case len(c.Argv) == 4 && c.Argv[3] == "status":
		return remotetest.Response{Stdout: "pg_ctl: server is running\n"}, true
	case len(c.Argv) == 2 && strings.HasSuffix(c.Argv[0], "/pg_controldata"):
		return remotetest.Response{Stdout: controlData(1)}, true
	case strings.Contains(c.Script, "postmaster.pid") && len(c.Args) == 1: // segctl's pids script
		return remotetest.Response{Stdout: "14657 14658\n"}, true
	}
	return remotetest.Response{}, false
}

// stop answers the stop script; stopping the coordinator removes its pid file.
func (r *rig) stop(c remote.Command) (remotetest.Response, bool) {
	resp, ok := segctltest.Stop(nil)(c)
	if ok && slices.Contains(c.Args, r.dir) {
		_ = os.Remove(r.pidFile())
	}
	return resp, ok
}

// otherHost answers the segment and standby hosts over "SSH".
func (r *rig) otherHost(c remote.Command) (remotetest.Response, bool) {
	if r.unreachable[c.Host] {
		return remotetest.Response{ExitCode: -1, Err: &remote.ConnectError{Host: c.Host, Err: fmt.Errorf("ssh connect to %s:22: dial tcp: connect: no route to host", c.Host)}}, true
	}
	if err := r.turnAway[c.Host]; err != nil {
		return remotetest.Response{ExitCode: -1, Err: &remote.ConnectError{Host: c.Host, Err: err}}, true
	}
	switch {
	case len(c.Argv) == 2 && c.Argv[0] == "echo":
		return remotetest.Response{Stdout: c.Argv[1] + "\n"}, true
	case len(c.Argv) == 2 && strings.HasSuffix(c.Argv[0], "/pg_controldata"):
		return remotetest.Response{Stdout: controlData(r.standbyTLI)}, true
	case strings.Contains(c.Script, "pgrep -P \"$pm\" | wc -l"): // the standby start
		return remotetest.Response{}, true
	}
	if resp, ok := segctltest.Start(r.failStart)(c); ok {
		return resp, true
	}
	return segctltest.Stop(nil)(c)
}

func (r *rig) run(t *testing.T, opts *Options) error {
	t.Helper()
	r.env.NewSSH = (&remotetest.Hosts{Fake: r.ssh}).Opener(nil)
	if opts.Parallel == 0 {
		opts.Parallel = DefaultParallel
	}
	if opts.Timeout == 0 {
		opts.Timeout = 600
	}
	return Run(t.Context(), r.env, opts)
}

// messages strips the log prefix and puts the transcripts' paths in.
func (r *rig) messages() []string {
	prefix := regexp.MustCompile(`^\d{8}:\d\d:\d\d:\d\d:\d{6} gpstart:[^:]+:gpadmin-\[(INFO|WARNING|ERROR|CRITICAL|DEBUG)\]:-`)
	text := strings.ReplaceAll(r.out.String(), r.dir, "/data/qddir/demoDataDir-1")
	// The era hashes the coordinator's directory, a new one per test.
	text = regexp.MustCompile(`GPERA=[0-9a-f]{16}_`).ReplaceAllString(text, "GPERA=<hash>_")
	var out []string
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if m := prefix.FindStringSubmatch(l); m != nil {
			l = strings.TrimPrefix(l, m[0])
			if m[1] != "INFO" {
				l = m[1] + ": " + l
			}
		} else {
			l = "verbatim: " + l
		}
		out = append(out, l)
	}
	return out
}

func (r *rig) golden(t *testing.T, name string) {
	t.Helper()
	golden.Check(t, "gpstart", name, []byte(strings.Join(r.messages(), "\n")+"\n"))
}

func wantExit(t *testing.T, err error, code int) {
	t.Helper()
	got := 0
	var ee *app.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		got = ee.Code
	case errors.Is(err, app.ErrUserAbort):
		got = app.ExitUserAbort
	default:
		got = app.ExitFatal
	}
	if got != code {
		t.Fatalf("exit %d (%v), want %d", got, err, code)
	}
}

// TestGP6StartMatchesTranscript compares gpstart -a's messages with the
// real GP6 run in gpstart.txt (the first line holds other arguments).
func TestGP6StartMatchesTranscript(t *testing.T) {
	r := newRig(t, gp6Version, gp6Demo(), "")
	if err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gpstart", "gp6-gpstart.txt"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := regexp.MustCompile(`^\d{8}:\d\d:\d\d:\d\d:\d{6} gpstart:mdw:gpadmin-\[INFO\]:-`)
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		if l != "rc=0" {
			want = append(want, prefix.ReplaceAllString(l, ""))
		}
	}
	if d := cmp.Diff(want, r.messages()); d != "" {
		t.Fatalf("gpstart -a differs from gpstart.txt (-want +got):\n%s", d)
	}
	if _, err := os.Stat(r.pidFile()); err != nil {
		t.Errorf("the coordinator is not left running: %v", err)
	}
	era, err := cluster.ReadEra(r.dir, cluster.GP6)
	if err != nil || !strings.HasSuffix(era, "_261123185419") {
		t.Errorf("era %q, %v", era, err)
	}
}

// TestGP6PgCtlLinesMatchTranscript compares the pg_ctl start lines of a
// -v run with those of gpstart-v.txt (testdata/gpstart/gp6-pgctl-lines.txt),
// eras and the coordinator's port aside: the coordinator's admin start, the
// four segments' (logged there by gpsegstart on the host), the
// coordinator's dispatch start.
func TestGP6PgCtlLinesMatchTranscript(t *testing.T) {
	r := newRig(t, gp6Version, gp6Demo(), "")
	r.env.Log = slog.New(gplog.NewHandler(r.env.LogConfig(), gplog.Sink{W: r.out, Level: slog.LevelDebug}))
	if err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true, Verbose: true}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gpstart", "gp6-pgctl-lines.txt"))
	if err != nil {
		t.Fatal(err)
	}
	era := regexp.MustCompile(`GPERA=(<hash>|[0-9a-f]{16})_\d{12}`)
	var want, got []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(l, "#") {
			want = append(want, era.ReplaceAllString(l, "GPERA=<era>"))
		}
	}
	for _, m := range r.messages() {
		if l, ok := strings.CutPrefix(m, "DEBUG: Running Command: env GPSESSID="); ok {
			l = strings.ReplaceAll("env GPSESSID="+l, fmt.Sprintf(" -p %d ", testPort), " -p 7000 ")
			got = append(got, era.ReplaceAllString(l, "GPERA=<era>"))
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("pg_ctl lines differ from gpstart-v.txt (-want +got):\n%s", d)
	}
}

func nonInteractive() *Options {
	return &Options{CommonOptions: app.CommonOptions{NonInteractive: true}}
}

// startedDBIDs lists the dbids handed to start scripts, on any host.
func (r *rig) startedDBIDs() []int {
	var ids []int
	for _, c := range append(r.exec.Calls(), r.ssh.Calls()...) {
		if insts, ok := segctltest.ParseStart(c); ok {
			for _, in := range insts {
				ids = append(ids, in.DBID)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// TestInteractiveGP7 answers the prompt on a GP7 cluster with a standby:
// the summary block (standby start On, the Role column) and every step.
func TestInteractiveGP7(t *testing.T) {
	r := newRig(t, gp7Version, spread(), "y\n")
	if err := r.run(t, &Options{}); err != nil {
		t.Fatal(err, "\n", strings.Join(r.messages(), "\n"))
	}
	r.golden(t, "interactive_gp7.golden")
	if got := r.startedDBIDs(); !slices.Equal(got, []int{2, 3, 4, 5, 6, 7}) {
		t.Errorf("started %v", got)
	}
}

// TestUserAbort: "no" at the prompt exits 4 with no segment started and
// the coordinator, started to read the catalog, stopped again.
func TestUserAbort(t *testing.T) {
	r := newRig(t, gp7Version, spread(), "n\n")
	wantExit(t, r.run(t, &Options{}), app.ExitUserAbort)
	if got := r.startedDBIDs(); len(got) != 0 {
		t.Errorf("started %v after a no", got)
	}
	if _, err := os.Stat(r.pidFile()); err == nil {
		t.Error("coordinator left running after a no")
	}
}

// TestUnreachableHost: sdw3 does not answer. Its primary (content 2) and
// mirror (content 1) are skipped; content 2's mirror on sdw1 is started,
// so every content has an instance: exit 0, with the warnings.
func TestUnreachableHost(t *testing.T) {
	r := newRig(t, gp7Version, spread(), "")
	r.unreachable["sdw3"] = true
	if err := r.run(t, nonInteractive()); err != nil {
		t.Fatal(err)
	}
	r.golden(t, "unreachable_host_gp7.golden")
	if got := r.startedDBIDs(); !slices.Equal(got, []int{2, 3, 5, 7}) {
		t.Errorf("started %v", got)
	}
}

// TestHostThatTurnsUsAwayStartsNothing: sdw3 answers but turns gpstart
// away (its host key changed, or our key is refused). Starting without its
// segments would fail content 2 over to its mirror for a fault the user
// fixes on the spot: no segment is started, the coordinator started in
// admin mode is stopped again, exit 2, the reason on screen.
func TestHostThatTurnsUsAwayStartsNothing(t *testing.T) {
	for name, err := range map[string]error{
		"changed key": &remote.SSHError{Host: "sdw3", Addr: "10.0.0.3:22", Reason: remote.ReasonHostKeyChanged,
			Err: &remote.ChangedHostKeyError{Host: "sdw3", Addr: "10.0.0.3:22", KeyName: "sdw3", KeyType: "ssh-ed25519", Fingerprint: "SHA256:Pc0kGSQlmrLfBD2XU2XqfLW8AxHfyGyZJwtdE4l6Fw0",
				Known: []string{"~/.ssh/known_hosts:12"}, Fix: "ssh-keygen -R sdw3 -f ~/.ssh/known_hosts"}},
		"key refused": &remote.SSHError{Host: "sdw3", Addr: "10.0.0.3:22", Reason: remote.ReasonAuth, Detail: "the server refused every key offered for user gpadmin"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, gp7Version, spread(), "")
			r.turnAway = map[string]error{"sdw3": err}
			got := r.run(t, nonInteractive())
			wantExit(t, got, app.ExitFatal)
			if !strings.Contains(got.Error(), "not starting the cluster: sdw3 answered but turned gpstart away over SSH") {
				t.Errorf("error %v", got)
			}
			if !strings.Contains(r.out.String(), "Host sdw3 is unreachable: "+err.Error()) {
				t.Errorf("no reason on screen:\n%s", r.out.String())
			}
			if started := r.startedDBIDs(); len(started) > 0 {
				t.Errorf("started %v", started)
			}
			if _, err := os.Stat(r.pidFile()); err == nil {
				t.Error("coordinator left running")
			}
		})
	}
}

// TestSegmentStartFailure: one mirror does not start: the report names it,
// the rest of the cluster starts, exit 1.
func TestSegmentStartFailure(t *testing.T) {
	r := newRig(t, gp6Version, gp6Demo(), "")
	r.failStart[5] = true
	opts := nonInteractive()
	opts.LogDir = "/home/gpadmin/gpAdminLogs"
	wantExit(t, r.run(t, opts), app.ExitFailures)
	r.golden(t, "segment_failure_gp6.golden")
	if _, err := os.Stat(r.pidFile()); err != nil {
		t.Error("coordinator not started after a mirror failed")
	}
}

// TestNoInstanceForContent: both instances of content 1 fail: everything
// started is stopped again (immediate), the coordinator is not started,
// exit 2.
func TestNoInstanceForContent(t *testing.T) {
	r := newRig(t, gp6Version, gp6Demo(), "")
	r.failStart[3], r.failStart[5] = true, true
	opts := nonInteractive()
	opts.LogDir = "/home/gpadmin/gpAdminLogs"
	wantExit(t, r.run(t, opts), app.ExitFatal)
	r.golden(t, "no_instance_for_content_gp6.golden")
	var stopped []string
	for _, c := range r.exec.Calls() {
		if strings.Contains(c.Script, "stop_one()") && c.Args[1] == "immediate" {
			for i := 4; i+3 < len(c.Args); i += 4 {
				stopped = append(stopped, c.Args[i])
			}
		}
	}
	if !slices.Equal(stopped, []string{"2", "4"}) {
		t.Errorf("stopped immediate %v, want [2 4] (primaries first)", stopped)
	}
	if _, err := os.Stat(r.pidFile()); err == nil {
		t.Error("coordinator started without every content")
	}
}

// TestDownSegmentsSkipped: a primary the catalog marks down (its mirror
// acting as primary) is skipped with Greenplum's warning; exit 0.
func TestDownSegmentsSkipped(t *testing.T) {
	segs := gp6Demo()
	segs[3].Status, segs[3].Role, segs[3].Mode = cluster.StatusDown, cluster.RoleMirror, cluster.ModeNotSynced // dbid 3
	segs[4].Role, segs[4].Mode = cluster.RolePrimary, cluster.ModeNotSynced                                    // dbid 5
	r := newRig(t, gp6Version, segs, "")
	if err := r.run(t, nonInteractive()); err != nil {
		t.Fatal(err)
	}
	r.golden(t, "down_segment_gp6.golden")
	if got := r.startedDBIDs(); !slices.Equal(got, []int{2, 4, 5}) {
		t.Errorf("started %v", got)
	}
}

// TestCoordinatorRunning: a live coordinator (its pid file, a server on its
// socket) stops gpstart before anything runs: exit 2.
func TestCoordinatorRunning(t *testing.T) {
	r := newRig(t, gp6Version, gp6Demo(), "")
	sock := fmt.Sprintf("/tmp/.s.PGSQL.%d", testPort)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", sock, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	if err := os.WriteFile(r.pidFile(), []byte("1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = r.run(t, nonInteractive())
	wantExit(t, err, app.ExitFatal)
	if !strings.Contains(err.Error(), "Master instance process running") {
		t.Errorf("error %v", err)
	}
	for _, c := range r.exec.Calls() {
		if len(c.Argv) > 0 && c.Argv[0] == "env" {
			t.Fatalf("started something: %v", c.Argv)
		}
	}
}

// TestStaleCoordinator: a pid file but no server: recovery startup (admin
// start, forced immediate stop), then the normal start.
func TestStaleCoordinator(t *testing.T) {
	r := newRig(t, gp6Version, gp6Demo(), "")
	if err := os.WriteFile(r.pidFile(), []byte("999999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.run(t, nonInteractive()); err != nil {
		t.Fatal(err)
	}
	msgs := strings.Join(r.messages(), "\n")
	for _, want := range []string{
		"WARNING: postmaster.pid file exists on Master, checking if recovery startup required",
		"No socket connection or lock file in /tmp found for port=" + strconv.Itoa(testPort),
		"No Master instance process, entering recovery startup mode",
		"Commencing forced instance shutdown",
		"Database successfully started",
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("missing %q in\n%s", want, msgs)
		}
	}
	var modes []string
	for _, c := range r.exec.Calls() {
		if strings.Contains(c.Script, "stop_one()") {
			modes = append(modes, c.Args[1])
		}
	}
	if !slices.Equal(modes, []string{"immediate", "fast"}) {
		t.Errorf("coordinator stops %v, want [immediate fast]", modes)
	}
}

// TestStandbyPromoted: the standby's timeline is ahead: the coordinator is
// stopped and gpstart fails (exit 2) without starting a segment.
func TestStandbyPromoted(t *testing.T) {
	r := newRig(t, gp7Version, spread(), "")
	r.standbyTLI = 2
	err := r.run(t, nonInteractive())
	wantExit(t, err, app.ExitFatal)
	if !strings.Contains(err.Error(), "Standby activated, this node no more can act as coordinator.") {
		t.Errorf("error %v", err)
	}
	if got := r.startedDBIDs(); len(got) != 0 {
		t.Errorf("started %v", got)
	}
	if _, err := os.Stat(r.pidFile()); err == nil {
		t.Error("coordinator left running")
	}
}

// TestStandbyUnreachableNonInteractive: -a cannot ask whether the standby
// acts as coordinator: exit 4, coordinator stopped.
func TestStandbyUnreachableNonInteractive(t *testing.T) {
	r := newRig(t, gp7Version, spread(), "")
	r.unreachable["smdw"] = true
	wantExit(t, r.run(t, nonInteractive()), app.ExitUserAbort)
	r.golden(t, "standby_unreachable_gp7.golden")
	if _, err := os.Stat(r.pidFile()); err == nil {
		t.Error("coordinator left running")
	}
}

// TestCatalogVersionMismatch: exit 2 before anything starts.
func TestCatalogVersionMismatch(t *testing.T) {
	r := newRig(t, gp6Version, gp6Demo(), "")
	r.catalogVersion = "301908233"
	err := r.run(t, nonInteractive())
	wantExit(t, err, app.ExitFatal)
	if err.Error() != "Catalog Versions are incompatible" {
		t.Errorf("error %v", err)
	}
	if len(r.conn.Configs()) != 0 {
		t.Error("connected after a version mismatch")
	}
}

package gpstop

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gpmgmt/gpmgmt/internal/golden"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/app/apptest"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/cluster/clustertest"
	"github.com/gpmgmt/gpmgmt/pkg/coordctl"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
	"github.com/gpmgmt/gpmgmt/pkg/segctl/segctltest"
)

func parse(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	env, _, _ := apptest.Env(t, "gpstop")
	var got *Options
	cmd := NewCommand(env, func(o *Options) error { got = o; return nil })
	cmd.SetArgs(append([]string{}, args...))
	if err := cmd.Execute(); err != nil {
		return nil, err
	}
	return got, got.Validate()
}

func TestFlags(t *testing.T) {
	o, err := parse(t, "-a", "-B4", "-t", "300", "-y", "--mode=fast", "-q", "-v", "-l", "/tmp/x", "-d", "/data/qd")
	if err != nil {
		t.Fatal(err)
	}
	if !o.NonInteractive || o.Parallel != 4 || o.Timeout != 300 || !o.NoStandby || o.Mode != "fast" || o.DataDir != "/data/qd" {
		t.Fatalf("%+v", o)
	}
	for _, args := range [][]string{{"-m"}, {"-c"}, {"--master_only"}, {"--coordinator_only"}} {
		if o, err := parse(t, args...); err != nil || !o.CoordinatorOnly {
			t.Errorf("%v: %+v %v", args, o, err)
		}
	}
	if o, _ := parse(t, "-f"); o.Mode != "fast" {
		t.Errorf("-f: mode %s", o.Mode)
	}
	if o, _ := parse(t, "-i"); o.Mode != "immediate" {
		t.Errorf("-i: mode %s", o.Mode)
	}
	if o, _ := parse(t, "-z"); o.Mode != "fast" {
		t.Errorf("-z: mode %s", o.Mode)
	}
	if o, _ := parse(t, "-u", "-r"); !o.Reload || !o.Restart {
		t.Errorf("-u -r: %+v", o)
	}
	if o, _ := parse(t); o.Mode != "smart" || o.Parallel != 64 || o.Timeout != 120 {
		t.Errorf("defaults: %+v", o)
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{"-M", "fast", "-f"}, "Can not mix --mode options with older deprecated '-f,-i,-s'"},
		{[]string{"--host", "sdw1", "-m"}, "Incompatible flags. Cannot mix '--host' option with stopping coordinator-only."},
		{[]string{"--host", "sdw1", "-r"}, "Incompatible flags. Cannot mix '--host' option with '-r' for restart."},
		{[]string{"--host", "sdw1", "-u"}, "Incompatible flags. Cannot mix '--host' option with '-u' for config reload."},
		{[]string{"--host", "sdw1", "-y"}, "Incompatible flags. Cannot mix '--host' option with '-y' for skipping standby."},
		{[]string{"-B", "0"}, "Invalid value for parallel degree: 0"},
		{[]string{"-B", "129"}, "Invalid value for parallel degree: 129"},
		{[]string{"-t", "60"}, "Invalid timeout value.  Must be greater than 120 seconds."},
		{[]string{"-M", "slow"}, "option -M: invalid choice: 'slow' (choose from 'fast', 'immediate', 'smart')"},
		{[]string{"extra"}, "Argument extra is invalid.  Is an option missing a parameter?"},
	}
	for _, tt := range tests {
		_, err := parse(t, tt.args...)
		var ae *app.ArgumentError
		if !errors.As(err, &ae) || ae.Msg != tt.msg {
			t.Errorf("%v: got %v, want %q", tt.args, err, tt.msg)
		}
	}
	if _, err := parse(t, "-t", "5", "--skipvalidation"); err != nil {
		t.Errorf("--skipvalidation: %v", err)
	}
}

const (
	gphome     = "/usr/local/greenplum-db"
	gp6Version = "postgres (Greenplum Database) 6.24.3 build commit:25d3498a400ca5230e81abb94861f23389315213"
)

// gp6Demo is the cluster of the GP6 transcripts: everything on mdw.
func gp6Demo() []cluster.Segment {
	seg := func(dbid, content int, role cluster.Role, port int, dir string) cluster.Segment {
		return cluster.Segment{DBID: dbid, ContentID: content, Role: role, PreferredRole: role, Mode: cluster.ModeSynced,
			Status: cluster.StatusUp, Hostname: "mdw", Address: "mdw", Port: port, DataDir: dir}
	}
	return []cluster.Segment{
		seg(1, -1, cluster.RolePrimary, 7000, "/data/qddir/demoDataDir-1"),
		seg(2, 0, cluster.RolePrimary, 7002, "/data/dbfast1/demoDataDir0"),
		seg(4, 0, cluster.RoleMirror, 7004, "/data/dbfast_mirror1/demoDataDir0"),
		seg(3, 1, cluster.RolePrimary, 7003, "/data/dbfast2/demoDataDir1"),
		seg(5, 1, cluster.RoleMirror, 7005, "/data/dbfast_mirror2/demoDataDir1"),
	}
}

type rig struct {
	env  *app.Env
	out  *bytes.Buffer
	exec *remotetest.Fake
	conn *clustertest.FakeConn
	dir  string
	// dials counts the SSH commands sent to an unreachable host.
	dials atomic.Int32
}

func newRig(t *testing.T, in string, fail map[int]bool) *rig {
	t.Helper()
	env, out, _ := apptest.Env(t, "gpstop")
	env.Log = slog.New(gplog.NewHandler(env.LogConfig(), gplog.Sink{W: out, Level: slog.LevelInfo}))
	env.In = strings.NewReader(in)
	env.Progress = &bytes.Buffer{}
	dir := t.TempDir()
	vars := map[string]string{"GPHOME": gphome, "MASTER_DATA_DIRECTORY": dir}
	env.Getenv = func(k string) string { return vars[k] }
	r := &rig{env: env, out: out, exec: &remotetest.Fake{}, conn: &clustertest.FakeConn{}, dir: dir}
	env.Exec, env.Connect = r.exec, r.conn.Connector()
	r.exec.OnArgv("localhost", []string{gphome + "/bin/postgres", "--gp-version"}, remotetest.Response{Stdout: gp6Version + "\n"})
	r.exec.OnFunc(segctltest.Stop(fail))
	r.exec.OnFunc(func(c remote.Command) (remotetest.Response, bool) {
		switch {
		case strings.Contains(c.Script, "postmaster.pid"): // the pids script
			return remotetest.Response{Stdout: "14657 14658 14661\n"}, true
		case len(c.Argv) > 1 && c.Argv[1] == "stop":
			return remotetest.Response{Stdout: "server shutting down\n"}, true
		case len(c.Argv) > 3 && c.Argv[3] == "status":
			return remotetest.Response{ExitCode: 3}, true
		}
		return remotetest.Response{}, false
	})
	r.conn.On(cluster.LoadSQL, clustertest.SegmentRows(gp6Demo()))
	r.conn.On(coordctl.UserConnectionsSQL, clustertest.Value(20, int64(0)))
	for name, text := range map[string]string{"postgresql.conf": "port=7000\n", "postmaster.pid": strconv.Itoa(os.Getpid()) + "\n" + dir + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rig) run(t *testing.T, opts *Options) error {
	t.Helper()
	r.env.NewSSH = remotetest.NewHosts().Opener(nil)
	if opts.Mode == "" {
		opts.Mode = "smart"
	}
	if opts.Parallel == 0 {
		opts.Parallel = DefaultParallel
	}
	if opts.Timeout == 0 {
		opts.Timeout = 120
	}
	return Run(t.Context(), r.env, opts)
}

// normalize replaces the temporary coordinator directory and pid.
func (r *rig) normalize(s string) string {
	s = strings.ReplaceAll(s, r.dir, "/data/qddir/demoDataDir-1")
	return strings.ReplaceAll(s, "PID   = "+strconv.Itoa(os.Getpid()), "PID   = 14657")
}

// messages strips the log prefix.
func messages(s string) []string {
	prefix := regexp.MustCompile(`^\d{8}:\d\d:\d\d:\d\d:\d{6} gpstop:[^:]+:gpadmin-\[INFO\]:-`)
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if prefix.MatchString(l) {
			out = append(out, prefix.ReplaceAllString(l, ""))
		} else {
			out = append(out, "verbatim: "+l)
		}
	}
	return out
}

// TestGP6StopMatchesTranscript compares gpstop -a's messages with the real
// GP6 run in gpstop.txt. Left out of the comparison: the first line (other
// arguments), the ERROR of a process that died between Greenplum's kill -0
// and kill -9 (gpstop.txt lines 12-13), and the gpperfmon/shared memory
// clean-up of lines 28-32, which gpmgmt does not do.
func TestGP6StopMatchesTranscript(t *testing.T) {
	r := newRig(t, "", nil)
	if err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true}}); err != nil {
		t.Fatal(err)
	}
	// A verbatim copy of reference/gp6-transcripts/gpstop.txt.
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "gpstop", "gp6-gpstop.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	want := messages(strings.Join(append(append([]string{}, lines[1:11]...), lines[13:27]...), "\n"))
	got := messages(r.normalize(r.out.String()))
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("gpstop -a differs from gpstop.txt (-want +got):\n%s", d)
	}
}

func TestInteractiveGolden(t *testing.T) {
	r := newRig(t, "y\n", nil)
	if err := r.run(t, &Options{}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "gpstop", "interactive_gp6.golden", []byte(strings.Join(messages(r.normalize(r.out.String())), "\n")+"\n"))
}

func TestUserAbort(t *testing.T) {
	r := newRig(t, "n\n", nil)
	if err := r.run(t, &Options{}); !errors.Is(err, app.ErrUserAbort) {
		t.Fatalf("got %v", err)
	}
	for _, c := range r.exec.Calls() {
		if strings.Contains(c.Script, "stop_one()") || (len(c.Argv) > 1 && c.Argv[1] == "stop") {
			t.Fatalf("stopped something after a no: %+v", c)
		}
	}
}

func TestSegmentFailureExits2(t *testing.T) {
	r := newRig(t, "", map[int]bool{3: true})
	err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true, LogDir: "/home/gpadmin/gpAdminLogs"}})
	var ee *app.ExitError
	if !errors.As(err, &ee) || ee.Code != app.ExitFatal {
		t.Fatalf("got %v, want exit 2", err)
	}
	golden.Check(t, "gpstop", "segment_failure_gp6.golden", []byte(strings.Join(messages(r.normalize(r.out.String())), "\n")+"\n"))
}

func TestStoppedCluster(t *testing.T) {
	r := newRig(t, "", nil)
	if err := os.Remove(filepath.Join(r.dir, "postmaster.pid")); err != nil {
		t.Fatal(err)
	}
	err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true}})
	var ee *app.ExpectedError
	if !errors.As(err, &ee) || ee.Error() != "postmaster.pid file does not exist.  is Greenplum instance already stopped?" {
		t.Fatalf("got %v", err)
	}
	if len(r.exec.Calls()) != 1 { // postgres --gp-version only
		t.Fatalf("ran %d commands on a stopped cluster", len(r.exec.Calls()))
	}
}

func TestHostRefusals(t *testing.T) {
	r := newRig(t, "", nil)
	err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true}, Host: "mdw"})
	if err == nil || !strings.Contains(err.Error(), "Specified host 'mdw' has the master or standby master on it.") {
		t.Fatalf("got %v", err)
	}
}

// mirrorsOnSDW2 is a rig whose mirrors live on sdw2, which every SSH
// command fails to reach with err; r.dials counts the attempts.
func mirrorsOnSDW2(t *testing.T, err error) *rig {
	t.Helper()
	r := newRig(t, "", nil)
	segs := gp6Demo()
	for i := range segs {
		if segs[i].IsMirror() {
			segs[i].Hostname, segs[i].Address = "sdw2", "sdw2"
		}
	}
	r.conn = &clustertest.FakeConn{}
	r.env.Connect = r.conn.Connector()
	r.conn.On(cluster.LoadSQL, clustertest.SegmentRows(segs))
	r.conn.On(coordctl.UserConnectionsSQL, clustertest.Value(20, int64(0)))
	ssh := &remotetest.Fake{}
	ssh.OnFunc(func(remote.Command) (remotetest.Response, bool) {
		r.dials.Add(1)
		return remotetest.Response{ExitCode: -1, Err: &remote.ConnectError{Host: "sdw2", Err: err}}, true
	})
	r.env.NewSSH = (&remotetest.Hosts{Fake: ssh}).Opener(nil)
	return r
}

func (r *rig) runAll(t *testing.T) error {
	t.Helper()
	opts := &Options{CommonOptions: app.CommonOptions{NonInteractive: true, LogDir: "/home/gpadmin/gpAdminLogs"}, Mode: "smart", Parallel: DefaultParallel, Timeout: 120}
	return Run(t.Context(), r.env, opts)
}

// stoppedAnything reports whether any stop ran on the coordinator's host.
func (r *rig) stoppedAnything() bool {
	for _, c := range r.exec.Calls() {
		if strings.Contains(c.Script, "stop_one()") || (len(c.Argv) > 1 && c.Argv[1] == "stop") {
			return true
		}
	}
	return false
}

// TestUnreachableHost: nothing listens on the mirrors' host's SSH port (a
// host that is down). As Greenplum does, gpstop stops what it can: the
// coordinator and the primaries; the warning says why sdw2 was not reached,
// its segments are reported as failed with the host named, and gpstop
// exits 2.
func TestUnreachableHost(t *testing.T) {
	r := mirrorsOnSDW2(t, &remote.SSHError{Host: "sdw2", Addr: "10.0.0.2:22", Reason: remote.ReasonRefused,
		Detail: "nothing listens on port 22 of 10.0.0.2: is sshd running there, and is Port right in ssh_config?", Err: syscall.ECONNREFUSED})
	err := r.runAll(t)
	var ee *app.ExitError
	if !errors.As(err, &ee) || ee.Code != app.ExitFatal {
		t.Fatalf("got %v, want exit 2", err)
	}
	if !r.stoppedAnything() {
		t.Fatal("a host that is down kept gpstop from stopping the rest")
	}
	if n := r.dials.Load(); n != 1 {
		t.Errorf("sdw2 was dialled %d times, want once (the check before anything stops)", n)
	}
	golden.Check(t, "gpstop", "unreachable_host_gp6.golden", []byte(strings.Join(messages(r.normalize(r.out.String())), "\n")+"\n"))
}

// TestHostThatTurnsUsAwayStopsNothing: the mirrors' host answers but will
// not let gpstop in (its host key changed or is unknown, or sshd refuses
// our key). Stopping the coordinator and then failing there would leave the
// cluster half stopped; gpstop stops nothing, names the host and the
// reason with its fix, and exits 2.
func TestHostThatTurnsUsAwayStopsNothing(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"changed key", &remote.SSHError{Host: "sdw2", Addr: "10.0.0.2:22", Reason: remote.ReasonHostKeyChanged,
			Err: &remote.ChangedHostKeyError{Host: "sdw2", Addr: "10.0.0.2:22", KeyName: "sdw2", KeyType: "ssh-ed25519", Fingerprint: "SHA256:Pc0kGSQlmrLfBD2XU2XqfLW8AxHfyGyZJwtdE4l6Fw0",
				Known: []string{"~/.ssh/known_hosts:12"}, Fix: "ssh-keygen -R sdw2 -f ~/.ssh/known_hosts"}}, "golden"},
		{"unknown key", &remote.SSHError{Host: "sdw2", Addr: "10.0.0.2:22", Reason: remote.ReasonHostKeyUnknown,
			Err: &remote.UnknownHostKeyError{Host: "sdw2", Addr: "10.0.0.2:22", KeyName: "sdw2", KeyType: "ssh-ed25519", Fingerprint: "SHA256:Pc0kGSQlmrLfBD2XU2XqfLW8AxHfyGyZJwtdE4l6Fw0",
				Files: []string{"~/.ssh/known_hosts"}, Fix: "ssh-keyscan -p 22 -t ed25519 sdw2 >> ~/.ssh/known_hosts"}},
			"[ERROR]:-Host sdw2 does not let gpstop in over SSH: host key for sdw2 (10.0.0.2:22) is not in known_hosts"},
		{"key refused", &remote.SSHError{Host: "sdw2", Addr: "10.0.0.2:22", Reason: remote.ReasonAuth, Detail: "the server refused every key offered for user gpadmin"},
			"[ERROR]:-Host sdw2 does not let gpstop in over SSH: ssh to sdw2 (10.0.0.2:22): authentication failed: the server refused every key offered for user gpadmin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mirrorsOnSDW2(t, tt.err)
			err := r.runAll(t)
			var xe *app.ExpectedError
			if !errors.As(err, &xe) || !strings.Contains(err.Error(), "nothing was stopped: the segments on ['sdw2'] could not be stopped after the master") {
				t.Fatalf("got %v, want the refusal", err)
			}
			if r.stoppedAnything() {
				t.Fatalf("stopped something although sdw2 turns gpstop away: %+v", r.exec.Calls())
			}
			if tt.want == "golden" {
				golden.Check(t, "gpstop", "host_key_changed_gp6.golden", []byte(strings.Join(messages(r.normalize(r.out.String())), "\n")+"\n"))
			} else if !strings.Contains(r.out.String(), tt.want) {
				t.Fatalf("no %q in:\n%s", tt.want, r.out.String())
			}
		})
	}
}

// TestStandbyHostThatTurnsUsAway: only the standby's host turns gpstop
// away. A standby left running beside a stopped cluster only waits for
// WAL, so the cluster is stopped as before, with Greenplum's standby
// warning followed by the reason.
func TestStandbyHostThatTurnsUsAway(t *testing.T) {
	r := newRig(t, "", nil)
	segs := append(gp6Demo(), cluster.Segment{DBID: 6, ContentID: -1, Role: cluster.RoleMirror, PreferredRole: cluster.RoleMirror, Mode: cluster.ModeSynced,
		Status: cluster.StatusUp, Hostname: "smdw", Address: "smdw", Port: 7000, DataDir: "/data/standby"})
	r.conn = &clustertest.FakeConn{}
	r.env.Connect = r.conn.Connector()
	r.conn.On(cluster.LoadSQL, clustertest.SegmentRows(segs))
	r.conn.On(coordctl.UserConnectionsSQL, clustertest.Value(20, int64(0)))
	ssh := &remotetest.Fake{}
	ssh.OnFunc(func(remote.Command) (remotetest.Response, bool) {
		return remotetest.Response{ExitCode: -1, Err: &remote.ConnectError{Host: "smdw", Err: &remote.SSHError{Host: "smdw", Addr: "10.0.0.9:22", Reason: remote.ReasonAuth,
			Detail: "the server refused every key offered for user gpadmin"}}}, true
	})
	r.env.NewSSH = (&remotetest.Hosts{Fake: ssh}).Opener(nil)
	if err := r.runAll(t); err != nil {
		t.Fatal(err)
	}
	if !r.stoppedAnything() {
		t.Fatal("nothing was stopped")
	}
	out := r.out.String()
	want := "[WARNING]:-Standby is unreachable, skipping shutdown on standby\n"
	i := strings.Index(out, want)
	if i < 0 {
		t.Fatalf("no %q in:\n%s", want, out)
	}
	next, _, _ := strings.Cut(out[i+len(want):], "\n")
	if !strings.Contains(next, "[WARNING]:-ssh to smdw (10.0.0.9:22): authentication failed: the server refused every key offered for user gpadmin") {
		t.Errorf("the line after the standby warning lacks the reason: %q", next)
	}
}

package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
)

// sshEnv is a home directory with a client key, an ssh_config naming the
// test server sdw1 and a known_hosts file, all in t.TempDir().
type sshEnv struct {
	srv        *testServer
	home       string
	config     string
	knownHosts string
}

func newSSHEnv(t *testing.T) *sshEnv {
	t.Helper()
	srv := newTestServer(t)
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	srv.setClient(writePrivateKey(t, filepath.Join(home, ".ssh", "id_ed25519")))
	e := &sshEnv{srv: srv, home: home, config: filepath.Join(home, ".ssh", "config"), knownHosts: filepath.Join(home, ".ssh", "known_hosts")}
	e.writeKnownHosts(t, "[127.0.0.1]:"+srv.port, srv.hostKey.PublicKey())
	e.writeConfig(t, "")
	return e
}

// writeConfig names sdw1 (the server) with extra lines for it.
func (e *sshEnv) writeConfig(t *testing.T, extra string) {
	t.Helper()
	cfg := fmt.Sprintf("Host sdw1\n  HostName 127.0.0.1\n  Port %s\n%s\nHost *\n  GlobalKnownHostsFile none\n", e.srv.port, extra)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (e *sshEnv) writeKnownHosts(t *testing.T, name string, keys ...ssh.PublicKey) {
	t.Helper()
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(name + " " + string(ssh.MarshalAuthorizedKey(k)))
	}
	if err := os.WriteFile(e.knownHosts, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (e *sshEnv) executor(t *testing.T, mod func(*SSHOptions)) *SSHExecutor {
	t.Helper()
	o := SSHOptions{User: "gpadmin", Home: e.home, SystemConfigFile: "none", DialTimeout: 5 * time.Second}
	if mod != nil {
		mod(&o)
	}
	x, err := NewSSHExecutor(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := x.Close(); err != nil {
			t.Error(err)
		}
	})
	return x
}

func TestSSHExec(t *testing.T) {
	env := newSSHEnv(t)
	envScript := filepath.Join(env.home, "gp path 'x'.sh")
	if err := os.WriteFile(envScript, []byte("GPHOME=/usr/local/gp; export GPHOME\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	x := env.executor(t, func(o *SSHOptions) { o.EnvScript = envScript })
	tests := []struct {
		name           string
		c              Command
		stdout, stderr string
		code           int
	}{
		{"argv", Command{Argv: append([]string{"printf", `%s\0`}, hostileValues...)}, strings.Join(hostileValues, "\x00") + "\x00", "", 0},
		{"script", Command{Script: `printf '%s\0' "$@"`, Args: hostileValues}, strings.Join(hostileValues, "\x00") + "\x00", "", 0},
		{"env script", Command{Argv: []string{"sh", "-c", `echo "$GPHOME"`}}, "/usr/local/gp\n", "", 0},
		{"exit code", Command{Script: "echo out; echo err >&2; exit 7"}, "out\n", "err\n", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Host, tt.c.Label = "sdw1", tt.name
			r := x.Exec(t.Context(), tt.c)
			if d := cmp.Diff([]any{tt.stdout, tt.stderr, tt.code}, []any{r.Stdout, r.Stderr, r.ExitCode}); d != "" {
				t.Fatalf("(-want +got):\n%s\nerr: %v", d, r.Err)
			}
			if (tt.code != 0) != (r.Err != nil) {
				t.Fatalf("err %v with exit %d", r.Err, r.ExitCode)
			}
			var he *HostError
			if r.Err != nil && (!errors.As(r.Err, &he) || he.Host != "sdw1" || he.Stderr != "err") {
				t.Fatalf("bad HostError: %#v", r.Err)
			}
		})
	}
	if conns, _, _ := env.srv.stats(); conns != 1 {
		t.Fatalf("%d connections for one host, want 1", conns)
	}
}

func TestSSHHostKeys(t *testing.T) {
	other := newEd25519Signer(t).PublicKey()
	tests := []struct {
		name      string
		knownName string // name of the known_hosts line
		knownKey  func(*sshEnv) ssh.PublicKey
		config    string
		insecure  bool
		want      string // "" for success, else a substring of the error
		wantType  any
	}{
		{"known key", "", nil, "", false, "", nil},
		{"unknown key", "sdw9", nil, "", false, "is not in known_hosts", &UnknownHostKeyError{}},
		{"changed key", "", func(*sshEnv) ssh.PublicKey { return other }, "", false, "HOST KEY CHANGED", &ChangedHostKeyError{}},
		{"alias known", "sdw1-key", nil, "  HostKeyAlias sdw1-key", false, "", nil},
		{"alias unknown", "", nil, "  HostKeyAlias sdw1-key", false, "| sed 's/^[^ ]*/sdw1-key/' >> ~/.ssh/known_hosts", &UnknownHostKeyError{}},
		{"strict no accepts unknown", "sdw9", nil, "  StrictHostKeyChecking no", false, "", nil},
		{"accept-new accepts unknown", "sdw9", nil, "  StrictHostKeyChecking accept-new", false, "", nil},
		{"strict no refuses changed", "", func(*sshEnv) ssh.PublicKey { return other }, "  StrictHostKeyChecking no", false, "HOST KEY CHANGED", &ChangedHostKeyError{}},
		{"insecure accepts changed", "", func(*sshEnv) ssh.PublicKey { return other }, "", true, "", nil},
		{"known_hosts path from config", "", nil, "  UserKnownHostsFile ~/.ssh/elsewhere", false, "(~/.ssh/elsewhere;", &UnknownHostKeyError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newSSHEnv(t)
			name, key := "[127.0.0.1]:"+env.srv.port, env.srv.hostKey.PublicKey()
			if tt.knownName != "" {
				name = tt.knownName
			}
			if tt.knownKey != nil {
				key = tt.knownKey(env)
			}
			env.writeKnownHosts(t, name, key)
			env.writeConfig(t, tt.config)
			x := env.executor(t, func(o *SSHOptions) { o.InsecureIgnoreHostKeys = tt.insecure })
			r := x.Exec(t.Context(), Command{Host: "sdw1", Argv: []string{"echo", "ok"}})
			if tt.want == "" {
				if !r.OK() || r.Stdout != "ok\n" {
					t.Fatalf("want success, got %v", r.Err)
				}
				return
			}
			if r.OK() || r.ExitCode != -1 || !strings.Contains(r.Err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got exit %d: %v", tt.want, r.ExitCode, r.Err)
			}
			switch tt.wantType.(type) {
			case *UnknownHostKeyError:
				var ue *UnknownHostKeyError
				if !errors.As(r.Err, &ue) {
					t.Fatalf("not an UnknownHostKeyError: %v", r.Err)
				}
			case *ChangedHostKeyError:
				var ce *ChangedHostKeyError
				if !errors.As(r.Err, &ce) {
					t.Fatalf("not a ChangedHostKeyError: %v", r.Err)
				}
			}
			t.Logf("%v", r.Err)
		})
	}
}

func TestSSHUnknownKeyMessage(t *testing.T) {
	env := newSSHEnv(t)
	env.writeKnownHosts(t, "sdw9", env.srv.hostKey.PublicKey())
	x := env.executor(t, nil)
	r := x.Exec(t.Context(), Command{Host: "sdw1", Argv: []string{"true"}})
	want := fmt.Sprintf("add it with: ssh-keyscan -p %s -t ed25519 127.0.0.1 >> ~/.ssh/known_hosts", env.srv.port)
	if r.Err == nil || !strings.HasSuffix(r.Err.Error(), want) {
		t.Fatalf("message does not end with %q:\n%v", want, r.Err)
	}
}

func TestSSHSessionCap(t *testing.T) {
	env := newSSHEnv(t)
	for _, cap := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(cap), func(t *testing.T) {
			srv := newTestServer(t) // a fresh server per cap, same client key
			srv.setClient(env.srv.client)
			env2 := *env
			env2.srv = srv
			env2.writeKnownHosts(t, "[127.0.0.1]:"+srv.port, srv.hostKey.PublicKey())
			env2.writeConfig(t, "")
			x := env2.executor(t, func(o *SSHOptions) { o.SessionsPerHost = cap })
			cs := make([]Command, 40)
			for i := range cs {
				cs[i] = Command{Host: "sdw1", Script: `sleep 0.05; echo "$1"`, Args: []string{fmt.Sprint(i)}}
			}
			start := time.Now()
			res := Runner{Exec: x, Limit: 40}.Run(t.Context(), cs)
			if err := Failures(res); err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if r.Stdout != fmt.Sprintf("%d\n", i) {
					t.Fatalf("result %d: %q", i, r.Stdout)
				}
			}
			conns, maxSessions, _ := srv.stats()
			t.Logf("cap %d: 40 commands in %s, max %d concurrent sessions, %d connection(s)", cap, time.Since(start), maxSessions, conns)
			if maxSessions != cap || conns != 1 {
				t.Fatalf("max sessions %d (want %d), connections %d (want 1)", maxSessions, cap, conns)
			}
		})
	}
}

func TestSSHCancel(t *testing.T) {
	env := newSSHEnv(t)
	x := env.executor(t, nil)
	for _, tt := range []struct {
		name string
		c    Command
		want error
	}{
		{"context", Command{Host: "sdw1", Script: "echo started; sleep 30"}, context.Canceled},
		{"timeout", Command{Host: "sdw1", Argv: []string{"sleep", "30"}, Timeout: 300 * time.Millisecond}, context.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			time.AfterFunc(300*time.Millisecond, cancel)
			if tt.want == context.DeadlineExceeded {
				ctx = t.Context()
			}
			start := time.Now()
			r := x.Exec(ctx, tt.c)
			elapsed := time.Since(start)
			if r.ExitCode != -1 || !errors.Is(r.Err, tt.want) || elapsed > 3*time.Second {
				t.Fatalf("after %s: exit %d, err %v", elapsed, r.ExitCode, r.Err)
			}
			if Unreachable(r) {
				t.Errorf("a command killed on its host is reported unreachable: %v", r.Err)
			}
			for range 100 { // the server-side process is gone too
				if _, _, open := env.srv.stats(); open == 0 {
					t.Logf("returned after %s: %v", elapsed, r.Err)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Fatal("remote command still running after cancel")
		})
	}
	if r := x.Exec(t.Context(), Command{Host: "sdw1", Argv: []string{"echo", "after"}}); !r.OK() {
		t.Fatalf("connection unusable after a cancelled session: %v", r.Err)
	}
}

func TestSSHSilentPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept, never speak
		}
	}()
	env := newSSHEnv(t)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	env.writeConfig(t, "Host silent\n  HostName 127.0.0.1\n  Port "+port)
	const timeout = 500 * time.Millisecond
	x := env.executor(t, func(o *SSHOptions) { o.DialTimeout = timeout })
	start := time.Now()
	r := x.Exec(t.Context(), Command{Host: "silent", Argv: []string{"true"}})
	elapsed := time.Since(start)
	t.Logf("silent peer reported after %s (dial timeout %s): %v", elapsed, timeout, r.Err)
	if r.ExitCode != -1 || !errors.Is(r.Err, context.DeadlineExceeded) || elapsed > 3*timeout {
		t.Fatalf("after %s: exit %d, err %v", elapsed, r.ExitCode, r.Err)
	}
	if !Unreachable(r) {
		t.Errorf("a host whose handshake timed out is not reported unreachable: %v", r.Err)
	}
}

func TestSSHScriptJobs(t *testing.T) {
	env := newSSHEnv(t)
	x := env.executor(t, nil)
	script := `
for seg in "$@"; do
	( sleep 0.1; echo "SEGMENT:$seg:OK" ) &
done
wait
`
	var args []string
	for i := range 20 {
		args = append(args, fmt.Sprintf("/data/primary/gpseg %d", i))
	}
	var (
		mu    sync.Mutex
		lines []string
	)
	r := x.Exec(t.Context(), Command{Host: "sdw1", Script: script, Args: args, OnLine: func(l Line) {
		mu.Lock()
		lines = append(lines, l.Text)
		mu.Unlock()
	}})
	if !r.OK() {
		t.Fatal(r.Err)
	}
	got := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(got) != 20 || len(lines) != 20 {
		t.Fatalf("%d result lines, %d streamed, want 20: %q", len(got), len(lines), r.Stdout)
	}
	for _, a := range args {
		if !strings.Contains(r.Stdout, "SEGMENT:"+a+":OK\n") {
			t.Fatalf("no line for %s", a)
		}
	}
	if r.Duration > 2*time.Second {
		t.Fatalf("jobs did not run in parallel: %s", r.Duration)
	}
}

func TestSSHStreaming(t *testing.T) {
	env := newSSHEnv(t)
	x := env.executor(t, nil)
	start := time.Now()
	var (
		mu    sync.Mutex
		lines []Line
		first time.Duration
	)
	r := x.Exec(t.Context(), Command{Host: "sdw1", Script: "echo one; echo two >&2; sleep 0.3; echo three", OnLine: func(l Line) {
		mu.Lock()
		if len(lines) == 0 {
			first = time.Since(start)
		}
		lines = append(lines, l)
		mu.Unlock()
	}})
	if !r.OK() {
		t.Fatal(r.Err)
	}
	want := []Line{{Stdout, "one"}, {Stderr, "two"}, {Stdout, "three"}}
	if d := cmp.Diff(want, lines, cmp.Comparer(func(a, b Line) bool { return a == b })); d != "" {
		// stdout and stderr are separate channels: only order within a stream is kept
		byStream := map[Stream][]string{}
		for _, l := range lines {
			byStream[l.Stream] = append(byStream[l.Stream], l.Text)
		}
		if d2 := cmp.Diff(map[Stream][]string{Stdout: {"one", "three"}, Stderr: {"two"}}, byStream); d2 != "" {
			t.Fatalf("lines (-want +got):\n%s", d2)
		}
	}
	if first > r.Duration-200*time.Millisecond {
		t.Fatalf("first line at %s of %s: not streamed", first, r.Duration)
	}
}

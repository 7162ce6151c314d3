//go:build integration

package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// These tests run as the OS user gpadmin against the machine's OpenSSH sshd
// on 127.0.0.1 and 127.0.60.1..32 (sdw1..sdw32 in /etc/hosts), with
// ~gpadmin/.ssh/id_ed25519 authorized. They build their own known_hosts and
// ssh_config in t.TempDir() from /etc/ssh/ssh_host_*_key.pub. A missing
// piece is a failure, never a skip.

// realEnv is the checked environment of the integration tests.
type realEnv struct {
	home, key, config, knownHosts string
	hostKeys                      []ssh.PublicKey
}

func newRealEnv(t testing.TB) *realEnv {
	t.Helper()
	u, err := user.Current()
	if err != nil || u.Username != "gpadmin" {
		t.Fatalf("integration tests must run as the OS user gpadmin (running as %v, err %v): see the machine setup", u, err)
	}
	e := &realEnv{home: u.HomeDir, key: filepath.Join(u.HomeDir, ".ssh", "id_ed25519")}
	if _, err := os.Stat(e.key); err != nil {
		t.Fatalf("gpadmin has no ssh key: %v (the machine setup must create %s and authorize it)", err, e.key)
	}
	pubs, _ := filepath.Glob("/etc/ssh/ssh_host_*_key.pub")
	for _, p := range pubs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read sshd host key: %v", err)
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			t.Fatalf("parse %s: %v", p, err)
		}
		e.hostKeys = append(e.hostKeys, k)
	}
	if len(e.hostKeys) == 0 {
		t.Fatal("no /etc/ssh/ssh_host_*_key.pub: is OpenSSH sshd installed?")
	}
	for _, h := range []string{"sdw1", "sdw2", "sdw3", "sdw4"} {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(h, "22"), 3*time.Second)
		if err != nil {
			t.Fatalf("sshd does not answer on %s:22: %v (the machine setup must run sshd on 127.0.60.1..32 with sdw1..sdw32 in /etc/hosts)", h, err)
		}
		c.Close()
	}
	dir := t.TempDir()
	e.config, e.knownHosts = filepath.Join(dir, "ssh_config"), filepath.Join(dir, "known_hosts")
	e.write(t, "", []string{"sdw1", "sdw2", "sdw3", "sdw4"}, nil)
	return e
}

// write makes the temp ssh_config (extra lines under Host *) and a
// known_hosts with the real keys of known and a fake key for changed.
func (e *realEnv) write(t testing.TB, extra string, known, changed []string) {
	t.Helper()
	cfg := fmt.Sprintf("%s\nHost *\n  IdentityFile %s\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile none\n", extra, e.key, e.knownHosts)
	var kh strings.Builder
	for _, h := range known {
		for _, k := range e.hostKeys {
			kh.WriteString(h + " " + string(ssh.MarshalAuthorizedKey(k)))
		}
	}
	for _, h := range changed {
		kh.WriteString(h + " " + string(ssh.MarshalAuthorizedKey(newEd25519Signer(t).PublicKey())))
	}
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.knownHosts, []byte(kh.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (e *realEnv) executor(t testing.TB, mod func(*SSHOptions)) *SSHExecutor {
	t.Helper()
	o := SSHOptions{User: "gpadmin", Home: e.home, ConfigFile: e.config, SystemConfigFile: "none", DialTimeout: 5 * time.Second}
	if mod != nil {
		mod(&o)
	}
	x, err := NewSSHExecutor(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	return x
}

func TestIntegrationKnownKeys(t *testing.T) {
	e := newRealEnv(t)
	x := e.executor(t, nil)
	res := Runner{Exec: x, Limit: DefaultLimit}.Run(t.Context(), []Command{
		{Host: "sdw1", Argv: []string{"sh", "-c", "echo $1", "-", "sdw1 'quoted' $(x)"}},
		{Host: "sdw2", Argv: []string{"printf", "%s", "sdw2"}},
	})
	if err := Failures(res); err != nil {
		t.Fatalf("known hosts refused: %v", err)
	}
	if res[0].Stdout != "sdw1 'quoted' $(x)\n" || res[1].Stdout != "sdw2" {
		t.Fatalf("outputs %q %q", res[0].Stdout, res[1].Stdout)
	}
}

func TestIntegrationHostKeyProblems(t *testing.T) {
	e := newRealEnv(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closedPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	e.write(t, "Host nothing\n  HostName 127.0.0.1\n  Port "+closedPort, []string{"sdw1"}, []string{"sdw4"})
	x := e.executor(t, nil)

	start := time.Now()
	err = x.CheckHostKeys(t.Context(), []string{"sdw4", "sdw3", "sdw1", "nothing"})
	t.Logf("preflight took %s:\n%v", time.Since(start), err)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"failed for 3 of 4 hosts",
		"nothing: ssh host key check: ssh to nothing (127.0.0.1:" + closedPort + "): connection refused",
		"sdw3: ssh host key check: host key for sdw3 (127.0.60.3:22) is not in known_hosts",
		"add it with: ssh-keyscan -p 22 -t ed25519 sdw3 >> " + e.knownHosts,
		"sdw4: ssh host key check: HOST KEY CHANGED for sdw4",
		"ssh-keygen -R sdw4 -f " + e.knownHosts,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q", want)
		}
	}
	if i, j := strings.Index(msg, "nothing:"), strings.Index(msg, "sdw3:"); i > j {
		t.Error("hosts not sorted")
	}
	var ue *UnknownHostKeyError
	var ce *ChangedHostKeyError
	if !errors.As(err, &ue) || !errors.As(err, &ce) {
		t.Fatal("typed errors lost")
	}
	for _, h := range []string{"sdw3", "sdw4"} {
		if r := x.Exec(t.Context(), Command{Host: h, Argv: []string{"true"}}); r.OK() {
			t.Fatalf("exec on %s accepted a bad host key", h)
		}
	}
	if r := x.Exec(t.Context(), Command{Host: "nothing", Argv: []string{"true"}}); r.OK() || r.Duration > 2*time.Second {
		t.Fatalf("refused port: %s, %v", r.Duration, r.Err)
	}
}

func TestIntegrationSilentPeer(t *testing.T) {
	e := newRealEnv(t)
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
			defer c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	e.write(t, "Host silent\n  HostName 127.0.0.1\n  Port "+port, []string{"sdw1"}, nil)
	const timeout = 2 * time.Second
	x := e.executor(t, func(o *SSHOptions) { o.DialTimeout = timeout })
	start := time.Now()
	err = x.CheckHostKeys(t.Context(), []string{"silent"})
	elapsed := time.Since(start)
	fmt.Printf("silent peer: preflight reported after %s (dial timeout %s)\n", elapsed, timeout)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || elapsed > 3*timeout {
		t.Fatalf("after %s: %v", elapsed, err)
	}
	start = time.Now()
	r := x.Exec(t.Context(), Command{Host: "silent", Argv: []string{"true"}})
	elapsed = time.Since(start)
	fmt.Printf("silent peer: exec reported after %s\n", elapsed)
	if r.OK() || elapsed > 3*timeout {
		t.Fatalf("after %s: %v", elapsed, r.Err)
	}
}

func TestIntegrationSessionCap(t *testing.T) {
	e := newRealEnv(t)
	x := e.executor(t, nil) // DefaultSessionsPerHost
	cs := make([]Command, 40)
	for i := range cs {
		cs[i] = Command{Host: "sdw1", Script: `s=$(date +%s%N); sleep 0.3; echo "$1 $s $(date +%s%N)"`, Args: []string{strconv.Itoa(i)}}
	}
	start := time.Now()
	res := Runner{Exec: x, Limit: 40}.Run(t.Context(), cs)
	if err := Failures(res); err != nil {
		t.Fatalf("not all 40 succeeded: %v", err)
	}
	type ev struct {
		at    int64
		delta int
	}
	var evs []ev
	for i, r := range res {
		var n int
		var s, f int64
		if _, err := fmt.Sscan(r.Stdout, &n, &s, &f); err != nil || n != i {
			t.Fatalf("result %d: %q", i, r.Stdout)
		}
		evs = append(evs, ev{s, 1}, ev{f, -1})
	}
	slices.SortFunc(evs, func(a, b ev) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.delta - b.delta // ends before starts at the same instant
	})
	cur, maxOverlap := 0, 0
	for _, v := range evs {
		cur += v.delta
		maxOverlap = max(maxOverlap, cur)
	}
	fmt.Printf("40 commands on sdw1: %s, max %d overlapping (cap %d)\n", time.Since(start), maxOverlap, DefaultSessionsPerHost)
	if maxOverlap > DefaultSessionsPerHost || maxOverlap < 2 {
		t.Fatalf("max overlap %d, cap %d", maxOverlap, DefaultSessionsPerHost)
	}
}

func TestIntegrationScriptJobs(t *testing.T) {
	e := newRealEnv(t)
	x := e.executor(t, nil)
	var args []string
	for i := range 20 {
		args = append(args, fmt.Sprintf("/data/primary/gp seg%d 'x'", i))
	}
	r := x.Exec(t.Context(), Command{Host: "sdw2", Args: args, Script: `
for d in "$@"; do
	( sleep 0.2; printf 'STATUS--DIR:%s--STARTED:True\n' "$d" ) &
done
wait
`})
	if !r.OK() {
		t.Fatal(r.Err)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	slices.Sort(lines)
	var want []string
	for _, a := range args {
		want = append(want, "STATUS--DIR:"+a+"--STARTED:True")
	}
	slices.Sort(want)
	if !slices.Equal(lines, want) {
		t.Fatalf("got %d lines:\n%s", len(lines), r.Stdout)
	}
	fmt.Printf("20 jobs in one script: %s\n", r.Duration)
}

func TestIntegrationStop(t *testing.T) {
	e := newRealEnv(t)
	x := e.executor(t, nil)
	pidFile := filepath.Join(t.TempDir(), "pg basebackup 'x'.pid")
	done := make(chan Result, 1)
	go func() {
		done <- x.Exec(t.Context(), Command{Host: "sdw3", Argv: []string{"sleep", "120"}, PIDFile: pidFile})
	}()
	waitFile(t, pidFile)
	start := time.Now()
	if err := StopGrace(t.Context(), x, "sdw3", pidFile, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		fmt.Printf("stop: sleep ended %s after Stop: %v\n", time.Since(start), r.Err)
		if r.OK() {
			t.Fatal("stopped command succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sleep still running 10s after Stop")
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left: %v", err)
	}
}

// TestIntegrationReasons: against the real sshd, each way a connection
// fails gives an *SSHError with its reason and a message that says it.
func TestIntegrationReasons(t *testing.T) {
	e := newRealEnv(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closedPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	silent := silentListener(t)
	stranger := filepath.Join(t.TempDir(), "id_stranger")
	writePrivateKey(t, stranger)
	e.write(t, "Host refused\n  HostName 127.0.0.1\n  Port "+closedPort+
		"\nHost silent\n  HostName 127.0.0.1\n  Port "+silent, []string{"sdw1", "sdw3"}, []string{"sdw4"})
	x := e.executor(t, func(o *SSHOptions) { o.DialTimeout = time.Second })
	// Only a key sshd does not accept, for sdw3.
	strangerConfig := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(strangerConfig, []byte("Host *\n  IdentityFile "+stranger+"\n  UserKnownHostsFile "+e.knownHosts+"\n  GlobalKnownHostsFile none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	xs := e.executor(t, func(o *SSHOptions) { o.ConfigFile = strangerConfig })
	for host, want := range map[string]struct {
		reason Reason
		text   string
	}{
		"refused": {ReasonRefused, "connection refused: nothing listens on port " + closedPort},
		"silent":  {ReasonTimeout, "timeout: the server accepted the TCP connection but did not complete the SSH handshake within 1s"},
		"sdw2":    {ReasonHostKeyUnknown, "add it with: ssh-keyscan -p 22 -t ed25519 sdw2 >> " + e.knownHosts},
		"sdw3":    {ReasonAuth, "authentication failed: the server refused every key offered for user gpadmin (offered: " + stranger},
		"sdw4":    {ReasonHostKeyChanged, "HOST KEY CHANGED for sdw4 (127.0.60.4:22)"},
	} {
		ex := x
		if host == "sdw3" {
			ex = xs
		}
		r := ex.Exec(t.Context(), Command{Host: host, Argv: []string{"true"}})
		se := SSHFailure(r.Err)
		if se == nil || se.Reason != want.reason || !strings.Contains(r.Err.Error(), want.text) {
			t.Errorf("%s: want %s with %q, got %v", host, want.reason, want.text, r.Err)
		}
	}
}

// TestIntegrationStalledSession: the sshd process serving a command is
// stopped (SIGSTOP) while the command runs; with ssh_config's
// ServerAliveInterval 1 and ServerAliveCountMax 2 the command ends as a
// lost connection within about two seconds, and another host's command
// completes.
func TestIntegrationStalledSession(t *testing.T) {
	e := newRealEnv(t)
	e.write(t, "Host *\n  ServerAliveInterval 1\n  ServerAliveCountMax 2", []string{"sdw1", "sdw2"}, nil)
	x := e.executor(t, nil)
	// The first sshd above the remote shell is the unprivileged one that
	// carries this connection, running as gpadmin.
	const findSSHD = `p=$PPID
while [ "$(ps -o comm= -p "$p")" != sshd ]; do p=$(ps -o ppid= -p "$p" | tr -d ' '); done
echo "$p"
exec sleep 30
`
	pids := make(chan int, 1)
	var stalled, other Result
	var endedAt time.Time
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer func() { endedAt = time.Now() }()
		stalled = x.Exec(t.Context(), Command{Host: "sdw1", Script: findSSHD, OnLine: func(l Line) {
			if n, err := strconv.Atoi(l.Text); err == nil {
				pids <- n
			}
		}})
	}()
	go func() {
		defer wg.Done()
		other = x.Exec(t.Context(), Command{Host: "sdw2", Script: "sleep 4; echo done"})
	}()
	var pid int
	select {
	case pid = <-pids:
	case <-time.After(15 * time.Second):
		t.Fatal("no sshd pid from sdw1")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP sshd %d: %v", pid, err)
	}
	stoppedAt := time.Now()
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	wg.Wait()
	took := endedAt.Sub(stoppedAt)
	fmt.Printf("stalled session: sshd %d stopped; lost connection reported %s later (limit 2s): %v\n", pid, took, stalled.Err)
	if took > 4*time.Second {
		t.Errorf("reported %s after the stop, want about 2s (ServerAliveInterval 1 x ServerAliveCountMax 2)", took)
	}
	if se := SSHFailure(stalled.Err); se == nil || se.Reason != ReasonLost || !strings.Contains(stalled.Err.Error(), "connection lost: the host stopped answering") {
		t.Fatalf("stalled session: want a lost connection, got exit %d: %v", stalled.ExitCode, stalled.Err)
	}
	if !other.OK() || other.Stdout != "done\n" {
		t.Fatalf("the other host's command: %v %q", other.Err, other.Stdout)
	}
}

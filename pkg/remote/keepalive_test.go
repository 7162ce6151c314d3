package remote

import (
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
)

// freezeProxy forwards TCP connections on loopback to target until it is
// frozen; then it passes nothing on in either direction and closes nothing,
// as a host that stops answering does.
type freezeProxy struct {
	port   string
	mu     sync.Mutex
	frozen bool
	done   chan struct{}
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{done: make(chan struct{})}
	_, p.port, _ = net.SplitHostPort(ln.Addr().String())
	var conns []net.Conn
	var cmu sync.Mutex
	t.Cleanup(func() {
		close(p.done)
		ln.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			cmu.Lock()
			conns = append(conns, c, u)
			cmu.Unlock()
			go p.pipe(c, u)
			go p.pipe(u, c)
		}
	}()
	return p
}

func (p *freezeProxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

func (p *freezeProxy) pipe(from, to net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		p.mu.Lock()
		frozen := p.frozen
		p.mu.Unlock()
		if frozen {
			<-p.done
			return
		}
		if n > 0 {
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			to.Close()
			return
		}
	}
}

// TestSSHKeepalive: a host that stops answering mid-command is reported as
// a lost connection within interval × count, while the other host's work
// completes; an idle but healthy connection is kept.
func TestSSHKeepalive(t *testing.T) {
	env := newSSHEnv(t)
	proxy := newFreezeProxy(t, "127.0.0.1:"+env.srv.port)
	// The options win over ssh_config's keepalive settings.
	env.writeConfig(t, "Host stalls\n  HostName 127.0.0.1\n  Port "+proxy.port+"\n  HostKeyAlias stalls-key"+
		"\nHost *\n  ServerAliveInterval 9\n  ServerAliveCountMax 9")
	key := string(ssh.MarshalAuthorizedKey(env.srv.hostKey.PublicKey()))
	if err := os.WriteFile(env.knownHosts, []byte("[127.0.0.1]:"+env.srv.port+" "+key+"stalls-key "+key), 0o600); err != nil {
		t.Fatal(err)
	}
	const interval, count = 200 * time.Millisecond, 3
	x := env.executor(t, func(o *SSHOptions) { o.KeepaliveInterval, o.KeepaliveCountMax = interval, count })

	started := make(chan struct{})
	var once sync.Once
	var stalled, healthy Result
	var wg sync.WaitGroup
	wg.Add(2)
	begin := time.Now()
	go func() {
		defer wg.Done()
		stalled = x.Exec(t.Context(), Command{Host: "stalls", Script: "echo started; sleep 20", OnLine: func(Line) {
			once.Do(func() { close(started) })
		}})
	}()
	go func() {
		defer wg.Done()
		// quiet for several intervals: only keepalive answers keep it
		healthy = x.Exec(t.Context(), Command{Host: "sdw1", Script: "sleep 1.5; echo done"})
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the command on the stalling host did not start")
	}
	proxy.freeze()
	frozeAt := time.Now()
	wg.Wait()
	took := stalled.Duration - frozeAt.Sub(begin)
	t.Logf("lost connection reported %s after the freeze (interval %s × count %d): %v", took, interval, count, stalled.Err)
	se := SSHFailure(stalled.Err)
	if se == nil || se.Reason != ReasonLost || stalled.ExitCode != -1 {
		t.Fatalf("stalled host: want ReasonLost, got exit %d: %v", stalled.ExitCode, stalled.Err)
	}
	for _, w := range []string{"ssh to stalls (127.0.0.1:" + proxy.port + "): connection lost: the host stopped answering: nothing received for 600ms",
		"(ServerAliveInterval 200ms, ServerAliveCountMax 3)"} {
		if !strings.Contains(stalled.Err.Error(), w) {
			t.Errorf("message lacks %q: %v", w, stalled.Err)
		}
	}
	if took > interval*count+time.Second {
		t.Errorf("reported %s after the freeze, want within %s (plus slack)", took, interval*count)
	}
	if !healthy.OK() || healthy.Stdout != "done\n" {
		t.Fatalf("the healthy host's command: %v %q", healthy.Err, healthy.Stdout)
	}
}

func TestKeepaliveSettings(t *testing.T) {
	env := newSSHEnv(t)
	env.writeConfig(t, "  ServerAliveInterval 7\n  ServerAliveCountMax 4\nHost off\n  ServerAliveInterval 0\nHost bad\n  ServerAliveCountMax x")
	cfgs, err := loadSSHConfigs(env.config)
	if err != nil {
		t.Fatal(err)
	}
	base := SSHOptions{User: "u", Home: env.home}
	for _, tt := range []struct {
		host string
		opts func(*SSHOptions)
		want keepalive
	}{
		{"sdw1", nil, keepalive{7 * time.Second, 4}},
		{"other", nil, keepalive{DefaultKeepaliveInterval, DefaultKeepaliveCountMax}},
		{"off", nil, keepalive{0, DefaultKeepaliveCountMax}},
		{"sdw1", func(o *SSHOptions) { o.KeepaliveInterval, o.KeepaliveCountMax = time.Second, 2 }, keepalive{time.Second, 2}},
		{"sdw1", func(o *SSHOptions) { o.KeepaliveInterval = -1 }, keepalive{0, 4}},
	} {
		o := base
		if tt.opts != nil {
			tt.opts(&o)
		}
		s, err := resolve(cfgs, o, tt.host)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tt.want, s.keep, cmp.AllowUnexported(keepalive{})); d != "" {
			t.Errorf("%s: (-want +got):\n%s", tt.host, d)
		}
	}
	if _, err := resolve(cfgs, base, "bad"); err == nil || !strings.Contains(err.Error(), `bad ServerAliveCountMax "x"`) {
		t.Errorf("bad count: %v", err)
	}
	if k := (keepalive{time.Second, 1}); k.limit() != 2*time.Second {
		t.Errorf("count 1: limit %s, want two intervals", k.limit())
	}
}

package tooltest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// HostGate is a relay on loopback to a host's sshd, through which a tool
// run with GatedHome reaches that host: Shut makes the host unreachable
// midway, as a host that goes down does (open connections cut, new ones
// refused), while sshd and the cluster are left alone.
type HostGate struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	shut   bool
}

// GatedHome is a HOME whose ssh_config reaches host through a new gate
// (its host key still checked under its own name) and every other host
// where the test user's own keys and known_hosts reach it. The gate is
// shut when t ends.
func GatedHome(t testing.TB, host string) (string, *HostGate) {
	t.Helper()
	real, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		t.Fatalf("resolve %s: %v", host, err)
	}
	g := newGate(t, net.JoinHostPort(addrs[0], "22"))
	port := g.Port()
	home := t.TempDir()
	cfg := fmt.Sprintf("Host %[1]s\n  HostName 127.0.0.1\n  Port %[2]s\n  HostKeyAlias %[1]s\n"+
		"Host *\n  IdentityFile %[3]s/.ssh/id_ed25519\n  UserKnownHostsFile %[3]s/.ssh/known_hosts\n", host, port, real)
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return home, g
}

// newGate opens a relay on loopback to target, shut when t ends.
func newGate(t testing.TB, target string) *HostGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &HostGate{ln: ln, target: target}
	t.Cleanup(g.Shut)
	go g.serve()
	return g
}

// Port is the port the gate listens on.
func (g *HostGate) Port() string {
	_, port, _ := net.SplitHostPort(g.ln.Addr().String())
	return port
}

func (g *HostGate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", g.target)
		if err != nil {
			c.Close()
			continue
		}
		if !g.track(c, up) {
			return
		}
		go relay(c, up)
		go relay(up, c)
	}
}

// track records an open relay; false once the gate is shut (both closed).
func (g *HostGate) track(c ...net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		for _, x := range c {
			x.Close()
		}
		return false
	}
	g.conns = append(g.conns, c...)
	return true
}

func relay(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		src.Close()
	}
	dst.Close()
}

// Shut makes the host unreachable: the listening port is closed (new
// connections refused) and every relayed connection cut. Idempotent.
func (g *HostGate) Shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		return
	}
	g.shut = true
	g.ln.Close()
	for _, c := range g.conns {
		c.Close()
	}
}

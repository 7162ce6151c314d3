package remote

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// testServer is an in-process SSH server on 127.0.0.1 that runs each exec
// request with sh -c in its own process group (as sshd does with setsid),
// feeding the channel to stdin and back from stdout and stderr. It counts
// TCP connections and concurrently open sessions.
type testServer struct {
	t       *testing.T
	ln      net.Listener
	port    string
	hostKey ssh.Signer    // ed25519, the key tests record in known_hosts
	extra   ssh.Signer    // ecdsa, offered too: clients must prefer the known type
	client  ssh.Signer    // the one authorized client key
	drop    int           // close this many first connections before the handshake
	held    chan net.Conn // when set, accepted connections wait for release before the handshake
	release chan struct{}
	mu      sync.Mutex
	conns   int
	open    int // connections past the handshake, not yet closed
	live    map[*ssh.ServerConn]bool
	cur     int
	max     int
	wg      sync.WaitGroup
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, hostKey: newEd25519Signer(t), client: newEd25519Signer(t)}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if s.extra, err = ssh.NewSignerFromKey(ek); err != nil {
		t.Fatal(err)
	}
	_, s.port, _ = net.SplitHostPort(ln.Addr().String())
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { _ = ln.Close(); s.wg.Wait() })
	return s
}

func newEd25519Signer(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writePrivateKey writes an unencrypted ed25519 key in OpenSSH format.
func writePrivateKey(t *testing.T, path string) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := ssh.NewSignerFromKey(priv)
	return s
}

// setClient changes the authorized client key.
func (s *testServer) setClient(k ssh.Signer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client = k
}

// holdHandshakes makes the server hand each new connection to the returned
// channel and start its handshake only once release is called.
func (s *testServer) holdHandshakes() (accepted <-chan net.Conn, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held, s.release = make(chan net.Conn, 16), make(chan struct{})
	var once sync.Once
	return s.held, func() { once.Do(func() { close(s.release) }) }
}

// dropFirst makes the server close its first n connections at once.
func (s *testServer) dropFirst(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = n
}

func (s *testServer) stats() (conns, maxSessions, open int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, s.max, s.cur
}

// closeConns closes every SSH connection the server holds open.
func (s *testServer) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sc := range s.live {
		_ = sc.Close()
	}
}

// openConns is the number of SSH connections the server holds open.
func (s *testServer) openConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

func (s *testServer) serve() {
	defer s.wg.Done()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			s.mu.Lock()
			ok := string(k.Marshal()) == string(s.client.PublicKey().Marshal())
			s.mu.Unlock()
			if ok {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(s.hostKey)
	cfg.AddHostKey(s.extra)
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		drop := s.conns <= s.drop
		held, release := s.held, s.release
		s.mu.Unlock()
		if drop {
			_ = conn.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if held != nil {
				held <- conn
				<-release
			}
			s.handleConn(conn, cfg)
		}()
	}
}

func (s *testServer) handleConn(conn net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.open++
	if s.live == nil {
		s.live = map[*ssh.ServerConn]bool{}
	}
	s.live[sc] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.open--
		delete(s.live, sc)
		s.mu.Unlock()
	}()
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handleSession(ch, creqs)
		}()
	}
	wg.Wait()
}

func (s *testServer) handleSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var cmd *exec.Cmd
	for req := range reqs {
		if req.Type != "exec" {
			_ = req.Reply(false, nil)
			continue
		}
		var p struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &p); err != nil {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		cmd = exec.Command("sh", "-c", p.Command)
		break
	}
	if cmd == nil {
		return
	}
	s.mu.Lock()
	s.cur++
	s.max = max(s.max, s.cur)
	s.mu.Unlock()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		s.mu.Lock()
		s.cur--
		s.mu.Unlock()
		_, _ = io.WriteString(ch.Stderr(), err.Error())
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{127}))
		return
	}
	go func() { // a signal request or the client closing the channel kills the group
		for req := range reqs {
			if req.Type == "signal" {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
			_ = req.Reply(false, nil)
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}()
	err := cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	s.mu.Lock()
	s.cur-- // before the client can learn the session ended
	s.mu.Unlock()
	if code >= 0 {
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
	} else {
		_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Msg, Lang  string
		}{Signal: "KILL"}))
	}
}

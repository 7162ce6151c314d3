package remote

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSSHFailureReasons: every way a connection fails gives an *SSHError
// that names its reason, in Exec's Result and in CheckHostKeys.
func TestSSHFailureReasons(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closedPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close() // nothing listens there now
	silent := silentListener(t)

	tests := []struct {
		name    string
		setup   func(*sshEnv) string // returns the extra ssh_config lines
		reason  Reason
		want    []string // substrings of the message
		preflit bool     // CheckHostKeys sees it too (no authentication there)
	}{
		{"refused", func(*sshEnv) string { return "Host sdw2\n  HostName 127.0.0.1\n  Port " + closedPort }, ReasonRefused,
			[]string{"ssh to sdw2 (127.0.0.1:" + closedPort + "): connection refused: nothing listens on port " + closedPort + " of 127.0.0.1: is sshd running there"}, true},
		{"silent listener", func(*sshEnv) string { return "Host sdw2\n  HostName 127.0.0.1\n  Port " + silent }, ReasonTimeout,
			[]string{"timeout: the server accepted the TCP connection but did not complete the SSH handshake within 500ms"}, true},
		{"wrong user key", func(e *sshEnv) string { e.srv.setClient(newEd25519Signer(t)); return "" }, ReasonAuth,
			[]string{"authentication failed: the server refused every key offered for user gpadmin (offered: ~/.ssh/id_ed25519;", "add one of them to ~gpadmin/.ssh/authorized_keys on 127.0.0.1"}, false},
		{"changed key", func(e *sshEnv) string {
			e.writeKnownHosts(t, "[127.0.0.1]:"+e.srv.port, newEd25519Signer(t).PublicKey())
			return ""
		}, ReasonHostKeyChanged, []string{"HOST KEY CHANGED for sdw1", "possible man-in-the-middle attack", "~/.ssh/known_hosts:1", "ssh-keygen -R '[127.0.0.1]:"}, true},
		{"unknown key", func(e *sshEnv) string {
			e.writeKnownHosts(t, "sdw9", e.srv.hostKey.PublicKey())
			return ""
		}, ReasonHostKeyUnknown, []string{"is not in known_hosts", "add it with: ssh-keyscan -p"}, true},
		{"closed by the server", func(e *sshEnv) string { e.srv.dropFirst(2); return "" }, ReasonClosed,
			[]string{"connection closed by the server: it hung up before the handshake finished"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newSSHEnv(t)
			extra := tt.setup(env)
			env.writeConfig(t, extra)
			host := "sdw1"
			if strings.Contains(extra, "Host sdw2") {
				host = "sdw2"
			}
			x := env.executor(t, func(o *SSHOptions) { o.DialTimeout = 500 * time.Millisecond })
			r := x.Exec(t.Context(), Command{Host: host, Argv: []string{"true"}})
			check := func(what string, err error) {
				t.Helper()
				se := SSHFailure(err)
				if se == nil || se.Reason != tt.reason || se.Host != host {
					t.Fatalf("%s: want an SSHError with reason %q, got %#v: %v", what, tt.reason, se, err)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: message lacks %q:\n%v", what, w, err)
					}
				}
			}
			if r.OK() || r.ExitCode != -1 {
				t.Fatalf("exec succeeded: %+v", r)
			}
			check("exec", r.Err)
			t.Logf("%v", r.Err)
			if tt.preflit {
				check("preflight", x.CheckHostKeys(t.Context(), []string{host}))
			}
		})
	}
}

// silentListener accepts TCP connections on loopback and never speaks; it
// returns its port.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func TestReasonWords(t *testing.T) {
	for r := ReasonOther; r <= ReasonLost; r++ {
		if s := r.String(); s == "" || strings.HasPrefix(s, "Reason(") {
			t.Errorf("reason %d has no words", int(r))
		}
	}
	if s := Reason(99).String(); s != "Reason(99)" {
		t.Errorf("Reason(99) = %q", s)
	}
	err := fmt.Errorf("wrapped: %w", &HostError{Host: "h", Err: &SSHError{Host: "h", Reason: ReasonRefused}})
	if se := SSHFailure(err); se == nil || se.Reason != ReasonRefused {
		t.Fatalf("SSHFailure through a HostError: %v", se)
	}
	if SSHFailure(errors.New("plain")) != nil {
		t.Fatal("SSHFailure of a plain error")
	}
}

// TestTurnsAway: only a host that answered and refused us (a key problem,
// an authentication failure) turns us away; a host that is down does not.
func TestTurnsAway(t *testing.T) {
	away := map[Reason]bool{ReasonHostKeyChanged: true, ReasonHostKeyUnknown: true, ReasonAuth: true}
	for r := ReasonOther; r <= ReasonLost; r++ {
		err := &HostError{Host: "h", Err: &ConnectError{Host: "h", Err: &SSHError{Host: "h", Reason: r}}}
		if got := TurnsAway(fmt.Errorf("wrapped: %w", err)); got != away[r] {
			t.Errorf("TurnsAway(%s) = %v, want %v", r, got, away[r])
		}
	}
	if TurnsAway(errors.New("exit status 1")) {
		t.Error("a command's own failure turns us away")
	}
}

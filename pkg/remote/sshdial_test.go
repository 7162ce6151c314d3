package remote

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSSHHandshakeRetry(t *testing.T) {
	env := newSSHEnv(t)
	env.srv.dropFirst(1) // the first connection is closed at once, as MaxStartups does
	x := env.executor(t, nil)
	r := x.Exec(t.Context(), Command{Host: "sdw1", Argv: []string{"echo", "ok"}})
	if !r.OK() {
		t.Fatalf("no retry: %v", r.Err)
	}
	if conns, _, _ := env.srv.stats(); conns != 2 {
		t.Fatalf("%d connections, want 2", conns)
	}
}

func TestSSHAuthFailure(t *testing.T) {
	env := newSSHEnv(t)
	env.srv.setClient(newEd25519Signer(t)) // the server no longer knows our key
	x := env.executor(t, nil)
	r := x.Exec(t.Context(), Command{Host: "sdw1", Argv: []string{"true"}})
	if r.OK() || !strings.Contains(r.Err.Error(), "authentication failed: the server refused every key offered for user gpadmin (offered: ~/.ssh/id_ed25519; skipped: ssh-agent (no socket given); ~/.ssh/id_ecdsa (missing); ~/.ssh/id_rsa (missing))") {
		t.Fatalf("auth failure does not list keys: %v", r.Err)
	}
}

func TestSSHStop(t *testing.T) {
	env := newSSHEnv(t)
	x := env.executor(t, nil)
	pidFile := filepath.Join(t.TempDir(), "copy 'x'.pid")
	done := make(chan Result, 1)
	go func() {
		done <- x.Exec(t.Context(), Command{Host: "sdw1", Script: "sleep 60 & sleep 60 & wait", PIDFile: pidFile})
	}()
	waitFile(t, pidFile)
	if err := StopGrace(t.Context(), x, "sdw1", pidFile, time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.OK() {
			t.Fatal("stopped command succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still running after Stop")
	}
}

func TestNewSSHExecutorOptions(t *testing.T) {
	for _, o := range []SSHOptions{
		{Home: "/h"},
		{User: "u"},
		{User: "u", Home: "/h", SessionsPerHost: 10},
		{User: "u", Home: "/h", SessionsPerHost: -1},
	} {
		if _, err := NewSSHExecutor(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

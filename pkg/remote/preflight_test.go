package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
)

func TestCheckHostKeys(t *testing.T) {
	env := newSSHEnv(t)
	unknown, changed := newTestServer(t), newTestServer(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closedPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close() // nothing listens there now

	var known strings.Builder
	for _, l := range []struct {
		name string
		key  ssh.PublicKey
	}{
		{"[127.0.0.1]:" + env.srv.port, env.srv.hostKey.PublicKey()},
		{"[127.0.0.1]:" + changed.port, newEd25519Signer(t).PublicKey()},
		{"sdw5-key", env.srv.hostKey.PublicKey()},
	} {
		known.WriteString(l.name + " " + string(ssh.MarshalAuthorizedKey(l.key)))
	}
	if err := os.WriteFile(env.knownHosts, []byte(known.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env.writeConfig(t, fmt.Sprintf(`
Host sdw2
  HostName 127.0.0.1
  Port %s
Host sdw3
  HostName 127.0.0.1
  Port %s
Host sdw4
  HostName 127.0.0.1
  Port %s
Host sdw5
  HostName 127.0.0.1
  Port %s
  HostKeyAlias sdw5-key
Host sdw6
  HostName 127.0.0.1
  Port %s
  HostKeyAlias sdw6-key`, unknown.port, changed.port, closedPort, env.srv.port, env.srv.port))
	x := env.executor(t, func(o *SSHOptions) { o.DialTimeout = 2 * time.Second })

	err = x.CheckHostKeys(t.Context(), []string{"sdw6", "sdw4", "sdw3", "sdw2", "sdw1", "sdw5", "sdw2"})
	if err == nil {
		t.Fatal("no error")
	}
	t.Logf("%v", err)
	var got []string
	for _, e := range errors.Unwrap(err).(interface{ Unwrap() []error }).Unwrap() {
		var (
			he *HostError
			ue *UnknownHostKeyError
			ce *ChangedHostKeyError
		)
		errors.As(e, &he)
		switch {
		case errors.As(e, &ue):
			got = append(got, he.Host+" unknown: "+ue.Fix)
		case errors.As(e, &ce):
			got = append(got, he.Host+" changed: "+ce.Fix)
		default:
			got = append(got, he.Host+" unreachable")
		}
	}
	want := []string{
		fmt.Sprintf("sdw2 unknown: ssh-keyscan -p %s -t ed25519 127.0.0.1 >> ~/.ssh/known_hosts", unknown.port),
		fmt.Sprintf("sdw3 changed: ssh-keygen -R '[127.0.0.1]:%s' -f ~/.ssh/known_hosts", changed.port),
		"sdw4 unreachable",
		fmt.Sprintf("sdw6 unknown: ssh-keyscan -p %s -t ed25519 127.0.0.1 | sed 's/^[^ ]*/sdw6-key/' >> ~/.ssh/known_hosts", env.srv.port),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	if !strings.HasPrefix(err.Error(), "ssh host key check failed for 4 of 6 hosts:\n") {
		t.Fatalf("summary line: %v", err)
	}
	if conns, _, _ := unknown.stats(); conns != 1 {
		t.Fatalf("unknown host probed %d times", conns)
	}
	if err := x.CheckHostKeys(t.Context(), []string{"sdw1", "sdw5"}); err != nil {
		t.Fatalf("known hosts refused: %v", err)
	}
}

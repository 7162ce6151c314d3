package tooltest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// UnreachableHome is a HOME whose ssh_config sends the given hosts to a
// closed port on loopback (as a host that is down), and everything else
// where the test user's own keys and known_hosts reach it. A tool run with
// it finds those hosts refusing connections; sshd and the cluster are left
// alone.
func UnreachableHome(t testing.TB, hosts ...string) string {
	t.Helper()
	real, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	var b strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&b, "Host %s\n  HostName 127.0.0.1\n  Port 1\n", h)
	}
	fmt.Fprintf(&b, "Host *\n  IdentityFile %s/.ssh/id_ed25519\n  UserKnownHostsFile %s/.ssh/known_hosts\n", real, real)
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

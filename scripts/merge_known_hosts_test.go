// Package scripts_test checks the helper scripts that can be run without
// root.
package scripts_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
)

func hostKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// TestMergeKnownHosts: setup-test-host.sh merges the test hosts' keys into
// gpadmin's known_hosts: their old entries (plain or hashed) are replaced,
// every other line stays, the file keeps its mode, and a second run
// changes nothing.
func TestMergeKnownHosts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "known_hosts")
	mine, old, fresh, other := hostKey(t), hostKey(t), hostKey(t), hostKey(t)
	hashed := filepath.Join(dir, "hashed")
	if err := os.WriteFile(hashed, []byte("sdw2 "+old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-H", "-f", hashed).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -H: %v\n%s", err, out)
	}
	hashedLine, err := os.ReadFile(hashed)
	if err != nil {
		t.Fatal(err)
	}
	before := "# my hosts\nbuild.example.com " + mine + "\nsdw1 " + old + "\n" + string(hashedLine) + "@revoked * " + other + "\n"
	if err := os.WriteFile(file, []byte(before), 0o640); err != nil {
		t.Fatal(err)
	}
	scan := "sdw1 " + fresh + "\nsdw2 " + fresh + "\n"
	merge := func() {
		t.Helper()
		cmd := exec.Command("./merge-known-hosts.sh", file, "sdw1", "sdw2")
		cmd.Stdin = strings.NewReader(scan)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("merge-known-hosts.sh: %v\n%s", err, out)
		}
	}
	merge()
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := "# my hosts\nbuild.example.com " + mine + "\n@revoked * " + other + "\n" + scan
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("known_hosts (-want +got):\n%s", d)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode: %v %v", fi.Mode(), err)
	}
	merge()
	if again, _ := os.ReadFile(file); string(again) != string(got) {
		t.Errorf("a second merge changed the file:\n%s", again)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".known_hosts.merge.*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

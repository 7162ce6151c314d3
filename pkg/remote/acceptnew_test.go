package remote

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// TestAcceptNewRemembered: under StrictHostKeyChecking accept-new (or no),
// an unknown key is accepted with one warning that gives the ssh-keyscan
// line, remembered for the run, and another key offered under the same
// name afterwards is refused as changed. Nothing is written to known_hosts.
func TestAcceptNewRemembered(t *testing.T) {
	for _, policy := range []string{"accept-new", "no"} {
		t.Run(policy, func(t *testing.T) {
			env := newSSHEnv(t)
			impostor := newTestServer(t) // another host key, same client key
			impostor.setClient(env.srv.client)
			env.writeKnownHosts(t, "elsewhere", env.srv.hostKey.PublicKey())
			// sdw1 and sdw2 share one known_hosts name (HostKeyAlias): the
			// second is the same host, now answering with another key.
			env.writeConfig(t, fmt.Sprintf("  HostKeyAlias sdw1-key\n  StrictHostKeyChecking %s\nHost sdw2\n  HostName 127.0.0.1\n  Port %s\n  HostKeyAlias sdw1-key\n  StrictHostKeyChecking %s",
				policy, impostor.port, policy))
			var logs bytes.Buffer
			x := env.executor(t, func(o *SSHOptions) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			})

			if r := x.Exec(t.Context(), Command{Host: "sdw1", Argv: []string{"true"}}); !r.OK() {
				t.Fatalf("unknown key refused under %s: %v", policy, r.Err)
			}
			if err := x.CheckHostKeys(t.Context(), []string{"sdw1"}); err != nil {
				t.Fatalf("the accepted key refused on the next connection: %v", err)
			}
			warning := "To record it once you have verified it: ssh-keyscan -p " + env.srv.port + " -t ed25519 127.0.0.1 | sed 's/^[^ ]*/sdw1-key/' >> ~/.ssh/known_hosts"
			if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), warning) {
				t.Fatalf("want one warning with %q, got %d:\n%s", warning, n, logs.String())
			}

			for what, err := range map[string]error{
				"exec":      x.Exec(t.Context(), Command{Host: "sdw2", Argv: []string{"true"}}).Err,
				"preflight": x.CheckHostKeys(t.Context(), []string{"sdw2"}),
			} {
				var ce *ChangedHostKeyError
				if !errors.As(err, &ce) || ce.Accepted == "" || SSHFailure(err).Reason != ReasonHostKeyChanged {
					t.Fatalf("%s: another key for the accepted name was not refused as changed: %v", what, err)
				}
				if !strings.Contains(err.Error(), "HOST KEY CHANGED for sdw2") || !strings.Contains(err.Error(), "differs from the key ssh-ed25519 SHA256:") {
					t.Errorf("%s: message: %v", what, err)
				}
			}
			if conns, _, _ := impostor.stats(); conns != 2 {
				t.Errorf("impostor saw %d connections, want 2", conns)
			}
			if got, err := os.ReadFile(env.knownHosts); err != nil || strings.Contains(string(got), "sdw1-key") {
				t.Errorf("known_hosts was written (%v):\n%s", err, got)
			}
		})
	}
}

package recoverseg

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// TestHostKeyRefusal: of the host key check's failures, an unknown or
// changed key refuses the run; a host that does not answer is left to the
// reachability check (a dead host is what -p and -i recover from).
func TestHostKeyRefusal(t *testing.T) {
	down := &remote.HostError{Host: "sdw1", Label: "ssh host key check", ExitCode: -1, Err: errors.New("unreachable: dial tcp 127.0.0.1:1: connect: connection refused")}
	unknown := &remote.HostError{Host: "sdw5", Label: "ssh host key check", ExitCode: -1,
		Err: &remote.UnknownHostKeyError{Host: "sdw5", Addr: "sdw5:22", KeyName: "sdw5", KeyType: "ssh-ed25519", Fingerprint: "SHA256:x", Fix: "ssh-keyscan -t ed25519 sdw5 >> ~/.ssh/known_hosts"}}
	changed := &remote.HostError{Host: "sdw6", Label: "ssh host key check", ExitCode: -1,
		Err: &remote.ChangedHostKeyError{Host: "sdw6", Addr: "sdw6:22", KeyName: "sdw6", KeyType: "ssh-ed25519", Fingerprint: "SHA256:y", Fix: "ssh-keygen -R sdw6"}}
	wrap := func(errs ...error) error {
		return fmt.Errorf("ssh host key check failed for %d of 9 hosts:\n%w", len(errs), errors.Join(errs...))
	}
	for _, tt := range []struct {
		name   string
		err    error
		refuse bool
	}{
		{"no failure", nil, false},
		{"a host that does not answer", wrap(down), false},
		{"an unknown key among dead hosts", wrap(down, unknown), true},
		{"a changed key", wrap(changed), true},
		{"an error of another shape", errors.New("ssh config: bad option"), false},
	} {
		if got := hostKeyRefusal(tt.err); got != tt.refuse {
			t.Errorf("%s: refused %v, want %v", tt.name, got, tt.refuse)
		}
	}
}

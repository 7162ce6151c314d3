package addmirrors_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/addmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// keyCheckFails is the segment hosts of a rig whose host key check fails
// with err.
type keyCheckFails struct {
	*hosts
	err error
}

func (k keyCheckFails) CheckHostKeys(context.Context, []string) error { return k.err }

// TestRunKeepsCauses: the host key check's error reaches Main with its
// cause: a changed host key stays a *remote.ChangedHostKeyError, and an
// interrupt during the check is reported as one (exit 2, "interrupted"),
// not as an ordinary error.
func TestRunKeepsCauses(t *testing.T) {
	changed := &remote.HostError{Host: "sdw1", Label: "ssh host key check", ExitCode: -1, Err: &remote.SSHError{
		Host: "sdw1", Reason: remote.ReasonHostKeyChanged,
		Err: &remote.ChangedHostKeyError{Host: "sdw1", Addr: "10.0.0.1:22", KeyType: "ssh-ed25519", Fingerprint: "SHA256:x", Known: []string{"~/.ssh/known_hosts:3"}, Fix: "ssh-keygen -R sdw1 -f ~/.ssh/known_hosts"},
	}}
	interrupted := &remote.HostError{Host: "sdw1", Label: "ssh host key check", ExitCode: -1, Err: fmt.Errorf("ssh handshake with sdw1:22: %w", context.Canceled)}
	for name, tt := range map[string]struct {
		err  error
		want string
		is   func(error) bool
	}{
		"changed key": {fmt.Errorf("ssh host key check failed for 1 of 2 hosts:\n%w", errors.Join(changed)),
			"[ERROR]:-gpaddmirrors error: ssh host key check failed for 1 of 2 hosts:",
			func(err error) bool { var ce *remote.ChangedHostKeyError; return errors.As(err, &ce) }},
		"interrupt": {fmt.Errorf("ssh host key check failed for 1 of 2 hosts:\n%w", errors.Join(interrupted)),
			"[ERROR]:-gpaddmirrors error: interrupted, exiting...",
			func(err error) bool { return errors.Is(err, context.Canceled) }},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, gpdemoSegments(t), "-a", "-p", "1000")
			var runErr error
			cmd := addmirrors.NewCommand(r.env, func(o *addmirrors.Options) error {
				o.LookupHost = func(context.Context, string) ([]string, error) { return []string{"10.0.0.2"}, nil }
				r.env.NewSSH = func(remote.SSHOptions) (remote.HostExecutor, error) {
					return keyCheckFails{hosts: r.hosts, err: tt.err}, nil
				}
				if err := r.env.SetupLogging(&o.CommonOptions); err != nil {
					return err
				}
				runErr = addmirrors.Run(t.Context(), r.env, o)
				return runErr
			})
			if code := app.Main(cmd, r.env); code != app.ExitFatal {
				t.Fatalf("exit %d, want 2\n%s", code, r.out)
			}
			if !tt.is(runErr) {
				t.Errorf("the cause is lost: %v", runErr)
			}
			if !strings.Contains(r.out.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, r.out)
			}
		})
	}
}

package buildmirrors_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// TestInputErrorKeepsCauses: a refusal keeps each problem as an error, so
// that a changed host key found by the preflight is still a
// *remote.ChangedHostKeyError for errors.As, and a refusal because of an
// interrupt still says context.Canceled.
func TestInputErrorKeepsCauses(t *testing.T) {
	changed := &remote.SSHError{Host: "sdw2", Reason: remote.ReasonHostKeyChanged,
		Err: &remote.ChangedHostKeyError{Host: "sdw2", Known: []string{"~/.ssh/known_hosts:7"}, Fix: "ssh-keygen -R sdw2"}}
	for name, tt := range map[string]struct {
		check error
		is    func(error) bool
	}{
		"changed key": {fmt.Errorf("ssh host key check failed for 1 of 2 hosts:\n%w", errors.Join(&remote.HostError{Host: "sdw2", Err: changed})),
			func(err error) bool {
				var ce *remote.ChangedHostKeyError
				return errors.As(err, &ce) && ce.Host == "sdw2"
			}},
		"interrupt": {fmt.Errorf("ssh host key check failed for 1 of 2 hosts:\n%w", errors.Join(&remote.HostError{Host: "sdw2", Err: context.Canceled})),
			func(err error) bool { return errors.Is(err, context.Canceled) }},
	} {
		t.Run(name, func(t *testing.T) {
			e := env(fakeHosts(nil, nil), fakeDB(false))
			e.CheckHostKeys = func(context.Context, []string) error { return tt.check }
			_, err := buildmirrors.Run(t.Context(), e, opts(false), mirrors)
			var ie *buildmirrors.InputError
			if !errors.As(err, &ie) || !tt.is(err) {
				t.Fatalf("cause lost: %#v", err)
			}
			if !strings.Contains(err.Error(), "cannot build the mirrors; nothing was changed:\n  ssh host key check failed") {
				t.Errorf("message: %v", err)
			}
		})
	}
}

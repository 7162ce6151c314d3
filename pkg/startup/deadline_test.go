package startup

import (
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// TestEveryCommandHasADeadline (review finding 1): the start runs its
// segment, standby and coordinator work under context.WithoutCancel, as
// Greenplum ignores SIGINT there, so every command it sends, locally or
// over SSH, must carry its own timeout: a host that hangs is reported,
// never waited for.
func TestEveryCommandHasADeadline(t *testing.T) {
	r := newRig(t, gp6Version, gp6Demo(), "")
	if err := r.run(t, &Options{CommonOptions: app.CommonOptions{NonInteractive: true}}); err != nil {
		t.Fatal(err)
	}
	calls := append(r.exec.Calls(), r.ssh.Calls()...)
	for _, c := range calls {
		if c.Timeout <= 0 {
			t.Errorf("no deadline: %s on %s: %s", c.Label, c.Host, firstLine(remote.CommandLine(c)))
		}
	}
	if len(calls) < 10 {
		t.Fatalf("only %d commands ran", len(calls))
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

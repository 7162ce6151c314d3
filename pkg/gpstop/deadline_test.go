package gpstop

import (
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/remote/remotetest"
	"github.com/gpmgmt/gpmgmt/pkg/segctl/segctltest"
)

// TestEveryCommandHasADeadline (review finding 1): gpstop stops under
// context.WithoutCancel, as Greenplum ignores SIGINT there, so every
// command it sends, locally or over SSH, carries its own timeout.
func TestEveryCommandHasADeadline(t *testing.T) {
	r := newRig(t, "", nil)
	ssh := remotetest.NewHosts()
	ssh.OnFunc(segctltest.Stop(nil))
	r.env.NewSSH = ssh.Opener(nil)
	opts := &Options{CommonOptions: app.CommonOptions{NonInteractive: true}, Mode: "fast", Parallel: DefaultParallel, Timeout: 120}
	if err := Run(t.Context(), r.env, opts); err != nil {
		t.Fatal(err)
	}
	calls := append(r.exec.Calls(), ssh.Calls()...)
	for _, c := range calls {
		if c.Timeout <= 0 {
			t.Errorf("no deadline: %s on %s", c.Label, c.Host)
		}
	}
	if len(calls) < 3 {
		t.Fatalf("only %d commands ran", len(calls))
	}
}

package buildmirrors

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// TestTargetScriptLockFiles runs the target check on this machine: a lock
// file naming a live process makes the port busy; one left by a process
// that is gone (a server killed -9) does not.
func TestTargetScriptLockFiles(t *testing.T) {
	const port = 31530 // below the ephemeral range, away from the test slots
	lock := fmt.Sprintf("/tmp/.s.PGSQL.%d.lock", port)
	t.Cleanup(func() { _ = os.Remove(lock) })
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "mirror")
	for _, tt := range []struct {
		pid  int
		busy string
	}{{dead.Process.Pid, "busy=0"}, {os.Getpid(), "busy=1"}} {
		if err := os.WriteFile(lock, fmt.Appendf(nil, "%d\n/data/gone\n", tt.pid), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		r := remote.LocalExecutor{}.Exec(ctx, remote.Command{Host: "localhost", Script: targetScript, Args: []string{"7", dir, fmt.Sprint(port), dir + ".marker"}})
		cancel()
		if !r.OK() || !strings.Contains(r.Stdout, "TARGET 7 state=absent ") || !strings.Contains(r.Stdout, " "+tt.busy+" ") {
			t.Errorf("lock naming pid %d: %+v; want %s", tt.pid, r, tt.busy)
		}
	}
}

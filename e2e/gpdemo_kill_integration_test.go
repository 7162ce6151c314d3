//go:build integration

package e2e

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/internal/testbed"
)

// postmasters counts the postmaster.pid files under dir: the instances
// gpdemo has started and not stopped.
func postmasters(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && e.Name() == "postmaster.pid" {
			n++
		}
		return nil
	})
	return n
}

// gpdemoCmd is the command of the built gpdemo, bounded by toolTimeout.
func gpdemoCmd(t *testing.T, args ...string) *exec.Cmd {
	cmd, cancel := command(toolTimeout, filepath.Join(toolsDir, "gpdemo"), append(args, "-l", t.TempDir())...)
	t.Cleanup(cancel)
	return cmd
}

// TestGpdemoKilled: gpdemo create (mirrored, over SSH) is killed -9 once
// its first instance runs; the identical create run again destroys what
// the killed one made, by its manifest, and makes the cluster. gpdemo
// destroy is then killed -9 once it has stopped an instance; run again it
// finishes: no process and no directory left.
func TestGpdemoKilled(t *testing.T) {
	slot := testbed.AcquireSlot(t)
	dir := filepath.Join(t.TempDir(), "cluster")
	create := []string{"create", "--dir", dir, "--gphome", gphome, "--hosts", "2", "--primaries-per-host", "1", "--mirrors", "group",
		"--host-names", strings.Join(slot.Hosts[:2], ","), "--port-base", strconv.Itoa(slot.PortBase)}
	t.Cleanup(func() {
		if _, err := os.Stat(dir); err == nil {
			run(t, "gpdemo", "destroy", "--dir", dir)
		}
	})
	tool := func(args ...string) *exec.Cmd { return gpdemoCmd(t, args...) }

	out := killCmdWhen(t, tool(create...), func() bool { return postmasters(dir) > 0 })
	t.Logf("gpdemo create killed -9 with %d instance(s) running; its last lines:\n%s", postmasters(dir), tail(out, 2))
	rerun, err := tool(create...).CombinedOutput()
	if err != nil {
		t.Fatalf("the rerun of gpdemo create: %v\n%s", err, rerun)
	}
	if !strings.Contains(string(rerun), "holds the manifest of a gpdemo create that did not finish") {
		t.Errorf("the rerun did not say it destroyed the unfinished create:\n%s", rerun)
	}
	d := stopDemo{demo: demo{dir: dir, coord: filepath.Join(dir, "coordinator", "gpseg-1"), primary: 2}}
	d.segs = d.catalog(t)
	if len(d.segs) != 5 {
		t.Fatalf("catalog after the rerun:\n%s", dump(d.segs))
	}
	d.wantAllRunning(t)
	d.writeBeforeKill(t)
	d.wantBeforeKill(t)

	all := postmasters(dir)
	out = killCmdWhen(t, tool("destroy", "--dir", dir), func() bool { return postmasters(dir) < all })
	t.Logf("gpdemo destroy killed -9 with %d of %d instances running; its last lines:\n%s", postmasters(dir), all, tail(out, 2))
	if rerun, err := tool("destroy", "--dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("the rerun of gpdemo destroy: %v\n%s", err, rerun)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after the rerun of destroy: %v, want gone", dir, err)
	}
	if pids := pgrep(t, dir); len(pids) != 0 {
		t.Errorf("processes of %s left: %v", dir, pids)
	}
}

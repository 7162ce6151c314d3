//go:build integration

package e2e

import (
	"io/fs"
	"os/exec"
	"path/filepath"
	"testing"
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

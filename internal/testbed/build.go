package testbed

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
)

// RepoRoot is the top of the gpmgmt source tree.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// BuildCompatGPHome builds the compat GPHOME (compat/Makefile) into dir,
// which must be writable; the tree itself may be read-only. It needs
// PostgreSQL 15 and postgresql-server-dev-15, and says so when they fail.
func BuildCompatGPHome(dir string) error {
	out, err := exec.Command("make", "-s", "-C", filepath.Join(RepoRoot(), "compat"), "gphome", "GPHOME_DIR="+dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("build the compat GPHOME (needs PostgreSQL 15 and postgresql-server-dev-15): %w\n%s", err, out)
	}
	return nil
}

// BuildTools builds the gpmgmt commands into dir, for tests that run them
// as a user would. It runs the Makefile's build target, so the tests run
// the binaries a user gets: static, built with the release's flags.
func BuildTools(dir string) error {
	cmd := exec.Command("make", "-s", "--no-print-directory", "-C", RepoRoot(), "build", "BIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("make build BIN=%s: %w\n%s", dir, err, out)
	}
	return nil
}

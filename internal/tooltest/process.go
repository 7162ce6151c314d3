package tooltest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Pgrep returns the pids whose full command line matches the extended
// regular expression pattern (pgrep -f), the calling process excepted.
func Pgrep(t testing.TB, pattern string) []int {
	t.Helper()
	out, err := exec.Command("pgrep", "-f", "--", pattern).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return nil
	}
	if err != nil {
		t.Fatalf("pgrep -f %s: %v", pattern, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pgrep: %q", f)
		}
		if pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// DirSize is the total size of the regular files under dir; files that
// vanish while it walks are skipped.
func DirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// Run runs cmd with its standard output and error together and returns
// its exit code and that output. A command that could not run, or that a
// signal ended (its context's deadline, a crash), fails t: a test reads
// exit codes only of tools that exited.
func Run(t testing.TB, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode(), out.String()
	}
	t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out.String())
	return 0, ""
}

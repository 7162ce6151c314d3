package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Blind makes cmd run where the directories in hide are hidden from it, and
// returns cmd. All test "hosts" share one filesystem, so a tool that read a
// segment's files locally instead of over SSH would still pass; a blind tool
// finds each hidden directory empty and read-only, while SSH to the test
// hosts (sshd runs outside, and sees everything) and every other path, such
// as the coordinator data directory, work as usual (design.md, The test bed).
//
// The tool runs as the test's own user, with no capabilities, in a private
// mount namespace whose mounts vanish when it exits; processes it leaves
// running (a local pg_ctl start, say) stay blind. Blind rewrites cmd in place,
// so its context, Stdin, Stdout, Stderr, Env, Dir and WaitDelay keep
// working, and the tool's exit status and output are the command's. If the
// namespace cannot be set up when it runs, the command exits 125 with a
// "testbed.Blind:" message on its stderr; 126 and 127 mean the tool could not
// be executed or was not found.
//
// Blind fails t, never skips it, if the kernel refuses unprivileged user and
// mount namespaces or if a hidden path is not an existing directory.
//
//	cmd := testbed.Blind(t, exec.CommandContext(ctx, gpstate, "-e"), segmentDirs...)
func Blind(t testing.TB, cmd *exec.Cmd, hide ...string) *exec.Cmd {
	t.Helper()
	if err := blind(cmd, hide); err != nil {
		t.Fatalf("testbed.Blind: %v", err)
	}
	return cmd
}

func blind(cmd *exec.Cmd, hide []string) error {
	switch {
	case cmd.Process != nil:
		return errors.New("command already started")
	case cmd.Err != nil:
		return cmd.Err
	case len(cmd.Args) > 0 && cmd.Args[0] == helperName:
		return errors.New("command is already blind")
	case len(hide) == 0:
		return errors.New("no directories to hide")
	}
	dirs := make([]string, len(hide))
	for i, d := range hide {
		abs, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return fmt.Errorf("hide %s: %w", d, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("hide %s: not a directory", d)
		}
		dirs[i] = abs
	}
	if err := checkSysProcAttr(cmd.SysProcAttr); err != nil {
		return err
	}
	helper, err := helperPath()
	if err != nil {
		return err
	}
	args := cmd.Args
	if len(args) == 0 {
		args = []string{cmd.Path}
	}
	cmd.Args = helperArgs(dirs, cmd.Path, args)
	cmd.Path = helper
	cmd.SysProcAttr = namespaceAttr(cmd.SysProcAttr)
	return nil
}

// helperName is argv[0] of the helper: the test binary itself, re-executed,
// which recognises the name in an init function (see blind_linux.go), sets
// up the namespace and then executes the tool.
const helperName = "gpmgmt-testbed-blind"

// helperArgs is the helper's argv: its name, "-hide DIR" for each hidden
// directory, "--", the tool's path and the tool's own argv (argv[0] first).
// With nothing after "--" the helper only sets up the namespace and exits 0.
func helperArgs(hide []string, path string, args []string) []string {
	argv := []string{helperName}
	for _, d := range hide {
		argv = append(argv, "-hide", d)
	}
	argv = append(argv, "--")
	if path != "" {
		argv = append(argv, path)
		argv = append(argv, args...)
	}
	return argv
}

// parseHelperArgs undoes helperArgs, given argv without argv[0]; path is
// empty when the helper has nothing to execute.
func parseHelperArgs(argv []string) (hide []string, path string, args []string, err error) {
	for len(argv) > 0 && argv[0] == "-hide" {
		if len(argv) < 2 {
			return nil, "", nil, errors.New("-hide without a directory")
		}
		hide = append(hide, argv[1])
		argv = argv[2:]
	}
	if len(argv) == 0 || argv[0] != "--" {
		return nil, "", nil, fmt.Errorf("bad helper arguments %q", argv)
	}
	argv = argv[1:]
	switch len(argv) {
	case 0:
		return hide, "", nil, nil
	case 1:
		return nil, "", nil, errors.New("tool path without argv")
	}
	return hide, argv[0], argv[1:], nil
}

// outermost drops repeats, and directories inside another one in dirs:
// the outer tmpfs hides them, and they no longer exist to mount on.
func outermost(dirs []string) []string {
	var out []string
	for i, d := range dirs {
		covered := false
		for j, e := range dirs {
			if d == e && j < i || d != e && within(d, e) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, d)
		}
	}
	return out
}

// within reports whether path d is e or lies under e.
func within(d, e string) bool {
	rel, err := filepath.Rel(e, d)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

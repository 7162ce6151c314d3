package remote

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// localWaitDelay bounds how long LocalExecutor waits for output pipes after
// the process exits or is killed (a daemon that escaped the process group
// may hold them open).
const localWaitDelay = 2 * time.Second

// LocalExecutor runs commands on this host, ignoring Command.Host. It is the
// one local execution path (pg_ctl and postgres --gp-version on the
// coordinator), so tests fake local and remote work the same way.
//
// Argv runs directly, without a shell; Script runs as `sh -s -- args` with
// the script on stdin; a command with a PIDFile runs as `sh -c
// CommandLine(c)`. Every command starts in its own process group, which is
// killed (SIGKILL) when ctx is done or Command.Timeout expires.
type LocalExecutor struct{}

// Exec runs c and returns its Result; see Executor.
func (LocalExecutor) Exec(ctx context.Context, c Command) Result {
	start := time.Now()
	res := Result{Command: c, ExitCode: -1}
	if err := c.check(); err != nil {
		res.Err = failure(c, -1, "", err)
		return res
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		res.Err = failure(c, -1, "", fmt.Errorf("not started: %w", err))
		return res
	}

	var cmd *exec.Cmd
	switch {
	case c.PIDFile != "":
		cmd = exec.CommandContext(ctx, "sh", "-c", CommandLine(c))
	case len(c.Argv) > 0:
		cmd = exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	default:
		cmd = exec.CommandContext(ctx, "sh", append([]string{"-s", "--"}, c.Args...)...)
	}
	if c.Script != "" {
		cmd.Stdin = strings.NewReader(c.Script)
	}
	out := newOutput(c.OnLine)
	cmd.Stdout = out.writer(Stdout)
	cmd.Stderr = out.writer(Stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// the whole group: a script's background jobs and a program's children
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = localWaitDelay

	err := cmd.Run()
	out.finish()
	res.Stdout, res.Stderr = out.strings()
	res.Duration = time.Since(start)
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if err == nil {
		return res
	}
	if cerr := ctx.Err(); cerr != nil {
		res.ExitCode = -1
		res.Err = failure(c, -1, res.Stderr, fmt.Errorf("killed: %w", cerr))
		return res
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && res.ExitCode > 0:
		res.Err = failure(c, res.ExitCode, res.Stderr, nil)
	default:
		res.Err = failure(c, res.ExitCode, res.Stderr, fmt.Errorf("run locally: %w", err))
	}
	return res
}

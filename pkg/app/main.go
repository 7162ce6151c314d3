package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// Main runs cmd with env.Args under a context that the first SIGINT or
// SIGTERM cancels, and returns the process exit code. It is the one place
// where a returned error becomes output and an exit code (see report), and it
// never lets a panic reach the user as a stack trace: a panic is reported
// as an unexpected error (CRITICAL, exit 2) with the stack at DEBUG.
//
// Signals stay diverted to the context until Main returns, so a second
// Ctrl-C does not kill the process in the middle of a window that runs
// under context.WithoutCancel (design.md, "Interrupts").
func Main(cmd *cobra.Command, env *Env) (code int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if env.Log == nil {
		env.Log = env.consoleLogger()
	}
	defer func() {
		if err := env.closeLogging(); err != nil {
			_, _ = fmt.Fprintf(env.Err, "%s: %v\n", env.Prog, err)
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			env.Log.Debug(fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
			code, _ = report(ctx, cmd, env, fmt.Errorf("%v", r))
		}
	}()

	args := env.Args
	if args == nil {
		args = []string{} // cobra would read os.Args for a nil slice
	}
	cmd.SetArgs(args)
	cmd.SetIn(env.In)
	cmd.SetOut(env.Out)
	cmd.SetErr(env.Err)
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	code, _ = report(ctx, cmd, env, cmd.ExecuteContext(ctx))
	return code
}

// Report writes what err means for the user, as Main would, and returns
// the exit code Main would give it. It is for a nested operation whose
// failure the tool reports before going on (gprecoverseg -r's
// synchronization step); command-line errors cannot occur there and are
// reported as plain errors.
func Report(ctx context.Context, env *Env, err error) int {
	var flagErr *FlagError
	var argErr *ArgumentError
	if errors.As(err, &flagErr) || errors.As(err, &argErr) {
		err = &ExpectedError{Err: errors.New(err.Error())} // no unwrapping to a command-line error
	}
	code, _ := report(ctx, nil, env, err)
	return code
}

// report writes what err means for the user and returns the exit code
// (spec §1.2) and the level it logged at, for a hint that follows (INFO
// when nothing was logged):
//
//   - nil: 0, nothing printed.
//   - *ExitError: its Code; its Err (if any) reported as below.
//   - *HintError: its Err reported as below, then "Hint: <hint>".
//   - *FlagError: usage line, blank line, "<prog>: error: <msg>" on
//     stderr; 2.
//   - *ArgumentError: help text first if asked, then ERROR
//     "<prog>: error: <msg>"; 2.
//   - ErrUserAbort: INFO "User abort requested, Exiting..."; 4.
//   - context.Canceled (Ctrl-C, SIGTERM): ERROR
//     "<prog> error: <signal> signal received, exiting..."; 2.
//   - *ExpectedError: ERROR "<prog> error: <msg>"; 2.
//   - anything else: CRITICAL "<prog> failed. (Reason='<msg>') exiting..."; 2.
//
// ctx is the context cmd ran under; it names the signal that cancelled it.
func report(ctx context.Context, cmd *cobra.Command, env *Env, err error) (int, slog.Level) {
	var (
		exitErr *ExitError
		hintErr *HintError
		flagErr *FlagError
		argErr  *ArgumentError
		expErr  *ExpectedError
	)
	log := env.Log
	switch {
	case err == nil:
		return ExitOK, slog.LevelInfo
	case errors.As(err, &exitErr):
		level := slog.LevelInfo
		if exitErr.Err != nil {
			_, level = report(ctx, cmd, env, exitErr.Err)
		}
		return exitErr.Code, level
	case errors.As(err, &hintErr):
		code, level := report(ctx, cmd, env, hintErr.Err)
		log.Log(ctx, level, "Hint: "+hintErr.Hint)
		return code, level
	case errors.As(err, &flagErr):
		_, _ = fmt.Fprintf(env.Err, "%s\n\n%s: error: %s\n", UsageLine(cmd), env.Prog, flagErr.Err)
		return ExitFatal, slog.LevelError
	case errors.As(err, &argErr):
		if argErr.ShowHelp {
			writeHelp(cmd, env)
		}
		log.Error(env.Prog + ": error: " + argErr.Msg)
		return ExitFatal, slog.LevelError
	case errors.Is(err, ErrUserAbort):
		log.Info("User abort requested, Exiting...")
		return ExitUserAbort, slog.LevelInfo
	case errors.Is(err, context.Canceled):
		reason := "interrupted"
		if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
			reason = cause.Error()
		}
		log.Error(env.Prog + " error: " + reason + ", exiting...")
		return ExitFatal, slog.LevelError
	case errors.As(err, &expErr):
		log.Error(env.Prog + " error: " + expErr.Err.Error())
		return ExitFatal, slog.LevelError
	default:
		log.Log(ctx, gplog.LevelCritical, fmt.Sprintf("%s failed. (Reason='%v') exiting...", env.Prog, err))
		return ExitFatal, gplog.LevelCritical
	}
}

package recoverseg

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// terminateBackground is what the user is told before being asked whether
// to stop the recovery (spec §4.13, in gpmgmt's terms: rewinds are never
// stopped midway).
const terminateBackground = "It is not recommended to terminate a recovery procedure midway. If you do, the copies " +
	"(pg_basebackup, rsync) are stopped, and the rewinds (pg_rewind) go on in the background until they finish; " +
	"run gprecoverseg again afterwards to complete the recovery (a stopped rsync: gprecoverseg --differential or -F)."

// handleSignals takes over SIGINT, SIGTERM and SIGHUP while the copies
// run (spec §4.13): SIGHUP (a lost terminal or ssh session) is ignored;
// SIGINT asks whether to terminate, unless -a; SIGTERM terminates. To
// terminate is to call cancel, which stops the copies; interrupted is then
// set. The returned function gives the signals back and must be called
// before interrupted is read.
func (r *recovery) handleSignals(ctx context.Context, cancel context.CancelFunc, interrupted *bool) func() {
	log := r.env.Log
	return r.divertSignals(ctx, func(ctx context.Context, sig os.Signal) bool {
		switch sig {
		case syscall.SIGHUP:
			log.Debug("SIGHUP ignored during the recovery")
			return false
		case os.Interrupt:
			log.Warn("Recieved SIGINT signal, terminating gprecoverseg")
			if !r.opts.NonInteractive {
				yes, err := app.Confirm(ctx, r.env, "Continue terminating gprecoverseg", terminateBackground)
				if err != nil || !yes {
					return false
				}
			}
		case syscall.SIGTERM:
			log.Warn("Recieved SIGTERM signal, terminating gprecoverseg")
		}
		*interrupted = true
		cancel()
		return true
	})
}

// ignoreSignals diverts SIGINT, SIGTERM and SIGHUP while primaries are
// switched: each is logged and ignored (Greenplum ignores SIGINT there).
// The returned function gives them back.
func (r *recovery) ignoreSignals(ctx context.Context) func() {
	return r.divertSignals(ctx, func(_ context.Context, sig os.Signal) bool {
		r.env.Log.Warn(fmt.Sprintf("Signal %v ignored: primaries are being switched; gprecoverseg -r finishes this step first", sig))
		return false
	})
}

// divertSignals delivers SIGINT, SIGTERM and SIGHUP to handle, one at a
// time, until handle returns true or the returned function is called;
// that function gives the signals back. Without env.Signals (tests) it
// does nothing.
func (r *recovery) divertSignals(ctx context.Context, handle func(context.Context, os.Signal) bool) func() {
	if r.env.Signals == nil {
		return func() {}
	}
	sigs, stop := r.env.Signals(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	qctx, quit := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-qctx.Done():
				return
			case sig := <-sigs:
				if handle(qctx, sig) {
					return
				}
			}
		}
	}()
	return func() {
		quit()
		<-done
		stop()
	}
}

package recoverseg

import (
	"context"
	"os"
	"syscall"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// terminateBackground is what the user is told before being asked whether
// to stop the recovery (spec §4.13, in gpmgmt's terms: rewinds are never
// stopped midway).
const terminateBackground = "It is not recommended to terminate a recovery procedure midway. If you do, the copies " +
	"(pg_basebackup) are stopped, and the rewinds (pg_rewind) go on in the background until they finish; " +
	"run gprecoverseg again afterwards to complete the recovery."

// handleSignals takes over SIGINT, SIGTERM and SIGHUP while the copies
// run (spec §4.13): SIGHUP (a lost terminal or ssh session) is ignored;
// SIGINT asks whether to terminate, unless -a; SIGTERM terminates. To
// terminate is to call cancel, which stops the copies; interrupted is then
// set. The returned function gives the signals back and must be called
// before interrupted is read.
func (r *recovery) handleSignals(ctx context.Context, cancel context.CancelFunc, interrupted *bool) func() {
	if r.env.Signals == nil {
		return func() {}
	}
	sigs, stop := r.env.Signals(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	qctx, quit := context.WithCancel(ctx)
	done := make(chan struct{})
	log := r.env.Log
	go func() {
		defer close(done)
		for {
			select {
			case <-qctx.Done():
				return
			case sig := <-sigs:
				switch sig {
				case syscall.SIGHUP:
					log.Debug("SIGHUP ignored during the recovery")
					continue
				case os.Interrupt:
					log.Warn("Recieved SIGINT signal, terminating gprecoverseg")
					if !r.opts.NonInteractive {
						yes, err := app.Confirm(qctx, r.env, "Continue terminating gprecoverseg", terminateBackground)
						if err != nil || !yes {
							continue
						}
					}
				case syscall.SIGTERM:
					log.Warn("Recieved SIGTERM signal, terminating gprecoverseg")
				}
				*interrupted = true
				cancel()
				return
			}
		}
	}()
	return func() {
		quit()
		<-done
		stop()
	}
}

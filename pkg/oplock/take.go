package oplock

import (
	"errors"
	"fmt"

	"github.com/gpmgmt/gpmgmt/pkg/app"
)

// Take is how a changing tool takes its lock in the coordinator data
// directory mdd, refusing to run beside others (AcquireAlone): a live
// holder is refused with Greenplum's two lock lines (and the host, when
// the holder runs on another), exit 2; a stale lock is taken over with a
// warning naming why it is stale.
func Take(env *app.Env, mdd, tool string, others ...string) (*Lock, error) {
	lock, stale, err := AcquireAlone(mdd, tool, Self(env.Hostname), others...)
	var he *HeldError
	if errors.As(err, &he) {
		for _, l := range he.Lines() {
			env.Log.Error(l)
		}
		if he.Foreign {
			env.Log.Error(fmt.Sprintf("The lock's owner runs on host %s; check there before removing it", he.Owner.Host))
		}
		return nil, &app.ExitError{Code: app.ExitFatal}
	}
	if err != nil {
		return nil, app.Errorf("%w", err)
	}
	if stale != nil {
		env.Log.Warn(fmt.Sprintf("Lockfile %s was left by %s with PID %d: %s; taking it over", lock.Path(), tool, stale.Owner.PID, stale.Reason))
	}
	return lock, nil
}

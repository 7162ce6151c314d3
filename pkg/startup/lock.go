package startup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
)

// lockTool names gpstart's lock in the coordinator data directory.
const lockTool = "gpstart"

// takeLock takes gpstart's lock (pkg/oplock) for the run: a live gpstart
// holding it is refused with Greenplum's two lock lines, exit 2. A stale
// one is what a gpstart killed midway leaves, together with whatever it
// had started: the coordinator in admin or in dispatch mode, which the
// stale-coordinator check would take for a cluster started already. That
// coordinator is stopped (fast) before this run starts the cluster from
// the beginning; the segments it started are found running and kept.
func (s *starter) takeLock(ctx context.Context) (*oplock.Lock, error) {
	path := oplock.Path(s.mdd, lockTool)
	killed := false
	var lockedAt time.Time
	if fi, err := os.Stat(path); err == nil {
		_, reason, err := oplock.Check(path, s.env.Hostname)
		killed, lockedAt = err == nil && reason != "", fi.ModTime()
	}
	lock, err := oplock.Take(s.env, s.mdd, lockTool)
	if err != nil || !killed {
		return lock, err
	}
	// Its pg_ctl start outlives it, and starts the coordinator later: a
	// pid file not written yet must not pass for a stopped coordinator.
	if err := s.waitOrphanedStarts(ctx); err != nil {
		return nil, errors.Join(err, lock.Release())
	}
	if !postmasterRuns(s.mdd) {
		return lock, nil
	}
	// Only a coordinator that killed run can have started is stopped: one
	// started before its lock (by hand, by another tool, before a reboot
	// that left the lock behind) serves users, and is refused as before.
	if started, ok := postmasterStarted(s.mdd); !ok || started.Before(lockedAt.Truncate(time.Second)) {
		return lock, nil
	}
	s.env.Log.Warn(fmt.Sprintf("The %s is running, left by the gpstart that did not finish: stopping it to start the cluster from the beginning", s.coord))
	if err := s.stopCoordinator(context.WithoutCancel(ctx), "fast"); err != nil {
		return nil, errors.Join(fmt.Errorf("stop the %s a killed gpstart left running: %w", s.coord, err), lock.Release())
	}
	return lock, nil
}

// postmasterRuns reports whether dir's postmaster.pid names a live process.
func postmasterRuns(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return false
	}
	pid, err := cluster.PostmasterPID(string(b))
	return err == nil && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// postmasterStarted reads the start time dir's postmaster.pid records.
func postmasterStarted(dir string) (time.Time, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return time.Time{}, false
	}
	started, err := cluster.PostmasterStarted(string(b))
	return started, err == nil
}

// waitOrphanedStarts waits, for the start timeout at most, until no
// pg_ctl start of the coordinator data directory runs on this host: the
// one a killed gpstart left ends once its server is up, or has failed.
func (s *starter) waitOrphanedStarts(ctx context.Context) error {
	deadline := time.Now().Add(time.Duration(s.opts.Timeout) * time.Second)
	for pids := pgCtlStarts(s.mdd); len(pids) > 0; pids = pgCtlStarts(s.mdd) {
		if time.Now().After(deadline) {
			return app.Errorf("the pg_ctl start (pid %v) a killed gpstart left still runs after %d s: stop it, then run gpstart again", pids, s.opts.Timeout)
		}
		s.env.Log.Info(fmt.Sprintf("Waiting for the pg_ctl start (pid %v) a killed gpstart left to end", pids))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// pgCtlStarts returns the pids of the processes on this host running
// pg_ctl start with -D dir.
func pgCtlStarts(dir string) []int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		pgctl, start, inDir := false, false, false
		for i, a := range args {
			switch {
			case filepath.Base(a) == "pg_ctl":
				pgctl = true
			case a == "start":
				start = true
			case a == "-D" && i+1 < len(args) && filepath.Clean(args[i+1]) == filepath.Clean(dir):
				inDir = true
			}
		}
		if pgctl && start && inDir {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids = append(pids, pid)
		}
	}
	return pids
}

package startup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordctl"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// starter carries one run's state.
type starter struct {
	env  *app.Env
	opts *Options

	gphome   string
	mdd      string
	port     int
	maxConns int
	version  cluster.Version
	flavour  cluster.Flavour
	coord    string // "master" or "coordinator"
	coordCap string // "Master" or "Coordinator"

	cluster     *cluster.Cluster
	era         string
	ssh         remote.HostExecutor
	unreachable map[string]bool // hosts that did not answer over SSH
	checksum    int             // the coordinator's checksum version; -1: not compared
	standbyOn   bool            // the standby will be started
}

// Run does gpstart's work, in the order of spec §7.2.
func Run(ctx context.Context, env *app.Env, opts *Options) (err error) {
	if opts.ProcessCount > 0 && opts.Parallel == DefaultParallel {
		opts.Parallel = opts.ProcessCount
	}
	env.Log.Debug(fmt.Sprintf("Setting level of parallelism to: %d", opts.Parallel))
	s := &starter{env: env, opts: opts, checksum: -1}
	if err := s.prepare(ctx); err != nil {
		return err
	}
	lock, err := s.takeLock(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, lock.Release()) }()
	if err := s.recoverStaleCoordinator(ctx); err != nil {
		return err
	}
	if w := oplock.MirrorWorkRunning(s.mdd, env.Hostname); w != "" {
		env.Log.Warn(w)
	}
	if opts.CoordinatorOnly {
		if err := s.confirmCoordinatorOnly(ctx); err != nil {
			return err
		}
	}
	if err := s.clearSocket(); err != nil {
		return err
	}
	// Greenplum ignores SIGINT from the admin start until the segments are
	// up: an interrupt half way would leave instances nobody stops.
	wctx := context.WithoutCancel(ctx)
	if err := s.startCoordinatorAdmin(wctx); err != nil {
		return err
	}
	if opts.CoordinatorOnly {
		return nil
	}
	if s.ssh, err = env.OpenSSH(&opts.CommonOptions, s.gphome); err != nil {
		return errors.Join(err, s.stopCoordinator(wctx, "fast"))
	}
	defer func() { err = errors.Join(err, s.ssh.Close()) }()

	if err := s.checkHosts(wctx); err != nil {
		return errors.Join(err, s.stopCoordinator(wctx, "fast"))
	}
	if err := s.readChecksum(wctx); err != nil {
		return errors.Join(err, s.stopCoordinator(wctx, "fast"))
	}
	if err := s.checkStandby(ctx); err != nil {
		return err
	}
	s.env.Log.Info(fmt.Sprintf("Shutting down %s", s.coord))
	if err := s.stopCoordinator(wctx, "fast"); err != nil {
		return app.Errorf("could not stop the %s after reading the catalog: %w", s.coord, err)
	}
	segs, skipped := s.segmentsToStart()
	if !opts.NonInteractive {
		s.summarize(ctx, segs)
		if err := s.confirm(ctx, "Continue with "+s.flavour.ProductWord()+" instance startup"); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(s.mdd, "gpexpand.status")); err == nil && !opts.Restricted {
		return app.Errorf("Found a System Expansion Setup in progress. Please run 'gpexpand --rollback'")
	}
	outcomes := s.startSegments(wctx, segs)
	if err := s.checkEveryContent(wctx, outcomes, skipped); err != nil {
		return err
	}
	failed := s.report(wctx, outcomes, skipped, false)
	connMsg, err := s.startCoordinator(wctx)
	if err != nil {
		return err
	}
	standbyFailed := s.startStandby(wctx)
	return s.result(failed, len(skipped), standbyFailed, connMsg != "")
}

// result is step 19: the closing lines and the exit code.
func (s *starter) result(failed, skipped int, standbyFailed, connWarned bool) error {
	log := s.env.Log
	if standbyFailed {
		log.Warn(fmt.Sprintf("Standby %s could not be started", s.coordCap))
	}
	if failed > 0 {
		log.Warn(fmt.Sprintf("Number of segments which failed to start:  %d", failed))
	}
	if standbyFailed || failed > 0 {
		return &app.ExitError{Code: app.ExitFailures}
	}
	if skipped > 0 {
		log.Warn(fmt.Sprintf("Number of segments not attempted to start: %d", skipped))
	}
	if skipped > 0 || connWarned {
		log.Info("Check status of database with gpstate utility")
	} else {
		log.Info("Database successfully started")
	}
	return nil
}

func (s *starter) confirm(ctx context.Context, q string) error {
	ok, err := app.Confirm(ctx, s.env, q, "")
	if err != nil {
		return err
	}
	if !ok {
		return app.ErrUserAbort
	}
	return nil
}

// confirmCoordinatorOnly is step 4's warning and prompt for -m.
func (s *starter) confirmCoordinatorOnly(ctx context.Context) error {
	log := s.env.Log
	internal := "GPSTART_INTERNAL_MASTER_ONLY"
	if s.flavour != cluster.GP6 {
		internal = "GPSTART_INTERNAL_COORDINATOR_ONLY"
	}
	if s.env.Getenv(internal) != "" {
		log.Info(s.coordCap + "-only start requested for management utilities.")
		return nil
	}
	stars := strings.Repeat("*", 76)
	log.Warn(stars)
	if s.flavour == cluster.GP6 {
		log.Warn("Master-only start requested. If a standby master is configured, this command")
	} else {
		log.Warn("Coordinator-only start requested. If a standby is configured, this command")
	}
	log.Warn("may lead to a split-brain condition and possible unrecoverable data loss.")
	log.Warn("Maintenance mode should only be used with direction from " + s.flavour.ProductWord() + " Support.")
	log.Warn(stars)
	if s.opts.NonInteractive {
		return nil
	}
	return s.confirm(ctx, "Continue with "+s.coord+"-only startup")
}

// router routes commands: locally on the coordinator's host, over SSH elsewhere.
func (s *starter) router() remote.Executor {
	local := []string{"localhost"}
	if s.cluster != nil {
		local = append(local, s.cluster.Coordinator().Hostname)
	}
	var ssh remote.Executor
	if s.ssh != nil {
		ssh = s.ssh
	}
	return remote.Router{Local: s.env.Exec, Remote: ssh, LocalHosts: local}
}

// runner runs commands for n hosts, -B at once.
func (s *starter) runner(n int) remote.Runner {
	return remote.Runner{Exec: s.router(), Limit: min(max(n, 1), s.opts.Parallel)}
}

// stopCoordinator stops the coordinator as Greenplum's gpstart does with
// `gpstop -a -m -M <mode>` (pkg/coordctl, gpstop's own code), its lines
// logged at DEBUG as Greenplum logs that gpstop's output.
func (s *starter) stopCoordinator(ctx context.Context, mode string) error {
	s.env.Log.Debug(fmt.Sprintf("Running gpstop -a -m -M %s -d %s -B %d in-process", mode, s.mdd, s.opts.Parallel))
	co := cluster.Segment{Hostname: s.env.Hostname, DataDir: s.mdd, Port: s.port, ContentID: -1}
	if s.cluster != nil {
		co = s.cluster.Coordinator()
	}
	env := coordctl.EnvOf(s.env)
	env.Log = slog.New(gplog.AsDebug(s.env.Log.Handler()))
	env.Out = io.Discard
	_, err := coordctl.Stop{GPHome: s.gphome, Flavour: s.flavour, Coordinator: co, DataDir: s.mdd, Port: s.port,
		Mode: mode, Timeout: pgcmd.DefaultStopTimeout}.Run(ctx, env)
	return err
}

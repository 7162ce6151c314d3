package startup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// prepare is steps 1 and 2: environment, versions.
func (s *starter) prepare(ctx context.Context) (err error) {
	log := s.env.Log
	log.Info("Gathering information and validating the environment...")
	if s.gphome, err = cluster.GPHome(s.env.Getenv); err != nil {
		return &app.ExpectedError{Err: err}
	}
	log.Debug("---Checking that current user can use GP binaries")
	if err := s.checkBinaries(ctx); err != nil {
		return err
	}
	if s.version, s.mdd, err = coordinator.Locate(ctx, s.env, s.gphome, s.opts.DataDir); err != nil {
		return err
	}
	// pg_ctl gets it before any catalog is read.
	if err := coordinator.CheckDataDir(log, coordinator.RefuseUnsafe, s.mdd); err != nil {
		return err
	}
	s.flavour = s.version.Flavour
	s.coord, s.coordCap = s.flavour.CoordinatorWord(), s.flavour.CoordinatorTitle()
	conf, port, err := coordinator.ReadConf(log, s.mdd, s.flavour)
	if err != nil {
		return err
	}
	s.port = port
	if s.maxConns, err = conf.MaxConnections(); err != nil {
		return app.Errorf("%s max_connections: %w", s.coord, err)
	}
	log.Debug(fmt.Sprintf("Read from postgresql.conf max_connections=%d", s.maxConns))
	log.Debug("Running Command: $GPHOME/bin/postgres --gp-version")
	log.Info(fmt.Sprintf("%s Binary Version: '%s'", s.flavour.ProductWord(), s.version.Raw))
	return s.checkCatalogVersion(ctx)
}

// checkBinaries is gp.check_permissions: the user must be able to run
// $GPHOME/bin/initdb.
func (s *starter) checkBinaries(ctx context.Context) error {
	initdb := filepath.Join(s.gphome, "bin", "initdb")
	if r := s.env.Exec.Exec(ctx, remote.Command{Host: "localhost", Argv: []string{"test", "-x", initdb}, Label: "check " + initdb, Timeout: localTimeout}); r.OK() {
		return nil
	}
	return &app.HintError{
		Err:  app.Errorf("File permission mismatch.  The current user %s does not have sufficient privileges to run the Greenplum binaries and management utilities.", s.env.User),
		Hint: fmt.Sprintf("%s is missing or not executable: is GPHOME=%s a Greenplum installation?", initdb, s.gphome),
	}
}

// checkCatalogVersion is step 2: the binaries' catalog version must be the
// coordinator data directory's.
func (s *starter) checkCatalogVersion(ctx context.Context) error {
	log := s.env.Log
	log.Debug("Running Command: $GPHOME/bin/postgres --catalog-version")
	r := s.env.Exec.Exec(ctx, remote.Command{Host: "localhost", Argv: []string{filepath.Join(s.gphome, "bin", "postgres"), "--catalog-version"}, Label: "catalog version", Timeout: localTimeout})
	if !r.OK() {
		return app.Errorf("postgres --catalog-version failed: %s", resultText(r))
	}
	_, binCat, _ := strings.Cut(strings.TrimSpace(r.Stdout), ":")
	binCat = strings.TrimSpace(binCat)
	log.Info(fmt.Sprintf("%s Catalog Version: '%s'", s.flavour.ProductWord(), binCat))
	log.Debug("Running Command: $GPHOME/bin/pg_controldata " + s.mdd)
	cd := s.env.Exec.Exec(ctx, cluster.ControlDataCommand("localhost", s.gphome, s.mdd))
	if !cd.OK() {
		return app.Errorf("pg_controldata %s failed: %s", s.mdd, resultText(cd))
	}
	dirCat, _ := cluster.ControlDataField(cd.Stdout, cluster.ControlCatalogVersion)
	if dirCat != binCat {
		word := "MASTER"
		if s.flavour != cluster.GP6 {
			word = "COORDINATOR"
		}
		log.Info(fmt.Sprintf("%s_DIRECTORY Catalog Version: '%s'", word, dirCat))
		log.Info(fmt.Sprintf("Catalog Version of %s directory incompatible with binaries", s.coord))
		return app.Errorf("Catalog Versions are incompatible")
	}
	return nil
}

// resultText says why a command failed, in one line.
func resultText(r remote.Result) string {
	if msg := strings.TrimSpace(r.Stderr); msg != "" {
		return strings.ReplaceAll(msg, "\n", " ")
	}
	var he *remote.HostError
	if errors.As(r.Err, &he) && he.Err != nil {
		return he.Err.Error()
	}
	if r.Err != nil {
		return r.Err.Error()
	}
	return fmt.Sprintf("exit status %d", r.ExitCode)
}

// socketPath is the coordinator's Unix socket.
func (s *starter) socketPath() string { return fmt.Sprintf("/tmp/.s.PGSQL.%d", s.port) }

// portActive reports whether a server answers on the coordinator's port:
// on its Unix socket in /tmp or on TCP over loopback.
func (s *starter) portActive() bool {
	for _, a := range [][2]string{{"unix", s.socketPath()}, {"tcp", net.JoinHostPort("localhost", fmt.Sprint(s.port))}} {
		if c, err := net.DialTimeout(a[0], a[1], time.Second); err == nil {
			_ = c.Close() // only probing
			return true
		}
	}
	return false
}

// recoverStaleCoordinator is step 3, run when MDD/postmaster.pid exists: a
// running coordinator stops gpstart (exit 2, nothing changed); a crashed
// one has its pid and socket files cleared, is started in admin mode and
// stopped immediate, so that the real start finds a consistent directory.
func (s *starter) recoverStaleCoordinator(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(s.mdd, "postmaster.pid")); errors.Is(err, fs.ErrNotExist) {
		log := s.env.Log
		log.Debug(fmt.Sprintf("Check if %s is already running...", s.coordCap))
		return nil
	}
	log := s.env.Log
	log.Warn(fmt.Sprintf("postmaster.pid file exists on %s, checking if recovery startup required", s.coordCap))
	log.Info("Commencing recovery startup checks")
	sock := s.socketPath()
	_, serr := os.Stat(sock)
	haveSock, active := serr == nil, s.portActive()
	switch {
	case haveSock && active:
		log.Info(fmt.Sprintf("Have lock file %s and a process running on port %d", sock, s.port))
		return &app.HintError{Err: &app.ExpectedError{Err: fmt.Errorf("%s instance process running", s.coordCap)},
			Hint: "the cluster looks started already; check it with gpstate, or stop it with gpstop first"}
	case haveSock:
		log.Info(fmt.Sprintf("Have lock file %s but no process running on port %d", sock, s.port))
	case active:
		log.Info(fmt.Sprintf("No lock file %s but a process running on port %d", sock, s.port))
		return app.Errorf("Port %d is already in use", s.port)
	default:
		log.Info(fmt.Sprintf("No socket connection or lock file in /tmp found for port=%d", s.port))
	}
	log.Info(fmt.Sprintf("No %s instance process, entering recovery startup mode", s.coordCap))
	if haveSock {
		log.Info(fmt.Sprintf("Clearing %s instance lock files", s.coordCap))
		if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return app.Errorf("remove %s: %w", sock, err)
		}
	}
	log.Info(fmt.Sprintf("Clearing %s instance pid file", s.coordCap))
	if err := os.Remove(filepath.Join(s.mdd, "postmaster.pid")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return app.Errorf("remove %s: %w", filepath.Join(s.mdd, "postmaster.pid"), err)
	}
	wctx := context.WithoutCancel(ctx)
	if err := s.pgCtlStart(wctx, s.adminStart()); err != nil {
		return err
	}
	log.Info("Commencing forced instance shutdown")
	if err := s.stopCoordinator(wctx, "immediate"); err != nil {
		return app.Errorf("forced shutdown of the %s after recovery startup: %w", s.coord, err)
	}
	return nil
}

// clearSocket is step 4: a socket file left in /tmp is removed, unless a
// server answers on the port (then nothing is touched: exit 2).
func (s *starter) clearSocket() error {
	if s.portActive() {
		return &app.HintError{Err: &app.ExpectedError{Err: fmt.Errorf("Port %d is already in use", s.port)},
			Hint: fmt.Sprintf("a server already listens on the %s's port; if it is this cluster, it is started already (see gpstate)", s.coord)}
	}
	if _, err := os.Stat(s.socketPath()); err == nil {
		s.env.Log.Info(fmt.Sprintf("Clearing %s instance lock files", s.coordCap))
		if err := os.Remove(s.socketPath()); err != nil {
			return app.Errorf("remove %s: %w", s.socketPath(), err)
		}
	}
	return nil
}

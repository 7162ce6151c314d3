package startup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// restricted is the superuser_reserved_connections -R asks for.
func (s *starter) restricted() int {
	if s.opts.Restricted {
		return s.maxConns
	}
	return 0
}

// adminStart is the coordinator's start in utility role (steps 3 and 5).
func (s *starter) adminStart() pgcmd.Start {
	return pgcmd.Start{Flavour: s.flavour, GPHome: s.gphome, Kind: pgcmd.CoordinatorUtility, DataDir: s.mdd, Port: s.port,
		Wait: true, Timeout: s.opts.Timeout, RestrictedConnections: s.restricted(), SpecialMode: s.opts.SpecialMode}
}

// pgCtlStart runs one pg_ctl start on this host.
func (s *starter) pgCtlStart(ctx context.Context, st pgcmd.Start) error {
	line := st.Display()
	if s.flavour != cluster.GP6 {
		s.env.Log.Info("CoordinatorStart pg_ctl cmd is " + line)
	}
	s.env.Log.Debug("Running Command: " + line)
	r := s.env.Exec.Exec(ctx, remote.Command{Host: "localhost", Argv: st.Argv(), Label: "start " + s.coord,
		Timeout: segctl.PlanTimeout(st.Timeout, 1, 1)})
	if !r.OK() {
		return fmt.Errorf("%s\nstdout: %s\nstderr: %s", line, strings.TrimSpace(r.Stdout), resultText(r))
	}
	return nil
}

// startCoordinatorAdmin is step 5: the coordinator in utility role, the
// catalog read from it (no pair validation: gpstart must start broken
// clusters too), a new era.
func (s *starter) startCoordinatorAdmin(ctx context.Context) error {
	log := s.env.Log
	mode := "admin mode"
	if s.opts.Restricted {
		mode = "admin and RESTRICTED mode"
	}
	log.Info(fmt.Sprintf("Starting %s instance in %s", s.coordCap, mode))
	if err := s.pgCtlStart(ctx, s.adminStart()); err != nil {
		log.Log(ctx, gplog.LevelCritical, fmt.Sprintf("Failed to start %s instance in %s", s.coordCap, mode))
		return &app.ExpectedError{Err: err}
	}
	if err := s.readCatalog(ctx); err != nil {
		return errors.Join(err, s.stopCoordinator(ctx, "fast"))
	}
	log.Info("Setting new " + s.coord + " era")
	s.era = cluster.NewEra(s.env.Hostname, s.port, s.mdd, s.env.Now())
	if err := s.writeEra(); err != nil {
		return errors.Join(app.Errorf("%w", err), s.stopCoordinator(ctx, "fast"))
	}
	log.Info(s.coordCap + " Started...")
	return nil
}

func (s *starter) readCatalog(ctx context.Context) (err error) {
	log := s.env.Log
	log.Info(fmt.Sprintf("Obtaining %s %s catalog information", s.flavour.ProductWord(), s.coordCap))
	log.Info(fmt.Sprintf("Obtaining Segment details from %s...", s.coord))
	cfg := cluster.ConnConfig{Port: s.port, Flavour: s.flavour, Utility: true, StartupWait: s.startupWait()}
	log.Debug(cluster.ConnectMessage(cfg))
	conn, err := s.env.Connect(ctx, cfg)
	if err != nil {
		return app.Errorf("cannot connect to the %s on port %d: %w", s.coord, s.port, err)
	}
	defer func() { err = errors.Join(err, conn.Close(ctx)) }()
	if s.cluster, err = coordinator.LoadCatalog(ctx, conn, s.mdd, s.port, s.flavour); err != nil {
		return err
	}
	// Segment paths reach pg_ctl unless only the coordinator starts (-m),
	// which must stay possible to repair such a catalog.
	policy := coordinator.RefuseUnsafe
	if s.opts.CoordinatorOnly {
		policy = coordinator.WarnUnsafe
	}
	return coordinator.CheckCatalog(log, policy, s.cluster, s.mdd)
}

// writeEra writes s.era, logging as gp_era.py does.
func (s *starter) writeEra() error {
	log := s.env.Log
	log.Debug(cluster.EraPath(s.mdd, s.flavour) + " - write_gp_era")
	log.Debug("opening new file")
	if err := cluster.WriteEra(s.mdd, s.flavour, s.era); err != nil {
		return err
	}
	log.Debug("wrote era: " + s.era) // INFO in Greenplum, but its console never shows it
	log.Debug("setting read only")
	log.Debug("verifying file")
	return nil
}

// Connection check of step 17: Greenplum's 15 s timeout, 4 tries.
const (
	checkTimeout = 15 * time.Second
	checkTries   = 4
)

// startCoordinator is step 17: the coordinator in dispatch role, checked
// with pg_ctl status and one normal connection. It returns the connection
// check's complaint ("" when it connected).
func (s *starter) startCoordinator(ctx context.Context) (string, error) {
	log := s.env.Log
	co := s.cluster.Coordinator()
	restricted := ""
	if s.opts.Restricted {
		restricted = "in RESTRICTED mode"
	}
	log.Info(fmt.Sprintf("Starting %s instance %s directory %s %s", s.coordCap, co.Hostname, s.mdd, restricted))
	st := pgcmd.Start{Flavour: s.flavour, GPHome: s.gphome, Kind: pgcmd.CoordinatorNormal, DataDir: s.mdd, Port: s.port,
		Era: s.era, Wait: true, Timeout: s.opts.Timeout, RestrictedConnections: s.restricted(), SpecialMode: s.opts.SpecialMode}
	if err := s.pgCtlStart(ctx, st); err != nil {
		return "", app.Errorf("could not start the %s: %w", s.coord, err)
	}
	status := pgcmd.Status(s.gphome, s.mdd)
	log.Debug("Running Command: " + pgcmd.Display(s.gphome, status))
	if r := s.env.Exec.Exec(ctx, remote.Command{Host: "localhost", Argv: status, Label: "status of " + s.coord, Timeout: time.Minute}); r.ExitCode != 0 {
		log.Warn(fmt.Sprintf("Command pg_ctl reports %s %s on port %d not running", s.coordCap, s.mdd, s.port))
		log.Warn(s.coordCap + " could not be started")
		return "", &app.ExitError{Code: app.ExitFailures}
	}
	log.Info(fmt.Sprintf("Command pg_ctl reports %s %s instance active", s.coordCap, co.Hostname))
	msg := s.checkConnection(ctx)
	if strings.Contains(msg, "PANIC") {
		log.Log(ctx, gplog.LevelCritical, msg)
		return msg, app.Errorf("the %s refused connections after its start: %s", s.coord, msg)
	}
	if msg != "" {
		log.Warn(msg)
	}
	if err := s.writeEra(); err != nil {
		return msg, app.Errorf("%w", err)
	}
	return msg, nil
}

// startupWait bounds the wait for a coordinator that pg_ctl -w reported
// started while it was still in crash recovery (hot_standby is off): the
// same -t that bounds the start.
func (s *starter) startupWait() time.Duration {
	return time.Duration(s.opts.Timeout) * time.Second
}

// checkConnection opens and closes one normal connection; it returns the
// last error's message, or "".
func (s *starter) checkConnection(ctx context.Context) string {
	cfg := cluster.ConnConfig{Port: s.port, Flavour: s.flavour, ConnectTimeout: checkTimeout, Retries: checkTries, StartupWait: s.startupWait()}
	s.env.Log.Info(cluster.ConnectMessage(cfg))
	conn, err := s.env.Connect(ctx, cfg)
	if err != nil {
		return err.Error()
	}
	if err := conn.Close(ctx); err != nil {
		return err.Error()
	}
	return ""
}

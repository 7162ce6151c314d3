package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// ReadConf reads the coordinator's postgresql.conf in dataDir and its port,
// logging at DEBUG as Greenplum's tools do ("Obtaining master's port from
// master data directory", "Read from postgresql.conf port=7000"). The
// errors say which file and setting are wrong, and which instance a
// mirror's, standby's or segment's directory belongs to
// (cluster.CheckCoordinatorDataDir).
func ReadConf(log *slog.Logger, dataDir string, f cluster.Flavour) (conf cluster.Conf, port int, err error) {
	word := f.CoordinatorWord()
	log.Debug(fmt.Sprintf("Obtaining %s's port from %s data directory", word, word))
	if conf, err = cluster.ReadPostgresConf(dataDir); err != nil {
		return nil, 0, app.Errorf("%w (is %s the %s data directory?)", err, dataDir, word)
	}
	if port, err = conf.Port(); err != nil {
		return nil, 0, app.Errorf("%s port in %s: %w", word, filepath.Join(dataDir, "postgresql.conf"), err)
	}
	if err := cluster.CheckCoordinatorDataDir(dataDir, f); err != nil {
		return nil, 0, &app.ExpectedError{Err: err}
	}
	log.Debug(fmt.Sprintf("Read from postgresql.conf port=%d", port))
	return conf, port, nil
}

// Locate learns, before any connection, the installed binaries' version
// ($GPHOME/bin/postgres --gp-version, hence the flavour) and the
// coordinator data directory (-d, else the flavour's environment
// variable), with the errors the tools give.
func Locate(ctx context.Context, env *app.Env, gphome, dataDirFlag string) (cluster.Version, string, error) {
	v, err := cluster.LocalVersion(ctx, env.Exec, gphome)
	if err != nil {
		return cluster.Version{}, "", app.Errorf("%w (is GPHOME=%s a Greenplum installation?)", err, gphome)
	}
	mdd, err := cluster.CoordinatorDataDir(dataDirFlag, env.Getenv, v.Flavour)
	if err != nil {
		return cluster.Version{}, "", &app.ExpectedError{Err: err}
	}
	return v, mdd, nil
}

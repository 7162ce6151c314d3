// Package coordinator opens a cluster the way every tool starts (spec
// §1.5-§1.7): find GPHOME and the coordinator data directory, learn the
// flavour from the installed binaries, read the coordinator's port, connect,
// log both versions, and load and validate the segment configuration.
package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
)

// Options say how a tool opens the coordinator.
type Options struct {
	// DataDir is the -d value; "" means the environment's.
	DataDir string
	// Utility connects in utility mode, as gpstate and gpstart do;
	// gprecoverseg and gpaddmirrors use a normal (dispatch) connection.
	Utility bool
	// ConnectTimeout and Retries apply to the first connection (gpstate's
	// --timeout and --retries); zero means no timeout and one attempt.
	ConnectTimeout time.Duration
	Retries        int
	// UnsafePaths says what to do with a coordinator data directory or a
	// catalog row that a shell would interpret (see PathPolicy); the zero
	// value refuses. Only gpstate, which only reads, warns instead.
	UnsafePaths PathPolicy
}

// Coordinator is an open coordinator: what was found on the way and the
// loaded segment configuration. Close releases its connection.
type Coordinator struct {
	GPHome         string
	DataDir        string
	Port           int
	MaxConnections int
	State          cluster.CoordinatorState
	Local          cluster.Version // from $GPHOME/bin/postgres --gp-version
	ServerVersion  string          // select version() on the coordinator
	Cluster        *cluster.Cluster
	Conn           cluster.Conn
}

// Flavour is the flavour of the installed binaries, which decides options,
// command lines and wording.
func (c *Coordinator) Flavour() cluster.Flavour { return c.Local.Flavour }

// Close closes the coordinator connection.
func (c *Coordinator) Close(ctx context.Context) error {
	if c.Conn == nil {
		return nil
	}
	err := c.Conn.Close(ctx)
	c.Conn = nil
	return err
}

// Open runs the common prelude of the tools and returns the open
// coordinator. Errors are app.ExpectedError values with Greenplum's wording
// where Greenplum has one ("Environment Variable GPHOME not set",
// "Greenplum database appears to be stopped", "Invalid GpArray: ...").
func Open(ctx context.Context, env *app.Env, opts Options) (_ *Coordinator, err error) {
	log := env.Log
	c := &Coordinator{}
	if c.GPHome, err = cluster.GPHome(env.Getenv); err != nil {
		return nil, &app.ExpectedError{Err: err}
	}

	log.Debug("Running Command: $GPHOME/bin/postgres --gp-version")
	if c.Local, err = cluster.LocalVersion(ctx, env.Exec, c.GPHome); err != nil {
		return nil, app.Errorf("%w (is GPHOME=%s a Greenplum installation?)", err, c.GPHome)
	}
	f := c.Local.Flavour
	word := f.CoordinatorWord()
	log.Info(fmt.Sprintf("local %s Version: '%s'", f.ProductWord(), c.Local.Raw))

	if c.DataDir, err = cluster.CoordinatorDataDir(opts.DataDir, env.Getenv, f); err != nil {
		return nil, &app.ExpectedError{Err: err}
	}
	if err := CheckDataDir(log, opts.UnsafePaths, c.DataDir); err != nil {
		return nil, err
	}
	conf, port, err := ReadConf(log, c.DataDir, f)
	if err != nil {
		return nil, err
	}
	c.Port = port
	if c.MaxConnections, err = conf.MaxConnections(); err == nil {
		log.Debug(fmt.Sprintf("Read from postgresql.conf max_connections=%d", c.MaxConnections))
	}
	if c.State, err = cluster.ReadCoordinatorState(c.DataDir); err != nil {
		if errors.Is(err, cluster.ErrStopped) {
			return nil, &app.HintError{Err: &app.ExpectedError{Err: err},
				Hint: fmt.Sprintf("no postmaster.pid in %s: start the cluster with gpstart", c.DataDir)}
		}
		return nil, &app.ExpectedError{Err: err}
	}

	cfg := cluster.ConnConfig{
		Port:           c.Port,
		Flavour:        f,
		Utility:        opts.Utility,
		ConnectTimeout: opts.ConnectTimeout,
		Retries:        opts.Retries,
	}
	log.Debug(cluster.ConnectMessage(cfg))
	if c.Conn, err = env.Connect(ctx, cfg); err != nil {
		return nil, app.Errorf("cannot connect to the %s on port %d: %w", word, c.Port, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close(ctx))
		}
	}()
	if c.ServerVersion, err = cluster.ServerVersion(ctx, c.Conn); err != nil {
		return nil, err
	}
	log.Info(fmt.Sprintf("%s %s Version: '%s'", word, f.ProductWord(), c.ServerVersion))
	server, err := serverVersion(ctx, c.Conn, c.ServerVersion, c.Local)
	if err != nil {
		return nil, app.Errorf("%s at port %d: %w", word, c.Port, err)
	}
	if err = cluster.CheckCompatible(c.Local, server); err != nil {
		return nil, &app.ExpectedError{Err: err}
	}

	log.Info(fmt.Sprintf("Obtaining Segment details from %s...", word))
	if c.Cluster, err = LoadCatalog(ctx, c.Conn, c.DataDir, c.Port, f); err != nil {
		return nil, err
	}
	// Before any action on them (safety invariants 5 and 7).
	if err = CheckCatalog(log, opts.UnsafePaths, c.Cluster, c.DataDir); err != nil {
		return nil, err
	}
	// Pairs are not validated against a coordinator in utility mode: it
	// is started that way precisely while the catalog is being repaired.
	if !c.State.Utility {
		log.Debug("Validating configuration...")
		if err = c.Cluster.ValidatePairs(); err != nil {
			return nil, &app.ExpectedError{Err: err}
		}
	}
	return c, nil
}

// serverVersion is the coordinator's release: parsed from version() where
// that names it, as on Greenplum (and the compat test bed); otherwise from
// gp_server_version_num, for a server whose version() is PostgreSQL's own.
// The product is then taken to be the installed one.
func serverVersion(ctx context.Context, q cluster.Querier, versionText string, local cluster.Version) (cluster.Version, error) {
	if v, err := cluster.ParseGPVersion(versionText); err == nil {
		return v, nil
	}
	n, err := cluster.ServerVersionNum(ctx, q)
	if err != nil {
		return cluster.Version{}, fmt.Errorf("version() names no Greenplum release and %w", err)
	}
	return cluster.Version{
		Flavour: cluster.FlavourFromVersionNum(n),
		Product: local.Product,
		Major:   n / 10000,
		Minor:   n / 100 % 100,
		Patch:   n % 100,
		Raw:     versionText,
	}, nil
}

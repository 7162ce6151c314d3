package gpdemo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Destroy stops every instance the manifest in o.Dir lists (fast, then
// immediate on a failure or timeout), over SSH per host or locally as the
// manifest records and removes what gpdemo created: DIR itself only when
// create made it, so an empty DIR that was given stays. It refuses a DIR
// without a manifest, which gpdemo did not make. Run again on a
// half-destroyed DIR it completes the job; on a missing DIR it has nothing
// to do.
func Destroy(ctx context.Context, env *Env, o *DestroyOptions) (err error) {
	start := env.Now()
	if err := checkNotRoot(env); err != nil {
		return err
	}
	dir, err := absDir(o.Dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		env.Log.Info(dir + " does not exist: nothing to destroy")
		return nil
	}
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, lock.release()) }()
	m, err := ReadManifest(dir)
	if errors.Is(err, ErrNoManifest) {
		return app.Errorf("%s has no %s: it was not made by gpdemo create (or is already destroyed); refusing to remove it", dir, ManifestName)
	}
	if err != nil {
		return &app.ExpectedError{Err: err}
	}
	if err := destroyLocked(ctx, env, &o.CommonOptions, m, m.DirCreated); err != nil {
		return err
	}
	env.Log.Info(fmt.Sprintf("Demo cluster destroyed in %.1f seconds", env.Now().Sub(start).Seconds()))
	return nil
}

// destroyLocked stops every instance of m's cluster and removes what
// gpdemo created, DIR itself when removeDir is set; the caller holds DIR's
// lock.
func destroyLocked(ctx context.Context, env *Env, o *app.CommonOptions, m Manifest, removeDir bool) (err error) {
	ex := localRouter(env, m.CoordinatorHost)
	if !m.Local {
		opts := env.SSHOptions(o, m.GPHome)
		if _, err := os.Stat(opts.EnvScript); err != nil {
			opts.EnvScript = "" // GPHOME is gone: the stop script signals postmasters itself
		}
		ssh, err := env.NewSSH(opts)
		if err != nil {
			return app.Errorf("ssh: %w", err)
		}
		defer func() {
			if cerr := ssh.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close ssh connections: %w", cerr))
			}
		}()
		ex.Remote = ssh
	}
	env.Log.Info(fmt.Sprintf("Destroying the demo cluster in %s: %d instances", m.Dir, len(m.Instances)))
	// A create killed midway may have left its instance creation running.
	// A pid file that names no process of that create (its pid reused,
	// or not ours) is reported and left: the teardown goes on.
	for _, h := range m.Plan.Hosts() {
		if err := remote.Stop(ctx, ex, h, CreatePIDFile(m.Plan.Dir, h)); err != nil {
			env.Log.Warn(fmt.Sprintf("Could not stop what a gpdemo create left running on %s: %v", h, err))
		}
	}
	if err := teardown(ctx, env, ex, withCatalogInstances(ctx, env, m.Plan), "fast"); err != nil {
		return err
	}
	return removeLocal(m, removeDir)
}

// teardown stops every instance of p and then, only when all are stopped,
// removes their data directories (never the data directory of a running
// instance).
func teardown(ctx context.Context, env *Env, ex remote.Router, p Plan, mode string) error {
	return runSteps(ctx, env, ex, p, TeardownSteps(p, mode))
}

// removeLocal removes the env file and the manifest (last, so that a rerun
// still finds it), then DIR when removeDir is set. DIR is removed only when
// empty: whatever else is in it was not made by gpdemo, and is named.
func removeLocal(m Manifest, removeDir bool) error {
	for _, f := range []string{EnvFilePath(m.Dir), ManifestPath(m.Dir) + ".tmp", ManifestPath(m.Dir)} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", f, err)
		}
	}
	if !removeDir {
		return nil
	}
	err := os.Remove(m.Dir)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	entries, rerr := os.ReadDir(m.Dir)
	if rerr == nil && len(entries) > 0 {
		return app.Errorf("%s still holds %s, which gpdemo did not create: remove it yourself", m.Dir, listNames(entries))
	}
	return fmt.Errorf("remove %s: %w", filepath.Clean(m.Dir), err)
}

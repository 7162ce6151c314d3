package gpdemo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// rollbackTimeout bounds a rollback, which runs even after Ctrl-C.
const rollbackTimeout = 5 * time.Minute

// Create builds the demo cluster o asks for. Every check runs before
// anything is created or destroyed: not root, DIR absent, empty or left by
// a create that did not finish, a usable GPHOME, every host name resolving
// to loopback addresses, a plan for the mirrors, and (over SSH) every host
// key known and every host ready. Then, holding DIR's lock (dirLock), it
// destroys by its manifest what an unfinished create left in DIR (the
// same command run again after a kill finishes), checks every port is
// free, writes the manifest, runs CreateSteps and writes the env file. A
// failure after the manifest rolls back: every instance is stopped
// (immediate) and everything gpdemo created is removed.
func Create(ctx context.Context, env *Env, o *CreateOptions) (err error) {
	start := env.Now()
	p, err := prepare(ctx, env, o)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(p.Render()), "\n") {
		env.Log.Info("Plan: " + line)
	}
	// An unfinished create's instances may hold the ports: checked once
	// they are destroyed.
	if _, unfinished := unfinishedCreate(p.Dir); !unfinished {
		if err := checkPorts(p); err != nil {
			return err
		}
	}
	ex := localRouter(env, p.CoordinatorHost)
	if !p.Local {
		ssh, err := env.OpenSSH(&o.CommonOptions, p.GPHome)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := ssh.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close ssh connections: %w", cerr))
			}
		}()
		if err := checkSSH(ctx, env, ssh, p); err != nil {
			return err
		}
		ex.Remote = ssh
	}

	lock, dirCreated, err := claimDir(ctx, env, o, p.Dir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, lock.release()) }()
	if err := checkPorts(p); err != nil {
		return err
	}

	// Creation begins: from here on a failure rolls back.
	m := Manifest{Version: manifestVersion, Plan: p, DirCreated: dirCreated}
	if lock == nil {
		if err := os.Mkdir(p.Dir, 0o755); err != nil {
			return app.Errorf("create %s: %w", p.Dir, err)
		}
		// Made here, locked at once: a create that locks it first
		// (having found it empty) is let be, and this one refuses.
		if lock, err = lockDir(p.Dir); err != nil {
			return err
		}
	}
	if err := WriteManifest(m); err != nil {
		return errors.Join(err, removeLocal(m, m.DirCreated))
	}
	env.Log.Info("Wrote the manifest " + ManifestPath(p.Dir))
	err = runSteps(ctx, env, ex, p, CreateSteps(p))
	if err == nil && len(p.Mirrors()) > 0 {
		env.Log.Info(fmt.Sprintf("Building %d mirrors (%s)", len(p.Mirrors()), o.Mirrors))
		if err = buildMirrors(ctx, env, ex, p); err != nil {
			err = fmt.Errorf("build mirrors: %w", err)
		}
	}
	if err == nil {
		err = writeEnvFile(p)
	}
	if err != nil {
		return errors.Join(err, rollback(ctx, env, ex, m))
	}
	env.Log.Info(fmt.Sprintf("Demo cluster created in %.1f seconds: coordinator on port %d, %d primaries, %d mirrors", env.Now().Sub(start).Seconds(), p.Coordinator().Port, len(p.Primaries()), len(p.Mirrors())))
	env.Log.Info("To use it: source " + EnvFilePath(p.Dir))
	return nil
}

// claimDir takes dir's lock when dir exists (nil when it does not: the
// caller makes it and locks it then) and, holding it, checks dir again: an
// unfinished create's DIR is destroyed by its manifest, keeping DIR, and
// what that create recorded of DIR is carried over; any other content is
// refused. It reports whether the cluster's DIR counts as made by gpdemo.
func claimDir(ctx context.Context, env *Env, o *CreateOptions, dir string) (*dirLock, bool, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, true, nil
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, false, err
	}
	m, unfinished := unfinishedCreate(dir)
	if !unfinished {
		if _, err := checkDir(dir); err != nil {
			return nil, false, errors.Join(err, lock.release())
		}
		return lock, false, nil
	}
	env.Log.Warn(fmt.Sprintf("%s holds the manifest of a gpdemo create that did not finish (no %s): destroying what it made, then creating again", dir, EnvFileName))
	if err := destroyLocked(ctx, env, &o.CommonOptions, m, false); err != nil {
		return nil, false, errors.Join(err, lock.release())
	}
	if _, err := checkDir(dir); err != nil {
		return nil, false, errors.Join(err, lock.release())
	}
	return lock, m.DirCreated, nil
}

// prepare runs the checks that need no port or host probing and builds the
// plan.
func prepare(ctx context.Context, env *Env, o *CreateOptions) (Plan, error) {
	if err := checkNotRoot(env); err != nil {
		return Plan{}, err
	}
	dir, err := absDir(o.Dir)
	if err != nil {
		return Plan{}, err
	}
	// Every data directory of the demo lives under dir.
	if err := cluster.CheckPath("demo directory (--dir)", dir); err != nil {
		return Plan{}, &app.ExpectedError{Err: err}
	}
	if _, unfinished := unfinishedCreate(dir); !unfinished {
		if _, err := checkDir(dir); err != nil {
			return Plan{}, err
		}
	}
	home, err := gpHome(env, o.GPHome)
	if err != nil {
		return Plan{}, err
	}
	v, err := checkGPHome(ctx, env, home)
	if err != nil {
		return Plan{}, err
	}
	if v.Flavour != cluster.GP7 && v.Flavour != cluster.Cloudberry {
		return Plan{}, app.Errorf("GPHOME %s has %s %s: gpdemo speaks Greenplum 7's interface", home, v.Product, v.String())
	}
	env.Log.Info(fmt.Sprintf("GPHOME %s: %s", home, v.Raw))
	coord, _, _ := strings.Cut(env.Hostname, ".")
	if coord == "" {
		return Plan{}, app.Errorf("cannot tell this machine's host name")
	}
	hosts := append([]string{coord}, o.segmentHostNames()...)
	if s := o.standbyHostName(); s != "" {
		hosts = append(hosts, s)
	}
	addrs, err := resolveHosts(ctx, env, hosts)
	if err != nil {
		return Plan{}, err
	}
	tools, err := toolsDir(env, o.ToolsDir)
	if err != nil {
		return Plan{}, err
	}
	p, err := PlanDemoMirrors(BuildPlan(o, Facts{Dir: dir, GPHome: home, ToolsDir: tools, CoordinatorHost: coord, Addresses: addrs}), o.Mirrors)
	if err != nil {
		return Plan{}, app.Errorf("%w", err)
	}
	return p, nil
}

func writeEnvFile(p Plan) error {
	if err := os.WriteFile(EnvFilePath(p.Dir), []byte(EnvFile(p)), 0o644); err != nil {
		return fmt.Errorf("write the env file: %w", err)
	}
	return nil
}

// rollback undoes a failed create under its own timeout, even after Ctrl-C.
func rollback(ctx context.Context, env *Env, ex remote.Router, m Manifest) error {
	env.Log.Warn("Rolling back: stopping every instance and removing what gpdemo created")
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if err := teardown(ctx, env, ex, m.Plan, "immediate"); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	if err := removeLocal(m, m.DirCreated); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	env.Log.Info("Rolled back: nothing of the demo cluster is left")
	return nil
}

// unfinishedCreate reports whether dir holds what a create that never
// finished left: its manifest, and not the env file, written last. A
// finished cluster, or a DIR gpdemo did not make, is left to checkDir,
// which refuses a DIR that is not empty.
func unfinishedCreate(dir string) (Manifest, bool) {
	m, err := ReadManifest(dir)
	if err != nil {
		return Manifest{}, false
	}
	if _, err := os.Stat(EnvFilePath(dir)); !errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, false
	}
	return m, true
}

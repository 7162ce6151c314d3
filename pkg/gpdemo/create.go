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
// anything is created: not root, DIR absent or empty, a usable GPHOME,
// every host name resolving to loopback addresses, every port free, and
// (over SSH) every host key known and every host ready. Then it writes the
// manifest, runs CreateSteps and writes the env file. A failure after the
// manifest rolls back: every instance is stopped (immediate) and
// everything gpdemo created is removed. A DIR left by a create that was
// killed (its manifest, no env file) is destroyed first, by its manifest:
// the same command run again finishes.
func Create(ctx context.Context, env *Env, o *CreateOptions) (err error) {
	start := env.Now()
	if err := destroyUnfinished(ctx, env, o); err != nil {
		return err
	}
	p, dirExists, err := prepare(ctx, env, o)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(p.Render()), "\n") {
		env.Log.Info("Plan: " + line)
	}
	if err := checkPorts(p); err != nil {
		return err
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

	// Creation begins: from here on a failure rolls back.
	m := Manifest{Version: manifestVersion, Plan: p, DirCreated: !dirExists}
	if !dirExists {
		if err := os.Mkdir(p.Dir, 0o755); err != nil {
			return app.Errorf("create %s: %w", p.Dir, err)
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

// prepare runs the checks that need no port or host probing and builds the
// plan; it reports whether DIR exists (empty).
func prepare(ctx context.Context, env *Env, o *CreateOptions) (Plan, bool, error) {
	if err := checkNotRoot(env); err != nil {
		return Plan{}, false, err
	}
	dir, err := absDir(o.Dir)
	if err != nil {
		return Plan{}, false, err
	}
	// Every data directory of the demo lives under dir.
	if err := cluster.CheckPath("demo directory (--dir)", dir); err != nil {
		return Plan{}, false, &app.ExpectedError{Err: err}
	}
	exists, err := checkDir(dir)
	if err != nil {
		return Plan{}, false, err
	}
	home, err := gpHome(env, o.GPHome)
	if err != nil {
		return Plan{}, false, err
	}
	v, err := checkGPHome(ctx, env, home)
	if err != nil {
		return Plan{}, false, err
	}
	if v.Flavour != cluster.GP7 && v.Flavour != cluster.Cloudberry {
		return Plan{}, false, app.Errorf("GPHOME %s has %s %s: gpdemo speaks Greenplum 7's interface", home, v.Product, v.String())
	}
	env.Log.Info(fmt.Sprintf("GPHOME %s: %s", home, v.Raw))
	coord, _, _ := strings.Cut(env.Hostname, ".")
	if coord == "" {
		return Plan{}, false, app.Errorf("cannot tell this machine's host name")
	}
	hosts := append([]string{coord}, o.segmentHostNames()...)
	if s := o.standbyHostName(); s != "" {
		hosts = append(hosts, s)
	}
	addrs, err := resolveHosts(ctx, env, hosts)
	if err != nil {
		return Plan{}, false, err
	}
	tools, err := toolsDir(env, o.ToolsDir)
	if err != nil {
		return Plan{}, false, err
	}
	p, err := PlanDemoMirrors(BuildPlan(o, Facts{Dir: dir, GPHome: home, ToolsDir: tools, CoordinatorHost: coord, Addresses: addrs}), o.Mirrors)
	if err != nil {
		return Plan{}, false, app.Errorf("%w", err)
	}
	return p, exists, nil
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

// destroyUnfinished destroys, by its manifest, what an earlier create in
// o.Dir made when that create never finished: the env file, written last,
// is missing. A finished cluster, or a DIR gpdemo did not make, is left to
// the checks, which refuse a DIR that is not empty.
func destroyUnfinished(ctx context.Context, env *Env, o *CreateOptions) error {
	dir, err := absDir(o.Dir)
	if err != nil {
		return err
	}
	if _, err := ReadManifest(dir); err != nil {
		return nil
	}
	if _, err := os.Stat(EnvFilePath(dir)); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	env.Log.Warn(fmt.Sprintf("%s holds the manifest of a gpdemo create that did not finish (no %s): destroying what it made, then creating again", dir, EnvFileName))
	return Destroy(ctx, env, &DestroyOptions{CommonOptions: o.CommonOptions, Dir: o.Dir})
}

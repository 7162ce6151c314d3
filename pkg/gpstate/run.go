package gpstate

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// report is one run's state, shared by the modes.
type report struct {
	env  *app.Env
	opts *Options
	co   *coordinator.Coordinator
	st   *Status
}

// gathers says what mode needs from the hosts, and the line it logs
// before asking; ok is false when it asks nothing (the catalog-only modes,
// -e without mirrors, -f without a standby), as Greenplum's gpstate.
func gathers(m Mode, c *cluster.Cluster) (req Request, announce string, ok bool) {
	const gathering = "Gathering data from segments..."
	switch m {
	case ModeBrief:
		return Request{}, gathering, true
	case ModeStandby:
		sb, has := c.Standby()
		return Request{Hosts: []string{sb.Hostname}}, "", has
	case ModeErrors:
		return Request{Readiness: true, Replication: true}, gathering, c.HasMirrors()
	case ModeDetail, ModeJSON, ModeHealth:
		return Request{Readiness: true, Replication: true}, gathering, true
	case ModePipe:
		return Request{Readiness: true, Replication: true, Version: true}, gathering, true
	case ModeVersions:
		// Greenplum asks only the hosts of instances that are up.
		var hosts []string
		for _, s := range c.All() {
			if s.IsUp() && !slices.Contains(hosts, s.Hostname) {
				hosts = append(hosts, s.Hostname)
			}
		}
		return Request{Version: true, Hosts: hosts}, "Loading version information", true
	}
	return Request{}, "", false
}

// Run does gpstate's work: the prelude (catalog in utility mode), the
// hosts' status when the mode needs it, then the mode's report.
func Run(ctx context.Context, env *app.Env, opts *Options) (err error) {
	mode := opts.Mode()
	switch mode {
	case ModeHealth:
		return runHealth(ctx, env, opts)
	case ModeMetrics:
		return runMetrics(ctx, env, opts)
	}
	co, err := coordinator.Open(ctx, env, coordinator.Options{DataDir: opts.DataDir, Utility: true,
		ConnectTimeout: opts.connectTimeout(), Retries: opts.Retries, UnsafePaths: coordinator.WarnUnsafe})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, co.Close(ctx)) }()
	r := &report{env: env, opts: opts, co: co, st: &Status{Flavour: co.Flavour(), Cluster: co.Cluster, DataDir: co.DataDir, Port: co.Port}}
	if req, announce, ok := gathers(mode, co.Cluster); ok {
		if err := r.gather(ctx, req, announce); err != nil {
			return err
		}
	}
	return r.print(ctx, mode)
}

// gather fills r.st.Obs from the hosts req names, after logging announce.
func (r *report) gather(ctx context.Context, req Request, announce string) (err error) {
	if announce != "" {
		r.env.Log.Info(announce)
	}
	ssh, err := r.env.OpenSSH(&r.opts.CommonOptions, r.co.GPHome)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ssh.Close()) }()
	stop := gplog.Dots{W: r.env.Progress, Ticker: r.env.Ticker}.Start(ctx)
	exec := remote.Router{Local: r.env.Exec, Remote: ssh, LocalHosts: []string{r.st.Cluster.Coordinator().Hostname}}
	r.st.Obs = Gatherer{Exec: exec, Parallel: r.opts.Parallel}.Gather(ctx, r.co.GPHome, r.st.Flavour, r.st.Cluster, req)
	stop()
	for _, h := range r.st.Cluster.AllHosts() {
		if w := r.st.Obs.HostWarnings[h]; w != "" {
			r.env.Log.Warn(w)
		}
		if why := r.st.Obs.Reason(h); why != "" {
			r.env.Log.Warn(why)
		}
	}
	return nil
}

// print runs the mode's report.
func (r *report) print(ctx context.Context, m Mode) error {
	switch m {
	case ModeBrief:
		return r.brief(ctx)
	case ModeDetail:
		return r.detail(ctx)
	case ModeMirrors:
		return r.mirrors(ctx)
	case ModeConfig:
		return r.config(ctx)
	case ModeErrors:
		return r.errors(ctx)
	case ModeQuick:
		return r.quick(ctx)
	case ModeVersions:
		return r.versions(ctx)
	case ModePorts:
		return r.ports(ctx)
	case ModeStandby:
		return r.standby(ctx)
	case ModeExpand:
		return r.expand(ctx)
	case ModePipe:
		return r.pipe(ctx)
	case ModeSampleSQL:
		return r.sampleSQL(ctx)
	case ModeJSON:
		return r.json(ctx)
	}
	return fmt.Errorf("gpstate: no report for mode %d", m)
}

// exitIf returns exit code 1 when failed is set (the modes whose exit code
// says something, spec §2.3).
func exitIf(failed bool) error {
	if failed {
		return &app.ExitError{Code: app.ExitFailures}
	}
	return nil
}

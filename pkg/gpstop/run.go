package gpstop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordinator"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/startup"
)

// stopper carries one run's state.
type stopper struct {
	env      *app.Env
	opts     *Options
	gphome   string
	mdd      string
	port     int
	pid      int
	version  cluster.Version
	flavour  cluster.Flavour
	cluster  *cluster.Cluster
	ssh      remote.HostExecutor
	mode     string
	coordCap string // "Master" or "Coordinator"
	coord    string // "master" or "coordinator"
	// resumed is what an earlier full gpstop, killed after it stopped the
	// coordinator, recorded: this run stops the instances it left.
	resumed *pending
	// down holds the segment hosts that did not answer checkHosts, with
	// the reason: their stop is not attempted again, so a dead host's dial
	// timeout is waited for once.
	down map[string]error
}

// Run does gpstop's work.
func Run(ctx context.Context, env *app.Env, opts *Options) (err error) {
	s := &stopper{env: env, opts: opts, mode: opts.Mode}
	if opts.ProcessCount > 0 && opts.Parallel == DefaultParallel {
		opts.Parallel = opts.ProcessCount
	}
	env.Log.Debug(fmt.Sprintf("Setting level of parallelism to: %d", opts.Parallel))
	if err := s.prepare(ctx); err != nil {
		return err
	}
	if w := oplock.MirrorWorkRunning(s.mdd, env.Hostname); w != "" {
		env.Log.Warn(w)
	}
	s.ssh, err = env.OpenSSH(&opts.CommonOptions, s.gphome)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.ssh.Close()) }()

	if opts.CoordinatorOnly {
		if !opts.NonInteractive {
			if err := s.confirm(ctx, "\nContinue with "+s.coord+"-only shutdown"); err != nil {
				return err
			}
		}
		return s.stopCoordinator(context.WithoutCancel(ctx))
	}
	if opts.Reload {
		return s.reload(ctx)
	}
	segs := s.cluster.Segments()
	if opts.Host != "" {
		if segs, err = s.hostSegments(); err != nil {
			return err
		}
	} else {
		segs = gparrayOrder(s.cluster)
	}
	if err := s.checkHosts(ctx, segs); err != nil {
		return err
	}
	if !opts.NonInteractive {
		s.summarize(ctx, segs)
		if err := s.confirm(ctx, "\nContinue with "+s.product()+" instance shutdown"); err != nil {
			return err
		}
	}
	// Greenplum ignores SIGINT while it stops the cluster.
	wctx := context.WithoutCancel(ctx)
	if opts.Host == "" {
		if s.resumed == nil {
			if err := writePending(s.mdd, pending{PID: env.PID, Started: env.Start, Segments: s.cluster.All()}); err != nil {
				return app.Errorf("%w", err)
			}
			if err := s.stopCoordinator(wctx); err != nil {
				return err
			}
		}
		s.stopStandby(wctx)
	}
	failed := s.stopSegments(wctx, segs)
	if opts.Host == "" && !failed {
		if err := removePending(s.mdd); err != nil {
			return app.Errorf("%w", err)
		}
	}
	if opts.Host != "" {
		s.recognize(wctx)
	}
	if opts.Restart {
		env.Log.Info("Restarting System...")
		r := startup.Restart{DataDir: s.mdd, NoStandby: opts.NoStandby, Verbose: opts.Verbose, LogDir: opts.LogDir, ProcessCount: opts.ProcessCount}
		if err := r.Run(ctx, env); err != nil {
			return err
		}
	}
	if failed {
		return &app.ExitError{Code: app.ExitFatal} // MPP-15208: gpstop exits 2
	}
	return nil
}

func (s *stopper) product() string { return s.flavour.ProductWord() }

// pathPolicy is what gpstop does with a path a shell would interpret in
// the coordinator data directory or the catalog: a stop goes through no
// shell (pg_ctl stop signals the postmaster), so it warns and stops such
// a cluster; -r starts it again afterwards, so -r refuses before stopping.
func (s *stopper) pathPolicy() coordinator.PathPolicy {
	if s.opts.Restart {
		return coordinator.RefuseUnsafe
	}
	return coordinator.WarnUnsafe
}

// fullStop reports whether this run stops the whole cluster: the
// coordinator, the standby and every segment.
func (s *stopper) fullStop() bool {
	return !s.opts.CoordinatorOnly && !s.opts.Reload && s.opts.Host == ""
}

func (s *stopper) confirm(ctx context.Context, q string) error {
	ok, err := app.Confirm(ctx, s.env, strings.TrimPrefix(q, "\n"), "")
	if err != nil {
		return err
	}
	if !ok {
		return app.ErrUserAbort
	}
	return nil
}

// prepare is gpstop's _prepare: environment, port, running check, the
// catalog in utility mode, the local version.
func (s *stopper) prepare(ctx context.Context) (err error) {
	log := s.env.Log
	log.Info("Gathering information and validating the environment...")
	if s.gphome, err = cluster.GPHome(s.env.Getenv); err != nil {
		return &app.ExpectedError{Err: err}
	}
	if s.version, s.mdd, err = coordinator.Locate(ctx, s.env, s.gphome, s.opts.DataDir); err != nil {
		return err
	}
	if err := coordinator.CheckDataDir(log, s.pathPolicy(), s.mdd); err != nil {
		return err
	}
	s.flavour = s.version.Flavour
	s.coord, s.coordCap = s.flavour.CoordinatorWord(), s.flavour.CoordinatorTitle()
	_, port, err := coordinator.ReadConf(log, s.mdd, s.flavour)
	if err != nil {
		return err
	}
	s.port = port
	if err := s.checkRunning(); err != nil {
		return err
	}
	if p := s.resumed; p != nil {
		log.Info(fmt.Sprintf("An earlier gpstop (PID %d, started %s) stopped the %s and did not finish; stopping the instances it left",
			p.PID, p.Started.Format("2006-01-02 15:04:05"), s.coord))
		if s.cluster, err = cluster.New(p.Segments); err != nil {
			return app.Errorf("%s: %v", pendingName, err)
		}
		return coordinator.CheckCatalog(log, s.pathPolicy(), s.cluster, s.mdd)
	}
	log.Info(fmt.Sprintf("Obtaining %s %s catalog information", s.product(), s.coordCap))
	log.Info(fmt.Sprintf("Obtaining Segment details from %s...", s.coord))
	cfg := cluster.ConnConfig{Port: s.port, Flavour: s.flavour, Utility: true}
	log.Debug(cluster.ConnectMessage(cfg))
	conn, err := s.env.Connect(ctx, cfg)
	if err != nil {
		return app.Errorf("cannot connect to the %s on port %d: %w", s.coord, s.port, err)
	}
	defer func() { err = errors.Join(err, conn.Close(ctx)) }()
	if s.cluster, err = coordinator.LoadCatalog(ctx, conn, s.mdd, s.port, s.flavour); err != nil {
		return err
	}
	if err := coordinator.CheckCatalog(log, s.pathPolicy(), s.cluster, s.mdd); err != nil {
		return err
	}
	if s.opts.Host != "" {
		if err := s.checkHostName(); err != nil {
			return err
		}
	}
	log.Debug("Running Command: $GPHOME/bin/postgres --gp-version")
	log.Info(fmt.Sprintf("%s Version: '%s'", s.product(), s.version.Raw))
	return nil
}

// startedSince reports whether the coordinator in mdd was started after t:
// the postmaster rewrites postmaster.opts at every start.
func startedSince(mdd string, t time.Time) bool {
	fi, err := os.Stat(filepath.Join(mdd, "postmaster.opts"))
	return err == nil && fi.ModTime().After(t)
}

// checkRunning is _check_db_running: no postmaster.pid means the cluster
// is already stopped (exit 2, Greenplum's message); a pid file whose
// process is gone is cleared and the stop continues in fast mode.
func (s *stopper) checkRunning() error {
	pidFile := filepath.Join(s.mdd, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		if s.fullStop() {
			p, perr := readPending(s.mdd)
			if perr != nil {
				return app.Errorf("%w", perr)
			}
			if p != nil && !startedSince(s.mdd, p.Started) {
				s.resumed = p
				return nil
			}
			if p != nil {
				// The coordinator was started after that stop (postmaster.opts
				// is rewritten at every start): the list may be out of date.
				s.env.Log.Warn(fmt.Sprintf("Ignoring %s: the coordinator was started after the gpstop that wrote it", pendingName))
				if err := removePending(s.mdd); err != nil {
					return app.Errorf("%w", err)
				}
			}
		}
		return app.Errorf("postmaster.pid file does not exist.  is %s instance already stopped?", s.product())
	}
	if err != nil {
		return app.Errorf("read %s: %w", pidFile, err)
	}
	s.pid, _ = cluster.PostmasterPID(string(b)) // unreadable: no process, as below
	if s.pid > 0 && syscall.Kill(s.pid, 0) == nil {
		return nil
	}
	log := s.env.Log
	log.Warn(fmt.Sprintf("Have a postmaster.pid file but no %s segment process running", s.coordCap))
	log.Info("Clearing postmaster.pid file and /tmp lock files")
	log.Info(fmt.Sprintf("Clearing %s instance lock files", s.coordCap))
	_ = os.Remove(fmt.Sprintf("/tmp/.s.PGSQL.%d", s.port)) // absent is fine
	log.Info(fmt.Sprintf("Clearing %s instance pid file", s.coordCap))
	if err := os.Remove(pidFile); err != nil {
		return app.Errorf("remove %s: %w", pidFile, err)
	}
	log.Info("Setting recovery parameters")
	s.mode = "fast"
	log.Info("Commencing forced shutdown")
	return nil
}

func (s *stopper) checkHostName() error {
	for _, h := range s.cluster.AllHosts() {
		if h == s.opts.Host {
			return nil
		}
	}
	s.env.Log.Error(fmt.Sprintf("host '%s' is not found in gp_segment_configuration", s.opts.Host))
	s.env.Log.Error(fmt.Sprintf("hosts in cluster config: %s", pyList(s.cluster.AllHosts())))
	return &app.ExitError{Code: app.ExitFailures}
}

func pyList(items []string) string {
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = "'" + it + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// gparrayOrder is GpArray.getSegDbList's order: by content, the acting
// primary first, then its mirror.
func gparrayOrder(c *cluster.Cluster) []cluster.Segment {
	var out []cluster.Segment
	for _, p := range c.Pairs() {
		if p.Primary != nil {
			out = append(out, *p.Primary)
		}
		if p.Mirror != nil {
			out = append(out, *p.Mirror)
		}
	}
	return out
}

// hostSegments is _filter_segments_for_single_host_stop, with its checks.
func (s *stopper) hostSegments() ([]cluster.Segment, error) {
	h := s.opts.Host
	if co := s.cluster.Coordinator(); co.Hostname == h {
		return nil, app.Errorf("Specified host '%s' has the %s or standby %s on it. This node can only be stopped as part of a full-cluster gpstop, without '--host'.", h, s.coord, s.coord)
	}
	if sb, ok := s.cluster.Standby(); ok && sb.Hostname == h {
		return nil, app.Errorf("Specified host '%s' has the %s or standby %s on it. This node can only be stopped as part of a full-cluster gpstop, without '--host'.", h, s.coord, s.coord)
	}
	if !s.cluster.HasMirrors() {
		return nil, app.Errorf("Cannot perform host-specific gpstop on a cluster without segment mirroring.")
	}
	var up []cluster.Segment
	for _, g := range gparrayOrder(s.cluster) {
		if g.Hostname == h && g.IsUp() {
			up = append(up, g)
		}
	}
	seen := map[int]cluster.Segment{}
	for _, g := range up {
		if o, ok := seen[g.ContentID]; ok {
			p, m := o, g
			if g.IsPrimary() {
				p, m = g, o
			}
			return nil, app.Errorf("Segment host '%s' has both of corresponding primary '%s' and mirror '%s'. Aborting.", h, p, m)
		}
		seen[g.ContentID] = g
	}
	for _, g := range up {
		if !g.IsSynced() {
			return nil, app.Errorf("Segment '%s' not synchronized. Aborting.", g)
		}
	}
	return up, nil
}

// summarize is _summarize_actions, printed before the prompt.
func (s *stopper) summarize(ctx context.Context, segs []cluster.Segment) {
	log := s.env.Log
	dash := strings.Repeat("-", 44)
	log.Info(dash)
	log.Info(s.coordCap + " instance parameters")
	log.Info(dash)
	_, hasStandby := s.cluster.Standby()
	standby := "Off"
	if hasStandby && !s.opts.NoStandby {
		standby = "On"
	}
	t := newTable()
	t.Add(s.coordCap+" "+s.product()+" instance process active PID", fmt.Sprintf("= %d", s.pid))
	t.Add("Database", "= "+cluster.DefaultDatabase)
	t.Add(s.coordCap+" port", fmt.Sprintf("= %d", s.port))
	t.Add(s.coordCap+" directory", "= "+s.mdd)
	t.Add("Shutdown mode", "= "+s.mode)
	t.Add("Timeout", fmt.Sprintf("= %d", s.opts.Timeout))
	t.Add("Shutdown "+s.coordCap+" standby host", "= "+standby)
	t.Log(ctx, log)
	log.Info(dash)
	log.Info("Segment instances that will be shutdown:")
	log.Info(dash)
	t = newTable()
	t.Add("Host", "Datadir", "Port", "Status")
	for _, g := range segs {
		t.Add(g.Hostname, g.DataDir, strconv.Itoa(g.Port), g.Status.String())
	}
	t.Log(ctx, log)
}

// router routes commands: locally on the coordinator's host, over SSH
// elsewhere.
func (s *stopper) router() remote.Executor {
	return remote.Router{Local: s.env.Exec, Remote: s.ssh, LocalHosts: []string{s.cluster.Coordinator().Hostname}}
}

// recognize is gpstop --host's last step: a dispatch connection, so the
// coordinator notices the stopped segments; failures are only logged.
func (s *stopper) recognize(ctx context.Context) {
	s.env.Log.Info("Recognizing new cluster state...")
	conn, err := s.env.Connect(ctx, cluster.ConnConfig{Port: s.port, Flavour: s.flavour})
	if err == nil {
		err = cluster.RequestFTSProbe(ctx, conn)
		err = errors.Join(err, conn.Close(ctx))
	}
	if err != nil {
		s.env.Log.Debug("query trying to start a transaction failed: " + err.Error())
	}
}

package gpstop

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/coordctl"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/render"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

func newTable() *render.Table { return &render.Table{Arrows: true} }

// stopCoordinator is _stop_coordinator, in pkg/coordctl (which the
// cluster start uses too); it records the mode the stop ended with (smart
// turns into fast when the coordinator outlives the wait).
func (s *stopper) stopCoordinator(ctx context.Context) error {
	st := coordctl.Stop{GPHome: s.gphome, Flavour: s.flavour, Coordinator: s.cluster.Coordinator(),
		DataDir: s.mdd, Port: s.port, Mode: s.mode, Timeout: s.opts.Timeout}
	mode, err := st.Run(ctx, coordctl.EnvOf(s.env))
	s.mode = mode
	return err
}

// stopStandby is _stop_standby (unless -y): the standby is stopped with the
// segment script on its host, which escalates and kills as gpsegstop does.
func (s *stopper) stopStandby(ctx context.Context) {
	log := s.env.Log
	if s.opts.NoStandby {
		return
	}
	sb, ok := s.cluster.Standby()
	if !ok {
		log.Info(fmt.Sprintf("No standby %s host configured", s.coord))
		return
	}
	log.Info(fmt.Sprintf("Stopping %s standby host %s mode=%s", s.coord, sb.Hostname, s.mode))
	plan := segctl.PlanStop(segctl.Stop{GPHome: s.gphome, Mode: s.mode, Timeout: s.opts.Timeout, Batch: 1}, []segctl.Instance{{Segment: sb}})
	out := segctl.Collect(plan, []remote.Result{s.router().Exec(ctx, plan[0].Command)})[0]
	switch {
	case out.HostErr != nil:
		log.Warn("Standby is unreachable, skipping shutdown on standby")
		log.Warn(unreachableReason(out.HostErr))
	case out.OK():
		log.Info("Successfully shutdown standby process on " + sb.Hostname)
	default:
		log.Error(fmt.Sprintf("Unable to stop %s standby on host: %s", s.coord, sb.Hostname))
	}
}

// stopSegments is _stop_segments: primaries, then mirrors (one pass when
// the cluster has no mirrors), one script per host, -B hosts at once.
// It reports whether any segment failed to stop.
func (s *stopper) stopSegments(ctx context.Context, segs []cluster.Segment) bool {
	log := s.env.Log
	ids := make([]string, len(segs))
	for i, g := range segs {
		ids[i] = strconv.Itoa(g.DBID)
	}
	log.Info("Targeting dbid [" + strings.Join(ids, ", ") + "] for shutdown")
	var outcomes []segctl.Outcome
	if s.cluster.HasMirrors() {
		log.Info("Commencing parallel primary segment instance shutdown, please wait...")
		outcomes = append(outcomes, s.stopBatch(ctx, segs, true)...)
		log.Info("Commencing parallel mirror segment instance shutdown, please wait...")
		outcomes = append(outcomes, s.stopBatch(ctx, segs, false)...)
	} else {
		log.Info("Commencing parallel segment instance shutdown, please wait...")
		outcomes = s.stopBatch(ctx, segs, true)
	}
	return s.report(ctx, segs, outcomes)
}

func (s *stopper) stopBatch(ctx context.Context, segs []cluster.Segment, primaries bool) []segctl.Outcome {
	log := s.env.Log
	var insts []segctl.Instance
	for _, g := range segs {
		if g.IsPrimary() == primaries {
			insts = append(insts, segctl.Instance{Segment: g})
		}
	}
	plans := segctl.PlanStop(segctl.Stop{GPHome: s.gphome, Mode: s.mode, Timeout: s.opts.Timeout, Batch: DefaultParallel}, insts)
	for _, p := range plans {
		log.Debug(fmt.Sprintf("Dispatching command to shutdown %d segments on host: %s", len(p.Instances), p.Command.Host))
		for _, in := range p.Instances {
			log.Debug("Running Command: " + pgcmd.Display(s.gphome, pgcmd.Stop(s.gphome, in.Segment.DataDir, s.mode, true, s.opts.Timeout)))
		}
	}
	cmds := make([]remote.Command, len(plans))
	for i, p := range plans {
		cmds[i] = p.Command
	}
	log.Info("0.00% of jobs completed")
	stop := gplog.Dots{W: s.env.Progress, Ticker: s.env.Ticker}.Start(ctx)
	results := s.runReachable(ctx, cmds)
	stop()
	log.Info("100.00% of jobs completed")
	unreachable := map[string]bool{}
	for _, r := range results {
		if remote.Unreachable(r) && !unreachable[r.Command.Host] {
			unreachable[r.Command.Host] = true
			log.Warn("Host " + r.Command.Host + " is unreachable: " + unreachableReason(r.Err))
		}
	}
	return segctl.Collect(plans, results)
}

// runReachable runs cmds, -B hosts at once, except those for a host that
// did not answer checkHosts: theirs fail at once with that host's reason,
// as a dial would after its timeout.
func (s *stopper) runReachable(ctx context.Context, cmds []remote.Command) []remote.Result {
	results := make([]remote.Result, len(cmds))
	var run []remote.Command
	var at []int
	for i, c := range cmds {
		if err, ok := s.down[c.Host]; ok {
			results[i] = remote.Result{Command: c, ExitCode: -1, Err: err}
			continue
		}
		run = append(run, c)
		at = append(at, i)
	}
	for j, r := range (remote.Runner{Exec: s.router(), Limit: min(max(len(run), 1), s.opts.Parallel)}).Run(ctx, run) {
		results[at[j]] = r
	}
	return results
}

// report is _print_segment_stop; it returns whether any segment failed.
func (s *stopper) report(ctx context.Context, segs []cluster.Segment, outcomes []segctl.Outcome) bool {
	log := s.env.Log
	var failed []segctl.Outcome
	for _, o := range outcomes {
		if !o.OK() {
			failed = append(failed, o)
		}
	}
	invalid := 0
	for _, g := range s.cluster.Segments() {
		if !g.IsUp() {
			invalid++
		}
	}
	nfailed := 0
	for _, f := range failed {
		if f.Segment.IsUp() {
			nfailed++
		}
	}
	verbose := s.opts.Verbose
	if nfailed > 0 || verbose {
		log.Info(strings.Repeat("-", 48))
		if verbose {
			log.Info("Segment Stop Information")
		} else {
			log.Info("Failed Segment Stop Information ")
		}
		log.Info(strings.Repeat("-", 48))
		for _, f := range failed {
			if f.Segment.IsUp() {
				log.Info(fmt.Sprintf("DBID:%d  FAILED  host:'%s' datadir:'%s' with reason:'%s'", f.Segment.DBID, f.Segment.Hostname, f.Segment.DataDir, f.Reason))
			}
		}
		if verbose {
			for _, o := range outcomes {
				if o.OK() {
					log.Debug(fmt.Sprintf("DBID:%d  STOPPED", o.Segment.DBID))
				}
			}
		}
	}
	stopped := len(segs) - len(failed)
	total := len(s.cluster.Segments())
	t := newTable()
	t.Separator()
	t.Add("Segments stopped successfully", fmt.Sprintf("= %d", stopped))
	t.AddIf(nfailed > 0, "Segments with errors during stop", fmt.Sprintf("= %d", nfailed))
	if invalid > 0 {
		t.Add()
		t.Warn("Segments that are currently marked down in configuration", fmt.Sprintf("= %d", invalid))
		t.Add("         (stop was still attempted on these segments)")
	}
	t.Separator()
	t.Log(ctx, log)
	flag := ""
	if nfailed > 0 {
		flag = "<<<<<<<<"
	}
	log.Info(fmt.Sprintf("Successfully shutdown %d of %d segment instances %s", stopped, total, flag))
	if nfailed == 0 {
		log.Info("Database successfully shutdown with no errors reported")
		return false
	}
	dash := strings.Repeat("-", 48)
	log.Warn(dash)
	log.Warn("Segment instance shutdown failures reported")
	log.Warn(fmt.Sprintf("Failed to shutdown %d of %d segment instances <<<<<", nfailed, total))
	log.Warn(fmt.Sprintf("A total of %d errors were encountered", nfailed))
	log.Warn("Review logfile " + s.logFile())
	log.Warn("For more details on segment shutdown failure(s)")
	log.Warn(dash)
	return true
}

// reload is _sighup_cluster (-u): pg_ctl reload on every instance,
// coordinator and standby included; exit 1 when some did not reload.
func (s *stopper) reload(ctx context.Context) error {
	log := s.env.Log
	log.Info("Signalling all postmaster processes to reload")
	all := s.cluster.All()
	for i := range all {
		if all[i].IsCoordinator() {
			all[i].DataDir = s.mdd
		}
	}
	plans := segctl.PlanReload(s.gphome, DefaultParallel, all)
	cmds := make([]remote.Command, len(plans))
	for i, p := range plans {
		cmds[i] = p.Command
	}
	stop := gplog.Dots{W: s.env.Progress, Ticker: s.env.Ticker}.Start(ctx)
	results := s.runReachable(ctx, cmds)
	stop()
	var failed []cluster.Segment
	for _, o := range segctl.Collect(plans, results) {
		if !o.OK() {
			log.Debug(fmt.Sprintf("reload dbid %d: %s", o.Segment.DBID, o.Reason))
			failed = append(failed, o.Segment)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	dash := strings.Repeat("-", 44)
	log.Info(dash)
	log.Info("Some segment postmasters were not reloaded")
	log.Info(dash)
	t := newTable()
	t.Add("Host", "Datadir", "Port", "Status")
	for _, g := range failed {
		t.Add(g.Hostname, g.DataDir, strconv.Itoa(g.Port), g.Status.String())
	}
	t.Log(ctx, log)
	log.Info(dash)
	return &app.ExitError{Code: app.ExitFailures}
}

// logFile is the path of this run's log file.
func (s *stopper) logFile() string {
	dir := s.opts.LogDir
	if dir == "" {
		dir = gplog.DefaultDir(s.env.Home)
	}
	return filepath.Join(dir, gplog.FileName(s.env.Prog, s.env.Start))
}

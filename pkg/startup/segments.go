package startup

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
	"github.com/gpmgmt/gpmgmt/pkg/render"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// segmentsToStart is step 11: the segments up in the catalog and on a
// reachable host; the others are skipped, with Greenplum's warning. (A
// catalog whose paths pg_ctl's shell would interpret was refused when it
// was read: readCatalog.)
func (s *starter) segmentsToStart() (start, skipped []cluster.Segment) {
	for _, g := range s.cluster.Segments() {
		if g.IsUp() && !s.unreachable[g.Hostname] {
			start = append(start, g)
			continue
		}
		skipped = append(skipped, g)
		s.env.Log.Warn(fmt.Sprintf("Skipping startup of segment marked down in configuration: on %s directory %s <<<<<", g.Hostname, g.DataDir))
	}
	return start, skipped
}

// summarize is step 12's summary, printed before the prompt.
func (s *starter) summarize(ctx context.Context, segs []cluster.Segment) {
	log := s.env.Log
	head := s.coordCap + " instance parameters"
	log.Info(strings.Repeat("-", len(head)))
	log.Info(head)
	log.Info(strings.Repeat("-", len(head)))
	label := func(l string) string { return fmt.Sprintf("%-*s= ", len(s.coordCap)+19, l) }
	log.Info(label("Database") + cluster.DefaultDatabase)
	log.Info(label(s.coordCap+" Port") + strconv.Itoa(s.port))
	log.Info(label(s.coordCap+" directory") + s.mdd)
	log.Info(label("Timeout") + strconv.Itoa(s.opts.Timeout) + " seconds")
	if _, ok := s.cluster.Standby(); ok {
		on := "Off"
		if s.standbyOn {
			on = "On"
		}
		log.Info(label(s.coordCap+" standby start") + on)
	} else {
		log.Info(label(s.coordCap+" standby") + "Off ")
	}
	head = "Segment instances that will be started"
	log.Info(strings.Repeat("-", len(head)))
	log.Info(head)
	log.Info(strings.Repeat("-", len(head)))
	mirrored := s.cluster.HasMirrors()
	var t render.Table
	if mirrored {
		t.Add("Host", "Datadir", "Port", "Role")
	} else {
		t.Add("Host", "Datadir", "Port")
	}
	for _, g := range segs {
		row := []string{g.Hostname, g.DataDir, strconv.Itoa(g.Port)}
		if mirrored {
			role := "Mirror"
			if g.IsPrimary() {
				role = "Primary"
			}
			row = append(row, role)
		}
		t.Add(row...)
	}
	t.Log(ctx, log)
}

// startSegments is step 14: one script per host, -B hosts at once; in a
// mirrored cluster with fewer workers than hosts, the mirrors first, then
// the primaries.
func (s *starter) startSegments(ctx context.Context, segs []cluster.Segment) []segctl.Outcome {
	hosts := len(s.cluster.AllHosts())
	workers := min(hosts, s.opts.Parallel)
	s.env.Log.Debug(fmt.Sprintf("WorkerPool() initialized with %d workers", workers))
	if !s.cluster.HasMirrors() {
		return s.startRound(ctx, "Commencing parallel segment instance startup, please wait...", segs)
	}
	if workers >= hosts {
		return s.startRound(ctx, "Commencing parallel primary and mirror segment instance startup, please wait...", segs)
	}
	var mirrors, primaries []cluster.Segment
	for _, g := range segs {
		if g.IsPrimary() {
			primaries = append(primaries, g)
		} else {
			mirrors = append(mirrors, g)
		}
	}
	out := s.startRound(ctx, "Commencing parallel mirror segment instance startup, please wait...", mirrors)
	return append(out, s.startRound(ctx, "Commencing parallel primary segment instance startup, please wait...", primaries)...)
}

// startSpec is how the segments of this run are started.
func (s *starter) startSpec() segctl.Start {
	return segctl.Start{GPHome: s.gphome, Flavour: s.flavour, Era: s.era, Timeout: s.opts.Timeout, Batch: s.opts.Parallel,
		Version: s.version.Raw, ChecksumVersion: s.checksum, SpecialMode: s.opts.SpecialMode}
}

func (s *starter) startRound(ctx context.Context, msg string, segs []cluster.Segment) []segctl.Outcome {
	log := s.env.Log
	log.Info(msg)
	spec := s.startSpec()
	// Each host starts its primaries first, then its mirrors, as the
	// instances of gpsegstart's run appear in Greenplum's logs.
	segs = slices.Clone(segs)
	slices.SortStableFunc(segs, func(a, b cluster.Segment) int {
		return cmp.Or(cmp.Compare(b.Role, a.Role), cmp.Compare(a.DBID, b.DBID)) // 'p' before 'm'
	})
	plans := segctl.PlanStart(spec, segs)
	for _, p := range plans {
		log.Debug(fmt.Sprintf("Dispatching command to start %d segments on host: %s", len(p.Instances), p.Command.Host))
		for _, in := range p.Instances {
			line := spec.StartCommand(in.Segment).Display()
			if s.flavour != cluster.GP6 {
				log.Info("SegmentStart pg_ctl cmd is " + line)
			}
			log.Debug("Running Command: " + line)
		}
	}
	stop := gplog.Dots{W: s.env.Progress, Ticker: s.env.Ticker}.Start(ctx)
	out := segctl.Run(ctx, s.runner(len(plans)), plans)
	stop()
	log.Info("Process results...")
	return out
}

// checkEveryContent is step 15: every content needs an instance that
// started: its primary, or a mirror in sync that FTS can promote. If one
// has none, everything started is stopped again and gpstart fails.
func (s *starter) checkEveryContent(ctx context.Context, outcomes []segctl.Outcome, skipped []cluster.Segment) error {
	log := s.env.Log
	started := map[int]bool{}
	var ok []string
	for _, o := range outcomes {
		if o.Status == segctl.Started {
			started[o.Segment.DBID] = true
			ok = append(ok, strconv.Itoa(o.Segment.DBID))
		}
	}
	var missing []int
	for _, p := range s.cluster.Pairs() {
		if p.Primary == nil {
			missing = append(missing, p.Content)
			continue
		}
		if started[p.Primary.DBID] || (p.Mirror != nil && started[p.Mirror.DBID] && p.Primary.IsSynced()) {
			continue
		}
		missing = append(missing, p.Content)
	}
	if len(missing) == 0 {
		return nil
	}
	for _, c := range missing {
		log.Error(fmt.Sprintf("No segment started for content: %d.", c))
	}
	log.Info("dumping success segments: [" + strings.Join(ok, ", ") + "]")
	s.report(ctx, outcomes, skipped, true)
	s.stopStarted(ctx, outcomes)
	return app.Errorf("Do not have enough valid segments to start the array.")
}

// stopStarted stops, immediate, every instance this run started: the
// primaries, then the mirrors.
func (s *starter) stopStarted(ctx context.Context, outcomes []segctl.Outcome) {
	log := s.env.Log
	log.Info("Commencing parallel segment instance shutdown, please wait...")
	for _, primaries := range []bool{true, false} {
		var insts []segctl.Instance
		for _, o := range outcomes {
			if o.Status == segctl.Started && o.Segment.IsPrimary() == primaries {
				insts = append(insts, segctl.Instance{Segment: o.Segment})
			}
		}
		plans := segctl.PlanStop(segctl.Stop{GPHome: s.gphome, Mode: "immediate", Timeout: pgcmd.DefaultStopTimeout, Batch: s.opts.Parallel}, insts)
		for _, o := range segctl.Run(ctx, s.runner(len(plans)), plans) {
			if !o.OK() {
				log.Warn(fmt.Sprintf("Could not stop dbid %d on %s: %s", o.Segment.DBID, o.Segment.Hostname, o.Reason))
			}
		}
	}
}

// report is step 16; it returns the number of failed starts.
func (s *starter) report(ctx context.Context, outcomes []segctl.Outcome, skipped []cluster.Segment, shuttingDown bool) int {
	log := s.env.Log
	dash := strings.Repeat("-", 52)
	var failed []segctl.Outcome
	for _, o := range outcomes {
		if o.Status != segctl.Started {
			failed = append(failed, o)
		}
	}
	nok, nfail, nskip := len(outcomes)-len(failed), len(failed), len(skipped)
	if nfail > 0 || s.opts.Verbose {
		log.Info(dash)
		for _, f := range failed {
			log.Info(fmt.Sprintf("DBID:%d  FAILED  host:'%s' datadir:'%s' with reason:'%s'", f.Segment.DBID, f.Segment.Hostname, f.Segment.DataDir, f.Reason))
		}
		for _, o := range outcomes {
			if o.Status == segctl.Started {
				log.Debug(fmt.Sprintf("DBID:%d  STARTED", o.Segment.DBID))
			}
		}
		log.Info(dash + "\n\n")
	}
	var t render.Table
	t.Separator()
	t.Add("Successful segment starts", fmt.Sprintf("= %d", nok))
	t.AddIf(nfail > 0, "Failed segment starts", fmt.Sprintf("= %d", nfail))
	t.AddIf(nskip > 0, "Skipped segment starts (segments are marked down in configuration)", fmt.Sprintf("= %d", nskip))
	t.Separator()
	t.Log(ctx, log)
	flag := ""
	if nfail > 0 {
		flag = "<<<<<<<<"
	}
	also := ""
	if nskip > 0 {
		also = fmt.Sprintf(", skipped %d other segments", nskip)
	}
	log.Info(fmt.Sprintf("Successfully started %d of %d segment instances%s %s", nok, nok+nfail, also, flag))
	log.Info(dash)
	if nfail > 0 {
		log.Warn("Segment instance startup failures reported")
		log.Warn(fmt.Sprintf("Failed start %d of %d segment instances %s", nfail, nok+nfail, flag))
		log.Warn("Review " + s.logFile())
		if !shuttingDown {
			log.Warn("For more details on segment startup failure(s)")
			log.Warn("Run  gpstate -s  to review current segment instance status")
		}
		log.Info(dash)
	}
	if nskip > 0 {
		stars := strings.Repeat("*", 76)
		log.Warn(stars)
		log.Warn(fmt.Sprintf("There are %d segment(s) marked down in the database", nskip))
		log.Warn("To recover from this current state, review usage of the gprecoverseg")
		log.Warn("management utility which will recover failed segment instance databases.")
		log.Warn(stars)
	}
	return nfail
}

// logFile is the path of this run's log file.
func (s *starter) logFile() string {
	dir := s.opts.LogDir
	if dir == "" {
		dir = gplog.DefaultDir(s.env.Home)
	}
	return dir + "/" + gplog.FileName(s.env.Prog, s.env.Start)
}

package recoverseg

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/oplock"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Bounds of the recovery's steps.
const (
	stopTimeout    = 5 * time.Minute // pg_ctl -t 120 of each instance, in sequence per host
	setupTimeout   = 2 * time.Minute
	catalogTimeout = 2 * time.Minute
	streamTimeout  = 3 * time.Minute
	removeTimeout  = time.Minute
	// streamPoll is how often the sources are asked whether their
	// recovered mirrors stream: a started mirror connects within a
	// fraction of a second, and FTS waits for this.
	streamPoll = 200 * time.Millisecond
)

// outcome is what happened to one target.
type outcome struct {
	// Kind is "" on success, else Greenplum's error type (validation,
	// incremental, full, update, start), "interrupted" for a rewind that
	// was stopped midway, or "stream".
	Kind    string
	Msg     string
	Started bool
}

// Journal steps.
const (
	stepPlanned    = "planned"
	stepStopped    = "stopped"
	stepRecovering = "recovering"
	stepStarted    = "started"
	stepFailed     = "failed"
)

// beginJournal records the plan before anything changes.
func (r *recovery) beginJournal(ts []target) error {
	rec := oplock.Record{Tool: Tool, PID: r.env.PID, Started: r.env.Start, Args: r.env.Args}
	for _, t := range ts {
		method := strings.ToLower(t.Method())
		at := t.at()
		// What an earlier run knew of the directory outlives its journal,
		// which this one replaces: this run may be killed before its own
		// copy begins.
		rec.Items = append(rec.Items, oplock.Item{DBID: at.DBID, Method: method, Host: at.Hostname,
			DataDir: at.DataDir, Port: at.Port, From: t.movedFrom(), Step: stepPlanned, Partial: r.wasCopying(t)})
	}
	j, err := oplock.NewJournal(r.co.DataDir, rec)
	if err != nil {
		return app.Errorf("%w", err)
	}
	r.journal = j
	return nil
}

// step records a target's step in the journal; a journal that cannot be
// written is worth a warning, not the recovery. A copy that begins marks
// the directory as possibly holding a partial copy until a recovery of it
// succeeds.
func (r *recovery) step(t target, step, note string) {
	if r.journal == nil {
		return
	}
	err := r.journal.Update(t.Failed.DBID, func(it *oplock.Item) {
		it.Step, it.Note = step, note
		switch step {
		case stepCopying:
			it.Partial = true
		case stepStarted:
			it.Partial = false
		}
	})
	if err != nil {
		r.env.Log.Warn(err.Error())
	}
}

// recover runs the recovery the user agreed to (or -a): the journal first,
// then the incremental or the full recovery, then the report.
func (r *recovery) recover(ctx context.Context, ts []target) error {
	if err := r.beginJournal(ts); err != nil {
		return err
	}
	// From here on, an interrupt is asked about (§4.13) and handled by
	// the recovery itself: the root context, which the first Ctrl-C
	// cancels, must not stop the catalog update or the FTS probe.
	wctx := context.WithoutCancel(ctx)
	out := make([]outcome, len(ts))
	inc, full, incIdx, fullIdx := splitTargets(ts)
	inPlace := r.recoverIncremental
	if r.opts.Differential { // never with -i or -p, nor -F
		inPlace = r.recoverDifferential
	}
	if len(inc) > 0 {
		o, err := inPlace(wctx, inc)
		if err != nil {
			return err
		}
		for k, i := range incIdx {
			out[i] = o[k]
		}
	}
	if len(full) > 0 {
		o, err := r.recoverFull(wctx, full)
		if err != nil {
			return err
		}
		for k, i := range fullIdx {
			out[i] = o[k]
		}
	}
	return r.report(wctx, ts, out)
}

// recoverIncremental is spec §3.1's pipeline for pg_rewind in place.
func (r *recovery) recoverIncremental(ctx context.Context, ts []target) ([]outcome, error) {
	log := r.env.Log
	out := make([]outcome, len(ts))
	if err := r.updateHBA(ctx, ts); err != nil {
		return nil, err
	}
	log.Info(fmt.Sprintf("%d segment(s) to recover", len(ts)))
	r.stopFailed(ctx, ts, out)
	if err := r.waitMarkedDown(ctx, ts, out); err != nil {
		return nil, err
	}
	if err := r.setup(ctx, ts, out); err != nil {
		return nil, err
	}
	if err := r.updateCatalog(ctx, ts); err != nil {
		return nil, err
	}
	return r.recoverInPlace(ctx, ts, out, r.runRecoveries)
}

// updateHBA is spec §4.6 step 7: the replication entries on the sources'
// pg_hba.conf, then a reload. A failure ends the run (exit 2) before
// anything else changes.
func (r *recovery) updateHBA(ctx context.Context, ts []target) error {
	log := r.env.Log
	log.Info("Starting to create new pg_hba.conf on primary segments")
	cmds, err := r.hbaCommands(ctx, ts)
	if err != nil {
		return err
	}
	var failed []string
	for _, res := range r.runner(len(cmds)).Run(ctx, cmds) {
		if !res.OK() {
			log.Error(fmt.Sprintf("Unable to update pg_hba conf on primary segment: %v", res.Err))
			failed = append(failed, res.Command.Host)
		}
	}
	if len(failed) > 0 {
		log.Error("Unable to update pg_hba.conf on the primary segments")
		return &app.ExitError{Code: app.ExitFatal}
	}
	log.Info("Successfully modified pg_hba.conf on primary segments to allow replication connections")
	return nil
}

// hbaCommands are the pg_hba.conf updates of the sources (spec §6.4),
// one per source host, with buildmirrors' entries and script.
func (r *recovery) hbaCommands(ctx context.Context, ts []target) ([]remote.Command, error) {
	addrs := map[string][]string{}
	if !r.opts.HBAHostnames {
		for _, t := range ts {
			for _, h := range []string{t.Failed.Hostname, t.Source.Hostname} {
				if _, done := addrs[h]; done {
					continue
				}
				a, err := r.opts.lookupHost(ctx, h)
				if err != nil {
					return nil, app.Errorf("resolve %s for pg_hba.conf: %w", h, err)
				}
				addrs[h] = a
			}
		}
	}
	entries := map[string][]string{}
	var hosts []string
	dirs := map[string][]string{}
	for _, t := range ts {
		src := t.Source
		entries[src.DataDir] = buildmirrors.HBAEntries(r.env.User, r.opts.HBAHostnames, src, []string{t.Failed.Hostname}, addrs)
		if _, seen := dirs[src.Hostname]; !seen {
			hosts = append(hosts, src.Hostname)
		}
		dirs[src.Hostname] = append(dirs[src.Hostname], src.DataDir)
	}
	var cmds []remote.Command
	for _, h := range hosts {
		cmds = append(cmds, buildmirrors.HBACommand(r.co.GPHome, h, dirs[h], entries))
	}
	return cmds, nil
}

// stopCommands are the stop scripts of the failed instances, per host.
func (r *recovery) stopCommands(ts []target) []remote.Command {
	shm := "0"
	if r.f == cluster.GP6 {
		shm = "1"
	}
	var hosts []string
	args := map[string][]string{}
	for _, t := range ts {
		h := t.Failed.Hostname
		if _, down := r.unreachable[h]; down {
			continue // a segment moved off a host that does not answer
		}
		if _, seen := args[h]; !seen {
			hosts = append(hosts, h)
			args[h] = []string{r.co.GPHome, shm}
		}
		args[h] = append(args[h], strconv.Itoa(t.Failed.DBID), t.Failed.DataDir)
	}
	var cmds []remote.Command
	for _, h := range hosts {
		cmds = append(cmds, remote.Command{Host: h, Script: stopScript, Args: args[h], Label: "stop failed segments on " + h, Timeout: stopTimeout})
	}
	return cmds
}

// stopFailed is spec §3.1 steps 4 and 5: failed instances that still run
// are stopped (fast); Greenplum 6's shared memory is cleaned up. An
// instance that cannot be stopped is not recovered (its directory is in
// use).
func (r *recovery) stopFailed(ctx context.Context, ts []target, out []outcome) {
	log := r.env.Log
	log.Info(fmt.Sprintf("Ensuring %d failed segment(s) are stopped", len(ts)))
	for _, t := range ts {
		if _, down := r.unreachable[t.Failed.Hostname]; down {
			log.Info(fmt.Sprintf("Skipping shared memory cleanup and gpsegstop on unreachable host: %s segment: %d", t.Failed.Hostname, t.Failed.ContentID))
		}
	}
	byDBID := map[int]int{}
	for i, t := range ts {
		byDBID[t.Failed.DBID] = i
	}
	for _, res := range r.runner(len(ts)).Run(ctx, r.stopCommands(ts)) {
		seen := map[int]bool{}
		for _, line := range strings.Split(res.Stdout, "\n") {
			sl, ok := parseStopLine(line)
			if !ok {
				continue
			}
			i, ok := byDBID[sl.DBID]
			if !ok {
				continue
			}
			if sl.Tag == "SHM" {
				log.Warn(fmt.Sprintf("Unable to clean up shared memory for stopped segments on host (%s): %s %s", res.Command.Host, sl.State, sl.Detail))
				continue
			}
			seen[sl.DBID] = true
			switch sl.State {
			case "failed":
				out[i] = outcome{Kind: "validation", Msg: "could not stop the failed instance: " + sl.Detail}
			case "notpostgres":
				log.Info(fmt.Sprintf("Skipping to stop segment %s on host %s since it is not a postgres process", ts[i].Failed.DataDir, ts[i].Failed.Hostname))
			case "notrunning":
				log.Debug(fmt.Sprintf("Skipping to stop segment %s on host %s since %s", ts[i].Failed.DataDir, ts[i].Failed.Hostname, sl.State+" "+sl.Detail))
			}
		}
		for i, t := range ts {
			if t.Failed.Hostname == res.Command.Host && !seen[t.Failed.DBID] && out[i].Kind == "" {
				out[i] = outcome{Kind: "validation", Msg: fmt.Sprintf("could not check that the failed instance is stopped: %v", resultErr(res))}
			}
		}
	}
	for i, t := range ts {
		if out[i].Kind == "" {
			r.step(t, stepStopped, "")
		}
	}
	if r.f == cluster.GP6 {
		log.Info("Ensuring that shared memory is cleaned up for stopped segments")
	}
}

// setup is "Setting up the required segments for recovery" (spec §3.3):
// a CHECKPOINT on each source, which puts its timeline into pg_control
// for pg_rewind. A failure ends the run before the catalog is touched
// (exit 2), with Greenplum's report.
func (r *recovery) setup(ctx context.Context, ts []target, out []outcome) error {
	log := r.env.Log
	log.Info("Setting up the required segments for recovery")
	var failed []string
	for i, t := range ts {
		if out[i].Kind != "" {
			failed = append(failed, fmt.Sprintf(" hostname: %s; port: %d; error: %s", t.Failed.Hostname, t.Failed.Port, out[i].Msg))
			continue
		}
		if err := r.onSource(ctx, t.Source, setupTimeout, func(c cluster.Conn) error {
			_, err := c.Exec(ctx, "CHECKPOINT")
			return err
		}); err != nil {
			failed = append(failed, fmt.Sprintf(" hostname: %s; port: %d; error: CHECKPOINT on the source %s:%d failed: %v",
				t.Failed.Hostname, t.Failed.Port, t.Source.Hostname, t.Source.Port, err))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	log.Info(strings.Repeat("-", 58))
	log.Info("Failed to setup recovery for the following segments")
	for _, f := range failed {
		log.Error(f)
	}
	return app.Errorf("")
}

// onSource runs fn on a utility connection to src, bounded by d.
func (r *recovery) onSource(ctx context.Context, src cluster.Segment, d time.Duration, fn func(cluster.Conn) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	cfg := cluster.ConnConfig{Host: src.Address, Port: src.Port, Flavour: r.f, Utility: true, ConnectTimeout: sourceTimeout}
	conn, err := r.env.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close(ctx)) }()
	return fn(conn)
}

// catalogStatements are spec §4.7.1's updates: the targets down and not in
// sync, their sources not in sync, each row written only when the catalog
// says otherwise (after an FTS failover nothing is).
func (r *recovery) catalogStatements(ts []target) ([]cluster.Statement, error) {
	before := r.co.Cluster
	segs := before.All()
	for i := range segs {
		for _, t := range ts {
			switch segs[i].DBID {
			case t.Failed.DBID:
				segs[i].Status, segs[i].Mode = cluster.StatusDown, cluster.ModeNotSynced
			case t.Source.DBID:
				segs[i].Mode = cluster.ModeNotSynced
			}
		}
	}
	after, err := cluster.New(segs)
	if err != nil {
		return nil, err
	}
	return cluster.PlanCatalogUpdate(Tool, before, after)
}

// updateCatalog runs catalogStatements in one transaction that an
// interrupt cannot stop (spec §3.1 step 11).
func (r *recovery) updateCatalog(ctx context.Context, ts []target) error {
	log := r.env.Log
	log.Info("Updating configuration for mirrors")
	stmts, err := r.catalogStatements(ts)
	if err != nil {
		return app.Errorf("%w", err)
	}
	if len(stmts) == 0 {
		log.Debug("No catalog change: the failed segments are already down and not in sync")
		return nil
	}
	tctx, cancel := context.WithTimeout(ctx, catalogTimeout)
	defer cancel()
	cfg := cluster.ConnConfig{Port: r.co.Port, Flavour: r.f, AllowSystemTableMods: true, ConnectTimeout: sourceTimeout}
	conn, err := r.env.Connect(tctx, cfg)
	if err != nil {
		return app.Errorf("update the catalog: %w", err)
	}
	defer func() { _ = conn.Close(tctx) }() // the transaction's outcome is known by then
	for _, s := range stmts {
		log.Debug(s.String())
	}
	if err := cluster.ExecInTx(tctx, conn, stmts); err != nil {
		return app.Errorf("update the catalog (nothing was recovered): %w", err)
	}
	log.Debug("Committing configuration table changes")
	return nil
}

// recoverCommand is one target's recovery script.
func (r *recovery) recoverCommand(t target, era string) remote.Command {
	m := buildmirrors.Mirror{Source: t.Source, Target: t.Failed}
	start := buildmirrors.StartArgv(r.f, r.co.GPHome, era, m)
	args := []string{r.co.GPHome, strconv.Itoa(t.Failed.DBID), t.Failed.DataDir, strconv.Itoa(t.Failed.Port), t.ProgressFile,
		standbyFile(r.f), cluster.UtilityOption(r.f), sourceServer(t.Source, rewindAppName), buildmirrors.SlotName,
		rewindFile(t, "pid"), rewindFile(t, "status"), t.Source.Hostname, strconv.Itoa(t.Source.Port)}
	return remote.Command{Host: t.Failed.Hostname, Script: recoverScript, Args: append(args, start...),
		Label: fmt.Sprintf("recover dbid %d", t.Failed.DBID)}
}

// rewindAppName is how a rewind's source connection is known (spec §6):
// gpstate and gprecoverseg recognise a running incremental recovery by it.
const rewindAppName = "__gprecoverseg_pg_rewind__"

// rewindFile is the rewind's pid or status file, next to the target
// directory (never inside it: pg_rewind rewrites the directory).
func rewindFile(t target, kind string) string {
	dir := filepath.Clean(t.Failed.DataDir)
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".pg_rewind."+kind)
}

// recoverInPlace is what an in-place recovery does once the catalog says
// what it will do: read the coordinator's era, run each target's recovery
// (run), wait until the recovered mirrors stream, remove the progress
// files and request an FTS probe. An interrupted run says so and still
// finishes these steps for what was recovered.
func (r *recovery) recoverInPlace(ctx context.Context, ts []target, out []outcome, run func(context.Context, []target, []outcome, string) bool) ([]outcome, error) {
	log := r.env.Log
	log.Info("Initiating segment recovery. Upon completion, will start the successfully recovered segments")
	era, err := cluster.ReadEra(r.co.DataDir, r.f)
	if err != nil {
		return nil, app.Errorf("%w", err)
	}
	if era == "" {
		log.Info("era is None")
	} else {
		log.Info("era is " + era)
	}
	interrupted := run(ctx, ts, out, era)
	r.waitStreaming(ctx, ts, out)
	r.removeProgressFiles(ctx, ts, out)
	if interrupted {
		log.Error("gprecoverseg process was interrupted by the user.")
	}
	r.triggerFTS(ctx, out)
	return out, nil
}

// runRecoveries runs every target's recovery script, -B hosts and -b
// segments per host at once, with the progress display, and reads each
// one's result into out. It reports whether the user interrupted it.
func (r *recovery) runRecoveries(ctx context.Context, ts []target, out []outcome, era string) (interrupted bool) {
	var cmds []remote.Command
	var idx []int
	view := r.newProgressView(ts)
	for i, t := range ts {
		if out[i].Kind != "" {
			continue
		}
		c := r.recoverCommand(t, era)
		dbid := t.Failed.DBID
		c.OnLine = func(l remote.Line) {
			if text, ok := strings.CutPrefix(l.Text, "PROGRESS "); ok {
				view.update(dbid, text)
			}
		}
		cmds = append(cmds, c)
		idx = append(idx, i)
		r.step(t, stepRecovering, "pid file "+rewindFile(t, "pid"))
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopSignals := r.handleSignals(rctx, cancel, &interrupted)
	stopView := view.start(rctx)
	res := remote.Runner{Exec: r.exec, Limit: r.opts.Parallel, PerHost: r.opts.ParallelPerHost}.Run(rctx, cmds)
	stopSignals()
	if err := stopView(); err != nil {
		r.env.Log.Warn(err.Error())
	}
	for k, rs := range res {
		i := idx[k]
		out[i] = parseResult(rs)
		if out[i].Kind == "" {
			r.step(ts[i], stepStarted, "")
		} else {
			r.step(ts[i], stepFailed, out[i].Kind+": "+out[i].Msg)
		}
	}
	if interrupted {
		for k, rs := range res {
			if i := idx[k]; out[i].Kind != "" && rs.ExitCode == -1 {
				r.env.Log.Warn(fmt.Sprintf("dbid %d: its pg_rewind, if it started, goes on in the background on %s (it is never stopped midway); run gprecoverseg again to finish the recovery",
					ts[i].Failed.DBID, ts[i].Failed.Hostname))
			}
		}
	}
	return interrupted
}

// stopLine is one line of stopScript's output: "STOP <dbid> <state>
// <detail>" (state stopped, notrunning, notpostgres or failed) or "SHM
// <dbid> <ipcrm's error>", whose first word is then in State.
type stopLine struct {
	Tag, State, Detail string
	DBID               int
}

// parseStopLine reads one line of stopScript's output; ok is false for a
// line of another shape, which the caller ignores.
func parseStopLine(line string) (l stopLine, ok bool) {
	f := strings.SplitN(line, " ", 4)
	if len(f) < 3 || (f[0] != "STOP" && f[0] != "SHM") {
		return stopLine{}, false
	}
	dbid, err := strconv.Atoi(f[1])
	if err != nil {
		return stopLine{}, false
	}
	l = stopLine{Tag: f[0], DBID: dbid, State: f[2]}
	if len(f) == 4 {
		l.Detail = f[3]
	}
	return l, true
}

// parseResult reads a recovery script's RESULT line.
func parseResult(rs remote.Result) outcome {
	for _, line := range strings.Split(rs.Stdout, "\n") {
		rest, ok := strings.CutPrefix(line, "RESULT ")
		if !ok {
			continue
		}
		kind, msg, _ := strings.Cut(rest, " ")
		switch kind {
		case "":
			continue // not the script's: it always names a kind
		case "ok":
			return outcome{Started: true}
		}
		return outcome{Kind: kind, Msg: msg}
	}
	return outcome{Kind: "incremental", Msg: fmt.Sprintf("the recovery did not finish: %v", resultErr(rs))}
}

// resultErr is a failed result's error with its stderr.
func resultErr(rs remote.Result) error {
	if rs.Err != nil {
		return rs.Err
	}
	return fmt.Errorf("exit status %d: %s", rs.ExitCode, strings.TrimSpace(rs.Stderr))
}

// waitStreaming waits, streamTimeout at most, until every started target
// streams from its source: the FTS probe that follows then marks it up.
// Greenplum does not wait; a target that does not stream in time is
// reported, and FTS's next probes pick it up when it does.
func (r *recovery) waitStreaming(ctx context.Context, ts []target, out []outcome) {
	log := r.env.Log
	deadline := r.env.Now().Add(streamTimeout)
	streams := map[int]bool{}
	for {
		pending := 0
		for i, t := range ts {
			if !out[i].Started || out[i].Kind != "" || streams[i] {
				continue
			}
			var n int
			err := r.onSource(ctx, t.Source, sourceTimeout, func(c cluster.Conn) error {
				return c.QueryRow(ctx, buildmirrors.StreamingSQL, buildmirrors.WalReceiverName).Scan(&n)
			})
			if err == nil && n > 0 {
				streams[i] = true
				log.Debug(fmt.Sprintf("dbid %d streams from dbid %d", t.Failed.DBID, t.Source.DBID))
				continue
			}
			pending++
			if !r.env.Now().Before(deadline) {
				why := "its walreceiver has not connected"
				if err != nil {
					why = err.Error()
				}
				out[i].Kind, out[i].Msg = "stream", fmt.Sprintf("started, but not streaming from %s:%d after %s: %s", t.Source.Hostname, t.Source.Port, streamTimeout, why)
			}
		}
		if pending == 0 || !r.env.Now().Before(deadline) {
			return
		}
		t := time.NewTimer(streamPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// removeProgressFiles removes the progress files of the targets whose
// copy step succeeded (spec §3.1 step 13); failed ones are kept for the
// report.
func (r *recovery) removeProgressFiles(ctx context.Context, ts []target, out []outcome) {
	files := map[string][]string{}
	var hosts []string
	for i, t := range ts {
		if out[i].Kind == "incremental" || out[i].Kind == "full" || out[i].Kind == "differential" || out[i].Kind == "interrupted" {
			continue
		}
		h := t.at().Hostname
		if _, seen := files[h]; !seen {
			hosts = append(hosts, h)
		}
		files[h] = append(files[h], t.ProgressFile)
	}
	var cmds []remote.Command
	for _, h := range hosts {
		cmds = append(cmds, remote.Command{Host: h, Script: progressRemoveScript, Args: files[h], Label: "remove progress files on " + h, Timeout: removeTimeout})
	}
	for _, res := range r.runner(len(cmds)).Run(ctx, cmds) {
		if !res.OK() {
			r.env.Log.Debug(fmt.Sprintf("remove progress files on %s: %v", res.Command.Host, res.Err))
		}
	}
}

// triggerFTS is spec §3.1 step 15.
func (r *recovery) triggerFTS(ctx context.Context, out []outcome) {
	r.env.Log.Info("Triggering FTS probe")
	fctx, cancel := context.WithTimeout(ctx, catalogTimeout)
	defer cancel()
	if err := cluster.TriggerFTS(fctx, r.co.Conn, r.f); err != nil {
		r.env.Log.Warn(fmt.Sprintf("FTS probe request failed: %v; the next regular probe will find the recovered segments", err))
	}
}

package recoverseg

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/gpmgmt/gpmgmt/internal/ctxtime"
	"github.com/gpmgmt/gpmgmt/pkg/buildmirrors"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// gprecoverseg --differential (spec §4.12): each failed instance's own
// directory is brought level with its source by rsync, under a base backup
// of the source, then started as its mirror. Greenplum's order, with these
// changes, each of which a killed or failed run needs:
//
//   - the backup is non-exclusive and held by the tool's own session to
//     the source (application_name differentialAppName), so that it ends
//     with the session, whatever ends the run; backup_label comes from the
//     backup's stop and is written into the copy;
//   - the replication slot is made before the backup starts, so that the
//     WAL from the backup's start on is kept (Greenplum makes it after, and
//     a checkpoint in between may recycle what the copy needs);
//   - a marker beside the directory says that rsync has begun to overwrite
//     it, until the copy is complete: such a directory is never rewound
//     (an incremental recovery is refused), only copied again;
//   - rsync writes its pid file beside the directory: a rerun stops a
//     copy that outlived its run before it starts its own;
//   - a copy that fails drops the slot it made (a slot left inactive keeps
//     WAL on the primary until its disk fills); one whose tool is killed
//     leaves it, as the down mirror's slot was, and the rerun replaces it.
//
// User tablespaces are refused in the plan (differential_plan.go).

// differentialAppName is the application_name of the session that holds a
// differential recovery's backup: the skip rule of spec §4.4.1 finds a
// running differential recovery by it, since a non-exclusive backup is
// invisible to pg_is_in_backup().
const differentialAppName = "__gprecoverseg_differential__"

// backupLabel is the label of the backup (Greenplum's).
const backupLabel = "differential_backup"

// Bounds of the steps of one differential recovery; rsync itself has none
// but the user's interrupt (it may copy terabytes).
const (
	diffStepTimeout  = 2 * time.Minute // each short remote step
	backupTimeout    = 5 * time.Minute // the backup's start (a checkpoint) and stop
	slotReleaseTries = 20              // 200 ms apart: a just stopped mirror's walsender goes
)

// SQL of a differential recovery on its source (utility mode).
const (
	setAppNameSQL = "SELECT pg_catalog.set_config('application_name', $1, false)"
	// sourceSettingsSQL reads the WAL segment size in bytes and the log
	// directory (left out of the copy).
	sourceSettingsSQL = "SELECT pg_catalog.pg_size_bytes(pg_catalog.current_setting('wal_segment_size')), pg_catalog.current_setting('log_directory')"
	slotStateSQL      = "SELECT active, coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn), 0)::bigint FROM pg_catalog.pg_replication_slots WHERE slot_name = $1"
	createSlotSQL     = "SELECT pg_catalog.pg_create_physical_replication_slot($1, true, false)"
)

// besideDir is the file ".<base>.<suffix>" next to data directory dir
// (never inside it: rsync rewrites the directory).
func besideDir(dir, suffix string) string {
	dir = filepath.Clean(dir)
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+"."+suffix)
}

// differentialMarker is the file that says dir is half-copied.
func differentialMarker(dir string) string { return besideDir(dir, "differential") }

// rsyncPIDFile is where a target's rsync writes its pid.
func rsyncPIDFile(dir string) string { return besideDir(dir, "rsync.pid") }

// walListFile is the include list of the WAL copy.
func walListFile(dir string) string { return besideDir(dir, "rsync.wal") }

// recoverDifferential is spec §3.1's pipeline with rsync: the sources'
// pg_hba.conf, the failed instances stopped, the catalog, the copies, the
// wait for streaming, FTS.
func (r *recovery) recoverDifferential(ctx context.Context, ts []target) ([]outcome, error) {
	log := r.env.Log
	out := make([]outcome, len(ts))
	if err := r.updateHBA(ctx, ts); err != nil {
		return nil, err
	}
	log.Info(fmt.Sprintf("%d segment(s) to recover", len(ts)))
	r.stopFailed(ctx, ts, out)
	if err := r.updateCatalog(ctx, ts); err != nil {
		return nil, err
	}
	return r.recoverInPlace(ctx, ts, out, r.runDifferentials)
}

// runDifferentials runs the differential recovery of every target whose
// failed instance is stopped: -B hosts at once, -b targets of one host at
// once, with the progress display. It reports whether the user
// interrupted it.
func (r *recovery) runDifferentials(ctx context.Context, ts []target, out []outcome, era string) (interrupted bool) {
	view := r.newProgressView(ts)
	var todo []int
	for i := range ts {
		if out[i].Kind == "" {
			todo = append(todo, i)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopSignals := r.handleSignals(rctx, cancel, &interrupted)
	stopView := view.start(rctx)
	r.eachByHost(ts, todo, func(i int) {
		r.step(ts[i], stepRecovering, "rsync pid file "+rsyncPIDFile(ts[i].Failed.DataDir))
		out[i] = r.differential(rctx, ts[i], era, view)
		if out[i].Kind == "" {
			r.step(ts[i], stepStarted, "")
		} else {
			r.step(ts[i], stepFailed, out[i].Kind+": "+out[i].Msg)
		}
	})
	stopSignals()
	if err := stopView(); err != nil {
		r.env.Log.Warn(err.Error())
	}
	return interrupted
}

// eachByHost calls fn for each index of idx, the targets of -B hosts at
// once and -b targets of one host at once (Greenplum's worker pool of
// hosts, each running its segments), and returns when all are done.
func (r *recovery) eachByHost(ts []target, idx []int, fn func(i int)) {
	var hosts []string
	byHost := map[string][]int{}
	for _, i := range idx {
		h := ts[i].Failed.Hostname
		if _, seen := byHost[h]; !seen {
			hosts = append(hosts, h)
		}
		byHost[h] = append(byHost[h], i)
	}
	var g errgroup.Group
	g.SetLimit(max(r.opts.Parallel, 1))
	for _, h := range hosts {
		g.Go(func() error {
			var per errgroup.Group
			per.SetLimit(max(r.opts.ParallelPerHost, 1))
			for _, i := range byHost[h] {
				per.Go(func() error { fn(i); return nil })
			}
			return per.Wait()
		})
	}
	_ = g.Wait() // fn reports through its own results
}

// differential recovers one target: see the file's comment for the order.
func (r *recovery) differential(ctx context.Context, t target, era string, view *progressView) (o outcome) {
	log := r.env.Log
	dir, host := t.Failed.DataDir, t.Failed.Hostname
	log.Info(fmt.Sprintf("Running differential recovery with progress output temporarily in %s", t.ProgressFile))
	// Cleanups run with the interrupt ignored: they are what keeps a
	// stopped run from leaving a copy, a session or a slot behind.
	cctx := context.WithoutCancel(ctx)
	onLine := func(l remote.Line) {
		if text, ok := strings.CutPrefix(l.Text, "PROGRESS "); ok {
			view.update(t.Failed.DBID, text)
		}
	}

	if err := remote.Stop(ctx, r.exec, host, rsyncPIDFile(dir)); err != nil {
		return outcome{Kind: "validation", Msg: fmt.Sprintf("could not stop the rsync an earlier run left copying into %s: %v", dir, err)}
	}
	if o := r.diffScript(ctx, host, diffPrepareScript, []string{dir, strconv.Itoa(t.Failed.DBID)}, "check the target of dbid "+strconv.Itoa(t.Failed.DBID), nil, ""); o.Kind != "" {
		return o
	}

	sess, err := r.backupSession(ctx, t.Source)
	if err != nil {
		return outcome{Kind: "differential", Msg: err.Error()}
	}
	sessOpen := true
	closeSession := func() {
		if sessOpen {
			sessOpen = false
			if err := sess.Close(cctx); err != nil {
				log.Debug(fmt.Sprintf("close the backup session on %s:%d: %v", t.Source.Hostname, t.Source.Port, err))
			}
		}
	}
	defer closeSession()
	// Until the copy is complete, a failure drops the slot this run made.
	slotMade, complete := false, false
	defer func() {
		if !slotMade || complete {
			return
		}
		closeSession() // ends the backup, if it runs
		if err := r.dropOwnSlot(cctx, t.Source); err != nil {
			log.Warn(fmt.Sprintf("%s: the replication slot %s on %s:%d could not be dropped: %v; drop it with SELECT pg_drop_replication_slot('%[2]s') in a utility session, or it keeps WAL on the primary",
				t.label(), buildmirrors.SlotName, t.Source.Hostname, t.Source.Port, err))
		}
	}()

	var segSize int64
	var logDirectory string
	if err := sess.QueryRow(ctx, sourceSettingsSQL).Scan(&segSize, &logDirectory); err != nil {
		return outcome{Kind: "differential", Msg: fmt.Sprintf("read the settings of the source %s:%d: %v", t.Source.Hostname, t.Source.Port, err)}
	}
	if err := r.replaceSlot(ctx, sess, t.Source); err != nil {
		return outcome{Kind: "differential", Msg: err.Error()}
	}
	slotMade = true
	bctx, cancel := context.WithTimeout(ctx, backupTimeout)
	backup, err := cluster.StartBackup(bctx, sess, backupLabel)
	cancel()
	if err != nil {
		return outcome{Kind: "differential", Msg: backupFailure(t.Source, err)}
	}
	log.Debug(fmt.Sprintf("Successfully ran %s for segment on host %s, port %d (non-exclusive, from %s)", backup.StartFunc(), t.Source.Hostname, t.Source.Port, backup.StartLSN))

	insecure := r.env.SSHOptions(&r.opts.CommonOptions, "").InsecureIgnoreHostKeys
	log.Debug(fmt.Sprintf("Syncing pg_data of dbid %d", t.Failed.DBID))
	sync := append([]string{t.ProgressFile, "truncate", differentialMarker(dir), "", "", "", "", ""}, rsyncDataArgv(t.Source, dir, logDirectory, insecure)...)
	if o := r.diffScript(ctx, host, diffRsyncScript, sync, "rsync the data directory of dbid "+strconv.Itoa(t.Failed.DBID), onLine, rsyncPIDFile(dir)); o.Kind != "" {
		return r.stopped(cctx, t, o)
	}

	bctx, cancel = context.WithTimeout(ctx, backupTimeout)
	res, err := backup.Stop(bctx)
	cancel()
	if err != nil {
		return outcome{Kind: "differential", Msg: backupFailure(t.Source, err)}
	}
	log.Debug(fmt.Sprintf("Successfully stopped the backup of segment on host %s, port %d, at %s", t.Source.Hostname, t.Source.Port, res.StopLSN))
	closeSession()
	if res.TablespaceMap != "" {
		return outcome{Kind: "differential", Msg: fmt.Sprintf("the source %s:%d has user tablespaces now, which a differential recovery cannot copy: run gprecoverseg -F", t.Source.Hostname, t.Source.Port)}
	}
	wal, err := backupWAL(res.Label, res.StopLSN, segSize)
	if err != nil {
		return outcome{Kind: "differential", Msg: err.Error()}
	}

	label := fmt.Sprint("dbid ", t.Failed.DBID)
	if o := r.diffScript(ctx, host, diffLabelScript, []string{dir, res.Label, res.TablespaceMap}, "write the backup label of "+label, nil, ""); o.Kind != "" {
		return o
	}
	log.Debug(fmt.Sprintf("Writing recovery.conf and internal.auto.conf files for dbid %d", t.Failed.DBID))
	conf := r.exec.Exec(ctx, remote.Command{Host: host, Argv: confFilesArgv(r.co.GPHome, t), Label: "write the configuration files of " + label, Timeout: diffStepTimeout})
	if !conf.OK() {
		return r.stopped(cctx, t, outcome{Kind: "differential", Msg: fmt.Sprintf("pg_basebackup --write-conf-files-only failed: %v", resultErr(conf))})
	}
	log.Debug(fmt.Sprintf("Syncing pg_wal directory of dbid %d (%d segment(s) from %s)", t.Failed.DBID, wal.Last-wal.First+1, wal.Names()[0]))
	walSync := append(append([]string{t.ProgressFile, "append", "", walListFile(dir)}, wal.args()...), rsyncWALArgv(t.Source, dir, walListFile(dir), insecure)...)
	if o := r.diffScript(ctx, host, diffRsyncScript, walSync, "rsync the WAL of "+label, onLine, rsyncPIDFile(dir)); o.Kind != "" {
		return r.stopped(cctx, t, o)
	}
	log.Debug(fmt.Sprintf("Syncing pg_control file of dbid %d", t.Failed.DBID))
	control := append([]string{t.ProgressFile, "append", "", "", "", "", "", ""}, rsyncControlArgv(t.Source, dir, insecure)...)
	if o := r.diffScript(ctx, host, diffRsyncScript, control, "rsync pg_control of "+label, onLine, rsyncPIDFile(dir)); o.Kind != "" {
		return r.stopped(cctx, t, o)
	}
	complete = true
	log.Info(fmt.Sprintf("Successfully ran differential recovery for dbid %d", t.Failed.DBID))

	m := buildmirrors.Mirror{Source: t.Source, Target: t.Failed}
	finish := append([]string{r.co.GPHome, dir, strconv.Itoa(t.Failed.Port), differentialMarker(dir), rsyncPIDFile(dir)}, buildmirrors.StartArgv(r.f, r.co.GPHome, era, m)...)
	log.Info(fmt.Sprintf("Updating %s/postgresql.conf", dir))
	return r.diffScript(ctx, host, diffFinishScript, finish, "start "+label, nil, "")
}

// diffScript runs one script of a differential recovery on host and reads
// its RESULT line. A short step is bounded by diffStepTimeout; an rsync
// (pidFile set) is not, and writes its pid there, so that it can be
// stopped whatever happens to its SSH session.
func (r *recovery) diffScript(ctx context.Context, host, script string, args []string, what string, onLine func(remote.Line), pidFile string) outcome {
	c := remote.Command{Host: host, Script: script, Args: args, Label: what, OnLine: onLine, Timeout: diffStepTimeout, PIDFile: pidFile}
	if pidFile != "" {
		c.Timeout = 0
	}
	res := r.exec.Exec(ctx, c)
	for _, line := range strings.Split(res.Stdout, "\n") {
		rest, ok := strings.CutPrefix(line, "RESULT ")
		if !ok {
			continue
		}
		kind, msg, _ := strings.Cut(rest, " ")
		if kind == "ok" {
			return outcome{Started: msg == "started"}
		}
		return outcome{Kind: kind, Msg: msg}
	}
	if ctx.Err() != nil {
		return outcome{Kind: "differential", Msg: "interrupted: " + what + " was stopped; run gprecoverseg --differential again, or gprecoverseg -F"}
	}
	return outcome{Kind: "differential", Msg: fmt.Sprintf("%s did not finish: %v", what, resultErr(res))}
}

// stopped ends a failed step that may have left rsync running (the tool
// interrupted: the session is gone, its rsync may not be): the rsync is
// stopped by its pid file before the outcome is reported.
func (r *recovery) stopped(ctx context.Context, t target, o outcome) outcome {
	if err := remote.Stop(ctx, r.exec, t.Failed.Hostname, rsyncPIDFile(t.Failed.DataDir)); err != nil {
		r.env.Log.Warn(fmt.Sprintf("%s: the rsync into %s could not be stopped: %v", t.label(), t.Failed.DataDir, err))
	}
	return o
}

// backupSession opens the utility session to src that will hold the
// backup, known by differentialAppName.
func (r *recovery) backupSession(ctx context.Context, src cluster.Segment) (cluster.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	cfg := cluster.ConnConfig{Host: src.Address, Port: src.Port, Flavour: r.f, Utility: true, ConnectTimeout: sourceTimeout}
	conn, err := r.env.Connect(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the source %s:%d: %w", src.Hostname, src.Port, err)
	}
	if _, err := conn.Exec(cctx, setAppNameSQL, differentialAppName); err != nil {
		return nil, errors.Join(fmt.Errorf("name the backup session on %s:%d: %w", src.Hostname, src.Port, err), conn.Close(context.WithoutCancel(ctx)))
	}
	return conn, nil
}

// replaceSlot makes a fresh internal_wal_replication_slot on the source,
// reserving WAL at once, before the backup starts: an inactive one (the
// down mirror's, or one an interrupted run left) is dropped first, with
// the WAL it held reported; one in use is refused.
func (r *recovery) replaceSlot(ctx context.Context, sess cluster.Conn, src cluster.Segment) error {
	log := r.env.Log
	where := fmt.Sprintf("host:%s, port:%d", src.Hostname, src.Port)
	log.Debug(fmt.Sprintf("Checking if slot %s exists for %s", buildmirrors.SlotName, where))
	for try := 0; ; try++ {
		var active bool
		var held int64
		err := sess.QueryRow(ctx, slotStateSQL, buildmirrors.SlotName).Scan(&active, &held)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			log.Debug(fmt.Sprintf("Slot %s does not exist for %s", buildmirrors.SlotName, where))
		case err != nil:
			return fmt.Errorf("Failed to drop replication slot: %w", err)
		case active && try < slotReleaseTries:
			if err := ctxtime.Sleep(ctx, 200*time.Millisecond); err != nil {
				return err
			}
			continue
		case active:
			return fmt.Errorf("Failed to drop replication slot: %s on %s:%d is in use (a walsender streams from it)", buildmirrors.SlotName, src.Hostname, src.Port)
		default:
			log.Info(fmt.Sprintf("Replication slot %s on %s:%d is not in use and holds %s of WAL; it is replaced by a new one", buildmirrors.SlotName, src.Hostname, src.Port, human(held)))
			if _, err := sess.Exec(ctx, buildmirrors.DropSlotSQL, buildmirrors.SlotName); err != nil {
				return fmt.Errorf("Failed to drop replication slot: %w", err)
			}
			log.Debug(fmt.Sprintf("Successfully dropped replication slot %s for %s", buildmirrors.SlotName, where))
		}
		break
	}
	if _, err := sess.Exec(ctx, createSlotSQL, buildmirrors.SlotName); err != nil {
		return fmt.Errorf("Failed to create replication slot: %w", err)
	}
	log.Debug(fmt.Sprintf("Successfully created replication slot %s for %s", buildmirrors.SlotName, where))
	return nil
}

// dropOwnSlot drops the slot a failed copy made, unless something streams
// from it.
func (r *recovery) dropOwnSlot(ctx context.Context, src cluster.Segment) error {
	return r.onSource(ctx, src, setupTimeout, func(c cluster.Conn) error {
		_, err := c.Exec(ctx, buildmirrors.DropSlotSQL, buildmirrors.SlotName)
		if err == nil {
			r.env.Log.Info(fmt.Sprintf("Dropped the replication slot %s this run made on %s:%d", buildmirrors.SlotName, src.Hostname, src.Port))
		}
		return err
	})
}

// backupFailure is Greenplum 7's message for a backup function that
// failed on src ("Failed to query pg_start_backup() for segment with host
// sdw1 and port 6000 : <error>"), in the dialect's function name.
func backupFailure(src cluster.Segment, err error) string {
	var be *cluster.BackupError
	if errors.As(err, &be) {
		return fmt.Sprintf("Failed to query %s for segment with host %s and port %d : %v", be.Func, src.Hostname, src.Port, be.Err)
	}
	return fmt.Sprintf("Failed to start a backup of the segment with host %s and port %d : %v", src.Hostname, src.Port, err)
}

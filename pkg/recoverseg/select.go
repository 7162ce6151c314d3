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
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
)

// target is one segment to recover: the failed row (status d, or named
// in a -i file) and the acting primary of its content, the source; in
// place, or at a new location (Move).
type target struct {
	Failed cluster.Segment
	Source cluster.Segment
	Full   bool // pg_basebackup (-F, or a new location), else pg_rewind
	// Differential is rsync (--differential), never with Full.
	Differential bool
	// Move, when set, is the failed row at its new location (-i with two
	// groups, -p): the same dbid, content and roles on another host, port
	// or directory. Always a full recovery.
	Move *cluster.Segment
	// Twice says a -i file named the failed location twice: a full
	// recovery in place (-o writes both groups back).
	Twice bool
	// MovedFrom, for a segment an earlier run of this tool moved to where
	// it is now and stopped before it ran there, is where it was
	// (address|port|datadir); it is recovered in full, in place.
	MovedFrom string
	// ProgressFile is where the copy's output goes on the target host
	// (spec §3.2): <logdir>/<pg_rewind|pg_basebackup|rsync>.<stamp>.dbid<d>.out.
	ProgressFile string
	Plan         plan
}

// Method is the synchronization mode of the display: Incremental, Full
// or Differential.
func (t target) Method() string {
	switch {
	case t.Full:
		return "Full"
	case t.Differential:
		return "Differential"
	}
	return "Incremental"
}

// label names the target in messages: "dbid 3 (content 1) on sdw1:6001",
// where the recovery lands.
func (t target) label() string {
	at := t.at()
	return fmt.Sprintf("dbid %d (content %d) on %s:%d", at.DBID, at.ContentID, at.Hostname, at.Port)
}

// at is where the recovery lands: the new location, or the failed row.
func (t target) at() cluster.Segment {
	if t.Move != nil {
		return *t.Move
	}
	return t.Failed
}

// SQL of the selection (spec §4.4.1).
const (
	// basebackupRunningSQL finds contents whose acting primary serves a
	// pg_basebackup (a copy already running). Normal connection.
	basebackupRunningSQL = "select gp_segment_id from gp_stat_replication where application_name = 'pg_basebackup'"
	// sourceStateSQL is asked of each source in utility mode: whether it
	// is in recovery (then it is no acting primary), and how many
	// pg_rewinds run against it.
	sourceStateSQL = "SELECT pg_catalog.pg_is_in_recovery(), (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE application_name = '__gprecoverseg_pg_rewind__')"
)

// sourceTimeout bounds the connection to a source and its query.
const sourceTimeout = 20 * time.Second

// selectTargets is spec §4.4: the segments to recover as the options say
// (in place, from a -i file, onto -p spare hosts), minus those whose
// source already feeds a copy or a rewind (warnings). A source is proven
// live before anything changes: a content whose failed instance's peer
// does not answer as an acting primary is a double fault, and the run is
// refused, naming both instances.
func (r *recovery) selectTargets(ctx context.Context) ([]target, error) {
	var out []target
	var err error
	switch {
	case r.opts.ConfigFile != "":
		out, err = r.fromFile(ctx)
	case r.opts.SpareHosts != "":
		out, err = r.ontoSpares(ctx)
	default:
		out, err = r.inPlace()
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	out, err = r.skipBusy(ctx, out)
	if err != nil {
		return nil, err
	}
	if out, err = r.skipDifferentialRunning(ctx, out); err != nil {
		return nil, app.Errorf("%w", err)
	}
	logDir := r.opts.LogDir
	if logDir == "" {
		logDir = gplog.DefaultDir(r.env.Home)
	}
	for i := range out {
		tool := "pg_rewind"
		switch {
		case out[i].Full:
			tool = "pg_basebackup"
		case out[i].Differential:
			tool = "rsync"
		}
		out[i].ProgressFile = filepath.Join(logDir, fmt.Sprintf("%s.%s.dbid%d.out", tool, r.stamp, out[i].Failed.DBID))
	}
	return out, nil
}

// inPlace is spec §4.4.1: every segment row with status d, paired with its
// acting primary, minus those on unreachable hosts (a warning).
func (r *recovery) inPlace() ([]target, error) {
	var out []target
	for _, failed := range r.co.Cluster.Segments() {
		if failed.IsUp() {
			continue
		}
		source, err := r.peerOf(failed)
		if err != nil {
			return nil, err
		}
		if _, down := r.unreachable[failed.Hostname]; down {
			r.env.Log.Warn(fmt.Sprintf("Not recovering segment %d because %s is unreachable", failed.DBID, failed.Hostname))
			continue
		}
		if err := validSource(failed, source, r.unreachable); err != nil {
			return nil, err
		}
		out = append(out, target{Failed: failed, Source: source, Full: r.opts.Full, Differential: r.opts.Differential})
	}
	return out, nil
}

// peerOf is the other instance of failed's content, the source of its
// recovery.
func (r *recovery) peerOf(failed cluster.Segment) (cluster.Segment, error) {
	for _, p := range r.co.Cluster.Pairs() {
		if p.Content != failed.ContentID {
			continue
		}
		for _, s := range []*cluster.Segment{p.Primary, p.Mirror} {
			if s != nil && s.DBID != failed.DBID {
				return *s, nil
			}
		}
	}
	return cluster.Segment{}, app.Errorf("No peer found for dbid %d. liveSegment is None", failed.DBID)
}

// validSource is §3's triple validation of a source, from the catalog.
func validSource(failed, src cluster.Segment, unreachable map[string]error) error {
	c := failed.ContentID
	switch {
	case src.IsCoordinator():
		return app.Errorf("Segment to recover from for content %d is not a correct segment (it is a master or standby master)", c)
	case !src.IsPrimary():
		return app.Errorf("Segment to recover from for content %d is not a primary", c)
	case !src.IsUp():
		return app.Errorf("Primary segment is not up for content %d", c)
	case src.DBID == failed.DBID:
		return app.Errorf("For content %d, the dbid values are the same.  A segment may not be recovered from itself", c)
	}
	if _, down := unreachable[src.Hostname]; down {
		return app.Errorf("The recovery source segment %s (content %d) is unreachable.", src.Hostname, c)
	}
	return nil
}

// doubleFaultError refuses a content neither of whose instances can serve
// as a source.
type doubleFaultError struct {
	Failed, Source cluster.Segment
	Cause          error
}

func (e *doubleFaultError) Error() string {
	return fmt.Sprintf("both instances of content %d are unavailable: dbid %d is down, and its peer dbid %d (%s:%d, the acting primary in the catalog) %v; no copy is possible and nothing was changed",
		e.Failed.ContentID, e.Failed.DBID, e.Source.DBID, e.Source.Hostname, e.Source.Port, e.Cause)
}

func (e *doubleFaultError) Unwrap() error { return e.Cause }

// skipBusy applies the skip rules and proves every source live: a
// content whose primary feeds a pg_basebackup, or a pg_rewind, that an
// earlier run of the same recovery did not leave behind is skipped with
// Greenplum's warning; a source that does not answer in utility mode, or
// is in recovery, is a double fault.
func (r *recovery) skipBusy(ctx context.Context, ts []target) ([]target, error) {
	log := r.env.Log
	copying := map[int]bool{}
	rows, err := r.co.Conn.Query(ctx, basebackupRunningSQL)
	if err != nil {
		return nil, app.Errorf("Failed to query gp_stat_replication: %w", err)
	}
	for rows.Next() {
		var content int
		if err := rows.Scan(&content); err != nil {
			rows.Close()
			return nil, app.Errorf("Failed to query gp_stat_replication: %w", err)
		}
		copying[content] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, app.Errorf("Failed to query gp_stat_replication: %w", err)
	}

	var kept []target
	var skipCopy, skipRewind []int
	var faults []error
	for _, t := range ts {
		inRecovery, rewinds, err := r.sourceState(ctx, t.Source)
		switch {
		case err != nil:
			faults = append(faults, &doubleFaultError{Failed: t.Failed, Source: t.Source, Cause: fmt.Errorf("does not answer: %w", err)})
			continue
		case inRecovery:
			faults = append(faults, &doubleFaultError{Failed: t.Failed, Source: t.Source, Cause: errors.New("is in recovery (a mirror, not a primary)")})
			continue
		case copying[t.Source.ContentID] && !(t.Full && r.wasCopying(t)):
			skipCopy = append(skipCopy, t.Source.ContentID)
			continue
		case rewinds > 0 && !r.ownRewind(t):
			skipRewind = append(skipRewind, t.Source.ContentID)
			continue
		}
		kept = append(kept, t)
	}
	if len(faults) > 0 {
		for _, f := range faults {
			log.Error(f.Error())
		}
		return nil, &app.HintError{Err: app.Errorf("%w", errors.Join(faults...)),
			Hint: "start the peer instance if its host is back (gpstart), or restore the content from a backup; gprecoverseg cannot copy from an instance that is down"}
	}
	if len(skipCopy) > 0 {
		log.Warn(fmt.Sprintf("Found pg_basebackup running for segments with contentIds %s, skipping recovery of these segments", pyInts(skipCopy)))
	} else {
		log.Debug("No basebackup running")
	}
	if len(skipRewind) > 0 {
		log.Warn(fmt.Sprintf("Found pg_rewind running for segments with contentIds %s, skipping recovery of these segments", pyInts(skipRewind)))
	}
	return kept, nil
}

// ownRewind reports whether the earlier run's journal says it was
// rewinding t: its detached pg_rewind is the one running, which this run
// waits for instead of skipping the segment.
func (r *recovery) ownRewind(t target) bool {
	if r.prev == nil {
		return false
	}
	it, ok := r.prev.Item(t.Failed.DBID)
	return ok && it.Method == "incremental"
}

// wasCopying reports whether the earlier run's journal says a copy of
// t's source into where t lands began and did not finish: that run was
// copying when it stopped, or it carried the word of a run before it
// (Partial) and was stopped before its own copy. The pg_basebackup the
// source feeds is then an orphan of those runs, which a full recovery
// stops by its pid file and starts again instead of skipping the segment,
// and the directory may hold a half-written copy. A copy to another place
// (an earlier move elsewhere) is not this recovery's.
func (r *recovery) wasCopying(t target) bool {
	if r.prev == nil {
		return false
	}
	it, ok := r.prev.Item(t.Failed.DBID)
	at := t.at()
	return ok && (it.Partial || it.Method == "full" && it.Step == stepCopying) &&
		it.Host == at.Hostname && it.Port == at.Port && filepath.Clean(it.DataDir) == filepath.Clean(at.DataDir)
}

// sourceState asks a source, in utility mode, whether it is in recovery
// and how many pg_rewinds run against it.
func (r *recovery) sourceState(ctx context.Context, src cluster.Segment) (inRecovery bool, rewinds int, err error) {
	ctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	cfg := cluster.ConnConfig{Host: src.Address, Port: src.Port, Flavour: r.f, Utility: true, ConnectTimeout: sourceTimeout}
	conn, err := r.env.Connect(ctx, cfg)
	if err != nil {
		return false, 0, err
	}
	defer func() { err = errors.Join(err, conn.Close(context.WithoutCancel(ctx))) }()
	err = conn.QueryRow(ctx, sourceStateSQL).Scan(&inRecovery, &rewinds)
	return inRecovery, rewinds, err
}

// pyInts prints ns as Python prints a list: "[1, 2]".
func pyInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

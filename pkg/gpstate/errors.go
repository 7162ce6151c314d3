package gpstate

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/gplog"
	"github.com/gpmgmt/gpmgmt/pkg/render"
)

// errorsProgressFile is the file gprecoverseg keeps in its log directory
// while it recovers segments (spec §4.9), which -e reads from its own log
// directory.
const errorsProgressFile = "recovery_progress.file"

// errorsRecoveryLock is gprecoverseg's lock directory in the coordinator
// data directory (GP7 and Cloudberry; spec §4.2), and the file in it that
// holds the pid of the running gprecoverseg (GP7).
const (
	errorsRecoveryLock    = "gprecoverseg.lock"
	errorsRecoveryLockPID = "PID"
)

// errorsStars frames the "DATABASE IS PROBABLY UNAVAILABLE" warning.
var errorsStars = strings.Repeat("*", 53)

// errorsProgress is one segment's last recovery progress line.
type errorsProgress struct {
	Type, Completed, Total, Percentage string
}

// errors is gpstate -e (spec §2.4.5,
// __showSummaryOfSegmentsWhichRequireAttention): the segment pairs and
// segments that need attention. It exits 1 when a section is printed, or
// when the cluster has no mirrors.
func (r *report) errors(ctx context.Context) error {
	if !r.st.Cluster.HasMirrors() {
		r.env.Log.Info("Physical mirroring is not configured")
		return exitIf(true)
	}
	progress := map[int]errorsProgress{}
	if errorsRecoveryRunning(r.st.Flavour, r.st.DataDir) {
		progress = r.errorsRecoveryProgress()
	}
	recs, attention := errorsRecords(r.st, progress)
	gplog.Emit(ctx, r.env.Log, recs)
	return exitIf(attention)
}

// errorsRecords builds -e's lines (pure) and says whether any section was
// printed. progress is the recovery progress by dbid (errorsParseProgress).
func errorsRecords(st *Status, progress map[int]errorsProgress) ([]gplog.Record, bool) {
	// Greenplum logs the replication warnings while it builds its data,
	// before the report.
	rep := st.Replication()
	recs := modeWarn(rep.Warnings...)
	recs = append(recs, modeInfo(render.SeparatorLine, "Segment Mirroring Status Report")...)
	attention := false
	section := func(title string, header []string, rows [][]string) {
		if len(rows) == 0 {
			return
		}
		attention = true
		t := &render.Table{Arrows: true}
		t.Add(header...)
		for _, row := range rows {
			t.Add(row...)
		}
		recs = append(recs, modeInfo(render.SeparatorLine, title)...)
		recs = append(recs, t.Records()...)
	}

	segs := st.Cluster.Segments()
	mirrorOf := map[int]cluster.Segment{} // current mirrors by content
	for _, s := range segs {
		if s.IsMirror() {
			mirrorOf[s.ContentID] = s
		}
	}
	pairRow := func(p cluster.Segment, extra ...string) []string {
		row := append([]string{p.Address, strconv.Itoa(p.Port)}, extra...)
		if m, ok := mirrorOf[p.ContentID]; ok {
			return append(row, m.Address, strconv.Itoa(m.Port))
		}
		return append(row, "", "")
	}

	var switched [][]string
	for _, s := range segs {
		if s.IsPrimary() && s.PreferredRole == cluster.RoleMirror {
			switched = append(switched, pairRow(s))
		}
	}
	section("Segments with Primary and Mirror Roles Switched", []string{"Current Primary", "Port", "Mirror", "Port"}, switched)

	var unsynced [][]string
	for _, s := range segs {
		if !s.IsPrimary() {
			continue
		}
		remaining, synced, err := errorsSync(st, s)
		if err != "" {
			recs = append(recs, modeWarn(err)...)
			continue
		}
		if !synced {
			unsynced = append(unsynced, pairRow(s, remaining))
		}
	}
	section("Unsynchronized Segment Pairs", []string{"Current Primary", "Port", "WAL sync remaining bytes", "Mirror", "Port"}, unsynced)

	var down [][]string
	for _, s := range segs {
		if status, warn := st.DatabaseStatus(s); warn {
			down = append(down, []string{s.Address, strconv.Itoa(s.Port), s.Status.Label(), status})
		}
	}
	section("Downed Segments (may include segments where status could not be retrieved)", []string{"Segment", "Port", "Config status", "Status"}, down)

	if st.Unavailable() {
		recs = append(recs, modeWarn(errorsStars, "DATABASE IS PROBABLY UNAVAILABLE",
			"Review Instance Status in log file or screen output for more information", errorsStars)...)
	}

	var recovering [][]string
	for _, s := range segs {
		if p, ok := progress[s.DBID]; ok {
			recovering = append(recovering, []string{s.Address, strconv.Itoa(s.Port), p.Type, p.Completed, p.Total, p.Percentage})
		}
	}
	section("Segments in recovery", []string{"Segment", "Port", "Recovery type", "Completed bytes (kB)", "Total bytes (kB)", "Percentage completed"}, recovering)

	if !attention {
		recs = append(recs, modeInfo(render.SeparatorLine, "All segments are running normally")...)
	}
	return recs, attention
}

// errorsSync is the "Unsynchronized Segment Pairs" verdict on the current
// primary p: whether its pair is in sync, the "WAL sync remaining bytes"
// when not, or the warning Greenplum logs when p could not be queried (the
// pair is then not listed).
//
// Greenplum runs one more query on p for this,
// pg_xlog_location_diff(pg_current_xlog_location(), sent_location) and
// sync_state of pg_stat_replication (GP7: pg_wal_lsn_diff of
// pg_current_wal_flush_lsn()), calling the pair unsynchronized when no row
// or a row not in sync_state 'sync' comes back. That query is not
// gathered: the verdict is derived from what the gather read of p's
// pg_stat_replication (r.st.Obs.Repl) instead. The pair is unsynchronized
// when p's catalog mode is not 's' (FTS has not seen the mirror in sync)
// or p's walreceiver row (application_name gp_walreceiver) is missing or
// not streaming; the remaining bytes are that row's sent_left, "Unknown"
// when there is no such row. sent_left is pg_current_xlog_location() -
// sent_location, Greenplum 6's own quantity; on GP7 it counts from
// pg_current_wal_lsn() where Greenplum counts from
// pg_current_wal_flush_lsn(), which differ only by WAL not yet flushed.
func errorsSync(st *Status, p cluster.Segment) (remaining string, synced bool, warning string) {
	var r *Replication
	if st.Obs != nil {
		r = st.Obs.Repl[p.DBID]
	}
	if r != nil && r.Err != "" {
		return "", false, fmt.Sprintf("could not query segment %d (%s:%d)", p.DBID, p.Hostname, p.Port)
	}
	remaining = "Unknown"
	streaming := false
	if r != nil {
		for _, row := range r.Rows {
			if row.AppName == "gp_walreceiver" {
				if row.SentLeft != "" {
					remaining = row.SentLeft
				}
				streaming = row.State == "streaming"
				break
			}
		}
	}
	return remaining, p.IsSynced() && streaming, ""
}

// errorsRecoveryRunning reports whether -e looks at the recovery progress
// file at all (spec §2.4.5): Greenplum 6 always (the file's presence
// decides), Greenplum 7 only while a gprecoverseg holds its lock (the pid
// in MDD/gprecoverseg.lock/PID is alive), Cloudberry while its lock
// directory exists.
func errorsRecoveryRunning(f cluster.Flavour, dataDir string) bool {
	lock := filepath.Join(dataDir, errorsRecoveryLock)
	switch f {
	case cluster.GP7:
		b, err := os.ReadFile(filepath.Join(lock, errorsRecoveryLockPID))
		if err != nil {
			return false
		}
		fields := strings.Fields(string(b))
		if len(fields) == 0 {
			return false
		}
		pid, err := strconv.Atoi(fields[0])
		return err == nil && errorsProcessAlive(pid)
	case cluster.Cloudberry:
		fi, err := os.Stat(lock)
		return err == nil && fi.IsDir()
	}
	return true
}

// errorsProcessAlive reports whether process pid exists on this host (the
// coordinator's, where gprecoverseg runs): signal 0 reaches it, or it
// belongs to another user.
func errorsProcessAlive(pid int) bool {
	if pid <= 0 {
		return false // 0 and negative pids name process groups
	}
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// errorsRecoveryProgress reads <log dir>/recovery_progress.file, the log
// directory being gpstate's own (-l, else ~/gpAdminLogs): gprecoverseg -l X
// needs gpstate -e -l X. A missing or unreadable file means no recovery.
func (r *report) errorsRecoveryProgress() map[int]errorsProgress {
	dir := r.opts.LogDir
	if dir == "" {
		dir = gplog.DefaultDir(r.env.Home)
	}
	path := filepath.Join(dir, errorsProgressFile)
	f, err := os.Open(path)
	if err != nil {
		if !os.IsNotExist(err) {
			r.env.Log.Debug(fmt.Sprintf("cannot read %s: %v", path, err))
		}
		return map[int]errorsProgress{}
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return errorsParseProgress(lines)
}

// errorsProgressRE is the progress a line must show to count, pg_basebackup's
// and pg_rewind's "<done>/<total> kB (<p>%)"; its groups are the numbers.
var errorsProgressRE = regexp.MustCompile(`(\d+)/(\d+) (?:kB|mB) \((\d+%)\)`)

// errorsParseProgress reads the lines of recovery_progress.file (pure),
// "<type>:<dbid>:<text>" each, as _parse_recovery_progress_data does: only
// lines whose text shows errorsProgressRE count, and the numbers are those
// it shows; a later line replaces an earlier one of the same dbid. Lines
// of another shape (which Greenplum would crash on) are skipped, and so
// are numbers glued to other text ("A00/123 kB"), which Greenplum would
// print as they are.
func errorsParseProgress(lines []string) map[int]errorsProgress {
	out := map[int]errorsProgress{}
	for _, line := range lines {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		dbid, err := strconv.Atoi(parts[1])
		if err != nil {
			continue
		}
		text := strings.TrimSpace(parts[2])
		m := errorsProgressRE.FindStringSubmatchIndex(text)
		if m == nil || m[0] > 0 && text[m[0]-1] != ' ' {
			continue
		}
		out[dbid] = errorsProgress{Type: parts[0], Completed: text[m[2]:m[3]], Total: text[m[4]:m[5]], Percentage: text[m[6]:m[7]]}
	}
	return out
}

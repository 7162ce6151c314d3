package recoverseg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gpmgmt/gpmgmt/pkg/app"
	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
	"github.com/gpmgmt/gpmgmt/pkg/segctl"
)

// plan is what the recovery of one target will do, worked out before the
// prompt (an addition: Greenplum shows only the method).
type plan struct {
	// Impossible, when set, says why an incremental recovery cannot work;
	// the run is refused and the hint is -F.
	Impossible string
	// NoRewind is set for a target that is still configured as a mirror
	// (a mirror that went down): it is restarted, not rewound.
	NoRewind bool
	// Notes are warnings that do not stop the recovery (WAL retention
	// that cannot be proven, say).
	Notes []string
	// Bytes is what the copy will move; -1 when unknown, with BytesNote
	// saying why and giving the bound.
	Bytes     int64
	BytesNote string
}

// assumedRate is the copy rate of the time estimate (labelled as such).
const assumedRate = 100 << 20 // bytes a second

// estimate is the plan's time estimate for bytes.
func estimate(bytes int64) string {
	if bytes < 0 {
		return "unknown"
	}
	d := time.Duration(float64(bytes) / assumedRate * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("~%s at 100 MB/s", max(d, time.Second))
}

// planTimeout bounds the plan's probes of one host (pg_rewind --dry-run
// reads the source's file list).
const planTimeout = 5 * time.Minute

// planTargets works out each target's plan: for an incremental recovery,
// whether it can work at all (the failed instance's pg_control is
// readable, it has data checksums or wal_log_hints, and the source still
// holds the WAL segment of its last checkpoint) and the bytes pg_rewind
// --dry-run says it will copy; for a full one, the size of the source.
// Nothing is changed.
func (r *recovery) planTargets(ctx context.Context, ts []target, data map[int]segctl.ControlData) error {
	if r.opts.Differential {
		return r.planDifferential(ctx, ts)
	}
	// The four readings are independent: each is a round of commands on
	// the hosts, run at the same time.
	var (
		sizes map[int]int64
		err   error
		dry   map[int]dryRewind
		wal   map[int]bool
		half  map[int]bool
		wg    sync.WaitGroup
	)
	wg.Go(func() { sizes, err = r.sourceSizes(ctx, ts) })
	if !r.opts.Full {
		wg.Go(func() { dry = r.dryRewinds(ctx, ts, data) })
		wg.Go(func() { wal = r.walChecks(ctx, ts, data) })
		wg.Go(func() { half = r.halfCopied(ctx, ts) })
	}
	wg.Wait()
	if err != nil {
		return err
	}
	defer refuseHalfCopied(ts, half)
	defer r.refusePartialCopies(ts)
	for i := range ts {
		t := &ts[i]
		size, known := sizes[t.Failed.DBID]
		t.Plan.Bytes = -1
		if t.Full {
			if known {
				t.Plan.Bytes = size
			} else {
				t.Plan.BytesNote = "the size of the source could not be read"
			}
			continue
		}
		d, ok := data[t.Failed.DBID]
		switch {
		case !ok || d.ExitCode != 0:
			t.Plan.Impossible = fmt.Sprintf("pg_controldata cannot read %s on %s (the failed instance's data directory is damaged or gone)", t.Failed.DataDir, t.Failed.Hostname)
			continue
		case d.Field(cluster.ControlChecksumVersion) == "0" && !walLogHints(d):
			t.Plan.Impossible = "the failed instance has neither data checksums nor wal_log_hints, which pg_rewind needs"
			continue
		}
		switch held, known := wal[t.Failed.DBID]; {
		case !known:
			t.Plan.Notes = append(t.Plan.Notes, "could not check that the WAL the failed instance needs still exists")
		case !held:
			t.Plan.Impossible = fmt.Sprintf("neither the source nor the failed instance holds WAL segment %s any more, from which the failed instance would replay", d.Field("Latest checkpoint's REDO WAL file"))
			continue
		}
		state := d.Field(cluster.ControlClusterState)
		t.Plan.NoRewind = dry[t.Failed.DBID].standby
		dr := dry[t.Failed.DBID]
		bound := ""
		if known {
			bound = fmt.Sprintf("; at most the source's %s", human(size))
		}
		switch {
		case t.Plan.NoRewind:
			t.Plan.Bytes, t.Plan.BytesNote = 0, "none: still configured as a mirror, it is restarted and streams what it missed"
		case dr.bytes >= 0:
			t.Plan.Bytes, t.Plan.BytesNote = dr.bytes, "pg_rewind --dry-run"
		case state == "in production":
			t.Plan.BytesNote = "unknown until pg_rewind has run crash recovery on it (it was not shut down cleanly)" + bound
		default:
			t.Plan.BytesNote = "unknown: pg_rewind --dry-run said " + strconv.Quote(dr.said) + bound
		}
	}
	return nil
}

// refuseImpossible refuses, before anything changes, a run with an
// incremental recovery that cannot work.
func refuseImpossible(ts []target) error {
	var errs []error
	for _, t := range ts {
		if t.Plan.Impossible != "" {
			errs = append(errs, fmt.Errorf("%s recovery of %s cannot work: %s", strings.ToLower(t.Method()), t.label(), t.Plan.Impossible))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &app.HintError{Err: app.Errorf("%w", errors.Join(errs...)), Hint: "run gprecoverseg -F to copy these segments in full; nothing was changed"}
}

// walScript says, for each (dbid, data directory, WAL directory, WAL file
// name), whether that directory holds the WAL segment, under any
// timeline: "WAL <dbid> present|absent".
const walScript = `set -u
while [ $# -ge 4 ]; do
	seg=$(printf '%s' "$4" | cut -c9-24)
	if [ -f "$2/$3/$4" ] || ls "$2/$3/"????????"$seg" >/dev/null 2>&1; then
		echo "WAL $1 present"
	else
		echo "WAL $1 absent"
	fi
	shift 4
done
`

// walChecks asks whether the WAL segment of each target's last checkpoint
// (pg_controldata's "REDO WAL file") still exists: the rewound instance
// replays from there up to where the timelines forked, with the WAL
// pg_rewind leaves it, its own before the fork (pg_rewind keeps it) or
// the source's. A segment neither holds any more makes an incremental
// recovery impossible. By the target's dbid: true present, false absent;
// missing when it could not be told.
func (r *recovery) walChecks(ctx context.Context, ts []target, data map[int]segctl.ControlData) map[int]bool {
	walDir := "pg_wal"
	if r.f == cluster.GP6 {
		walDir = "pg_xlog"
	}
	q := hostScript{script: walScript, label: "check the WAL"}
	for _, t := range ts {
		file := data[t.Failed.DBID].Field("Latest checkpoint's REDO WAL file")
		if t.Full || len(file) != 24 {
			continue
		}
		id := strconv.Itoa(t.Failed.DBID)
		q.add(t.Source.Hostname, id, t.Source.DataDir, walDir, file)
		q.add(t.Failed.Hostname, id, t.Failed.DataDir, walDir, file)
	}
	cmds := q.commands()
	out := map[int]bool{}
	answers(r.runner(len(cmds)).Run(ctx, cmds), "WAL", func(dbid int, v string) {
		out[dbid] = out[dbid] || v == "present"
	})
	return out
}

// human prints bytes as pg_rewind and du users read them.
func human(b int64) string {
	switch {
	case b >= 10<<30:
		return fmt.Sprintf("%d GB", b>>30)
	case b >= 10<<20:
		return fmt.Sprintf("%d MB", b>>20)
	case b >= 10<<10:
		return fmt.Sprintf("%d kB", b>>10)
	}
	return fmt.Sprintf("%d bytes", b)
}

// sizeScript prints "SIZE <dbid> <kB>" for each pair (dbid, data directory).
const sizeScript = `set -u
while [ $# -ge 2 ]; do
	kb=$(du -sk "$2" 2>/dev/null | awk '{ print $1 }')
	echo "SIZE $1 ${kb:-}"
	shift 2
done
`

// sourceSizes measures each target's source, by the target's dbid.
func (r *recovery) sourceSizes(ctx context.Context, ts []target) (map[int]int64, error) {
	q := hostScript{script: sizeScript, label: "measure sources"}
	for _, t := range ts {
		q.add(t.Source.Hostname, strconv.Itoa(t.Failed.DBID), t.Source.DataDir)
	}
	cmds := q.commands()
	sizes := map[int]int64{}
	answers(r.runner(len(cmds)).Run(ctx, cmds), "SIZE", func(dbid int, v string) {
		if kb, err := strconv.ParseInt(v, 10, 64); err == nil {
			sizes[dbid] = kb << 10
		}
	})
	return sizes, ctx.Err()
}

// dryRewind is what pg_rewind --dry-run said of one target.
type dryRewind struct {
	bytes   int64 // -1 unknown
	standby bool  // the target has standby configuration: no rewind
	said    string
}

// needToCopy is pg_rewind --progress's estimate line.
var needToCopy = regexp.MustCompile(`need to copy (\d+) MB`)

// dryRunScript runs pg_rewind --dry-run for one target, unless it is
// configured as a standby ($5 is recovery.conf or standby.signal): $1
// GPHOME, $2 PGOPTIONS, $3 the source's connection string, $4 the target
// directory. It prints "STANDBY" or pg_rewind's output; nothing is
// written into the target.
const dryRunScript = `set -u
if [ -f "$4/$5" ]; then echo STANDBY; exit 0; fi
PGOPTIONS=$2 "$1/bin/pg_rewind" --dry-run --progress --source-server="$3" --target-pgdata="$4" 2>&1
`

// dryRewinds runs the dry runs, one per target, -B hosts and -b targets
// per host at once.
func (r *recovery) dryRewinds(ctx context.Context, ts []target, data map[int]segctl.ControlData) map[int]dryRewind {
	var cmds []remote.Command
	var dbids []int
	for _, t := range ts {
		d, ok := data[t.Failed.DBID]
		if !ok || d.ExitCode != 0 || t.Full {
			continue
		}
		// A directory not shut down cleanly (a crashed primary, the usual
		// case) gets no estimate from pg_rewind --dry-run, which would
		// first need the crash recovery the real rewind runs: the plan says
		// so without the round trip.
		if d.Field(cluster.ControlClusterState) == "in production" {
			continue
		}
		conn := sourceServer(t.Source, "gprecoverseg_plan")
		cmds = append(cmds, remote.Command{Host: t.Failed.Hostname, Script: dryRunScript,
			Args:  []string{r.co.GPHome, cluster.UtilityOption(r.f), conn, t.Failed.DataDir, standbyFile(r.f)},
			Label: fmt.Sprintf("pg_rewind --dry-run for dbid %d", t.Failed.DBID), Timeout: planTimeout})
		dbids = append(dbids, t.Failed.DBID)
	}
	out := map[int]dryRewind{}
	res := remote.Runner{Exec: r.exec, Limit: r.opts.Parallel, PerHost: r.opts.ParallelPerHost}.Run(ctx, cmds)
	for i, rs := range res {
		out[dbids[i]] = parseDryRun(rs)
	}
	return out
}

// parseDryRun reads the output of one dryRunScript: the script's STANDBY,
// pg_rewind's estimate, or its word that no rewind is required; the bytes
// stay unknown (-1) otherwise.
func parseDryRun(rs remote.Result) dryRewind {
	d := dryRewind{bytes: -1, said: lastLine(rs.Stdout + rs.Stderr)}
	switch m := needToCopy.FindStringSubmatch(rs.Stdout); {
	case strings.TrimSpace(rs.Stdout) == "STANDBY":
		d.standby = true
	case rs.OK() && m != nil:
		// A number too large for bytes in an int64 is no estimate.
		if n, err := strconv.ParseInt(m[1], 10, 64); err == nil && n <= math.MaxInt64>>20 {
			d.bytes = n << 20
		}
	case rs.OK() && strings.Contains(rs.Stdout, "no rewind required"):
		d.bytes = 0
	}
	return d
}

// sourceServer is pg_rewind's --source-server for src (spec §6.2).
func sourceServer(src cluster.Segment, app string) string {
	return fmt.Sprintf("host=%s port=%d dbname=template1 application_name=%s", src.Hostname, src.Port, app)
}

// standbyFile is the file that makes a data directory a standby: GP6's
// recovery.conf, GP7's standby.signal.
func standbyFile(f cluster.Flavour) string {
	if f == cluster.GP6 {
		return "recovery.conf"
	}
	return "standby.signal"
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// walLogHints reads pg_controldata's wal_log_hints line, whose label
// differs between releases ("Current wal_log_hints setting" up to 9.6,
// "wal_log_hints setting" from 10).
func walLogHints(d segctl.ControlData) bool {
	return d.Field("wal_log_hints setting") == "on" || d.Field("Current wal_log_hints setting") == "on"
}

// refusePartialCopies marks impossible the incremental recoveries of
// directories an earlier gprecoverseg -F was copying into and did not
// finish (its journal says so): pg_rewind would trust a mix of the failed
// instance's files and the copy's.
func (r *recovery) refusePartialCopies(ts []target) {
	for i := range ts {
		t := &ts[i]
		if !t.Full && !t.Differential && t.Plan.Impossible == "" && r.wasCopying(*t) {
			t.Plan.Impossible = fmt.Sprintf("an interrupted gprecoverseg -F left a partial copy in %s: only gprecoverseg -F can complete it", t.Failed.DataDir)
		}
	}
}

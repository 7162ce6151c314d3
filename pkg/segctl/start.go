package segctl

import (
	"fmt"
	"strconv"

	"github.com/gpmgmt/gpmgmt/pkg/cluster"
	"github.com/gpmgmt/gpmgmt/pkg/pgcmd"
	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// Start says how to start instances, as gpstart asks gpsegstart.py to.
type Start struct {
	GPHome  string
	Flavour cluster.Flavour
	Era     string
	Timeout int // pg_ctl -t, seconds
	Batch   int // instances of one host in parallel (-b)
	// Version is the coordinator's `postgres --gp-version`; a host whose
	// binaries answer differently starts nothing.
	Version string
	// ChecksumVersion is the coordinator's "Data page checksum version";
	// negative skips the comparison (--skip-heap-checksum-validation).
	ChecksumVersion int
	// SpecialMode is pgcmd.Start's: "", "upgrade" or "maintenance".
	SpecialMode string
}

// StartCommand is the pg_ctl start the script runs for g, as pgcmd builds
// it for gpsegstart.
func (s Start) StartCommand(g cluster.Segment) pgcmd.Start {
	return pgcmd.Start{Flavour: s.Flavour, GPHome: s.GPHome, Kind: pgcmd.Segment, DataDir: g.DataDir, Port: g.Port,
		Era: s.Era, Wait: true, Timeout: s.Timeout, SpecialMode: s.SpecialMode}
}

// PlanStart returns one command per host starting that host's instances
// (pure). The script gets each instance's pg_ctl argv from StartCommand,
// so the command it runs is the one gpstart logs.
func PlanStart(s Start, segs []cluster.Segment) []HostPlan {
	insts := make([]Instance, len(segs))
	for i, g := range segs {
		insts[i] = Instance{Segment: g}
	}
	var plans []HostPlan
	for _, group := range byHost(insts) {
		args := []string{s.GPHome, s.Version, strconv.Itoa(s.ChecksumVersion), strconv.Itoa(s.Timeout), strconv.Itoa(batch(s.Batch))}
		for _, in := range group {
			g := in.Segment
			argv := s.StartCommand(g).Argv()
			args = append(args, strconv.Itoa(g.DBID), strconv.Itoa(g.Port), g.DataDir, strconv.Itoa(len(argv)))
			args = append(args, argv...)
		}
		host := group[0].Segment.Hostname
		plans = append(plans, HostPlan{
			Command: remote.Command{Host: host, Script: startScript, Args: args, Label: fmt.Sprintf("start %d instance(s) on %s", len(group), host),
				Timeout: PlanTimeout(s.Timeout, len(group), s.Batch)},
			Instances: group,
		})
	}
	return plans
}

// startScript is gpsegstart.py's work for one host: $1 GPHOME, $2 the
// expected `postgres --gp-version`, $3 the coordinator's checksum version
// (negative: do not compare), $4 timeout, $5 batch; then per instance dbid,
// port, data directory, the length n of its pg_ctl argv, and that argv.
//
// Per instance, in gpsegstart's order: the data directory must exist; a
// postmaster.pid left behind is dealt with (a live postmaster of that
// directory is stopped fast, stale pid and socket files are removed); the
// data page checksum version must match the coordinator's; pg_ctl start
// -w; and at the end the postmaster must still be alive.
const startScript = lib + `gphome=$1 want_version=$2 checksum=$3 timeout=$4 batch=$5
shift 5
started() {
	pm=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || return 1
	case $pm in ''|*[!0-9]*) return 1 ;; esac
	alive "$pm"
}
recover_stale() {
	dbid=$1 port=$2 dir=$3
	[ -e "$dir/postmaster.pid" ] || return 0
	echo "WARNING: $dir/postmaster.pid exists, checking if recovery startup required" >&2
	if started "$dir" && "$gphome/bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
		if ! out=$("$gphome/bin/pg_ctl" -D "$dir" -m fast -w -t "$timeout" stop 2>&1); then
			result "$dbid" failed "Failed to shutdown postmaster that was left running: $out"
			return 1
		fi
		return 0
	fi
	lock=/tmp/.s.PGSQL.$port.lock
	lockpid=$(sed -n 1p "$lock" 2>/dev/null)
	case $lockpid in ''|*[!0-9]*) lockpid= ;; esac
	if ! alive "$lockpid"; then
		rm -f "/tmp/.s.PGSQL.$port" "$lock"
	fi
	rm -f "$dir/postmaster.pid"
}
# start_first DBID PORT DIR N ARGV... REST...: start_one with the N words
# of ARGV, dropping REST (the later instances' parameters).
start_first() {
	dbid=$1 port=$2 dir=$3 n=$4
	shift 4
	m=$(($# - n))
	i=0
	while [ "$i" -lt "$n" ]; do
		a=$1
		shift
		set -- "$@" "$a"
		i=$((i + 1))
	done
	shift "$m"
	start_one "$dbid" "$port" "$dir" "$@"
}
start_one() {
	dbid=$1 port=$2 dir=$3
	shift 3
	if [ ! -d "$dir" ]; then
		result "$dbid" failed "Segment data directory does not exist for: '$dir'"
		return
	fi
	recover_stale "$dbid" "$port" "$dir" || return
	if [ "$checksum" -ge 0 ]; then
		got=$("$gphome/bin/pg_controldata" "$dir" 2>&1 | sed -n 's/^Data page checksum version: *//p')
		if [ -z "$got" ]; then
			result "$dbid" failed "Could not read the data page checksum version of $dir with pg_controldata."
			return
		fi
		if [ "$got" != "$checksum" ]; then
			result "$dbid" failed "Segment checksum $got does not match master checksum $checksum."
			return
		fi
	fi
	if ! out=$("$@" 2>&1); then
		result "$dbid" failed "PG_CTL failed. stdout: $out"
		return
	fi
	if ! started "$dir"; then
		pm=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null)
		result "$dbid" failed "Postmaster $dir NOT running (pid ${pm:-none})"
		return
	fi
	result "$dbid" started "Start Succeeded"
}
have_version=$("$gphome/bin/postgres" --gp-version 2>&1)
if [ "$have_version" != "$want_version" ]; then
	while [ $# -ge 4 ]; do
		n=$4
		result "$1" failed "Local Software Version does not match what is expected. The local software version is: '$have_version', but this segment requires: '$want_version'"
		shift 4
		shift "$n"
	done
	exit 1
fi
while [ $# -ge 4 ]; do
	n=$4
	job "$1" start_first "$@"
	shift 4
	shift "$n"
done
finish
`

package buildmirrors

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gpmgmt/gpmgmt/pkg/remote"
)

// targetScript inspects mirror targets on one host without changing
// anything: per triple (dbid, data directory, port) one line
//
//	TARGET <dbid> state=<absent|empty|notempty|notdir> gpdbid=<n> port=<n> standby=<0|1> pid=<pid> busy=<0|1> avail=<kB> copied=<dbid>
//
// gpdbid is internal.auto.conf's gp_dbid, port postgresql.conf's, standby
// whether standby.signal or recovery.conf exists, pid a live postmaster's
// (from postmaster.pid), busy whether something listens on the port (TCP,
// from /proc/net/tcp and tcp6, or a /tmp/.s.PGSQL.<port>.lock file naming a
// live process: a server killed -9 leaves a stale one, which PostgreSQL
// replaces), avail the free kB of the filesystem that will hold the
// directory, copied the dbid in the directory's copy marker (MarkerFile),
// if any. The arguments are quadruples: dbid, directory, port, marker.
const targetScript = `set -u
field() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*'\{0,1\}\([0-9][0-9]*\).*/\1/p" "$2" 2>/dev/null | tail -n 1; }
while [ $# -ge 4 ]; do
	dbid=$1 dir=$2 port=$3 marker=$4
	shift 4
	state=absent gpdbid= cport= standby=0 pid=
	if [ -d "$dir" ]; then
		if [ -z "$(ls -A "$dir" 2>/dev/null)" ]; then
			state=empty
		else
			state=notempty
			gpdbid=$(field gp_dbid "$dir/internal.auto.conf")
			cport=$(field port "$dir/postgresql.conf")
			if [ -f "$dir/standby.signal" ] || [ -f "$dir/recovery.conf" ]; then standby=1; fi
			if [ -f "$dir/postmaster.pid" ]; then
				p=$(sed -n 1p "$dir/postmaster.pid" | tr -d ' ')
				case $p in ''|*[!0-9]*) ;; *) kill -0 "$p" 2>/dev/null && pid=$p ;; esac
			fi
		fi
	elif [ -e "$dir" ]; then
		state=notdir
	fi
	busy=0
	hex=$(printf '%04X' "$port")
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] || continue
		awk -v h="$hex" 'NR > 1 { n = split($2, a, ":"); if (a[n] == h && $4 == "0A") f = 1 } END { exit !f }' "$f" && busy=1
	done
	lock=/tmp/.s.PGSQL.$port.lock
	if [ -e "$lock" ]; then
		lp=$(sed -n 1p "$lock" 2>/dev/null | tr -d ' ')
		case $lp in
		''|*[!0-9]*) busy=1 ;;
		*) kill -0 "$lp" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$lp/status" 2>/dev/null && busy=1 ;;
		esac
	fi
	d=$dir
	while [ ! -d "$d" ]; do d=$(dirname "$d"); done
	avail=$(df -Pk "$d" 2>/dev/null | awk 'NR == 2 { print $4 }')
	copied=$(sed -n 's/^dbid=\([0-9][0-9]*\)$/\1/p' "$marker" 2>/dev/null | head -n 1)
	echo "TARGET $dbid state=$state gpdbid=$gpdbid port=$cport standby=$standby pid=$pid busy=$busy avail=$avail copied=$copied"
done
`

// sizeScript prints the size in kB of each source data directory:
// "SIZE <dbid> <kB>" per pair (dbid, data directory).
const sizeScript = `set -u
while [ $# -ge 2 ]; do
	kb=$(du -sk "$2" 2>/dev/null | awk '{ print $1 }')
	echo "SIZE $1 ${kb:-0}"
	shift 2
done
`

// TargetProbe is what targetScript found for one target.
type TargetProbe struct {
	State   string // absent, empty, notempty, notdir
	GPDBID  int    // internal.auto.conf gp_dbid, 0 if none
	Port    int    // postgresql.conf port, 0 if none
	Standby bool   // standby.signal or recovery.conf present
	PID     int    // live postmaster, 0 if none
	Busy    bool   // the port is in use
	AvailKB int64  // free space where the directory goes; -1 unknown
	Copied  int    // the dbid of the directory's copy marker, 0 if none
}

// Reusable reports whether the directory holds a finished copy for m made
// by an earlier run: its marker names m's dbid, and the directory agrees
// (gp_dbid is m's, it is configured as a standby, and its port is m's or
// still its primary's, if the run stopped before fixing it).
func (p TargetProbe) Reusable(m Mirror) bool {
	return p.Copied == m.Target.DBID && p.State == "notempty" && p.GPDBID == m.Target.DBID && p.Standby &&
		(p.Port == m.Target.Port || p.Port == m.Source.Port)
}

// targetCommand probes the targets of ms, all on one host.
func targetCommand(host string, ms []Mirror) remote.Command {
	var args []string
	for _, m := range ms {
		args = append(args, strconv.Itoa(m.Target.DBID), m.Target.DataDir, strconv.Itoa(m.Target.Port), MarkerFile(m))
	}
	return remote.Command{Host: host, Script: targetScript, Args: args, Label: "check mirror targets on " + host, Timeout: probeTimeout}
}

// sizeCommand measures the sources of ms, all on one host.
func sizeCommand(host string, ms []Mirror) remote.Command {
	var args []string
	for _, m := range ms {
		args = append(args, strconv.Itoa(m.Target.DBID), m.Source.DataDir)
	}
	return remote.Command{Host: host, Script: sizeScript, Args: args, Label: "measure primaries on " + host, Timeout: probeTimeout}
}

// parseTargets reads targetScript's lines, by dbid.
func parseTargets(out string) (map[int]TargetProbe, error) {
	res := map[int]TargetProbe{}
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, "TARGET ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 1 {
			continue
		}
		dbid, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("bad probe line %q", line)
		}
		p := TargetProbe{AvailKB: -1}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "state":
				p.State = v
			case "gpdbid":
				p.GPDBID = int(n)
			case "port":
				p.Port = int(n)
			case "standby":
				p.Standby = v == "1"
			case "pid":
				p.PID = int(n)
			case "busy":
				p.Busy = v == "1"
			case "copied":
				p.Copied = int(n)
			case "avail":
				p.AvailKB = n
				if _, err := strconv.ParseInt(v, 10, 64); err != nil {
					p.AvailKB = -1
				}
			}
		}
		res[dbid] = p
	}
	return res, nil
}

// parseSizes reads sizeScript's lines, by dbid.
func parseSizes(out string) map[int]int64 {
	res := map[int]int64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "SIZE" {
			continue
		}
		dbid, err1 := strconv.Atoi(f[1])
		kb, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 == nil && err2 == nil {
			res[dbid] = kb
		}
	}
	return res
}

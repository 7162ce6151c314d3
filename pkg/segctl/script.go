// Package segctl controls many instances of one host with one POSIX sh
// script sent on stdin (design.md, "Decisions: no helper on segment
// hosts"): the script runs up to -b instances in parallel (&/wait) and
// prints one tagged result line per instance,
//
//	segctl-result <dbid> <status> <reason>
//
// where status is "stopped", "reloaded", "started" or "failed". Every value reaches
// the script as a positional parameter; nothing is interpolated into its
// text. Stopping follows gpsegstop's contract (spec §1.10), starting
// gpsegstart's (spec §7.2 step 14).
package segctl

// Tag starts every result line.
const Tag = "segctl-result"

// Batched is the shell function every per-host script runs its
// background jobs with: "batched <command> <args...>" starts one, and at
// most $batch run at once (-b); a final "wait" collects the last ones.
const Batched = `running=0
batched() {
	"$@" &
	running=$((running + 1))
	if [ "$running" -ge "$batch" ]; then
		wait
		running=0
	fi
}
`

// lib runs jobs in batches of $batch and collects their result lines.
// "job <id> <function> <args...>" starts one; "finish" waits for the rest,
// prints every result line and exits 1 if any job failed.
const lib = `set -u
tmp=$(mktemp -d "${TMPDIR:-/tmp}/segctl.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
ids=
` + Batched + `# into FILE COMMAND ARGS...: the command's stdout in FILE.res, its
# stderr in FILE.err.
into() {
	f=$1
	shift
	"$@" >"$f.res" 2>"$f.err"
}
job() {
	id=$1
	shift
	ids="$ids $id"
	batched into "$tmp/$id" "$@"
}
# result DBID STATUS REASON: the job's result line, on one line.
result() {
	printf '%s %s %s %s\n' '` + Tag + `' "$1" "$2" "$(printf '%s' "$3" | tr '\n' ' ')"
}
finish() {
	wait
	failed=0
	for id in $ids; do
		if [ -s "$tmp/$id.res" ]; then
			cat "$tmp/$id.res"
		else
			result "$id" failed "no result: $(tail -n 3 "$tmp/$id.err" 2>/dev/null)"
		fi
		grep -q "^` + Tag + ` $id failed" "$tmp/$id.res" 2>/dev/null && failed=1
		if [ -s "$tmp/$id.err" ]; then
			echo "dbid $id:" >&2
			tail -n 20 "$tmp/$id.err" >&2
		fi
	done
	exit $failed
}
alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null
}
`

// stopScript: $1 GPHOME, $2 mode, $3 timeout, $4 batch, then per instance
// four parameters: dbid, port, data directory, and the postgres pids to
// kill at the end ("" to find them now, as gpsegstop does before its
// pg_ctl stop: the postmaster from postmaster.pid and its children).
const stopScript = lib + `gphome=$1 mode=$2 timeout=$3 batch=$4
shift 4
pids_of() {
	pm=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || return 0
	case $pm in ''|*[!0-9]*) return 0 ;; esac
	alive "$pm" || return 0
	echo "$pm" $(pgrep -P "$pm" 2>/dev/null)
}
stop_one() {
	dbid=$1 port=$2 dir=$3 pids=$4
	[ -n "$pids" ] || pids=$(pids_of "$dir")
	out=$("$gphome/bin/pg_ctl" -D "$dir" -m "$mode" -w -t "$timeout" stop 2>"$tmp/$dbid.ctlerr")
	rc=$?
	err=$(cat "$tmp/$dbid.ctlerr")
	if [ "$rc" = 0 ]; then
		if "$gphome/bin/pg_controldata" "$dir" 2>/dev/null | grep -q '^Database cluster state: *shut down$'; then
			result "$dbid" stopped "Shutdown Succeeded"
			killall9 "$pids" "$dir"
			return
		fi
		if [ "$mode" = immediate ]; then
			result "$dbid" stopped "Shutdown Immediate"
			killall9 "$pids" "$dir"
			return
		fi
	fi
	lock=/tmp/.s.PGSQL.$port.lock
	lockpid=
	if [ -r "$lock" ]; then
		lockpid=$(sed -n 1p "$lock")
		lockdir=$(sed -n 2p "$lock")
		case $lockpid in ''|*[!0-9]*) lockpid= ;; esac
		if [ -n "$lockpid" ] && [ "$lockdir" = "$dir" ]; then
			escalate "$lockpid"
			alive "$lockpid" || rm -f "/tmp/.s.PGSQL.$port" "$lock"
		else
			lockpid=
		fi
	fi
	killall9 "$pids" "$dir"
	if alive "$lockpid"; then
		result "$dbid" failed "Failed forceful termnation: rc: $rc stdout: $out stderr: $err."
	else
		result "$dbid" stopped "Forceful termination success: rc: $rc stdout: $out stderr: $err."
	fi
}
# escalate PID: SIGCONT, SIGTERM (3 s), SIGINT (3 s), SIGQUIT.
escalate() {
	kill -CONT "$1" 2>/dev/null
	for sig in TERM INT QUIT; do
		alive "$1" || return 0
		kill -"$sig" "$1" 2>/dev/null
		n=0
		while [ "$n" -lt 3 ] && alive "$1"; do
			sleep 1
			n=$((n + 1))
		done
	done
}
# killall9 PIDS DIR: kill -9 each remembered pid that is still one of the
# instance's processes. Every process of an instance works in its data
# directory, so where /proc tells a process's working directory, a pid the
# system gave to another program meanwhile is left alone; elsewhere the
# pid is trusted, as gpsegstop trusts it.
killall9() {
	for p in $1; do
		alive "$p" || continue
		if [ -d /proc/self ] && ! [ "/proc/$p/cwd" -ef "$2" ]; then
			continue
		fi
		kill -9 "$p" 2>/dev/null
	done
	return 0
}
while [ $# -ge 4 ]; do
	job "$1" stop_one "$1" "$2" "$3" "$4"
	shift 4
done
finish
`

// reloadScript: $1 GPHOME, $2 batch, then per instance two parameters:
// dbid and data directory. pg_ctl reload signals the postmaster to re-read
// its configuration files (gpstop -u).
const reloadScript = lib + `gphome=$1 batch=$2
shift 2
reload_one() {
	if out=$("$gphome/bin/pg_ctl" reload -D "$2" 2>&1); then
		result "$1" reloaded "$out"
	else
		result "$1" failed "$out"
	fi
}
while [ $# -ge 2 ]; do
	job "$1" reload_one "$1" "$2"
	shift 2
done
finish
`

// pidsScript: $1 data directory. Prints the postmaster's pid and its
// children's, on one line (nothing when it is not running).
const pidsScript = `set -u
pm=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || exit 0
case $pm in ''|*[!0-9]*) exit 0 ;; esac
kill -0 "$pm" 2>/dev/null || exit 0
echo "$pm" $(pgrep -P "$pm" 2>/dev/null)
`

package gpstate

import "github.com/gpmgmt/gpmgmt/pkg/segctl"

// statusScript observes every instance of one host without any helper
// installed there (design.md, "no helper on segment hosts"): the checks
// of Greenplum's gpgetstatususingtransition.py (spec §1.9), all instances
// at once, and, for the host's current primaries, the replication queries
// of spec §2.2 through psql in utility mode: one psql process reads every
// primary of the host (\connect from one to the next), and a primary it
// could not read gets a session of its own. Every value arrives as a
// positional parameter:
//
//	$1 GPHOME  $2 PGOPTIONS for utility mode  $3 replication wanted (0/1)
//	$4 version wanted (0/1)  $5 pg_isready wanted (0/1)  $6 replication SQL
//	$7 current WAL position SQL  $8 running rewind SQL  $9 version SQL
//	$10 instances observed at once
//	$11 seconds a primary's session may take (StallLimit; the host's one
//	session may take twice that)
//	then per instance: dbid, port, data directory, address, kind
//	(p: a current primary, whose pg_stat_replication is read; o: other)
//
// Every psql session gets its statements on its own standard input, from a
// pipe written for that session: GP6's psql (PostgreSQL 9.4) runs only the
// last of several -c options (gp6-observed.md §10.1), and the script's own
// standard input is the script itself (sh -s), which psql must never read.
// The client programs are called with options PostgreSQL 9.4's accept
// (docs/client-programs.md).
//
// Output, one record per line, fields separated by the unit separator
// (\037) after the tag and dbid:
//
//	gpstate-status <dbid> <pidfile 0|1> <pid> <lock 0|1> <active 0|1> <pg_isready rc, -1 not asked>
//	gpstate-repl <dbid> <a row of the replication SQL>
//	gpstate-wal <dbid> <current WAL position>
//	gpstate-rewind <dbid> <backend_start of a running pg_rewind>
//	gpstate-sqlerr <dbid> <psql's error, on one line>
//	gpstate-version <dbid> <version>
//	gpstate-binary <postgres --gp-version of this host>
const statusScript = `set -u
gphome=$1 utility=$2 want_repl=$3 want_version=$4 want_ready=$5
repl_sql=$6 wal_sql=$7 rewind_sql=$8 version_sql=$9 batch=${10} limit=${11}
shift 11
` + segctl.Batched + `
us=$(printf '\037')
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpstate.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/out" "$tmp/rows" || exit 2
# active PORT: a server listens on the Unix socket /tmp/.s.PGSQL.PORT
# (matched with the shell, no process per instance).
sockets="
$( (ss -xln 2>/dev/null || netstat -an 2>/dev/null) | grep -o '/tmp/\.s\.PGSQL\.[0-9]*' )
"
active() {
	case $sockets in *"
/tmp/.s.PGSQL.$1
"*) return 0 ;; esac
	return 1
}
# An instance that stops answering once its session is open (a stalled
# backend, a lock it waits for) must not hold the whole host's answer until
# gpstate gives up on the host: where timeout(1) is installed, a primary's
# own session is stopped after $limit seconds and the host's one session
# after twice that; the primaries that session did not finish get sessions
# of their own.
one_limit= host_limit=
if command -v timeout >/dev/null 2>&1; then
	one_limit="timeout $limit" host_limit="timeout $((limit * 2))"
fi
# query DBID ADDRESS PORT TAG SQL [TAG SQL ...]: the statements in one
# psql session (one process, one connection), written to psql's standard
# input by a pipe of this session's own, each preceded by a \echo of its
# tag; each row is printed as "<TAG> <DBID> <row>". A failure prints one
# gpstate-sqlerr line instead and returns 1.
query() {
	dbid=$1 addr=$2 port=$3
	shift 3
	input=
	while [ $# -ge 2 ]; do
		stmt=$2
		case $stmt in *';') ;; *) stmt="$stmt;" ;; esac
		input="$input\\echo @@$1
$stmt
"
		shift 2
	done
	out=$(printf '%s' "$input" | PGOPTIONS=$utility PGCONNECT_TIMEOUT=10 $one_limit "$gphome/bin/psql" -X -A -t -q -v ON_ERROR_STOP=1 -F "$us" -h "$addr" -p "$port" -d template1 -f - 2>&1)
	rc=$?
	[ "$rc" = 124 ] && [ -n "$one_limit" ] && out="psql: no answer from $addr:$port within $limit s: the instance stalls"
	if [ "$rc" = 0 ]; then
		tag=
		printf '%s\n' "$out" | while IFS= read -r row; do
			case $row in
			@@*) tag=${row#@@} ;;
			'') ;;
			*) printf '%s %s %s\n' "$tag" "$dbid" "$row" ;;
			esac
		done
	else
		printf 'gpstate-sqlerr %s %s\n' "$dbid" "$(printf '%s' "$out" | tr '\n' ' ')"
		return 1
	fi
}
# statements: what the request asks of a current primary, a tag line then
# its statement line, as read_primaries reads them (observe asks the same
# of query when it falls back).
statements() {
	[ "$want_repl" = 1 ] && printf '%s\n' gpstate-repl "$repl_sql" gpstate-wal "$wal_sql" gpstate-rewind "$rewind_sql"
	[ "$want_version" = 1 ] && printf '%s\n' gpstate-version "$version_sql"
	return 0
}
# read_primaries DBID PORT DIR ADDRESS KIND ...: every current primary of
# the host whose socket is active is read in one psql session, one
# process, going from one to the next with \connect; a primary's rows land
# in $tmp/rows/<dbid> once all its statements ran. A primary without that
# file (its connection or a statement failed, which ends the session, and
# every primary after it) gets a session of its own from observe, so one
# down primary does not blank the others. An address psql's \connect
# could misread is left to observe too.
read_primaries() {
	[ "$want_repl" = 1 ] || [ "$want_version" = 1 ] || return 0
	input= first=
	while [ $# -ge 5 ]; do
		if [ "$5" = p ] && active "$2"; then
			case $4 in
			*[!A-Za-z0-9.:_-]* | '') ;;
			*)
				if [ -z "$first" ]; then
					first="$4 $2"
				else
					input="$input\\connect template1 - $4 $2
"
				fi
				input="$input\\echo @@@ $1
$(statements | while IFS= read -r tag && IFS= read -r stmt; do
					case $stmt in *';') ;; *) stmt="$stmt;" ;; esac
					printf '\\echo @@%s\n%s\n' "$tag" "$stmt"
				done)
\\echo @@@done
"
				;;
			esac
		fi
		shift 5
	done
	[ -n "$first" ] || return 0
	printf '%s' "$input" | PGOPTIONS=$utility PGCONNECT_TIMEOUT=10 $host_limit "$gphome/bin/psql" -X -A -t -q -v ON_ERROR_STOP=1 -F "$us" -h "${first% *}" -p "${first#* }" -d template1 -f - 2>/dev/null | {
		dbid= tag=
		while IFS= read -r row; do
			case $row in
			'@@@ '*) dbid=${row#@@@ } && : >"$tmp/rows/part" ;;
			@@@done) [ -n "$dbid" ] && mv "$tmp/rows/part" "$tmp/rows/$dbid" ;;
			@@*) tag=${row#@@} ;;
			'') ;;
			*) [ -n "$dbid" ] && printf '%s %s %s\n' "$tag" "$dbid" "$row" >>"$tmp/rows/part" ;;
			esac
		done
	}
	rm -f "$tmp/rows/part"
}
# refused_version ADDRESS PORT: what a mirror's (or standby's) refusal of a
# session says after "- VERSION: ", as Greenplum 6's mirrors answer; empty
# when the refusal carries no version.
refused_version() {
	PGCONNECT_TIMEOUT=10 "$gphome/bin/psql" -X -h "$1" -p "$2" -d template1 -c 'select 1' </dev/null 2>&1 >/dev/null |
		sed -n 's/^.*- VERSION: //p' | head -n 1
}
observe() {
	dbid=$1 port=$2 dir=$3 addr=$4 kind=$5
	pidfile=0 pid=0 lock=0 act=0
	if [ -e "$dir/postmaster.pid" ]; then
		pidfile=1
		pid=
		read -r pid <"$dir/postmaster.pid" 2>/dev/null
		case $pid in ''|*[!0-9]*) pid=0 ;; esac
	fi
	[ -e "/tmp/.s.PGSQL.$port.lock" ] && lock=1
	active "$port" && act=1
	# A current primary is asked its replication state (and version())
	# first: if that utility session works, it accepts connections, which
	# is what pg_isready would say; only otherwise does pg_isready run.
	set --
	if [ "$kind" = p ]; then
		[ "$want_repl" = 1 ] && set -- gpstate-repl "$repl_sql" gpstate-wal "$wal_sql" gpstate-rewind "$rewind_sql"
		[ "$want_version" = 1 ] && set -- "$@" gpstate-version "$version_sql"
	fi
	ready=-1 rows=
	if [ $# -gt 0 ] && [ "$act" = 1 ]; then
		if [ -f "$tmp/rows/$dbid" ]; then
			rows=$(cat "$tmp/rows/$dbid") && [ "$want_ready" = 1 ] && ready=0
		else
			rows=$(query "$dbid" "$addr" "$port" "$@") && [ "$want_ready" = 1 ] && ready=0
		fi
	fi
	if [ "$want_ready" = 1 ] && [ "$ready" = -1 ]; then
		PGOPTIONS=$utility PGCONNECT_TIMEOUT=10 "$gphome/bin/pg_isready" -q -h "$addr" -p "$port" -d postgres >/dev/null 2>&1
		ready=$?
	fi
	printf 'gpstate-status %s %s %s %s %s %s\n' "$dbid" "$pidfile" "$pid" "$lock" "$act" "$ready"
	[ -n "$rows" ] && printf '%s\n' "$rows"
	if [ "$kind" != p ] && [ "$want_version" = 1 ] && [ "$act" = 1 ]; then
		v=$(refused_version "$addr" "$port")
		[ -n "$v" ] && printf 'gpstate-version %s %s\n' "$dbid" "$v"
	fi
	return 0
}
# into FILE DBID ...: observe's lines in FILE.
into() {
	f=$1
	shift
	observe "$@" >"$f" 2>/dev/null
}
# observe_all WHICH DBID PORT DIR ADDRESS KIND ...: observe, in batches,
# the current primaries (WHICH p) or the other instances (o).
observe_all() {
	which=$1
	shift
	while [ $# -ge 5 ]; do
		case $which$5 in pp | o[!p]) batched into "$tmp/out/$1" "$1" "$2" "$3" "$4" "$5" ;; esac
		shift 5
	done
}
# The primaries' session runs beside the other instances' checks; the
# primaries are observed once it has ended.
batched read_primaries "$@"
observe_all o "$@"
wait
running=0
observe_all p "$@"
wait
cat "$tmp/out"/* 2>/dev/null
if [ "$want_version" = 1 ]; then
	printf 'gpstate-binary %s\n' "$("$gphome/bin/postgres" --gp-version 2>&1 | head -n 1)"
fi
exit 0
`

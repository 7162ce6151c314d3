package recoverseg

// The target-host scripts of a differential recovery. As the other
// scripts of this package, they take every value as a positional
// parameter and use only POSIX sh, the flavour's server programs and
// rsync. Each ends with one line "RESULT ok <what>" or "RESULT <kind>
// <message>", kind one of Greenplum's error types (validation,
// differential, update, start); progress lines are "PROGRESS <text>".

// diffPrepareScript checks, before anything changes, that the target
// directory is the failed instance's and that nothing runs in it:
//
//	$1 data directory  $2 dbid
const diffPrepareScript = `set -u
dir=$1 dbid=$2
result() { printf 'RESULT %s %s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ')"; }
field() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*'\{0,1\}\([^']*\)'\{0,1\}[[:space:]]*$/\1/p" "$2" 2>/dev/null | tail -n 1; }
if [ ! -d "$dir" ]; then result validation "$dir does not exist: run gprecoverseg -F"; exit 1; fi
if [ ! -w "$dir" ]; then result validation "$dir is not writable by $(id -un)"; exit 1; fi
pid=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null | tr -d ' ')
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
	result validation "a postmaster (pid $pid) runs in $dir; it was to be stopped"; exit 1
fi
gpdbid=$(field gp_dbid "$dir/internal.auto.conf")
if [ "$gpdbid" != "$dbid" ]; then
	result validation "$dir/internal.auto.conf names gp_dbid '$gpdbid', not $dbid: not this instance's directory; run gprecoverseg -F"; exit 1
fi
command -v rsync >/dev/null 2>&1 || { result validation "rsync is not installed on $(uname -n)"; exit 1; }
result ok ready
`

// diffRsyncScript runs one rsync of a differential recovery and reports
// its progress:
//
//	$1 progress file  $2 truncate|append (the progress file)
//	$3 marker file to write first, or ""
//	$4 WAL list file to write first, or "", then $5..$8 the WAL range
//	   (timeline in hexadecimal, segments per id, first, last segment)
//	then the rsync argv.
//
// The marker, beside the target directory, says that rsync has begun to
// overwrite it: until a copy completes, only gprecoverseg --differential
// or -F may use that directory (an incremental recovery is refused). The
// WAL list holds "/<segment>" for each segment of the range and
// "/*.history", rsync's include patterns. rsync's output goes to the
// progress file (Greenplum's "> pf 2>&1"); every 0.2 s its last line, if
// new, is printed as "PROGRESS <line>". Exit status 24 (files vanished
// while rsync ran, such as temporary files) is success, as in Greenplum.
const diffRsyncScript = `set -u
pf=$1 mode=$2 marker=$3 list=$4 tli=$5 per=$6 first=$7 last=$8
shift 8
result() { printf 'RESULT %s %s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ')"; }
lastline() { tail -c 4096 "$pf" 2>/dev/null | tr '\r' '\n' | sed '/^[[:space:]]*$/d' | tail -n 1; }
mkdir -p "$(dirname "$pf")" 2>/dev/null
if [ -n "$marker" ]; then
	printf 'rsync from a source into this directory began %s; only gprecoverseg --differential or -F completes it\n' "$(date '+%Y-%m-%d %H:%M:%S')" >"$marker" ||
		{ result differential "cannot write $marker"; exit 1; }
fi
if [ -n "$list" ]; then
	{
		i=$first
		while [ "$i" -le "$last" ]; do
			printf '/%s%08X%08X\n' "$tli" $((i / per)) $((i % per))
			i=$((i + 1))
		done
		echo '/*.history'
	} >"$list" || { result differential "cannot write $list"; exit 1; }
fi
if [ "$mode" = truncate ]; then : >"$pf"; fi
"$@" >>"$pf" 2>&1 </dev/null &
pid=$!
seen=
while kill -0 "$pid" 2>/dev/null; do
	sleep 0.2
	line=$(lastline)
	if [ -n "$line" ] && [ "$line" != "$seen" ]; then printf 'PROGRESS %s\n' "$line"; seen=$line; fi
done
wait "$pid"
rc=$?
[ -n "$list" ] && rm -f "$list"
line=$(lastline)
if [ -n "$line" ] && [ "$line" != "$seen" ]; then printf 'PROGRESS %s\n' "$line"; fi
case $rc in
0 | 24) result ok "rsync exit $rc" ;;
*) result differential "rsync exited with status $rc: $(tail -n 3 "$pf" 2>/dev/null | tr '\r' '\n' | sed '/^[[:space:]]*$/d' | tail -n 2 | tr '\n' ' ')"; exit 1 ;;
esac
`

// diffLabelScript writes the backup's backup_label and tablespace map
// into the target, each through a temporary file renamed into place:
//
//	$1 data directory  $2 backup_label contents  $3 tablespace_map
//	contents ("" for none: any tablespace_map there is removed)
const diffLabelScript = `set -u
dir=$1 label=$2 map=$3
result() { printf 'RESULT %s %s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ')"; }
put() { printf '%s' "$2" >"$dir/$1.tmp" && mv -f "$dir/$1.tmp" "$dir/$1"; }
put backup_label "$label" || { result differential "cannot write $dir/backup_label"; exit 1; }
if [ -n "$map" ]; then
	put tablespace_map "$map" || { result differential "cannot write $dir/tablespace_map"; exit 1; }
else
	rm -f "$dir/tablespace_map" || { result differential "cannot remove $dir/tablespace_map"; exit 1; }
fi
result ok written
`

// diffFinishScript ends a differential recovery whose copy is complete:
// the marker and rsync's pid file go, the port is set in postgresql.conf
// (the source's came with the copy; Greenplum's perl one-liner, with .bak)
// and the instance is started unless it runs:
//
//	$1 GPHOME  $2 data directory  $3 port  $4 marker  $5 rsync's pid file
//	then pg_ctl start's argv
const diffFinishScript = `set -u
gphome=$1 dir=$2 port=$3 marker=$4 pidf=$5
shift 5
result() { printf 'RESULT %s %s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ')"; }
rm -f "$marker" "$pidf" || { result differential "cannot remove $marker"; exit 1; }
conf=$dir/postgresql.conf
if grep -q '^port[ ]*=' "$conf" 2>/dev/null; then
	sed -i.bak "s/^port[ ]*=[ ]*[0-9][0-9]*/port=$port/" "$conf" || { result update "could not update the port in $conf"; exit 1; }
else
	{ cp -p "$conf" "$conf.bak" && printf 'port=%s\n' "$port" >>"$conf"; } || { result update "could not update the port in $conf"; exit 1; }
fi
if ! "$gphome/bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
	mkdir -p "$dir/log" 2>/dev/null
	if ! out=$("$@" 2>&1); then result start "$out"; exit 1; fi
fi
result ok started
`

// rsyncProbeScript is the plan's read-only check that a target's host can
// run the copy: rsync is installed there, and its ssh reaches the source's
// host with the options rsync will use (the host key verified) and finds
// rsync there too. $1 the source's host, then ssh's options. One line:
//
//	PROBE ok | PROBE norsync <host> | PROBE ssh <exit status> <ssh's stderr>
const rsyncProbeScript = `set -u
src=$1
shift
command -v rsync >/dev/null 2>&1 || { echo "PROBE norsync $(uname -n)"; exit 0; }
out=$(ssh "$@" "$src" 'command -v rsync' </dev/null 2>&1)
rc=$?
if [ $rc -eq 0 ]; then echo "PROBE ok"; else echo "PROBE ssh $rc $(printf '%s' "$out" | tr '\r\n' '  ')"; fi
`

// markerScript answers, for each pair of arguments dbid and data
// directory, whether a differential recovery left the directory
// half-copied (its marker is there): "MARKER <dbid> yes".
const markerScript = `while [ $# -ge 2 ]; do
	dbid=$1 dir=$2
	shift 2
	[ -f "$(dirname "$dir")/.$(basename "$dir").differential" ] && printf 'MARKER %s yes\n' "$dbid"
done
exit 0
`

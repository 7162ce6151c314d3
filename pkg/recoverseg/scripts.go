package recoverseg

// The per-host scripts of an in-place recovery. Every value reaches them
// as a positional parameter (remote.Command.Args); nothing is put into
// their text. They use only what every flavour's hosts have: POSIX sh and
// the flavour's own server programs (the GP6 guard in scripts_test.go runs
// them against PostgreSQL 9.4's client programs).

// stopScript is "Ensuring N failed segment(s) are stopped" (spec §3.1
// step 4) for the failed instances of one host: $1 GPHOME, $2 1 to clean
// up shared memory as Greenplum 6 does (ipcrm of the id on postmaster.pid's
// last line), then per instance dbid, data directory. An instance whose
// postmaster.pid names a live process that is a postgres of that
// directory is stopped with pg_ctl -m fast (as gpsegstop); a pid that is
// gone or another program's is left. One line per instance:
//
//	STOP <dbid> stopped|notrunning|notpostgres|failed <detail>
const stopScript = `set -u
gphome=$1 shm=$2
shift 2
rc=0
while [ $# -ge 2 ]; do
	dbid=$1 dir=$2
	shift 2
	pid=
	[ -f "$dir/postmaster.pid" ] && pid=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null | tr -d ' ')
	case $pid in ''|*[!0-9]*) echo "STOP $dbid notrunning no postmaster.pid"; continue ;; esac
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "STOP $dbid notrunning process with pid $pid is not running"
	elif [ -r "/proc/$pid/cwd" ] && [ "$(cd "/proc/$pid/cwd" 2>/dev/null && pwd -P)" != "$(cd "$dir" 2>/dev/null && pwd -P)" ]; then
		echo "STOP $dbid notpostgres pid $pid is not a postgres of $dir"
	elif out=$("$gphome/bin/pg_ctl" -D "$dir" -m fast -w -t 120 stop 2>&1); then
		echo "STOP $dbid stopped pid $pid"
	else
		echo "STOP $dbid failed $(printf '%s' "$out" | tr '\n' ' ')"
		rc=1
		continue
	fi
	if [ "$shm" = 1 ] && [ -f "$dir/postmaster.pid" ]; then
		shmid=$(tail -n 1 "$dir/postmaster.pid" | awk '{ print $NF }')
		case $shmid in ''|*[!0-9]*) ;; *)
			if ! err=$(ipcrm -m "$shmid" 2>&1); then
				case $err in *"invalid id"*|*"not found"*) ;; *) echo "SHM $dbid $(printf '%s' "$err" | tr '\n' ' ')" ;; esac
			fi ;;
		esac
	fi
done
exit $rc
`

// recoverScript recovers one failed instance incrementally on its host
// (spec §3.3, §6.2), as Greenplum's gpsegrecovery does, with a rewind that
// outlives the tool:
//
//	$1 GPHOME  $2 dbid  $3 data directory  $4 port  $5 progress file
//	$6 the standby file (recovery.conf, standby.signal)  $7 PGOPTIONS
//	$8 pg_rewind's --source-server  $9 the replication slot
//	${10} the rewind's pid file  ${11} its status file
//	${12} the source's host name  ${13} its port
//	then the pg_ctl start argv.
//
// It refuses a directory a postmaster runs in. A pid file whose process
// lives is an earlier run's rewind still at work there: it is waited for
// first, as the directory is in flux until it ends (pg_rewind copies the
// source's files). Then it refuses a directory whose internal.auto.conf
// names another dbid, and goes on with the rewind:
//
//   - a status file left by an earlier run's rewind says how it ended: 0,
//     the rewind is done; anything else, it failed;
//   - a pid file whose process is gone, with no status, is a rewind that
//     was killed midway: the directory cannot be trusted, nothing more is
//     done (exit 3), and the report says to run gprecoverseg -F;
//   - a target configured as a standby of its source (primary_conninfo
//     naming the source's host and port, with
//     application_name=gp_walreceiver, and the slot) is a mirror that
//     went down: no rewind (Greenplum's guard; a standby configuration
//     that points elsewhere is rewound, which rewrites it);
//   - otherwise pg_rewind runs detached (setsid, its own session, no
//     terminal), its output in the progress file and its exit status in
//     the status file, so that the tool's death never stops it midway.
//     This script waits for it, printing "PROGRESS <line>" as its last
//     line changes.
//
// Then the port in postgresql.conf (Greenplum's perl one-liner, with
// .bak), and the start unless the instance runs. The last line says how
// it ended: "RESULT ok <what>" or "RESULT <kind> <message>", kind one of
// Greenplum's error types (validation, incremental, update, start) or
// "interrupted". On success the pid and status files are removed.
const recoverScript = `set -u
gphome=$1 dbid=$2 dir=$3 port=$4 pf=$5 standby=$6 utility=$7 src=$8 slot=$9 pidf=${10} st=${11} srchost=${12} srcport=${13}
shift 13
result() { printf 'RESULT %s %s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ')"; }
field() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*'\{0,1\}\([^']*\)'\{0,1\}[[:space:]]*$/\1/p" "$2" 2>/dev/null | tail -n 1; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
if [ ! -d "$dir" ]; then result validation "$dir does not exist: run gprecoverseg -F"; exit 1; fi
if [ -f "$dir/postmaster.pid" ] && alive "$(head -n 1 "$dir/postmaster.pid" | tr -d ' ')"; then
	result validation "a postmaster runs in $dir; it was to be stopped"; exit 1
fi
# wait_rewind PID: wait for the rewind, looking every 0.1 s (a small one
# takes less than a second), and print its last line whenever it changes,
# the final one included.
wait_rewind() {
	last=
	while :; do
		running=0
		alive "$1" && running=1
		line=$(tail -n 1 "$pf" 2>/dev/null | tr '\r' '\n' | tail -n 1)
		if [ -n "$line" ] && [ "$line" != "$last" ]; then
			printf 'PROGRESS %s\n' "$line"
			last=$line
		fi
		[ "$running" = 1 ] || return 0
		sleep 0.1
	done
}
if [ ! -f "$st" ] && [ -f "$pidf" ] && alive "$(cat "$pidf")"; then
	echo "PROGRESS waiting for the pg_rewind an earlier run started (pid $(cat "$pidf"))"
	wait_rewind "$(cat "$pidf")"
fi
gpdbid=$(field gp_dbid "$dir/internal.auto.conf")
if [ "$gpdbid" != "$dbid" ]; then
	result validation "$dir/internal.auto.conf names gp_dbid '$gpdbid', not $dbid: not this instance's directory"; exit 1
fi
ours() {
	conf=$dir/postgresql.auto.conf
	[ "$standby" = recovery.conf ] && conf=$dir/recovery.conf
	ci=$(field primary_conninfo "$conf")
	case " $ci " in *" host=$srchost "*) ;; *) return 1 ;; esac
	case " $ci " in *" port=$srcport "*) ;; *) return 1 ;; esac
	case " $ci " in *" application_name=gp_walreceiver "*) ;; *) return 1 ;; esac
	[ "$(field primary_slot_name "$conf")" = "$slot" ]
}
if [ -f "$st" ]; then
	rc=$(cat "$st")
	if [ "$rc" != 0 ]; then result incremental "pg_rewind of an earlier run failed (exit $rc): see $pf"; exit 1; fi
	echo "PROGRESS pg_rewind of an earlier run finished"
elif [ -f "$pidf" ]; then
	result interrupted "the pg_rewind an earlier run started (pid $(cat "$pidf")) was stopped before it finished; $dir cannot be trusted"; exit 3
elif [ -f "$dir/$standby" ] && ours; then
	echo "PROGRESS skipping pg_rewind on mirror as $standby is present"
else
	command -v setsid >/dev/null 2>&1 || { result incremental "setsid is not installed on this host"; exit 1; }
	mkdir -p "$(dirname "$pf")" 2>/dev/null
	rm -f "$dir/postmaster.pid" "$pidf.tmp" "$st.tmp"
	setsid sh -c 'echo $$ >"$1.tmp" && mv -f "$1.tmp" "$1" || exit 1
		PGOPTIONS=$3 "$4/bin/pg_rewind" --write-recovery-conf --slot="$5" --source-server="$6" --target-pgdata="$7" --progress >"$8" 2>&1
		echo $? >"$2.tmp" && mv -f "$2.tmp" "$2"' sh "$pidf" "$st" "$utility" "$gphome" "$slot" "$src" "$dir" "$pf" </dev/null >/dev/null 2>&1 &
	i=0
	while [ ! -f "$pidf" ] && [ ! -f "$st" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -f "$pidf" ] || { result incremental "pg_rewind did not start"; exit 1; }
	wait_rewind "$(cat "$pidf")"
	rc=$(cat "$st" 2>/dev/null)
	if [ "$rc" != 0 ]; then result incremental "pg_rewind failed (exit ${rc:-none}): see $pf"; exit 1; fi
fi
conf=$dir/postgresql.conf
if grep -q '^port[ ]*=' "$conf" 2>/dev/null; then
	sed -i.bak "s/^port[ ]*=[ ]*[0-9][0-9]*/port=$port/" "$conf" || { result update "could not update the port in $conf"; exit 1; }
else
	{ cp -p "$conf" "$conf.bak" && printf 'port=%s\n' "$port" >>"$conf"; } || { result update "could not update the port in $conf"; exit 1; }
fi
if ! "$gphome/bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
	mkdir -p "$dir/log" "$dir/pg_log" 2>/dev/null
	if ! out=$("$@" 2>&1); then result start "$out"; exit 1; fi
fi
rm -f "$pidf" "$st"
result ok started
`

// progressRemoveScript removes the progress files of the segments whose
// copy succeeded (spec §3.1 step 13).
const progressRemoveScript = `rm -f -- "$@"`

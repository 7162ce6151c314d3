package gpdemo

// The POSIX sh scripts gpdemo sends to each host on stdin (design.md,
// "Decisions: no helper on segment hosts"): one script per host and step
// does all of that host's instances, runs them as parallel jobs, and prints
// one tagged result line per instance on stdout:
//
//	gpdemo-result <dbid> ok
//	gpdemo-result <dbid> failed: <what>
//
// with the failed job's output on stderr. Every value is a positional
// parameter; nothing is interpolated into the script text. Programs are
// called as "$gphome/bin/<name>", so a script works the same through the
// SSH executor (which sources greenplum_path.sh first) and the local one.

// resultTag starts every result line.
const resultTag = "gpdemo-result"

// jobsLib runs jobs in parallel and reports them. A job is started with
// "job <dbid> <function> <args...>"; "finish" waits for all of them, prints
// their result lines and exits 1 if any failed.
const jobsLib = `set -u
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpdemo.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
jobs=
job() {
	id=$1
	shift
	jobs="$jobs $id"
	( "$@" >"$tmp/$id.out" 2>&1; echo $? >"$tmp/$id.rc" ) &
}
finish() {
	wait
	failed=0
	for id in $jobs; do
		rc=$(cat "$tmp/$id.rc" 2>/dev/null || echo 255)
		if [ "$rc" = 0 ]; then
			echo "gpdemo-result $id ok"
		else
			failed=1
			echo "gpdemo-result $id failed: $(tail -n 1 "$tmp/$id.out" 2>/dev/null)"
			echo "dbid $id (exit $rc):" >&2
			tail -n 20 "$tmp/$id.out" >&2
		fi
	done
	exit $failed
}
# confq VALUE: VALUE as a postgresql.conf string literal
confq() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}
`

// initScript creates instances: $1 GPHOME, then per instance five
// parameters: dbid, content, port, data directory, listen addresses
// (comma-separated). initdb as Greenplum runs it, the compat settings of
// compat/README.md ("Creating an instance"), and a pg_hba.conf that trusts
// every local and loopback connection (test bed only).
const initScript = jobsLib + `gphome=$1
shift
init() {
	dbid=$1 content=$2 port=$3 dir=$4 listen=$5
	mkdir -p "$(dirname "$dir")" || return 1
	"$gphome/bin/initdb" --data-checksums -E UNICODE --locale=C --auth=trust -D "$dir" || return 1
	{
		echo
		echo "# gpdemo"
		echo "port = $port"
		echo "listen_addresses = $(confq "$listen")"
		echo "unix_socket_directories = '/tmp'"
		echo "shared_preload_libraries = $(confq "$gphome/lib/postgresql/gp_compat.so")"
		echo "gp_compat.gp_contentid = $content"
		echo "hot_standby = off"
		echo "lc_messages = 'C'"
		echo "wal_level = replica"
		echo "max_wal_senders = 10"
		echo "max_replication_slots = 10"
	} >>"$dir/postgresql.conf" || return 1
	{
		echo
		echo "# gpdemo, test bed only: trust every local and loopback connection, replication included"
		echo "local all all trust"
		echo "local replication all trust"
		echo "host all all 127.0.0.0/8 trust"
		echo "host replication all 127.0.0.0/8 trust"
		echo "host all all ::1/128 trust"
		echo "host replication all ::1/128 trust"
	} >>"$dir/pg_hba.conf" || return 1
	printf 'gp_dbid=%s\n' "$dbid" >"$dir/internal.auto.conf"
}
while [ $# -ge 5 ]; do
	job "$1" init "$1" "$2" "$3" "$4" "$5"
	shift 5
done
finish
`

// startScript starts instances through the shim pg_ctl with Greenplum 7's
// options: $1 GPHOME, $2 the role (utility, dispatch or execute), then per
// instance: dbid, data directory. The server log is <dir>/log/startup.log,
// as Greenplum 7's.
const startScript = jobsLib + `gphome=$1 role=$2
shift 2
start() {
	mkdir -p "$1/log" || return 1
	"$gphome/bin/pg_ctl" -D "$1" -l "$1/log/startup.log" -w -t 120 -o " -c gp_role=$role " start
}
while [ $# -ge 2 ]; do
	job "$1" start "$2"
	shift 2
done
finish
`

// catalogScript loads the gp_compat catalog into template1 and postgres of
// instances in a utility session: $1 GPHOME, then per instance: dbid, port.
const catalogScript = jobsLib + `gphome=$1
shift
load() {
	for db in template1 postgres; do
		PGOPTIONS='-c gp_role=utility' "$gphome/bin/psql" -X -q -v ON_ERROR_STOP=1 -h /tmp -p "$1" -d "$db" \
			-f "$gphome/share/gp_compat/gp_compat.sql" || return 1
	done
}
while [ $# -ge 2 ]; do
	job "$1" load "$2"
	shift 2
done
finish
`

// restartScript stops the coordinator (fast) and starts it again in
// dispatch mode: $1 GPHOME, $2 dbid, $3 data directory.
const restartScript = jobsLib + `gphome=$1
restart() {
	"$gphome/bin/pg_ctl" -D "$1" -m fast -w -t 120 stop || return 1
	"$gphome/bin/pg_ctl" -D "$1" -l "$1/log/startup.log" -w -t 120 -o " -c gp_role=dispatch " start
}
job "$2" restart "$3"
finish
`

// standbyScript copies the coordinator into the standby's data directory as
// Greenplum 7's gpinitstandby does (spec §6.1, with a new replication slot),
// then gives the copy its own port and listen addresses: $1 GPHOME, $2
// dbid, $3 data directory, $4 port, $5 listen addresses, $6 coordinator
// host, $7 coordinator port.
const standbyScript = jobsLib + `gphome=$1
copy() {
	dbid=$1 dir=$2 port=$3 listen=$4 chost=$5 cport=$6
	mkdir -p "$(dirname "$dir")" || return 1
	"$gphome/bin/pg_basebackup" -c fast -D "$dir" -h "$chost" -p "$cport" \
		--create-slot --slot internal_wal_replication_slot --wal-method stream \
		--no-verify-checksums --write-recovery-conf \
		-E ./db_dumps -E ./promote -E ./db_analyze --target-gp-dbid "$dbid" || return 1
	{
		echo
		echo "# gpdemo standby"
		echo "port = $port"
		echo "listen_addresses = $(confq "$listen")"
	} >>"$dir/postgresql.conf"
}
job "$2" copy "$2" "$3" "$4" "$5" "$6" "$7"
finish
`

// stopScript stops instances and leaves no postmaster behind: $1 GPHOME,
// $2 the first shutdown mode (fast, or immediate for a rollback), then per
// instance: dbid, data directory. An instance without postmaster.pid is
// not running. A fast stop that fails or times out is followed by an
// immediate one; when pg_ctl cannot stop it (no GPHOME any more) the
// postmaster gets SIGQUIT (immediate shutdown). A postmaster.pid whose
// process is gone is removed.
const stopScript = jobsLib + `gphome=$1 mode=$2
shift 2
alive() {
	pid=$(sed -n 1p "$1/postmaster.pid" 2>/dev/null | tr -d ' ')
	case $pid in ''|*[!0-9]*) return 1 ;; esac
	kill -0 "$pid" 2>/dev/null
}
stop() {
	dir=$1
	[ -f "$dir/postmaster.pid" ] || { echo "not running"; return 0; }
	if [ -x "$gphome/bin/pg_ctl" ]; then
		"$gphome/bin/pg_ctl" -D "$dir" -m "$mode" -w -t 60 stop ||
			"$gphome/bin/pg_ctl" -D "$dir" -m immediate -w -t 30 stop
	fi
	if alive "$dir"; then
		kill -QUIT "$pid"
		i=0
		while alive "$dir" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	fi
	if alive "$dir"; then echo "postmaster $pid of $dir is still running"; return 1; fi
	rm -f "$dir/postmaster.pid"
	echo "stopped"
}
while [ $# -ge 2 ]; do
	job "$1" stop "$2"
	shift 2
done
finish
`

// removeScript removes what gpdemo created on a host: $1 the number of
// data directories, then the data directories (removed with their
// contents), then directories gpdemo made around them, deepest first,
// removed only when empty. Missing paths are fine, so a rerun completes a
// half-done removal.
const removeScript = `set -u
n=$1
shift
failed=0
while [ "$n" -gt 0 ]; do
	rm -rf -- "$1" || failed=1
	shift
	n=$((n - 1))
done
for d in "$@"; do
	[ -d "$d" ] || continue
	rmdir -- "$d" 2>/dev/null || { echo "$d is not empty: gpdemo did not create what is left in it" >&2; failed=1; }
done
exit $failed
`

// checkScript checks that a host has the GPHOME programs gpdemo runs there:
// $1 GPHOME.
const checkScript = `set -u
gphome=$1
missing=
for f in bin/initdb bin/pg_ctl bin/postgres bin/psql bin/pg_basebackup lib/postgresql/gp_compat.so share/gp_compat/gp_compat.sql; do
	[ -e "$gphome/$f" ] || missing="$missing $gphome/$f"
done
if [ -n "$missing" ]; then
	echo "missing:$missing" >&2
	exit 1
fi
`

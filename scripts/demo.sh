#!/usr/bin/env bash
# The demo cluster of `make demo` and `make demo-clean`, in ./demo-cluster.
# Runs as gpadmin (scripts/as-gpadmin.sh arranges it when make runs as root).
#
#   scripts/demo.sh           create the demo cluster, or reuse the running one
#   scripts/demo.sh failover  the seed's story on it: a primary killed, FTS's
#                             failover, gprecoverseg, gprecoverseg -r
#   scripts/demo.sh clean     destroy it, leaving no process behind
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
dir=$top/demo-cluster
gphome=$top/build/compat-gphome
# The tools make build made (static, stamped with the version): gpdemo
# writes this directory first in the env file's PATH.
bin=$top/bin

say() { printf 'demo: %s\n' "$*"; }

build() {
	make -s -C compat gphome GPHOME_DIR="$gphome"
	# make demo runs make build first; run alone, or in gpadmin's copy of
	# a checkout it cannot read (as-gpadmin.sh), build the tools here.
	[ -x "$bin/gpdemo" ] || go build -o "$bin/" ./cmd/...
}

running() {
	[ -f "$dir/gpdemo_env.sh" ] || return 1
	(
		. "$dir/gpdemo_env.sh"
		"$GPHOME/bin/pg_isready" -q -h /tmp -p "$PGPORT"
	)
}

# step TEXT COMMAND...: show a step of the failover story, its command and
# what it printed; the story stops at the first command that fails.
step() {
	echo
	say "== $1"
	shift
	if [ "$1" = sql ]; then
		printf '$ psql -c "%s"\n' "$2"
	elif [ "$1" = promoted ]; then
		printf '$ psql -c "SELECT gp_request_fts_probe_scan()"   # until content %s has failed over\n' "$2"
	else
		printf '$ %s\n' "$*"
	fi
	"$@"
}

# sql TEXT: one statement on the coordinator, unaligned output.
sql() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }

# synced: wait (60 s at most) until FTS has every pair in sync.
synced() {
	for _ in $(seq 1 60); do
		[ "$(sql "SELECT count(*) FROM gp_segment_configuration WHERE content >= 0 AND (mode <> 's' OR status <> 'u')")" = 0 ] && return 0
		sql "SELECT gp_request_fts_probe_scan()" >/dev/null
		sleep 1
	done
	say "the mirrors are not in sync after 60 s" >&2
	return 1
}

# promoted CONTENT: request FTS probes (60 s at most) until CONTENT's
# mirror acts as its primary.
promoted() {
	for _ in $(seq 1 60); do
		sql "SELECT gp_request_fts_probe_scan()" >/dev/null
		[ "$(sql "SELECT count(*) FROM gp_segment_configuration WHERE content = $1 AND role = 'p' AND preferred_role = 'm'")" = 1 ] && {
			sql "SELECT dbid, content, role, preferred_role, mode, status FROM gp_segment_configuration WHERE content = $1 ORDER BY dbid"
			return 0
		}
		sleep 1
	done
	say "content $1's mirror was not promoted within 60 s" >&2
	return 1
}

# failover: the seed article's failure and recovery on the demo cluster.
failover() {
	. "$dir/gpdemo_env.sh"
	export PATH="$bin:$PATH"
	step "a healthy, balanced cluster" gpstate -e
	step "some data" sql "CREATE TABLE IF NOT EXISTS demo_failover AS SELECT generate_series(1, 100000) AS i"
	local pdir pid
	pdir=$(sql "SELECT datadir FROM gp_segment_configuration WHERE content = 1 AND role = 'p'")
	pid=$(head -n 1 "$pdir/postmaster.pid")
	step "content 1's primary dies (kill -9 of its postmaster, $pdir)" kill -9 "$pid"
	step "FTS notices and promotes its mirror" promoted 1
	step "the data is still there, served by the promoted mirror" sql "SELECT count(*) FROM demo_failover"
	step "gpstate warns" gpstate
	step "gpstate -e names the switched pair" gpstate -e || true
	step "gprecoverseg rewinds the failed primary and makes it a mirror" gprecoverseg -a
	synced
	step "in sync, roles still switched" gpstate -e || true
	step "gprecoverseg -r gives content 1 back to its preferred primary" gprecoverseg -r -a
	synced
	step "healthy and balanced again" gpstate -e
	sql "DROP TABLE demo_failover" >/dev/null
}

case ${1:-create} in
failover)
	build
	running || "$0" create
	failover
	;;
create)
	build
	if running; then
		say "reusing the running demo cluster in $dir"
	else
		if [ -f "$dir/gpdemo.json" ]; then
			say "the demo cluster in $dir is not running: destroying it to create it anew"
			"$bin/gpdemo" destroy --dir "$dir"
		fi
		"$bin/gpdemo" create --dir "$dir" --gphome "$gphome" --hosts 2 --primaries-per-host 2 --standby --mirrors group
	fi
	. "$dir/gpdemo_env.sh"
	echo
	say "gpstate:"
	"$bin/gpstate"
	echo
	say "to use it, as gpadmin (su - gpadmin):  cd $top && source demo-cluster/gpdemo_env.sh && gpstate"
	say "to remove, as root:  make demo-clean"
	;;
clean)
	if [ ! -f "$dir/gpdemo.json" ]; then
		say "no demo cluster in $dir"
		exit 0
	fi
	[ -x "$bin/gpdemo" ] || go build -o "$bin/" ./cmd/gpdemo
	"$bin/gpdemo" destroy --dir "$dir"
	;;
*)
	echo "usage: $0 [create|failover|clean]" >&2
	exit 2
	;;
esac

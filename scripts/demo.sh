#!/usr/bin/env bash
# The demo cluster of `make demo` and `make demo-clean`, in ./demo-cluster.
# Runs as gpadmin (scripts/as-gpadmin.sh arranges it when make runs as root).
#
#   scripts/demo.sh          create the demo cluster, or reuse the running one
#   scripts/demo.sh clean    destroy it, leaving no process behind
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
dir=$top/demo-cluster
gphome=$top/build/compat-gphome
bin=$top/build/bin

say() { printf 'demo: %s\n' "$*"; }

build() {
	make -s -C compat gphome GPHOME_DIR="$gphome"
	go build -o "$bin/" ./cmd/...
}

running() {
	[ -f "$dir/gpdemo_env.sh" ] || return 1
	(
		. "$dir/gpdemo_env.sh"
		"$GPHOME/bin/pg_isready" -q -h /tmp -p "$PGPORT"
	)
}

case ${1:-create} in
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
	say "to use it:  source $dir/gpdemo_env.sh"
	say "to remove:  make demo-clean"
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
	echo "usage: $0 [create|clean]" >&2
	exit 2
	;;
esac

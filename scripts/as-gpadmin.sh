#!/usr/bin/env bash
# Runs a command in the project tree as the OS user gpadmin.
#
# PostgreSQL refuses to run as root, and the integration tests need the
# gpadmin account that setup-test-host.sh prepares. Run as root, this script
# prepares the machine, then runs the command as gpadmin with Go caches of its
# own (root's are not readable by gpadmin). Run as any other user, it runs the
# command as that user, in place.
#
# Usage: [GPADMIN_WRITABLE="dir ..."] scripts/as-gpadmin.sh COMMAND [ARG...]
#
# GPADMIN_WRITABLE names directories of the tree (relative to its top) that
# the command writes, such as the demo cluster: run as root, they are
# created if missing and given to gpadmin.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	cd "$top"
	exec "$@"
fi

"$top/scripts/setup-test-host.sh"

user=gpadmin
home=$(getent passwd "$user" | cut -d: -f6)
command -v go >/dev/null || {
	echo "as-gpadmin: Go $(sed -n 's/^go //p' "$top/go.mod") or newer must be on PATH" >&2
	exit 1
}
gobin=$(dirname "$(command -v go)")

# gpadmin only reads the tree (go test writes to its own cache and to temp
# directories). A checkout it cannot read, such as one under /root, is copied.
dir=$top
if ! runuser -u "$user" -- test -r "$top/go.mod"; then
	dir=$home/gpmgmt-src
	echo "as-gpadmin: $top is not readable by $user; copying it to $dir"
	install -d -o "$user" -g "$user" "$dir"
	rsync -a --delete --exclude=.git --exclude=/bin --exclude=/demo-cluster "$top/" "$dir/"
	chown -R "$user:$user" "$dir"
fi

for d in ${GPADMIN_WRITABLE:-}; do
	case $d in /* | *..*) echo "as-gpadmin: GPADMIN_WRITABLE entries must be relative paths inside the tree: $d" >&2; exit 2 ;; esac
	mkdir -p "$dir/$d"
	chown -R "$user:$user" "$dir/$d"
done

exec runuser -u "$user" -- env -i \
	HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash LANG=C.UTF-8 \
	PATH="$gobin:/usr/local/bin:/usr/bin:/bin" \
	GOPATH="$home/go" GOCACHE="$home/.cache/go-build" \
	GOFLAGS="-modcacherw -buildvcs=false" GOTOOLCHAIN=local \
	GOPROXY="$(go env GOPROXY)" GOSUMDB="$(go env GOSUMDB)" \
	CI="${CI:-}" GPMGMT_BENCH_MB="${GPMGMT_BENCH_MB:-}" GPMGMT_BENCH_ROUNDS="${GPMGMT_BENCH_ROUNDS:-}" GPMGMT_BENCH_SHAPES="${GPMGMT_BENCH_SHAPES:-}" \
	RELIABILITY_LOAD_DURATION="${RELIABILITY_LOAD_DURATION:-}" FAULTS="${FAULTS:-}" LOAD="${LOAD:-}" \
	bash -c 'cd "$1" && shift && exec "$@"' as-gpadmin "$dir" "$@"

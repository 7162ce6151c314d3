#!/usr/bin/env bash
# Release tarballs for `make dist`: one per platform, and a SHA-256 file.
#
# Usage: MAKE=make scripts/dist.sh VERSION OUTDIR OS/ARCH...
#
# Each tarball, gpmgmt-VERSION-OS-ARCH.tar.gz, holds one directory of that
# name with what `make install` puts in a PREFIX (bin/ with the static
# tools; whatever install learns to add later comes along), README.md, and
# LICENSE when the tree has one. OUTDIR/gpmgmt-VERSION-SHA256SUMS lists
# their checksums in sha256sum's format (check with sha256sum -c).
#
# The tarballs are reproducible: the binaries are built with -trimpath
# (Makefile, GOBUILD); files are sorted by name, owned by 0:0, dated by
# SOURCE_DATE_EPOCH (default: the last commit's time, else 0), with fixed
# modes; gzip stores no name or time.
set -euo pipefail

if [ $# -lt 3 ]; then
	echo "usage: $0 VERSION OUTDIR OS/ARCH..." >&2
	exit 2
fi
version=$1 out=$2
shift 2
case $version in
'' | */* | *[[:space:]]*)
	echo "dist: unusable version '$version': it names files" >&2
	exit 2
	;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tarballs=()
for platform in "$@"; do
	os=${platform%/*} arch=${platform#*/}
	name=gpmgmt-$version-$os-$arch
	echo "dist: $name"
	install -d -m 0755 "$work/$name"
	GOOS=$os GOARCH=$arch ${MAKE:-make} -s --no-print-directory install \
		VERSION="$version" BIN="$work/bin-$os-$arch" DESTDIR="$work/$name" PREFIX=
	install -m 0644 README.md "$work/$name/"
	if [ -f LICENSE ]; then
		install -m 0644 LICENSE "$work/$name/"
	fi
	tar --sort=name --format=gnu --owner=0 --group=0 --numeric-owner --mtime="@$epoch" --mode=u=rwX,go=rX \
		-C "$work" -cf - "$name" | gzip -n >"$out/$name.tar.gz"
	tarballs+=("$name.tar.gz")
done

(cd "$out" && sha256sum "${tarballs[@]}" >"gpmgmt-$version-SHA256SUMS")
echo "dist: $out/gpmgmt-$version-SHA256SUMS"
cat "$out/gpmgmt-$version-SHA256SUMS"

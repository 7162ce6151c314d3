#!/bin/sh
# Merges host keys into a known_hosts file, keeping everything else in it.
#
# Usage: scripts/merge-known-hosts.sh FILE NAME... < KEYS
#
# KEYS holds known_hosts lines (ssh-keyscan's output) for the host NAMEs.
# Every entry FILE has for a NAME, plain or hashed, is replaced by the lines
# of KEYS; every other line of FILE (other hosts, comments, @cert-authority
# and @revoked markers) stays as it is. FILE is replaced by rename, keeping
# its mode, so that a reader never sees half a file and two runs at once
# cannot mix their temporary files. A missing FILE is created (mode 0644).
set -eu

[ $# -ge 2 ] || { echo "usage: $0 FILE NAME... < KEYS" >&2; exit 2; }
file=$1
shift

dir=$(dirname -- "$file")
work=$(mktemp -d "$dir/.known_hosts.merge.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
keys=$work/keys
cat >"$keys"
copy=$work/known_hosts
if [ -f "$file" ]; then
	cp -p -- "$file" "$copy"
else
	: >"$copy"
	chmod 644 "$copy"
fi
for name in "$@"; do
	ssh-keygen -R "$name" -f "$copy" >/dev/null 2>&1 || true
done
rm -f -- "$copy.old"
sort -u "$keys" >>"$copy"
# ssh-keygen -R wrote a new file, owned by whoever runs this (root, from
# setup-test-host.sh): it takes the owner of the file it replaces (of the
# directory, for a new one) before the rename, so that the owner's tools
# never find a known_hosts they may not read.
ref=$file
[ -f "$file" ] || ref=$dir
if [ "$(id -u)" = 0 ]; then
	chown --reference="$ref" -- "$copy"
fi
[ -f "$file" ] && chmod --reference="$file" -- "$copy"
mv -f -- "$copy" "$file"

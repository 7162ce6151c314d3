#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME (default 30s) each, one
# after another: `go test -fuzz` takes one target per run, and each run uses
# every core. `make fuzz` (and `make reliability`) run it, 30 s each; `make test`
# runs it after the tests with FUZZTIME=10s, and go test the seed corpora.
#
# Usage: [FUZZTIME=30s] [GO=go] scripts/fuzz.sh
#
# Targets are found by name (func FuzzX(f *testing.F) in a _test.go file
# under pkg/, internal/ or cmd/), so a new one runs without being listed.
# Seeds live in each package's testdata/fuzz/<target>/. Each package's
# instrumented test binary is built once (go test -c -fuzz=.) and run once
# per target, with go test's corpus cache.
#
# Go 1.26 can end a duration-bounded run with a bare "context deadline
# exceeded" and no failing input: a race in its fuzzing coordinator at the
# end of -fuzztime under CPU contention (go.dev/issue/75804, fixed in Go
# 1.27). Such a run is reported as passed, with that reason; a run that
# names a failing input, a test line, a panic or a hang fails the script.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
go=${GO:-go}
fuzztime=${FUZZTIME:-30s}

targets=()
while IFS= read -r file; do
	dir=./$(dirname "$file")
	while IFS= read -r name; do
		targets+=("$dir $name")
	done < <(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(f \*testing\.F\).*/\1/p' "$file")
done < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' pkg internal cmd | sort)

if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

# coordinator_race reports whether a failed run's output is only the
# coordinator's deadline race (see above).
coordinator_race() {
	grep -qx '    context deadline exceeded' <<<"$1" &&
		! grep -qE 'Failing input|_test\.go:[0-9]+:|panic:|fuzzing process hung|terminated unexpectedly' <<<"$1"
}

echo "fuzz: ${#targets[@]} targets, $fuzztime each"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cache=$("$go" env GOCACHE)/fuzz
failed=()
begin=$SECONDS
built=""
for t in "${targets[@]}"; do
	read -r dir name <<<"$t"
	# One instrumented test binary per package, run in the package's
	# directory (testdata/fuzz) with go test's corpus cache.
	exe=$bin/$(tr / _ <<<"$dir").test
	if [ "$built" != "$dir" ]; then
		"$go" test -c -fuzz=. -o "$exe" "$dir"
		corpus=$cache/$("$go" list "$dir")
		built=$dir
	fi
	start=$SECONDS
	note=""
	if out=$(cd "$dir" && "$exe" -test.run '^$' -test.fuzz "^${name}\$" -test.fuzztime "$fuzztime" \
		-test.fuzzcachedir "$corpus" -test.timeout 10m 2>&1); then
		result=ok
	elif coordinator_race "$out"; then
		result=ok
		note=" (ended by Go's fuzztime deadline race, go.dev/issue/75804; no failing input)"
	else
		result=FAIL
		failed+=("$t")
		printf '%s\n' "$out"
	fi
	execs=$(sed -nE 's/^fuzz: elapsed: .*, execs: ([0-9]+) .*/\1/p' <<<"$out" | tail -n 1)
	printf 'fuzz: %-4s %-20s %-26s %10s execs %4ds%s\n' "$result" "$dir" "$name" "${execs:-?}" $((SECONDS - start)) "$note"
done
echo "fuzz: ${#targets[@]} targets in $((SECONDS - begin))s"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: FAILED: %s\n' "${failed[@]}" >&2
	exit 1
fi

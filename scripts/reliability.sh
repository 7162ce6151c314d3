#!/usr/bin/env bash
# make reliability, after the fuzzing: the fault campaign, then the gpstate
# load run: the integration tests built with the reliability tag (named
# TestFault... and TestLoad...), against gpdemo clusters over real SSH like
# make test's. The load run goes alone, after the campaign, so that its
# times are the tool's and not the campaign's. Each test records a row
# (internal/faulttest); the tables of every row are printed at the end, the
# ones docs/reliability.md quotes, whether the tests passed or not.
#
# Usage: [GO=go] [FAULTS=regexp] [LOAD=regexp] [RELIABILITY_LOAD_DURATION=10m]
#        scripts/reliability.sh
# (run as gpadmin: make reliability does that, after preparing the machine;
# FAULTS or LOAD set to '^$' skips that part)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
go=${GO:-go}
faults=${FAULTS:-^TestFault}
load=${LOAD:-^TestLoad}

table=$(mktemp "${TMPDIR:-/tmp}/gpmgmt-fault-table.XXXXXX")
trap 'rm -f "$table"' EXIT

status=0
for run in "$faults" "$load"; do
	[ "$run" = '^$' ] && continue
	echo "reliability: go test -run '$run' ./e2e/..."
	start=$SECONDS
	GPMGMT_FAULT_TABLE=$table "$go" test -count=1 -tags 'integration reliability' -run "$run" -timeout 150m ./e2e/... || status=1
	echo "reliability: -run '$run' took $((SECONDS - start)) s"
done

echo
echo "The fault table (docs/reliability.md):"
echo
"$go" run ./internal/faulttest/faulttable "$table" || status=1
exit "$status"

#!/usr/bin/env bash
# make reliability, after the fuzzing: the fault campaign and the gpstate
# load run, the integration tests built with the reliability tag (named
# TestFault... and TestLoad...), against gpdemo clusters over real SSH like
# make test's. Each fault test records a row (internal/faulttest); the
# table of every row is printed at the end, the one docs/reliability.md
# quotes, whether the tests passed or not.
#
# Usage: [GO=go] [RELIABILITY_RUN=regexp] scripts/reliability.sh
# (run as gpadmin: make reliability does that, after preparing the machine)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
go=${GO:-go}
run=${RELIABILITY_RUN:-^(TestFault|TestLoad)}

table=$(mktemp "${TMPDIR:-/tmp}/gpmgmt-fault-table.XXXXXX")
trap 'rm -f "$table"' EXIT

status=0
GPMGMT_FAULT_TABLE=$table "$go" test -count=1 -tags 'integration reliability' -run "$run" -timeout 150m ./e2e/... || status=$?

echo
echo "The fault table (docs/reliability.md):"
echo
"$go" run ./internal/faulttest/faulttable "$table" || status=1
exit "$status"

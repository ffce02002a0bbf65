#!/usr/bin/env bash
# tests/bench/run.sh - `make bench`: every benchmark of tests/bench/, each printing
# its own side-by-side table; all output also saved to $BUILD/bench/report.txt.
# BENCH="map clean" runs only those. Needs ../shared/data (or ARXIV_SHARED).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
export ARXIV_BUILD="$PWD/$BUILD"
export ARXIV_DATADIR="$PWD/data"
export ARXIV_SHARED=${ARXIV_SHARED:-${SHARED:-../shared}}
export PATH="$ARXIV_BUILD/bin:$PATH"
if [ ! -d "$ARXIV_SHARED/data" ]; then
	echo "bench: SKIPPED: no real data at $ARXIV_SHARED/data (set ARXIV_SHARED)" >&2
	exit 0
fi
mkdir -p "$BUILD/bench"
report="$BUILD/bench/report.txt"
: > "$report"
status=0
for name in ${BENCH:-map clean tok pipe model serve bert stats spread docker hpo explain similar pg}; do
	script="tests/bench/$name.sh"
	[ -x "$script" ] || { echo "bench: $name: no $script, skipped" | tee -a "$report"; continue; }
	echo "=== $name ($(date -u +%H:%M:%S))" | tee -a "$report"
	"$script" 2>&1 | tee -a "$report" || { status=1; echo "bench: $name failed" | tee -a "$report"; }
done
echo "bench: report in $report"
exit $status

#!/usr/bin/env bash
# tests/run.sh - run every C unit test and every bats file, then print one
# summary line "N passed, N failed, N skipped" over all of them.
# Env: BUILD (build dir, default build), SHARED (../shared), TESTS (bats files to run).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export ARXIV_BUILD="$PWD/$BUILD"
export ARXIV_SHARED=${ARXIV_SHARED:-${SHARED:-../shared}}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	echo "# unit: ${t##*/}"
	"$t" | tee -a "$log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
		# a crash (signal) or abort: count it, so the summary cannot hide it
		echo "not ok - ${t##*/} exited with status $rc" | tee -a "$log"
	fi
	[ "$rc" -eq 0 ] || status=1
done

bats_files=${TESTS:-$(ls tests/*.bats 2>/dev/null)}
if [ -n "$bats_files" ]; then
	# shellcheck disable=SC2086
	bats --tap $bats_files | tee -a "$log" || status=1
fi

pass=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
skip=$(grep -cE '^ok [0-9]+ .*# skip' "$log" | tr -d ' ')
fail=$(grep -cE '^not ok [0-9]+' "$log" | tr -d ' ')
pass=$((pass - skip))
if [ "$skip" -gt 0 ]; then
	echo "# skipped:"; grep -E '^ok [0-9]+ .*# skip' "$log" | sed 's/^/#   /'
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$status" -eq 0 ] && [ "$pass" -gt 0 ]

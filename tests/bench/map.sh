#!/usr/bin/env bash
# map.sh - arxiv-map throughput on the real records (records/s, MB/s of input,
# peak RSS), serial and with GNU parallel, and arxiv-split on its output.
# N=records (default: all of ../shared/data, 220,000), JOBS=parallel jobs (default: cores).
# Needs ARXIV_SHARED (../shared) and the programs on PATH (tests/bench/run.sh sets both).
set -euo pipefail
N=${N:-220000}
JOBS=${JOBS:-$(nproc)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# plain JSONL input, decompressed beforehand so zcat is not measured
# (zcat dies of SIGPIPE when head has enough: not an error)
{ zcat "$ARXIV_SHARED"/data/arxiv-part-00*.jsonl.gz || true; } | head -n "$N" > "$tmp/in.json"
n=$(wc -l < "$tmp/in.json")
[ "$n" -gt 0 ] || { echo "map.sh: no records read from $ARXIV_SHARED/data" >&2; exit 1; }
mb=$(awk -v b="$(stat -c %s "$tmp/in.json")" 'BEGIN { printf "%.2f", b / 1048576 }')

# run LABEL CMD: wall time, records/s, MB/s of the raw input, peak RSS (largest process)
run() {
	local label=$1 cmd=$2 t0 t1
	t0=$(date +%s.%N)
	/usr/bin/time -f '%M' -o "$tmp/rss" bash -o pipefail -c "$cmd"
	t1=$(date +%s.%N)
	awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$n" -v mb="$mb" -v r="$(tail -n 1 "$tmp/rss")" \
		'BEGIN { t = b - a; printf "%-40s %8d %8.2f s %10.0f rec/s %7.1f MB/s %8.1f MiB\n", l, n, t, n / t, mb / t, r / 1024 }'
}

echo "input: $n records ($mb MiB of Kaggle-schema JSONL); $(nproc) cores, $JOBS jobs"
printf '%-40s %8s %10s %16s %12s %12s\n' "program" records wall throughput "MB/s" "peak RSS"
run "arxiv-map (1 core)" "arxiv-map '$tmp/in.json' > '$tmp/mapped.jsonl'"
run "arxiv-map -a (1 core)" "arxiv-map -a < '$tmp/in.json' > /dev/null"
run "zcat | arxiv-map (gzip input)" "{ zcat '$ARXIV_SHARED'/data/arxiv-part-00*.jsonl.gz || true; } | head -n $n | arxiv-map > /dev/null"
if command -v parallel > /dev/null; then
	run "parallel --pipe -j$JOBS arxiv-map" "parallel --pipe -k -j$JOBS --block 16M arxiv-map < '$tmp/in.json' > '$tmp/par.jsonl'"
	cmp -s "$tmp/mapped.jsonl" "$tmp/par.jsonl" || { echo "map.sh: parallel output differs from serial" >&2; exit 1; }
else
	echo "map.sh: GNU parallel not installed: no parallel run"
fi
run "arxiv-split (JSONL, 1 core)" "arxiv-split -s 42 -o '$tmp/split' '$tmp/mapped.jsonl'"
run "arxiv-split -S (JSONL, 2 passes)" "arxiv-split -S -s 42 -o '$tmp/strat' '$tmp/mapped.jsonl'"
run "cat | arxiv-split -S (spooled stdin)" "cat '$tmp/mapped.jsonl' | arxiv-split -S -s 42 -o '$tmp/strat2'"
[ "$(cat "$tmp"/split/*.jsonl | wc -l)" -eq "$n" ] || { echo "map.sh: split lost records" >&2; exit 1; }

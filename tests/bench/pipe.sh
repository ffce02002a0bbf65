#!/usr/bin/env bash
# pipe.sh - throughput of the whole map | clean | tok pipe over ../shared/data,
# serial and with GNU parallel on all cores, with peak RSS of each filter.
# N=records (default: all 220k).
set -euo pipefail
vocab="$ARXIV_SHARED/vocab/scibert_scivocab_uncased.vocab.txt"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
in="$tmp/in.jsonl"
# shellcheck disable=SC2086
zcat "$ARXIV_SHARED"/data/arxiv-part-00*.jsonl.gz | head -n "${N:-100000000}" > "$in"
n=$(wc -l < "$in")
mb=$(awk -v b="$(stat -c %s "$in")" 'BEGIN { printf "%.1f", b / 1048576 }')
cores=$(nproc)
echo "input: $n records, $mb MiB (plain JSONL in a temp file), $cores cores"

# run LABEL CMD: wall time, records/s, MB/s of input, peak RSS of the largest process.
run() {
	local label=$1 cmd=$2 t0 t1 rss
	t0=$(date +%s.%N)
	/usr/bin/time -f '%M' -o "$tmp/rss" bash -c "$cmd" > /dev/null
	t1=$(date +%s.%N)
	rss=$(cat "$tmp/rss")
	awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$n" -v mb="$mb" -v r="$rss" \
		'BEGIN { t = b - a; printf "%-44s %8.2f s %10.0f rec/s %8.1f MB/s %8.1f MiB\n", l, t, n / t, mb / t, r / 1024 }'
}

arxiv-map < "$in" > "$tmp/mapped.jsonl"
arxiv-clean < "$tmp/mapped.jsonl" > "$tmp/clean.jsonl"
printf '%-44s %10s %16s %13s %12s\n' stage wall throughput "input MB/s" "peak RSS*"
run "arxiv-map (1 core)" "arxiv-map < '$in'"
run "arxiv-clean (1 core)" "arxiv-clean < '$tmp/mapped.jsonl'"
run "arxiv-tok (1 core)" "arxiv-tok -v '$vocab' < '$tmp/clean.jsonl'"
run "map | clean | tok (serial pipe)" "arxiv-map < '$in' | arxiv-clean | arxiv-tok -v '$vocab'"
run "map | clean | tok (GNU parallel, $cores jobs)" \
	"parallel --pipe -k --block 16M -j $cores \"arxiv-map | arxiv-clean | arxiv-tok -v '$vocab'\" < '$in'"
echo "* peak RSS: /usr/bin/time %M of the command; for a pipe, the largest single process"

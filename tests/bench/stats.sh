#!/usr/bin/env bash
# stats.sh - arxiv-stats throughput on the real records (serial, with the vocabulary,
# with --clean, in parallel blocks merged), the issue's pipe zcat | arxiv-map |
# arxiv-stats, arxiv-report's rendering time, and arxiv-harvest's parsing
# throughput on a large generated OAI-PMH response served from loopback (records/s
# and peak RSS for 20 and 100 pages: constant memory; and -k on 20 pages with a
# bad record in each, which are parsed again record by record).
# N=records (default 220,000), JOBS=parallel jobs (default: cores).
set -euo pipefail
N=${N:-220000}
JOBS=${JOBS:-$(nproc)}
top=$(cd "$(dirname "$0")/../.." && pwd)
vocab=$ARXIV_SHARED/vocab/scibert_scivocab_uncased.vocab.txt
tmp=$(mktemp -d)
spid=
trap '[ -z "$spid" ] || kill "$spid" 2>/dev/null; rm -rf "$tmp"' EXIT

{ zcat "$ARXIV_SHARED"/data/arxiv-part-00*.jsonl.gz || true; } | head -n "$N" > "$tmp/in.json"
n=$(wc -l < "$tmp/in.json")
arxiv-map "$tmp/in.json" > "$tmp/mapped.jsonl"

# run LABEL RECORDS CMD: wall time, records/s, CPU time of all its processes and
# records per CPU second (less sensitive to a loaded machine), peak RSS (largest process)
run() {
	local label=$1 recs=$2 cmd=$3 t0 t1
	t0=$(date +%s.%N)
	/usr/bin/time -f '%M %U %S' -o "$tmp/rss" bash -o pipefail -c "$cmd"
	t1=$(date +%s.%N)
	tail -n 1 "$tmp/rss" | awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$recs" \
		'{ t = b - a; c = $2 + $3; if (c <= 0) c = 0.01
		   printf "%-52s %8d %8.2f s %10.0f rec/s %8.2f s %10.0f rec/cpu-s %8.1f MiB\n", l, n, t, n / t, c, n / c, $1 / 1024 }'
}

echo "input: $n records; $(nproc) cores, $JOBS jobs, load average $(cut -d' ' -f1 /proc/loadavg)"
printf '%-52s %8s %10s %16s %10s %20s %12s\n' "what" records wall throughput "CPU" "per CPU second" "peak RSS"
run "arxiv-stats -j 1 (built-in terms, 1 core)" "$n" "arxiv-stats -j 1 '$tmp/mapped.jsonl' > '$tmp/s0.json'"
run "arxiv-stats -j $JOBS (terms split on $JOBS threads)" "$n" "arxiv-stats -j $JOBS '$tmp/mapped.jsonl' > '$tmp/s4.json'"
cmp -s "$tmp/s0.json" "$tmp/s4.json" || { echo "stats.sh: -j $JOBS differs from -j 1" >&2; exit 1; }
run "arxiv-stats -K 0 (no term counting, 1 core)" "$n" "arxiv-stats -K 0 '$tmp/mapped.jsonl' > /dev/null"
if [ -r "$vocab" ]; then
	run "arxiv-stats -v -j 1 (WordPiece counts, 1 core)" "$n" "arxiv-stats -j 1 -v '$vocab' '$tmp/mapped.jsonl' > '$tmp/s1.json'"
	run "arxiv-stats -v -K 0 (WordPiece counts only, 1 core)" "$n" "arxiv-stats -j 1 -K 0 -v '$vocab' '$tmp/mapped.jsonl' > /dev/null"
	run "arxiv-stats -v -j $JOBS (tokenised on $JOBS threads)" "$n" "arxiv-stats -j $JOBS -v '$vocab' '$tmp/mapped.jsonl' > '$tmp/s3.json'"
	cmp -s "$tmp/s1.json" "$tmp/s3.json" || { echo "stats.sh: -j $JOBS differs from -j 1" >&2; exit 1; }
	run "parallel -j$JOBS arxiv-stats -p -v | arxiv-stats -M" "$n" \
		"parallel --pipe -j$JOBS --block 16M arxiv-stats -j 1 -p -v '$vocab' < '$tmp/mapped.jsonl' | arxiv-stats -M > '$tmp/s2.json'"
	# everything but the (pruned, hence approximate) term table is the same
	cmp -s <(jq -c 'del(.terms)' "$tmp/s1.json") <(jq -c 'del(.terms)' "$tmp/s2.json") ||
		{ echo "stats.sh: merged blocks differ from one pass" >&2; exit 1; }
	# the issue's pipe beside its first stages (the peers: arxiv-stats must not be
	# the slow stage), then each stage's CPU time within it
	run "zcat parts (the pipe's first stage alone)" "$n" \
		"{ zcat '$ARXIV_SHARED'/data/arxiv-part-00*.jsonl.gz || true; } | head -n $n > /dev/null"
	run "zcat parts | arxiv-map" "$n" \
		"{ zcat '$ARXIV_SHARED'/data/arxiv-part-00*.jsonl.gz || true; } | head -n $n | arxiv-map > /dev/null"
	run "zcat parts | arxiv-map | arxiv-stats -v -j 1 (the pipe)" "$n" \
		"{ zcat '$ARXIV_SHARED'/data/arxiv-part-00*.jsonl.gz || true; } | head -n $n | arxiv-map | arxiv-stats -j 1 -v '$vocab' > /dev/null"
	run "zcat parts | arxiv-map | arxiv-stats -v -j $JOBS" "$n" \
		"{ zcat '$ARXIV_SHARED'/data/arxiv-part-00*.jsonl.gz || true; } | head -n $n | arxiv-map | arxiv-stats -j $JOBS -v '$vocab' > /dev/null"
	T="/usr/bin/time -f '%U %S'"
	bash -c "{ $T -o '$tmp/t.zcat' zcat '$ARXIV_SHARED'/data/arxiv-part-00*.jsonl.gz || true; } | head -n $n |
		$T -o '$tmp/t.map' arxiv-map | $T -o '$tmp/t.stats' arxiv-stats -j 1 -v '$vocab' > /dev/null"
	cpu() { tail -n 1 "$tmp/t.$1" | awk '{ printf "%.2f s", $1 + $2 }'; }
	echo "CPU of each stage in the pipe (-j 1): zcat $(cpu zcat), arxiv-map $(cpu map), arxiv-stats -v $(cpu stats)"
fi
run "arxiv-stats --clean -j 1 (Snowball terms, 1 core)" "$n" "arxiv-stats -j 1 --clean '$tmp/mapped.jsonl' > /dev/null"
run "arxiv-stats --clean -j $JOBS (cleaned on $JOBS threads)" "$n" "arxiv-stats -j $JOBS --clean '$tmp/mapped.jsonl' > /dev/null"
echo "terms: $(jq -c '.terms | {table_terms, pruned_terms, exact}' "$tmp/s0.json")"

if command -v gnuplot > /dev/null; then
	s=$tmp/s0.json; [ -s "$tmp/s1.json" ] && s=$tmp/s1.json
	run "arxiv-report (stats + eval report, 10 SVGs)" 1 \
		"arxiv-report -o '$tmp/report' '$s' '$top/tests/cases/arxiv-eval/report/output'"
else
	echo "stats.sh: gnuplot not installed: no report timing"
fi

# harvest: the same records as OAI-PMH pages of 1000 (arXiv's page size)
for pages in 20 100; do
	rm -rf "$tmp/oai" "$tmp/port"
	head -n $((pages * 1000)) "$tmp/in.json" | python3 "$top/tests/bench/gen_oai.py" "$tmp/oai" 1000
	python3 "$top/tests/tools/fake_oai.py" "$tmp/oai" "$tmp/port" "$tmp/requests" &
	spid=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
	mib=$(du -sm "$tmp/oai" | cut -f1)
	run "arxiv-harvest, $pages pages of 1000 ($mib MiB XML)" $((pages * 1000)) \
		"arxiv-harvest --delay 0 --base-url http://127.0.0.1:$(cat "$tmp/port")/oai > '$tmp/harvested.jsonl' 2>/dev/null"
	[ "$(wc -l < "$tmp/harvested.jsonl")" -eq $((pages * 1000)) ] || { echo "stats.sh: harvest lost records" >&2; exit 1; }
	if [ "$pages" -eq 20 ]; then
		# -k on pages with one bad record each (the 500th): parsed again record by record
		for f in "$tmp"/oai/*.xml; do
			awk '/^<record>/ && ++n == 500 { sub(/<\/title>/, "</titel>") } { print }' "$f" > "$f.bad"
			mv "$f.bad" "$f"
		done
		run "arxiv-harvest -k, $pages pages, a bad record in each" $((pages * 1000)) \
			"arxiv-harvest -k --delay 0 --base-url http://127.0.0.1:$(cat "$tmp/port")/oai > '$tmp/harvested.jsonl' 2>/dev/null"
		[ "$(wc -l < "$tmp/harvested.jsonl")" -eq $((pages * 999)) ] || { echo "stats.sh: harvest -k lost records" >&2; exit 1; }
	fi
	kill "$spid"; wait "$spid" 2>/dev/null || true; spid=
done

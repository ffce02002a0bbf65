#!/usr/bin/env bash
# pipe.sh - throughput of arxiv-map, arxiv-clean, arxiv-tok alone and of the
# whole map | clean | tok pipe over ../shared/data, serial and with GNU parallel
# on all cores, with peak RSS. The machine may be shared, so besides wall time
# it prints CPU time (user+sys of every process of the command): us of CPU per
# record and records/s per core are what a quiet machine would give.
# N=records (default: all 220k). Also checks on a small sample that the output
# of `parallel --pipe -k` decodes to the same records as the serial pipe.
set -euo pipefail
vocab="$ARXIV_SHARED/vocab/scibert_scivocab_uncased.vocab.txt"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
in="$tmp/in.jsonl"
# with a small N, head closes the pipe early: zcat's SIGPIPE (141) is fine
zcat "$ARXIV_SHARED"/data/arxiv-part-00*.jsonl.gz | head -n "${N:-100000000}" > "$in" ||
	[ "${PIPESTATUS[0]}" -eq 141 ]
n=$(wc -l < "$in")
mb=$(awk -v b="$(stat -c %s "$in")" 'BEGIN { printf "%.1f", b / 1048576 }')
cores=$(nproc)
echo "input: $n records, $mb MiB (plain JSONL in a temp file), $cores cores"

# run LABEL CMD: wall time, records/s, MB/s of input, CPU time (user+sys of
# the command and all its children), CPU us/record, records/s per core of CPU,
# peak RSS of the largest process.
run() {
	local label=$1 cmd=$2 t0 t1
	t0=$(date +%s.%N)
	/usr/bin/time -f '%U %S %M' -o "$tmp/time" bash -c "$cmd" > /dev/null
	t1=$(date +%s.%N)
	read -r u s rss < "$tmp/time"
	awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$n" -v mb="$mb" -v u="$u" -v s="$s" -v r="$rss" \
		'BEGIN { t = b - a; c = u + s; if (c <= 0) c = 0.001
		printf "%-42s %7.2f s %9.0f rec/s %7.1f MB/s %7.2f s %7.1f us %9.0f rec/s %7.1f MiB\n",
		l, t, n / t, mb / t, c, c * 1e6 / n, n / c, r / 1024 }'
}

arxiv-map < "$in" > "$tmp/mapped.jsonl"
arxiv-clean < "$tmp/mapped.jsonl" > "$tmp/clean.jsonl"
printf '%-42s %9s %15s %12s %9s %10s %15s %11s\n' stage wall throughput "input MB/s" \
	"CPU" "CPU/rec" "rec/s per core" "peak RSS*"
run "arxiv-map (1 core)" "arxiv-map < '$in'"
run "arxiv-clean (1 core)" "arxiv-clean < '$tmp/mapped.jsonl'"
run "arxiv-tok (1 core)" "arxiv-tok -v '$vocab' < '$tmp/clean.jsonl'"
run "map | clean | tok (serial pipe)" "arxiv-map < '$in' | arxiv-clean | arxiv-tok -v '$vocab'"
run "map | clean | tok (GNU parallel, $cores jobs)" \
	"parallel --pipe -k --block 16M -j $cores \"arxiv-map | arxiv-clean | arxiv-tok -v '$vocab'\" < '$in'"
# --pipepart: each job reads its part of the file itself (no copying through
# parallel's perl); only for regular files, not for stdin
run "map | clean | tok (parallel --pipepart, $cores jobs)" \
	"parallel --pipepart -a '$in' -k --block -2 -j $cores \"arxiv-map | arxiv-clean | arxiv-tok -v '$vocab'\""
echo "* peak RSS: /usr/bin/time %M of the command; for a pipe, the largest single process"
echo "  CPU: user+sys of all processes (parallel's own copying included); CPU/rec = CPU / records"

# parallel --pipe -k writes one tensor stream per block, concatenated: it must
# decode to the same records as the serial pipe (small sample, small blocks).
head -n 5000 "$in" > "$tmp/small.jsonl"
arxiv-map < "$tmp/small.jsonl" | arxiv-clean | arxiv-tok -v "$vocab" | arxiv-tok -d -v "$vocab" \
	> "$tmp/serial.txt"
parallel --pipe -k --block 1M -j "$cores" "arxiv-map | arxiv-clean | arxiv-tok -v '$vocab'" \
	< "$tmp/small.jsonl" | arxiv-tok -d -v "$vocab" > "$tmp/parallel.txt"
m=$(wc -l < "$tmp/small.jsonl")
if cmp -s "$tmp/serial.txt" "$tmp/parallel.txt"; then
	echo "parallel output: decodes to the same $(wc -l < "$tmp/serial.txt") lines as serial ($m records, 1M blocks)"
else
	echo "parallel output DIFFERS from serial ($m records, 1M blocks)"
	exit 1
fi

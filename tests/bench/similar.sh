#!/usr/bin/env bash
# similar.sh - similar-paper search on the real records (BENCH=similar):
#   lexical embedder: learning the idf and embedding throughput (records/s, 2 threads);
#   arxiv-index: building the local index file;
#   arxiv-similar: exact search time per query over all indexed vectors (2 threads),
#     for text queries (embedding included) and --id-style queries (search only);
#   neighbour quality: the share of the 10 nearest papers whose primary category
#     is the query's primary category, on Q held-out queries (papers not indexed).
# N=records (default 220000), Q=held-out queries (default 2000), JOBS (default 2).
# Needs ARXIV_SHARED (../shared) and the programs on PATH (tests/bench/run.sh sets both).
set -euo pipefail
N=${N:-220000}
Q=${Q:-2000}
JOBS=${JOBS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

{ zcat "$ARXIV_SHARED"/data/arxiv-part-00*.jsonl.gz || true; } | head -n "$N" > "$tmp/all.jsonl"
n=$(wc -l < "$tmp/all.jsonl")
[ "$n" -gt "$Q" ] || { echo "similar.sh: too few records in $ARXIV_SHARED/data" >&2; exit 1; }
# held out: every (n/Q)-th record, so queries come from all parts of the dump
awk -v step=$((n / Q)) -v q="$Q" -v h="$tmp/held.jsonl" -v c="$tmp/corpus.jsonl" \
	'NR % step == 0 && k < q { print > h; k++; next } { print > c }' "$tmp/all.jsonl"
nc=$(wc -l < "$tmp/corpus.jsonl")
nq=$(wc -l < "$tmp/held.jsonl")

# time LABEL COUNT UNIT CMD: wall seconds, COUNT/s, and the CPU time (user +
# system) per item: on a shared, loaded machine the CPU time is the steadier number
timed() {
	local label=$1 count=$2 unit=$3 cmd=$4 t0 t1
	t0=$(date +%s.%N)
	/usr/bin/time -f '%U %S' -o "$tmp/cpu" bash -o pipefail -c "$cmd"
	t1=$(date +%s.%N)
	awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$count" -v u="$unit" -v cpu="$(tail -n 1 "$tmp/cpu")" \
		'BEGIN { split(cpu, c, " "); t = b - a; printf "%-46s %8d %8.2f s %9.0f %s/s %8.3f ms/%s wall %8.3f ms/%s CPU\n", l, n, t, n / t, u, 1000 * t / n, u, 1000 * (c[1] + c[2]) / n, u }'
}

echo "corpus: $nc records indexed, $nq held-out queries; $(nproc) cores (shared machine), $JOBS threads"
printf '%-46s %8s %10s %13s %17s %17s\n' "step" count wall throughput "wall per item" "CPU per item"
timed "arxiv-embed --learn (idf + PCA)" "$nc" rec "arxiv-embed --learn '$tmp/emb' '$tmp/corpus.jsonl' 2>/dev/null"
timed "arxiv-embed -e lexical (256 dims, $JOBS threads)" "$nc" rec "arxiv-embed -e '$tmp/emb' -j $JOBS '$tmp/corpus.jsonl' > '$tmp/vec.bin'"
timed "arxiv-index -o (local file)" "$nc" rec "arxiv-index -o '$tmp/p.axi' '$tmp/vec.bin' 2>/dev/null"
timed "arxiv-similar, text queries (embed + search)" "$nq" query "arxiv-similar -i '$tmp/p.axi' -j $JOBS -K 10 '$tmp/held.jsonl' > '$tmp/hits.jsonl'"
# search only: queries by id of indexed papers (the vector is read, not computed)
awk -F'"' -v q="$nq" 'NR % 97 == 0 && k < q { print "{\"id\":\"" $4 "\"}"; k++ }' "$tmp/corpus.jsonl" > "$tmp/ids.jsonl"
timed "arxiv-similar, by id (search only)" "$(wc -l < "$tmp/ids.jsonl")" query "arxiv-similar -i '$tmp/p.axi' -j $JOBS -K 10 '$tmp/ids.jsonl' > /dev/null"
timed "arxiv-similar, by id, 1 thread" "$(wc -l < "$tmp/ids.jsonl")" query "arxiv-similar -i '$tmp/p.axi' -j 1 -K 10 '$tmp/ids.jsonl' > /dev/null"
awk -v b="$(stat -c %s "$tmp/p.axi")" 'BEGIN { printf "index file: %.1f MiB\n", b / 1048576 }'

python3 - "$tmp/all.jsonl" "$tmp/held.jsonl" "$tmp/hits.jsonl" <<'EOF'
import json, sys
prim = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    prim[r["id"]] = r["categories"].split()[0]
held = [json.loads(l) for l in open(sys.argv[2])]
hits = {}
for line in open(sys.argv[3]):
    h = json.loads(line)
    hits.setdefault(h["query"], []).append(h)
same = total = field_same = 0
for i, q in enumerate(held, 1):
    qc = prim[q["id"]]
    for h in hits.get(i, [])[:10]:
        total += 1
        same += prim[h["id"]] == qc
print("neighbour quality (lexical): %.3f of the 10 nearest share the query's primary category "
      "(%d queries, %d neighbours)" % (same / max(total, 1), len(held), total))
EOF

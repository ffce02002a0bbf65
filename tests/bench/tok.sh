#!/usr/bin/env bash
# tok.sh - arxiv-tok throughput on real records (SciBERT's vocab, seq_len 256):
# records/s, MB/s and peak RSS on cleaned records (arxiv-map | arxiv-clean) and
# on raw mapped records, serial and with GNU parallel; --learn on the raw text;
# beside it Hugging Face's fast tokenizer (Rust, BertTokenizerFast) and the
# slow Python BertTokenizer on the same texts, and a check that arxiv-tok's ids
# equal the slow tokenizer's on those records.
# N=records (default 20000), SLOW_N=records for the slow tokenizer (default
# 2000), LEARN=vocabulary size for --learn (default 30000), JOBS (default:
# cores), PY (a Python with transformers, /opt/hfvenv/bin/python).
# Needs ARXIV_SHARED and the programs on PATH (tests/bench/run.sh sets both).
# Verify with N=500 SLOW_N=100 LEARN=2000.
set -euo pipefail
N=${N:-20000}
SLOW_N=${SLOW_N:-2000}
LEARN=${LEARN:-30000}
JOBS=${JOBS:-$(nproc)}
PY=${PY:-/opt/hfvenv/bin/python}
VOCAB="$ARXIV_SHARED/vocab/scibert_scivocab_uncased.vocab.txt"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -r "$VOCAB" ] || { echo "tok.sh: SKIPPED: no SciBERT vocab at $VOCAB"; exit 0; }
{ zcat "$ARXIV_SHARED"/data/arxiv-part-00*.jsonl.gz || true; } | head -n "$N" |
	arxiv-map -k 2>/dev/null > "$tmp/mapped.jsonl"
arxiv-clean < "$tmp/mapped.jsonl" > "$tmp/clean.jsonl"
n=$(wc -l < "$tmp/mapped.jsonl")
[ "$n" -gt 0 ] || { echo "tok.sh: no records read from $ARXIV_SHARED/data" >&2; exit 1; }

# "seconds peak_rss_kb" of a command (stdout discarded)
timed() {
	local t
	t=$( { /usr/bin/time -f '%e %M' "$@" > /dev/null; } 2>&1 | tail -n 1)
	echo "$t"
}
row() {	# name seconds rss_kb bytes records
	awk -v name="$1" -v s="$2" -v rss="$3" -v b="$4" -v n="$5" 'BEGIN {
		if (s <= 0) s = 0.01
		printf "%-44s %10.0f %8.1f %10s\n", name, n / s, b / 1048576 / s, rss ? sprintf("%.1f", rss / 1024) : "-" }'
}

printf '%-44s %10s %8s %10s\n' "tokeniser ($n records, seq_len 256)" "records/s" "MB/s" "RSS MiB"
for input in clean mapped; do
	bytes=$(stat -c %s "$tmp/$input.jsonl")
	read -r s rss < <(timed arxiv-tok -v "$VOCAB" "$tmp/$input.jsonl")
	row "arxiv-tok, $input records, 1 process" "$s" "$rss" "$bytes" "$n"
	read -r s rss < <(timed arxiv-tok -J -v "$VOCAB" "$tmp/$input.jsonl")
	row "arxiv-tok -J (jansson), $input records" "$s" "$rss" "$bytes" "$n"
	if command -v parallel > /dev/null; then
		# the blocks' streams concatenate into one stream (arxiv-tensor(5))
		read -r s rss < <(timed parallel --pipe -k --block 4M -j "$JOBS" \
			arxiv-tok -v "$VOCAB" < "$tmp/$input.jsonl")
		row "arxiv-tok, $input records, parallel -j $JOBS" "$s" "" "$bytes" "$n"
	fi
done
read -r s rss < <(timed arxiv-tok -l "$LEARN" -f text "$tmp/mapped.jsonl")
row "arxiv-tok --learn $LEARN (raw text)" "$s" "$rss" "$(stat -c %s "$tmp/mapped.jsonl")" "$n"

if ! "$PY" -c 'import transformers, tokenizers' 2>/dev/null; then
	echo "tok.sh: Hugging Face rows SKIPPED: $PY has no transformers"
	exit 0
fi
# Hugging Face on the same cleaned texts: fast (Rust, batched, its own threads) and slow.
"$PY" - "$VOCAB" "$tmp/clean.jsonl" "$SLOW_N" "$tmp/slow_ids.txt" > "$tmp/hf.txt" 2> /dev/null <<'PY'
import json, resource, sys, time
from transformers import BertTokenizer, BertTokenizerFast
vocab, path, slow_n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
recs = [json.loads(l) for l in open(path, encoding="utf-8")]
texts = [r["clean"] for r in recs]
nbytes = sum(len(l.encode()) for l in open(path, encoding="utf-8"))
fast = BertTokenizerFast(vocab, do_lower_case=True)
t = time.time()
fast(texts, truncation=True, max_length=256, padding="max_length")
tf = time.time() - t
slow = BertTokenizer(vocab, do_lower_case=True)
t = time.time()
ids = [slow.encode(x, truncation=True, max_length=256) for x in texts[:slow_n]]
ts = time.time() - t
with open(out, "w") as f:
    for r, i in zip(recs, ids):
        f.write("%s\t%s\n" % (r.get("id", ""), " ".join(map(str, i))))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("fast", len(texts), tf, nbytes, rss)
print("slow", min(slow_n, len(texts)), ts, nbytes * min(slow_n, len(texts)) / len(texts), rss)
PY
while read -r kind k s b rss; do
	case $kind in
	fast) row "HF BertTokenizerFast (Rust, batched)" "$s" "$rss" "$b" "$k" ;;
	slow) row "HF BertTokenizer (Python)" "$s" "$rss" "$b" "$k" ;;
	esac
done < "$tmp/hf.txt"
m=$(wc -l < "$tmp/slow_ids.txt")
head -n "$m" "$tmp/clean.jsonl" | arxiv-tok -v "$VOCAB" | arxiv-tok -d | cut -f 1,3 > "$tmp/our_ids.txt"
if cmp -s "$tmp/slow_ids.txt" "$tmp/our_ids.txt"; then
	echo "ids: arxiv-tok == HF BertTokenizer on all $m records"
else
	echo "ids: MISMATCH between arxiv-tok and HF BertTokenizer on $m records:" \
		"$(diff "$tmp/slow_ids.txt" "$tmp/our_ids.txt" | grep -c '^>') differ"
	exit 1
fi

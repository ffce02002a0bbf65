#!/usr/bin/env bash
# model.sh - the fast model beside its peers, side by side on one validation
# slice: arxiv-train/arxiv-predict (defaults), Debian's `fasttext supervised`
# (unigrams and bigrams, 5 epochs, 2 threads) and scikit-learn TF-IDF (word 1-2
# grams) + LinearSVC (Debian python3-sklearn).
#
# Data: all of $ARXIV_SHARED/data through arxiv-map, split by arxiv-split
# -s 42 -r 0.9,0.1,0 (the seeded 10% validation slice the defaults were tuned
# on). N=records limits the input (default: all 220,000) to check the script
# on a small slice. THREADS (default 2) for training and prediction.
#
# Columns: accuracy, macro F1, weighted F1, field-set accuracy (the prediction
# is one of the paper's fields), training wall time, prediction throughput in
# abstracts/s from the raw joined title+abstract (preprocessing included, the
# model load excluded),
# peak RSS of training and of prediction, model size on disk.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
N=${N:-0}
THREADS=${THREADS:-2}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MLFLOW_TRACKING_URI="$tmp/mlruns"

if [ "$N" -gt 0 ]; then
	{ zcat "$ARXIV_SHARED"/data/arxiv-part-00*.jsonl.gz || true; } | head -n "$N"
else
	zcat "$ARXIV_SHARED"/data/arxiv-part-00*.jsonl.gz
fi | arxiv-map > "$tmp/all.jsonl"
arxiv-split -s 42 -r 0.9,0.1,0 -o "$tmp/split" "$tmp/all.jsonl"
rm -f "$tmp/all.jsonl"
train="$tmp/split/train.jsonl"
val="$tmp/split/val.jsonl"
[ -s "$train" ] && [ -s "$val" ] || { echo "model.sh: empty split" >&2; exit 1; }
# prediction input: the raw joined text of the validation slice, as {"text":..} lines
$PY -c '
import json, sys
for l in sys.stdin:
    print(json.dumps({"text": json.loads(l)["text"]}, ensure_ascii=False, separators=(",", ":")))
' < "$val" > "$tmp/val.text.jsonl"
echo "model.sh: $(wc -l < "$train") train, $(wc -l < "$val") val records; $THREADS threads; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

# rss_of LOG: peak RSS in MB from GNU time -v output
rss_of() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }

# --- ours
/usr/bin/time -v -o "$tmp/train.time" arxiv-train -j "$THREADS" -o "$tmp/art" "$train" "$val" 2> "$tmp/train.log" ||
	{ cat "$tmp/train.log" >&2; exit 1; }
# prediction time without the model load (timed on an empty input, subtracted)
t0=$(date +%s.%N)
arxiv-predict -m "$tmp/art" < /dev/null
t1=$(date +%s.%N)
/usr/bin/time -v -o "$tmp/pred.time" arxiv-predict -b -j "$THREADS" -K 1 -m "$tmp/art" "$tmp/val.text.jsonl" > "$tmp/pred.jsonl"
t2=$(date +%s.%N)
train_s=$(awk '/Elapsed \(wall clock\)/ { n = split($NF, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' "$tmp/train.time")
$PY -c '
import json, sys
for l in open(sys.argv[1]):
    print(json.loads(l).get("predicted_category", ""))' "$tmp/pred.jsonl" > "$tmp/ours.labels"
size=$(du -sb "$tmp/art/model" | cut -f1)
pred_s=$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { print (c - b) - (b - a) }')
echo "model.sh: arxiv-predict: model load $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s (not counted in pred/s)"
echo "arxiv fast (defaults)|$tmp/ours.labels|$train_s|$pred_s|$(rss_of "$tmp/train.time")|$(rss_of "$tmp/pred.time")|$size" > "$tmp/rows"
best=$(awk '/"best_epoch"/ { gsub(/[^0-9]/, "", $2); print $2 }' "$tmp/art/metadata/metrics.json")
echo "model.sh: arxiv-train: best epoch $best, $(grep -c . "$tmp/train.log" || true) log lines"

# --- peers (each appends its row)
$PY "$here/model_peers.py" --threads "$THREADS" --tmp "$tmp" "$train" "$tmp/val.text.jsonl" >> "$tmp/rows"

# --- the table
$PY "$here/model_peers.py" --table "$val" < "$tmp/rows"

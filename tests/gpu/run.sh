#!/usr/bin/env bash
# tests/gpu/run.sh - the GPU check of the transformer path (never part of CI).
#
#   tests/gpu/run.sh [--dry-run] [-o results.json] [--python PY] [--minilm DIR]
#
# On a machine with one NVIDIA GPU and a Python with torch + transformers it
# builds the project against that torch (make LIBTORCH=<torch package dir>),
# then:
#   (a) smoke: the tiny BERT fixture trained one epoch on the CPU and on CUDA
#       on the same records, both evaluated;
#   (b) throughput: BERT-base shape (SciBERT: vocab 31090, 12 x 768), 256
#       tokens, batch 32: training and inference samples/s and peak GPU memory,
#       ours beside Hugging Face with attention "eager" and "sdpa";
#   (c) accuracy: all-MiniLM-L6-v2 fine-tuned through arxiv-train -i on ~45k
#       shared records, evaluated on a held-out split, beside the same
#       fine-tune in Hugging Face.
# It prints one table and writes the numbers as JSON (-o, default
# build-gpu/gpu-results.json).
#
# --dry-run: the same steps at tiny sizes on the CPU (-D cpu, the existing
# build, the tiny fixture instead of BERT-base and MiniLM), to check the script
# itself on a machine without a GPU.
#
# Inputs: the shared data (ARXIV_SHARED, default ../shared: data/arxiv-part-000
# .jsonl.gz and vocab/scibert_scivocab_uncased.vocab.txt), MiniLM (--minilm DIR
# or $ARXIV_MINILM: a sentence-transformers all-MiniLM-L6-v2 folder). On a
# machine without the Debian packages, ARXIV_GPU_SYSROOT=DIR holds include/ and
# lib/ with jansson, utf8proc, libstemmer and libcurl (see
# tests/gpu/carry.sh, which collects them here).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
dry=0 out='' py=${ARXIV_HF_PYTHON:-python3} minilm=${ARXIV_MINILM:-}
while [ $# -gt 0 ]; do
	case $1 in
	--dry-run) dry=1 ;;
	-o|--output) out=${2:?"$1 needs a value"}; shift ;;
	--python) py=${2:?"$1 needs a value"}; shift ;;
	--minilm) minilm=${2:?"$1 needs a value"}; shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
shared=${ARXIV_SHARED:-../shared}
part=$shared/data/arxiv-part-000.jsonl.gz
svocab=$shared/vocab/scibert_scivocab_uncased.vocab.txt
for f in "$part" "$svocab"; do [ -r "$f" ] || { echo "run.sh: $f: not found (set ARXIV_SHARED)" >&2; exit 1; }; done
"$py" -c 'import torch, transformers' 2> /dev/null ||
	{ echo "run.sh: $py has no torch + transformers (--python PY)" >&2; exit 1; }

if [ "$dry" -eq 1 ]; then
	build=build dev=cuda
	dev=cpu
	make -s -j"$(nproc)" > /dev/null
	N_SMOKE=400 N_SPEED_STEPS=4 BATCH=8 SEQ=64 N_FT=600 FT_EPOCHS=1
	speed_config=$top/tests/fixtures/tiny-bert/config.json
	speed_vocab=$top/tests/fixtures/tiny-bert/vocab.txt
	minilm=$top/tests/fixtures/tiny-bert
else
	build=build-gpu dev=cuda
	lt=$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
	sys_flags=()
	if [ -n "${ARXIV_GPU_SYSROOT:-}" ]; then
		s=$(cd "$ARXIV_GPU_SYSROOT" && pwd)
		sys_flags=(PKG_CONFIG=false "CFLAGS=-O2 -g -I$s/include" "CXXFLAGS=-O2 -g -I$s/include"
			"LDFLAGS=-L$s/lib -Wl,-rpath,$s/lib")
	fi
	echo "run.sh: building against $lt"
	make -s -j"$(nproc)" BUILD=$build LIBTORCH="$lt" "${sys_flags[@]}" > "$top/$build.log" 2>&1 ||
		{ tail -30 "$top/$build.log"; exit 1; }
	N_SMOKE=2000 N_SPEED_STEPS=40 BATCH=32 SEQ=256 N_FT=50000 FT_EPOCHS=1
	speed_config='' speed_vocab=$svocab
	[ -n "$minilm" ] && [ -r "$minilm/config.json" ] ||
		{ echo "run.sh: no MiniLM folder (--minilm DIR or ARXIV_MINILM)" >&2; exit 1; }
fi
export PATH="$top/$build/bin:$PATH" ARXIV_DATADIR="$top/data"
w=$(mktemp -d "${TMPDIR:-/tmp}/arxiv-gpu.XXXXXX")
trap '[ -n "${ARXIV_KEEP:-}" ] && echo "run.sh: kept $w" >&2 || rm -rf "$w"; [ -n "${smi:-}" ] && kill "$smi" 2> /dev/null; true' EXIT
out=${out:-$top/$build/gpu-results.json}
results=$w/results.jsonl
note() { printf '%s\n' "$*" >> "$results"; }
ex_per_s() { sed -n 's/.*epoch 1\/1  \([0-9.]*\) ex\/s.*/\1/p' "$1" | tail -1; }
accuracy() { arxiv-eval -m "$1" "$2" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])'; }

# GPU memory in use, sampled while a command of ours runs: the peak minus the idle level.
gpu_peak() {
	local log=$w/smi.$$ base peak
	if ! command -v nvidia-smi > /dev/null || [ "$dev" = cpu ]; then "$@"; echo 0 > "$w/peak"; return; fi
	base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
	nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$log" &
	smi=$!
	"$@"
	kill "$smi"; wait "$smi" 2> /dev/null || true; smi=
	peak=$(sort -n "$log" | tail -1)
	echo $((peak - base)) > "$w/peak"
}

zcat "$part" | arxiv-map > "$w/all.jsonl"
t_start=$SECONDS

# (a) smoke: the tiny fixture, one epoch, CPU and the device, same records.
head -n "$N_SMOKE" "$w/all.jsonl" > "$w/smoke.jsonl"
arxiv-split -s 1 -r 0.8,0.1,0.1 -o "$w/smoke" "$w/smoke.jsonl"
for d in cpu $dev; do
	[ "$d" = cpu ] && [ -d "$w/smoke-cpu" ] && continue
	arxiv-train -M bert -i tests/fixtures/tiny-bert -e 1 -D "$d" --verbose -o "$w/smoke-$d" \
		"$w/smoke/train.jsonl" "$w/smoke/val.jsonl" 2> "$w/smoke-$d.log" ||
		{ cat "$w/smoke-$d.log"; exit 1; }
	note "{\"check\":\"smoke\",\"device\":\"$d\",\"test_accuracy\":$(accuracy "$w/smoke-$d" "$w/smoke/test.jsonl")}"
done

# (b) throughput, BERT-base shape (random initialisation), our side.
if [ -z "$speed_config" ]; then
	speed_config=$w/bert-base.json
	cat > "$speed_config" <<JSON
{"architectures":["BertForSequenceClassification"],"model_type":"bert","vocab_size":31090,
 "hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,"intermediate_size":3072,
 "hidden_act":"gelu","hidden_dropout_prob":0.1,"attention_probs_dropout_prob":0.1,
 "max_position_embeddings":512,"type_vocab_size":2,"initializer_range":0.02,
 "layer_norm_eps":1e-12,"pad_token_id":0}
JSON
fi
n_speed=$((BATCH * N_SPEED_STEPS))
head -n "$n_speed" "$w/all.jsonl" > "$w/speed.jsonl"
head -n "$BATCH" "$w/all.jsonl" > "$w/speed-val.jsonl"
arxiv-tok -v "$speed_vocab" -n "$SEQ" "$w/speed.jsonl" > "$w/speed.bin"
arxiv-tok -v "$speed_vocab" -n "$SEQ" "$w/speed-val.jsonl" > "$w/speed-val.bin"
"$py" -c 'import json,sys
for l in open(sys.argv[1]): print(json.loads(l)["text"].replace("\n", " "))' "$w/speed.jsonl" > "$w/speed.txt"
for prec in $([ "$dev" = cpu ] && echo fp32 || echo bf16 fp16); do
	gpu_peak arxiv-train -M bert -c "$speed_config" -v "$speed_vocab" -e 1 -p 0 -b "$BATCH" \
		--batch-size "$BATCH" -D "$dev" --precision "$prec" --verbose -o "$w/speed-$prec" \
		"$w/speed.bin" "$w/speed-val.bin" 2> "$w/speed-$prec.log" || { cat "$w/speed-$prec.log"; exit 1; }
	tr_sps=$(ex_per_s "$w/speed-$prec.log")
	mem=$(cat "$w/peak")
	t0=$(date +%s.%N)
	arxiv-eval -m "$w/speed-$prec" "$w/speed.jsonl" > /dev/null
	t1=$(date +%s.%N)
	arxiv-eval -m "$w/speed-$prec" "$w/speed-val.jsonl" > /dev/null
	t2=$(date +%s.%N)
	inf_sps=$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$n_speed" -v m="$BATCH" \
		'BEGIN { d = (b - a) - (c - b); printf "%.1f", (d > 0 ? (n - m) / d : 0) }')
	note "{\"check\":\"throughput\",\"who\":\"arxiv\",\"precision\":\"$prec\",\"train_samples_per_s\":${tr_sps:-0},\"infer_samples_per_s\":$inf_sps,\"peak_mem_mib\":$mem}"
done
# the Hugging Face side, same texts, vocabulary, batch and length
for attn in eager sdpa; do
	"$py" tests/gpu/hf_bench.py speed --config "$speed_config" --vocab "$speed_vocab" \
		--texts "$w/speed.txt" --device "$dev" --attn "$attn" --batch "$BATCH" --seq "$SEQ" \
		--steps "$((N_SPEED_STEPS - 3))" --warmup 3 > "$w/hf-$attn.json" 2> "$w/hf-$attn.log" ||
		{ tail -20 "$w/hf-$attn.log"; exit 1; }
	"$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); r.update(check="throughput", who="huggingface"); print(json.dumps(r))' \
		"$w/hf-$attn.json" >> "$results"
done

# (c) accuracy: MiniLM fine-tuned on the shared records, ours and Hugging Face's.
head -n "$N_FT" "$w/all.jsonl" > "$w/ft.jsonl"
arxiv-split -s 42 -r 0.9,0.02,0.08 -o "$w/ft" "$w/ft.jsonl"
t0=$(date +%s.%N)
arxiv-train -M bert -i "$minilm" -e "$FT_EPOCHS" -p 0 --batch-size 32 -D "$dev" --verbose \
	-o "$w/ft-arxiv" "$w/ft/train.jsonl" "$w/ft/val.jsonl" 2> "$w/ft-arxiv.log" ||
	{ cat "$w/ft-arxiv.log"; exit 1; }
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
note "{\"check\":\"finetune\",\"who\":\"arxiv\",\"test_accuracy\":$(accuracy "$w/ft-arxiv" "$w/ft/test.jsonl"),\"train_seconds\":$secs}"
"$py" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["labels"]))' \
	"$w/ft-arxiv/metadata/label2id.json" > "$w/labels.txt" 2> /dev/null ||
	"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("\n".join(sorted(d, key=d.get)))' \
	"$w/ft-arxiv/metadata/label2id.json" > "$w/labels.txt"
"$py" tests/gpu/hf_bench.py finetune --init "$minilm" --train "$w/ft/train.jsonl" \
	--test "$w/ft/test.jsonl" --labels "$w/labels.txt" --device "$dev" --epochs "$FT_EPOCHS" \
	--batch 32 --seq "$SEQ" > "$w/hf-ft.json" 2> "$w/hf-ft.log" || { tail -20 "$w/hf-ft.log"; exit 1; }
"$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); r.update(check="finetune", who="huggingface"); print(json.dumps(r))' \
	"$w/hf-ft.json" >> "$results"

# One table, and the JSON.
mkdir -p "$(dirname "$out")"
"$py" - "$results" "$out" "$dry" "$((SECONDS - t_start))" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
dev = "cpu (dry run, tiny sizes)" if sys.argv[3] == "1" else "cuda"
try:
    import torch
    if torch.cuda.is_available():
        dev = torch.cuda.get_device_name(0)
except Exception:
    pass
print(f"GPU check on {dev}, {sys.argv[4]} s")
print(f"{'check':<11} {'who':<12} {'setting':<16} {'train/s':>9} {'infer/s':>9} {'peak MiB':>9} {'test acc':>9}")
for r in rows:
    setting = r.get("device") or r.get("precision", "") + ("/" + r["attn"] if "attn" in r else "")
    f = lambda k, fmt: (fmt % r[k]) if k in r else "-"
    print(f"{r['check']:<11} {r.get('who', 'arxiv'):<12} {setting:<16} {f('train_samples_per_s', '%9.1f'):>9} "
          f"{f('infer_samples_per_s', '%9.1f'):>9} {f('peak_mem_mib', '%9.0f'):>9} {f('test_accuracy', '%9.4f'):>9}")
json.dump({"device": dev, "seconds": int(sys.argv[4]), "results": rows}, open(sys.argv[2], "w"), indent=1)
print("results:", sys.argv[2])
PY

#!/usr/bin/env bash
# hpo.sh - arxiv-hpo's sampler beside Optuna's TPESampler (PyPI optuna, pinned,
# in a venv cached under ${XDG_CACHE_HOME:-~/.cache}/arxiv), then arxiv-hpo on
# the real data.
#
# 1. (SEEDS=0 skips it) Synthetic functions of Optuna's benchmarks (Branin, Hartmann-6, a mixed
#    float + int + categorical space), SEEDS seeds each (default 20): median
#    [first quartile, third quartile] of the best value after 20, 50 and 100
#    trials, and the sampler's time per trial at 100 trials (ours: the library
#    through tests/bench/hpo_bench.c; Optuna: ask + suggest). Random search for
#    reference.
# 2. Real tuning of the fast model: HPO_TRIALS trials (default 30) of the
#    default space on the first HPO_N records (default 220000: all) split
#    -s 42 -r 0.9,0.1,0, validation accuracy of the best trial vs arxiv-train's
#    defaults on the same split. HPO_TRIALS=0 skips it.
# 3. Wall time of WALL_TRIALS trials (default 4, random sampler: the same
#    points) with -j 1 vs -j 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SEEDS=${SEEDS:-20}
export PATH="$PWD/$BUILD/bin:$PATH"
HPO_N=${HPO_N:-0}
HPO_TRIALS=${HPO_TRIALS:-30}
WALL_TRIALS=${WALL_TRIALS:-4}
OPTUNA=5.0.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MLFLOW_TRACKING_URI="$tmp/mlruns"

venv=${XDG_CACHE_HOME:-$HOME/.cache}/arxiv/optuna-$OPTUNA
if ! "$venv/bin/python" -c 'import optuna' 2> /dev/null; then
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q "optuna==$OPTUNA"
fi
# shellcheck disable=SC2046
cc -O2 -Ilib/include -o "$tmp/hpo_bench" tests/bench/hpo_bench.c "$BUILD/lib/libarxiv.a" \
	$(pkg-config --libs jansson libutf8proc libcurl) -lstemmer -lm -lpthread -ldl

# quartiles of column $1 of the lines on stdin: "median [q1, q3]"
quart() {
	python3 -c '
import statistics, sys
c = int(sys.argv[1])
v = sorted(float(l.split()[c]) for l in sys.stdin if l.strip())
q = statistics.quantiles(v, n=4, method="inclusive")
print(f"{q[1]:.4g} [{q[0]:.4g}, {q[2]:.4g}]")' "$1"
}

[ "$SEEDS" -gt 0 ] && echo "synthetic functions: best value, median [q1, q3] over $SEEDS seeds (lower is better)" &&
printf '%-10s %-14s %-26s %-26s %-26s %s\n' function sampler "20 trials" "50 trials" "100 trials" "ms/trial@100"
for f in branin hartmann6 mixed; do
	[ "$SEEDS" -gt 0 ] || break
	for s in $(seq 1 "$SEEDS"); do "$tmp/hpo_bench" tpe "$f" "$s" 100; done > "$tmp/ours"
	for s in $(seq 1 "$SEEDS"); do "$tmp/hpo_bench" random "$f" "$s" 100; done > "$tmp/rand"
	"$venv/bin/python" tests/bench/hpo_optuna.py tpe "$f" 1 "$SEEDS" 100 > "$tmp/optuna"
	for k in ours:arxiv-tpe optuna:optuna-tpe rand:arxiv-random; do
		printf '%-10s %-14s %-26s %-26s %-26s %s\n' "$f" "${k#*:}" \
			"$(quart 0 < "$tmp/${k%%:*}")" "$(quart 1 < "$tmp/${k%%:*}")" \
			"$(quart 2 < "$tmp/${k%%:*}")" "$(quart 3 < "$tmp/${k%%:*}" | cut -d' ' -f1)"
	done
done

if [ "$HPO_TRIALS" -gt 0 ] || [ "$WALL_TRIALS" -gt 0 ]; then
	shared=${ARXIV_SHARED:-../shared}
	if [ "$HPO_N" -gt 0 ]; then
		{ zcat "$shared"/data/arxiv-part-00*.jsonl.gz || true; } | head -n "$HPO_N"
	else
		zcat "$shared"/data/arxiv-part-00*.jsonl.gz
	fi | arxiv-map > "$tmp/all.jsonl"
	arxiv-split -s 42 -r 0.9,0.1,0 -o "$tmp/split" "$tmp/all.jsonl"
	rm -f "$tmp/all.jsonl"
	train=$tmp/split/train.jsonl val=$tmp/split/val.jsonl
	echo
	echo "real data: $(wc -l < "$train") train / $(wc -l < "$val") val records, $(nproc) cores"
fi
if [ "$HPO_TRIALS" -gt 0 ]; then
	t0=$(date +%s)
	arxiv-train -o "$tmp/default" "$train" "$val" 2> /dev/null
	t1=$(date +%s)
	arxiv-hpo -n "$HPO_TRIALS" --metric accuracy -o "$tmp/hpo" "$train" "$val" > /dev/null
	t2=$(date +%s)
	python3 - "$tmp" "$HPO_TRIALS" "$((t1 - t0))" "$((t2 - t1))" <<'PY'
import json, sys
tmp, n, td, th = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
d = json.load(open(f"{tmp}/default/metadata/metrics.json"))["val"]["accuracy"]
b = json.load(open(f"{tmp}/hpo/metadata/best_hyperparams.json"))
print(f"arxiv-train defaults:       val accuracy {d:.4f}  ({td} s)")
print(f"arxiv-hpo {n} trials (TPE):  val accuracy {b['value']:.4f}  ({th} s; best trial {b['trial']}: {json.dumps(b['params'])})")
PY
fi
if [ "$WALL_TRIALS" -gt 0 ]; then
	for j in 1 2; do
		t0=$(date +%s.%N)
		arxiv-hpo -n "$WALL_TRIALS" -j "$j" --sampler random -o "$tmp/wall$j" "$train" "$val" > /dev/null
		t1=$(date +%s.%N)
		echo "wall time of $WALL_TRIALS trials (random sampler, same points), -j $j: $(echo "$t1 - $t0" | bc) s"
	done
fi

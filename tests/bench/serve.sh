#!/usr/bin/env bash
# tests/bench/serve.sh - arxiv-serve under wrk on loopback: requests/s and p50/p99
# latency at 1, 16 and 64 connections for single predictions, abstracts/s for
# batches of 64, and RSS after warm-up and after a long run (a leak shows as
# growth). Prints a Markdown table (also saved to $BUILD/bench/serve.md).
#
# usage: tests/bench/serve.sh [-d long_seconds] [-s step_seconds] [-t threads] [artifacts ...]
#   -d  length of the long run at 16 connections (default 300: the 5 minutes of issue 6)
#   -s  length of each throughput step (default 20)
#   -t  server threads (default: online processors)
#   artifacts: model directories to measure (default: a fast model trained here on
#   20,000 records of $SHARED/data, or on the test fixture when that is missing)
# Env: BUILD (default build), SHARED (default ../shared).
# Client and server share the machine's cores, as in the issue's setting.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
BIN="$PWD/$BUILD/bin"
export ARXIV_DATADIR="$PWD/data"
long=300 step=20 threads=$(nproc)

while getopts d:s:t: o; do
	case $o in
	d) long=$OPTARG ;;
	s) step=$OPTARG ;;
	t) threads=$OPTARG ;;
	*) echo "usage: tests/bench/serve.sh [-d long_seconds] [-s step_seconds] [-t threads] [artifacts ...]" >&2
		exit 2 ;;
	esac
done
shift $((OPTIND - 1))

for tool in wrk curl python3; do
	command -v "$tool" >/dev/null || { echo "serve.sh: $tool not installed" >&2; exit 1; }
done
[ -x "$BIN/arxiv-serve" ] || { echo "serve.sh: $BIN/arxiv-serve not built (make)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/arxiv-bench-serve.XXXXXX")
spid=""
cleanup() {
	if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------- inputs
part="$SHARED/data/arxiv-part-000.jsonl.gz"
if [ -r "$part" ]; then
	zcat "$part" | head -n 22200 > "$work/raw.jsonl" || true
	src="$SHARED/data (real abstracts)"
else
	echo "serve.sh: $part not found: using the test fixture (tiny model, short texts)" >&2
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    t, _, a = json.loads(line)["text"].partition("\n")
    print(json.dumps({"title": t, "abstract": a}))' tests/cases/arxiv-serve/train.jsonl > "$work/raw.jsonl"
	src="tests/cases/arxiv-serve (synthetic)"
fi

# request bodies, one JSON object per line: single abstracts, and batches of 64
python3 - "$work/raw.jsonl" "$work/single.txt" "$work/batch.txt" <<'EOF'
import json, sys
raw, single, batch = sys.argv[1:]
recs = []
for line in open(raw, encoding="utf-8"):
    r = json.loads(line)
    if r.get("abstract", "").strip():
        recs.append(r["abstract"].strip())
recs = recs[-200:]		# records the trained model has not seen
with open(single, "w") as f:
    for a in recs:
        f.write(json.dumps({"abstract": a, "top_k": 3}) + "\n")
with open(batch, "w") as f:
    for i in range(0, len(recs), 8):
        items = [recs[(i + j) % len(recs)] for j in range(64)]
        f.write(json.dumps({"abstracts": items, "top_k": 3}) + "\n")
EOF
sed -n '1p' "$work/single.txt" | wc -c | awk '{printf "serve.sh: bodies from %s, e.g. %d bytes\n", "'"$src"'", $1}' >&2

cat > "$work/post.lua" <<'EOF'
-- POST one body after another from the file in $BENCH_BODIES (one per line)
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
local reqs, i = {}, 0
function init(args)
	for k, b in ipairs(bodies) do
		reqs[k] = wrk.format("POST", "/api/predict/", { ["Content-Type"] = "application/json" }, b)
	end
end
function request()
	i = i % #reqs + 1
	return reqs[i]
end
EOF

# ---------------------------------------------------------------- model
models=("$@")
if [ ${#models[@]} -eq 0 ]; then
	[ -x "$BIN/arxiv-train" ] || { echo "serve.sh: $BIN/arxiv-train not built" >&2; exit 1; }
	if [ -r "$part" ]; then
		head -n 22000 "$work/raw.jsonl" | "$BIN/arxiv-map" > "$work/mapped.jsonl"
		head -n 20000 "$work/mapped.jsonl" > "$work/train.jsonl"
		tail -n 2000 "$work/mapped.jsonl" > "$work/val.jsonl"
	else
		cp tests/cases/arxiv-serve/train.jsonl "$work/train.jsonl"
		cp tests/cases/arxiv-serve/val.jsonl "$work/val.jsonl"
	fi
	echo "serve.sh: training a fast model on $(wc -l < "$work/train.jsonl") records" >&2
	(cd "$work" && "$BIN/arxiv-train" -o "$work/model" train.jsonl val.jsonl > train.log 2>&1) ||
		{ cat "$work/train.log" >&2; exit 1; }
	models=("$work/model")
fi

# ---------------------------------------------------------------- helpers
start() {
	"$BIN/arxiv-serve" -q -j "$threads" -m "$1" -l 127.0.0.1:0 2> "$work/serve.log" &
	spid=$!
	local _
	for _ in $(seq 200); do
		port=$(sed -n 's|^arxiv-serve: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$work/serve.log")
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { cat "$work/serve.log" >&2; exit 1; }
	curl -sf "http://127.0.0.1:$port/readyz" > /dev/null ||
		{ echo "serve.sh: no model loaded from $1" >&2; cat "$work/serve.log" >&2; exit 1; }
	url="http://127.0.0.1:$port"
}

stop() {
	kill "$spid"
	wait "$spid" || true
	spid=""
}

rss_kib() {
	awk '/^VmRSS:/ {print $2}' "/proc/$spid/status"
}

# run_wrk CONNS SECONDS BODIES -> "req_per_s p50_ms p99_ms non2xx"
run_wrk() {
	local c=$1 d=$2 bodies=$3 t=2
	[ "$c" -lt 2 ] && t=1
	BENCH_BODIES=$bodies wrk -t "$t" -c "$c" -d "${d}s" --latency -s "$work/post.lua" "$url" \
		> "$work/wrk.out" 2>&1 || { cat "$work/wrk.out" >&2; exit 1; }
	awk '
	function ms(v) {
		if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
		if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
		if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
		if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
		return v
	}
	/^ +50%/ { p50 = ms($2) }
	/^ +99%/ { p99 = ms($2) }
	/^Requests\/sec:/ { rps = $2 }
	/Non-2xx or 3xx responses:/ { bad = $NF }
	/Socket errors:/ { bad = bad "+sock" }
	END { printf "%.0f %.3f %.3f %s\n", rps, p50, p99, bad == "" ? 0 : bad }' "$work/wrk.out"
}

# ---------------------------------------------------------------- runs
mkdir -p "$BUILD/bench"
out="$BUILD/bench/serve.md"
{
	echo "## arxiv-serve on loopback ($(nproc) cores shared by wrk and the server, $threads server threads)"
	echo
	echo "| model | test | connections | requests/s | abstracts/s | p50 ms | p99 ms | non-2xx |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|"
} > "$out"

for m in "${models[@]}"; do
	start "$m"
	mtype=$(curl -s "$url/readyz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["model_type"])')
	echo "serve.sh: $mtype model from $m; warm-up" >&2
	run_wrk 16 "$(( step < 5 ? step : 5 ))" "$work/single.txt" > /dev/null
	rss_warm=$(rss_kib)
	for c in 1 16 64; do
		echo "serve.sh: single predictions, $c connections, ${step}s" >&2
		read -r rps p50 p99 bad < <(run_wrk "$c" "$step" "$work/single.txt")
		echo "| $mtype | single | $c | $rps | $rps | $p50 | $p99 | $bad |" >> "$out"
	done
	for c in 2 16; do
		echo "serve.sh: batches of 64, $c connections, ${step}s" >&2
		read -r rps p50 p99 bad < <(run_wrk "$c" "$step" "$work/batch.txt")
		echo "| $mtype | batch of 64 | $c | $rps | $((rps * 64)) | $p50 | $p99 | $bad |" >> "$out"
	done
	# The leak check compares the long run's end with its start: the batch steps
	# before it raise the allocator's high-water mark once (a transformer's
	# activations for 16 concurrent batches of 64), which is not a leak.
	rss_pre=$(rss_kib)
	echo "serve.sh: long run, 16 connections, ${long}s" >&2
	read -r rps p50 p99 bad < <(run_wrk 16 "$long" "$work/single.txt")
	echo "| $mtype | single, long run ${long}s | 16 | $rps | $rps | $p50 | $p99 | $bad |" >> "$out"
	rss_end=$(rss_kib)
	growth=$(awk -v a="$rss_pre" -v b="$rss_end" 'BEGIN { printf "%+.1f", 100 * (b - a) / a }')
	stop
	rss_lines+=("| $mtype | $((rss_warm / 1024)) MiB | $((rss_pre / 1024)) MiB ($rss_pre KiB) | $((rss_end / 1024)) MiB ($rss_end KiB) | $growth% |")
done

{
	echo "| DistilBERT behind a Python web framework (published, 2 vCPU; context only) | single | - | ~2.6 | ~2.6 | 444 | - | - |"
	echo
	echo "RSS of the server (target: the end of the long run within 5% of its start):"
	echo
	echo "| model | after warm-up | after the batch steps (long run start) | after the ${long}s run | growth over the long run |"
	echo "|---|---:|---:|---:|---:|"
	printf '%s\n' "${rss_lines[@]}"
	echo
	echo "Targets (issue 6, fast model): >= 5,000 requests/s and p99 < 5 ms at 16 connections."
} >> "$out"
cat "$out"

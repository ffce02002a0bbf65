#!/usr/bin/env bash
# nightly.sh - keep the model's view of arXiv current, from cron or a systemd timer:
#   harvest (OAI-PMH, incremental) -> map -> predict into DIR/classified/DAY.jsonl
#   -> [embed -> index upsert, when arxiv-index and --index-db are there]
#   -> [weekly retrain with run_pipeline.sh on the dump plus everything harvested]
# The harvest state is committed only when every step succeeded, so a run after a
# failure harvests the same window again: no gap, and the index upsert makes a
# repeated paper harmless. See README "Nightly updates" and data/arxiv-nightly.*.
set -euo pipefail
prog=nightly.sh
top=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	cat <<EOF
usage: $prog [--dir DIR] [--model DIR] [--set SPEC] [--from DATE] [--until DATE]
       [--base-url URL] [--delay S] [--embed-model DIR] [--index-db DSN]
       [--retrain-day N] [--dump FILE]
  --dir DIR          state, harvested/, classified/ and the log (/var/lib/arxiv)
  --model DIR        artifacts of arxiv-train used to classify (DIR/artifacts)
  --set SPEC         harvest only this OAI set (cs, math, physics:hep-th, ...)
  --from DATE        first run only: harvest from DATE (later runs: the state)
  --until DATE       last day to harvest (default: yesterday, UTC)
  --base-url URL     OAI-PMH endpoint (arxiv-harvest's default)
  --delay S          seconds between OAI requests (arxiv-harvest's default, 3)
  --embed-model DIR  the index's embedder for arxiv-embed -e (run_pipeline.sh's
                     WORKDIR/embedder, or a Hugging Face encoder folder)
  --index-db DSN     PostgreSQL DSN: upsert the new papers' vectors with arxiv-index
  --retrain-day N    ISO weekday (1 Monday .. 7 Sunday) to retrain; 0 never (0)
  --dump FILE        the base dump the weekly retrain starts from
  -h, --help         this help
EOF
}

dir=/var/lib/arxiv model='' set='' from='' until='' base='' delay='' embed_model='' index_db=''
retrain_day=0 dump=''
while [ $# -gt 0 ]; do
	case $1 in
	--dir|--model|--set|--from|--until|--base-url|--delay|--embed-model|--index-db|--retrain-day|--dump)
		[ $# -ge 2 ] || { echo "$prog: $1 needs a value" >&2; usage >&2; exit 2; } ;;
	esac
	case $1 in
	--dir) dir=$2; shift ;;
	--model) model=$2; shift ;;
	--set) set=$2; shift ;;
	--from) from=$2; shift ;;
	--until) until=$2; shift ;;
	--base-url) base=$2; shift ;;
	--delay) delay=$2; shift ;;
	--embed-model) embed_model=$2; shift ;;
	--index-db) index_db=$2; shift ;;
	--retrain-day) retrain_day=$2; shift ;;
	--dump) dump=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "$prog: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
case $retrain_day in [0-7]) ;; *) echo "$prog: --retrain-day: expected 0..7" >&2; exit 2 ;; esac
model=${model:-$dir/artifacts}
# the checkout's programs when none are installed
command -v arxiv-harvest > /dev/null || PATH="$top/build/bin:$PATH"
[ -d "$top/data" ] && [ -z "${ARXIV_DATADIR:-}" ] && export ARXIV_DATADIR="$top/data"

day=$(date -u +%F)
mkdir -p "$dir/harvested" "$dir/classified"
work=$(mktemp -d "$dir/.nightly.XXXXXX")
trap 'rm -rf "$work"' EXIT
log() { echo "$prog: $(date -u +%FT%TZ) $*" >&2; }

# 1. harvest into a copy of the state; the copy replaces the state at the very end
state=$dir/harvest.state
[ -e "$state" ] && cp -p "$state" "$work/state"
args=(--state "$work/state")
[ -n "$set" ] && args+=(--set "$set")
[ -n "$from" ] && [ ! -e "$state" ] && args+=(--from "$from")
[ -n "$until" ] && args+=(--until "$until")
[ -n "$base" ] && args+=(--base-url "$base")
[ -n "$delay" ] && args+=(--delay "$delay")
arxiv-harvest "${args[@]}" > "$work/harvested.jsonl"
n=$(wc -l < "$work/harvested.jsonl")
log "harvest: $n records"

# 2. map (the true fields from the categories) and 3. predict (the model applies
# the cleaning it was trained with, so no separate arxiv-clean here)
arxiv-map -k "$work/harvested.jsonl" > "$work/mapped.jsonl"
if [ -s "$work/mapped.jsonl" ]; then
	arxiv-predict -b -m "$model" -K 3 "$work/mapped.jsonl" > "$work/predictions.jsonl"
	[ "$(wc -l < "$work/predictions.jsonl")" -eq "$(wc -l < "$work/mapped.jsonl")" ] ||
		{ log "predict: not one prediction per paper"; exit 1; }
	# one line per paper: the mapped record (without its text) and the prediction
	paste -d '\t' "$work/mapped.jsonl" "$work/predictions.jsonl" |
		jq -c -R 'split("\t") | (.[0] | fromjson | del(.text)) + (.[1] | fromjson)' \
		> "$work/classified.jsonl"
else
	: > "$work/classified.jsonl"
fi
log "classify: $(wc -l < "$work/classified.jsonl") papers -> $dir/classified/$day.jsonl"

# 4. embed -> index upsert (arxiv-index: PostgreSQL + pgvector, upsert by id)
if [ -n "$index_db" ] && command -v arxiv-index > /dev/null; then
	[ -n "$embed_model" ] || { log "index: --index-db needs --embed-model"; exit 1; }
	if [ -s "$work/mapped.jsonl" ]; then
		arxiv-embed -e "$embed_model" "$work/mapped.jsonl" | arxiv-index -d "$index_db"
		log "index: upserted $(wc -l < "$work/mapped.jsonl") papers"
	fi
elif [ -n "$index_db" ]; then
	log "index: skipped: arxiv-index is not installed"
fi

# the day's files, each renamed into place
mv "$work/harvested.jsonl" "$dir/harvested/$day.jsonl"
mv "$work/classified.jsonl" "$dir/classified/$day.jsonl"

# 5. weekly retrain on the dump and everything harvested so far
if [ "$retrain_day" -ne 0 ] && [ "$(date -u +%u)" -eq "$retrain_day" ]; then
	[ -n "$dump" ] || { log "retrain: --retrain-day needs --dump"; exit 1; }
	data=("--data" "$dump")
	for f in "$dir"/harvested/*.jsonl; do [ -s "$f" ] && data+=("--data" "$f"); done
	log "retrain: run_pipeline.sh on $(( ${#data[@]} / 2 )) files"
	"$top/pipelines/run_pipeline.sh" "${data[@]}" --workdir "$dir/work" --artifacts "$model" --no-serve
	log "retrain: new artifacts in $model (systemctl reload arxiv-serve to serve them)"
fi

# 6. commit the harvest state: the next run starts after this window
if [ -e "$work/state" ]; then
	mv "$work/state" "$state"
fi
log "done"

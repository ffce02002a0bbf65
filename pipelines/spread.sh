#!/usr/bin/env bash
# spread.sh - run a record filter (JSONL or text lines on the standard input, its
# result on the standard output: arxiv-map, arxiv-clean, arxiv-tok) on blocks of
# the standard input spread over hosts with GNU parallel, and write the blocks'
# outputs in input order. A filter that treats every line on its own gives the
# same bytes as one run over the whole input (arxiv-tok: one tensor stream per
# block, which read as one stream; see arxiv-tok(1)).
#
#   spread.sh [--sshlogin HOSTS] [--block SIZE] [--retries N] [-o FILE] -- COMMAND [ARG...]
#
# --sshlogin  GNU parallel's sshlogins, e.g. 8/node1,8/node2 or ":" (this host,
#             the default); PARALLEL_SSH sets the ssh command. The blocks travel
#             over ssh on the job's standard input and the results come back on its
#             standard output: nothing is written on the nodes. Every node needs
#             the toolchain at the same path (PATH and ARXIV_DATADIR are passed on)
#             and the files named in COMMAND (e.g. the vocabulary) at the same path.
# --block     block size (default 16M; about one block per job)
# --retries   a block whose job fails (the node is down, ssh fails) is run again on
#             another node, up to N times in all (default 3; 1 on this host alone)
# -o FILE     write FILE atomically (a temporary file beside it, renamed on
#             success); on failure FILE is left as it was and nothing else remains.
# Exit status: 0, 1 when a block failed on every try (the first error is printed),
# 2 on a usage error.
set -euo pipefail
prog=${0##*/}
usage() {
	echo "usage: $prog [--sshlogin HOSTS] [--block SIZE] [--retries N] [-o FILE] -- COMMAND [ARG...]"
}
sshlogin=: block=16M retries='' out=''
while [ $# -gt 0 ]; do
	case $1 in
	--sshlogin|-S) [ $# -ge 2 ] || { usage >&2; exit 2; }; sshlogin=$2; shift ;;
	--block) [ $# -ge 2 ] || { usage >&2; exit 2; }; block=$2; shift ;;
	--retries) [ $# -ge 2 ] || { usage >&2; exit 2; }; retries=$2; shift ;;
	-o|--output) [ $# -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
[ $# -gt 0 ] || { usage >&2; exit 2; }
if [ -z "$retries" ]; then
	retries=3
	[ "$sshlogin" != : ] || retries=1
fi
case $retries in ''|*[!0-9]*|0) echo "$prog: --retries: expected a number >= 1, got '$retries'" >&2; exit 2 ;; esac
command -v parallel >/dev/null || { echo "$prog: GNU parallel is not installed" >&2; exit 1; }

envs=(--env PATH)
[ -z "${ARXIV_DATADIR:-}" ] || envs+=(--env ARXIV_DATADIR)
# -k: outputs in input order; --halt now,fail=1: stop at the first block that failed
# on every try; -q: COMMAND's words reach the node's shell quoted as given;
# --workdir .: the node runs it in this directory (relative file names work where
# the nodes share it).
run() {
	parallel --pipe -k --block "$block" --sshlogin "$sshlogin" --retries "$retries" \
		--halt now,fail=1 --workdir . "${envs[@]}" -q "$@"
}
if [ -z "$out" ]; then
	run "$@"
	exit
fi
tmp=$(mktemp "$(dirname -- "$out")/.${out##*/}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
if ! run "$@" > "$tmp"; then
	echo "$prog: $1 failed on a block; $out not written" >&2
	exit 1
fi
chmod 644 "$tmp"
mv "$tmp" "$out"
trap - EXIT

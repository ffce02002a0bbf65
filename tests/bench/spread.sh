#!/usr/bin/env bash
# spread.sh - the pipe map | clean | tok over two ssh "nodes" on loopback
# (pipelines/spread.sh with a private sshd: tests/tools/sshd.sh) beside the same
# pipe on this host alone (serial, and spread.sh with ":" = local GNU parallel):
# wall time, records/s, and the transfer overhead per record. On loopback the
# "nodes" share this machine's cores, so the difference is the cost of ssh, the
# block copies and the extra parallel processes, not a speed-up.
# N=records (default 100000), BLOCK (default 16M, as spread.sh; every block is one
# ssh job, which costs about a second to set up on a loaded machine).
set -euo pipefail
vocab="$ARXIV_SHARED/vocab/scibert_scivocab_uncased.vocab.txt"
spread="$PWD/pipelines/spread.sh"
tmp=$(mktemp -d)
cleanup() { tests/tools/sshd.sh stop "$tmp/sshd"; rm -rf "$tmp"; }
trap cleanup EXIT
if ! why=$(tests/tools/sshd.sh start "$tmp/sshd"); then
	echo "spread: SKIPPED: $why"
	exit 0
fi
export PARALLEL_SSH="ssh -F $tmp/sshd/ssh_config"
zcat "$ARXIV_SHARED"/data/arxiv-part-00*.jsonl.gz | head -n "${N:-100000}" > "$tmp/in.jsonl" ||
	[ "${PIPESTATUS[0]}" -eq 141 ]
n=$(wc -l < "$tmp/in.jsonl")
b=${BLOCK:-16M}
echo "input: $n records, $(du -m "$tmp/in.jsonl" | cut -f1) MiB, block $b, $(nproc) cores (loaded machine: compare the rows, not absolute numbers)"
pipe() { # HOSTS: map, clean, tok each spread over HOSTS
	"$spread" --sshlogin "$1" --block "$b" -- arxiv-map < "$tmp/in.jsonl" |
		"$spread" --sshlogin "$1" --block "$b" -- arxiv-clean |
		"$spread" --sshlogin "$1" --block "$b" -- arxiv-tok -v "$vocab"
}
base=''
row() {
	local label=$1 t0 t1
	shift
	t0=$(date +%s.%N)
	"$@" > "$tmp/out.bin"
	t1=$(date +%s.%N)
	awk -v l="$label" -v a="$t0" -v z="$t1" -v n="$n" -v base="$base" 'BEGIN { t = z - a
		printf "%-40s %7.2f s %8.0f rec/s", l, t, n / t
		if (base != "") printf "  %+7.1f us/record vs serial", (t - base) * 1e6 / n
		printf "\n" }'
	[ -n "$base" ] || base=$(awk -v a="$t0" -v z="$t1" 'BEGIN { print z - a }')
}
serial() { arxiv-map < "$tmp/in.jsonl" | arxiv-clean | arxiv-tok -v "$vocab"; }
row "serial map | clean | tok" serial
arxiv-tok -d "$tmp/out.bin" > "$tmp/serial.txt"
row "spread.sh, this host (:)" pipe :
cmp -s "$tmp/serial.txt" <(arxiv-tok -d "$tmp/out.bin") || { echo "spread: local records differ"; exit 1; }
row "spread.sh, two ssh nodes (1/node1,1/node2)" pipe 1/node1,1/node2
cmp -s "$tmp/serial.txt" <(arxiv-tok -d "$tmp/out.bin") || { echo "spread: ssh records differ"; exit 1; }
echo "same records from all three (arxiv-tok -d)"

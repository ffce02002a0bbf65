#!/usr/bin/env bats
# spread.bats - pipelines/spread.sh and run_pipeline.sh --sshlogin: map, clean and
# tok on blocks spread over two ssh "nodes" (two host aliases of one sshd that the
# test starts on 127.0.0.1 with its own keys and config: tests/tools/sshd.sh),
# with the same bytes as the serial run; a node that is down; all nodes down.
load helper

SPREAD="$TOP/pipelines/spread.sh"

# One sshd for the file (tests/tools/sshd.sh): node1, node2 and "down".
setup_file() {
	export SSHD_WHY='' SSHD_DIR="$BATS_FILE_TMPDIR/sshd"
	if ! command -v parallel >/dev/null; then
		SSHD_WHY="GNU parallel not installed"
	elif ! SSHD_WHY=$("$TOP/tests/tools/sshd.sh" start "$SSHD_DIR"); then
		SSHD_WHY=${SSHD_WHY:-sshd does not start}
	fi
}

teardown_file() {
	"$TOP/tests/tools/sshd.sh" stop "$SSHD_DIR"
}

need_sshd() {
	[ -z "$SSHD_WHY" ] || skip "$SSHD_WHY"
	export PARALLEL_SSH="ssh -F $SSHD_DIR/ssh_config"
}

# 3000 synthetic arXiv records (several fields, some LaTeX and Unicode).
dump() {
	local i cats=("hep-th math.MP" "cs.LG stat.ML" "q-bio.NC" "math.AG" "astro-ph.GA")
	for i in $(seq 3000); do
		printf '{"id":"%04d.%05d","title":"On the $\\\\alpha$-graphs of record %d","abstract":"We study r\\u00e9gime %d of the Lie algebra; it is tokenized, cleaned and mapped.","categories":"%s"}\n' \
			"$((i % 97))" "$i" "$i" "$i" "${cats[i % 5]}"
	done
}

@test "spread.sh: --help, bad option exit 2, no command exit 2" {
	run "$SPREAD" --help
	assert_success
	[[ $output == usage:* ]]
	run "$SPREAD" --bogus -- cat
	assert_status 2
	[[ $output == *usage:* ]]
	run "$SPREAD" --retries 0 -- cat
	assert_status 2
	run "$SPREAD"
	assert_status 2
}

@test "spread.sh on this host: map and clean give the serial bytes" {
	dump > in.jsonl
	arxiv-map < in.jsonl > map1
	arxiv-clean < map1 > clean1
	"$SPREAD" --block 64k -o map2 -- arxiv-map < in.jsonl
	"$SPREAD" --block 64k -o clean2 -- arxiv-clean < map2
	cmp map1 map2
	cmp clean1 clean2
	[ "$(wc -l < clean2)" -eq 3000 ]
}

@test "spread.sh over two ssh nodes: map | clean byte-identical to the serial run" {
	need_sshd
	dump > in.jsonl
	arxiv-map < in.jsonl | arxiv-clean > serial
	"$SPREAD" --sshlogin 2/node1,2/node2 --block 32k -o map2 -- arxiv-map < in.jsonl
	"$SPREAD" --sshlogin 2/node1,2/node2 --block 32k -o clean2 -- arxiv-clean < map2
	cmp serial clean2
	# several blocks went over ssh: the sshd logged more than two sessions
	[ "$(grep -c 'Accepted publickey' "$SSHD_DIR/sshd.log")" -gt 2 ]
}

@test "spread.sh over two ssh nodes: tok gives the local blocks' bytes and the serial records" {
	need_sshd
	cp "$CASES/arxiv-tok/vocab.txt" vocab.txt
	dump | arxiv-map | arxiv-clean > clean.jsonl
	arxiv-tok -n 32 -v vocab.txt < clean.jsonl > serial.bin
	parallel --pipe -k --block 64k arxiv-tok -n 32 -v vocab.txt < clean.jsonl > local.bin
	# a relative file name: the nodes run in this directory (--workdir .)
	"$SPREAD" --sshlogin 1/node1,1/node2 --block 64k -o ssh.bin -- arxiv-tok -n 32 -v vocab.txt < clean.jsonl
	cmp local.bin ssh.bin
	cmp <(arxiv-tok -d serial.bin) <(arxiv-tok -d ssh.bin)
	[ "$(arxiv-tok -d ssh.bin | wc -l)" -eq 3000 ]
}

@test "spread.sh: a node that is down: its blocks are retried on the other, same bytes" {
	need_sshd
	dump > in.jsonl
	arxiv-map < in.jsonl > serial
	run "$SPREAD" --sshlogin 1/down,1/node1 --block 32k -o out -- arxiv-map < in.jsonl
	assert_success
	cmp serial out
}

@test "spread.sh: every node down: exit 1, a clear error, no output file, no temporary file" {
	need_sshd
	dump > in.jsonl
	echo old > out
	run "$SPREAD" --sshlogin 1/down --retries 2 --block 32k -o out -- arxiv-map < in.jsonl
	assert_status 1
	[[ $output == *"spread.sh: arxiv-map failed on a block; out not written"* ]]
	[ "$(cat out)" = old ]
	[ "$(ls -A)" = "$(printf 'in.jsonl\nout')" ]
}

@test "spread.sh: a filter that fails on a node: exit 1, no output file" {
	need_sshd
	dump > in.jsonl
	printf '{"id":"x"}\n' >> in.jsonl
	run "$SPREAD" --sshlogin 1/node1,1/node2 --block 32k -o out -- arxiv-map < in.jsonl
	assert_status 1
	[[ $output == *"spread.sh: arxiv-map failed on a block; out not written"* ]]
	[ ! -e out ]
	[ "$(ls -A)" = in.jsonl ]
}

@test "run_pipeline.sh --sshlogin: map and clean over two nodes, the same files as on one host" {
	need_sshd
	dump | gzip > dump.json.gz
	"$TOP/pipelines/run_pipeline.sh" --data dump.json.gz --workdir one --no-serve > one.log 2>&1 ||
		{ cat one.log; return 1; }
	"$TOP/pipelines/run_pipeline.sh" --data dump.json.gz --workdir two --no-serve \
		--sshlogin 1/node1,1/node2 > two.log 2>&1 || { cat two.log; return 1; }
	cmp one/mapped.jsonl two/mapped.jsonl
	cmp one/clean.jsonl two/clean.jsonl
	cmp one/split/train.jsonl two/split/train.jsonl
	# (training itself is not bit-reproducible across runs: both just finish)
	[ -s one/report.json ] && [ -s two/report.json ]
	[ "$(grep -c 'Accepted publickey' "$SSHD_DIR/sshd.log")" -gt 0 ]
}

@test "run_pipeline.sh --sshlogin with every node down: stops with the error, no mapped.jsonl" {
	need_sshd
	dump > dump.jsonl
	run "$TOP/pipelines/run_pipeline.sh" --data dump.jsonl --workdir w --no-serve --sshlogin 1/down
	assert_failure
	[[ $output == *"arxiv-map failed"* ]]
	[ ! -e w/mapped.jsonl ] && [ ! -e w/mapped.jsonl.tmp ]
}

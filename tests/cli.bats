#!/usr/bin/env bats
# cli.bats - the command line of the whole suite (bin/prog.h): one flag table,
# --help listing every option, -h/-V everywhere, the man SYNOPSIS equal to the
# usage, and the deprecated spellings still working with a warning.
load helper

PROGS="arxiv-map arxiv-clean arxiv-tok arxiv-split arxiv-train arxiv-eval arxiv-predict arxiv-embed arxiv-serve arxiv-hpo arxiv-stats arxiv-report arxiv-harvest"
DEP="is deprecated and will be removed in the next release; use"

man_of() {
	if [ -f "$TOP/man/man1/$1.1" ]; then echo "man1/$1.1"; else echo "man8/$1.8"; fi
}

# long_options PROG: the long names of PROG's getopt_long table, from its source.
long_options() {
	sed -n 's/^[[:space:]]*{ "\([a-z0-9-]*\)", \(no\|required\|optional\)_argument,.*/\1/p' "$TOP/bin/$1.c"
}

@test "every program: --help lists every option of its getopt table, one line each, on stdout, exit 0" {
	local p o n
	for p in $PROGS; do
		run "$p" --help
		assert_success
		n=0
		for o in $(long_options "$p"); do
			n=$((n + 1))
			# an option line "  -x, --name=ARG   text", or a deprecated spelling's line
			echo "$output" | grep -qE "^  (-[a-zA-Z0-9], |    )--$o(=[^ ]+)? +[^ ].*$|^  --$o .* +use " ||
				{ echo "$p --help does not list --$o"; echo "$output"; return 1; }
		done
		[ "$n" -ge 3 ] || { echo "$p: only $n long options found in bin/$p.c"; return 1; }
		! echo "$output" | grep -q "(undocumented)" || { echo "$p: an option without help"; return 1; }
		echo "$output" | grep -qE '^  -h, --help +print this help and exit$'
		echo "$output" | grep -qE '^  -V, --version +print the version and exit$'
		# -h is --help
		[ "$("$p" -h)" = "$output" ]
	done
}

@test "every program: -V and --version print the name and version" {
	local p
	for p in $PROGS; do
		run "$p" -V
		assert_success "$p 0.1.0"
		run "$p" --version
		assert_success "$p 0.1.0"
	done
}

@test "every program: the man page SYNOPSIS is the usage, long options included; a bad option exits 2 with it" {
	local p want
	for p in $PROGS; do
		run "$p" --help
		want=$(synopsis)
		[ "$(man_synopsis "$(man_of "$p")")" = "$want" ] ||
			{ echo "$p: man:   $(man_synopsis "$(man_of "$p")")"; echo "$p: usage: $want"; return 1; }
		[[ "$want" == *" --"* ]] || { echo "$p: no long option in the synopsis"; return 1; }
		run "$p" --no-such-option
		assert_status 2
		[ "$(synopsis)" = "$want" ]
		"$p" --no-such-option 2>/dev/null </dev/null | { ! read -r; }
	done
}

@test "flag table: -k is --keep-going; the old --skip still works with a warning" {
	printf '%s\n' '{"text":"Quantum Spin"}' 'not json' '{"text":"More Bosons"}' > in.jsonl
	run arxiv-clean -k in.jsonl
	assert_success
	[ "$(grep -c '^{' <<<"$output")" = 2 ]
	arxiv-clean -k in.jsonl > new.out 2>/dev/null
	arxiv-clean --keep-going in.jsonl > long.out 2>/dev/null
	arxiv-clean --skip in.jsonl > old.out 2> old.err
	cmp new.out long.out
	cmp new.out old.out
	grep -qx "arxiv-clean: --skip $DEP --keep-going (-k)" old.err
	run arxiv-eval --skip -m "$TMP/none" in.jsonl
	assert_failure
	assert_line "arxiv-eval: --skip $DEP --keep-going (-k)"
	run arxiv-embed --skip -m "$TMP/none" in.jsonl
	assert_failure
	assert_line "arxiv-embed: --skip $DEP --keep-going (-k)"
}

@test "flag table: threads are -j --jobs; the old -t and --threads still work with a warning" {
	run arxiv-serve -j 0
	assert_status 2
	assert_output "arxiv-serve: 0: invalid thread count (expected 1..1024)"
	run arxiv-serve -t 0
	assert_status 2
	assert_output "arxiv-serve: -t $DEP -j
arxiv-serve: 0: invalid thread count (expected 1..1024)"
	run arxiv-embed -t -1 -m x
	assert_status 2
	assert_output "arxiv-embed: -t $DEP -j
arxiv-embed: -1: invalid thread count (expected 0..1024)"
	run arxiv-embed --jobs -1 -m x
	assert_output "arxiv-embed: -1: invalid thread count (expected 0..1024)"
	for p in arxiv-eval arxiv-predict arxiv-train; do
		run "$p" --threads 65
		assert_status 2
		assert_line "$p: --threads $DEP --jobs (-j)"
		assert_line "$p: 65: invalid thread count (expected 0..64)"
		run "$p" --jobs 65
		assert_status 2
		assert_output "$p: 65: invalid thread count (expected 0..64)"
	done
}

@test "flag table: --verbose is long only; the old -v of arxiv-map and arxiv-split warns" {
	run arxiv-map --verbose < /dev/null
	assert_success
	assert_line "arxiv-map: 0 records"
	new=$output
	run arxiv-map -v < /dev/null
	assert_success
	[ "${lines[0]}" = "arxiv-map: -v $DEP --verbose" ]
	[ "$(printf '%s\n' "${lines[@]:1}")" = "$new" ]
	printf '%s\n' '{"id":"1","text":"a","label":"Physics"}' > one.jsonl
	run arxiv-split -v -s 1 -o out one.jsonl
	assert_success
	assert_line "arxiv-split: -v $DEP --verbose"
	assert_output_contains "train"
}

@test "flag table: arxiv-train -v is --vocab, --verbose and --test are long; the old -V FILE, -v and -t warn" {
	fix=$TOP/tests/cases/arxiv-train
	t() { arxiv-train -j 1 -e 1 -b 4096 -f -o art "$@" "$fix/train.jsonl" "$fix/val.jsonl"; }
	run t --verbose --test "$fix/test.jsonl"
	assert_success
	assert_output_contains "arxiv-train: epoch 1/1"
	python3 -c 'import json,sys; sys.exit(0 if "test" in json.load(open("art/metadata/metrics.json")) else 1)'
	run t -v -t "$fix/test.jsonl"
	assert_success
	assert_line "arxiv-train: -v (verbose) $DEP --verbose (-v is now --vocab)"
	assert_line "arxiv-train: -t test $DEP --test=test (-t is --table in the suite)"
	assert_output_contains "arxiv-train: epoch 1/1"
	python3 -c 'import json,sys; sys.exit(0 if "test" in json.load(open("art/metadata/metrics.json")) else 1)'
	# -V FILE: the vocabulary, as before (checked against the streams' hash)
	v=$TOP/tests/fixtures/tiny-bert/vocab.txt
	arxiv-tok -v "$v" -n 16 "$fix/train.jsonl" > train.bin
	arxiv-tok -v "$v" -n 16 "$fix/val.jsonl" > val.bin
	{ cat "$v"; echo extra; } > other.txt
	tb() { arxiv-train -j 1 -e 1 -b 4096 -f -o art "$@" train.bin val.bin; }
	run tb -V other.txt
	assert_failure
	assert_line "arxiv-train: -V vocab $DEP -v vocab (-V alone is --version)"
	assert_output_contains "does not match the tensor stream"
	run tb -v other.txt
	assert_failure
	assert_output_contains "does not match the tensor stream"
	run tb -V "$v"
	assert_success
	cmp "$v" art/tokenizer/vocab.txt
	run tb --vocab "$v"
	assert_success ""
	# -V alone: the version
	run arxiv-train -V
	assert_success "arxiv-train 0.1.0"
}

@test "flag table: -m is --model and -s --seed; arxiv-map --map, arxiv-tok --labels, arxiv-clean --stopwords are long, the old -m/-s warn" {
	# arxiv-map: the same records with --map and the old -m
	printf '%s\n' '{"id":"1","title":"t","abstract":"a","categories":"alg-geom"}' > r.jsonl
	arxiv-map --map "$ARXIV_DATADIR/archives.tsv" r.jsonl > new.out
	run arxiv-map -m "$ARXIV_DATADIR/archives.tsv" r.jsonl
	assert_success
	[ "${lines[0]}" = "arxiv-map: -m table $DEP --map=table (-m is --model in the suite)" ]
	[ "${lines[1]}" = "$(cat new.out)" ]
	# arxiv-clean: a stop-word list by --stopwords and by the old -s
	printf 'foo\n' > stop.txt
	run arxiv-clean -p --stopwords stop.txt <<< 'foo and bar'
	assert_success
	new=$output
	[[ "$new" != *foo* ]]
	run arxiv-clean -p -s stop.txt <<< 'foo and bar'
	assert_success
	[ "${lines[0]}" = "arxiv-clean: -s file $DEP --stopwords=file (-s is --seed in the suite)" ]
	[ "${lines[1]}" = "$new" ]
	# arxiv-tok: a label table by --labels and by the old -m
	printf 'cs\tComputer Science\n*\tOther\n' > t.tsv
	run arxiv-tok -m t.tsv -v "$TOP/tests/fixtures/tiny-bert/vocab.txt" < /dev/null
	assert_line "arxiv-tok: -m labels.tsv $DEP --labels=labels.tsv (-m is --model in the suite)"
}

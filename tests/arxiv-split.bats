#!/usr/bin/env bats
# arxiv-split.bats - options, golden cases, atomic outputs, order independence,
# exact stratification, JSONL and tensor streams.
load helper

USAGE="usage: arxiv-split [-k | --keep-going] {-o dir | --output=dir} [-r train,val,test | --ratios=train,val,test] {-s seed | --seed=seed} [-S | --stratify] [--verbose] [file]"

# N records {"id","text","label"} with new- and old-style ids and 3 labels
records() {
	python3 - "$1" <<'PY'
import json, sys
labs = ["Computer Science", "Physics", "Mathematics", "Biology"]
for i in range(int(sys.argv[1])):
    rid = f"{15 + i % 5}{1 + i % 12:02d}.{i:05d}" if i % 4 else f"math/9{i % 10}{1 + i % 12:02d}{i % 1000:03d}"
    print(json.dumps({"id": rid, "text": f"text {i}", "label": labs[(i * 7) % 11 % 4]},
                     separators=(",", ":")))
PY
}

# sorted ids of a JSONL file
ids() { python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in open(sys.argv[1])]' "$1" | sort; }

# a tensor stream of the records in $1 (arxiv-map output), via arxiv-tok
tensor() {
	command -v arxiv-tok >/dev/null || skip "arxiv-tok not built"
	arxiv-tok -v "$CASES/arxiv-tok/vocab.txt" -n 16 "$1"
}

@test "arxiv-split --help prints the usage line and exits 0" {
	run arxiv-split --help
	assert_success
	[ "$(synopsis)" = "$USAGE" ]
}

@test "arxiv-split usage errors exit 2 with the usage line" {
	run arxiv-split --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-split -o d
	assert_status 2
	assert_line "arxiv-split: -s seed and -o dir are required"
	run arxiv-split -s 1
	assert_status 2
	run arxiv-split -s 1 -o d a b
	assert_status 2
	assert_line "arxiv-split: at most one input file"
	run arxiv-split -s -1 -o d
	assert_status 2
	run arxiv-split -s 12x -o d
	assert_status 2
	assert_line "arxiv-split: 12x: invalid seed (expected 0..18446744073709551615)"
	for r in 0.8,0.1 0.8,0.1,0.2 0.8,0.1,0.1,0 a,b,c 1.5,-0.5,0 0.8,,0.2; do
		run arxiv-split -r "$r" -s 1 -o d
		assert_status 2
		assert_line "arxiv-split: -r: expected three ratios in [0,1] that sum to 1, e.g. 0.8,0.1,0.1"
	done
	[ ! -e d ]
}

@test "arxiv-split --version" {
	run arxiv-split --version
	assert_success "arxiv-split 0.1.0"
	run sh -c 'arxiv-split --version > /dev/full'
	assert_failure
}

@test "arxiv-split golden cases (tests/cases/arxiv-split)" {
	local d n=0 s want_status
	for d in "$CASES"/arxiv-split/*/; do
		want_status=0; [ -f "$d/status" ] && want_status=$(cat "$d/status")
		rm -rf out
		eval "set -- $(cat "$d/args")"
		arxiv-split "$@" -o out < "$d/input" 2> err && st=0 || st=$?
		[ "$st" -eq "$want_status" ] || { echo "$d: status $st, want $want_status"; cat err; return 1; }
		for s in train val test; do
			if [ -f "$d/$s.jsonl" ]; then diff -u "$d/$s.jsonl" "out/$s.jsonl" || { echo "$d: $s differs"; return 1; }
			else [ ! -e "out/$s.jsonl" ] || { echo "$d: unexpected $s.jsonl"; return 1; }; fi
		done
		if [ -f "$d/error" ]; then diff -u "$d/error" err || { echo "$d: stderr differs"; return 1; }
		else [ ! -s err ] || { echo "$d: unexpected stderr"; cat err; return 1; }; fi
		[ -z "$(ls -A out | grep -v -x -e train.jsonl -e val.jsonl -e test.jsonl)" ] || { ls -A out; return 1; }
		n=$((n + 1))
	done
	[ "$n" -ge 7 ]
}

@test "arxiv-split on empty input writes three empty files" {
	run arxiv-split --verbose -s 1 -o out < /dev/null
	assert_success "arxiv-split: train 0, val 0, test 0"
	[ -f out/train.jsonl ] && [ ! -s out/train.jsonl ] && [ ! -s out/val.jsonl ] && [ ! -s out/test.jsonl ]
}

@test "arxiv-split: a bad record replaces none of the outputs and leaves no temporary file" {
	records 50 > good
	arxiv-split -s 3 -o out good
	cp -r out before
	{ head -n 30 good; echo '{"id": 5}'; tail -n 20 good; } > bad
	run arxiv-split -s 3 -o out bad
	assert_failure 'arxiv-split: bad:31: missing or non-string "id"'
	diff -r before out
	[ "$(ls -A out | wc -l)" -eq 3 ]
	printf '{"id":"1","label":"A"}\n{"id":"2","label"\n' > bad2
	run arxiv-split -S -s 3 -o out < bad2
	assert_failure "arxiv-split: <stdin>:2: invalid JSON: ':' expected near end of file"
	diff -r before out
	[ "$(ls -A out | wc -l)" -eq 3 ]
	run arxiv-split -s 3 -o out nonexistent
	assert_failure "arxiv-split: nonexistent: No such file or directory"
	diff -r before out
}

@test "arxiv-split: a write error fails and leaves the old outputs" {
	records 3000 > f
	arxiv-split -s 3 -o out f
	cp -r out before
	# at most 64 KiB per file: writing train.jsonl fails with EFBIG
	run bash -c "trap '' XFSZ; ulimit -f 64; arxiv-split -s 9 -o out f"
	assert_failure
	assert_output_contains "write error: File too large"
	diff -r before out
	[ "$(ls -A out | wc -l)" -eq 3 ]
}

@test "arxiv-split: an output that is a symbolic link or a FIFO is refused, nothing replaced" {
	records 50 > f
	mkdir out
	echo precious > victim
	ln -s ../victim out/val.jsonl
	run arxiv-split -s 3 -o out f
	assert_failure "arxiv-split: out/val.jsonl: is a symbolic link, not a regular file; refusing to replace it (write to a new name)"
	[ -L out/val.jsonl ] && [ "$(cat victim)" = precious ]
	[ "$(ls -A out)" = val.jsonl ]
	rm out/val.jsonl
	mkfifo out/test.jsonl
	run arxiv-split -s 3 -o out f
	assert_failure
	assert_output_contains "out/test.jsonl: is a FIFO"
	[ -p out/test.jsonl ] && [ "$(ls -A out)" = test.jsonl ]
}

@test "arxiv-split: ratios hold, outputs partition the input, records are unchanged and in order" {
	records 5000 > f
	run arxiv-split --verbose -s 42 -o out f
	assert_success
	cat out/train.jsonl out/val.jsonl out/test.jsonl | sort > all
	sort f | cmp - all
	n0=$(wc -l < out/train.jsonl); n1=$(wc -l < out/val.jsonl); n2=$(wc -l < out/test.jsonl)
	assert_output "arxiv-split: train $n0, val $n1, test $n2"
	[ "$n0" -gt 3850 ] && [ "$n0" -lt 4150 ] && [ "$n1" -gt 425 ] && [ "$n1" -lt 575 ]
	# order kept: train.jsonl is a subsequence of the input
	grep -Fx -f out/train.jsonl f | cmp - out/train.jsonl
	# another seed, another split; the same seed, the same split
	arxiv-split -s 43 -o other f
	! cmp -s out/test.jsonl other/test.jsonl
	arxiv-split -s 42 -o again f
	diff -r out again
}

@test "arxiv-split: the same split for shuffled input, for pieces, and from stdin" {
	records 2000 > f
	arxiv-split -s 7 -o a f
	shuf f > g
	arxiv-split -s 7 -o b < g
	for s in train val test; do sort "a/$s.jsonl" | cmp - <(sort "b/$s.jsonl"); done
	# split in two pieces: the union of the pieces' sets is the whole's
	head -n 700 g | arxiv-split -s 7 -o p1
	tail -n +701 g | arxiv-split -s 7 -o p2
	for s in train val test; do sort "p1/$s.jsonl" "p2/$s.jsonl" | cmp - <(sort "a/$s.jsonl"); done
}

@test "arxiv-split -S: exact counts per label, order independent, stdin spooled" {
	records 1000 > f
	run arxiv-split --verbose -S -s 5 -r 0.7,0.2,0.1 -o a f
	assert_success
	python3 - f a <<'PY'
import json, sys, collections
n = collections.Counter(json.loads(l)["label"] for l in open(sys.argv[1]))
for s, lo, hi in (("train", 0, 0.7), ("val", 0.7, 0.9), ("test", 0.9, 1.0)):
    got = collections.Counter(json.loads(l)["label"] for l in open(f"{sys.argv[2]}/{s}.jsonl"))
    for lab, m in n.items():
        want = int(m * hi + 0.5) - int(m * lo + 0.5)
        assert got[lab] == want, (s, lab, got[lab], want, m)
PY
	# per-label rounding: the totals are within one record per label of 700/200/100
	assert_line "arxiv-split: train 699, val 202, test 99"
	shuf f | arxiv-split -S -s 5 -r 0.7,0.2,0.1 -o b
	for s in train val test; do sort "a/$s.jsonl" | cmp - <(sort "b/$s.jsonl"); done
	[ -z "$(ls -A b | grep -v -x -e train.jsonl -e val.jsonl -e test.jsonl)" ]
	# one label alone: the stratified split of the whole ratio 80/10/10 exactly
	grep -F '"label":"Physics"' f > phys
	m=$(wc -l < phys)
	run arxiv-split --verbose -S -s 1 -o c phys
	assert_line "arxiv-split: Physics: train $(( (m * 8 + 5) / 10 )), val $(( (m * 9 + 5) / 10 - (m * 8 + 5) / 10 )), test $(( m - (m * 9 + 5) / 10 ))"
}

@test "arxiv-split -k skips bad records in both passes of -S" {
	records 100 > f
	{ head -n 10 f; echo 'garbage'; echo '{"id":"x"}'; tail -n 90 f; } > g
	run arxiv-split -k -S -s 2 -o out g
	assert_success
	assert_line "arxiv-split: g:11: invalid JSON: '[' or '{' expected near 'garbage'"
	assert_line 'arxiv-split: g:12: missing or non-string "label" (needed by -S)'
	assert_line "arxiv-split: skipped 2 records"
	[ "${#lines[@]}" -eq 3 ]
	[ "$(cat out/*.jsonl | wc -l)" -eq 100 ]
}

@test "arxiv-split on a tensor stream: .bin outputs, same ids as the JSONL split" {
	records 300 > f
	tensor f > all.bin || { echo "arxiv-tok failed"; return 1; }
	run arxiv-split --verbose -s 11 -o t all.bin
	assert_success
	[ -s t/train.bin ] && [ -s t/val.bin ] && [ -s t/test.bin ] && [ ! -e t/train.jsonl ]
	arxiv-split -s 11 -o j f
	for s in train val test; do
		arxiv-tok -d "t/$s.bin" | cut -f1 | sort > "$s.tids"
		ids "j/$s.jsonl" | cmp - "$s.tids" || { echo "$s differs"; return 1; }
	done
	# each output is a complete stream with the input's header: sizes add up
	h=$(( $(stat -c %s t/train.bin) + $(stat -c %s t/val.bin) + $(stat -c %s t/test.bin) - $(stat -c %s all.bin) ))
	rec=$(( ($(stat -c %s all.bin) - h / 2) / 300 ))
	[ $(( (h / 2) + 300 * rec )) -eq "$(stat -c %s all.bin)" ]
	# from a pipe, and stratified from a pipe (spooled): the same
	arxiv-split -s 11 -o p < all.bin
	cat all.bin | arxiv-split -s 11 -o q
	diff -r t p
	diff -r t q
	cat all.bin | arxiv-split -S -s 11 -o sp
	arxiv-split -S -s 11 -o sf all.bin
	diff -r sp sf
	arxiv-split -S -s 11 -o sj f
	for s in train val test; do
		arxiv-tok -d "sp/$s.bin" | cut -f1 | sort | cmp - <(ids "sj/$s.jsonl")
	done
}

@test "arxiv-split rejects a damaged tensor stream and keeps the old outputs" {
	records 20 > f
	tensor f > all.bin || { echo "arxiv-tok failed"; return 1; }
	arxiv-split -s 1 -o out all.bin
	cp -r out before
	size=$(stat -c %s all.bin)
	head -c $((size - 7)) all.bin > trunc.bin
	run arxiv-split -s 1 -o out trunc.bin
	assert_failure
	assert_output_contains "truncated record"
	run arxiv-split -S -s 1 -o out < trunc.bin
	assert_failure
	assert_output_contains "truncated record"
	{ head -c 8 all.bin; printf '\x09\x00\x00\x00'; tail -c +13 all.bin; } > version.bin
	run arxiv-split -s 1 -o out version.bin
	assert_failure
	assert_output_contains "version"
	head -c 20 all.bin > header.bin
	run arxiv-split -s 1 -o out header.bin
	assert_failure
	assert_output_contains "truncated header"
	diff -r before out
	# no magic: read as JSON Lines, which it is not
	printf '\x89AXT\r\n' > short.bin
	run arxiv-split -s 1 -o out short.bin
	assert_failure
	assert_output_contains "short.bin:1: invalid"
	diff -r before out
}

@test "arxiv-split man page EXAMPLES run" {
	command -v arxiv-tok >/dev/null || skip "arxiv-tok not built"
	records 200 > mapped.jsonl
	printf '{"id":"%s","title":"T","abstract":"Some words here.","categories":"cs.AI"}\n' 1 2 3 > papers.json
	cp "$CASES/arxiv-tok/vocab.txt" .
	local cmd n=0
	while IFS= read -r cmd; do
		run bash -o pipefail -c "$cmd"
		[ "$status" -eq 0 ] || { echo "failed: $cmd"; echo "$output"; return 1; }
		n=$((n + 1))
	done < <(man_examples man1/arxiv-split.1)
	[ "$n" -eq 5 ]
	[ -f split/train.jsonl ] && [ -f strat/val.jsonl ] && [ -f data/split/test.bin ]
}

@test "arxiv-split on real data: part 000, ratios and shuffle invariance" {
	need_shared 0
	part=$(shared_part 0)
	zcat "$part" | head -n 20000 | arxiv-map > mapped.jsonl
	run arxiv-split --verbose -S -s 42 -o s mapped.jsonl
	assert_success
	python3 - mapped.jsonl s <<'PY'
import json, sys, collections
n = collections.Counter(json.loads(l)["label"] for l in open(sys.argv[1]))
assert sum(n.values()) == 20000
for s, lo, hi in (("train", 0, 0.8), ("val", 0.8, 0.9), ("test", 0.9, 1.0)):
    got = collections.Counter(json.loads(l)["label"] for l in open(f"{sys.argv[2]}/{s}.jsonl"))
    for lab, m in n.items():
        assert got[lab] == int(m * hi + 0.5) - int(m * lo + 0.5), (s, lab)
PY
	shuf mapped.jsonl | arxiv-split -S -s 42 -o t
	for x in train val test; do cmp <(ids "s/$x.jsonl") <(ids "t/$x.jsonl"); done
}

@test "arxiv-split killed by SIGTERM leaves no temporary file" {
	records 100 > f
	mkdir out
	mkfifo fifo
	arxiv-split -s 1 -o out < fifo &
	pid=$!
	exec 7> fifo	# held open: arxiv-split waits for more input (bats owns fd 3)
	cat f >&7
	for _ in $(seq 50); do ls out/*.tmp >/dev/null 2>&1 && break; sleep 0.1; done
	ls out/*.tmp >/dev/null 2>&1	# the temporaries exist while it runs
	kill -TERM "$pid"
	wait "$pid" && st=0 || st=$?
	exec 7>&-
	[ "$st" -eq 143 ]
	[ -z "$(ls -A out)" ] || { ls -A out; return 1; }
}

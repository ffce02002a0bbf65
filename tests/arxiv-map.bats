#!/usr/bin/env bats
# arxiv-map.bats - options, golden cases, every bad-record message, real data.
load helper

USAGE="usage: arxiv-map [-a | --abstract-only] [-k | --keep-going] [--map=table] [--verbose] [file ...]"

rec() {	# rec ID ABSTRACT-JSON [CATEGORIES]
	printf '{"id":"%s","title":"T","abstract":%s,"categories":"%s"}\n' "$1" "$2" "${3:-cs.AI}"
}

@test "arxiv-map --help prints the usage line and exits 0" {
	run arxiv-map --help
	assert_success
	[ "$(synopsis)" = "$USAGE" ]
}

@test "arxiv-map with a bad option prints the usage on stderr and exits 2" {
	run arxiv-map --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-map -x
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	arxiv-map -x 2>/dev/null </dev/null | { ! read -r; }	# nothing on stdout
}

@test "arxiv-map --version" {
	run arxiv-map --version
	assert_success "arxiv-map 0.1.0"
}

@test "arxiv-map golden cases (tests/cases/arxiv-map)" {
	local d n=0 args want_status
	for d in "$CASES"/arxiv-map/*/; do
		args=""; [ -f "$d/args" ] && args=$(cat "$d/args")
		want_status=0; [ -f "$d/status" ] && want_status=$(cat "$d/status")
		eval "set -- $args"
		arxiv-map "$@" < "$d/input" > out 2> err && st=0 || st=$?
		[ "$st" -eq "$want_status" ] || { echo "$d: status $st, want $want_status"; cat err; return 1; }
		diff -u "$d/output" out || { echo "$d: stdout differs"; return 1; }
		if [ -f "$d/error" ]; then diff -u "$d/error" err || { echo "$d: stderr differs"; return 1; }
		else [ ! -s err ] || { echo "$d: unexpected stderr"; cat err; return 1; }; fi
		n=$((n + 1))
	done
	[ "$n" -ge 8 ]
}

@test "arxiv-map on empty input writes nothing and succeeds" {
	run arxiv-map < /dev/null
	assert_success ""
	run arxiv-map --verbose < /dev/null
	assert_success
	assert_line "arxiv-map: 0 records"
	assert_line "arxiv-map: Other: 0"
}

@test "arxiv-map names file and line of each kind of bad record" {
	rec 1 '"A"' > good
	{ cat good; rec 2 '"  "'; } > f
	run arxiv-map f
	assert_failure
	assert_line "arxiv-map: f:2: empty abstract"

	{ cat good; cat good; rec 3 '["A"]'; } | { run arxiv-map; assert_failure; \
		assert_line 'arxiv-map: <stdin>:3: missing or non-string "abstract"'; }

	printf '{"id":"1","title":"T\xff","abstract":"A","categories":"cs"}\n' > u
	run arxiv-map u
	assert_failure 'arxiv-map: u:1: invalid UTF-8 at byte 20'

	{ cat good; printf '{"id":"1",\0"title":"T"}\n'; } > z
	run arxiv-map z
	assert_failure
	assert_line "arxiv-map: z:2: NUL byte in line"

	{ cat good; python3 -c 'print("{\"id\":\"1\",\"abstract\":\"" + "a" * (1 << 20) + "\"}")'; cat good; } > long
	run arxiv-map long
	assert_failure
	assert_line "arxiv-map: long:2: line longer than 1048576 bytes"
	run arxiv-map -k long
	assert_success
	[ "${#lines[@]}" -eq 4 ]
	assert_line "arxiv-map: skipped 1 records"

	printf '{"id":"1","title":"T","abstract":"A","categories":"cs.AI"' > trunc	# no newline, unfinished
	run arxiv-map trunc
	assert_failure "arxiv-map: trunc:1: invalid JSON: '}' expected near end of file"

	echo '{"id":"1","id":"2","title":"T","abstract":"A","categories":"cs.AI"}' > dup
	run arxiv-map dup
	assert_failure "arxiv-map: dup:1: invalid JSON: duplicate object key near '\"id\"'"
}

@test "arxiv-map stops at the first bad record, after writing the good ones before it" {
	{ rec 1 '"A"'; rec 2 'null'; rec 3 '"C"'; } > f
	arxiv-map f > out 2> err && false
	[ "$(wc -l < out)" -eq 1 ]
	grep -q '"id":"1"' out
	[ "$(cat err)" = 'arxiv-map: f:2: missing or non-string "abstract"' ]
}

@test "arxiv-map reads several operands and - as stdin, line numbers per file" {
	rec a '"A"' > one
	{ rec b '"B"'; rec c '""'; } > two
	run arxiv-map one - two < one
	assert_failure
	[ "${#lines[@]}" -eq 4 ]
	assert_line "arxiv-map: two:2: empty abstract"
	run arxiv-map nonexistent one
	assert_failure
	assert_line "arxiv-map: nonexistent: No such file or directory"
	[ "${#lines[@]}" -eq 2 ]	# went on with the next operand
}

@test "arxiv-map > /dev/full exits 1" {
	rec 1 '"A"' > f
	run sh -c 'arxiv-map f > /dev/full'
	assert_failure
	assert_output_contains "write error"
	run sh -c 'arxiv-map --version > /dev/full'
	assert_failure
	# a long input stops early instead of reading to the end
	for _ in $(seq 2000); do cat f; done > many
	run sh -c 'arxiv-map many > /dev/full'
	assert_failure
}

@test "arxiv-map -m: another table, and a bad table is an error" {
	rec 1 '"A"' "hep-th.XX q-fin.CP cs.AI" > f
	run arxiv-map --map "$ARXIV_DATADIR/archives.tsv" f
	assert_success
	assert_output_contains '"label":"hep-th","categories":["hep-th.XX","q-fin.CP","cs.AI"],"fields":["hep-th","q-fin","cs"]'
	printf 'cs\tCS\nmath Mathematics\n' > bad.tsv
	run arxiv-map --map bad.tsv f
	assert_failure "arxiv-map: bad.tsv:2: expected code<TAB>label"
	run arxiv-map --map nonexistent.tsv f
	assert_failure "arxiv-map: nonexistent.tsv: No such file or directory"
	ARXIV_DATADIR=/nonexistent run arxiv-map f
	assert_failure "arxiv-map: /nonexistent/domains.tsv: No such file or directory"
}

@test "arxiv-map -a: abstract only" {
	rec 1 '" Only this. "' > f
	run arxiv-map -a f
	assert_success '{"id":"1","text":"Only this.","label":"Computer Science","categories":["cs.AI"],"fields":["Computer Science"]}'
}

@test "arxiv-map under parallel --pipe gives the serial output" {
	command -v parallel >/dev/null || skip "GNU parallel not installed"
	for i in $(seq 3000); do rec "$i" "\"abstract $i\"" "math.AG cs.LG"; done > f
	arxiv-map f > serial
	parallel --pipe -k --block 20k arxiv-map < f > par
	cmp serial par
	[ "$(wc -l < par)" -eq 3000 ]
}

@test "arxiv-map man page EXAMPLES run" {
	need_shared 0
	shared_head 300 > arxiv-metadata-oai-snapshot.json
	gzip -k arxiv-metadata-oai-snapshot.json
	cp "$ARXIV_DATADIR/archives.tsv" .
	local cmd n=0
	while IFS= read -r cmd; do
		run bash -o pipefail -c "$cmd"
		[ "$status" -eq 0 ] || { echo "failed: $cmd"; echo "$output"; return 1; }
		n=$((n + 1))
	done < <(man_examples man1/arxiv-map.1)
	[ "$n" -eq 4 ]
	[ "$(wc -l < mapped.jsonl)" -eq 300 ]
	[ "$(wc -l < archives.jsonl)" -eq 300 ]
}

@test "arxiv-map: part 000 has the README's field proportions, and nothing is Other" {
	need_shared 0
	part=$(shared_part 0)
	zcat "$part" | arxiv-map --verbose 2> counts > mapped.jsonl
	cat counts
	grep -qx 'arxiv-map: 55000 records' counts
	grep -qx 'arxiv-map: Other: 0' counts
	# README (all 220,000): Mathematics 70,703 CS 70,074 Physics 67,685 Biology 5,844
	# Engineering 2,957 Economics 2,737; a quarter sample is within 1 point of that
	python3 - counts <<'PY'
import sys
want = {"Mathematics": 70703, "Computer Science": 70074, "Physics": 67685,
        "Biology": 5844, "Engineering": 2957, "Economics": 2737}
got = {}
for l in open(sys.argv[1]):
    k, _, v = l.strip().removeprefix("arxiv-map: ").rpartition(": ")
    if k: got[k] = int(v)
n = sum(got.values())
for k, v in want.items():
    a, b = got[k] / n, v / 220000
    assert abs(a - b) < 0.01, (k, a, b)
PY
	# every record has a label among the fields, the primary first
	python3 -c '
import json, sys
for l in open("mapped.jsonl"):
    r = json.loads(l)
    assert list(r) == ["id", "text", "label", "categories", "fields"], r.keys()
    assert r["fields"][0] == r["label"] and len(set(r["fields"])) == len(r["fields"])
    assert "Other" not in r["fields"], r
'
}

@test "arxiv-map: every category code in the real data maps to a known field" {
	need_shared 0
	local f c
	for f in "$ARXIV_SHARED"/data/arxiv-part-00*.jsonl.gz; do zcat "$f"; done |
		grep -o '"categories": "[^"]*"' | cut -d'"' -f4 | tr ' ' '\n' | sort -u |
		while read -r c; do
			printf '{"id":"%s","title":"t","abstract":"a","categories":"%s"}\n' "$c" "$c"
		done > codes.jsonl
	[ "$(wc -l < codes.jsonl)" -gt 150 ]
	arxiv-map codes.jsonl > mapped
	run grep '"label":"Other"' mapped
	[ "$status" -eq 1 ] || { echo "codes that fall to Other:"; echo "$output"; return 1; }
}

@test "arxiv-map streams in constant memory" {
	command -v /usr/bin/time >/dev/null 2>&1 || skip "/usr/bin/time not installed"
	if ldd "$(command -v arxiv-map)" | grep -q libasan; then
		skip "AddressSanitizer build: its quarantine makes RSS meaningless"
	fi
	need_shared 0
	part=$(shared_part 0)
	zcat "$part" | /usr/bin/time -f '%M' -o rss arxiv-map > /dev/null
	[ "$(cat rss)" -lt 65536 ] || { echo "peak RSS $(cat rss) KiB"; return 1; }
}

@test "arxiv-map reads gzip input directly: file, stdin, several members; a truncated one is an error" {
	for d in "$CASES"/arxiv-map/basic; do cp "$d/input" plain.jsonl; done
	arxiv-map plain.jsonl > want.jsonl
	[ -s want.jsonl ]
	gzip -c plain.jsonl > in.jsonl.gz
	run arxiv-map in.jsonl.gz
	assert_success
	[ "$output" = "$(cat want.jsonl)" ]
	arxiv-map < in.jsonl.gz > got.jsonl
	cmp want.jsonl got.jsonl
	# a dump in parts: concatenated members, then a plain file after a gzip one
	{ head -n 3 plain.jsonl | gzip -c; tail -n +4 plain.jsonl | gzip -c; } > parts.gz
	arxiv-map parts.gz > got.jsonl
	cmp want.jsonl got.jsonl
	arxiv-map in.jsonl.gz plain.jsonl > two.jsonl
	[ "$(wc -l < two.jsonl)" -eq $(($(wc -l < want.jsonl) * 2)) ]
	head -c 60 in.jsonl.gz > cut.gz
	run arxiv-map cut.gz
	assert_failure
	assert_line "arxiv-map: gzip input ends inside a compressed member (truncated file?)"
	[[ "$output" != *"NUL byte"* ]]
}

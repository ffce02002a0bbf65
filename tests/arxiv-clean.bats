#!/usr/bin/env bats
# arxiv-clean.bats - options, golden cases, bad records, the fast path against
# jansson, parallel == serial on real records, the man page examples.
load helper

USAGE="usage: arxiv-clean [-f field | --field=field] [-p | --plain] [-n bytes | --truncate=bytes] [--stopwords=file] [-l lang | --stem-lang=lang] [-N | --no-nfkc] [-L | --no-latex] [-F | --no-filter] [-W | --no-space] [-C | --no-casefold] [-S | --no-stop] [-T | --no-stem] [-P | --signature] [-J | --jansson] [-k | --keep-going] [file ...]"
SIG="v1 nfkc,latex,filter,space,lower,stop,stem trunc=0 stem=english stop=default"

# jsonl_norm [KEYS...] < in: each record re-encoded (escapes decoded), or only
# the listed keys as a JSON array
jsonl_norm() {
	python3 -c '
import json, sys
keys = sys.argv[1:]
for l in sys.stdin:
    r = json.loads(l)
    print(json.dumps([r[k] for k in keys] if keys else r, ensure_ascii=False, separators=(",", ":")))' "$@"
}

@test "arxiv-clean --help prints the usage line and exits 0" {
	run arxiv-clean --help
	assert_status 0
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-clean -h
	assert_status 0
	[ "$(synopsis)" = "$USAGE" ]
}

@test "arxiv-clean with a bad option prints the usage on stderr and exits 2" {
	run arxiv-clean --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-clean -x
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	arxiv-clean -x 2>/dev/null </dev/null | { ! read -r; }	# nothing on stdout
	run arxiv-clean -n -3
	assert_status 2
	assert_output_contains "invalid truncation"
	run arxiv-clean -n 12x
	assert_status 2
}

@test "arxiv-clean --version" {
	run arxiv-clean --version
	assert_success "arxiv-clean 0.1.0"
}

@test "arxiv-clean golden cases (tests/cases/arxiv-clean)" {
	local d n=0 args want_status
	for d in "$CASES"/arxiv-clean/*/; do
		args=""; [ -f "$d/args" ] && args=$(cat "$d/args")
		want_status=0; [ -f "$d/status" ] && want_status=$(cat "$d/status")
		eval "set -- $args"
		arxiv-clean "$@" < "$d/input" > out 2> err && st=0 || st=$?
		[ "$st" -eq "$want_status" ] || { echo "$d: status $st, want $want_status"; cat err; return 1; }
		diff -u "$d/output" out || { echo "$d: stdout differs"; return 1; }
		if [ -f "$d/error" ]; then diff -u "$d/error" err || { echo "$d: stderr differs"; return 1; }
		else [ ! -s err ] || { echo "$d: unexpected stderr"; cat err; return 1; }; fi
		# the jansson path gives the same result (outputs differ only in escapes kept)
		if [ "$want_status" -eq 0 ] && [ -s out ]; then
			arxiv-clean -J "$@" < "$d/input" > outj 2> /dev/null
			if [[ " $args " != *" -p "* && " $args " != *" -P "* ]]; then
				jsonl_norm clean prep < out > a; jsonl_norm clean prep < outj > b
				cmp a b || { echo "$d: -J differs"; diff out outj; return 1; }
			else cmp out outj; fi
		fi
		n=$((n + 1))
	done
	[ "$n" -ge 15 ]
}

@test "arxiv-clean on empty input writes nothing and succeeds" {
	run arxiv-clean < /dev/null
	assert_success ""
	run arxiv-clean -p < /dev/null
	assert_success ""
}

@test "arxiv-clean adds clean and prep, keeps other keys and their order" {
	echo '{"z":1,"text":"The Networks","a":{"b":[1,2.5,"x"]},"label":"CS"}' > f
	run arxiv-clean f
	assert_success "{\"z\":1,\"text\":\"The Networks\",\"a\":{\"b\":[1,2.5,\"x\"]},\"label\":\"CS\",\"clean\":\"network\",\"prep\":\"$SIG\"}"
	run arxiv-clean -P
	assert_success "$SIG"
}

@test "arxiv-clean names file and line of each kind of bad record" {
	echo '{"id":"1","text":"good"}' > good
	{ cat good; echo '{"id":"2","text":"x"'; } > f
	run arxiv-clean f
	assert_failure
	[ "${lines[1]}" = "arxiv-clean: f:2: invalid JSON: '}' expected near end of file" ]

	{ cat good; cat good; echo '{"id":"3"}'; } | { run arxiv-clean; assert_failure; \
		[ "${lines[2]}" = 'arxiv-clean: <stdin>:3: missing "text" field' ]; }
	echo '{"text":null}' > n
	run arxiv-clean n
	assert_failure 'arxiv-clean: n:1: "text" is not a string'
	echo '{"text":"  "}' > e
	run arxiv-clean e
	assert_failure 'arxiv-clean: e:1: empty "text" field'
	printf '{"text":"T\xff"}\n' > u
	run arxiv-clean u
	assert_failure 'arxiv-clean: u:1: invalid UTF-8 at byte 10'
	{ cat good; printf '{"id":"1",\0"text":"T"}\n'; } > z
	run arxiv-clean z
	assert_failure
	[ "${lines[1]}" = "arxiv-clean: z:2: NUL byte in line" ]
	echo '{"text":"a\u0000b"}' > z2
	run arxiv-clean z2
	assert_failure
	assert_output_contains 'arxiv-clean: z2:1: invalid JSON: \u0000 is not allowed'
	echo '[1]' > arr
	run arxiv-clean arr
	assert_failure 'arxiv-clean: arr:1: not a JSON object'
	echo '{"abstract":"x"}' > fld
	run arxiv-clean -f title fld
	assert_failure 'arxiv-clean: fld:1: missing "title" field'

	{ cat good; python3 -c 'print("{\"text\":\"" + "a " * (1 << 19) + "\"}")'; cat good; } > long
	run arxiv-clean long
	assert_failure
	[ "${lines[1]}" = "arxiv-clean: long:2: line longer than 1048576 bytes" ]
	run arxiv-clean -k long
	assert_success
	[ "${#lines[@]}" -eq 4 ]
	assert_line "arxiv-clean: skipped 1 records"

	printf 'fine\n\nalso fine\n' > plain
	run arxiv-clean -p plain
	assert_failure
	[ "${lines[1]}" = "arxiv-clean: plain:2: empty text" ]
}

@test "arxiv-clean stops at the first bad record, after writing the good ones before it" {
	printf '{"text":"A one"}\n{"text":1}\n{"text":"C three"}\n' > f
	arxiv-clean f > out 2> err && false
	[ "$(wc -l < out)" -eq 1 ]
	grep -q '"clean":"one"' out
	[ "$(cat err)" = 'arxiv-clean: f:2: "text" is not a string' ]
	run arxiv-clean -k f
	assert_success
	[ "${#lines[@]}" -eq 4 ]
	assert_line "arxiv-clean: skipped 1 records"
}

@test "arxiv-clean reads several operands and - as stdin, line numbers per file" {
	echo '{"text":"a b"}' > one
	printf '{"text":"c"}\n{"text":""}\n' > two
	run arxiv-clean one - two < one
	assert_failure
	[ "${#lines[@]}" -eq 4 ]
	assert_line 'arxiv-clean: two:2: empty "text" field'
	run arxiv-clean nonexistent one
	assert_failure
	assert_line "arxiv-clean: nonexistent: No such file or directory"
}

@test "arxiv-clean > /dev/full exits 1" {
	echo '{"text":"some words"}' > f
	run sh -c 'arxiv-clean f > /dev/full'
	assert_failure
	assert_output_contains "write error"
	run sh -c 'arxiv-clean --version > /dev/full'
	assert_failure
	run sh -c 'arxiv-clean -P > /dev/full'
	assert_failure
	for _ in $(seq 3000); do cat f; done > many
	run sh -c 'arxiv-clean many > /dev/full'
	assert_failure
}

@test "arxiv-clean step options switch steps and change the signature" {
	echo '{"text":"The \\emph{Networks}, ﬁne!"}' > f
	run arxiv-clean -p -S -T <<< 'The \emph{Networks}, ﬁne!'
	assert_success "the networks fine"
	run arxiv-clean -N -C -p -S -T <<< 'ﬁne'
	assert_success "ﬁne"
	run arxiv-clean -p -L -S -T <<< 'a \emph{b}'
	assert_success "a emph b"
	run arxiv-clean -p -F -S -T <<< 'state-of-the-art'
	assert_success "state-of-the-art"
	run arxiv-clean -p -C -S -T <<< 'Big Data'
	assert_success "Big Data"
	run arxiv-clean -p -T <<< 'the networks'
	assert_success "networks"
	run arxiv-clean -p -n 9 <<< 'neural networks rock'
	assert_success "neural"
	run arxiv-clean -P -N -L -F -W -C -S -T -n 5
	assert_success "v1 none trunc=5 stem=none stop=none"
	run arxiv-clean -P -l german
	assert_success "v1 nfkc,latex,filter,space,lower,stop,stem trunc=0 stem=german stop=default"
	run arxiv-clean -l klingon -P
	assert_failure "arxiv-clean: unknown stemmer language: klingon"
}

@test "arxiv-clean -s: custom stop words, hashed into the signature; missing lists fail" {
	printf '# mine\nfoo\nbar\n' > stop.txt
	run arxiv-clean -p --stopwords stop.txt <<< 'foo and the bar'
	assert_success "and the"
	run arxiv-clean -P --stopwords stop.txt
	assert_success
	[[ "$output" =~ ^v1\ .*\ stop=[0-9a-f]{16}$ ]]
	run arxiv-clean -P --stopwords "$ARXIV_DATADIR/stopwords.txt"
	[[ "$output" =~ stop=[0-9a-f]{16}$ ]]
	run arxiv-clean --stopwords nonexistent.txt < /dev/null
	assert_failure "arxiv-clean: nonexistent.txt: cannot open stop-word list: No such file or directory"
	ARXIV_DATADIR=/nonexistent run arxiv-clean < /dev/null
	assert_failure "arxiv-clean: /nonexistent/stopwords.txt: cannot open stop-word list: No such file or directory"
	ARXIV_DATADIR=/nonexistent run arxiv-clean -S -P
	assert_success "v1 nfkc,latex,filter,space,lower,stem trunc=0 stem=english stop=none"
}

@test "arxiv-clean under parallel --pipe gives the serial output (real records)" {
	command -v parallel >/dev/null || skip "GNU parallel not installed"
	need_shared 1
	shared_head 3000 1 > raw.jsonl
	arxiv-clean -f abstract raw.jsonl > serial
	parallel --pipe -k --block 300k arxiv-clean -f abstract < raw.jsonl > par
	cmp serial par
	parallel --pipe -k -j2 --block 16M arxiv-clean -f abstract < raw.jsonl > par16
	cmp serial par16
	[ "$(wc -l < serial)" -eq 3000 ]
	# every record kept its keys and got a non-empty clean text
	SIG="$SIG" python3 -c '
import json, os, sys
for l in open("serial"):
    r = json.loads(l)
    assert r["clean"] and r["prep"] == os.environ["SIG"] and "abstract" in r and "id" in r, r
    assert list(r)[-2:] == ["clean", "prep"], list(r)'
	# and the input keys are unchanged, in their order
	jsonl_norm < raw.jsonl > a
	python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l); del r["clean"], r["prep"]
    print(json.dumps(r, ensure_ascii=False, separators=(",", ":")))' < serial > b
	cmp a b
}

@test "arxiv-clean fast path and jansson agree on real records" {
	need_shared 2
	shared_head 3000 2 > raw.jsonl
	arxiv-clean -f abstract raw.jsonl > fast
	arxiv-clean -J -f abstract raw.jsonl > slow
	[ "$(wc -l < fast)" -eq 3000 ]
	# jansson decodes \uXXXX escapes, the fast path keeps them: compare values
	jsonl_norm < fast > a; jsonl_norm < slow > b
	cmp a b
	# on compact jansson output (what arxiv-map writes) the bytes agree too
	jsonl_norm < raw.jsonl > compact
	arxiv-clean compact -f abstract > fast2
	arxiv-clean -J compact -f abstract > slow2
	cmp fast2 slow2
}

@test "arxiv-clean turns the LaTeX of real abstracts into words" {
	need_shared 1
	shared_head 5000 1 > raw.jsonl
	arxiv-clean -f abstract -S -T raw.jsonl > out
	python3 -c '
import json, re
n_alpha = n_umlaut = 0
for l in open("out"):
    r = json.loads(l)
    # no backslash macros, dollars or braces survive in any cleaned text
    assert not re.search(r"[\\${}]", r["clean"]), r
    # Greek macros became names, \"o became the letter
    if "$\\alpha$" in r["abstract"]:
        assert re.search(r"\balpha\b", r["clean"]), r
        n_alpha += 1
    if "\\\"o" in r["abstract"]:
        assert "\u00f6" in r["clean"], r
        n_umlaut += 1
assert n_alpha > 10 and n_umlaut > 0, (n_alpha, n_umlaut)
print(n_alpha, n_umlaut)'
}

@test "arxiv-clean man page EXAMPLES run" {
	printf '{"id":"0704.0001","title":"T","abstract":"Some $\\\\alpha$ text.","categories":"hep-ph"}\n' |
		gzip > arxiv-metadata-oai-snapshot.json.gz
	local cmd n=0
	while IFS= read -r cmd; do
		run bash -o pipefail -c "$cmd"
		[ "$status" -eq 0 ] || { echo "failed: $cmd"; echo "$output"; return 1; }
		n=$((n + 1))
		case $n in
		1) assert_output "{\"id\":\"1\",\"text\":\"The \$\\\\alpha\$-stable networks of Erd\\\\H{o}s\",\"clean\":\"alpha stabl network erdő\",\"prep\":\"$SIG\"}" ;;
		2) assert_output "we use new fast r n maps of schrödinger type" ;;
		4) assert_output "v1 nfkc,latex,filter,space,lower,stem trunc=2000 stem=english stop=none" ;;
		5) assert_output_contains '"clean":"and baz"' ;;
		esac
	done < <(man_examples man1/arxiv-clean.1 | sed 's/\\(dq/"/g')
	[ "$n" -eq 5 ]
	[ "$(wc -l < clean.jsonl)" -eq 1 ]
	grep -q '"clean":"alpha text"' clean.jsonl
}

@test "arxiv-clean stops on numbers jansson cannot hold, with jansson's message (as -J)" {
	echo '{"text":"a","n":123456789012345678901234567890}' > big
	run arxiv-clean big
	assert_failure 'arxiv-clean: big:1: invalid JSON: too big integer'
	run arxiv-clean -J big
	assert_failure 'arxiv-clean: big:1: invalid JSON: too big integer'
	echo '{"text":"a","n":1e999}' > inf
	run arxiv-clean inf
	assert_failure "arxiv-clean: inf:1: invalid JSON: real number overflow near '1e999'"
	run arxiv-clean -J inf
	assert_failure "arxiv-clean: inf:1: invalid JSON: real number overflow near '1e999'"
}

@test "arxiv-clean -f clean on a record that has \"clean\" replaces it, no duplicate key" {
	echo '{"text":"Graphs","clean":"Old Trees","id":"1"}' > f
	run arxiv-clean -f clean f
	assert_success "{\"text\":\"Graphs\",\"clean\":\"old tree\",\"id\":\"1\",\"prep\":\"$SIG\"}"
	[ "$(grep -o '"clean"' <<<"$output" | wc -l)" -eq 1 ]
	run arxiv-clean -J -f clean f
	assert_success "{\"text\":\"Graphs\",\"clean\":\"old tree\",\"id\":\"1\",\"prep\":\"$SIG\"}"
}

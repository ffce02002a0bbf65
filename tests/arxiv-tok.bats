#!/usr/bin/env bats
# arxiv-tok.bats - options, golden cases (decoded with -d), the tensor header,
# bad records, damaged streams under -d, --learn, SciBERT on real records, the
# man page examples. Token ids against Hugging Face: tests/unit/test_wordpiece.c.
load helper

USAGE="usage: arxiv-tok [-d | --decode] [-f field | --field=field] [-J | --jansson] [-k | --keep-going] [-l size | --learn=size] [--labels=labels.tsv] [-n seq_len | --seq-len=seq_len] [-v vocab.txt | --vocab=vocab.txt] [file ...]"
P="v1 nfkc,latex,filter,space,lower,stop,stem trunc=0 stem=english stop=default"

setup() {
	TMP="$(mktemp -d "${BATS_TMPDIR:-/tmp}/arxiv.XXXXXX")"
	cd "$TMP" || return 1
	cp "$CASES/arxiv-tok/vocab.txt" vocab.txt
}

# Header fields of a tensor stream as "seq_len id_width n_labels flags n_records prep".
header() {
	python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89AXT\r\n\x1a\n"
v, hs, sl, iw, nl, fl, nr, vh, ls = struct.unpack("<6IQQI", d[8:52])
ps = struct.unpack("<I", d[52 + ls:56 + ls])[0]
prep = d[56 + ls:56 + ls + ps].decode()
labels = d[52:52 + ls].split(b"\0")[:-1]
assert hs == 56 + ls + ps and len(labels) == nl
rs = 12 + iw + 5 * sl
assert (len(d) - hs) % rs == 0
print(v, sl, iw, nl, fl, nr, "%016x" % vh, (len(d) - hs) // rs, "|".join(x.decode() for x in labels), prep, sep=" ")
PY
}

@test "arxiv-tok --help prints the usage line and exits 0" {
	run arxiv-tok --help
	assert_success
	[ "$(synopsis)" = "$USAGE" ]
}

@test "arxiv-tok with a bad option prints the usage on stderr and exits 2" {
	run arxiv-tok --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	arxiv-tok -x 2>/dev/null | { ! read -r; }
	run arxiv-tok -n 1 -v vocab.txt
	assert_status 2
	assert_output "arxiv-tok: 1: invalid sequence length (expected 2..65536)"
	run arxiv-tok -n 12x -v vocab.txt
	assert_status 2
	run arxiv-tok -l 3
	assert_status 2
}

@test "arxiv-tok --version" {
	run arxiv-tok --version
	assert_success "arxiv-tok 0.1.0"
}

@test "arxiv-tok without a vocabulary is a usage error" {
	run arxiv-tok < /dev/null
	assert_status 2
	[ "${lines[0]}" = "arxiv-tok: a vocabulary is required: -v vocab.txt (or build one with --learn)" ]
	[ "$(synopsis)" = "$USAGE" ]
}

@test "arxiv-tok golden cases (tests/cases/arxiv-tok), decoded with -d" {
	local d n=0 args want_status st
	for d in "$CASES"/arxiv-tok/*/; do
		args=""; [ -f "$d/args" ] && args=$(cat "$d/args")
		want_status=0; [ -f "$d/status" ] && want_status=$(cat "$d/status")
		eval "set -- $args"
		arxiv-tok "$@" -v vocab.txt < "$d/input" > out.bin 2> err && st=0 || st=$?
		[ "$st" -eq "$want_status" ] || { echo "$d: status $st, want $want_status"; cat err; return 1; }
		: > out
		if [ -s out.bin ]; then arxiv-tok -d -v vocab.txt out.bin > out; fi
		diff -u "$d/output" out || { echo "$d: decoded output differs"; return 1; }
		if [ -f "$d/error" ]; then diff -u "$d/error" err || { echo "$d: stderr differs"; return 1; }
		else [ ! -s err ] || { echo "$d: unexpected stderr"; cat err; return 1; }; fi
		n=$((n + 1))
	done
	[ "$n" -ge 14 ]
}

@test "arxiv-tok header: shape, labels of domains.tsv, vocab hash, prep, records" {
	arxiv-tok -n 16 -v vocab.txt < "$CASES/arxiv-tok/clean/input" > c.bin
	hash=$(python3 -c 'import sys
h = 0xcbf29ce484222325
for b in open("vocab.txt", "rb").read(): h = ((h ^ b) * 0x100000001b3) % 2**64
print("%016x" % h)')
	run header c.bin
	assert_success "1 16 32 7 1 0 $hash 2 Computer Science|Physics|Mathematics|Biology|Economics|Engineering|Other $P"
	# raw text: empty prep; a custom label table
	printf 'a\tA\nb\tB\n*\tZ\n' > t.tsv
	printf '{"id":"1","text":"x y","label":"B"}\n{"id":"2","text":"z","label":"Z"}\n' |
		arxiv-tok --labels t.tsv -n 4 -v vocab.txt > r.bin
	run header r.bin
	assert_success "1 4 32 3 1 0 $hash 2 A|B|Z "
	run arxiv-tok -d r.bin
	assert_success $'1\tB\t2 60 61 3\n2\tZ\t2 62 3'
}

@test "arxiv-tok on empty input writes a header-only stream" {
	arxiv-tok -v vocab.txt < /dev/null > e.bin
	run header e.bin
	assert_success
	[ "$(echo "$output" | cut -d' ' -f8)" = 0 ]
	# flags: 1 lowercase | 2 ARXIV_TENSOR_EMPTY (no record: prep unknown)
	[ "$(echo "$output" | cut -d' ' -f5)" = 3 ]
	run arxiv-tok -d e.bin
	assert_success ""
}

@test "arxiv-tok reads files and names them in errors" {
	printf '{"text":"a"}\n{"text":"b"}\n' > one.jsonl
	printf '{"text":"c"}\n{"txt":"d"}\n' > two.jsonl
	run bash -c 'arxiv-tok -n 4 -v vocab.txt one.jsonl - two.jsonl < one.jsonl 2>&1 > /dev/null'
	assert_failure 'arxiv-tok: two.jsonl:2: missing "text"'
	arxiv-tok -k -n 4 -v vocab.txt one.jsonl - two.jsonl < one.jsonl 2>/dev/null | arxiv-tok -d > d.txt
	[ "$(wc -l < d.txt)" -eq 5 ]
	run arxiv-tok -v vocab.txt nonexistent.jsonl
	assert_failure "arxiv-tok: nonexistent.jsonl: No such file or directory"
}

@test "arxiv-tok rejects a line over 1 MiB and goes on with -k" {
	python3 -c 'import json; print(json.dumps({"text": "a " * 600000})); print(json.dumps({"text": "ok"}))' > big.jsonl
	run arxiv-tok -n 4 -v vocab.txt big.jsonl
	assert_failure "arxiv-tok: big.jsonl:1: line longer than 1048576 bytes"
	arxiv-tok -k -n 4 -v vocab.txt big.jsonl 2>/dev/null | arxiv-tok -d -v vocab.txt > d.txt
	[ "$(cat d.txt)" = $'\t-\t[CLS] ok [SEP]' ]
}

@test "arxiv-tok refuses to write binary to a terminal" {
	command -v script >/dev/null || skip "script(1) not installed"
	run script -qec "arxiv-tok -v $TMP/vocab.txt < /dev/null" /dev/null
	assert_failure
	assert_output_contains "refusing to write a binary tensor stream to a terminal"
}

@test "arxiv-tok > /dev/full exits 1" {
	run bash -c "arxiv-tok -v vocab.txt < '$CASES/arxiv-tok/basic/input' > /dev/full"
	assert_failure
	assert_output_contains "write error"
	arxiv-tok -v vocab.txt < "$CASES/arxiv-tok/basic/input" > s.bin
	run bash -c "arxiv-tok -d s.bin > /dev/full"
	assert_failure
	assert_output_contains "write error"
	run bash -c "arxiv-tok -l 100 < '$CASES/arxiv-tok/basic/input' > /dev/full"
	assert_failure
	assert_output_contains "write error"
}

@test "arxiv-tok -d rejects damaged streams" {
	arxiv-tok -n 8 -v vocab.txt < "$CASES/arxiv-tok/basic/input" > s.bin
	run arxiv-tok -d < "$CASES/arxiv-tok/basic/input"
	assert_failure "arxiv-tok: <stdin>: not an arxiv tensor stream (bad magic); did you forget arxiv-tok?"
	head -c -3 s.bin > t.bin
	run arxiv-tok -d t.bin
	assert_failure
	[ "${lines[2]}" = "arxiv-tok: t.bin:3: truncated record (81 of 84 bytes)" ]
	python3 -c 'import sys; d = bytearray(open("s.bin", "rb").read()); d[8] = 2; sys.stdout.buffer.write(d)' > v.bin
	run arxiv-tok -d v.bin
	assert_failure "arxiv-tok: v.bin: unsupported tensor stream version 2 (this reader knows 1)"
	head -c 40 s.bin > h.bin
	run arxiv-tok -d h.bin
	assert_failure "arxiv-tok: h.bin: truncated header (40 of 52 bytes)"
}

@test "arxiv-tok -d -v checks the vocabulary hash" {
	arxiv-tok -n 8 -v vocab.txt < "$CASES/arxiv-tok/basic/input" > s.bin
	{ cat vocab.txt; echo extra; } > other.txt
	run arxiv-tok -d -v other.txt s.bin
	assert_failure
	assert_output_contains "arxiv-tok: s.bin: vocab mismatch: the stream was tokenised with vocab "
	run arxiv-tok -d -v vocab.txt s.bin
	assert_success
}

@test "arxiv-tok --learn builds a usable, order-independent vocabulary" {
	for i in $(seq 30); do
		echo '{"text":"Quantum graphs and quantum fields","label":"Physics"}'
		echo '{"text":"Tokenizers tokenize tokens; the tokens are tokenized.","clean":"token token"}'
	done > corpus.jsonl
	run arxiv-tok --learn 60 -f text corpus.jsonl
	assert_success
	[ "${lines[0]}" = "[PAD]" ] && [ "${lines[4]}" = "[MASK]" ]
	[ "${#lines[@]}" -le 60 ] && [ "${#lines[@]}" -gt 40 ]
	arxiv-tok -l 60 -f text corpus.jsonl > a.txt
	tac corpus.jsonl | arxiv-tok -l 60 -f text > b.txt
	cmp a.txt b.txt
	grep -qx quantum a.txt
	arxiv-tok -n 16 -f text -v a.txt corpus.jsonl | arxiv-tok -d -v a.txt | sed -n 2p > d.txt
	[ "$(cat d.txt)" = $'\t-\t[CLS] tokenizers tokenize tokens ; the tokens are tokenized . [SEP]' ]
	! arxiv-tok -d a.txt < /dev/null 2>/dev/null	# -d needs a stream, not a vocab
	run arxiv-tok -l 10 -f text corpus.jsonl
	assert_failure
	assert_output_contains "cannot hold the 5 special tokens and the"
	run arxiv-tok -l 100 corpus.jsonl < /dev/null
	assert_success
	[ "$(printf '%s\n' "${lines[@]}" | grep -c .)" -le 100 ]
}

@test "arxiv-tok --learn skips bad records with -k" {
	printf '{"text":"a b"}\nbad\n{"text":"a b"}\n' > c.jsonl
	run arxiv-tok -l 20 c.jsonl
	assert_failure "arxiv-tok: c.jsonl:2: invalid JSON: '[' or '{' expected near 'bad'"
	run arxiv-tok -k -l 20 c.jsonl
	assert_success
	assert_line "arxiv-tok: skipped 1 records"
}

@test "arxiv-tok with SciBERT's vocab on real records" {
	need_vocab
	vocab=$(shared_vocab)
	need_shared 0
	shared_head 300 | arxiv-map > mapped.jsonl
	arxiv-tok -v "$vocab" mapped.jsonl > raw.bin
	run header raw.bin
	assert_success
	[ "$(echo "$output" | cut -d' ' -f2,8)" = "256 300" ]
	arxiv-tok -d -v "$vocab" raw.bin > d.txt
	[ "$(wc -l < d.txt)" -eq 300 ]
	[ "$(grep -c '\[UNK\]' d.txt)" -lt 10 ]
	# every record starts with [CLS] and ends with [SEP]
	[ "$(cut -f3 d.txt | grep -vc '^\[CLS\] .* \[SEP\]$')" -eq 0 ]
	arxiv-clean < mapped.jsonl | arxiv-tok -v "$vocab" > clean.bin
	run header clean.bin
	assert_output_contains " 300 Computer Science|Physics|Mathematics|Biology|Economics|Engineering|Other v1 "
}

@test "arxiv-tok man page EXAMPLES run" {
	local cmd n=0
	printf '{"id":"%s","title":"Quantum graphs %s","abstract":"We prove the convergence of a model.","categories":"math.CO cs.DM"}\n' 1 a 2 b 3 c > papers.json
	if [ -r "$ARXIV_SHARED/vocab/scibert_scivocab_uncased.vocab.txt" ]; then
		cp "$ARXIV_SHARED/vocab/scibert_scivocab_uncased.vocab.txt" .
	else cp vocab.txt scibert_scivocab_uncased.vocab.txt; fi
	arxiv-map < papers.json | arxiv-clean > clean.jsonl
	while IFS= read -r cmd; do
		run bash -o pipefail -c "$cmd"
		[ "$status" -eq 0 ] || { echo "failed: $cmd"; echo "$output"; return 1; }
		n=$((n + 1))
	done < <(man_examples man1/arxiv-tok.1)
	[ "$n" -eq 8 ]
	[ -s all.bin ] && [ -s learnt.txt ] && [ -s raw.bin ] && [ -s par.bin ]
	run arxiv-tok -d raw.bin
	[ "${#lines[@]}" -eq 3 ]
}

@test "arxiv-tensor(5) and arxiv-tok(1) are mandoc -Tlint clean" {
	command -v mandoc >/dev/null || skip "mandoc not installed"
	run mandoc -Tlint -W warning "$TOP/man/man1/arxiv-tok.1" "$TOP/man/man5/arxiv-tensor.5"
	assert_success ""
}

@test "arxiv-tok fast record parser == jansson (-J) on odd and broken JSON" {
	python3 - > odd.jsonl <<'PY'
import json, random
rnd = random.Random(7)
base = [
    '{"id":"1","text":"plain text","label":"Physics"}',
    '{"id":"2","text":"esc \\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9\\u4e2d\\u0041","label":"Other"}',
    '{"id":"3","text":"surrogate \\ud83d\\ude80 rocket"}',
    '{"id":"4","text":"lone \\udc00 surrogate"}',
    '{"id":"5","text":"nul \\u0000 escape"}',
    ' \t{ "id" : "6" , "text" : "spaces" , "n" : -12.5 , "b" : [true, false, null, {"x": [1, {"y": "}"}]}] } \t',
    '{"id":"7","text":"big","n":123456789012345678901234567890}',
    '{"id":"8","text":"exp","n":1e400}',
    '{"id":"9","text":"dup","text":"second wins"}',
    '{"id":"10","te\\u0078t":"escaped key"}',
    '{"id":"11","clean":"cleaned","prep":"v1 x","text":"raw"}',
    '{"id":"12","text":"deep","d":' + '[' * 40 + ']' * 40 + '}',
    '{"id":"13","text":"x","label":null}',
    '{"id":14,"text":"numeric id"}',
    '{"id":"15","text":["not","a","string"]}',
    '{}', '[]', '"str"', '42', 'null', '',
    '{"id":"16","text":"trailing"} x',
    '{"id":"17","text":"\\x"}',
    '{"id":"18","text":"\\u12G4"}',
    '{"id":"19","text":"tab\tinside"}',
    '{"id":"20","text":"01","n":01}',
    '{"id":"21","text":"frac","n":1.}',
    '{"id":"22","text":"neg","n":-}',
    '{"id":"23","text":"ok",}',
    '{"id":"24" "text":"nocolon"}',
    '{"id":"25","text":"tru","b":tru}',
]
for line in base:
    print(line)
for i in range(2500):
    s = list(rnd.choice(base))
    for _ in range(rnd.randint(1, 3)):
        op = rnd.random()
        pos = rnd.randrange(len(s) + 1)
        if op < 0.4 and s:
            del s[min(pos, len(s) - 1)]
        elif op < 0.8:
            s.insert(pos, rnd.choice('{}[],:"\\ ute0-1.eE\t'))
        elif s:
            s[min(pos, len(s) - 1)] = rnd.choice('{}[],:"\\ ut0')
    print("".join(s).replace("\n", " "))
PY
	# invalid UTF-8 (the scanner rejects it; the message is arxiv-tok's own)
	printf '{"id":"26","text":"bad \xff utf8"}\n{"id":"27","te\xc3":"x"}\n\xc0\n' >> odd.jsonl
	arxiv-tok -k -n 16 -v vocab.txt odd.jsonl > fast.bin 2> fast.err || true
	arxiv-tok -J -k -n 16 -v vocab.txt odd.jsonl > slow.bin 2> slow.err || true
	cmp fast.bin slow.bin
	diff -u slow.err fast.err
	[ "$(arxiv-tok -d fast.bin | wc -l)" -gt 100 ]
	grep -q 'invalid JSON' fast.err
	grep -q 'odd.jsonl:[0-9]*: invalid UTF-8 at byte 23$' fast.err
	# -f naming one of the keys read anyway, or another key
	for f in text clean id label prep n; do
		arxiv-tok -k -f "$f" -n 16 -v vocab.txt odd.jsonl > fast.bin 2> fast.err || true
		arxiv-tok -J -k -f "$f" -n 16 -v vocab.txt odd.jsonl > slow.bin 2> slow.err || true
		cmp fast.bin slow.bin
		diff -u slow.err fast.err
	done
}

@test "arxiv-tok in parallel blocks gives one stream equal to the serial one" {
	command -v parallel >/dev/null || skip "GNU parallel not installed"
	for i in $(seq 200); do
		printf '{"id":"%d","text":"record %d of the graphs, tokenized.","label":"Physics"}\n' "$i" "$i"
	done > in.jsonl
	arxiv-tok -n 16 -v vocab.txt in.jsonl > serial.bin
	parallel --pipe -k --block 2k arxiv-tok -n 16 -v vocab.txt < in.jsonl > par.bin
	[ "$(stat -c %s par.bin)" -gt "$(stat -c %s serial.bin)" ]	# several headers
	cmp <(arxiv-tok -d serial.bin) <(arxiv-tok -d par.bin)
	[ "$(arxiv-tok -d par.bin | wc -l)" -eq 200 ]
}

@test "arxiv-tok in parallel blocks with -k: a block of only bad records does not break the stream" {
	command -v parallel >/dev/null || skip "GNU parallel not installed"
	# cleaned records (prep set), and blocks of records that -k skips; the
	# first block is all bad, so its placeholder header comes first
	bad() { for i in $(seq 100); do printf '{"id":"b%d","clean":"","prep":"%s"}\n' "$i" "$P"; done; }
	good() {
		for i in $(seq "$1" "$2"); do
			printf '{"id":"%d","text":"Record %d of the graphs, tokenized.","label":"Physics"}\n' "$i" "$i"
		done | arxiv-clean
	}
	{ bad; good 1 100; bad; good 101 200; bad; } > in.jsonl
	arxiv-tok -k -n 16 -v vocab.txt in.jsonl > serial.bin 2> serial.err
	grep -q 'skipped 300 records' serial.err
	parallel --pipe -k --block 1k arxiv-tok -k -n 16 -v vocab.txt < in.jsonl > par.bin 2> par.err
	[ "$(grep -c 'skipped' par.err)" -gt 3 ]	# several blocks
	run arxiv-tok -d par.bin
	assert_success
	[ "${#lines[@]}" -eq 200 ]
	cmp <(arxiv-tok -d serial.bin) <(arxiv-tok -d par.bin)
	# only bad records in a whole input: a valid empty stream
	bad | arxiv-tok -k -n 16 -v vocab.txt > empty.bin 2> /dev/null
	run arxiv-tok -d empty.bin
	assert_success ""
	# an empty stream's header, then a stream with records: read as one
	cat empty.bin serial.bin empty.bin > cat.bin
	cmp <(arxiv-tok -d serial.bin) <(arxiv-tok -d cat.bin)
}

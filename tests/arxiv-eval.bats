#!/usr/bin/env bats
# arxiv-eval.bats - arxiv-eval on a tiny model trained in setup_file on the
# synthetic fixtures of tests/cases/arxiv-eval (three fields with disjoint
# vocabularies, so any sane model gets them right; see make-fixtures.py).
load helper

FIX="$TOP/tests/cases/arxiv-eval"

setup_file() {
	export MODEL="$BATS_FILE_TMPDIR/model"
	command -v arxiv-train >/dev/null || return 0
	# arxiv-train also records an MLflow run: keep it (./mlruns) in the temp dir
	(cd "$BATS_FILE_TMPDIR" && arxiv-train -j 1 -b 65536 -o "$MODEL" "$FIX/train.jsonl" "$FIX/val.jsonl" \
		> train.log 2>&1) || { cat "$BATS_FILE_TMPDIR/train.log" >&3; return 1; }
}

# jv EXPR: a Python expression over d, the JSON document on stdin, printed as compact JSON.
jv() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
print(json.dumps(eval(sys.argv[1], {"d": d}), separators=(",", ":")))' "$1"
}

need_model() {
	[ -d "$MODEL" ] || skip "no model: arxiv-train not built in $ARXIV_BUILD/bin"
}

USAGE="usage: arxiv-eval {-m dir | --model=dir} [-k | --keep-going] [-t | --table] [-j threads | --jobs=threads] [-K k | --top-k=k] [-o report | --output=report] [file ...]"

# The report without "ece", "reliability" and "selective_accuracy", and the
# table without those lines: they depend on the trained probabilities to the
# last digit, everything else only on the predicted labels and fields.
normalise() {
	sed -e 's/"ece":[-0-9.e+]*,//' -e 's/,"reliability":\[[^]]*\]//' \
		-e 's/,"selective_accuracy":{[^}]*}//' -e '/^expected calibration error/d' \
		-e '/^selective accuracy/d' -e '/^reliability/,/^$/d'
}

@test "arxiv-eval --help, --version, bad option, no -m" {
	run arxiv-eval --help
	assert_success
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-eval --version
	assert_success "arxiv-eval 0.1.0"
	run arxiv-eval --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-eval
	assert_status 2
	assert_line "arxiv-eval: no model: -m dir is required"
	run arxiv-eval -m x -K 0
	assert_status 2
	assert_line "arxiv-eval: 0: invalid top-k (expected 1..64)"
}

@test "arxiv-eval: the man page SYNOPSIS matches usage()" {
	run arxiv-eval --help
	[ "$(man_synopsis man1/arxiv-eval.1)" = "$(synopsis)" ] || { man_synopsis man1/arxiv-eval.1; synopsis; return 1; }
}

@test "arxiv-eval: a missing model directory is an error, no report" {
	run arxiv-eval -m "$TMP/nope" "$FIX/test.jsonl"
	assert_status 1
	assert_output_contains "nope"
	[[ "$output" != *'"n":'* ]]
}

@test "arxiv-eval: golden cases (tests/cases/arxiv-eval/*/)" {
	need_model
	local d args want err st n=0
	for d in "$FIX"/*/; do
		args=$(cat "$d/args" 2>/dev/null || true)
		# shellcheck disable=SC2086
		arxiv-eval -m "$MODEL" $args < "$d/input" > out 2> err && st=0 || st=$?
		want=$(cat "$d/status" 2>/dev/null || echo 0)
		[ "$st" = "$want" ] || { echo "${d}: status $st, want $want"; cat err; return 1; }
		if [ -f "$d/output" ]; then
			normalise < out > out.norm
			diff -u "$d/output" out.norm || { echo "${d}: stdout differs"; return 1; }
		else
			[ ! -s out ] || { echo "${d}: unexpected stdout"; cat out; return 1; }
		fi
		if [ -f "$d/error" ]; then
			diff -u "$d/error" err || { echo "${d}: stderr differs"; return 1; }
		else
			[ ! -s err ] || { echo "${d}: unexpected stderr"; cat err; return 1; }
		fi
		n=$((n + 1))
	done
	[ "$n" -ge 6 ]
}

@test "arxiv-eval: report numbers of the fixture" {
	need_model
	run arxiv-eval -m "$MODEL" "$FIX/test.jsonl"
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	# 17 records: 12 single-field, 5 cross-listed of which 3 labelled with their other field
	[ "$(jv '[d["n"], d["single_field"]["n"], d["cross_listed"]["n"]]' <<< "$output")" = "[17,12,5]" ]
	[ "$(jv '[d["accuracy"], d["field_set_accuracy"], d["single_field"]["accuracy"]]' <<< "$output")" = "[0.823529,1.0,1.0]" ]
	[ "$(jv 'd["confusion_matrix"]["matrix"]' <<< "$output")" = "[[5,1,1],[0,4,0],[0,1,5]]" ]
	[ "$(jv '0 <= d["ece"] <= 1' <<< "$output")" = true ]
	[ "$(jv 'sorted(d["top_k_accuracy"]) == ["1","2","3"] and d["top_k_accuracy"]["3"] == 1' <<< "$output")" = true ]
	# the weighted F1 agrees with the per-class table
	[ "$(jv 'abs(sum(c["f1"] * c["support"] for c in d["per_class"].values()) / d["n"] - d["weighted_f1"]) < 1e-5' <<< "$output")" = true ]
}

@test "arxiv-eval: empty input gives a report of nothing" {
	need_model
	run arxiv-eval -m "$MODEL" < /dev/null
	assert_success
	[ "$(jv '[d["n"], d["accuracy"], d["macro_f1"], d["top_k_accuracy"]]' <<< "$output")" = '[0,0.0,0.0,{"1":0.0}]' ]
}

@test "arxiv-eval: malformed line -> file:line message, exit 1, no report" {
	need_model
	head -n 2 "$FIX/test.jsonl" > bad.jsonl
	echo '{"text": "x", "label": ' >> bad.jsonl
	run arxiv-eval -m "$MODEL" bad.jsonl
	assert_failure "arxiv-eval: bad.jsonl:3: invalid JSON: unexpected token near end of file"
	run arxiv-eval -k -m "$MODEL" bad.jsonl
	assert_success
	assert_line "arxiv-eval: bad.jsonl:3: invalid JSON: unexpected token near end of file"
	assert_line "arxiv-eval: skipped 1 records"
	[ "$(tail -n 1 <<< "$output" | jv 'd["n"]')" = 2 ]
}

@test "arxiv-eval: an over-long line and a NUL byte are bad records, reported in line order" {
	need_model
	{
		head -n 1 "$FIX/test.jsonl"
		printf '{"text":"%*s","label":"Physics"}\n' 1048576 x
		printf 'x\0y\n'
		tail -n 1 "$FIX/test.jsonl"
	} > long.jsonl
	run arxiv-eval -m "$MODEL" long.jsonl
	assert_failure "arxiv-eval: long.jsonl:2: line longer than 1048576 bytes"
	run arxiv-eval -k -m "$MODEL" long.jsonl
	assert_success
	[ "${lines[0]}" = "arxiv-eval: long.jsonl:2: line longer than 1048576 bytes" ]
	[ "${lines[1]}" = "arxiv-eval: long.jsonl:3: NUL byte in line" ]
	[ "${lines[2]}" = "arxiv-eval: skipped 2 records" ]
	[ "$(jv 'd["n"]' <<< "${lines[3]}")" = 2 ]
}

@test "arxiv-eval: missing keys and unknown labels" {
	need_model
	printf '%s\n' '{"label":"Physics"}' > t1
	run arxiv-eval -m "$MODEL" t1
	assert_failure 'arxiv-eval: t1:1: "abstract" (or "text") is required'
	printf '\n%s\n' '{"text":"a laser","label":3}' > t2
	run arxiv-eval -m "$MODEL" t2
	assert_failure 'arxiv-eval: t2:2: "label" is not a string'
	printf '%s\n' '{"text":"a laser"}' > t3
	run arxiv-eval -m "$MODEL" t3
	assert_failure 'arxiv-eval: t3:1: missing "label"'
	printf '%s\n' '{"text":"a laser","label":"Physics","fields":"Physics"}' > t4
	run arxiv-eval -m "$MODEL" t4
	assert_failure 'arxiv-eval: t4:1: "fields" is not an array'
}

@test "arxiv-eval: several operands, '-' is stdin, Kaggle-schema records are joined" {
	need_model
	run arxiv-eval -m "$MODEL" "$FIX/test.jsonl" - < "$FIX/test.jsonl"
	assert_success
	[ "$(jv 'd["n"]' <<< "$output")" = 34 ]
	# title/abstract records without "text": labelled by hand here
	python3 -c 'import json, sys
names = {"cs": "Computer Science", "math": "Mathematics", "physics": "Physics"}
for line in sys.stdin:
    r = json.loads(line)
    r["label"] = names[r["categories"].split(".")[0]]
    print(json.dumps(r))' < "$FIX/raw.jsonl" > kaggle.jsonl
	run arxiv-eval -m "$MODEL" kaggle.jsonl
	assert_success
	[ "$(jv '[d["n"], d["accuracy"]]' <<< "$output")" = "[6,1.0]" ]
	run arxiv-eval -m "$MODEL" "$FIX/test.jsonl" missing.jsonl
	assert_failure "arxiv-eval: missing.jsonl: No such file or directory"
}

@test "arxiv-eval: the report does not depend on the thread count" {
	need_model
	for i in 1 2 3 4 5 6 7 8; do cat "$FIX/train.jsonl"; done > big.jsonl
	arxiv-eval -j 1 -m "$MODEL" big.jsonl > one
	arxiv-eval -j 3 -m "$MODEL" big.jsonl > three
	cmp one three
	[ "$(jv 'd["n"]' < one)" = 960 ]
}

@test "arxiv-eval -t: human table" {
	need_model
	run arxiv-eval -t -m "$MODEL" "$FIX/test.jsonl"
	assert_success
	assert_line "label            precision    recall        f1   support"
	assert_line "cross-listed             5    0.4000    0.3333    1.0000    1.0000    0.5000    0.6667    0.0000"
	assert_output_contains "confusion matrix (rows: true, columns: predicted)"
}

@test "arxiv-eval -t -o: the table on stdout and the same JSON report in a file, from one run" {
	need_model
	arxiv-eval -m "$MODEL" "$FIX/test.jsonl" > want.json
	run arxiv-eval -t -o report.json -m "$MODEL" "$FIX/test.jsonl"
	assert_success
	assert_line "label            precision    recall        f1   support"
	cmp want.json report.json
	[ -z "$(ls -a | grep '\.tmp')" ]
	run arxiv-eval -o no/such/dir/r.json -m "$MODEL" "$FIX/test.jsonl"
	assert_status 1
	assert_output_contains "no/such/dir/r.json."
	assert_output_contains ".tmp: No such file or directory"
}

@test "arxiv-eval -o: a symbolic link at a temporary name is not written through" {
	need_model
	echo precious > victim
	ln -s victim rep.json.tmp
	for x in XXXXXX 000000; do ln -s victim "rep.json.$x.tmp"; done
	run arxiv-eval -o rep.json -m "$MODEL" "$FIX/test.jsonl"
	assert_success
	[ "$(cat victim)" = precious ]
	[ -L rep.json.tmp ] && [ -f rep.json ] && [ ! -L rep.json ]
	jv 'd["n"]' < rep.json
}

@test "arxiv-eval -o: refuses to replace a FIFO, a device or a symbolic link" {
	need_model
	mkfifo fifo
	run arxiv-eval -o fifo -m "$MODEL" "$FIX/test.jsonl"
	assert_status 1
	assert_output_contains "arxiv-eval: fifo: is a FIFO, not a regular file; refusing to replace it"
	[ -p fifo ]
	run arxiv-eval -o /dev/full -m "$MODEL" "$FIX/test.jsonl"
	assert_status 1
	assert_output_contains "/dev/full: is a device, not a regular file; refusing to replace it"
	[ -c /dev/full ]
	echo precious > victim
	ln -s victim link.json
	run arxiv-eval -o link.json -m "$MODEL" "$FIX/test.jsonl"
	assert_status 1
	assert_output_contains "link.json: is a symbolic link, not a regular file"
	[ -L link.json ] && [ "$(cat victim)" = precious ]
}

@test "arxiv-eval > /dev/full fails" {
	need_model
	run sh -c "arxiv-eval -m '$MODEL' '$FIX/test.jsonl' > /dev/full"
	assert_status 1
	assert_output_contains "write error"
}

@test "arxiv-eval: the man page EXAMPLES run" {
	need_model
	command -v arxiv-map >/dev/null || skip "arxiv-map not built"
	ln -s "$MODEL" artifacts
	cp "$FIX/test.jsonl" "$FIX/raw.jsonl" .
	local n=0
	while IFS= read -r cmd; do
		run bash -o pipefail -c "$cmd"
		[ "$status" -eq 0 ] || { echo "failed: $cmd"; echo "$output"; return 1; }
		n=$((n + 1))
	done < <(man_examples man1/arxiv-eval.1)
	[ "$n" -eq 3 ]
	[ "$(jv 'd["n"]' < report.json)" = 17 ]
}

@test "arxiv-eval: field sets, reliability diagram and selective accuracy in the report" {
	need_model
	arxiv-eval -m "$MODEL" "$FIX/test.jsonl" > r.json
	python3 - r.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
n = d["n"]
# set metrics: the whole is the papers-weighted mix of single-field and cross-listed
for k in ("set_precision", "set_recall", "set_f1", "exact_set_accuracy"):
    s, c = d["single_field"], d["cross_listed"]
    mix = (s[k] * s["n"] + c[k] * c["n"]) / n
    assert abs(d[k] - mix) < 1e-5, (k, d[k], mix)
assert d["cross_listed"]["exact_set_accuracy"] < d["single_field"]["exact_set_accuracy"], d
assert d["abstained"] == 0 and d["abstain_rate"] == 0, d
# reliability: 15 bins of width 1/15 covering every paper, confidences inside their bins
rel = d["reliability"]
assert len(rel) == 15 and sum(b["count"] for b in rel) == n, rel
for b in rel:
    if b["count"]:
        assert b["lo"] - 1e-6 <= b["confidence"] <= b["hi"] + 1e-6, b
        assert 0 <= b["accuracy"] <= 1, b
ece = sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in rel)
assert abs(ece - d["ece"]) < 1e-4, (ece, d["ece"])
# selective accuracy: 99% of 17 papers keeps all 17, so it is the accuracy
sa = d["selective_accuracy"]
assert set(sa) == {"0.90", "0.95", "0.99"}, sa
assert abs(sa["0.99"] - d["accuracy"]) < 1e-6, (sa, d["accuracy"])
PY
	run arxiv-eval -t -m "$MODEL" "$FIX/test.jsonl"
	assert_success
	assert_output_contains "selective accuracy (most confident kept):  90%: "
	assert_line "abstained: 0 of 17"
	assert_line "bin             count  mean conf  accuracy"
}

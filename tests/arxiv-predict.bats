#!/usr/bin/env bats
# arxiv-predict.bats - arxiv-predict with a tiny model trained in setup_file on
# tests/cases/arxiv-train (one thread, fixed seed: the same model every time),
# golden cases in tests/cases/arxiv-predict/<name>/{args,input,output,error}.
# The golden model uses --loss softmax: the fixtures' validation set is
# separable, so the default hinge model's fitted temperature makes every
# confidence 1.0000, and the goldens would not show the score formatting.
load helper

FIX="$TOP/tests/cases/arxiv-train"
CASES_P="$TOP/tests/cases/arxiv-predict"
USAGE="usage: arxiv-predict {-m dir | --model=dir} [-b | --batch] [-j threads | --jobs=threads] [-K k | --top-k=k] [-k | --keep-going] [--input=text|jsonl|auto] [--explain=n] [--min-confidence=p] [--ood-threshold=p] [file ...]"

setup_file() {
	export MODEL="$BATS_FILE_TMPDIR/model"
	command -v arxiv-train >/dev/null || return 0
	(cd "$BATS_FILE_TMPDIR" && arxiv-train -j 1 -s 1 -b 65536 -e 4 --loss softmax -o "$MODEL" \
		"$FIX/train.jsonl" "$FIX/val.jsonl" > train.log 2>&1) ||
		{ cat "$BATS_FILE_TMPDIR/train.log" >&3; return 1; }
	# a model with a domain check (>= 1000 training texts): phrase-structured texts
	export DMODEL="$BATS_FILE_TMPDIR/dmodel"
	(cd "$BATS_FILE_TMPDIR" && python3 "$TOP/tests/tools/phrase_corpus.py" 1200 1 > dtrain.jsonl &&
		python3 "$TOP/tests/tools/phrase_corpus.py" 300 2 > dval.jsonl &&
		arxiv-train -j 1 -s 1 -b 65536 -e 4 --loss softmax -o "$DMODEL" dtrain.jsonl dval.jsonl \
		> dtrain.log 2>&1) || { cat "$BATS_FILE_TMPDIR/dtrain.log" >&3; return 1; }
}

need_model() {
	[ -d "$MODEL" ] || skip "no model: arxiv-train not built in $ARXIV_BUILD/bin"
}

@test "arxiv-predict --help, --version, bad options, no -m" {
	run arxiv-predict --help
	assert_success
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-predict --version
	assert_success "arxiv-predict 0.1.0"
	run arxiv-predict --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-predict
	assert_status 2
	assert_line "arxiv-predict: no model: give the artifacts directory with -m"
	run arxiv-predict -m x -K 0
	assert_status 2
	assert_line "arxiv-predict: 0: invalid top-k (expected 1..64)"
}

@test "arxiv-predict: the man page SYNOPSIS matches usage()" {
	syn=$(mandoc -Tascii "$TOP/man/man1/arxiv-predict.1" | col -b |
		sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed -e '1d' -e '$d' | tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//')
	[ "usage: $syn" = "$USAGE" ]
}

@test "arxiv-predict: golden cases (tests/cases/arxiv-predict/*/)" {
	need_model
	local d args st n=0
	for d in "$CASES_P"/*/; do
		args=$(cat "$d/args" 2>/dev/null || true)
		# shellcheck disable=SC2086
		arxiv-predict -m "$MODEL" $args < "$d/input" > out 2> err && st=0 || st=$?
		[ "$st" = "$(cat "$d/status" 2>/dev/null || echo 0)" ] || { echo "$d: status $st"; cat err; return 1; }
		diff -u "$d/output" out || { echo "$d: stdout differs"; return 1; }
		if [ -f "$d/error" ]; then
			diff -u "$d/error" err || { echo "$d: stderr differs"; return 1; }
		else
			[ ! -s err ] || { echo "$d: unexpected stderr"; cat err; return 1; }
		fi
		n=$((n + 1))
	done
	[ "$n" -ge 4 ]
}

@test "arxiv-predict: the output has as many lines as the input, bad lines included" {
	need_model
	{ cat "$FIX/abstracts.txt"; echo; echo '{"title":"x"}'; printf 'bad \377 utf8\n';
	  echo '{"abstract":"quantum spin"'; cat "$FIX/papers.jsonl"; printf '   \n'; } > in.txt
	run arxiv-predict -m "$MODEL" in.txt
	assert_success
	[ "$(arxiv-predict -m "$MODEL" in.txt 2>/dev/null | wc -l)" = "$(wc -l < in.txt)" ]
	# line 7 (broken JSON) is not a JSON object: in auto mode it is text
	[ "$(arxiv-predict -m "$MODEL" in.txt 2>/dev/null | grep -c '^{"error":')" = 4 ]
	assert_line "arxiv-predict: in.txt:4: empty line"
	assert_line 'arxiv-predict: in.txt:5: "abstract" (or "text") is required'
	assert_line "arxiv-predict: in.txt:6: invalid UTF-8 at byte 4"
	assert_line "arxiv-predict: in.txt:11: empty line"
	assert_line "arxiv-predict: 4 lines without a prediction"
	# a final line without a newline counts too
	printf 'quantum spin boson' | arxiv-predict -m "$MODEL" > out
	[ "$(wc -l < out)" = 1 ]
}

@test "arxiv-predict --input auto|text|jsonl: an abstract that begins with a brace is text in auto mode" {
	need_model
	printf '%s\n' '{\AE}therFlow: a quantum spin model of bosons' \
		'{\Large $\gamma$} induced photon lasers in plasma' > brace.txt
	# auto (the default): lines that are not JSON objects are texts
	run arxiv-predict -m "$MODEL" brace.txt
	assert_success
	[ "$(grep -c '^{"predicted_category"' <<<"$output")" -eq 2 ] || { echo "$output"; return 1; }
	arxiv-predict -m "$MODEL" --input text brace.txt > text.out
	[ "$output" = "$(cat text.out)" ]
	arxiv-predict -m "$MODEL" --input=auto brace.txt | cmp - text.out
	# jsonl: every line must be a record
	run arxiv-predict -m "$MODEL" --input jsonl brace.txt
	assert_status 1
	assert_line "arxiv-predict: brace.txt:1: invalid JSON: string or '}' expected near '\\'"
	assert_line "arxiv-predict: 2 lines without a prediction"
	# a record line: a record in auto and jsonl, a text with --input text
	printf '%s\n' '{"abstract":3}' '[1,2]' > rec.txt
	run arxiv-predict -m "$MODEL" rec.txt
	assert_success
	assert_line 'arxiv-predict: rec.txt:1: "abstract" must be a string'
	[ "${lines[2]%%,*}" != '{"error":"not a JSON object"' ]
	run arxiv-predict -m "$MODEL" --input jsonl rec.txt
	assert_status 1
	assert_line 'arxiv-predict: rec.txt:2: not a JSON object'
	run arxiv-predict -m "$MODEL" --input text rec.txt
	assert_success
	[ "$(grep -c '^{"predicted_category"' <<<"$output")" -eq 2 ]
	run arxiv-predict -m "$MODEL" --input xml rec.txt
	assert_status 2
	assert_line "arxiv-predict: xml: unknown input format (text, jsonl or auto)"
}

@test "arxiv-predict -b gives the same output as line mode, on any thread count" {
	need_model
	for _ in $(seq 700); do cat "$FIX/abstracts.txt"; done > many.txt
	echo >> many.txt
	arxiv-predict -m "$MODEL" many.txt > line.out 2> /dev/null
	arxiv-predict -b -m "$MODEL" many.txt > b.out 2> /dev/null
	arxiv-predict -b -j 3 -m "$MODEL" many.txt > b3.out 2> /dev/null
	[ "$(wc -l < line.out)" = 2101 ]
	cmp line.out b.out
	cmp line.out b3.out
}

@test "arxiv-predict: -K is capped at the label count; --top-k is its long name" {
	need_model
	run arxiv-predict -m "$MODEL" -K 10 "$FIX/abstracts.txt"
	assert_success
	[ "$(grep -o '"label"' <<<"${lines[0]}" | wc -l)" = 3 ]
	run arxiv-predict -m "$MODEL" --top-k 1 "$FIX/abstracts.txt"
	[ "$(grep -o '"label"' <<<"${lines[0]}" | wc -l)" = 1 ]
}

@test "arxiv-predict: the old -k N (top-k) works with a deprecation warning; -k alone is --keep-going" {
	need_model
	arxiv-predict -m "$MODEL" -K 2 "$FIX/abstracts.txt" > new.out
	for old in "-k 2" "-k2"; do
		# shellcheck disable=SC2086
		arxiv-predict -m "$MODEL" $old "$FIX/abstracts.txt" > old.out 2> old.err
		cmp new.out old.out
		[ "$(cat old.err)" = "arxiv-predict: -k N (top-k) is deprecated and will be removed in the next release; use -K N (-k alone is --keep-going)" ]
	done
	run arxiv-predict -m "$MODEL" -k "$FIX/abstracts.txt"
	assert_success
	[ "$(grep -o '"label"' <<<"${lines[0]}" | wc -l)" = 3 ]
	run arxiv-predict -m "$MODEL" --keep-going --threads 1 -b "$FIX/abstracts.txt"
	assert_success
	assert_line "arxiv-predict: --threads is deprecated and will be removed in the next release; use --jobs (-j)"
}

@test "arxiv-predict: files, -, and a missing file" {
	need_model
	run arxiv-predict -m "$MODEL" "$FIX/abstracts.txt" - /nonexistent < "$FIX/papers.jsonl"
	assert_status 1
	assert_line "arxiv-predict: /nonexistent: No such file or directory"
	[ "$(grep -c '^{"predicted_category"' <<<"$output")" = 6 ]
}

@test "arxiv-predict: exit 1 when no line could be predicted, 0 when some could" {
	need_model
	# the model's stop-word list missing: every line fails
	ARXIV_DATADIR="$TMP/nowhere" run arxiv-predict -m "$MODEL" "$FIX/abstracts.txt"
	assert_status 1
	assert_line "arxiv-predict: $FIX/abstracts.txt:1: cannot open stop-word list: No such file or directory"
	assert_line "arxiv-predict: 3 lines without a prediction"
	[ "$(grep -c '^{"error":' <<<"$output")" -eq 3 ]
	printf '\n\n' | { run arxiv-predict -m "$MODEL"; assert_status 1; }
	{ echo; head -n 1 "$FIX/abstracts.txt"; } > mixed.txt
	run arxiv-predict -m "$MODEL" mixed.txt
	assert_success
}

@test "arxiv-predict: empty input gives empty output" {
	need_model
	run arxiv-predict -m "$MODEL" < /dev/null
	assert_success ""
}

@test "arxiv-predict: artifacts of an unknown version or no artifacts are refused" {
	need_model
	cp -r "$MODEL" art
	sed -i 's/"version": 2/"version": 9/' art/metadata/artifact.json
	run arxiv-predict -m art "$FIX/abstracts.txt"
	assert_failure "arxiv-predict: art: unsupported artifact version 9 (this arxiv reads 2)"
	run arxiv-predict -m "$TMP" "$FIX/abstracts.txt"
	assert_failure "arxiv-predict: $TMP: not an arxiv artifacts directory (no metadata/artifact.json)"
	cp -r "$MODEL" art2
	head -c 100 "$MODEL/model/model.safetensors" > art2/model/model.safetensors
	run arxiv-predict -m art2 "$FIX/abstracts.txt"
	assert_failure
	assert_output_contains "model.safetensors"
}

@test "arxiv-predict: a model with a NaN or an infinite weight is refused at load, naming the tensor and file" {
	need_model
	cp -r "$MODEL" art
	python3 "$TOP/tests/tools/st_poke.py" art/model/model.safetensors output.bias 1 nan
	run arxiv-predict -m art "$FIX/abstracts.txt"
	assert_failure "arxiv-predict: art/model/model.safetensors: tensor 'output.bias': non-finite value (NaN) at index 1; the model is damaged (retrain it)"
	rm -r art && cp -r "$MODEL" art
	python3 "$TOP/tests/tools/st_poke.py" art/model/model.safetensors input.weight 7 -inf
	run arxiv-predict -m art "$FIX/abstracts.txt"
	assert_failure "arxiv-predict: art/model/model.safetensors: tensor 'input.weight': non-finite value (Inf) at index 7; the model is damaged (retrain it)"
	run arxiv-eval -m art "$FIX/test.jsonl"
	assert_failure
	assert_output_contains "tensor 'input.weight': non-finite value (Inf)"
}

@test "arxiv-predict: > /dev/full fails" {
	need_model
	run sh -c 'arxiv-predict -m "$MODEL" "$0" > /dev/full' "$FIX/abstracts.txt"
	assert_status 1
	assert_output_contains "write error"
}

@test "arxiv-predict applies the stored preprocessing: raw text = cleaned training text" {
	need_model
	printf '%s\n' '\textbf{QUANTUM} Bosons and $\mathrm{Photons}$' 'Quantum BOSONS, and the photons.' > raw.txt
	# what the training side's cleaner makes of them: the same words
	printf '{"id":"1","text":"%s"}\n' 'Quantum BOSONS, and the photons.' | arxiv-clean > c.jsonl
	clean=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["clean"])' < c.jsonl)
	[ "$clean" = "quantum boson photon" ]
	grep -q "\"prep\": \"$(python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["prep"])' < c.jsonl)\"" \
		"$MODEL/tokenizer/preprocess.json"	# the model stored that cleaner's signature
	# LaTeX, case, stop words and plurals are undone by the stored cleaner:
	# every raw form scores exactly as the cleaned text does
	arxiv-predict -m "$MODEL" <<<"$clean" > want
	arxiv-predict -m "$MODEL" raw.txt > got
	[ "$(sort -u got)" = "$(cat want)" ] || { cat want got; return 1; }
	grep -q '"predicted_category":"Physics"' want
	# and it is the stored preprocessing that does it: with another one stored
	# (no stop words, no stemming), the raw forms score differently
	cp -r "$MODEL" other
	sed -i 's/"prep": "v1 nfkc,latex,filter,space,lower,stop,stem trunc=0 stem=english stop=default"/"prep": "v1 nfkc,latex,filter,space,lower trunc=0 stem=none stop=none"/' \
		other/tokenizer/preprocess.json
	grep -q 'stem=none stop=none' other/tokenizer/preprocess.json
	arxiv-predict -m other raw.txt > other.out
	! grep -qxF "$(cat want)" other.out
}

@test "arxiv-predict: the man page EXAMPLES run" {
	need_model
	cp "$FIX/abstracts.txt" "$FIX/papers.jsonl" .
	ln -s "$MODEL" artifacts
	man_examples man1/arxiv-predict.1 > examples.sh
	[ "$(wc -l < examples.sh)" = 4 ]
	run bash -eo pipefail examples.sh
	assert_success
	[ "$(wc -l < predictions.jsonl)" = 3 ]
}

@test "arxiv-predict --explain: terms in the input's own words, best first" {
	need_model
	run arxiv-predict -m "$DMODEL" --explain 4 -K 1 <<<"On Banach manifolds: we prove lemmas on compact operators and Sobolev embeddings."
	assert_success
	python3 - "$output" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["predicted_category"] == "Mathematics", d
ex = d["explanation"]
assert len(ex) == 4, ex
w = [e["weight"] for e in ex]
assert w == sorted(w, reverse=True) and w[-1] > 0, w
terms = " ".join(e["term"] for e in ex)
# surface words: capitalised and unstemmed, never the cleaner's stems
assert any(t in terms for t in ("Banach", "Sobolev", "compact operators", "lemmas", "embeddings")), terms
assert "banach" not in terms and "embed " not in terms + " " and "lemma " not in terms + " ", terms
PY
	run arxiv-predict -m "$DMODEL" --explain 0 <<<"Banach manifolds and Hilbert spaces"
	assert_success
	[[ "$output" != *explanation* ]]
	run arxiv-predict -m "$DMODEL" --explain 17 < /dev/null
	assert_status 2
	assert_line "arxiv-predict: 17: invalid explanation term count (expected 0..16)"
}

@test "arxiv-predict: fields lists every field over the stored threshold, primary first" {
	need_model
	run python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fields_threshold"])' \
		"$DMODEL/metadata/decision.json"
	assert_success
	python3 -c 'import sys; t = float(sys.argv[1]); assert 0 < t < 0.5, t' "$output"
	run arxiv-predict -m "$DMODEL" -K 3 <<<"We study neural networks and Banach manifolds, gradient descent and Hilbert spaces, GPU kernels and compact operators."
	assert_success
	python3 - "$output" "$(cat "$DMODEL/metadata/decision.json")" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); t = json.loads(sys.argv[2])["fields_threshold"]
assert d["fields"][0] == d["predicted_category"], d
want = [d["predicted_category"]] + [e["label"] for e in d["top_k"][1:] if e["score"] >= t]
assert d["fields"] == want, (d, t)
assert set(d["fields"]) == {"Computer Science", "Mathematics"}, d
PY
}

@test "arxiv-predict abstains on text out of the domain, says why, keeps in-domain text" {
	need_model
	run arxiv-predict -m "$DMODEL" <<<"asdf qwer zxcv"
	assert_success
	assert_output_contains '{"predicted_category":"Other","confidence":0.0,"abstained":true,"reason":"out of domain: 0 of 3 words known to the model","fields":[],"top_k":['
	# the same words shuffled: every word known, their order not
	run arxiv-predict -m "$DMODEL" <<<"operators Hilbert regularity compact elliptic Sobolev spaces lemmas prove embeddings manifolds Banach operators spaces compact numbers prime"
	assert_success
	assert_output_contains '"abstained":true,"reason":"out of domain: '
	assert_output_contains 'word pairs known to the model'
	# in-domain text keeps its answer
	run arxiv-predict -m "$DMODEL" <<<"We study Banach manifolds and Hilbert spaces; we prove lemmas on compact operators."
	assert_success
	assert_output_contains '{"predicted_category":"Mathematics",'
	[[ "$output" != *abstained* ]]
	# --ood-threshold 0 turns the check off: today's answer
	run arxiv-predict -m "$DMODEL" --ood-threshold 0 <<<"asdf qwer zxcv"
	assert_success
	[[ "$output" != *abstained* ]]
	# the tiny model (too few texts for a domain check) never abstains
	run arxiv-predict -m "$MODEL" <<<"asdf qwer zxcv"
	assert_success
	[[ "$output" != *abstained* ]]
	run arxiv-predict -m "$DMODEL" --ood-threshold 1.5 < /dev/null
	assert_status 2
	assert_line "arxiv-predict: 1.5: invalid OOD threshold (expected 0..1)"
}

@test "arxiv-predict --min-confidence abstains on unsure answers" {
	need_model
	run arxiv-predict -m "$MODEL" --min-confidence 0.99 -K 1 < "$FIX/abstracts.txt"
	assert_success
	[ "$(grep -c '"abstained":true,"reason":"not confident: top probability 0\.[0-9]* is below 0\.9900"' <<<"$output")" = 3 ]
	run arxiv-predict -m "$MODEL" --min-confidence 0.5 -K 1 < "$FIX/abstracts.txt"
	assert_success
	[[ "$output" != *abstained* ]]
	run arxiv-predict -m "$MODEL" --min-confidence x < /dev/null
	assert_status 2
	assert_line "arxiv-predict: x: invalid minimum confidence (expected 0..1)"
}

#!/usr/bin/env bats
# arxiv-bert.bats - the transformer path end to end with the tiny random BERT
# of tests/fixtures/tiny-bert: arxiv-tok | arxiv-train -M bert (import of a
# Hugging Face folder, random init from a config.json), arxiv-predict and
# arxiv-embed on the artifacts, Hugging Face transformers loading the exported
# model and agreeing with us, resume after SIGTERM (-r) equal to an
# uninterrupted run, and the import errors as the programs print them.
load helper

FIX="$TOP/tests/fixtures/tiny-bert"

need_torch() {
	[ -e "$ARXIV_BUILD/lib/libarxiv_torch.so.1" ] || skip "built without libtorch (TORCH=0)"
	command -v jq >/dev/null || skip "jq not installed"
}

# n synthetic records (arxiv-map's schema) whose words are in the tiny vocab.
make_jsonl() {
	awk -v n="$1" -v seed="$2" 'BEGIN {
		srand(seed)
		split("Computer Science|Mathematics|Physics", lab, "|")
		w[1] = "neural network networks learning data algorithm algorithms training deep language model models"
		w[2] = "prove group groups equation equations linear finite random matrix theory space optimal"
		w[3] = "quantum energy black hole galaxy star stars spin field fields time protein"
		c = "the of and we is for a new method paper results show"
		nc = split(c, cw, " ")
		for (i = 1; i <= n; i++) {
			k = 1 + int(rand() * 3)
			nw = split(w[k], ww, " ")
			len = 4 + int(rand() * 20)
			t = ""
			for (j = 0; j < len; j++)
				t = t (j ? " " : "") (rand() < 0.6 ? ww[1 + int(rand() * nw)] : cw[1 + int(rand() * nc)])
			printf "{\"id\":\"2101.%05d\",\"text\":\"%s\",\"label\":\"%s\"}\n", i, t, lab[k]
		}
	}'
}

setup_data() {
	make_jsonl 240 1 >train.jsonl
	make_jsonl 60 2 >val.jsonl
	arxiv-tok -v "$FIX/vocab.txt" -n 32 train.jsonl >train.bin
	arxiv-tok -v "$FIX/vocab.txt" -n 32 val.jsonl >val.bin
}

# A Python with torch and transformers, or skip loudly. Tries $ARXIV_HF_PYTHON,
# /opt/bertvenv, then a venv cached at ${ARXIV_VENV_DIR:-$HOME/.cache/arxiv}/hf-venv,
# made on first use over Debian's python3-torch with transformers from PyPI.
# Sets HFPY (not in a subshell, so that skip ends the test).
need_hf() {
	local py cache="${ARXIV_VENV_DIR:-$HOME/.cache/arxiv}"
	HFPY=
	for py in "${ARXIV_HF_PYTHON:-}" /opt/bertvenv/bin/python "$cache/hf-venv/bin/python"; do
		[ -n "$py" ] && [ -x "$py" ] || continue
		if "$py" -c 'import torch, transformers' 2>/dev/null; then
			HFPY=$py
			return 0
		fi
	done
	/usr/bin/python3 -c 'import torch' 2>/dev/null ||
		skip "no Python with torch and transformers: Debian's python3-torch is not installed"
	mkdir -p "$cache"
	(
		flock 9
		"$cache/hf-venv/bin/python" -c 'import torch, transformers' 2>/dev/null && exit 0
		rm -rf "$cache/hf-venv"
		/usr/bin/python3 -m venv --system-site-packages "$cache/hf-venv" &&
			"$cache/hf-venv/bin/pip" install -q --retries 1 --timeout 20 'transformers<4.40' safetensors
	) 9> "$cache/hf-venv.lock" > "$BATS_TEST_TMPDIR/pip.log" 2>&1 ||
		skip "no Python with torch and transformers: pip failed: $(tail -n 1 "$BATS_TEST_TMPDIR/pip.log")"
	HFPY="$cache/hf-venv/bin/python"
}

@test "arxiv-train -M bert -i imports a Hugging Face folder, learns, and writes HF-style artifacts" {
	need_torch
	setup_data
	run arxiv-train -M bert -i "$FIX" -o art -e 6 -l 5e-3 -j 1 -D cpu --batch-size 16 train.bin val.bin
	echo "$output"
	assert_status 0
	for f in model/config.json model/model.safetensors tokenizer/vocab.txt \
		tokenizer/preprocess.json tokenizer/tokenizer_config.json metadata/label2id.json \
		metadata/metrics.json metadata/artifact.json; do
		[ -s "art/$f" ] || { echo "missing art/$f"; return 1; }
	done
	[ "$(jq -r .model_type art/metadata/artifact.json)" = bert ]
	[ "$(jq -c .architectures art/model/config.json)" = '["BertForSequenceClassification"]' ]
	[ "$(jq -r '.id2label["0"]' art/model/config.json)" = "$(jq -r 'to_entries[] | select(.value == 0) | .key' art/metadata/label2id.json)" ]
	# the synthetic fields are easy: well above chance (1/3) after 6 epochs
	acc=$(jq '.val.accuracy' art/metadata/metrics.json)
	echo "val accuracy $acc"
	jq -n "$acc > 0.6" | grep -qx true
	[ ! -e art.ckpt ]	# checkpoints of a finished run are removed
	cut -d'"' -f8 val.jsonl | head -n 20 >texts.txt
	run arxiv-predict -m art texts.txt
	assert_status 0
	[ "${#lines[@]}" -eq 20 ]
	echo "${lines[0]}" | jq -e '.top_k | length == 3' >/dev/null
	# explanations (gradient x input on the embeddings, approximate): words of the input
	run arxiv-predict -m art --explain 3 <<<"We prove the Quantum energy of a black hole and a Neural network"
	assert_status 0
	echo "$output" | jq -e '.explanation | length >= 1 and length <= 3' >/dev/null
	echo "$output" | jq -e '[.explanation[].weight] | . == (sort | reverse) and all(. > 0)' >/dev/null
	for t in $(echo "$output" | jq -r '.explanation[].term'); do
		grep -qw -- "$t" <<<"We prove the Quantum energy of a black hole and a Neural network" ||
			{ echo "term $t is not a word of the input"; return 1; }
	done
}

@test "a transformer model of cleaned text makes its cleaner once, not per predict call" {
	need_torch
	command -v strace >/dev/null || skip "strace not installed (pipelines/install-deps.sh installs it)"
	make_jsonl 240 1 | arxiv-clean | arxiv-tok -v "$FIX/vocab.txt" -n 32 >ctrain.bin
	make_jsonl 60 2 >val.jsonl
	arxiv-clean val.jsonl | arxiv-tok -v "$FIX/vocab.txt" -n 32 >cval.bin
	arxiv-train -M bert -i "$FIX" -o art -e 1 -j 1 -D cpu ctrain.bin cval.bin
	grep -q '"prep": "v1 nfkc,latex' art/tokenizer/preprocess.json
	cut -d'"' -f8 val.jsonl | head -n 20 >texts.txt
	# line mode: one predict call per line, 20 calls; the stop-word list is read once
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -e trace=open,openat -o trace.log arxiv-predict -j 1 -m art texts.txt >out.jsonl
	[ "$(wc -l <out.jsonl)" -eq 20 ]
	n=$(grep -c 'stopwords' trace.log)
	echo "stop-word list opened $n times"
	[ "$n" -eq 1 ]
	# a reused cleaner answers as a fresh one: -b is one call with one cleaner
	arxiv-predict -b -j 1 -m art texts.txt >batch.jsonl
	cmp out.jsonl batch.jsonl
}

@test "the plugin gets token ids: it calls no cleaner or tokeniser, loads no vocabulary and reads no preprocess.json (libarxiv tokenises, training's JSONL text too)" {
	need_torch
	command -v nm >/dev/null || skip "nm not installed (binutils)"
	run nm -D --undefined-only "$ARXIV_BUILD/lib/libarxiv_torch.so.1"
	assert_status 0
	echo "$output" | grep -q ' arxiv_st_open$'	# the listing works
	bad=$(echo "$output" | grep -E ' arxiv_(clean|cleaner|prep_read|vocab_|tok_)' || true)
	[ -z "$bad" ] || { echo "the plugin still uses: $bad"; return 1; }
}

@test "arxiv-train -M bert on JSONL text: libarxiv tokenises it as arxiv-tok does (min(256, max_pos) ids, the checkpoint's lowercasing)" {
	need_torch
	setup_data
	# the same records through arxiv-tok -n 64 give the same model: train.jsonl
	# led by a record of each of the tensor stream's labels, in its order
	arxiv-tok -v "$FIX/vocab.txt" -n 64 train.jsonl >train64.bin
	arxiv-tok -v "$FIX/vocab.txt" -n 64 val.jsonl >val64.bin
	arxiv-train -M bert -i "$FIX" -o probe -e 1 -j 1 -D cpu train64.bin val64.bin 2>/dev/null
	jq -r 'to_entries | sort_by(.value)[] | .key' probe/metadata/label2id.json |
		awk '{ printf "{\"id\":\"2101.9%04d\",\"text\":\"the field of %s\",\"label\":\"%s\"}\n", NR, tolower($0), $0 }' >all.jsonl
	[ "$(wc -l <all.jsonl)" -gt 3 ]
	cat train.jsonl >>all.jsonl
	run arxiv-train -M bert -i "$FIX" -o art -e 1 -l 5e-3 -j 1 -D cpu all.jsonl val.jsonl
	assert_status 0
	# the fixture: max_position_embeddings 64, no tokenizer_config.json (lowercase)
	[ "$(jq .tok.seq_len art/tokenizer/preprocess.json)" = 64 ]
	[ "$(jq .tok.lowercase art/tokenizer/preprocess.json)" = true ]
	[ "$(jq .do_lower_case art/tokenizer/tokenizer_config.json)" = true ]
	arxiv-tok -v "$FIX/vocab.txt" -n 64 all.jsonl >all64.bin
	run arxiv-train -M bert -i "$FIX" -o art64 -e 1 -l 5e-3 -j 1 -D cpu all64.bin val64.bin
	assert_status 0
	cmp art/model/model.safetensors art64/model/model.safetensors
	cmp art/metadata/metrics.json art64/metadata/metrics.json
	# capitalised words: lowercased with the fixture's tokenizer (the same ids,
	# the same model), kept cased with a cased checkpoint's (other ids)
	sed -E 's/ ([a-z])/ \U\1/g' all.jsonl >trainU.jsonl
	sed -E 's/ ([a-z])/ \U\1/g' val.jsonl >valU.jsonl
	grep -q '"text":"[a-z]* [A-Z]' trainU.jsonl
	run arxiv-train -M bert -i "$FIX" -o artU -e 1 -l 5e-3 -j 1 -D cpu trainU.jsonl valU.jsonl
	assert_status 0
	cmp art/model/model.safetensors artU/model/model.safetensors
	mkdir cased
	cp "$FIX/config.json" "$FIX/vocab.txt" "$FIX/model.safetensors" cased/
	echo '{"do_lower_case": false}' >cased/tokenizer_config.json
	run arxiv-train -M bert -i cased -o artC -e 1 -l 5e-3 -j 1 -D cpu trainU.jsonl valU.jsonl
	assert_status 0
	[ "$(jq .do_lower_case artC/tokenizer/tokenizer_config.json)" = false ]
	run cmp -s artU/model/model.safetensors artC/model/model.safetensors
	assert_status 1
}

@test "Hugging Face from_pretrained loads our export and agrees with arxiv-predict/arxiv-embed" {
	need_torch
	need_hf
	setup_data
	arxiv-train -M bert -i "$FIX" -o art -e 1 -l 2e-3 -j 1 -D cpu train.bin val.bin 2>/dev/null
	cut -d'"' -f8 val.jsonl | head -n 20 >texts.txt
	arxiv-predict -m art texts.txt >pred.jsonl
	arxiv-embed -m art -f jsonl texts.txt >emb.jsonl
	run "$HFPY" "$TOP/tests/tools/hf_load_check.py" art texts.txt pred.jsonl emb.jsonl
	echo "$output"
	assert_status 0
	assert_output_contains "ok: 20 texts, label mismatches 0"
}

@test "arxiv-train -M bert -r: resume after SIGTERM gives the weights of an uninterrupted run" {
	need_torch
	make_jsonl 1600 3 >train.jsonl
	make_jsonl 40 4 >val.jsonl
	arxiv-tok -v "$FIX/vocab.txt" -n 32 train.jsonl >train.bin
	arxiv-tok -v "$FIX/vocab.txt" -n 32 val.jsonl >val.bin
	opts=(-M bert -i "$FIX" -e 2 -p 0 -l 1e-3 -j 1 -s 5 -D cpu --batch-size 8)
	arxiv-train "${opts[@]}" -o A train.bin val.bin 2>/dev/null
	arxiv-train "${opts[@]}" -o B train.bin val.bin 2>err.txt &
	pid=$!
	for _ in $(seq 600); do
		[ -e B.ckpt/state.json ] && break
		sleep 0.05
	done
	kill -TERM "$pid"
	wait "$pid" || true
	epoch=$(jq .epoch B.ckpt/state.json)
	echo "stopped with the checkpoint of epoch $epoch"
	[ "$epoch" -ge 1 ]
	run arxiv-train "${opts[@]}" -r B.ckpt -f -o B train.bin val.bin
	echo "$output"
	assert_status 0
	[ "$epoch" -eq 2 ] || assert_output_contains "resuming from B.ckpt after epoch 1"
	cmp A/model/model.safetensors B/model/model.safetensors
	[ ! -e B.ckpt ]
	# other settings than the checkpoint's are refused
	arxiv-train "${opts[@]}" -o C train.bin val.bin 2>/dev/null &
	pid=$!
	for _ in $(seq 600); do [ -e C.ckpt/state.json ] && break; sleep 0.05; done
	kill -KILL "$pid"
	wait "$pid" || true
	run arxiv-train "${opts[@]}" --batch-size 4 -r C.ckpt -o C2 train.bin val.bin
	assert_status 1
	assert_output_contains "checkpoint was made with batch_size 8, this run has 4"
	# an optimiser state that is not this model's AdamW state is refused, naming the file
	cp C.ckpt/rng.pt C.ckpt/optimizer.pt
	run arxiv-train "${opts[@]}" -r C.ckpt -o C3 train.bin val.bin
	assert_status 1
	assert_output_contains "C.ckpt/optimizer.pt: not this model's AdamW state"
	[ ! -e C3 ]
}

@test "arxiv-train -M bert -c: random init from a config.json with vocab.txt beside it" {
	need_torch
	setup_data
	mkdir cfg
	jq '.num_hidden_layers = 1 | del(.id2label, .label2id)' "$FIX/config.json" >cfg/config.json
	cp "$FIX/vocab.txt" cfg/
	run arxiv-train -M bert -c cfg/config.json -o art -e 1 -l 1e-3 -j 1 -D cpu train.bin val.bin
	assert_status 0
	[ "$(jq .num_hidden_layers art/model/config.json)" = 1 ]
	[ "$(jq '.id2label | length' art/model/config.json)" = 7 ] ||
		[ "$(jq '.id2label | length' art/model/config.json)" = "$(jq length art/metadata/label2id.json)" ]
	rm cfg/vocab.txt
	run arxiv-train -M bert -c cfg/config.json -o art2 -e 1 -j 1 -D cpu train.bin val.bin
	assert_status 1
	assert_output_contains "cfg/config.json: no vocab.txt beside the config"
}

@test "arxiv-train -M bert: checkpoint and data errors name the culprit" {
	need_torch
	setup_data
	# a tensor stream tokenised with another vocabulary
	mkdir other
	sed 's/^quantum$/quantal/' "$FIX/vocab.txt" >other/vocab.txt
	arxiv-tok -v other/vocab.txt -n 32 train.jsonl >other.bin
	run arxiv-train -M bert -i "$FIX" -o art -e 1 -D cpu other.bin val.bin
	assert_status 1
	assert_output_contains "other.bin: tokenised with another vocabulary"
	# wrong shapes / missing tensors in the checkpoint
	mkdir bad
	cp "$FIX/vocab.txt" "$FIX/model.safetensors" bad/
	jq '.intermediate_size = 40' "$FIX/config.json" >bad/config.json
	run arxiv-train -M bert -i bad -o art -e 1 -D cpu train.bin val.bin
	assert_status 1
	assert_output_contains "tensor bert.encoder.layer.0.intermediate.dense.weight has shape [37, 32], config.json needs [40, 32]"
	jq '.num_hidden_layers = 3' "$FIX/config.json" >bad/config.json
	run arxiv-train -M bert -i bad -o art -e 1 -D cpu train.bin val.bin
	assert_status 1
	assert_output_contains "missing tensor bert.encoder.layer.2.attention.self.query.weight"
	jq '.num_hidden_layers = 1' "$FIX/config.json" >bad/config.json
	run arxiv-train -M bert -i bad -o art -e 1 -D cpu train.bin val.bin
	assert_status 1
	assert_output_contains "unexpected tensor bert.encoder.layer.1."
	# a NaN weight is refused, naming the tensor and the file
	cp "$FIX/config.json" bad/
	python3 "$TOP/tests/tools/st_poke.py" bad/model.safetensors bert.encoder.layer.0.intermediate.dense.weight 3 nan
	run arxiv-train -M bert -i bad -o art -e 1 -D cpu train.bin val.bin
	assert_status 1
	assert_output_contains "bad/model.safetensors: tensor 'bert.encoder.layer.0.intermediate.dense.weight': non-finite value (NaN or Inf)"
	# a truncated weights file
	cp "$FIX/config.json" bad/
	head -c 5000 "$FIX/model.safetensors" >bad/model.safetensors
	run arxiv-train -M bert -i bad -o art -e 1 -D cpu train.bin val.bin
	assert_status 1
	assert_output_contains "bad/model.safetensors"
	# no weights at all
	rm bad/model.safetensors
	run arxiv-train -M bert -i bad -o art -e 1 -D cpu train.bin val.bin
	assert_status 1
	assert_output_contains "bad: no model.safetensors or pytorch_model.bin"
	[ ! -e art ]
}

@test "arxiv-train -M bert imports pytorch_model.bin (torch.save zip format)" {
	need_torch
	setup_data
	mkdir bin
	cp "$FIX/config.json" "$FIX/vocab.txt" "$FIX/pytorch_model.bin" bin/
	run arxiv-train -M bert -i bin -o art -e 1 -l 1e-3 -j 1 -D cpu train.bin val.bin
	assert_status 0
	# the same checkpoint as safetensors trains to the very same weights: every
	# tensor of the .bin was read, with its values
	mkdir st
	cp "$FIX/config.json" "$FIX/vocab.txt" "$FIX/model.safetensors" st/
	run arxiv-train -M bert -i st -o art2 -e 1 -l 1e-3 -j 1 -D cpu train.bin val.bin
	assert_status 0
	cmp art/model/model.safetensors art2/model/model.safetensors
	[ "$(jq -c .val art/metadata/metrics.json)" = "$(jq -c .val art2/metadata/metrics.json)" ]
}

@test "arxiv-train --precision: fp32 on the CPU is the default's model; fp16/bf16 on the CPU and unknown names are refused" {
	need_torch
	setup_data
	arxiv-train -M bert -i "$FIX" -o a1 -e 1 -l 2e-3 -j 1 -s 3 -D cpu train.bin val.bin 2>/dev/null
	arxiv-train -M bert -i "$FIX" -o a2 -e 1 -l 2e-3 -j 1 -s 3 -D cpu --precision fp32 --verbose \
		train.bin val.bin 2>a2.log
	cmp a1/model/model.safetensors a2/model/model.safetensors
	# the CPU takes the multi-tensor AdamW (the fused kernel is CUDA's)
	grep -q 'optimiser: AdamW, multi-tensor' a2.log
	[ "$(jq -r .params.precision a1/metadata/artifact.json)" = auto ]
	[ "$(jq -r .params.precision a2/metadata/artifact.json)" = fp32 ]
	for p in fp16 bf16; do
		run arxiv-train -M bert -i "$FIX" -o a3 -e 1 -D cpu --precision $p train.bin val.bin
		assert_failure
		assert_output_contains "precision $p: only on a GPU (the CPU trains in fp32)"
		[ ! -e a3 ]
	done
	run arxiv-train -M bert -i "$FIX" -o a3 -e 1 -D cpu --precision fp8 train.bin val.bin
	assert_status 2
	assert_output_contains "precision must be auto, fp32, fp16 or bf16"
	run arxiv-train --help
	assert_output_contains "--precision=auto|fp32|fp16|bf16"
}

@test "tests/gpu/run.sh: --help names its modes; an unknown option is a usage error" {
	run "$TOP/tests/gpu/run.sh" --help
	assert_status 0
	assert_output_contains "--dry-run"
	assert_output_contains "throughput"
	run "$TOP/tests/gpu/run.sh" --bogus
	assert_status 2
	assert_output_contains "unknown option '--bogus'"
}

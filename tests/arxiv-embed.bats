#!/usr/bin/env bats
# arxiv-embed.bats - options, embeddings of the tiny BERT fixture against the
# pooled outputs Hugging Face computed (tests/fixtures/tiny-bert/reference.json),
# both output formats, JSONL input with ids, bad lines, the man page examples.
load helper

USAGE="usage: arxiv-embed [-m dir | --model=dir] [-e dir | --embedder=dir] [--learn=dir] [--dim=n] [--max-tokens=n] [-f bin|jsonl | --format=bin|jsonl] [-b batch | --batch=batch] [-D device | --device=device] [-j threads | --jobs=threads] [-k | --keep-going] [file ...]"
FIX="$TOP/tests/fixtures/tiny-bert"

# The fixture as arxiv artifacts (what arxiv-train -M bert writes), seq_len 24
# like the reference.
make_art() {
	mkdir -p "$1/model" "$1/tokenizer" "$1/metadata"
	cp "$FIX/config.json" "$FIX/model.safetensors" "$1/model/"
	cp "$FIX/vocab.txt" "$1/tokenizer/"
	echo '{"model_type":"bert","seq_len":24,"lowercase":true,"prep":""}' >"$1/tokenizer/preprocess.json"
	echo '{"format":"arxiv-artifacts","version":2,"model_type":"bert"}' >"$1/metadata/artifact.json"
	echo '{"Computer Science":0,"Mathematics":1,"Physics":2}' >"$1/metadata/label2id.json"
}

need_torch() {
	[ -e "$ARXIV_BUILD/lib/libarxiv_torch.so.1" ] || skip "built without libtorch (TORCH=0)"
	command -v jq >/dev/null || skip "jq not installed"
}

@test "arxiv-embed --help prints the usage line and exits 0" {
	run arxiv-embed --help
	assert_status 0
	[ "$(synopsis)" = "$USAGE" ]
}

@test "arxiv-embed with a bad option prints the usage on stderr and exits 2" {
	run arxiv-embed -x
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-embed -m art -f xml
	assert_status 2
	[ "${lines[0]}" = "arxiv-embed: xml: unknown format (bin or jsonl)" ]
	run arxiv-embed -m art -b 0
	assert_status 2
	run arxiv-embed
	assert_status 2
	[ "${lines[0]}" = "arxiv-embed: no model: -m dir, -e dir or --learn dir is required" ]
}

@test "arxiv-embed --version" {
	run arxiv-embed --version
	assert_success "arxiv-embed 0.1.0"
}

@test "arxiv-embed: a missing model directory is an error" {
	run arxiv-embed -m nowhere </dev/null
	assert_status 1
	assert_output_contains "nowhere"
}

@test "arxiv-embed -f jsonl matches Hugging Face's pooled outputs to 1e-4" {
	need_torch
	make_art art
	jq -r '.cases[] | select(.text != "") | .text' "$FIX/reference.json" >texts.txt
	run arxiv-embed -m art -D cpu -f jsonl texts.txt
	assert_status 0
	[ "${#lines[@]}" -eq 5 ]
	echo "$output" >out.jsonl
	diff=$(jq -n --slurpfile ref "$FIX/reference.json" --slurpfile out out.jsonl '
		[$ref[0].cases[] | select(.text != "") | .pooled] as $want
		| [range(0; $out | length) as $i | range(0; 32) as $j
		   | ($out[$i].embedding[$j] - $want[$i][$j]) | fabs] | max')
	echo "max diff $diff"
	jq -n "$diff <= 1e-4" | grep -qx true
	# batching and padding do not change the vectors
	arxiv-embed -m art -D cpu -f jsonl -b 1 texts.txt >one.jsonl
	diff=$(jq -n --slurpfile a out.jsonl --slurpfile b one.jsonl '
		[range(0; $a | length) as $i | range(0; 32) as $j
		 | ($a[$i].embedding[$j] - $b[$i].embedding[$j]) | fabs] | max')
	jq -n "$diff <= 1e-5" | grep -qx true
}

@test "arxiv-embed binary stream: header, count, little-endian floats" {
	need_torch
	make_art art
	printf 'graph theory\nquantum fields\nrandom matrix\n' >in.txt
	arxiv-embed -m art -D cpu in.txt >v.bin
	[ "$(stat -c %s v.bin)" -eq $((32 + 3 * 32 * 4)) ]
	[ "$(head -c 8 v.bin | od -An -tx1 | tr -d ' \n')" = "894158450d0a1a0a" ]
	# version 1, header 32, dim 32, flags 0, count 3
	[ "$(od -An -tu4 -j8 -N16 --endian=little v.bin | tr -s ' ')" = " 1 32 32 0" ]
	[ "$(od -An -tu8 -j24 -N8 --endian=little v.bin | tr -d ' ')" = "3" ]
	# the same numbers as -f jsonl
	first=$(od -An -tf4 -j32 -N4 --endian=little v.bin | tr -d ' ')
	want=$(arxiv-embed -m art -D cpu -f jsonl in.txt | head -n 1 | jq '.embedding[0]')
	jq -n "($first - $want) | fabs < 1e-6" | grep -qx true
	# through a pipe the count stays 0 (unknown)
	arxiv-embed -m art -D cpu in.txt | od -An -tu8 -j24 -N8 --endian=little | grep -qx ' *0'
}

@test "arxiv-embed: JSONL input keeps ids; title and abstract are joined" {
	need_torch
	make_art art
	printf '%s\n' '{"id":"2101.00001","title":"Graph theory","abstract":"We prove."}' \
		'{"text":"Graph theory\nWe prove."}' 'plain line' >in.jsonl
	run arxiv-embed -m art -D cpu -f jsonl in.jsonl
	assert_status 0
	[ "$(echo "${lines[0]}" | jq -r .id)" = "2101.00001" ]
	[ "$(echo "${lines[1]}" | jq -r 'has("id")')" = "false" ]
	[ "$(echo "${lines[2]}" | jq '.embedding | length')" = "32" ]
	# joined title + abstract == the same text given whole
	[ "$(echo "${lines[0]}" | jq -c .embedding)" = "$(echo "${lines[1]}" | jq -c .embedding)" ]
}

@test "arxiv-embed: empty input gives no vectors" {
	need_torch
	make_art art
	run arxiv-embed -m art -D cpu -f jsonl </dev/null
	assert_success ""
	arxiv-embed -m art -D cpu </dev/null >v.bin
	[ "$(stat -c %s v.bin)" -eq 32 ]
}

@test "arxiv-embed: a bad line stops with its line number; -k skips it" {
	need_torch
	make_art art
	printf 'graph theory\n{"text":\nquantum\n\nlast\n' >in.txt
	run arxiv-embed -m art -D cpu -f jsonl in.txt
	assert_status 1
	assert_output_contains "arxiv-embed: in.txt:2: invalid JSON: "
	run arxiv-embed -m art -D cpu -f jsonl -k in.txt
	assert_status 0
	assert_line "arxiv-embed: in.txt:4: empty line"
	assert_line "arxiv-embed: skipped 2 records"
	[ "$(arxiv-embed -m art -D cpu -f jsonl -k in.txt 2>/dev/null | wc -l)" -eq 3 ]
	run sh -c 'printf "{\"title\":\"x\"}\n" | arxiv-embed -m art -D cpu -f jsonl'
	assert_status 1
	assert_output 'arxiv-embed: <stdin>:1: "abstract" (or "text") is required'
}

@test "arxiv-embed: an unknown device is an error" {
	need_torch
	make_art art
	run arxiv-embed -m art -D tpu </dev/null
	assert_status 1
	assert_output_contains 'unknown device "tpu"'
	run arxiv-embed -m art -D cuda </dev/null
	assert_status 1
	assert_output_contains "device cuda"
}

@test "arxiv-embed > /dev/full exits 1" {
	need_torch
	make_art art
	run sh -c 'echo graph theory | arxiv-embed -m art -D cpu -f jsonl > /dev/full'
	assert_status 1
}

@test "arxiv-embed man page EXAMPLES run" {
	need_torch
	make_art artifacts
	printf 'Graph theory of random matrices\nBlack hole entropy\n' >abstracts.txt
	printf '%s\n' '{"id":"2101.00001","title":"Graph theory","abstract":"We prove a theorem.","categories":"math.CO"}' \
		'{"id":"2101.00002","title":"Quantum fields","abstract":"Energy in space-time.","categories":"hep-th"}' >data.jsonl
	local line n=0
	while IFS= read -r line; do
		echo "# $line"
		run bash -c "set -o pipefail; $line"
		assert_status 0
		n=$((n + 1))
	done < <(man_examples man1/arxiv-embed.1)
	[ "$n" -eq 5 ]
	[ "$(arxiv-index -o p.axi papers.vec 2>&1)" = "arxiv-index: p.axi: 2 papers (2 read), 256 dimensions, embedder $(jq -r .identity emb/embedder.json)" ]
	[ "$(wc -l <vectors.jsonl)" -eq 2 ]
	[ "$(stat -c %s vectors.bin)" -eq $((32 + 2 * 32 * 4)) ]
}

@test "arxiv-embed without the libtorch plugin fails with a clear message" {
	make_art art
	mkdir -p np/bin np/lib
	cp "$ARXIV_BUILD/bin/arxiv-embed" np/bin/
	cp "$ARXIV_BUILD/lib/libarxiv.so.1" np/lib/
	run env -u ARXIV_TORCH_PLUGIN np/bin/arxiv-embed -m art </dev/null
	assert_status 1
	assert_output "arxiv-embed: transformer models need libarxiv_torch.so.1, which is not installed (a build without libtorch, TORCH=0?)"
}

@test "arxiv-embed -e -j N: the vectors of -j 1, also with fewer records than threads; a bad record is named" {
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		printf '{"id":"2101.%05d","title":"Paper %d","abstract":"graph theory of random matrices %d and black hole entropy %d"}\n' \
			"$i" "$i" "$i" $((i * 7))
	done >data.jsonl
	arxiv-embed --learn emb data.jsonl
	for n in 3 5 12; do
		head -n "$n" data.jsonl >part.jsonl
		arxiv-embed -e emb -j 1 part.jsonl >one.vec
		for j in 2 4 16; do
			arxiv-embed -e emb -j "$j" part.jsonl >many.vec
			cmp one.vec many.vec || { echo "$n records, -j $j differs from -j 1"; return 1; }
		done
		[ "$(stat -c %s many.vec)" -gt $((n * 256 * 4)) ]
	done
	# invalid UTF-8 in record 9: its line, whatever the thread count
	sed '9s/graph/gr\xc3(ph/' data.jsonl >bad.jsonl
	run arxiv-embed -e emb -j 4 bad.jsonl
	assert_status 1
	assert_output_contains "bad.jsonl:9: "
}

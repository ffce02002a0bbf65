#!/usr/bin/env bats
# arxiv-index.bats - options, building the local index file, upsert by id,
# refusing another embedder or dimension, bad vector streams (truncated, wrong
# dimension, bad magic), NUL bytes in titles, replacing only regular files,
# the man page examples.
load helper

USAGE="usage: arxiv-index [-o index | --output=index] [-d dsn | --dsn=dsn] [-k | --keep-going] [-j n | --jobs=n] [--batch=n] [--hnsw-m=m] [--ef-construction=n] [--verbose] [file ...]"

# papers.jsonl, a lexical embedder emb/ learnt from it, and its vectors.
setup_papers() {
	make_papers papers.jsonl
	arxiv-embed --learn emb papers.jsonl 2>/dev/null
	arxiv-embed -e emb papers.jsonl >papers.vec
}

@test "arxiv-index --help lists every option and exits 0" {
	run arxiv-index --help
	assert_status 0
	[ "$(synopsis)" = "$USAGE" ]
	for o in -o --output -d --dsn -k --keep-going -j --jobs --batch --hnsw-m --ef-construction --verbose -h --help -V --version; do
		assert_output_contains " $o"
	done
}

@test "arxiv-index: a bad option or no index prints the usage on stderr and exits 2" {
	run arxiv-index -x
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-index
	assert_status 2
	[ "${lines[0]}" = "arxiv-index: no index: -o file or -d dsn is required" ]
	run arxiv-index -o a -d b
	assert_status 2
	[ "${lines[0]}" = "arxiv-index: -o and -d exclude each other" ]
}

@test "arxiv-index --version" {
	run arxiv-index --version
	assert_success "arxiv-index 0.1.0"
}

@test "arxiv-index -o builds an index file that arxiv-similar finds every paper in" {
	setup_papers
	id=$(jq -r .identity emb/embedder.json)
	run arxiv-index -o p.axi papers.vec
	assert_success "arxiv-index: p.axi: 30 papers (30 read), 256 dimensions, embedder $id"
	[ "$(head -c 8 p.axi | od -An -c | tr -s ' ')" = " 211 A X I \r \n 032 \n" ]
	for n in 1 15 30; do
		pid=$(printf '2101.%05d' $n)
		run arxiv-similar -i p.axi --id "$pid" -K 29
		assert_status 0
		[ "${#lines[@]}" -eq 29 ]
		! grep -q "\"id\":\"$pid\"" <<<"$output"
	done
	# the same index from stdin and from the JSONL form
	arxiv-index -o q.axi <papers.vec 2>/dev/null
	cmp p.axi q.axi
	arxiv-embed -e emb -f jsonl papers.jsonl | arxiv-index -o r.axi 2>/dev/null
	cmp p.axi r.axi
}

@test "arxiv-index on an existing index adds new papers and replaces papers by id" {
	setup_papers
	head -n 20 papers.vec >/dev/null
	arxiv-embed -e emb <(head -n 12 papers.jsonl) | arxiv-index -o p.axi 2>/dev/null
	run arxiv-similar -i p.axi --id 2101.00001 -K 100
	[ "${#lines[@]}" -eq 11 ]
	# rerun over the whole corpus, with paper 2 retitled
	sed 's/"id":"2101.00002","title":"[^"]*"/"id":"2101.00002","title":"Renamed"/' papers.jsonl >p2.jsonl
	run bash -c 'arxiv-embed -e emb p2.jsonl | arxiv-index -o p.axi'
	assert_status 0
	assert_output_contains "p.axi: 30 papers (30 read)"
	run arxiv-similar -i p.axi --id 2101.00001 -K 100
	[ "${#lines[@]}" -eq 29 ]
	[ "$(grep -c '"id":"2101.00002","title":"Renamed"' <<<"$output")" -eq 1 ]
	[ "$(grep -c '"id":"2101.00002"' <<<"$output")" -eq 1 ]
}

@test "arxiv-index refuses vectors of another embedder or dimension and leaves the index as it was" {
	setup_papers
	arxiv-index -o p.axi papers.vec 2>/dev/null
	cp p.axi before.axi
	arxiv-embed --learn emb64 --dim 64 papers.jsonl 2>/dev/null
	arxiv-embed -e emb64 papers.jsonl >p64.vec
	run arxiv-index -o p.axi p64.vec
	assert_failure "arxiv-index: p.axi: index has 256 dims of \"$(jq -r .identity emb/embedder.json)\", input 64 dims of \"$(jq -r .identity emb64/embedder.json)\" (build a new index)"
	cmp p.axi before.axi
	# two inputs that disagree
	run arxiv-index -o new.axi papers.vec p64.vec
	assert_status 1
	assert_output_contains "p64.vec: vectors of 64 dimensions from embedder"
	[ ! -e new.axi ]
	[ -z "$(ls | grep -F '.axi.')" ]
}

@test "arxiv-index: a truncated vector stream is an error naming the input and the record; nothing written" {
	setup_papers
	size=$(stat -c %s papers.vec)
	head -c $((size - 10)) papers.vec >cut.vec
	run arxiv-index -o p.axi cut.vec
	assert_failure "arxiv-index: cut.vec:30: truncated record 30"
	[ ! -e p.axi ]
	printf 'hello\n' >bad.vec
	run arxiv-index -o p.axi bad.vec
	assert_failure "arxiv-index: bad.vec: not an arxiv vector stream (bad magic); did you forget arxiv-embed -e?"
	printf '{"id":"a",\n' >bad.jsonl
	run arxiv-index -o p.axi bad.jsonl
	assert_failure "arxiv-index: bad.jsonl:1: invalid JSON: string or '}' expected near end of file"
	printf '\211AXV\r\n\032\n\002\000\000\000' >v2.vec
	run arxiv-index -o p.axi v2.vec
	assert_failure "arxiv-index: v2.vec: truncated header"
	printf 'x\211AXV\r\n\032\n' >magic.vec
	run arxiv-index -o p.axi magic.vec
	assert_failure "arxiv-index: magic.vec: not an arxiv vector stream (bad magic); did you forget arxiv-embed -e?"
	[ ! -e p.axi ]
}

@test "arxiv-index: vectors of the wrong dimension in JSONL are an error with the line number" {
	printf '%s\n' '{"id":"a","title":"A","embedder":"e","embedding":[0.6,0.8]}' \
		'{"id":"b","title":"B","embedder":"e","embedding":[1,0,0]}' >v.jsonl
	run arxiv-index -o p.axi v.jsonl
	assert_failure "arxiv-index: v.jsonl:2: dimension 3 differs from the first record's 2"
	printf '%s\n' '{"id":"a","title":"A","embedder":"e","embedding":[0.6,0.8]}' \
		'{"id":"b","title":"B","embedder":"f","embedding":[1,0]}' >e.jsonl
	run arxiv-index -o p.axi e.jsonl
	assert_failure "arxiv-index: e.jsonl:2: embedder \"f\" differs from the first record's \"e\""
	[ ! -e p.axi ]
}

@test "arxiv-index keeps a NUL byte in a title (the local file holds any bytes)" {
	printf '%s\n' '{"id":"a","title":"nul\u0000inside","field":"Physics","embedder":"e","embedding":[0.6,0.8]}' \
		'{"id":"b","title":"B","field":"Physics","embedder":"e","embedding":[1,0]}' >v.jsonl
	run arxiv-index -o p.axi v.jsonl
	assert_success "arxiv-index: p.axi: 2 papers (2 read), 2 dimensions, embedder e"
	run arxiv-similar -i p.axi --id b -K 1
	assert_success '{"id":"a","title":"nul\u0000inside","field":"Physics","score":0.6000,"query":1}'
}

@test "arxiv-index replaces only a regular file" {
	setup_papers
	mkdir d.axi
	run arxiv-index -o d.axi papers.vec
	assert_status 1
	assert_output_contains "d.axi"
	mkfifo f.axi
	run timeout 10 arxiv-index -o f.axi papers.vec
	assert_failure "arxiv-index: f.axi: not a regular file"
	[ -p f.axi ]
	echo victim >victim
	ln -s victim l.axi
	run arxiv-index -o l.axi papers.vec
	assert_status 1
	[ "$(cat victim)" = victim ]
}

@test "arxiv-index: the man page EXAMPLES run" {
	make_papers data.jsonl
	make_papers new.jsonl
	sed -i 's/2101\./2102./' new.jsonl
	local line n=0
	while IFS= read -r line; do
		# the -d example needs a server: arxiv-index-pg.bats runs it
		[[ "$line" != *" -d "* ]] || continue
		echo "# $line"
		run bash -c "set -o pipefail; $line"
		assert_status 0
		n=$((n + 1))
	done < <(man_examples man1/arxiv-index.1)
	[ "$n" -eq 4 ]
	run arxiv-similar -i papers.axi --id 2101.00001 -K 100
	[ "${#lines[@]}" -eq 59 ]
}

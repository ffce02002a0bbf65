#!/usr/bin/env bats
# arxiv-similar.bats - options, text / JSONL / --id queries answered from a
# local index (exact neighbours of three clear topics), the field filter, -K,
# an id not in the index, embedder checks, a corrupt index, the output stream,
# real data, the man page examples.
load helper

USAGE="usage: arxiv-similar [-i index | --index=index] [-d dsn | --dsn=dsn] [-K k | --top-k=k] [-e dir | --embedder=dir] [-j n | --jobs=n] [--field=field] [--id=id] [--ef-search=n] [file ...]"

setup_index() {
	make_papers papers.jsonl
	arxiv-embed --learn emb papers.jsonl 2>/dev/null
	arxiv-embed -e emb papers.jsonl | arxiv-index -o papers.axi 2>/dev/null
}

# ids of the output lines, space-separated, sorted
ids() {
	jq -r .id <<<"$output" | sort | tr '\n' ' '
}

@test "arxiv-similar --help lists every option and exits 0" {
	run arxiv-similar --help
	assert_status 0
	[ "$(synopsis)" = "$USAGE" ]
	for o in -i --index -d --dsn -K --top-k -e --embedder -j --jobs --field --id --ef-search -h --help -V --version; do
		assert_output_contains " $o"
	done
}

@test "arxiv-similar: a bad option or no index prints the usage on stderr and exits 2" {
	run arxiv-similar -x
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-similar
	assert_status 2
	[ "${lines[0]}" = "arxiv-similar: no index: -i file or -d dsn is required" ]
	run arxiv-similar -i p.axi -K 0
	assert_status 2
	[ "${lines[0]}" = "arxiv-similar: 0: invalid top-k (expected 1..1000)" ]
	run arxiv-similar -i p.axi --ef-search 1001
	assert_status 2
	[ "${lines[0]}" = "arxiv-similar: 1001: invalid ef-search (expected 1..1000)" ]
	run arxiv-similar -i p.axi --id x file
	assert_status 2
	[ "${lines[0]}" = "arxiv-similar: --id reads no input files" ]
}

@test "arxiv-similar --version" {
	run arxiv-similar --version
	assert_success "arxiv-similar 0.1.0"
}

@test "arxiv-similar: an abstract finds the papers of its topic, best first, in the documented schema" {
	setup_index
	run arxiv-similar -i papers.axi -K 5 <<<"We study superconductivity in twisted bilayer graphene"
	assert_status 0
	[ "${#lines[@]}" -eq 5 ]
	for l in "${lines[@]}"; do
		[ "$(jq -c 'keys_unsorted' <<<"$l")" = '["id","title","field","score","query"]' ]
		[ "$(jq -r .field <<<"$l")" = Physics ]
		[[ "$(jq -r .id <<<"$l")" =~ ^2101\.0000[0-9]$|^2101\.00010$ ]]
		[ "$(jq .query <<<"$l")" -eq 1 ]
	done
	# scores descend, four decimals, within (0, 1]
	jq -r .score <<<"$output" | sort -rn -c
	jq -e '.score > 0 and .score <= 1' <<<"${lines[0]}"
	[[ "${lines[0]}" =~ \"score\":0\.[0-9]{4}, ]]
	# two queries: each answered, numbered
	run arxiv-similar -i papers.axi -K 3 <<<$'maximum matching in bipartite graphs\nzeros of the Riemann zeta function and prime gaps'
	assert_status 0
	[ "$(jq -r 'select(.query == 1) | .field' <<<"$output" | sort -u)" = "Computer Science" ]
	[ "$(jq -r 'select(.query == 2) | .field' <<<"$output" | sort -u)" = "Mathematics" ]
}

@test "arxiv-similar: a JSONL record with title and abstract is the same query as their joined text" {
	setup_index
	a=$(arxiv-similar -i papers.axi -K 4 <<<'{"title":"Graphene","abstract":"Superconductivity in magic-angle bilayers."}')
	c=$(arxiv-similar -i papers.axi -K 4 <<<'{"text":"Graphene\nSuperconductivity in magic-angle bilayers."}')
	[ -n "$a" ]
	[ "$a" = "$c" ]
	# a line that starts with a brace but is not JSON is text
	run arxiv-similar -i papers.axi -K 1 <<<'{\AE}ther twisted bilayer graphene'
	assert_status 0
	[ "$(jq -r .field <<<"$output")" = Physics ]
}

@test "arxiv-similar --id gives the paper's neighbours without the paper itself" {
	setup_index
	run arxiv-similar -i papers.axi --id 2101.00021 -K 9
	assert_status 0
	[ "$(ids)" = "2101.00022 2101.00023 2101.00024 2101.00025 2101.00026 2101.00027 2101.00028 2101.00029 2101.00030 " ]
	# the same from a JSONL record with only an id
	b=$(arxiv-similar -i papers.axi -K 9 <<<'{"id":"2101.00021"}')
	[ "$output" = "$b" ]
	# -K larger than the index: every other paper
	run arxiv-similar -i papers.axi --id 2101.00021 -K 1000
	[ "${#lines[@]}" -eq 29 ]
}

@test "arxiv-similar: an id that is not indexed exits 1 with a clear message" {
	setup_index
	run arxiv-similar -i papers.axi --id 9999.99999
	assert_failure "arxiv-similar: 9999.99999: not in the index papers.axi"
	run arxiv-similar -i papers.axi <<<'{"id":"9999.99999"}'
	assert_failure "arxiv-similar: 9999.99999: not in the index papers.axi"
}

@test "arxiv-similar --field keeps only papers of that field" {
	setup_index
	run arxiv-similar -i papers.axi --field Mathematics -K 3 <<<"twisted bilayer graphene superconductivity"
	assert_status 0
	[ "${#lines[@]}" -eq 3 ]
	[ "$(jq -r .field <<<"$output" | sort -u)" = Mathematics ]
	run arxiv-similar -i papers.axi --field Biology -K 3 <<<"graphene"
	assert_success ""
}

@test "arxiv-similar: the embedder must be the index's" {
	setup_index
	arxiv-embed --learn other --dim 64 papers.jsonl 2>/dev/null
	run arxiv-similar -i papers.axi -e other <<<"graphene"
	assert_failure "arxiv-similar: other: embedder \"$(jq -r .identity other/embedder.json)\" is not the index's \"$(jq -r .identity emb/embedder.json)\""
	# the recorded directory is gone: -e gives it
	mv emb moved
	run arxiv-similar -i papers.axi -K 1 <<<"graphene"
	assert_status 1
	assert_output_contains "emb: No such file or directory"
	run arxiv-similar -i papers.axi -e moved -K 1 <<<"graphene"
	assert_status 0
	# --id needs no embedder
	run arxiv-similar -i papers.axi --id 2101.00001 -K 1
	assert_status 0
}

@test "arxiv-similar: a missing, foreign or truncated index is an error" {
	setup_index
	run arxiv-similar -i nope.axi --id x
	assert_failure "arxiv-similar: nope.axi: No such file or directory; build the index with arxiv-index -o"
	run arxiv-similar -i papers.jsonl --id x
	assert_failure "arxiv-similar: papers.jsonl: not an arxiv index file (bad magic); build one with arxiv-index -o"
	head -c 20000 papers.axi >cut.axi
	run arxiv-similar -i cut.axi --id x
	assert_status 1
	assert_output_contains "arxiv-similar: cut.axi: truncated index file"
}

@test "arxiv-similar > /dev/full fails" {
	setup_index
	run bash -c 'arxiv-similar -i papers.axi --id 2101.00001 > /dev/full'
	assert_status 1
	assert_output_contains "write error"
}

@test "arxiv-similar on real data: each paper's own abstract finds itself first" {
	need_shared
	shared_head 2000 >real.jsonl
	arxiv-embed --learn emb real.jsonl 2>/dev/null
	arxiv-embed -e emb real.jsonl | arxiv-index -o real.axi 2>/dev/null
	head -n 50 real.jsonl | jq -c '{title, abstract}' >q.jsonl
	run arxiv-similar -i real.axi -K 1 q.jsonl
	assert_status 0
	[ "${#lines[@]}" -eq 50 ]
	[ "$(jq -r .id <<<"$output")" = "$(head -n 50 real.jsonl | jq -r .id)" ]
	jq -e '.score > 0.999' <<<"$output" >/dev/null
}

@test "arxiv-similar: the man page EXAMPLES run" {
	setup_index
	local line n=0
	while IFS= read -r line; do
		echo "# $line"
		run bash -c "set -o pipefail; $line"
		assert_status 0
		[ -n "$output" ]
		n=$((n + 1))
	done < <(man_examples man1/arxiv-similar.1)
	[ "$n" -eq 2 ]
}

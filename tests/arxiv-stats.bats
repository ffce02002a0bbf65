#!/usr/bin/env bats
# arxiv-stats.bats - options, every statistic on hand-made records, merge ==
# one pass, bounded-memory approximations, bad input, real data.
load helper

USAGE="usage: arxiv-stats [-v vocab | --vocab=vocab] [-k | --keep-going] [-j threads | --jobs=threads] [-K n | --top-k=n] [-p | --partial] [-M | --merge] [--clean] [--stopwords=file] [--terms-cap=n] [--exact-max=n] [--prior=a] [--verbose] [file ...]"

rec() {	# rec ID TEXT LABEL CATS-JSON FIELDS-JSON [EXTRA]
	printf '{"id":"%s","text":"%s","label":"%s","categories":%s,"fields":%s%s}\n' \
		"$1" "$2" "$3" "$4" "$5" "${6:-}"
}

corpus() {	# a small corpus with every case the statistics distinguish
	rec 0704.0001 'Quark gluon plasma\nWe study quark matter with $x^2$.' Physics '["hep-ph","math.MP"]' '["Physics","Mathematics"]'
	rec hep-th/9901001 'Strings\nQuark confinement in string theory \\(a\\).' Physics '["hep-th"]' '["Physics"]'
	rec math/0211159 'Graphs\nA graph coloring theorem for planar graph families.' Mathematics '["math.CO"]' '["Mathematics"]'
	rec 1501.00001 'Learning\nNeural networks learning graph embeddings, café.' 'Computer Science' '["cs.LG","math.CO"]' '["Computer Science","Mathematics"]'
	rec 1501.00001 'Learning\nNeural networks learning graph embeddings, café.' 'Computer Science' '["cs.LG"]' '["Computer Science"]'
	rec X-1 'Dateless\nNeural learning.' 'Computer Science' '["cs.AI"]' '["Computer Science"]' ',"update_date":"2019-05-01"'
	rec Y-2 'Unknown\nNeural nets.' 'Computer Science' '["cs.AI"]' '["Computer Science"]'
}

@test "arxiv-stats --help lists every option and exits 0" {
	run arxiv-stats --help
	assert_success
	[ "$(synopsis)" = "$USAGE" ]
	for o in --vocab --keep-going --top-k --partial --merge --clean --stopwords \
		--terms-cap --exact-max --prior --verbose --help --version; do
		assert_output_contains -- "$o"
	done
}

@test "arxiv-stats with a bad option prints the usage on stderr and exits 2" {
	run arxiv-stats --bogus
	assert_status 2
	[ "$(synopsis)" = "$USAGE" ]
	run arxiv-stats -K x
	assert_status 2
	run arxiv-stats -M -v vocab.txt f
	assert_status 2
}

@test "arxiv-stats --version" {
	run arxiv-stats --version
	assert_success "arxiv-stats 0.1.0"
}

@test "arxiv-stats counts fields, categories, years, cross-lists, lengths, math, non-ASCII, duplicates" {
	corpus > in.jsonl
	arxiv-stats in.jsonl > s.json
	[ "$(jq -c '.records' s.json)" = 7 ]
	[ "$(jq -c '[.fields[] | [.name, .papers, .cross_listed]]' s.json)" = \
		'[["Computer Science",4,1],["Physics",2,1],["Mathematics",1,0]]' ]
	[ "$(jq -c '[.categories[] | [.name, .field, .papers]]' s.json)" = \
		'[["cs.AI","Computer Science",2],["cs.LG","Computer Science",2],["hep-ph","Physics",1],["hep-th","Physics",1],["math.CO","Mathematics",1]]' ]
	# 0704 -> 2007, hep-th/99 -> 1999, math/02 -> 2002, 1501 -> 2015 (twice),
	# X-1 -> update_date 2019, Y-2 -> unknown
	[ "$(jq -c '[.years[] | [.year, .papers]]' s.json)" = '[[1999,1],[2002,1],[2007,1],[2015,2],[2019,1]]' ]
	[ "$(jq -c '.year_unknown' s.json)" = 1 ]
	[ "$(jq -c '.cross_list' s.json)" = \
		'{"fields":["Computer Science","Physics","Mathematics"],"matrix":[[3,0,1],[0,1,1],[0,0,1]]}' ]
	# "Graphs\nA graph coloring theorem for planar graph families." = 58 code points, 9 words; the shortest text has 20, 3
	[ "$(jq -c '.length.chars.min, .length.words.min, .length.tokens' s.json | tr "\n" " ")" = "20 3 null " ]
	[ "$(jq -c ".length.chars.max" s.json)" = 58 ]
	[ "$(jq -c '.latex_math, .non_ascii' s.json | tr '\n' ' ')" = \
		'{"papers":2,"share":0.285714} {"papers":2,"share":0.285714} ' ]
	[ "$(jq -c '.duplicates' s.json)" = '{"ids":1,"texts":1,"exact":true}' ]
}

@test "arxiv-stats: lengths in characters count code points, words split on blanks" {
	rec 1 'é a\tb\nc' F '["x"]' '["F"]' > in.jsonl
	run arxiv-stats in.jsonl
	assert_success
	[ "$(jq -c '.length.chars | [.n,.sum,.min,.max,.mean,.p50]' <<<"$output")" = '[1,7,7,7,7,7]' ]
	[ "$(jq -c '.length.words | [.sum,.histogram]' <<<"$output")" = '[4,[0,1]]' ]
}

@test "arxiv-stats -v counts WordPiece tokens with [CLS] and [SEP], share truncated at 256 and 512" {
	local v="$TOP/tests/fixtures/tiny-bert/vocab.txt" d300 d600
	d300=$(printf '. %.0s' $(seq 300))
	d600=$(printf '. %.0s' $(seq 600))
	{ rec 1 '. ,' F '["x"]' '["F"]'; rec 2 "$d300" F '["x"]' '["F"]'; rec 3 "$d600" F '["x"]' '["F"]'; } > in.jsonl
	run arxiv-stats -v "$v" in.jsonl
	assert_success
	[ "$(jq -c '.length.tokens | [.n,.min,.max,.sum,.over_256,.over_512]' <<<"$output")" = '[3,4,602,908,2,1]' ]
	[ "$(jq -c '.length.tokens | [.share_truncated_256,.share_truncated_512]' <<<"$output")" = '[0.666667,0.333333]' ]
	# past the first, short count (768): counted again in full
	rec 4 "$(printf '. %.0s' $(seq 1000))" F '["x"]' '["F"]' > long.jsonl
	[ "$(arxiv-stats -v "$v" long.jsonl | jq -c '.length.tokens.max')" = 1002 ]
	# counted whole, but capped at 16384 tokens as always (16381 dots: one below)
	rec 5 "$(printf '. %.0s' $(seq 16381))" F '["x"]' '["F"]' > edge.jsonl
	rec 6 "$(printf '. %.0s' $(seq 20000))" F '["x"]' '["F"]' >> edge.jsonl
	[ "$(arxiv-stats -v "$v" edge.jsonl | jq -c '.length.tokens | [.min,.max]')" = '[16383,16384]' ]
}

@test "arxiv-stats: distinctive terms by log-odds with a Dirichlet prior" {
	local i
	for i in $(seq 40); do
		rec "a$i" 'quark gluon quark energy measured' Physics '["hep-ph"]' '["Physics"]'
		rec "b$i" 'graph theorem energy proved' Mathematics '["math.CO"]' '["Mathematics"]'
	done > in.jsonl
	arxiv-stats -K 2 in.jsonl > s.json
	[ "$(jq -c '.terms.top.Physics | map(.term)' s.json)" = '["quark","gluon"]' ]
	[ "$(jq -c '.terms.top.Mathematics | map(.term)' s.json)" = '["graph","proved"]' ]
	# "energy" is in both fields as often, a smaller share of Physics' tokens
	arxiv-stats -K 4 in.jsonl > s4.json
	jq -e '.terms.top.Physics[3] | .term == "energy" and .z < 0 and .count == 40' s4.json
	jq -e '.terms.top.Mathematics[3] | .term == "energy" and .z > 0' s4.json
	[ "$(jq -c '.terms | [.tokens, .exact, .pruned_terms]' s.json)" = '[360,true,0]' ]
	# z of "quark": Monroe et al. eq. 22 recomputed here
	python3 - s.json <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
a0, n, ni = 10000.0, 360.0, 200.0
yi, yw = 80.0, 80.0
a = a0 * yw / n
yr, nr = yw - yi, n - ni
delta = math.log((yi + a) / (ni + a0 - yi - a)) - math.log((yr + a) / (nr + a0 - yr - a))
z = delta / math.sqrt(1 / (yi + a) + 1 / (yr + a))
got = [t["z"] for t in d["terms"]["top"]["Physics"] if t["term"] == "quark"][0]
assert abs(got - z) < 1e-4 * abs(z), (got, z)
PY
}

@test "arxiv-stats --merge of --partial blocks gives the one-pass result" {
	corpus > a
	corpus | sed 's/0704.0001/0704.0002/' > b
	cat a b > ab
	arxiv-stats ab > one.json
	arxiv-stats -p a > pa.json
	arxiv-stats -p b > pb.json
	arxiv-stats -M pa.json pb.json > m.json
	cmp one.json m.json
	[ "$(jq -c '.duplicates' m.json)" = '{"ids":7,"texts":8,"exact":true}' ]
	# one file of partial results, one per line, and nested merges
	cat pa.json pb.json | arxiv-stats -M > m2.json
	cmp one.json m2.json
	arxiv-stats -M -p pa.json > ma.json
	arxiv-stats -M ma.json pb.json | cmp - one.json
}

@test "arxiv-stats: parallel --pipe blocks merge to the one-pass result on real data" {
	need_shared 0
	need_vocab
	shared_head 3000 | arxiv-map > in.jsonl
	arxiv-stats -v "$(shared_vocab)" in.jsonl > one.json
	parallel --pipe -N 700 arxiv-stats -p -v "$(shared_vocab)" < in.jsonl > parts.jsonl
	[ "$(wc -l < parts.jsonl)" -eq 5 ]
	arxiv-stats -M parts.jsonl > m.json
	cmp one.json m.json
	[ "$(jq '.records' m.json)" = 3000 ]
	jq -e '.length.tokens.share_truncated_256 > 0.05 and .length.tokens.share_truncated_256 < 0.6' m.json
	jq -e '.terms.top.Physics | length == 15' m.json
}

@test "arxiv-stats: a full term table prunes the rarest terms and says so" {
	local i
	for i in $(seq 200); do
		rec "a$i" "quark gluon w${i}x" Physics '["hep-ph"]' '["Physics"]' | tr 0-9 a-j
		rec "b$i" "graph theorem v${i}y" Mathematics '["math.CO"]' '["Mathematics"]' | tr 0-9 a-j
	done > in.jsonl
	arxiv-stats -K 2 --terms-cap 64 in.jsonl > s.json
	[ "$(jq -c '.terms | [.exact, .table_cap, .pruned_terms > 0, .table_terms <= 64]' s.json)" = '[false,64,true,true]' ]
	[ "$(jq -c '.terms.top.Physics | map(.term) | sort' s.json)" = '["gluon","quark"]' ]
	[ "$(jq -c '.terms.top.Physics[0].count' s.json)" = 200 ]
}

@test "arxiv-stats: past --exact-max distinct keys duplicates are estimated (HyperLogLog)" {
	local i
	for i in $(seq 3000); do rec "$i" "t $i" F '["x"]' '["F"]'; done > in.jsonl
	head -500 in.jsonl >> in.jsonl
	arxiv-stats --exact-max 100000 in.jsonl | jq -c '.duplicates' > exact
	[ "$(cat exact)" = '{"ids":500,"texts":500,"exact":true}' ]
	arxiv-stats --exact-max 1000 in.jsonl > s.json
	jq -e '.duplicates.exact == false and (.duplicates.ids - 500 | fabs) < 150' s.json
	# a merge of parts that together pass exact-max is estimated too
	head -2000 in.jsonl > a; tail -n +2001 in.jsonl > b
	arxiv-stats -p --exact-max 2500 a > pa; arxiv-stats -p --exact-max 2500 b > pb
	arxiv-stats --exact-max 2500 -M pa pb | jq -e '.duplicates.exact == false'
}

@test "arxiv-stats names file and line of a bad record; -k skips and counts" {
	corpus > f
	echo '{"id":"1","text":"x"' >> f
	rec 2 'y' F '["x"]' '["F"]' >> f
	echo '{"id":"3","title":"t","abstract":"a","categories":"cs.AI"}' >> f
	run arxiv-stats f
	assert_failure
	assert_output "arxiv-stats: f:8: invalid JSON: '}' expected near end of file"
	run arxiv-stats -k f
	assert_success
	[ "${lines[0]}" = "arxiv-stats: f:8: invalid JSON: '}' expected near end of file" ]
	[ "${lines[1]}" = 'arxiv-stats: f:10: missing or non-string "text"; is this arxiv-map output?' ]
	[ "${lines[2]}" = "arxiv-stats: skipped 2 records" ]
	[ "$(jq '.records' <<<"${lines[3]}")" = 8 ]
}

@test "arxiv-stats -j: bad records are named in input order across blocks, with the same result" {
	local i
	{ for i in $(seq 5000); do rec "$i" "quark w$i energy" Physics '["hep-ph"]' '["Physics"]'; done
	  echo '{"id":"x","text":"y"'
	  for i in $(seq 5001 9000); do rec "$i" "graph v$i" Mathematics '["math.CO"]' '["Mathematics"]'; done
	  echo '{"id":"3","abstract":"a"}'; } > f
	arxiv-stats -j 1 -k -v "$TOP/tests/fixtures/tiny-bert/vocab.txt" --clean f > one.json 2> one.err
	arxiv-stats -j 3 -k -v "$TOP/tests/fixtures/tiny-bert/vocab.txt" --clean f > three.json 2> three.err
	cmp one.json three.json
	cmp one.err three.err
	[ "$(head -n 1 three.err)" = "arxiv-stats: f:5001: invalid JSON: '}' expected near end of file" ]
	[ "$(sed -n 2p three.err)" = 'arxiv-stats: f:9002: missing or non-string "text"; is this arxiv-map output?' ]
	[ "$(jq -c '[.records, .length.tokens.n]' three.json)" = '[9000,9000]' ]
	run arxiv-stats -j 2 -v "$TOP/tests/fixtures/tiny-bert/vocab.txt" f
	assert_failure "arxiv-stats: f:5001: invalid JSON: '}' expected near end of file"
}

@test "arxiv-stats -j N gives the output of -j 1 on real data (-v, --clean, -p)" {
	need_shared 0
	need_vocab
	shared_head 6000 | arxiv-map > in.jsonl
	arxiv-stats -j 1 -p -v "$(shared_vocab)" in.jsonl > one.json
	arxiv-stats -j 2 -p -v "$(shared_vocab)" in.jsonl | cmp - one.json
	arxiv-stats -j 5 -p -v "$(shared_vocab)" < in.jsonl | cmp - one.json
	arxiv-stats -j 1 -p --terms-cap 5000 in.jsonl > t1.json
	jq -e '.terms.exact == false' t1.json
	arxiv-stats -j 3 -p --terms-cap 5000 in.jsonl | cmp - t1.json
	head -n 1500 in.jsonl > c.jsonl
	arxiv-stats -j 1 --clean c.jsonl > c1.json
	arxiv-stats -j 4 --clean c.jsonl | cmp - c1.json
	jq -e '.length.tokens.n == 6000' one.json
}

@test "arxiv-stats golden cases (tests/cases/arxiv-stats)" {
	local d n=0 args
	for d in "$CASES"/arxiv-stats/*/; do
		args=""; [ -f "$d/args" ] && args=$(cat "$d/args")
		eval "set -- $args"
		(cd "$TOP" && arxiv-stats "$@" < "$d/input") > out
		diff -u "$d/output" out || { echo "$d: stdout differs"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -ge 4 ]
}

@test "arxiv-stats --merge refuses what is not a partial result" {
	corpus > f
	arxiv-stats f > full.json
	run arxiv-stats -M full.json
	assert_failure 'arxiv-stats: full.json:1: not a partial arxiv-stats result (no "state"); make it with arxiv-stats --partial'
	run arxiv-stats -M f
	assert_failure
	assert_output_contains 'not a partial arxiv-stats result (no "format":"arxiv-stats")'
	run arxiv-stats -M /dev/null
	assert_failure "arxiv-stats: /dev/null: empty input: no partial result to merge"
}

@test "arxiv-stats on empty input prints zero counts" {
	run arxiv-stats < /dev/null
	assert_success
	[ "$(jq -c '[.records, .fields, .length.chars.n, .latex_math.share]' <<<"$output")" = '[0,[],0,0]' ]
}

@test "arxiv-stats > /dev/full fails" {
	corpus > f
	run sh -c 'arxiv-stats f > /dev/full'
	assert_status 1
	assert_output "arxiv-stats: write error: No space left on device"
}

@test "arxiv-stats --clean uses arxiv-clean's stems" {
	for i in $(seq 20); do
		rec "a$i" 'studying quarks studied quark' Physics '["hep-ph"]' '["Physics"]'
		rec "b$i" 'graphs theorem' Mathematics '["math.CO"]' '["Mathematics"]'
	done > in.jsonl
	arxiv-stats --clean -K 2 in.jsonl | jq -c '.terms.top.Physics | map([.term, .count])' > t
	[ "$(cat t)" = '[["quark",40],["studi",40]]' ]
}

@test "arxiv-stats man page EXAMPLES run" {
	need_shared 0
	need_vocab
	shared_head 1000 | gzip > dump.json.gz
	cp "$(shared_vocab)" vocab.txt
	local cmd n=0
	while IFS= read -r cmd; do
		run bash -o pipefail -c "$cmd"
		[ "$status" -eq 0 ] || { echo "failed: $cmd"; echo "$output"; return 1; }
		n=$((n + 1))
	done < <(man_examples man1/arxiv-stats.1)
	[ "$n" -eq 3 ]
	cmp stats.json merged.json
}

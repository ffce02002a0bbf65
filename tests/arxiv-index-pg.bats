#!/usr/bin/env bats
# The PostgreSQL + pgvector backend (arxiv-index -d, arxiv-similar -d) against
# a real PostgreSQL 15 with pgvector started here (tests/pg.bash): schema,
# COPY upsert, hostile titles, NUL bytes, refusals, a server that is down or
# goes away mid-load, and the same answers as the local index file.
load helper
load pg

setup_file() { pg_start; }
teardown_file() { pg_stop; }

teardown() {
	# a loader of a failed test left waiting on its FIFO
	[ -z "${loader:-}" ] || kill "$loader" 2>/dev/null || true
	cd / && rm -rf "$TMP"
}

# papers.jsonl, a lexical embedder emb/ learnt from it, and its vectors.
setup_papers() {
	make_papers papers.jsonl
	arxiv-embed --learn emb papers.jsonl 2>/dev/null
	arxiv-embed -e emb papers.jsonl >papers.vec
}

@test "pgstore unit test against a live PostgreSQL (hostile titles, NUL, upsert, refusal, search)" {
	need_pg
	pg_newdb unit
	ARXIV_TEST_PG_DSN="$PG_DSN" run "$ARXIV_BUILD/tests/test_pgstore"
	echo "$output"
	assert_success
	[[ "$output" != *"not ok"* ]]
	[[ "$output" == *"1..40"* ]]
	run pg_sql "SELECT count(*) FROM papers"
	assert_success 9
}

@test "arxiv-index -d loads the schema of arxiv-pg(5) with an HNSW index, and reruns upsert" {
	need_pg
	pg_newdb load
	setup_papers
	id=$(jq -r .identity emb/embedder.json)
	run arxiv-index -d "$PG_DSN" papers.vec
	assert_success "arxiv-index: postgresql://postgres@127.0.0.1:$PGPORT/load: 30 papers (30 read), 256 dimensions, embedder $id"
	run pg_sql "SELECT embedder, dim, embedder_dir = '$TMP/emb' FROM papers_meta"
	assert_success "$id|256|t"
	run pg_sql "SELECT count(*), count(DISTINCT field), min(vector_dims(embedding)) FROM papers"
	assert_success "30|3|256"
	run pg_sql "SELECT indexdef FROM pg_indexes WHERE indexname = 'papers_embedding_hnsw'"
	assert_success "CREATE INDEX papers_embedding_hnsw ON public.papers USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64')"
	run pg_sql "SELECT title, categories FROM papers WHERE id = '2101.00011'"
	assert_success "Fast algorithms for bipartite matching and random walks|cs.DS"
	# rerun with paper 2 retitled, 5 new papers: only those change; the PG* variables work too
	sed 's/"id":"2101.00002","title":"[^"]*"/"id":"2101.00002","title":"Renamed"/' papers.jsonl >p2.jsonl
	head -n 5 papers.jsonl | sed 's/"id":"2101\./"id":"2102./' >>p2.jsonl
	arxiv-embed -e emb p2.jsonl >p2.vec
	run arxiv-index -d '' --verbose p2.vec
	assert_status 0
	assert_output_contains "postgresql: 35 rows in 1 batches: 5 new, 1 replaced, 29 unchanged, 0 repeated ids"
	run pg_sql "SELECT count(*), (SELECT title FROM papers WHERE id = '2101.00002') FROM papers"
	assert_success "35|Renamed"
}

@test "arxiv-index -d --hnsw-m --ef-construction: the HNSW index is built with them; an index there is kept" {
	need_pg
	pg_newdb hnswp
	setup_papers
	run arxiv-index -d "$PG_DSN" --hnsw-m 8 --ef-construction 20 papers.vec
	assert_success
	run pg_sql "SELECT indexdef FROM pg_indexes WHERE indexname = 'papers_embedding_hnsw'"
	assert_success "CREATE INDEX papers_embedding_hnsw ON public.papers USING hnsw (embedding vector_cosine_ops) WITH (m='8', ef_construction='20')"
	run arxiv-index -d "$PG_DSN" --hnsw-m 32 papers.vec
	assert_success
	run pg_sql "SELECT indexdef LIKE '%m=''8''%' FROM pg_indexes WHERE indexname = 'papers_embedding_hnsw'"
	assert_success "t"
	run arxiv-index -d "$PG_DSN" --hnsw-m 101 papers.vec
	assert_failure "arxiv-index: 101: invalid hnsw-m (expected 2..100)"
	[ "$status" -eq 2 ]
	run arxiv-index -d "$PG_DSN" --ef-construction 3 papers.vec
	[ "$status" -eq 2 ]
}

@test "arxiv-index -d into an empty table: COPY straight in; an id met twice falls back to the upsert" {
	need_pg
	pg_newdb twice
	vec() { printf '{"id":"%s","title":"%s","embedder":"e","embedding":[%s,1]}\n' "$1" "$2" "$3"; }
	{ vec a A1 1; vec b B 2; vec c C 3; vec a A2 4; vec d D 5; } >v.jsonl
	run arxiv-index -d "$PG_DSN" --batch 2 --verbose v.jsonl
	assert_status 0
	assert_output_contains "postgresql: 5 rows in 3 batches: 4 new, 1 replaced, 0 unchanged, 0 repeated ids"
	run pg_sql "SELECT string_agg(id || '=' || title, ',' ORDER BY id) FROM papers"
	assert_success "a=A2,b=B,c=C,d=D"
	pg_newdb twice2
	{ vec x X1 1; vec y Y 2; vec x X2 3; } >w.jsonl
	run arxiv-index -d "$PG_DSN" --verbose w.jsonl
	assert_status 0
	assert_output_contains "postgresql: 3 rows in 2 batches: 2 new, 1 replaced, 0 unchanged, 0 repeated ids"
	run pg_sql "SELECT string_agg(id || '=' || title, ',' ORDER BY id) FROM papers"
	assert_success "x=X2,y=Y"
}

@test "arxiv-similar -d gives the same neighbours as the local index file (HNSW and exact)" {
	need_pg
	need_shared
	pg_newdb same
	shared_head 400 >data.jsonl
	arxiv-embed --learn emb data.jsonl 2>/dev/null
	arxiv-embed -e emb data.jsonl >v.bin
	arxiv-index -o p.axi v.bin 2>/dev/null
	arxiv-index -d "$PG_DSN" v.bin 2>/dev/null
	local ids n=0 id
	ids=$(jq -r .id data.jsonl | sed -n '1~40p')
	for id in $ids; do
		a=$(arxiv-similar -i p.axi --id "$id" -K 5 | jq -r .id)
		b=$(arxiv-similar -d "$PG_DSN" --id "$id" -K 5 | jq -r .id)
		c=$(arxiv-similar -d "$PG_DSN?options=-cenable_indexscan%3Doff" --id "$id" -K 5 | jq -r .id)
		[ "$(wc -l <<<"$a")" -eq 5 ]
		[ "$a" = "$c" ] || { echo "exact differs for $id: $a / $c"; return 1; }
		[ "$a" = "$b" ] && n=$((n + 1))
	done
	echo "HNSW top-5 equal to exact for $n of 10 queries"
	[ "$n" -ge 9 ]
	# scores agree too, and a text query goes through the embedder recorded in papers_meta
	q=$(jq -r .abstract data.jsonl | sed -n 7p)
	run diff <(echo "$q" | arxiv-similar -i p.axi -K 5 | jq -c '[.id, (.score * 1000 | round)]') \
		<(echo "$q" | arxiv-similar -d "$PG_DSN?options=-cenable_indexscan%3Doff" -K 5 | jq -c '[.id, (.score * 1000 | round)]')
	assert_success
	# field filter
	run arxiv-similar -d "$PG_DSN" --id "$(jq -r .id data.jsonl | head -n 1)" -K 5 --field Physics
	assert_status 0
	[ "$(jq -r .field <<<"$output" | sort -u)" = Physics ]
	# the HNSW breadth: --ef-search, else the DSN's own, else 100; pgvector's
	# graph scan gives at most ef_search rows
	[ "$(echo "$q" | arxiv-similar -d "$PG_DSN" --ef-search 1 -K 5 | wc -l)" -eq 1 ]
	[ "$(echo "$q" | arxiv-similar -d "$PG_DSN?options=-chnsw.ef_search%3D2" -K 5 | wc -l)" -eq 2 ]
	[ "$(echo "$q" | arxiv-similar -d "$PG_DSN?options=-chnsw.ef_search%3D2" --ef-search 3 -K 5 | wc -l)" -eq 3 ]
	[ "$(echo "$q" | arxiv-similar -d "$PG_DSN" -K 5 | wc -l)" -eq 5 ]
}

@test "arxiv-index -d: hostile titles are data (quotes, backslashes, DROP TABLE, tabs, newlines)" {
	need_pg
	pg_newdb hostile
	python3 -c '
import json
titles = ["\x27); DROP TABLE papers;--", "back\\slash \\N \\. \"quoted\" \x27single\x27",
          "tab\there\nnew\r\nline", "$1 $$ E\x27\\x00\x27 %s %n", "\\.\n\\.", "\u00e9t\u00e9 \u221e"]
for i, t in enumerate(titles):
    print(json.dumps({"id": "h%d" % i, "title": t, "field": "Physics", "categories": "x\ty",
                      "embedder": "e", "embedding": [i + 1, 1]}))
' >h.jsonl
	run arxiv-index -d "$PG_DSN" h.jsonl
	assert_status 0
	run pg_sql "SELECT count(*), count(*) FILTER (WHERE categories = E'x\ty') FROM papers"
	assert_success "6|6"
	# every title back as it went in, byte for byte
	jq -c '[.id, .title]' h.jsonl >want
	"$PG_BIN/psql" -qAtX -c "SELECT json_build_array(id, title) FROM papers ORDER BY id" | jq -c . >got
	diff want got
	run arxiv-similar -d "$PG_DSN" --id h0 -K 5
	assert_status 0
	jq -c '[.id, .title]' <<<"$output" | sort >sim
	grep -v '"h0"' want | sort | diff - sim
}

@test "arxiv-index -d: a NUL byte in a title is an error naming the record; -k skips it" {
	need_pg
	pg_newdb nul
	printf '%s\n' '{"id":"a","title":"A","field":"Physics","embedder":"e","embedding":[0.6,0.8]}' \
		'{"id":"b","title":"nul\u0000inside","field":"Physics","embedder":"e","embedding":[1,0]}' \
		'{"id":"c","title":"C","field":"Physics","embedder":"e","embedding":[0,1]}' >v.jsonl
	run arxiv-index -d "$PG_DSN" v.jsonl
	assert_failure "arxiv-index: v.jsonl: record 2 (id b): NUL byte in the title (PostgreSQL text cannot hold it)"
	run pg_sql "SELECT count(*) FROM papers"
	assert_success 0
	run arxiv-index -k -d "$PG_DSN" v.jsonl
	assert_status 0
	[ "${lines[0]}" = "arxiv-index: v.jsonl: record 2 (id b): NUL byte in the title (PostgreSQL text cannot hold it)" ]
	[ "${lines[1]}" = "arxiv-index: skipped 1 record" ]
	run pg_sql "SELECT string_agg(id, ',' ORDER BY id) FROM papers"
	assert_success "a,c"
	# the same over two connections: the record is checked before it is sent
	pg_newdb nul2
	run arxiv-index -d "$PG_DSN" -j 2 v.jsonl
	assert_failure "arxiv-index: v.jsonl: record 2 (id b): NUL byte in the title (PostgreSQL text cannot hold it)"
	run arxiv-index -k -j 2 -d "$PG_DSN" v.jsonl
	assert_status 0
	[ "${lines[1]}" = "arxiv-index: skipped 1 record" ]
	run pg_sql "SELECT string_agg(id, ',' ORDER BY id) FROM papers"
	assert_success "a,c"
}

@test "arxiv-index -d refuses vectors of another embedder or dimension" {
	need_pg
	pg_newdb refuse
	setup_papers
	arxiv-index -d "$PG_DSN" papers.vec 2>/dev/null
	arxiv-embed --learn emb64 --dim 64 papers.jsonl 2>/dev/null
	arxiv-embed -e emb64 papers.jsonl >p64.vec
	run arxiv-index -d "$PG_DSN" p64.vec
	assert_failure "arxiv-index: postgresql: papers has 256 dims of \"$(jq -r .identity emb/embedder.json)\", input 64 dims of \"$(jq -r .identity emb64/embedder.json)\""
	run pg_sql "SELECT count(*), min(vector_dims(embedding)) FROM papers"
	assert_success "30|256"
}

@test "arxiv-index/arxiv-similar -d: a server that is down is a clear error" {
	need_pg
	setup_papers
	port=$(pg_free_port)
	run arxiv-index -d "postgresql://postgres@127.0.0.1:$port/x" papers.vec
	assert_failure "arxiv-index: postgresql: cannot connect: connection to server at \"127.0.0.1\", port $port failed: Connection refused"
	run arxiv-similar -d "postgresql://postgres@127.0.0.1:$port/x" --id 2101.00001
	assert_status 1
	assert_output_contains "cannot connect"
	# a database with nothing loaded
	pg_newdb empty
	run arxiv-similar -d "$PG_DSN" --id 2101.00001
	assert_status 1
	assert_output_contains "no paper embeddings in this database"
	# an id that is not indexed
	pg_newdb one
	arxiv-index -d "$PG_DSN" papers.vec 2>/dev/null
	run arxiv-similar -d "$PG_DSN" --id 9999.99999
	assert_status 1
	assert_output_contains "9999.99999"
}

# papers.jsonl of N papers of 8 dimensions (ids pNNNN).
make_vectors() {
	python3 -c '
import json, random, sys
random.seed(1)
for i in range(int(sys.argv[1])):
    v = [random.uniform(-1, 1) for _ in range(8)]
    print(json.dumps({"id": "p%04d" % i, "title": "paper %d" % i, "field": "Physics", "embedder": "e", "embedding": v}))
' "$1"
}

# Start arxiv-index -d --batch 1500 on a FIFO (fd 7) and feed it 2000 papers:
# it hands them to the backend 1000 at a time, so batch 1 (papers 1-1500)
# commits and batch 2 is left open with 500 papers while it waits for more.
start_cut_load() {
	make_vectors 3000 >all.jsonl
	mkfifo in.fifo
	arxiv-index -d "$PG_DSN" --batch 1500 in.fifo 2>load.err &
	loader=$!
	exec 7>in.fifo
	head -n 2000 all.jsonl >&7
	local i
	for i in $(seq 200); do
		[ "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'arxiv' AND xact_start IS NOT NULL AND query LIKE 'COPY%'")" = 1 ] &&
			[ "$(pg_sql 'SELECT count(*) FROM papers')" = 1500 ] && return 0
		sleep 0.1
	done
	echo "the load did not reach batch 2"
	return 1
}

# Feed the rest, close the FIFO, expect the loader to fail.
finish_cut_load() {
	local rc=0
	tail -n +2001 all.jsonl >&7
	exec 7>&-
	wait "$loader" || rc=$?
	cat load.err
	[ "$rc" -eq 1 ]
	[[ "$(head -n 1 load.err)" == "arxiv-index: postgresql: "*"(batch of papers 1501-3000 rolled back): "* ]]
}

@test "arxiv-index -d: the backend killed mid-load rolls the batch in flight back; a rerun completes" {
	need_pg
	pg_newdb away
	start_cut_load
	pg_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'arxiv'" >/dev/null
	finish_cut_load
	grep -q -e "terminat" -e "server closed the connection" load.err
	run pg_sql "SELECT count(*), max(id) FROM papers"
	assert_success "1500|p1499"
	# rerun: the missing 1500 come in, the others stay untouched
	run arxiv-index -d "$PG_DSN" --batch 1000 --verbose all.jsonl
	assert_status 0
	assert_output_contains "postgresql: 3000 rows in 3 batches: 1500 new, 0 replaced, 1500 unchanged, 0 repeated ids"
	run pg_sql "SELECT count(*), count(DISTINCT id) FROM papers"
	assert_success "3000|3000"
}

@test "arxiv-index -d: the server stopping mid-load is an error; after a restart a rerun completes" {
	need_pg
	pg_newdb stop
	start_cut_load
	pg_kill_server
	finish_cut_load || { pg_restart; return 1; }
	pg_restart
	run pg_sql "SELECT count(*) FROM papers"
	assert_success 1500
	run arxiv-index -d "$PG_DSN" all.jsonl
	assert_status 0
	run pg_sql "SELECT count(*) FROM papers"
	assert_success 3000
}

# versions.jsonl: ids x000-x399 of 2 dimensions, each $1 times ("x007 v1" ..
# "x007 v$1"), the versions of an id in order, the ids shuffled in each round.
make_versions() {
	python3 -c '
import json, random, sys
random.seed(int(sys.argv[2]))
ids = ["x%03d" % i for i in range(400)]
for v in range(1, int(sys.argv[1]) + 1):
    random.shuffle(ids)
    for i in ids:
        print(json.dumps({"id": i, "title": "%s %s%d" % (i, sys.argv[3], v), "embedder": "e",
                          "embedding": [random.uniform(0.1, 1), random.uniform(0.1, 1)]}))
' "$1" "$2" "$3"
}

@test "arxiv-index -d -j: parallel connections; repeated ids end last-wins, bulk or upsert; keyed and indexed" {
	need_pg
	pg_newdb par
	# into an empty table: the first repeat (row 401) ends the bulk load on every connection
	make_versions 3 1 v >v.jsonl
	run arxiv-index -d "$PG_DSN" -j 2 --batch 100 --verbose v.jsonl
	assert_status 0
	assert_output_contains "an id came twice: building the primary key now"
	assert_output_contains "postgresql: 1200 rows in "
	run pg_sql "SELECT count(*), count(*) FILTER (WHERE title = id || ' v3') FROM papers"
	assert_success "400|400"
	run pg_sql "SELECT string_agg(conname, ',') FROM pg_constraint WHERE conrelid = 'papers'::regclass AND contype = 'p'"
	assert_success "papers_pkey"
	run pg_sql "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'papers'"
	assert_success "papers_embedding_hnsw,papers_field,papers_pkey"
	# into the loaded table, 3 connections: upserts, the last version of each id wins
	make_versions 2 2 w >w.jsonl
	run arxiv-index -d "$PG_DSN" -j 3 --batch 50 --verbose w.jsonl
	assert_status 0
	assert_output_contains "postgresql: 800 rows in "
	run pg_sql "SELECT count(*), count(*) FILTER (WHERE title = id || ' w2') FROM papers"
	assert_success "400|400"
	# a bulk load without repeats: straight in, the key built at the end
	pg_newdb par2
	make_vectors 3000 >u.jsonl
	run arxiv-index -d "$PG_DSN" -j 2 --batch 700 --verbose u.jsonl
	assert_status 0
	assert_output_contains "postgresql: primary key built in "
	assert_output_contains "postgresql: 3000 rows in "
	assert_output_contains ": 3000 new, 0 replaced, 0 unchanged, 0 repeated ids"
	run pg_sql "SELECT count(*), count(DISTINCT id), (SELECT count(*) FROM pg_constraint WHERE conrelid = 'papers'::regclass AND contype = 'p') FROM papers"
	assert_success "3000|3000|1"
	# the answers are those of a one-connection load
	a=$(arxiv-similar -d "$PG_DSN" --id p0042 -K 5 | jq -r .id)
	pg_newdb par3
	arxiv-index -d "$PG_DSN" u.jsonl 2>/dev/null
	[ "$a" = "$(arxiv-similar -d "$PG_DSN" --id p0042 -K 5 | jq -r .id)" ]
}

@test "arxiv-index -d -j 2: killed mid bulk load, it leaves unique committed rows; a rerun keys them and completes" {
	need_pg
	pg_newdb killed
	make_vectors 3000 >all.jsonl
	mkfifo in.fifo
	arxiv-index -d "$PG_DSN" -j 2 --batch 500 in.fifo 2>load.err &
	loader=$!
	exec 7>in.fifo
	head -n 2000 all.jsonl >&7
	local i n=0
	for i in $(seq 200); do
		n=$(pg_sql "SELECT count(*) FROM papers")
		[ "$n" -ge 1000 ] && break
		sleep 0.1
	done
	[ "$n" -ge 1000 ]
	kill -KILL "$loader"
	wait "$loader" || true
	loader=
	exec 7>&-
	# what it committed: whole batches, each id once, no key yet (built at the end)
	run pg_sql "SELECT count(*) = count(DISTINCT id), count(*) <= 2000, (SELECT count(*) FROM pg_constraint WHERE conrelid = 'papers'::regclass AND contype = 'p') FROM papers"
	assert_success "t|t|0"
	# the rerun, with papers 0-99 retitled: keys the table, upserts, all 3000 right
	python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if int(r["id"][1:]) < 100:
        r["title"] = "new " + r["title"]
    print(json.dumps(r))
' <all.jsonl >rerun.jsonl
	run arxiv-index -d "$PG_DSN" -j 2 --verbose rerun.jsonl
	assert_status 0
	assert_output_contains "papers has rows and no primary key (a load was cut short): building it"
	run pg_sql "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE title LIKE 'new %'), count(*) FILTER (WHERE title = 'paper ' || substr(id, 2)::int) FROM papers"
	assert_success "3000|3000|100|2900"
	run pg_sql "SELECT count(*) FROM pg_indexes WHERE tablename = 'papers'"
	assert_success 3
}

@test "arxiv-index -d: a second load waits while a bulk load runs, then upserts after it (last wins)" {
	need_pg
	pg_newdb two
	start_cut_load
	# the first holds papers for its bulk load: the second (other titles for p0000-p0009) waits
	head -n 10 all.jsonl | sed 's/"title": "paper /"title": "second /' >second.jsonl
	arxiv-index -d "$PG_DSN" --verbose second.jsonl 2>second.err 7>&- &
	local second=$! i
	for i in $(seq 100); do
		grep -q "another load of papers is running; waiting" second.err && break
		sleep 0.1
	done
	grep -q "another load of papers is running; waiting" second.err
	kill -0 "$second"
	tail -n +2001 all.jsonl >&7
	exec 7>&-
	wait "$loader"
	loader=
	wait "$second"
	run pg_sql "SELECT count(*), count(*) FILTER (WHERE title LIKE 'second %'), count(DISTINCT id) FROM papers"
	assert_success "3000|10|3000"
}

@test "arxiv-index: the PostgreSQL man page EXAMPLES run against the test server" {
	need_pg
	make_papers data.jsonl
	arxiv-embed --learn emb data.jsonl 2>/dev/null
	arxiv-embed -e emb data.jsonl >vectors.bin
	local line n=0
	while IFS= read -r line; do
		# each into a fresh database: one connection, then -j 2
		n=$((n + 1))
		pg_newdb "arxiv$n"
		line=${line//postgresql:\/\/arxiv@localhost\/arxiv/$PG_DSN}
		echo "# $line"
		run bash -c "set -o pipefail; $line"
		assert_status 0
		run pg_sql "SELECT count(*), count(DISTINCT title) FROM papers"
		assert_success "30|30"
	done < <(man_examples man1/arxiv-index.1 | grep -e ' -d ')
	[ "$n" -eq 2 ]
}

@test "arxiv-serve -d: POST /api/similar/ answered from PostgreSQL, as arxiv-similar -d; survives a server restart" {
	need_pg
	pg_newdb serve
	setup_papers
	arxiv-index -d "$PG_DSN" papers.vec 2>/dev/null
	arxiv-serve -l 127.0.0.1:0 -d "$PG_DSN" 2>serve.log >/dev/null 3>&- &
	loader=$!
	local port="" i
	for i in $(seq 200); do
		port=$(sed -n 's|^arxiv-serve: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' serve.log)
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { cat serve.log; return 1; }
	q="We study superconductivity in twisted bilayer graphene"
	run curl -sS -d "{\"abstract\":\"$q\",\"k\":5}" "http://127.0.0.1:$port/api/similar/"
	assert_status 0
	[ "$(jq -c '.similar[]' <<<"$output")" = "$(arxiv-similar -d "$PG_DSN" -K 5 <<<"$q" | jq -c 'del(.query)')" ]
	[ "$(jq -r '.similar[].field' <<<"$output" | sort -u)" = Physics ]
	run curl -sS -o /dev/null -w '%{http_code}' -d '{"id":"9999.99999"}' "http://127.0.0.1:$port/api/similar/"
	assert_success 404
	grep -q "^arxiv-serve: opened pgvector index postgresql://postgres@127.0.0.1:$PGPORT/serve: 30 papers, 256 dimensions" serve.log
	# the database restarts: while it is down, 503 (retry later); then the next query reconnects
	pg_kill_server
	run curl -sS -o down.json -w '%{http_code}' -d '{"id":"2101.00021","k":9}' "http://127.0.0.1:$port/api/similar/"
	assert_success 503
	jq -e '.error == "index unavailable"' down.json
	pg_restart
	run curl -sS -d '{"id":"2101.00021","k":9}' "http://127.0.0.1:$port/api/similar/"
	assert_status 0
	[ "$(jq -r '.similar[].id' <<<"$output" | sort | tr '\n' ' ')" = "2101.00022 2101.00023 2101.00024 2101.00025 2101.00026 2101.00027 2101.00028 2101.00029 2101.00030 " ]
	kill -TERM "$loader"
	wait "$loader"
}

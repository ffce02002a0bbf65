/*
 * test_pgstore.c - the PostgreSQL + pgvector store. Without a server only the
 * failure to connect and the bulk loader's id set are checked; tests/arxiv-index-pg.bats runs it again with
 * ARXIV_TEST_PG_DSN pointing at the throwaway server of tests/pg.bash.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "pgstore_int.h"
#include "tap.h"

#define D 4

static struct arxiv_pg_record
rec(const char *id, const char *title, const char *field, const float *v)
{
	struct arxiv_pg_record r = { id, title, field, "cs.LG stat.ML", strlen(id),
	    strlen(title), field ? strlen(field) : 0, 13, v };

	return r;
}

int
main(void)
{
	const char *dsn = getenv("ARXIV_TEST_PG_DSN");
	struct arxiv_error e = {0};
	struct arxiv_pg *pg;
	struct arxiv_pg_stats st;
	struct arxiv_pg_info info;
	struct arxiv_pg_hit *h, meta;
	struct arxiv_pg_record r;
	size_t n;
	float v[8][D] = {
		{ 1, 0, 0, 0 }, { 0.9f, 0.1f, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 0 },
		{ 0, 0, 0.8f, 0.2f }, { 0.5f, 0.5f, 0, 0 }, { -1, 0, 0, 0 }, { 0, 0, 0, 1 },
	};
	const char *hostile[] = {
		"'); DROP TABLE papers;--", "back\\slash \\N \\. and \"quotes\" 'single'",
		"tab\there\nnewline\r\nCRLF", "\xc3\xa9t\xc3\xa9 \xe2\x88\x9e", "$1 $$ E'\\x00'",
		"plain", "COPY papers TO '/tmp/x'", "last",
	};
	char id[8], bad[] = "nul\0byte";
	float got[D];
	int i;

#if HAVE_LIBPQ
	{
		/* a bulk load's ids: the first repeat must be seen (it ends the bulk
		 * load), and no new id taken for one, through the table's growth */
		struct arxiv_hset64 ids = { NULL, 0, 0 };
		char k[16];
		long j, fresh = 0, again = 0;

		for (j = 0; j < 200000; j++) {
			snprintf(k, sizeof(k), "%04ld.%05ld", j / 1000, j % 100000);
			fresh += pgx_ids_seen(&ids, k, strlen(k)) == 0;
		}
		CHECK(fresh == 200000 && ids.n == 200000, "200000 new ids, none taken for a repeat (%ld)",
		    fresh);
		for (j = 0; j < 200000; j += 7) {
			snprintf(k, sizeof(k), "%04ld.%05ld", j / 1000, j % 100000);
			again += pgx_ids_seen(&ids, k, strlen(k)) == 1;
		}
		CHECK(again == (200000 + 6) / 7, "every id sent again is seen (%ld)", again);
		CHECK(pgx_ids_seen(&ids, "x", 1) == 0 && pgx_ids_seen(&ids, "x", 1) == 1 &&
		    ids.n == 200001, "one more: new, then seen");
		arxiv_hset64_free(&ids);
	}
#endif
	pg = arxiv_pg_open("host=127.0.0.1 port=1 connect_timeout=2", &e);
	CHECK(pg == NULL && strstr(e.text, "cannot connect") != NULL,
	    "a server that is down: a clear error (%s)", e.text);
	if (dsn == NULL || *dsn == '\0') {
		printf("# ARXIV_TEST_PG_DSN not set: the rest runs in tests/arxiv-index-pg.bats\n");
		return tap_done();
	}
	pg = arxiv_pg_open(dsn, &e);
	CHECK(pg != NULL, "connect (%s)", e.text);
	if (pg == NULL)
		return tap_done();
	CHECK(arxiv_pg_info(pg, &info, &e) == -1 && strstr(e.text, "no paper embeddings"),
	    "an empty database says so (%s)", e.text);
	CHECK(arxiv_pg_set(pg, "batch", 3, &e) == 0, "batch size 3");
	CHECK(arxiv_pg_set(pg, "batch", 0, &e) == -1, "batch size 0 refused");
	CHECK(arxiv_pg_load_begin(pg, "test-embedder", NULL, D, &e) == 0, "load begin (%s)", e.text);
	for (i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		r = rec(id, hostile[i], i < 4 ? "Physics" : "Mathematics", v[i]);
		CHECK(arxiv_pg_load_add(pg, &r, i + 1, &e) == 0, "add %s (%s)", id, e.text);
	}
	r = rec("p9", "x", "Physics", v[0]);
	r.title = bad;
	r.title_len = sizeof(bad) - 1;
	CHECK(arxiv_pg_load_add(pg, &r, 9, &e) == 1 && e.line == 9 &&
	    strcmp(e.text, "NUL byte in the title (PostgreSQL text cannot hold it)") == 0,
	    "NUL in a title: refused, naming the record (%ld: %s)", e.line, e.text);
	CHECK(arxiv_pg_load_end(pg, &st, &e) == 0, "load end (%s)", e.text);
	CHECK(st.committed == 8 && st.inserted == 8 && st.batches == 3,
	    "8 rows in 3 batches (%llu %llu %llu)", (unsigned long long)st.committed,
	    (unsigned long long)st.inserted, (unsigned long long)st.batches);
	CHECK(arxiv_pg_info(pg, &info, &e) == 0 && info.count == 8 && info.dim == D && info.hnsw &&
	    strcmp(info.embedder, "test-embedder") == 0, "info: 8 rows, dim, embedder, HNSW");
	for (i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		memset(&meta, 0, sizeof(meta));
		CHECK(arxiv_pg_get(pg, id, got, &meta, &e) == 0 && meta.title &&
		    strcmp(meta.title, hostile[i]) == 0 && memcmp(got, v[i], sizeof(got)) == 0,
		    "title and vector of %s back byte for byte", id);
		free(meta.id);
		free(meta.title);
		free(meta.field);
		free(meta.categories);
	}
	CHECK(arxiv_pg_get(pg, "nope", got, NULL, &e) == 1 && strstr(e.text, "not indexed"),
	    "unknown id: not indexed");
	for (i = 0; i < 2; i++) {
		CHECK(arxiv_pg_search(pg, v[0], 3, NULL, i, &h, &n, &e) == 0 && n == 3,
		    "search %s (%s)", i ? "exact" : "hnsw", e.text);
		CHECK(n == 3 && strcmp(h[0].id, "p0") == 0 && strcmp(h[1].id, "p1") == 0 &&
		    strcmp(h[2].id, "p5") == 0 && fabsf(h[0].score - 1) < 1e-6f,
		    "nearest are p0 p1 p5, score 1 first");
		arxiv_pg_hits_free(h, n);
	}
	CHECK(arxiv_pg_search(pg, v[0], 5, "Mathematics", 0, &h, &n, &e) == 0 && n == 4 &&
	    strcmp(h[0].id, "p5") == 0 && strcmp(h[3].id, "p6") == 0,
	    "field filter: only Mathematics, p5 first, p6 last");
	arxiv_pg_hits_free(h, n);
	arxiv_pg_close(pg);

	/* rerun: same rows unchanged, one changed, one new; then a refusal */
	pg = arxiv_pg_open(dsn, &e);
	CHECK(arxiv_pg_load_begin(pg, "test-embedder", NULL, D, &e) == 0, "reload begin");
	for (i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		r = rec(id, i == 3 ? "new title" : hostile[i], i < 4 ? "Physics" : "Mathematics", v[i]);
		arxiv_pg_load_add(pg, &r, i + 1, &e);
	}
	r = rec("p8", "eight", "Physics", v[3]);
	arxiv_pg_load_add(pg, &r, 9, &e);
	r = rec("p8", "eight again", "Physics", v[2]);
	arxiv_pg_load_add(pg, &r, 10, &e);
	CHECK(arxiv_pg_load_end(pg, &st, &e) == 0 && st.inserted == 1 && st.updated == 1 &&
	    st.unchanged == 7 && st.duplicates == 1,
	    "upsert: 1 new, 1 replaced, 7 unchanged, 1 duplicate (%llu %llu %llu %llu)",
	    (unsigned long long)st.inserted, (unsigned long long)st.updated,
	    (unsigned long long)st.unchanged, (unsigned long long)st.duplicates);
	CHECK(arxiv_pg_get(pg, "p8", got, &meta, &e) == 0 && strcmp(meta.title, "eight again") == 0,
	    "a repeated id: the last one wins");
	free(meta.id);
	free(meta.title);
	free(meta.field);
	free(meta.categories);
	CHECK(arxiv_pg_load_begin(pg, "test-embedder", NULL, D + 1, &e) == -1 &&
	    strcmp(e.text, "papers has 4 dims of \"test-embedder\", input 5 dims of \"test-embedder\"") == 0,
	    "another dimension refused (%s)", e.text);
	CHECK(arxiv_pg_load_begin(pg, "other-embedder", NULL, D, &e) == -1 &&
	    strcmp(e.text, "papers has 4 dims of \"test-embedder\", input 4 dims of \"other-embedder\"") == 0,
	    "another embedder refused (%s)", e.text);
	arxiv_pg_close(pg);
	return tap_done();
}

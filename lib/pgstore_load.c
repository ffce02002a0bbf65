/*
 * pgstore_load.c - loading paper embeddings into PostgreSQL + pgvector by
 * binary COPY, one transaction per batch (on -j parallel connections:
 * pgstore_par.c).
 *
 * Into a table that is empty at the start (a bulk load): the primary key and
 * the other indexes are dropped, rows are copied straight into papers, and the
 * key is built once at the end (a btree built in one sort is much cheaper than
 * one kept up row by row). The loader keeps the hashes of the ids it has sent:
 * the first id that comes again ends the bulk load early: the open batches are
 * committed, the key is built, and the load goes on upserting. So papers never
 * holds an id twice, even between batches, and a bulk load cut short (killed,
 * the server gone) leaves committed batches of unique ids without a key: the
 * next load, finding papers not empty and keyless, builds the key first. An
 * advisory lock (exclusive while bulk, shared otherwise) keeps two loads of the
 * same table from both thinking it empty.
 *
 * Into a table with rows: each batch is copied into a temporary staging table
 * and upserted by id (INSERT .. ON CONFLICT DO UPDATE, the last row of an id in
 * the batch winning, unchanged rows left alone), then committed.
 *
 * A batch that fails (the server goes away, a row is refused) rolls back as a
 * whole; the batches before it stay committed, so a rerun adds what is
 * missing. The field and HNSW indexes are built at the end when missing.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgstore_int.h"

#if HAVE_LIBPQ

static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

/* The loaders' advisory lock on papers: a fixed class ("axix") and the table. */
#define LOCK_KEY "1635280248, 'papers'::regclass::oid::int"

static double
since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

static unsigned char *
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

static unsigned char *
put_text(unsigned char *p, const char *s, size_t n, int null_if_empty)
{
	if (s == NULL || (n == 0 && null_if_empty))
		return put32(p, 0xffffffffu);
	p = put32(p, (uint32_t)n);
	memcpy(p, s, n);
	return p + n;
}

/* One row of binary COPY, written in place (a row is sent for every paper). */
int
pgx_put_row(struct arxiv_buf *b, const struct arxiv_pg_record *rec, uint32_t dim)
{
	size_t need = 2 + 5 * 4 + rec->id_len + (rec->title ? rec->title_len : 0) +
	    (rec->field ? rec->field_len : 0) + (rec->categories ? rec->categories_len : 0) +
	    4 + 4 * (size_t)dim;
	unsigned char *p;
	uint32_t i;

	if (arxiv_buf_reserve(b, need) < 0)
		return -1;
	p = (unsigned char *)b->data + b->len;
	*p++ = 0;
	*p++ = 5;
	p = put_text(p, rec->id, rec->id_len, 0);
	p = put_text(p, rec->title ? rec->title : "", rec->title ? rec->title_len : 0, 0);
	p = put_text(p, rec->field, rec->field_len, 1);
	p = put_text(p, rec->categories, rec->categories_len, 1);
	p = put32(p, 4 + 4 * dim);
	p = put32(p, dim << 16);	/* int16 dim, int16 unused */
	for (i = 0; i < dim; i++) {
		uint32_t u;

		memcpy(&u, &rec->vec[i], 4);
		p = put32(p, u);
	}
	b->len = (size_t)(p - (unsigned char *)b->data);
	b->data[b->len] = '\0';
	return 0;
}

int
pgx_ids_seen(struct arxiv_hset64 *s, const char *id, size_t n)
{
	int r = arxiv_hset64_add(s, arxiv_key_hash64(id, n));

	return r < 0 ? -1 : !r;
}

static int
make_stage(struct arxiv_pg *pg, struct arxiv_error *err)
{
	char sql[256];

	/* the dimension is digits only: the typmod cannot be a parameter */
	snprintf(sql, sizeof(sql), "CREATE TEMP TABLE IF NOT EXISTS papers_stage (ord bigserial, "
	    "id text, title text, field text, categories text, embedding vector(%u)) "
	    "ON COMMIT DELETE ROWS", pg->dim);
	return pgx_run0(pg, "create papers_stage", sql, err);
}

/* 1 when papers has a primary key, 0 not, -1 error. */
static int
has_key(struct arxiv_pg *pg, struct arxiv_error *err)
{
	PGresult *r = pgx_run(pg, "papers' key", "SELECT EXISTS (SELECT 1 FROM pg_constraint "
	    "WHERE conrelid = 'papers'::regclass AND contype = 'p')", 0, NULL, PGRES_TUPLES_OK, err);
	int rc;

	if (r == NULL)
		return -1;
	rc = pq.getvalue(r, 0, 0)[0] == 't';
	pq.clear(r);
	return rc;
}

/* Give papers its primary key unless it has one (its rows are unique by id). */
static int
add_key(struct arxiv_pg *pg, struct arxiv_error *err)
{
	struct timespec t0;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pgx_run0(pg, "begin", "BEGIN", err) < 0)
		return -1;
	if (pgx_run0(pg, "lock papers", "LOCK TABLE papers IN ACCESS EXCLUSIVE MODE", err) < 0 ||
	    (rc = has_key(pg, err)) < 0 ||
	    (rc == 0 && pgx_run0(pg, "build papers' primary key",
	    "ALTER TABLE papers ADD CONSTRAINT papers_pkey PRIMARY KEY (id)", err) < 0) ||
	    pgx_run0(pg, "commit", "COMMIT", err) < 0) {
		if (pq.transactionStatus(pg->c) != PQTRANS_IDLE)
			pq.clear(pq.exec(pg->c, "ROLLBACK"));
		return -1;
	}
	if (rc == 0)
		arxiv_log(ARXIV_LOG_DEBUG, "postgresql: primary key built in %.3f s", since(&t0));
	return 0;
}

/*
 * The loaders' advisory lock, and the load's mode: exclusive and bulk when
 * papers is empty (its key and indexes dropped), else shared, after giving
 * papers the key a bulk load cut short did not build.
 */
static int
take_lock(struct arxiv_pg *pg, struct arxiv_error *err)
{
	PGresult *r;
	int tries, got, empty, keyed;

	for (tries = 0; tries < 100; tries++) {
		if ((r = pgx_run(pg, "lock", "SELECT pg_try_advisory_lock(" LOCK_KEY ")", 0, NULL,
		    PGRES_TUPLES_OK, err)) == NULL)
			return -1;
		got = pq.getvalue(r, 0, 0)[0] == 't';
		pq.clear(r);
		if (got) {
			pg->locked = 1;
			if ((r = pgx_run(pg, "papers empty", "SELECT NOT EXISTS (SELECT 1 FROM papers)",
			    0, NULL, PGRES_TUPLES_OK, err)) == NULL)
				return -1;
			empty = pq.getvalue(r, 0, 0)[0] == 't';
			pq.clear(r);
			if (empty) {
				if (pgx_run0(pg, "begin", "BEGIN", err) < 0)
					return -1;
				if (pgx_run0(pg, "drop papers' indexes", "ALTER TABLE papers "
				    "DROP CONSTRAINT IF EXISTS papers_pkey", err) < 0 ||
				    pgx_run0(pg, "drop papers' indexes",
				    "DROP INDEX IF EXISTS papers_field, papers_embedding_hnsw", err) < 0 ||
				    pgx_run0(pg, "commit", "COMMIT", err) < 0) {
					pq.clear(pq.exec(pg->c, "ROLLBACK"));
					return -1;
				}
				pg->bulk = 1;
				pg->track = 1;
				return 0;
			}
			if ((keyed = has_key(pg, err)) < 0)
				return -1;
			if (!keyed) {
				arxiv_log(ARXIV_LOG_DEBUG, "postgresql: papers has rows and no primary "
				    "key (a load was cut short): building it");
				if (add_key(pg, err) < 0)
					return -1;
			}
			r = pgx_run(pg, "lock", "SELECT pg_advisory_unlock(" LOCK_KEY "), "
			    "pg_advisory_lock_shared(" LOCK_KEY ")", 0, NULL, PGRES_TUPLES_OK, err);
			if (r == NULL)
				return -1;
			pq.clear(r);
			return 0;
		}
		/* another load: wait while it is a bulk one */
		arxiv_log(ARXIV_LOG_DEBUG, "postgresql: another load of papers is running; waiting");
		if ((r = pgx_run(pg, "lock", "SELECT pg_advisory_lock_shared(" LOCK_KEY ")", 0, NULL,
		    PGRES_TUPLES_OK, err)) == NULL)
			return -1;
		pq.clear(r);
		pg->locked = 1;
		if ((keyed = has_key(pg, err)) != 0)
			return keyed < 0 ? -1 : 0;
		/* keyless, left so by a load cut short: take it exclusively to fix that */
		if ((r = pgx_run(pg, "lock", "SELECT pg_advisory_unlock_shared(" LOCK_KEY ")", 0, NULL,
		    PGRES_TUPLES_OK, err)) == NULL)
			return -1;
		pq.clear(r);
		pg->locked = 0;
		nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	}
	arxiv_error_set(err, PG_SRC, 0, "papers has no primary key and other loads hold it");
	return -1;
}

static void
unlock(struct arxiv_pg *pg)
{
	if (pg->locked && pq.status(pg->c) == CONNECTION_OK &&
	    pq.transactionStatus(pg->c) == PQTRANS_IDLE)
		pq.clear(pq.exec(pg->c, "SELECT pg_advisory_unlock_all()"));
	pg->locked = 0;
}

int
arxiv_pg_load_begin(struct arxiv_pg *pg, const char *embedder, const char *embedder_dir,
    uint32_t dim, struct arxiv_error *err)
{
	char dims[16];
	const char *v[3];
	char sql[512];
	PGresult *r;
	int rc;

	if (dim == 0 || dim > 16000) {
		arxiv_error_set(err, PG_SRC, 0, "vector dimension %u out of range (pgvector: 1..16000)",
		    dim);
		return -1;
	}
	snprintf(dims, sizeof(dims), "%u", dim);
	if (pgx_run0(pg, "begin", "BEGIN", err) < 0)
		return -1;
	r = pgx_run(pg, "pgvector", "SELECT 1 FROM pg_extension WHERE extname = 'vector'", 0, NULL,
	    PGRES_TUPLES_OK, err);
	if (r == NULL)
		goto fail;
	rc = pq.ntuples(r);
	pq.clear(r);
	if (rc == 0 && pgx_run0(pg, "CREATE EXTENSION vector (is pgvector installed, and may this "
	    "user create it?)", "CREATE EXTENSION IF NOT EXISTS vector", err) < 0)
		goto fail;
	if (pgx_run0(pg, "create papers_meta", "CREATE TABLE IF NOT EXISTS papers_meta ("
	    "one boolean PRIMARY KEY DEFAULT true CHECK (one), embedder text NOT NULL, "
	    "embedder_dir text NOT NULL DEFAULT '', dim integer NOT NULL, "
	    "created timestamptz NOT NULL DEFAULT now())", err) < 0 ||
	    pgx_run0(pg, "lock papers_meta", "LOCK TABLE papers_meta IN EXCLUSIVE MODE", err) < 0)
		goto fail;
	if ((rc = pgx_read_meta(pg, err)) < 0)
		goto fail;
	if (rc == 0 && (pg->dim != dim || strcmp(pg->embedder, embedder) != 0)) {
		arxiv_error_set(err, PG_SRC, 0, "papers has %u dims of \"%.52s\", input %u dims of "
		    "\"%.52s\"", pg->dim, pg->embedder, dim, embedder);
		goto fail;
	}
	v[0] = embedder;
	v[1] = dims;
	v[2] = embedder_dir ? embedder_dir : "";
	if (rc == 1) {
		r = pgx_run(pg, "write papers_meta", "INSERT INTO papers_meta (embedder, dim, "
		    "embedder_dir) VALUES ($1, $2, $3)", 3, v, PGRES_COMMAND_OK, err);
		if (r == NULL)
			goto fail;
		pq.clear(r);
		snprintf(pg->embedder, sizeof(pg->embedder), "%s", embedder);
		pg->dim = dim;
	} else if (*v[2] != '\0') {
		/* where the embedder lives now, for queries by text */
		r = pgx_run(pg, "write papers_meta", "UPDATE papers_meta SET embedder_dir = $1", 1,
		    v + 2, PGRES_COMMAND_OK, err);
		if (r == NULL)
			goto fail;
		pq.clear(r);
	}
	if (*v[2] != '\0')
		snprintf(pg->embedder_dir, sizeof(pg->embedder_dir), "%s", v[2]);
	snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS papers (id text PRIMARY KEY, "
	    "title text NOT NULL, field text, categories text, embedding vector(%s) NOT NULL)", dims);
	if (pgx_run0(pg, "create papers", sql, err) < 0 || make_stage(pg, err) < 0)
		goto fail;
	if (pgx_run0(pg, "commit", "COMMIT", err) < 0)
		goto fail;
	pg->bulk = pg->track = 0;
	arxiv_hset64_free(&pg->ids);
	if (take_lock(pg, err) < 0) {
		unlock(pg);
		return -1;
	}
	pg->loading = 1;
	memset(&pg->st, 0, sizeof(pg->st));
	clock_gettime(CLOCK_MONOTONIC, &pg->t0);
	return 0;
fail:
	if (pq.transactionStatus(pg->c) != PQTRANS_IDLE)
		pq.clear(pq.exec(pg->c, "ROLLBACK"));
	return -1;
}

int
pgx_load_join(struct arxiv_pg *w, const struct arxiv_pg *main, struct arxiv_error *err)
{
	w->dim = main->dim;
	snprintf(w->embedder, sizeof(w->embedder), "%s", main->embedder);
	w->batch = main->batch;
	w->bulk = main->bulk;
	w->track = 0;
	if (make_stage(w, err) < 0)
		return -1;
	w->loading = 1;
	memset(&w->st, 0, sizeof(w->st));
	w->t0 = main->t0;
	return 0;
}

void
pgx_abort_batch(struct arxiv_pg *pg)
{
	PGresult *r;

	if (!pg->in_batch)
		return;
	pg->in_batch = 0;
	pg->st.rolled_back += pg->in_flight;
	pg->in_flight = 0;
	if (pq.status(pg->c) != CONNECTION_OK)
		return;
	pq.putCopyEnd(pg->c, "arxiv: batch abandoned");
	while ((r = pq.getResult(pg->c)) != NULL)
		pq.clear(r);
	pq.clear(pq.exec(pg->c, "ROLLBACK"));
}

static int
batch_fail(struct arxiv_pg *pg, const char *what, const char *msg, struct arxiv_error *err)
{
	char m[160], w[128];
	long lo = pg->rec_lo, hi = pg->rec_hi;
	size_t n = pg->in_flight;

	snprintf(m, sizeof(m), "%s", msg ? msg : "");
	pgx_abort_batch(pg);
	if (n > 0 && lo > 0 && hi >= lo) {
		if ((size_t)(hi - lo + 1) == n)
			snprintf(w, sizeof(w), "%s (batch of papers %ld-%ld rolled back)", what, lo, hi);
		else
			snprintf(w, sizeof(w), "%s (batch of %zu papers of records %ld-%ld rolled back)",
			    what, n, lo, hi);
		pgx_set_pqerr(err, 0, w, m);
	} else
		pgx_set_pqerr(err, 0, what, m);
	return -1;
}

/* BEGIN and COPY into papers (direct) or papers_stage. */
static int
begin_copy(struct arxiv_pg *pg, int direct, struct arxiv_error *err)
{
	PGresult *r;

	if (pgx_run0(pg, "begin batch", "BEGIN", err) < 0)
		return -1;
	r = pq.exec(pg->c, direct ?
	    "COPY papers (id, title, field, categories, embedding) FROM STDIN (FORMAT binary)" :
	    "COPY papers_stage (id, title, field, categories, embedding) FROM STDIN (FORMAT binary)");
	if (r == NULL || pq.resultStatus(r) != PGRES_COPY_IN) {
		pgx_set_pqerr(err, 0, "COPY", r ? pq.resultErrorMessage(r) : pq.errorMessage(pg->c));
		pq.clear(r);
		pq.clear(pq.exec(pg->c, "ROLLBACK"));
		return -1;
	}
	pq.clear(r);
	pg->direct = direct;
	return 0;
}

/* Send the rest of the batch and end the COPY: 0, or -1 with the server's
 * message in m (and *uniq set when it was a unique violation). */
static int
end_copy(struct arxiv_pg *pg, char *m, size_t mn, int *uniq)
{
	PGresult *r;
	int bad = 0;

	*uniq = 0;
	if (pq.putCopyData(pg->c, pg->row.data + pg->sent, (int)(pg->row.len - pg->sent)) != 1 ||
	    pq.putCopyEnd(pg->c, NULL) != 1) {
		snprintf(m, mn, "%s", pq.errorMessage(pg->c));
		return -1;
	}
	pg->sent = pg->row.len;
	while ((r = pq.getResult(pg->c)) != NULL) {
		if (pq.resultStatus(r) != PGRES_COMMAND_OK && !bad) {
			const char *state = pq.resultErrorField(r, PG_DIAG_SQLSTATE);

			snprintf(m, mn, "%s", pq.resultErrorMessage(r));
			*uniq = state != NULL && strcmp(state, "23505") == 0;
			bad = 1;
		}
		pq.clear(r);
	}
	return bad ? -1 : 0;
}

/*
 * End the COPY and commit. A batch straight into papers (a bulk load) commits
 * as it is; one that meets an id already there (another writer gave papers its
 * key and that id) is rolled back and sent again through the staging table, as
 * is every later batch. The staging path upserts by id, the last row of an id
 * in the batch winning.
 */
static int
flush_batch(struct arxiv_pg *pg, struct arxiv_error *err)
{
	static const char upsert[] =
	    "WITH s AS (SELECT DISTINCT ON (id) id, title, field, categories, embedding "
	    "FROM papers_stage ORDER BY id, ord DESC), "
	    "u AS (INSERT INTO papers AS p (id, title, field, categories, embedding) "
	    "SELECT id, title, field, categories, embedding FROM s "
	    "ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, field = EXCLUDED.field, "
	    "categories = EXCLUDED.categories, embedding = EXCLUDED.embedding "
	    "WHERE (p.title, p.field, p.categories, p.embedding) IS DISTINCT FROM "
	    "(EXCLUDED.title, EXCLUDED.field, EXCLUDED.categories, EXCLUDED.embedding) "
	    "RETURNING (xmax = 0) AS ins) "
	    "SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins), "
	    "(SELECT count(*) FROM s) FROM u";
	PGresult *r;
	uint64_t ins, upd, distinct;
	char m[160];
	int uniq;

	if (!pg->in_batch)
		return 0;
	pgx_be16(&pg->row, 0xffff);	/* trailer */
	if (end_copy(pg, m, sizeof(m), &uniq) < 0) {
		if (!(pg->direct && uniq))
			return batch_fail(pg, "COPY", m, err);
		/* an id already there: this batch again, through the staging table */
		pq.clear(pq.exec(pg->c, "ROLLBACK"));
		pg->bulk = 0;
		pg->sent = 0;
		if (begin_copy(pg, 0, err) < 0) {
			pg->in_batch = 0;
			pg->st.rolled_back += pg->in_flight;
			pg->in_flight = 0;
			return -1;
		}
		if (end_copy(pg, m, sizeof(m), &uniq) < 0)
			return batch_fail(pg, "COPY", m, err);
	}
	if (pg->direct) {
		ins = distinct = pg->in_flight;
		upd = 0;
	} else {
		r = pq.exec(pg->c, upsert);
		if (r == NULL || pq.resultStatus(r) != PGRES_TUPLES_OK) {
			snprintf(m, sizeof(m), "%s", r ? pq.resultErrorMessage(r) : pq.errorMessage(pg->c));
			pq.clear(r);
			return batch_fail(pg, "upsert", m, err);
		}
		ins = strtoull(pq.getvalue(r, 0, 0), NULL, 10);
		upd = strtoull(pq.getvalue(r, 0, 1), NULL, 10);
		distinct = strtoull(pq.getvalue(r, 0, 2), NULL, 10);
		pq.clear(r);
	}
	r = pq.exec(pg->c, "COMMIT");
	if (r == NULL || pq.resultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(m, sizeof(m), "%s", r ? pq.resultErrorMessage(r) : pq.errorMessage(pg->c));
		pq.clear(r);
		return batch_fail(pg, "COMMIT", m, err);
	}
	pq.clear(r);
	pg->st.inserted += ins;
	pg->st.updated += upd;
	pg->st.unchanged += distinct - ins - upd;
	pg->st.duplicates += pg->in_flight - distinct;
	pg->st.committed += pg->in_flight;
	pg->st.batches++;
	pg->in_batch = 0;
	pg->in_flight = 0;
	arxiv_buf_clear(&pg->row);
	pg->sent = 0;
	return 0;
}

int
pgx_load_flush(struct arxiv_pg *pg, struct arxiv_error *err)
{
	return flush_batch(pg, err);
}

int
pgx_end_bulk(struct arxiv_pg *pg, struct arxiv_error *err)
{
	if (!pg->bulk)
		return 0;
	arxiv_log(ARXIV_LOG_DEBUG, "postgresql: an id came twice: building the primary key now, "
	    "upserting from here on");
	if (add_key(pg, err) < 0)
		return -1;
	pg->bulk = 0;
	arxiv_hset64_free(&pg->ids);
	return 0;
}

static int
check_text(const char *what, const char *s, size_t n, long recno, struct arxiv_error *err)
{
	long off;

	if (s == NULL)
		return 0;
	if (memchr(s, '\0', n) != NULL) {
		arxiv_error_set(err, "", recno, "NUL byte in the %s (PostgreSQL text cannot hold it)",
		    what);
		return 1;
	}
	if ((off = arxiv_utf8_check(s, n)) >= 0) {
		arxiv_error_set(err, "", recno, "invalid UTF-8 in the %s at byte %ld", what, off);
		return 1;
	}
	return 0;
}

int
pgx_check_record(const struct arxiv_pg *pg, const struct arxiv_pg_record *rec, long recno,
    struct arxiv_error *err)
{
	uint32_t i;
	int rc;

	if (rec->id == NULL || rec->id_len == 0) {
		arxiv_error_set(err, "", recno, "record has no id");
		return 1;
	}
	if ((rc = check_text("id", rec->id, rec->id_len, recno, err)) ||
	    (rc = check_text("title", rec->title, rec->title_len, recno, err)) ||
	    (rc = check_text("field", rec->field, rec->field_len, recno, err)) ||
	    (rc = check_text("categories", rec->categories, rec->categories_len, recno, err)))
		return rc;
	for (i = 0; i < pg->dim; i++)
		if (!isfinite(rec->vec[i])) {
			arxiv_error_set(err, "", recno, "vector component %u is not finite", i);
			return 1;
		}
	return 0;
}

/* Open a batch when none is: BEGIN, COPY, the header. */
static int
batch_open(struct arxiv_pg *pg, long recno, struct arxiv_error *err)
{
	if (pg->in_batch) {
		if (recno < pg->rec_lo)
			pg->rec_lo = recno;
		if (recno > pg->rec_hi)
			pg->rec_hi = recno;
		return 0;
	}
	if (begin_copy(pg, pg->bulk, err) < 0)
		return -1;
	pg->in_batch = 1;
	pg->rec_lo = pg->rec_hi = recno;
	arxiv_buf_clear(&pg->row);
	arxiv_buf_append(&pg->row, copy_header, sizeof(copy_header));
	pg->sent = 0;
	return 0;
}

/* Rows were added to the open batch: hand them to libpq every 256 KiB, so the
 * server sees the batch while it grows (they are kept until the commit, to be
 * sent again through the staging table if need be); commit a full batch. */
static int
batch_grew(struct arxiv_pg *pg, size_t rows, struct arxiv_error *err)
{
	pg->in_flight += rows;
	if (pg->row.len - pg->sent >= (1u << 18)) {
		if (pq.putCopyData(pg->c, pg->row.data + pg->sent, (int)(pg->row.len - pg->sent)) != 1)
			return batch_fail(pg, "COPY", pq.errorMessage(pg->c), err);
		pg->sent = pg->row.len;
	}
	if (pg->in_flight >= pg->batch)
		return flush_batch(pg, err) < 0 ? -1 : 0;
	return 0;
}

int
arxiv_pg_load_add(struct arxiv_pg *pg, const struct arxiv_pg_record *rec, long recno,
    struct arxiv_error *err)
{
	int rc;

	if (!pg->loading) {
		arxiv_error_set(err, PG_SRC, 0, "arxiv_pg_load_add before arxiv_pg_load_begin");
		return -1;
	}
	if ((rc = pgx_check_record(pg, rec, recno, err)) != 0)
		return rc;
	if (pg->bulk && pg->track) {
		if ((rc = pgx_ids_seen(&pg->ids, rec->id, rec->id_len)) < 0) {
			arxiv_error_set(err, PG_SRC, 0, "out of memory");
			return -1;
		}
		/* an id again: what came before is committed as it is, then keyed */
		if (rc == 1 && (flush_batch(pg, err) < 0 || pgx_end_bulk(pg, err) < 0))
			return -1;
	}
	if (batch_open(pg, recno, err) < 0)
		return -1;
	if (pgx_put_row(&pg->row, rec, pg->dim) < 0)
		return batch_fail(pg, "out of memory", "", err);
	return batch_grew(pg, 1, err);
}

int
pgx_load_rows(struct arxiv_pg *pg, const char *rows, size_t len, size_t n, long lo, long hi,
    struct arxiv_error *err)
{
	if (batch_open(pg, lo, err) < 0)
		return -1;
	if (hi > pg->rec_hi)
		pg->rec_hi = hi;
	if (arxiv_buf_append(&pg->row, rows, len) < 0)
		return batch_fail(pg, "out of memory", "", err);
	return batch_grew(pg, n, err);
}

/*
 * Before the first HNSW build: pgvector builds fast only while the graph fits
 * in maintenance_work_mem (64 MB by default, about 37,000 papers of 256
 * dimensions); beyond it the build goes on disk, many times slower. So raise it
 * for this session to the graph's size (papers x (4 dims + 48 m + 200) bytes,
 * at most ARXIV_PG_BUILD_MEM_MB), unless the session's value was chosen on
 * purpose (DSN options, PGOPTIONS, ALTER ROLE/DATABASE SET) or is larger.
 */
static int
build_mem(struct arxiv_pg *pg, struct arxiv_error *err)
{
	char mb[32];
	const char *v[1] = { mb };
	PGresult *r;
	double rows, need;

	r = pgx_run(pg, "count papers", "SELECT to_regclass('papers_embedding_hnsw') IS NULL, "
	    "(SELECT count(*) FROM papers)", 0, NULL, PGRES_TUPLES_OK, err);
	if (r == NULL)
		return -1;
	if (pq.getvalue(r, 0, 0)[0] != 't') {
		pq.clear(r);
		return 0;	/* built already: later rows go in as they come */
	}
	rows = strtod(pq.getvalue(r, 0, 1), NULL);
	pq.clear(r);
	need = rows * (4.0 * pg->dim + 48.0 * strtod(pg->hnsw_m, NULL) + 200.0) / 1048576.0 + 16;
	if (need > ARXIV_PG_BUILD_MEM_MB)
		need = ARXIV_PG_BUILD_MEM_MB;
	snprintf(mb, sizeof(mb), "%.0fMB", need);
	r = pgx_run(pg, "set maintenance_work_mem", "SELECT set_config('maintenance_work_mem', $1, "
	    "false) FROM pg_settings WHERE name = 'maintenance_work_mem' "
	    "AND source IN ('default', 'configuration file') "
	    "AND pg_size_bytes(setting || unit) < pg_size_bytes($1)", 1, v, PGRES_TUPLES_OK, err);
	if (r == NULL)
		return -1;
	if (pq.ntuples(r) == 1)
		arxiv_log(ARXIV_LOG_DEBUG, "postgresql: maintenance_work_mem %s for the HNSW build", mb);
	pq.clear(r);
	return 0;
}

int
arxiv_pg_load_end(struct arxiv_pg *pg, struct arxiv_pg_stats *st, struct arxiv_error *err)
{
	int rc = -1;

	if (!pg->loading) {
		arxiv_error_set(err, PG_SRC, 0, "arxiv_pg_load_end before arxiv_pg_load_begin");
		return -1;
	}
	if (flush_batch(pg, err) < 0)
		goto out;
	if (build_mem(pg, err) < 0)
		goto out;
	/* a bulk load: the key, built once; the rows count as committed with it */
	if (pg->bulk && add_key(pg, err) < 0)
		goto out;
	pg->bulk = 0;
	arxiv_hset64_free(&pg->ids);
	arxiv_log(ARXIV_LOG_DEBUG, "postgresql: %llu rows committed in %.3f s",
	    (unsigned long long)pg->st.committed, since(&pg->t0));
	if (pgx_run0(pg, "create papers_field", "CREATE INDEX IF NOT EXISTS papers_field ON papers "
	    "(field)", err) < 0)
		goto out;
	/* m and ef_construction are checked integers: a WITH list takes no parameters */
	{
		char sql[256];
		struct timespec t0;

		snprintf(sql, sizeof(sql), "CREATE INDEX IF NOT EXISTS papers_embedding_hnsw ON papers "
		    "USING hnsw (embedding vector_cosine_ops) WITH (m = %s, ef_construction = %s)",
		    pg->hnsw_m, pg->hnsw_ef);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (pgx_run0(pg, "build the HNSW index", sql, err) < 0)
			goto out;
		arxiv_log(ARXIV_LOG_DEBUG, "postgresql: HNSW index ready in %.2f s", since(&t0));
	}
	if (pgx_run0(pg, "analyze", "ANALYZE papers", err) < 0)
		goto out;
	rc = 0;
out:
	unlock(pg);
	if (st != NULL)
		*st = pg->st;
	pg->loading = 0;
	return rc;
}

void
arxiv_pg_load_stats(const struct arxiv_pg *pg, struct arxiv_pg_stats *st)
{
	*st = pg->st;
}

#else	/* !HAVE_LIBPQ */

#define NOPQ(e) arxiv_error_set(e, PG_SRC, 0, "built without libpq (install libpq-dev and rebuild)")

int arxiv_pg_load_begin(struct arxiv_pg *pg, const char *m, const char *md, uint32_t d,
    struct arxiv_error *e)
{ (void)pg; (void)m; (void)md; (void)d; NOPQ(e); return -1; }
int arxiv_pg_load_add(struct arxiv_pg *pg, const struct arxiv_pg_record *r, long n,
    struct arxiv_error *e)
{ (void)pg; (void)r; (void)n; NOPQ(e); return -1; }
int arxiv_pg_load_end(struct arxiv_pg *pg, struct arxiv_pg_stats *s, struct arxiv_error *e)
{ (void)pg; (void)s; NOPQ(e); return -1; }
void arxiv_pg_load_stats(const struct arxiv_pg *pg, struct arxiv_pg_stats *s)
{ (void)pg; memset(s, 0, sizeof(*s)); }

#endif

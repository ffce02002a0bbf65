/*
 * pgstore.c - paper embeddings in PostgreSQL with pgvector, through libpq.
 *
 * libpq is dlopen()ed ("libpq.so.5") on the first arxiv_pg_open, like the
 * libtorch plugin: the text filters that link libarxiv never load it, and a
 * machine without libpq only loses this backend. Only its header is needed
 * at build time (libpq-dev); without it this file builds a stub that says so.
 *
 * Schema (arxiv-pg(5)):
 *   papers(id text PRIMARY KEY, title text NOT NULL, field text,
 *          categories text, embedding vector(D) NOT NULL)
 *   papers_meta(one boolean PRIMARY KEY, embedder text, embedder_dir text, dim integer,
 *               created timestamptz)
 *   papers_embedding_hnsw: HNSW (vector_cosine_ops) on papers.embedding,
 *   papers_field: btree on papers.field.
 *
 * Loading: rows stream by binary COPY into a temporary staging table, one
 * transaction per batch, which ends with an upsert by id (INSERT .. ON
 * CONFLICT DO UPDATE, unchanged rows left alone) and COMMIT. Into a table
 * that was empty, batches are copied straight into papers until an id comes
 * twice (that batch is then sent again through the staging table). A batch that
 * fails (the server goes away, a row is refused) rolls back as a whole; the
 * batches before it stay committed, so a rerun adds what is missing. The HNSW
 * index is built at the end when it does not exist yet (building it once over
 * the loaded table is much faster than keeping it up to date row by row).
 * No SQL is ever made of data: values go as parameters or COPY rows.
 */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arxiv.h"
#include "internal.h"

#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#define HAVE_LIBPQ 1
#else
#define HAVE_LIBPQ 0
#endif

#define SRC "postgresql"

#if HAVE_LIBPQ

/* The libpq functions used here, resolved once by dlsym. */
static struct {
	PGconn *(*connectdbParams)(const char *const *, const char *const *, int);
	ConnStatusType (*status)(const PGconn *);
	char *(*errorMessage)(const PGconn *);
	void (*finish)(PGconn *);
	PGresult *(*exec)(PGconn *, const char *);
	PGresult *(*execParams)(PGconn *, const char *, int, const Oid *, const char *const *,
	    const int *, const int *, int);
	PGresult *(*prepare)(PGconn *, const char *, const char *, int, const Oid *);
	PGresult *(*execPrepared)(PGconn *, const char *, int, const char *const *, const int *,
	    const int *, int);
	ExecStatusType (*resultStatus)(const PGresult *);
	char *(*resultErrorMessage)(const PGresult *);
	char *(*resultErrorField)(const PGresult *, int);
	void (*clear)(PGresult *);
	int (*ntuples)(const PGresult *);
	char *(*getvalue)(const PGresult *, int, int);
	int (*getlength)(const PGresult *, int, int);
	int (*getisnull)(const PGresult *, int, int);
	int (*putCopyData)(PGconn *, const char *, int);
	int (*putCopyEnd)(PGconn *, const char *);
	PGresult *(*getResult)(PGconn *);
	PQnoticeProcessor (*setNoticeProcessor)(PGconn *, PQnoticeProcessor, void *);
	PGTransactionStatusType (*transactionStatus)(const PGconn *);
	char *(*db)(const PGconn *);
	char *(*user)(const PGconn *);
	char *(*host)(const PGconn *);
	char *(*port)(const PGconn *);
	void (*reset)(PGconn *);
} pq;

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_err[160];
static int pq_ok;

static void
pq_init(void)
{
	void *h;
	const char *e;

	if ((h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		snprintf(pq_err, sizeof(pq_err), "cannot load libpq (install libpq5): %s",
		    e ? e : "dlopen failed");
		return;
	}
#define SYM(f, name) \
	do { \
		*(void **)(&pq.f) = dlsym(h, name); \
		if (pq.f == NULL) { \
			snprintf(pq_err, sizeof(pq_err), "libpq has no %s", name); \
			return; \
		} \
	} while (0)
	SYM(connectdbParams, "PQconnectdbParams");
	SYM(status, "PQstatus");
	SYM(errorMessage, "PQerrorMessage");
	SYM(finish, "PQfinish");
	SYM(exec, "PQexec");
	SYM(execParams, "PQexecParams");
	SYM(prepare, "PQprepare");
	SYM(execPrepared, "PQexecPrepared");
	SYM(resultStatus, "PQresultStatus");
	SYM(resultErrorMessage, "PQresultErrorMessage");
	SYM(resultErrorField, "PQresultErrorField");
	SYM(clear, "PQclear");
	SYM(ntuples, "PQntuples");
	SYM(getvalue, "PQgetvalue");
	SYM(getlength, "PQgetlength");
	SYM(getisnull, "PQgetisnull");
	SYM(putCopyData, "PQputCopyData");
	SYM(putCopyEnd, "PQputCopyEnd");
	SYM(getResult, "PQgetResult");
	SYM(setNoticeProcessor, "PQsetNoticeProcessor");
	SYM(transactionStatus, "PQtransactionStatus");
	SYM(db, "PQdb");
	SYM(user, "PQuser");
	SYM(host, "PQhost");
	SYM(port, "PQport");
	SYM(reset, "PQreset");
#undef SYM
	pq_ok = 1;
}

struct arxiv_pg {
	PGconn *c;
	uint32_t dim;			/* of the table (0: not known yet) */
	char embedder[ARXIV_PG_EMBEDDER_MAX];
	char embedder_dir[4096];
	/* loading */
	int loading, in_batch;
	size_t batch, in_flight;	/* rows per transaction, rows in the open one */
	long first_rec;			/* record number of the open batch's first row */
	int fresh;			/* papers was empty: COPY straight into it */
	struct timespec t0;		/* load begun */
	int direct;			/* the open batch goes straight into papers */
	size_t sent;			/* bytes of row handed to libpq */
	struct arxiv_buf row;
	struct arxiv_pg_stats st;
	char hnsw_m[16], hnsw_ef[16];
	int ef_search;
	int prepared;			/* the k-NN statement is prepared on this connection */
	struct arxiv_buf qv;		/* the query vector in pgvector's binary form */
};

/* The first line of a libpq message, without its "ERROR:  " prefix. */
static void
set_pqerr(struct arxiv_error *err, long line, const char *what, const char *msg)
{
	char one[160];
	size_t n;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	if (strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	n = strcspn(msg, "\n");
	if (n >= sizeof(one))
		n = sizeof(one) - 1;
	memcpy(one, msg, n);
	one[n] = '\0';
	arxiv_error_set(err, SRC, line, "%s: %s", what, one);
}

static void
quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	arxiv_log(ARXIV_LOG_DEBUG, "postgresql: %s", msg);
}

/* Run a statement with text parameters; the result or NULL with err. */
static PGresult *
run(struct arxiv_pg *pg, const char *what, const char *sql, int n, const char *const *v,
    int want, struct arxiv_error *err)
{
	PGresult *r = pq.execParams(pg->c, sql, n, NULL, v, NULL, NULL, 0);
	ExecStatusType s = r ? pq.resultStatus(r) : PGRES_FATAL_ERROR;

	if (r == NULL || s != (ExecStatusType)want) {
		set_pqerr(err, 0, what, r ? pq.resultErrorMessage(r) : pq.errorMessage(pg->c));
		if (r != NULL && *pq.resultErrorMessage(r) == '\0')
			set_pqerr(err, 0, what, pq.errorMessage(pg->c));
		pq.clear(r);
		return NULL;
	}
	return r;
}

static int
run0(struct arxiv_pg *pg, const char *what, const char *sql, struct arxiv_error *err)
{
	PGresult *r = run(pg, what, sql, 0, NULL, PGRES_COMMAND_OK, err);

	if (r == NULL)
		return -1;
	pq.clear(r);
	return 0;
}

/*
 * What every connection (and reconnection) sets for its session: UTF-8, and
 * the HNSW search breadth: the one given with arxiv_pg_set, or else
 * ARXIV_PG_EF_SEARCH unless the connection already brings its own (options in
 * the DSN, PGOPTIONS). Values go as parameters.
 */
static int
session_setup(struct arxiv_pg *pg, struct arxiv_error *err)
{
	char efs[16];
	const char *v[1] = { efs };
	PGresult *r;

	pg->prepared = 0;
	if (run0(pg, "set client_encoding", "SET client_encoding = 'UTF8'", err) < 0)
		return -1;
	snprintf(efs, sizeof(efs), "%d", pg->ef_search > 0 ? pg->ef_search : ARXIV_PG_EF_SEARCH);
	r = run(pg, "set hnsw.ef_search", pg->ef_search > 0 ?
	    "SELECT set_config('hnsw.ef_search', $1, false)" :
	    "SELECT set_config('hnsw.ef_search', $1, false) "
	    "WHERE current_setting('hnsw.ef_search', true) IS NULL", 1, v, PGRES_TUPLES_OK, err);
	if (r == NULL)
		return -1;
	pq.clear(r);
	return 0;
}

struct arxiv_pg *
arxiv_pg_open(const char *dsn, struct arxiv_error *err)
{
	const char *keys[] = { "dbname", "fallback_application_name", NULL };
	const char *vals[] = { dsn ? dsn : "", "arxiv", NULL };
	struct arxiv_pg *pg;

	pthread_once(&pq_once, pq_init);
	if (!pq_ok) {
		arxiv_error_set(err, SRC, 0, "%s", pq_err);
		return NULL;
	}
	if ((pg = calloc(1, sizeof(*pg))) == NULL) {
		arxiv_error_set(err, SRC, 0, "out of memory");
		return NULL;
	}
	pg->batch = 10000;
	pg->ef_search = 0;
	snprintf(pg->hnsw_m, sizeof(pg->hnsw_m), "16");
	snprintf(pg->hnsw_ef, sizeof(pg->hnsw_ef), "64");
	/* dbname with expand_dbname=1 takes a key=value string or a URI; "" leaves
	 * everything to the PG* environment variables and libpq's defaults */
	pg->c = pq.connectdbParams(keys, vals, 1);
	if (pg->c == NULL || pq.status(pg->c) != CONNECTION_OK) {
		set_pqerr(err, 0, "cannot connect", pg->c ? pq.errorMessage(pg->c) : "out of memory");
		arxiv_pg_close(pg);
		return NULL;
	}
	pq.setNoticeProcessor(pg->c, quiet_notice, NULL);
	/* our statements name unqualified tables: search_path decides the schema;
	 * a session that is not UTF-8 would mangle titles */
	if (session_setup(pg, err) < 0) {
		arxiv_pg_close(pg);
		return NULL;
	}
	return pg;
}

void
arxiv_pg_close(struct arxiv_pg *pg)
{
	if (pg == NULL)
		return;
	if (pg->c != NULL)
		pq.finish(pg->c);
	arxiv_buf_free(&pg->row);
	arxiv_buf_free(&pg->qv);
	free(pg);
}

int
arxiv_pg_set(struct arxiv_pg *pg, const char *key, long value, struct arxiv_error *err)
{
	if (strcmp(key, "batch") == 0 && value >= 1)
		pg->batch = (size_t)value;
	else if (strcmp(key, "hnsw.m") == 0 && value >= 2 && value <= 100)
		snprintf(pg->hnsw_m, sizeof(pg->hnsw_m), "%ld", value);
	else if (strcmp(key, "hnsw.ef_construction") == 0 && value >= 4 && value <= 1000)
		snprintf(pg->hnsw_ef, sizeof(pg->hnsw_ef), "%ld", value);
	else if (strcmp(key, "hnsw.ef_search") == 0 && value >= 1 && value <= 1000) {
		pg->ef_search = (int)value;
		return session_setup(pg, err);
	} else {
		arxiv_error_set(err, SRC, 0, "bad setting %s = %ld", key, value);
		return -1;
	}
	return 0;
}

/* Read papers_meta: 0 (filled), 1 (no table or no row), -1 error. */
static int
read_meta(struct arxiv_pg *pg, struct arxiv_error *err)
{
	PGresult *r;
	const char *v;
	int rc = 1;

	r = run(pg, "read papers_meta", "SELECT to_regclass('papers_meta') IS NOT NULL", 0, NULL,
	    PGRES_TUPLES_OK, err);
	if (r == NULL)
		return -1;
	v = pq.getvalue(r, 0, 0);
	if (v[0] != 't') {
		pq.clear(r);
		return 1;
	}
	pq.clear(r);
	r = run(pg, "read papers_meta", "SELECT embedder, dim, embedder_dir FROM papers_meta", 0, NULL,
	    PGRES_TUPLES_OK, err);
	if (r == NULL)
		return -1;
	if (pq.ntuples(r) == 1) {
		snprintf(pg->embedder, sizeof(pg->embedder), "%s", pq.getvalue(r, 0, 0));
		pg->dim = (uint32_t)strtoul(pq.getvalue(r, 0, 1), NULL, 10);
		snprintf(pg->embedder_dir, sizeof(pg->embedder_dir), "%s", pq.getvalue(r, 0, 2));
		rc = 0;
	}
	pq.clear(r);
	return rc;
}

int
arxiv_pg_info(struct arxiv_pg *pg, struct arxiv_pg_info *info, struct arxiv_error *err)
{
	PGresult *r;
	int rc;

	memset(info, 0, sizeof(*info));
	if ((rc = read_meta(pg, err)) != 0) {
		if (rc > 0)
			arxiv_error_set(err, SRC, 0, "no paper embeddings in this database "
			    "(no papers_meta table or row); load some with arxiv-index -d");
		return -1;
	}
	/* the planner's estimate: exact counts of a big table take seconds */
	r = run(pg, "count papers", "SELECT GREATEST(reltuples, 0)::bigint, "
	    "EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'papers_embedding_hnsw' "
	    "AND schemaname = current_schema()) FROM pg_class WHERE oid = 'papers'::regclass",
	    0, NULL, PGRES_TUPLES_OK, err);
	if (r == NULL)
		return -1;
	if (pq.ntuples(r) == 1) {
		info->count = strtoull(pq.getvalue(r, 0, 0), NULL, 10);
		info->hnsw = pq.getvalue(r, 0, 1)[0] == 't';
	}
	pq.clear(r);
	if (info->count == 0) {
		/* never analysed: count it (cheap while small) */
		r = run(pg, "count papers", "SELECT count(*) FROM papers", 0, NULL, PGRES_TUPLES_OK,
		    err);
		if (r == NULL)
			return -1;
		info->count = strtoull(pq.getvalue(r, 0, 0), NULL, 10);
		pq.clear(r);
	}
	info->dim = pg->dim;
	snprintf(info->embedder, sizeof(info->embedder), "%s", pg->embedder);
	return 0;
}

/* --------------------------------------------------------------- loading */

static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

static void
be16(struct arxiv_buf *b, uint16_t v)
{
	unsigned char x[2] = { v >> 8, v & 255 };

	arxiv_buf_append(b, x, 2);
}

static void
be32(struct arxiv_buf *b, uint32_t v)
{
	unsigned char x[4] = { v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255 };

	arxiv_buf_append(b, x, 4);
}

static void
put_text(struct arxiv_buf *b, const char *s, size_t n, int null_if_empty)
{
	if (s == NULL || (n == 0 && null_if_empty)) {
		be32(b, 0xffffffffu);
		return;
	}
	be32(b, (uint32_t)n);
	arxiv_buf_append(b, s, n);
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
		arxiv_error_set(err, SRC, 0, "vector dimension %u out of range (pgvector: 1..16000)", dim);
		return -1;
	}
	snprintf(dims, sizeof(dims), "%u", dim);
	if (run0(pg, "begin", "BEGIN", err) < 0)
		return -1;
	r = run(pg, "pgvector", "SELECT 1 FROM pg_extension WHERE extname = 'vector'", 0, NULL,
	    PGRES_TUPLES_OK, err);
	if (r == NULL)
		goto fail;
	rc = pq.ntuples(r);
	pq.clear(r);
	if (rc == 0 && run0(pg, "CREATE EXTENSION vector (is pgvector installed, and may this "
	    "user create it?)", "CREATE EXTENSION IF NOT EXISTS vector", err) < 0)
		goto fail;
	if (run0(pg, "create papers_meta", "CREATE TABLE IF NOT EXISTS papers_meta ("
	    "one boolean PRIMARY KEY DEFAULT true CHECK (one), embedder text NOT NULL, "
	    "embedder_dir text NOT NULL DEFAULT '', dim integer NOT NULL, "
	    "created timestamptz NOT NULL DEFAULT now())", err) < 0 ||
	    run0(pg, "lock papers_meta", "LOCK TABLE papers_meta IN EXCLUSIVE MODE", err) < 0)
		goto fail;
	if ((rc = read_meta(pg, err)) < 0)
		goto fail;
	if (rc == 0 && (pg->dim != dim || strcmp(pg->embedder, embedder) != 0)) {
		arxiv_error_set(err, SRC, 0, "papers has %u dims of \"%.52s\", input %u dims of "
		    "\"%.52s\"", pg->dim, pg->embedder, dim, embedder);
		goto fail;
	}
	v[0] = embedder;
	v[1] = dims;
	v[2] = embedder_dir ? embedder_dir : "";
	if (rc == 1) {
		r = run(pg, "write papers_meta", "INSERT INTO papers_meta (embedder, dim, embedder_dir) "
		    "VALUES ($1, $2, $3)", 3, v, PGRES_COMMAND_OK, err);
		if (r == NULL)
			goto fail;
		pq.clear(r);
		snprintf(pg->embedder, sizeof(pg->embedder), "%s", embedder);
		pg->dim = dim;
	} else if (*v[2] != '\0') {
		/* where the embedder lives now, for queries by text */
		r = run(pg, "write papers_meta", "UPDATE papers_meta SET embedder_dir = $1", 1, v + 2,
		    PGRES_COMMAND_OK, err);
		if (r == NULL)
			goto fail;
		pq.clear(r);
	}
	if (*v[2] != '\0')
		snprintf(pg->embedder_dir, sizeof(pg->embedder_dir), "%s", v[2]);
	/* dims is digits only: the typmod cannot be a parameter */
	snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS papers (id text PRIMARY KEY, "
	    "title text NOT NULL, field text, categories text, embedding vector(%s) NOT NULL)", dims);
	if (run0(pg, "create papers", sql, err) < 0)
		goto fail;
	snprintf(sql, sizeof(sql), "CREATE TEMP TABLE IF NOT EXISTS papers_stage (ord bigserial, "
	    "id text, title text, field text, categories text, embedding vector(%s)) "
	    "ON COMMIT DELETE ROWS", dims);
	if (run0(pg, "create papers_stage", sql, err) < 0)
		goto fail;
	r = run(pg, "papers empty", "SELECT NOT EXISTS (SELECT 1 FROM papers)", 0, NULL,
	    PGRES_TUPLES_OK, err);
	if (r == NULL)
		goto fail;
	pg->fresh = pq.getvalue(r, 0, 0)[0] == 't';
	pq.clear(r);
	if (run0(pg, "commit", "COMMIT", err) < 0)
		goto fail;
	pg->loading = 1;
	memset(&pg->st, 0, sizeof(pg->st));
	clock_gettime(CLOCK_MONOTONIC, &pg->t0);
	return 0;
fail:
	if (pq.transactionStatus(pg->c) != PQTRANS_IDLE)
		pq.clear(pq.exec(pg->c, "ROLLBACK"));
	return -1;
}

/* Abandon the open batch (the server rolls it back). */
static void
abort_batch(struct arxiv_pg *pg)
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
	char m[160];
	long first = pg->first_rec, last = pg->first_rec + (long)pg->in_flight - 1;

	snprintf(m, sizeof(m), "%s", msg ? msg : "");
	abort_batch(pg);
	if (first > 0 && last >= first) {
		char w[96];

		snprintf(w, sizeof(w), "%s (batch of papers %ld-%ld rolled back)", what, first, last);
		set_pqerr(err, 0, w, m);
	} else
		set_pqerr(err, 0, what, m);
	return -1;
}

/* BEGIN and COPY into papers (direct) or papers_stage. */
static int
begin_copy(struct arxiv_pg *pg, int direct, struct arxiv_error *err)
{
	PGresult *r;

	if (run0(pg, "begin batch", "BEGIN", err) < 0)
		return -1;
	r = pq.exec(pg->c, direct ?
	    "COPY papers (id, title, field, categories, embedding) FROM STDIN (FORMAT binary)" :
	    "COPY papers_stage (id, title, field, categories, embedding) FROM STDIN (FORMAT binary)");
	if (r == NULL || pq.resultStatus(r) != PGRES_COPY_IN) {
		set_pqerr(err, 0, "COPY", r ? pq.resultErrorMessage(r) : pq.errorMessage(pg->c));
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
 * End the COPY and commit. A batch straight into a table that was empty
 * commits as it is; one that meets an id already there (a repeated id in the
 * input, another loader) is rolled back and sent again through the staging
 * table, and so is every later batch. The staging path upserts by id, the
 * last row of an id in the batch winning.
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
	be16(&pg->row, 0xffff);	/* trailer */
	if (end_copy(pg, m, sizeof(m), &uniq) < 0) {
		if (!(pg->direct && uniq))
			return batch_fail(pg, "COPY", m, err);
		/* an id met twice: this batch again, through the staging table */
		pq.clear(pq.exec(pg->c, "ROLLBACK"));
		pg->fresh = 0;
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
arxiv_pg_load_add(struct arxiv_pg *pg, const struct arxiv_pg_record *rec, long recno,
    struct arxiv_error *err)
{
	uint32_t i;
	int rc;

	if (!pg->loading) {
		arxiv_error_set(err, SRC, 0, "arxiv_pg_load_add before arxiv_pg_load_begin");
		return -1;
	}
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
	if (!pg->in_batch) {
		if (begin_copy(pg, pg->fresh, err) < 0)
			return -1;
		pg->in_batch = 1;
		pg->first_rec = recno;
		arxiv_buf_clear(&pg->row);
		arxiv_buf_append(&pg->row, copy_header, sizeof(copy_header));
		pg->sent = 0;
	}
	be16(&pg->row, 5);
	put_text(&pg->row, rec->id, rec->id_len, 0);
	put_text(&pg->row, rec->title ? rec->title : "", rec->title ? rec->title_len : 0, 0);
	put_text(&pg->row, rec->field, rec->field_len, 1);
	put_text(&pg->row, rec->categories, rec->categories_len, 1);
	be32(&pg->row, 4 + 4 * pg->dim);
	be16(&pg->row, (uint16_t)pg->dim);
	be16(&pg->row, 0);
	for (i = 0; i < pg->dim; i++) {
		uint32_t u;

		memcpy(&u, &rec->vec[i], 4);
		be32(&pg->row, u);
	}
	pg->in_flight++;
	/* hand the rows to libpq every 256 KiB, so the server sees the batch
	 * while it grows; they are kept until the commit, to be sent again
	 * through the staging table if the straight COPY meets an id twice */
	if (pg->row.len - pg->sent >= (1u << 18)) {
		if (pq.putCopyData(pg->c, pg->row.data + pg->sent, (int)(pg->row.len - pg->sent)) != 1)
			return batch_fail(pg, "COPY", pq.errorMessage(pg->c), err);
		pg->sent = pg->row.len;
	}
	if (pg->in_flight >= pg->batch)
		return flush_batch(pg, err) < 0 ? -1 : 0;
	return 0;
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

	r = run(pg, "count papers", "SELECT to_regclass('papers_embedding_hnsw') IS NULL, "
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
	r = run(pg, "set maintenance_work_mem", "SELECT set_config('maintenance_work_mem', $1, false) "
	    "FROM pg_settings WHERE name = 'maintenance_work_mem' "
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
		arxiv_error_set(err, SRC, 0, "arxiv_pg_load_end before arxiv_pg_load_begin");
		return -1;
	}
	if (flush_batch(pg, err) < 0)
		goto out;
	{
		struct timespec t1;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		arxiv_log(ARXIV_LOG_DEBUG, "postgresql: %llu rows committed in %.3f s",
		    (unsigned long long)pg->st.committed, (double)(t1.tv_sec - pg->t0.tv_sec) +
		    (double)(t1.tv_nsec - pg->t0.tv_nsec) * 1e-9);
	}
	if (run0(pg, "create papers_field", "CREATE INDEX IF NOT EXISTS papers_field ON papers (field)",
	    err) < 0)
		goto out;
	if (build_mem(pg, err) < 0)
		goto out;
	/* m and ef_construction are checked integers: a WITH list takes no parameters */
	{
		char sql[256];

		snprintf(sql, sizeof(sql), "CREATE INDEX IF NOT EXISTS papers_embedding_hnsw ON papers "
		    "USING hnsw (embedding vector_cosine_ops) WITH (m = %s, ef_construction = %s)",
		    pg->hnsw_m, pg->hnsw_ef);
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (run0(pg, "build the HNSW index", sql, err) < 0)
			goto out;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		arxiv_log(ARXIV_LOG_DEBUG, "postgresql: HNSW index ready in %.2f s",
		    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
	}
	if (run0(pg, "analyze", "ANALYZE papers", err) < 0)
		goto out;
	rc = 0;
out:
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

/* --------------------------------------------------------------- queries */

/* pgvector's text form of a vector, shortest exact float32 digits. */
static int
vec_text(struct arxiv_buf *b, const float *v, uint32_t dim)
{
	uint32_t i;

	arxiv_buf_clear(b);
	arxiv_buf_putc(b, '[');
	for (i = 0; i < dim; i++) {
		if (!isfinite(v[i]))
			return -1;
		arxiv_buf_printf(b, i ? ",%.9g" : "%.9g", (double)v[i]);
	}
	arxiv_buf_putc(b, ']');
	return 0;
}

static char *
dup_value(const PGresult *r, int row, int col)
{
	if (pq.getisnull(r, row, col))
		return NULL;
	return strdup(pq.getvalue(r, row, col));
}

static int
need_meta(struct arxiv_pg *pg, struct arxiv_error *err)
{
	int rc;

	if (pg->dim != 0)
		return 0;
	if ((rc = read_meta(pg, err)) > 0)
		arxiv_error_set(err, SRC, 0, "no paper embeddings in this database "
		    "(no papers_meta table or row); load some with arxiv-index -d");
	return rc == 0 ? 0 : -1;
}

uint32_t
arxiv_pg_dim(const struct arxiv_pg *pg)
{
	return pg->dim;
}

const char *
arxiv_pg_embedder(const struct arxiv_pg *pg)
{
	return pg->embedder;
}

int
arxiv_pg_search(struct arxiv_pg *pg, const float *q, size_t k, const char *field, int exact,
    struct arxiv_pg_hit **out, size_t *n, struct arxiv_error *err)
{
	struct arxiv_buf vb = {0};
	char ks[24];
	const char *v[3];
	PGresult *r = NULL;
	int i, rc = -1;

	*out = NULL;
	*n = 0;
	if (need_meta(pg, err) < 0)
		return -1;
	if (vec_text(&vb, q, pg->dim) < 0) {
		arxiv_error_set(err, SRC, 0, "query vector is not finite");
		goto out;
	}
	snprintf(ks, sizeof(ks), "%zu", k);
	if (!exact && field == NULL) {
		/* the common case: one round trip, a statement prepared once per
		 * connection, the vector as a binary parameter (pgvector's
		 * vector_recv: int16 dim, int16 unused, float4[] big-endian) */
		const char *pv[2];
		int len[2], fmt[2] = { 1, 0 };
		uint32_t d;

		if (!pg->prepared) {
			r = pq.prepare(pg->c, "arxiv_knn", "SELECT id, title, field, "
			    "1 - (embedding <=> $1::vector), categories FROM papers "
			    "ORDER BY embedding <=> $1::vector LIMIT $2::bigint", 2, NULL);
			if (r == NULL || pq.resultStatus(r) != PGRES_COMMAND_OK) {
				set_pqerr(err, 0, "prepare search", r ? pq.resultErrorMessage(r) :
				    pq.errorMessage(pg->c));
				goto out;
			}
			pq.clear(r);
			r = NULL;
			pg->prepared = 1;
		}
		arxiv_buf_clear(&pg->qv);
		be16(&pg->qv, (uint16_t)pg->dim);
		be16(&pg->qv, 0);
		for (d = 0; d < pg->dim; d++) {
			uint32_t u;

			memcpy(&u, &q[d], 4);
			be32(&pg->qv, u);
		}
		pv[0] = pg->qv.data;
		len[0] = (int)pg->qv.len;
		pv[1] = ks;
		len[1] = 0;
		r = pq.execPrepared(pg->c, "arxiv_knn", 2, pv, len, fmt, 0);
		if (r == NULL || pq.resultStatus(r) != PGRES_TUPLES_OK) {
			set_pqerr(err, 0, "search", r ? pq.resultErrorMessage(r) : pq.errorMessage(pg->c));
			if (r != NULL && *pq.resultErrorMessage(r) == '\0')
				set_pqerr(err, 0, "search", pq.errorMessage(pg->c));
			pq.clear(r);
			r = NULL;
			goto out;
		}
		goto rows;
	}
	/* settings for this transaction only, through set_config (no SQL text) */
	if (run0(pg, "begin", "BEGIN", err) < 0)
		goto out;
	if (exact) {
		r = run(pg, "exact search", "SELECT set_config('enable_indexscan', 'off', true), "
		    "set_config('enable_bitmapscan', 'off', true)", 0, NULL, PGRES_TUPLES_OK, err);
		if (r == NULL)
			goto out;
		pq.clear(r);
	} else if (field != NULL) {
		/* pgvector 0.8: keep scanning the graph until k rows pass the filter */
		r = pq.exec(pg->c, "SELECT set_config('hnsw.iterative_scan', 'strict_order', true)");
		if (r == NULL || pq.resultStatus(r) != PGRES_TUPLES_OK) {
			pq.clear(r);
			pq.clear(pq.exec(pg->c, "ROLLBACK"));
			if (run0(pg, "begin", "BEGIN", err) < 0)
				goto out;
		} else
			pq.clear(r);
	}
	v[0] = vb.data;
	v[1] = ks;
	v[2] = field;
	r = run(pg, "search", field == NULL ?
	    "SELECT id, title, field, 1 - (embedding <=> $1::vector), categories FROM papers "
	    "ORDER BY embedding <=> $1::vector LIMIT $2::bigint" :
	    "SELECT id, title, field, 1 - (embedding <=> $1::vector), categories FROM papers "
	    "WHERE field = $3 ORDER BY embedding <=> $1::vector LIMIT $2::bigint",
	    field == NULL ? 2 : 3, v, PGRES_TUPLES_OK, err);
	if (r == NULL)
		goto out;
rows:
	if ((*out = calloc((size_t)pq.ntuples(r) + 1, sizeof(**out))) == NULL) {
		arxiv_error_set(err, SRC, 0, "out of memory");
		goto out;
	}
	for (i = 0; i < pq.ntuples(r); i++) {
		(*out)[i].id = dup_value(r, i, 0);
		(*out)[i].title = dup_value(r, i, 1);
		(*out)[i].field = dup_value(r, i, 2);
		(*out)[i].score = strtof(pq.getvalue(r, i, 3), NULL);
		(*out)[i].categories = dup_value(r, i, 4);
	}
	*n = (size_t)i;
	rc = 0;
out:
	pq.clear(r);
	if (pq.status(pg->c) == CONNECTION_OK && pq.transactionStatus(pg->c) != PQTRANS_IDLE)
		pq.clear(pq.exec(pg->c, "COMMIT"));
	arxiv_buf_free(&vb);
	return rc;
}

int
arxiv_pg_get(struct arxiv_pg *pg, const char *id, float *vec, struct arxiv_pg_hit *meta,
    struct arxiv_error *err)
{
	const char *v[1] = { id };
	int fmt[1] = { 0 };
	PGresult *r;
	const unsigned char *p;
	uint32_t i, d;

	if (need_meta(pg, err) < 0)
		return -1;
	/* binary results: the vector comes as pgvector's send format */
	r = pq.execParams(pg->c, "SELECT id, title, field, embedding, categories FROM papers "
	    "WHERE id = $1",
	    1, NULL, v, NULL, fmt, 1);
	if (r == NULL || pq.resultStatus(r) != PGRES_TUPLES_OK) {
		set_pqerr(err, 0, "get", r ? pq.resultErrorMessage(r) : pq.errorMessage(pg->c));
		pq.clear(r);
		return -1;
	}
	if (pq.ntuples(r) == 0) {
		pq.clear(r);
		arxiv_error_set(err, SRC, 0, "%s is not indexed", id);
		return 1;
	}
	p = (const unsigned char *)pq.getvalue(r, 0, 3);
	d = (uint32_t)(p[0] << 8 | p[1]);
	if (d != pg->dim || pq.getlength(r, 0, 3) != (int)(4 + 4 * d)) {
		pq.clear(r);
		arxiv_error_set(err, SRC, 0, "%s: stored vector has %u dimensions, papers_meta says %u",
		    id, d, pg->dim);
		return -1;
	}
	for (i = 0; i < d; i++) {
		const unsigned char *f = p + 4 + 4 * i;
		uint32_t u = (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];

		memcpy(&vec[i], &u, 4);
	}
	if (meta != NULL) {
		/* binary text is the bytes themselves, not NUL-terminated */
		meta->id = strndup(pq.getvalue(r, 0, 0), (size_t)pq.getlength(r, 0, 0));
		meta->title = strndup(pq.getvalue(r, 0, 1), (size_t)pq.getlength(r, 0, 1));
		meta->field = pq.getisnull(r, 0, 2) ? NULL :
		    strndup(pq.getvalue(r, 0, 2), (size_t)pq.getlength(r, 0, 2));
		meta->categories = pq.getisnull(r, 0, 4) ? NULL :
		    strndup(pq.getvalue(r, 0, 4), (size_t)pq.getlength(r, 0, 4));
		meta->score = 1;
	}
	pq.clear(r);
	return 0;
}

/* ------------------------------------------------ index backend "pgvector" */

/*
 * The pgvector row of lib/index.c's table: arxiv_index_open with kind
 * "pgvector" (arxiv-index -d) or a postgresql:// location. Batches commit as
 * they fill (that is what makes a huge load resumable), so closing without
 * arxiv_index_commit rolls back only the open batch. One connection, queries
 * serialised by a mutex (libpq connections are not thread-safe).
 */
struct pgix {
	struct arxiv_pg *pg;
	pthread_mutex_t lock;
	int write;
	long offered;		/* papers given to add so far, refused ones included */
	uint64_t size;
	char location[320];
};

static int
pgix_claims(const char *location)
{
	return strncmp(location, "postgresql://", 13) == 0 || strncmp(location, "postgres://", 11) == 0;
}

static void pgix_close(void *impl);

static void
pgix_count(struct pgix *x)
{
	struct arxiv_pg_info info;
	struct arxiv_error e;

	if (arxiv_pg_info(x->pg, &info, &e) == 0)
		x->size = info.count;
}

static void *
pgix_open(const char *location, const struct arxiv_index_opts *o, struct arxiv_error *err)
{
	struct pgix *x = calloc(1, sizeof(*x));
	struct arxiv_pg_info info;
	const char *h;

	if (x == NULL) {
		arxiv_error_set(err, SRC, 0, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&x->lock, NULL);
	if ((x->pg = arxiv_pg_open(location, err)) == NULL)
		goto fail;
	/* where it is, without the password */
	h = pq.host(x->pg->c);
	snprintf(x->location, sizeof(x->location), "postgresql://%s@%s%s%s/%s", pq.user(x->pg->c),
	    h && *h != '/' ? h : "", h && *h != '/' ? ":" : "", h && *h != '/' ? pq.port(x->pg->c) : "",
	    pq.db(x->pg->c));
	x->write = o->write;
	if (o->ef_search > 0 && arxiv_pg_set(x->pg, "hnsw.ef_search", o->ef_search, err) < 0)
		goto fail;
	if (o->write) {
		if (o->batch > 0 && arxiv_pg_set(x->pg, "batch", (long)o->batch, err) < 0)
			goto fail;
		if (o->embedder == NULL || o->dim == 0) {
			arxiv_error_set(err, SRC, 0, "opening to write needs the embedder and dimension");
			goto fail;
		}
		if (arxiv_pg_load_begin(x->pg, o->embedder, o->embedder_dir, (uint32_t)o->dim, err) < 0)
			goto fail;
		pgix_count(x);
	} else {
		if (arxiv_pg_info(x->pg, &info, err) < 0)
			goto fail;
		x->size = info.count;
	}
	return x;
fail:
	pgix_close(x);
	return NULL;
}

static int
pgix_info(void *impl, struct arxiv_index_info *out)
{
	struct pgix *x = impl;

	out->kind = "pgvector";
	out->location = x->location;
	out->embedder = x->pg->embedder;
	out->embedder_dir = x->pg->embedder_dir;
	out->dim = x->pg->dim;
	out->size = x->size;
	return 0;
}

static int
pgix_add(void *impl, const struct arxiv_vecrec *recs, size_t n, struct arxiv_error *err)
{
	struct pgix *x = impl;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct arxiv_vecrec *r = &recs[i];
		struct arxiv_pg_record pr = { r->id, r->title, r->field, r->categories, r->id_len,
		    r->title_len, r->field_len, r->categories_len, r->v };
		int rc = arxiv_pg_load_add(x->pg, &pr, ++x->offered, err);

		if (rc > 0) {		/* this record refused; those before it are in */
			err->line = (long)i + 1;
			return -1;
		}
		if (rc < 0) {
			err->line = 0;
			return -1;
		}
	}
	return 0;
}

static int
pgix_commit(void *impl, struct arxiv_error *err)
{
	struct pgix *x = impl;
	struct arxiv_pg_stats st;
	int rc = arxiv_pg_load_end(x->pg, &st, err);

	arxiv_log(ARXIV_LOG_DEBUG, "postgresql: %llu rows in %llu batches: %llu new, %llu replaced, "
	    "%llu unchanged, %llu repeated ids", (unsigned long long)st.committed,
	    (unsigned long long)st.batches, (unsigned long long)st.inserted,
	    (unsigned long long)st.updated, (unsigned long long)st.unchanged,
	    (unsigned long long)st.duplicates);
	pgix_count(x);
	return rc;
}

/* A reader whose connection broke (the server restarted) connects again
 * once; 1 when it did, so the query can be retried. */
static int
reconnect(struct pgix *x)
{
	struct arxiv_error e;

	if (x->write || pq.status(x->pg->c) == CONNECTION_OK)
		return 0;
	pq.reset(x->pg->c);
	if (pq.status(x->pg->c) != CONNECTION_OK)
		return 0;
	pq.setNoticeProcessor(x->pg->c, quiet_notice, NULL);
	return session_setup(x->pg, &e) == 0;
}

static int
pgix_search(void *impl, const float *q, size_t k, const char *field, const char *exclude,
    struct arxiv_hit *hits, size_t *n, struct arxiv_error *err)
{
	struct pgix *x = impl;
	struct arxiv_pg_hit *h = NULL;
	size_t got = 0, i;
	int rc;

	*n = 0;
	pthread_mutex_lock(&x->lock);
	rc = arxiv_pg_search(x->pg, q, k + (exclude != NULL), field, 0, &h, &got, err);
	if (rc < 0 && reconnect(x))
		rc = arxiv_pg_search(x->pg, q, k + (exclude != NULL), field, 0, &h, &got, err);
	pthread_mutex_unlock(&x->lock);
	if (rc < 0)
		return -1;
	for (i = 0; i < got && *n < k; i++) {
		struct arxiv_pg_hit *p = &h[i];

		if (exclude != NULL && strcmp(p->id, exclude) == 0)
			continue;
		if (arxiv_hit_set(&hits[*n], p->score, p->id, strlen(p->id), p->title,
		    p->title ? strlen(p->title) : 0, p->field, p->field ? strlen(p->field) : 0,
		    p->categories, p->categories ? strlen(p->categories) : 0) < 0) {
			arxiv_hits_free(hits, *n);
			*n = 0;
			arxiv_pg_hits_free(h, got);
			arxiv_error_set(err, SRC, 0, "out of memory");
			return -1;
		}
		(*n)++;
	}
	arxiv_pg_hits_free(h, got);
	return 0;
}

static int
pgix_get(void *impl, const char *id, float *v, struct arxiv_hit *meta, struct arxiv_error *err)
{
	struct pgix *x = impl;
	struct arxiv_pg_hit m = { NULL, NULL, NULL, NULL, 0 };
	int rc;

	pthread_mutex_lock(&x->lock);
	rc = arxiv_pg_get(x->pg, id, v, &m, err);
	if (rc < 0 && reconnect(x))
		rc = arxiv_pg_get(x->pg, id, v, &m, err);
	pthread_mutex_unlock(&x->lock);
	if (rc != 0)
		return rc > 0 ? 0 : -1;
	if (meta != NULL && arxiv_hit_set(meta, 1, m.id, strlen(m.id), m.title, strlen(m.title),
	    m.field, m.field ? strlen(m.field) : 0, m.categories,
	    m.categories ? strlen(m.categories) : 0) < 0)
		rc = -1;
	free(m.id);
	free(m.title);
	free(m.field);
	free(m.categories);
	if (rc < 0) {
		arxiv_error_set(err, SRC, 0, "out of memory");
		return -1;
	}
	return 1;
}

static void
pgix_close(void *impl)
{
	struct pgix *x = impl;

	if (x == NULL)
		return;
	if (x->pg != NULL && x->pg->c != NULL)
		abort_batch(x->pg);
	arxiv_pg_close(x->pg);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

#else	/* !HAVE_LIBPQ */

struct arxiv_pg {
	int unused;
};

#define NOPQ(e) arxiv_error_set(e, SRC, 0, "built without libpq (install libpq-dev and rebuild)")

struct arxiv_pg *
arxiv_pg_open(const char *dsn, struct arxiv_error *err)
{
	(void)dsn;
	NOPQ(err);
	return NULL;
}
void arxiv_pg_close(struct arxiv_pg *pg) { (void)pg; }
int arxiv_pg_set(struct arxiv_pg *pg, const char *k, long v, struct arxiv_error *e)
{ (void)pg; (void)k; (void)v; NOPQ(e); return -1; }
int arxiv_pg_info(struct arxiv_pg *pg, struct arxiv_pg_info *i, struct arxiv_error *e)
{ (void)pg; (void)i; NOPQ(e); return -1; }
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
uint32_t arxiv_pg_dim(const struct arxiv_pg *pg) { (void)pg; return 0; }
const char *arxiv_pg_embedder(const struct arxiv_pg *pg) { (void)pg; return ""; }
const char *arxiv_pg_embedder_dir(const struct arxiv_pg *pg) { (void)pg; return ""; }
int arxiv_pg_search(struct arxiv_pg *pg, const float *q, size_t k, const char *f, int x,
    struct arxiv_pg_hit **o, size_t *n, struct arxiv_error *e)
{ (void)pg; (void)q; (void)k; (void)f; (void)x; *o = NULL; *n = 0; NOPQ(e); return -1; }
int arxiv_pg_get(struct arxiv_pg *pg, const char *id, float *v, struct arxiv_pg_hit *m,
    struct arxiv_error *e)
{ (void)pg; (void)id; (void)v; (void)m; NOPQ(e); return -1; }

static int
pgix_claims(const char *location)
{
	return strncmp(location, "postgresql://", 13) == 0 || strncmp(location, "postgres://", 11) == 0;
}
static void *
pgix_open(const char *l, const struct arxiv_index_opts *o, struct arxiv_error *e)
{ (void)l; (void)o; NOPQ(e); return NULL; }
static int pgix_info(void *x, struct arxiv_index_info *o) { (void)x; (void)o; return -1; }
static int pgix_add(void *x, const struct arxiv_vecrec *r, size_t n, struct arxiv_error *e)
{ (void)x; (void)r; (void)n; NOPQ(e); return -1; }
static int pgix_commit(void *x, struct arxiv_error *e) { (void)x; NOPQ(e); return -1; }
static int pgix_search(void *x, const float *q, size_t k, const char *f, const char *ex,
    struct arxiv_hit *h, size_t *n, struct arxiv_error *e)
{ (void)x; (void)q; (void)k; (void)f; (void)ex; (void)h; *n = 0; NOPQ(e); return -1; }
static int pgix_get(void *x, const char *id, float *v, struct arxiv_hit *m, struct arxiv_error *e)
{ (void)x; (void)id; (void)v; (void)m; NOPQ(e); return -1; }
static void pgix_close(void *x) { (void)x; }

#endif

const struct arxiv_index_backend arxiv_index_pgvector_backend = {
	"pgvector", pgix_claims, pgix_open, pgix_info, pgix_add, pgix_commit, pgix_search,
	pgix_get, pgix_close,
};

void
arxiv_pg_hits_free(struct arxiv_pg_hit *h, size_t n)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(h[i].id);
		free(h[i].title);
		free(h[i].field);
		free(h[i].categories);
	}
	free(h);
}

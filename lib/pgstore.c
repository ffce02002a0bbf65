/*
 * pgstore.c - paper embeddings in PostgreSQL with pgvector, through libpq:
 * the connection, its session settings, papers_meta. Loading is in
 * pgstore_load.c, search and the index backend in pgstore_index.c; what they
 * share in pgstore_int.h.
 *
 * libpq is dlopen()ed ("libpq.so.5") on the first arxiv_pg_open, like the
 * libtorch plugin: the text filters that link libarxiv never load it, and a
 * machine without libpq only loses this backend. Only its header is needed
 * at build time (libpq-dev); without it these files build stubs that say so.
 *
 * Schema (arxiv-pg(5)):
 *   papers(id text PRIMARY KEY, title text NOT NULL, field text,
 *          categories text, embedding vector(D) NOT NULL)
 *   papers_meta(one boolean PRIMARY KEY, embedder text, embedder_dir text, dim integer,
 *               created timestamptz)
 *   papers_embedding_hnsw: HNSW (vector_cosine_ops) on papers.embedding,
 *   papers_field: btree on papers.field.
 * No SQL is ever made of data: values go as parameters or COPY rows.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgstore_int.h"

#if HAVE_LIBPQ

struct pgx_api arxiv_pgx_api;

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

/* The first line of a libpq message, without its "ERROR:  " prefix. */
void
pgx_set_pqerr(struct arxiv_error *err, long line, const char *what, const char *msg)
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
	arxiv_error_set(err, PG_SRC, line, "%s: %s", what, one);
}

void
pgx_quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	arxiv_log(ARXIV_LOG_DEBUG, "postgresql: %s", msg);
}

PGresult *
pgx_run(struct arxiv_pg *pg, const char *what, const char *sql, int n, const char *const *v,
    int want, struct arxiv_error *err)
{
	PGresult *r = pq.execParams(pg->c, sql, n, NULL, v, NULL, NULL, 0);
	ExecStatusType s = r ? pq.resultStatus(r) : PGRES_FATAL_ERROR;

	if (r == NULL || s != (ExecStatusType)want) {
		pgx_set_pqerr(err, 0, what, r ? pq.resultErrorMessage(r) : pq.errorMessage(pg->c));
		if (r != NULL && *pq.resultErrorMessage(r) == '\0')
			pgx_set_pqerr(err, 0, what, pq.errorMessage(pg->c));
		pq.clear(r);
		return NULL;
	}
	return r;
}

int
pgx_run0(struct arxiv_pg *pg, const char *what, const char *sql, struct arxiv_error *err)
{
	PGresult *r = pgx_run(pg, what, sql, 0, NULL, PGRES_COMMAND_OK, err);

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
int
pgx_session_setup(struct arxiv_pg *pg, struct arxiv_error *err)
{
	char efs[16];
	const char *v[1] = { efs };
	PGresult *r;

	pg->prepared = 0;
	if (pgx_run0(pg, "set client_encoding", "SET client_encoding = 'UTF8'", err) < 0)
		return -1;
	snprintf(efs, sizeof(efs), "%d", pg->ef_search > 0 ? pg->ef_search : ARXIV_PG_EF_SEARCH);
	r = pgx_run(pg, "set hnsw.ef_search", pg->ef_search > 0 ?
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
		arxiv_error_set(err, PG_SRC, 0, "%s", pq_err);
		return NULL;
	}
	if ((pg = calloc(1, sizeof(*pg))) == NULL) {
		arxiv_error_set(err, PG_SRC, 0, "out of memory");
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
		pgx_set_pqerr(err, 0, "cannot connect", pg->c ? pq.errorMessage(pg->c) : "out of memory");
		arxiv_pg_close(pg);
		return NULL;
	}
	pq.setNoticeProcessor(pg->c, pgx_quiet_notice, NULL);
	/* our statements name unqualified tables: search_path decides the schema;
	 * a session that is not UTF-8 would mangle titles */
	if (pgx_session_setup(pg, err) < 0) {
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
	arxiv_hset64_free(&pg->ids);
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
		return pgx_session_setup(pg, err);
	} else {
		arxiv_error_set(err, PG_SRC, 0, "bad setting %s = %ld", key, value);
		return -1;
	}
	return 0;
}

int
pgx_read_meta(struct arxiv_pg *pg, struct arxiv_error *err)
{
	PGresult *r;
	const char *v;
	int rc = 1;

	r = pgx_run(pg, "read papers_meta", "SELECT to_regclass('papers_meta') IS NOT NULL", 0, NULL,
	    PGRES_TUPLES_OK, err);
	if (r == NULL)
		return -1;
	v = pq.getvalue(r, 0, 0);
	if (v[0] != 't') {
		pq.clear(r);
		return 1;
	}
	pq.clear(r);
	r = pgx_run(pg, "read papers_meta", "SELECT embedder, dim, embedder_dir FROM papers_meta", 0, NULL,
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
	if ((rc = pgx_read_meta(pg, err)) != 0) {
		if (rc > 0)
			arxiv_error_set(err, PG_SRC, 0, "no paper embeddings in this database "
			    "(no papers_meta table or row); load some with arxiv-index -d");
		return -1;
	}
	/* the planner's estimate: exact counts of a big table take seconds */
	r = pgx_run(pg, "count papers", "SELECT GREATEST(reltuples, 0)::bigint, "
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
		r = pgx_run(pg, "count papers", "SELECT count(*) FROM papers", 0, NULL, PGRES_TUPLES_OK,
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

/* ------------------------------------------------- COPY binary helpers */

void
pgx_be16(struct arxiv_buf *b, uint16_t v)
{
	unsigned char x[2] = { v >> 8, v & 255 };

	arxiv_buf_append(b, x, 2);
}

void
pgx_be32(struct arxiv_buf *b, uint32_t v)
{
	unsigned char x[4] = { v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255 };

	arxiv_buf_append(b, x, 4);
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

const char *
arxiv_pg_embedder_dir(const struct arxiv_pg *pg)
{
	return pg->embedder_dir;
}

#else	/* !HAVE_LIBPQ */

struct arxiv_pg {
	int unused;
};

#define NOPQ(e) arxiv_error_set(e, PG_SRC, 0, "built without libpq (install libpq-dev and rebuild)")

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
uint32_t arxiv_pg_dim(const struct arxiv_pg *pg) { (void)pg; return 0; }
const char *arxiv_pg_embedder(const struct arxiv_pg *pg) { (void)pg; return ""; }
const char *arxiv_pg_embedder_dir(const struct arxiv_pg *pg) { (void)pg; return ""; }

#endif

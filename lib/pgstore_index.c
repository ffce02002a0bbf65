/*
 * pgstore_index.c - k-NN search and lookups by id in PostgreSQL + pgvector,
 * and the "pgvector" row of lib/index.c's backend table (arxiv-index -d,
 * arxiv-similar -d, arxiv-serve -d). The connection is pgstore.c's, loading
 * pgstore_load.c's.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgstore_int.h"

#if HAVE_LIBPQ

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
	if ((rc = pgx_read_meta(pg, err)) > 0)
		arxiv_error_set(err, PG_SRC, 0, "no paper embeddings in this database "
		    "(no papers_meta table or row); load some with arxiv-index -d");
	return rc == 0 ? 0 : -1;
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
		arxiv_error_set(err, PG_SRC, 0, "query vector is not finite");
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
				pgx_set_pqerr(err, 0, "prepare search", r ? pq.resultErrorMessage(r) :
				    pq.errorMessage(pg->c));
				goto out;
			}
			pq.clear(r);
			r = NULL;
			pg->prepared = 1;
		}
		arxiv_buf_clear(&pg->qv);
		pgx_be16(&pg->qv, (uint16_t)pg->dim);
		pgx_be16(&pg->qv, 0);
		for (d = 0; d < pg->dim; d++) {
			uint32_t u;

			memcpy(&u, &q[d], 4);
			pgx_be32(&pg->qv, u);
		}
		pv[0] = pg->qv.data;
		len[0] = (int)pg->qv.len;
		pv[1] = ks;
		len[1] = 0;
		r = pq.execPrepared(pg->c, "arxiv_knn", 2, pv, len, fmt, 0);
		if (r == NULL || pq.resultStatus(r) != PGRES_TUPLES_OK) {
			pgx_set_pqerr(err, 0, "search", r ? pq.resultErrorMessage(r) : pq.errorMessage(pg->c));
			if (r != NULL && *pq.resultErrorMessage(r) == '\0')
				pgx_set_pqerr(err, 0, "search", pq.errorMessage(pg->c));
			pq.clear(r);
			r = NULL;
			goto out;
		}
		goto rows;
	}
	/* settings for this transaction only, through set_config (no SQL text) */
	if (pgx_run0(pg, "begin", "BEGIN", err) < 0)
		goto out;
	if (exact) {
		r = pgx_run(pg, "exact search", "SELECT set_config('enable_indexscan', 'off', true), "
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
			if (pgx_run0(pg, "begin", "BEGIN", err) < 0)
				goto out;
		} else
			pq.clear(r);
	}
	v[0] = vb.data;
	v[1] = ks;
	v[2] = field;
	r = pgx_run(pg, "search", field == NULL ?
	    "SELECT id, title, field, 1 - (embedding <=> $1::vector), categories FROM papers "
	    "ORDER BY embedding <=> $1::vector LIMIT $2::bigint" :
	    "SELECT id, title, field, 1 - (embedding <=> $1::vector), categories FROM papers "
	    "WHERE field = $3 ORDER BY embedding <=> $1::vector LIMIT $2::bigint",
	    field == NULL ? 2 : 3, v, PGRES_TUPLES_OK, err);
	if (r == NULL)
		goto out;
rows:
	if ((*out = calloc((size_t)pq.ntuples(r) + 1, sizeof(**out))) == NULL) {
		arxiv_error_set(err, PG_SRC, 0, "out of memory");
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
		pgx_set_pqerr(err, 0, "get", r ? pq.resultErrorMessage(r) : pq.errorMessage(pg->c));
		pq.clear(r);
		return -1;
	}
	if (pq.ntuples(r) == 0) {
		pq.clear(r);
		arxiv_error_set(err, PG_SRC, 0, "%s is not indexed", id);
		return 1;
	}
	p = (const unsigned char *)pq.getvalue(r, 0, 3);
	d = (uint32_t)(p[0] << 8 | p[1]);
	if (d != pg->dim || pq.getlength(r, 0, 3) != (int)(4 + 4 * d)) {
		pq.clear(r);
		arxiv_error_set(err, PG_SRC, 0, "%s: stored vector has %u dimensions, papers_meta says %u",
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
	struct pgx_par *par;	/* -j: the parallel connections loading */
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
		arxiv_error_set(err, PG_SRC, 0, "out of memory");
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
		if (o->hnsw_m > 0 && arxiv_pg_set(x->pg, "hnsw.m", o->hnsw_m, err) < 0)
			goto fail;
		if (o->ef_construction > 0 &&
		    arxiv_pg_set(x->pg, "hnsw.ef_construction", o->ef_construction, err) < 0)
			goto fail;
		if (o->embedder == NULL || o->dim == 0) {
			arxiv_error_set(err, PG_SRC, 0, "opening to write needs the embedder and dimension");
			goto fail;
		}
		if (arxiv_pg_load_begin(x->pg, o->embedder, o->embedder_dir, (uint32_t)o->dim, err) < 0)
			goto fail;
		if (o->threads > 1 && (x->par = pgx_par_new(x->pg, location,
		    o->threads > ARXIV_PG_MAX_JOBS ? ARXIV_PG_MAX_JOBS : o->threads, err)) == NULL)
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
		int rc = x->par ? pgx_par_add(x->par, &pr, ++x->offered, err) :
		    arxiv_pg_load_add(x->pg, &pr, ++x->offered, err);

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
	int rc = x->par ? pgx_par_end(x->par, &st, err) : arxiv_pg_load_end(x->pg, &st, err);

	pgx_par_free(x->par);
	x->par = NULL;

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
	pq.setNoticeProcessor(x->pg->c, pgx_quiet_notice, NULL);
	return pgx_session_setup(x->pg, &e) == 0;
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
			arxiv_error_set(err, PG_SRC, 0, "out of memory");
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
		arxiv_error_set(err, PG_SRC, 0, "out of memory");
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
	pgx_par_free(x->par);
	if (x->pg != NULL && x->pg->c != NULL)
		pgx_abort_batch(x->pg);
	arxiv_pg_close(x->pg);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

#else	/* !HAVE_LIBPQ */

#define NOPQ(e) arxiv_error_set(e, PG_SRC, 0, "built without libpq (install libpq-dev and rebuild)")

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
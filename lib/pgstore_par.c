/*
 * pgstore_par.c - a load over -j parallel connections (arxiv-index -d -j N):
 * the caller's thread checks each record, keeps the ids of a bulk load (the
 * first repeat drains every connection, then papers gets its key), encodes the
 * COPY rows and hands them, PAR_JOB_ROWS at a time, to the connection whose
 * number is the id's hash modulo N: the rows of one id always go through one
 * connection, in input order, so the last one wins. Each connection's thread
 * batches and commits as pgstore_load.c does on one connection.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgstore_int.h"

#if HAVE_LIBPQ

#define PAR_JOB_ROWS 256	/* rows handed to a connection at a time */
#define PAR_QUEUE 4		/* jobs waiting per connection */

struct par_job {
	struct par_job *next;
	struct arxiv_buf rows;	/* binary COPY rows */
	size_t n;
	long lo, hi;		/* record numbers */
	int flush;		/* commit the open batch */
};

struct par_worker {
	struct pgx_par *par;
	struct arxiv_pg *pg;
	pthread_t t;
	int started;
	struct par_job *head, *tail, *fill;	/* queue; the job being filled */
	size_t queued;
	int failed;
	struct arxiv_error err;
};

struct pgx_par {
	struct arxiv_pg *main;
	struct par_worker *w;
	int n;
	int quit;		/* workers stop (abandoning queued jobs) */
	pthread_mutex_t lock;
	pthread_cond_t work, space;
};

static void
job_free(struct par_job *j)
{
	if (j == NULL)
		return;
	arxiv_buf_free(&j->rows);
	free(j);
}


static void *
par_run(void *arg)
{
	struct par_worker *w = arg;
	struct pgx_par *p = w->par;
	struct par_job *j;
	struct arxiv_error e = { "", 0, "" };
	int rc;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (w->head == NULL && !p->quit)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->quit) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		j = w->head;
		w->head = j->next;
		if (w->head == NULL)
			w->tail = NULL;
		rc = w->failed;
		pthread_mutex_unlock(&p->lock);
		if (!rc)
			rc = (j->flush ? pgx_load_flush(w->pg, &e) :
			    pgx_load_rows(w->pg, j->rows.data, j->rows.len, j->n, j->lo, j->hi, &e)) < 0;
		job_free(j);
		pthread_mutex_lock(&p->lock);
		if (rc && !w->failed) {
			w->failed = 1;
			w->err = e;
		}
		w->queued--;
		pthread_cond_broadcast(&p->space);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/* Queue a job to worker i (waits while its queue is full); -1 when a worker failed. */
static int
par_push(struct pgx_par *p, int i, struct par_job *j, struct arxiv_error *err)
{
	struct par_worker *w = &p->w[i];
	int k;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		for (k = 0; k < p->n; k++)
			if (p->w[k].failed) {
				*err = p->w[k].err;
				pthread_mutex_unlock(&p->lock);
				job_free(j);
				return -1;
			}
		if (w->queued < PAR_QUEUE)
			break;
		pthread_cond_wait(&p->space, &p->lock);
	}
	j->next = NULL;
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	w->queued++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* Every worker's rows sent and its batch committed; -1 when one failed. */
static int
par_drain(struct pgx_par *p, struct arxiv_error *err)
{
	int i;

	for (i = 0; i < p->n; i++) {
		struct par_job *j;

		if (p->w[i].fill != NULL && p->w[i].fill->n > 0) {
			j = p->w[i].fill;
			p->w[i].fill = NULL;
			if (par_push(p, i, j, err) < 0)
				return -1;
		}
		if ((j = calloc(1, sizeof(*j))) == NULL) {
			arxiv_error_set(err, PG_SRC, 0, "out of memory");
			return -1;
		}
		j->flush = 1;
		if (par_push(p, i, j, err) < 0)
			return -1;
	}
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->n; i++)
		while (p->w[i].queued > 0)
			pthread_cond_wait(&p->space, &p->lock);
	for (i = 0; i < p->n; i++)
		if (p->w[i].failed) {
			*err = p->w[i].err;
			pthread_mutex_unlock(&p->lock);
			return -1;
		}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void
pgx_par_free(struct pgx_par *p)
{
	int i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->quit = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->n; i++) {
		struct par_worker *w = &p->w[i];

		if (w->started)
			pthread_join(w->t, NULL);
		while (w->head != NULL) {
			struct par_job *j = w->head;

			w->head = j->next;
			job_free(j);
		}
		job_free(w->fill);
		if (w->pg != NULL && w->pg->c != NULL)
			pgx_abort_batch(w->pg);	/* a load not ended: its open batch rolls back */
		arxiv_pg_close(w->pg);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->space);
	free(p->w);
	free(p);
}

struct pgx_par *
pgx_par_new(struct arxiv_pg *main, const char *dsn, int jobs, struct arxiv_error *err)
{
	struct pgx_par *p = calloc(1, sizeof(*p));
	int i;

	if (p == NULL || (p->w = calloc((size_t)jobs, sizeof(*p->w))) == NULL) {
		free(p);
		arxiv_error_set(err, PG_SRC, 0, "out of memory");
		return NULL;
	}
	p->main = main;
	p->n = jobs;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->space, NULL);
	for (i = 0; i < jobs; i++) {
		struct par_worker *w = &p->w[i];

		w->par = p;
		if ((w->pg = arxiv_pg_open(dsn, err)) == NULL || pgx_load_join(w->pg, main, err) < 0)
			goto fail;
		if (pthread_create(&w->t, NULL, par_run, w) != 0) {
			arxiv_error_set(err, PG_SRC, 0, "cannot start a loader thread");
			goto fail;
		}
		w->started = 1;
	}
	return p;
fail:
	pgx_par_free(p);
	return NULL;
}

int
pgx_par_add(struct pgx_par *p, const struct arxiv_pg_record *rec, long recno,
    struct arxiv_error *err)
{
	struct arxiv_pg *m = p->main;
	uint64_t h;
	struct par_worker *w;
	int rc, i;

	if ((rc = pgx_check_record(m, rec, recno, err)) != 0)
		return rc;
	if (m->bulk) {
		if ((rc = pgx_ids_seen(&m->ids, rec->id, rec->id_len)) < 0) {
			arxiv_error_set(err, PG_SRC, 0, "out of memory");
			return -1;
		}
		if (rc == 1) {
			/* an id again: every connection commits what it has, papers gets
			 * its key, and they all upsert from here on */
			if (par_drain(p, err) < 0 || pgx_end_bulk(m, err) < 0)
				return -1;
			for (i = 0; i < p->n; i++)
				p->w[i].pg->bulk = 0;
		}
	}
	h = arxiv_key_hash64(rec->id, rec->id_len);
	w = &p->w[h % (uint64_t)p->n];
	if (w->fill == NULL) {
		if ((w->fill = calloc(1, sizeof(*w->fill))) == NULL) {
			arxiv_error_set(err, PG_SRC, 0, "out of memory");
			return -1;
		}
		w->fill->lo = recno;
	}
	if (pgx_put_row(&w->fill->rows, rec, m->dim) < 0) {
		arxiv_error_set(err, PG_SRC, 0, "out of memory");
		return -1;
	}
	w->fill->hi = recno;
	if (++w->fill->n >= PAR_JOB_ROWS) {
		struct par_job *j = w->fill;

		w->fill = NULL;
		return par_push(p, (int)(w - p->w), j, err);
	}
	return 0;
}

int
pgx_par_end(struct pgx_par *p, struct arxiv_pg_stats *st, struct arxiv_error *err)
{
	struct arxiv_pg *m = p->main;
	int i;

	if (par_drain(p, err) < 0)
		return -1;
	for (i = 0; i < p->n; i++) {
		const struct arxiv_pg_stats *s = &p->w[i].pg->st;

		m->st.committed += s->committed;
		m->st.inserted += s->inserted;
		m->st.updated += s->updated;
		m->st.unchanged += s->unchanged;
		m->st.duplicates += s->duplicates;
		m->st.rolled_back += s->rolled_back;
		m->st.batches += s->batches;
		memset(&p->w[i].pg->st, 0, sizeof(p->w[i].pg->st));
	}
	return arxiv_pg_load_end(m, st, err);
}

#endif

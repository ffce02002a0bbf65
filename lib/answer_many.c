/*
 * answer_many.c - many texts on a pool of threads, over the library's one
 * parallel-for (parallel.c), for the programs' batch modes:
 * arxiv_model_answer_many (arxiv-predict -b, arxiv-eval) and
 * arxiv_embedder_embed_many (arxiv-embed -e).
 *
 * The texts are cut into fixed chunks (chunk j is [j*chunk, (j+1)*chunk)),
 * which the threads take in turn, so an answer never depends on the thread
 * count. A chunk the model rejects is answered again without the text it
 * names (err->line), or text by text when it names none.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "internal.h"

#define CHUNK_DEFAULT 64

struct many {
	const struct arxiv_model *m;
	const char *const *texts;
	const size_t *lens;
	size_t n, chunk;
	const struct arxiv_answer_opts *o;
	struct arxiv_answer *out;
	struct arxiv_error *errs;
	atomic_size_t next;	/* the next chunk to take */
	atomic_size_t failed;
};

static int
answer(const struct many *c, size_t i, size_t n, struct arxiv_error *e)
{
	memset(e, 0, sizeof(*e));
	return arxiv_model_answer(c->m, c->texts + i, c->lens ? c->lens + i : NULL, n, c->o,
	    c->out + i, e);
}

static void
fail(struct many *c, size_t i, const struct arxiv_error *e)
{
	c->errs[i] = *e;
	c->errs[i].line = 0;
	if (c->errs[i].text[0] == '\0')
		snprintf(c->errs[i].text, sizeof(c->errs[i].text), "prediction failed");
	atomic_fetch_add(&c->failed, 1);
}

/* Texts [i, end): answered, or each failed text's errs entry set. */
static void
answer_range(struct many *c, size_t i, size_t end)
{
	struct arxiv_error e;
	size_t bad, j;

	while (i < end) {
		if (answer(c, i, end - i, &e) == 0)
			return;
		if (e.line < 1 || (size_t)e.line > end - i) {
			/* no culprit named: text by text */
			for (j = i; j < end; j++)
				if (answer(c, j, 1, &e) < 0)
					fail(c, j, &e);
			return;
		}
		bad = i + (size_t)e.line - 1;
		fail(c, bad, &e);
		answer_range(c, i, bad);	/* the texts before it, again */
		i = bad + 1;
	}
}

static void *
worker(void *arg)
{
	struct many *c = *(struct many **)arg;
	size_t j, i;

	while ((j = atomic_fetch_add(&c->next, 1)) < (c->n + c->chunk - 1) / c->chunk) {
		i = j * c->chunk;
		answer_range(c, i, i + c->chunk < c->n ? i + c->chunk : c->n);
	}
	return NULL;
}

long
arxiv_model_answer_many(const struct arxiv_model *m, const char *const *texts,
    const size_t *lens, size_t n, const struct arxiv_answer_opts *o, size_t chunk, int jobs,
    struct arxiv_answer *out, struct arxiv_error *errs)
{
	struct many c;
	struct many *cp[64];
	int t, nt;

	if (n == 0)
		return 0;
	if (m == NULL || texts == NULL || o == NULL || out == NULL || errs == NULL) {
		if (errs != NULL)
			arxiv_error_set(&errs[0], "", 0, "arxiv_model_answer_many: a NULL argument");
		return -1;
	}
	memset(errs, 0, n * sizeof(*errs));
	c.m = m;
	c.texts = texts;
	c.lens = lens;
	c.n = n;
	c.chunk = chunk ? chunk : CHUNK_DEFAULT;
	c.o = o;
	c.out = out;
	c.errs = errs;
	atomic_init(&c.next, 0);
	atomic_init(&c.failed, 0);
	nt = arxiv_threads(jobs, (n + c.chunk - 1) / c.chunk);
	for (t = 0; t < nt; t++)
		cp[t] = &c;
	arxiv_parallel_run(worker, cp, sizeof(cp[0]), nt);
	return (long)atomic_load(&c.failed);
}

/* ------------------------------------------------------ embedding many texts */

struct epart {
	const struct arxiv_embedder *e;
	const char *const *texts;
	const size_t *lens;
	size_t from, to, dim;
	float *out;
	struct arxiv_error err;
	int rc;
};

static void *
embed_part(void *arg)
{
	struct epart *p = arg;

	if (p->to > p->from)
		p->rc = arxiv_embedder_embed(p->e, p->texts + p->from, p->lens + p->from,
		    p->to - p->from, p->out + p->from * p->dim, &p->err);
	return NULL;
}

int
arxiv_embedder_embed_many(const struct arxiv_embedder *e, const char *const *texts,
    const size_t *lens, size_t n, int jobs, float *out, struct arxiv_error *err)
{
	struct epart parts[64];
	size_t per, t, nt;

	if (n == 0)
		return 0;
	nt = (size_t)arxiv_threads(jobs, n);
	per = (n + nt - 1) / nt;
	for (t = 0; t < nt; t++) {
		memset(&parts[t], 0, sizeof(parts[t]));
		parts[t].e = e;
		parts[t].texts = texts;
		parts[t].lens = lens;
		parts[t].dim = arxiv_embedder_dim(e);
		parts[t].out = out;
		parts[t].from = t * per < n ? t * per : n;
		parts[t].to = (t + 1) * per < n ? (t + 1) * per : n;
	}
	arxiv_parallel_run(embed_part, parts, sizeof(parts[0]), (int)nt);
	for (t = 0; t < nt; t++)
		if (parts[t].rc < 0) {
			*err = parts[t].err;
			err->line = (long)parts[t].from + (parts[t].err.line > 0 ? parts[t].err.line : 1);
			return -1;
		}
	return 0;
}

/*
 * index.c - vector indexes for similar-paper search: the backend table behind
 * arxiv_index_*(). Each backend is one file (index_file.c: the local index
 * file) and one row here.
 */
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "internal.h"

static const struct arxiv_index_backend *const backends[] = {
	&arxiv_index_pgvector_backend,	/* pgstore.c: PostgreSQL + pgvector */
	&arxiv_index_file_backend,	/* last: takes any location no other claims */
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

struct arxiv_index {
	const struct arxiv_index_backend *b;
	void *impl;
};

struct arxiv_index_opts
arxiv_index_default_opts(void)
{
	struct arxiv_index_opts o = { 0, NULL, 0, NULL, 1, NULL, 0, 0, 0, 0 };

	return o;
}

struct arxiv_index *
arxiv_index_open(const char *location, const struct arxiv_index_opts *o, struct arxiv_error *err)
{
	struct arxiv_index_opts def = arxiv_index_default_opts();
	const struct arxiv_index_backend *b = NULL;
	struct arxiv_index *ix;
	size_t i;

	if (o == NULL)
		o = &def;
	for (i = 0; i < NBACKENDS && b == NULL; i++)
		if (o->kind ? strcmp(o->kind, backends[i]->kind) == 0 : backends[i]->claims(location))
			b = backends[i];
	if (b == NULL) {
		arxiv_error_set(err, location, 0, o->kind ? "unknown index kind \"%s\" (this library "
		    "has %s)" : "no index backend for this location%s", o->kind ? o->kind : "",
		    o->kind ? backends[0]->kind : "");
		return NULL;
	}
	if ((ix = calloc(1, sizeof(*ix))) == NULL) {
		arxiv_error_set(err, location, 0, "out of memory");
		return NULL;
	}
	ix->b = b;
	if ((ix->impl = b->open(location, o, err)) == NULL) {
		free(ix);
		return NULL;
	}
	return ix;
}

void
arxiv_index_free(struct arxiv_index *ix)
{
	if (ix == NULL)
		return;
	ix->b->close(ix->impl);
	free(ix);
}

int
arxiv_index_info(const struct arxiv_index *ix, struct arxiv_index_info *out)
{
	return ix->b->info(ix->impl, out);
}

int
arxiv_index_add(struct arxiv_index *ix, const struct arxiv_vecrec *recs, size_t n,
    struct arxiv_error *err)
{
	return ix->b->add(ix->impl, recs, n, err);
}

int
arxiv_index_commit(struct arxiv_index *ix, struct arxiv_error *err)
{
	return ix->b->commit(ix->impl, err);
}

int
arxiv_index_search(const struct arxiv_index *ix, const float *q, size_t k, const char *field,
    const char *exclude, struct arxiv_hit *hits, size_t *n, struct arxiv_error *err)
{
	*n = 0;
	if (k == 0)
		return 0;
	return ix->b->search(ix->impl, q, k, field, exclude, hits, n, err);
}

int
arxiv_index_get(const struct arxiv_index *ix, const char *id, float *v, struct arxiv_hit *meta,
    struct arxiv_error *err)
{
	return ix->b->get(ix->impl, id, v, meta, err);
}

void
arxiv_hits_free(struct arxiv_hit *h, size_t n)
{
	size_t i;

	for (i = 0; h && i < n; i++) {
		free(h[i].id);
		free(h[i].title);
		free(h[i].field);
		free(h[i].categories);
		h[i].id = h[i].title = h[i].field = h[i].categories = NULL;
	}
}

static char *
dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

int
arxiv_hit_set(struct arxiv_hit *h, float score, const char *id, size_t id_len, const char *title,
    size_t title_len, const char *field, size_t field_len, const char *categories,
    size_t categories_len)
{
	h->score = score;
	h->title_len = title ? title_len : 0;
	h->id = dupn(id ? id : "", id ? id_len : 0);
	h->title = dupn(title ? title : "", title ? title_len : 0);
	h->field = dupn(field ? field : "", field ? field_len : 0);
	h->categories = dupn(categories ? categories : "", categories ? categories_len : 0);
	if (h->id && h->title && h->field && h->categories)
		return 0;
	arxiv_hits_free(h, 1);
	return -1;
}

/*
 * embedder.c - text to vector for similar-paper search: the kinds table and
 * the arxiv_embedder_* calls over it. The kinds: the lexical embedder
 * (idf-weighted hashed word uni- and bigrams under a fixed signed random
 * projection), which needs no downloaded model, and the encoder.
 *
 * A lexical embedder directory holds
 *   embedder.json     {"format":"arxiv-embedder","kind":"lexical","version":1,
 *                      "dim":..,"buckets":..,"ngrams":..,"nnz":..,"seed":"<u64>",
 *                      "min_df":..,"docs":..,"prep":"<cleaning signature>",
 *                      "identity":".."}
 *   idf.safetensors   F32 tensors "idf" of `buckets` weights (0: unused slot),
 *                     and with a PCA "mean" [sketch] and "proj" [dim, sketch]
 *
 * The lexical embedder is lexical.c (embedding) and lexical_learn.c (learning
 * it, arxiv-embed --learn); the encoder kind is encoder.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arxiv.h"
#include "internal.h"

/* ------------------------------------------------------------ kinds table */

static const struct arxiv_embedder_kind *const kinds[] = {
	&arxiv_embedder_lexical,
	&arxiv_embedder_encoder,	/* encoder.c: Hugging Face BERT-family folders */
};

struct arxiv_embedder {
	const struct arxiv_embedder_kind *k;
	void *impl;
	size_t dim;
	char id[ARXIV_VEC_MAX_EMBEDDER + 1];
	char dir[PATH_MAX];
};

struct arxiv_embedder_opts
arxiv_embedder_default_opts(void)
{
	struct arxiv_embedder_opts o = { "auto", 0, 0 };

	return o;
}

/* dir's embedder with o (NULL: the defaults) or, given the identity of
 * vectors it made, with the options that identity records in place of o's */
static struct arxiv_embedder *
load(const char *dir, const struct arxiv_embedder_opts *o, const char *identity,
    struct arxiv_error *err)
{
	struct arxiv_embedder_opts eo = o ? *o : arxiv_embedder_default_opts();
	struct arxiv_embedder *e;
	struct stat st;
	size_t i;

	if (stat(dir, &st) < 0) {
		arxiv_error_set(err, dir, 0, "%s", strerror(errno));
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		arxiv_error_set(err, dir, 0, "not a directory (an embedder is a directory)");
		return NULL;
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i]->claims(dir))
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0])) {
		arxiv_error_set(err, dir, 0, "not an embedder directory (no embedder.json; make a "
		    "lexical one with arxiv-embed --learn)");
		return NULL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		arxiv_error_set(err, dir, 0, "out of memory");
		return NULL;
	}
	e->k = kinds[i];
	if (identity != NULL && e->k->id_opts != NULL)
		e->k->id_opts(identity, &eo);
	if (realpath(dir, e->dir) == NULL)
		snprintf(e->dir, sizeof(e->dir), "%s", dir);
	if ((e->impl = e->k->load(dir, &eo, &e->dim, e->id, sizeof(e->id), err)) == NULL) {
		free(e);
		return NULL;
	}
	return e;
}

struct arxiv_embedder *
arxiv_embedder_load(const char *dir, const struct arxiv_embedder_opts *o, struct arxiv_error *err)
{
	return load(dir, o, NULL, err);
}

struct arxiv_embedder *
arxiv_embedder_load_for(const char *dir, const char *identity, const struct arxiv_embedder_opts *o,
    struct arxiv_error *err)
{
	struct arxiv_embedder *e;

	if ((e = load(dir, o, identity, err)) == NULL)
		return NULL;
	if (strcmp(e->id, identity) != 0) {
		arxiv_error_set(err, dir, 0, "embedder \"%s\" is not the index's \"%s\"", e->id,
		    identity);
		arxiv_embedder_free(e);
		return NULL;
	}
	return e;
}

void
arxiv_embedder_free(struct arxiv_embedder *e)
{
	if (e == NULL)
		return;
	e->k->free(e->impl);
	free(e);
}

const char *
arxiv_embedder_kind(const struct arxiv_embedder *e)
{
	return e->k->kind;
}

const char *
arxiv_embedder_id(const struct arxiv_embedder *e)
{
	return e->id;
}

size_t
arxiv_embedder_dim(const struct arxiv_embedder *e)
{
	return e->dim;
}

const char *
arxiv_embedder_dir(const struct arxiv_embedder *e)
{
	return e->dir;
}

int
arxiv_embedder_embed(const struct arxiv_embedder *e, const char *const *texts, const size_t *lens,
    size_t n, float *out, struct arxiv_error *err)
{
	return e->k->embed(e->impl, texts, lens, n, out, err);
}


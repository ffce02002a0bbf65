/*
 * lexical.c - the lexical embedder (the kind "lexical" of embedder.c): the
 * idf-weighted hashed word uni- and bigrams of a cleaned text under a fixed
 * signed random projection (or a sketch of it and a learnt PCA), which needs
 * no downloaded model. Here: its parameters, the text's hashed slots, its
 * identity, and loading and applying an embedder directory (the files are
 * described in embedder.c); learning one is lexical_learn.c.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arxiv.h"
#include "internal.h"

#define LEX_POOL 64	/* cleaners kept for reuse */

struct arxiv_lexical_params
arxiv_lexical_default_params(void)
{
	struct arxiv_lexical_params p = { 256, 4096, 50000, (size_t)1 << 20, 2, 8, 0x5eed1e5eedULL, 2 };

	return p;
}

/* SplitMix64's step: the golden-ratio increment, then its finaliser. */
uint64_t
lex_mix64(uint64_t z)
{
	return arxiv_mix64(z + 0x9e3779b97f4a7c15ULL);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The slots of a cleaned text (space-separated words) into *slots (grown),
 * sorted; returns how many, or -1 out of memory. */
long
lex_text_slots(const struct arxiv_lexical_params *p, const char *s, size_t n, uint32_t **slots,
    size_t *cap)
{
	size_t i = 0, k = 0;
	uint64_t prev = 0;
	int have_prev = 0;

	while (i < n) {
		size_t j;
		uint64_t h;

		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		for (j = i; j < n && s[j] != ' '; j++)
			;
		h = arxiv_hash64(s + i, j - i, 0);
		if (k + 2 > *cap && arxiv_grow(slots, cap, k + 2, sizeof(**slots), 256) < 0)
			return -1;
		(*slots)[k++] = (uint32_t)(lex_mix64(h) % p->buckets);
		if (p->ngrams >= 2 && have_prev)
			(*slots)[k++] = (uint32_t)(lex_mix64(prev * 0x100000001b3ULL ^ h ^ 0xb16a3ULL) % p->buckets);
		prev = h;
		have_prev = 1;
		i = j;
	}
	qsort(*slots, k, sizeof(**slots), cmp_u32);
	return (long)k;
}

/* One cleaner per concurrent caller, kept in a small pool. */
struct cleaner_pool {
	pthread_mutex_t lock;
	struct arxiv_clean_params cp;
	struct arxiv_cleaner *free[LEX_POOL];
	size_t nfree;
};

static struct arxiv_cleaner *
pool_get(struct cleaner_pool *pl, struct arxiv_error *err)
{
	struct arxiv_cleaner *c = NULL;

	pthread_mutex_lock(&pl->lock);
	if (pl->nfree)
		c = pl->free[--pl->nfree];
	pthread_mutex_unlock(&pl->lock);
	return c ? c : arxiv_cleaner_new(&pl->cp, err);
}

static void
pool_put(struct cleaner_pool *pl, struct arxiv_cleaner *c)
{
	pthread_mutex_lock(&pl->lock);
	if (pl->nfree < LEX_POOL) {
		pl->free[pl->nfree++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&pl->lock);
	arxiv_cleaner_free(c);
}

static void
pool_clear(struct cleaner_pool *pl)
{
	while (pl->nfree)
		arxiv_cleaner_free(pl->free[--pl->nfree]);
	pthread_mutex_destroy(&pl->lock);
}

int
lex_check_params(const struct arxiv_lexical_params *p, struct arxiv_error *err)
{
	if (p->dim < 1 || p->dim > ARXIV_VEC_MAX_DIM || (p->sketch && (p->sketch < p->dim ||
	    p->sketch > 8192 || p->sample < p->dim)) || p->buckets < 1024 ||
	    p->buckets > ((size_t)1 << 28) || p->ngrams < 1 || p->ngrams > 2 || p->nnz < 1 ||
	    p->nnz > 64) {
		arxiv_error_set(err, "", 0, "lexical embedder: invalid parameters (dim 1..%d, sketch 0 or "
		    "dim..8192, sample >= dim, buckets 1024..2^28, ngrams 1..2, nnz 1..64)", ARXIV_VEC_MAX_DIM);
		return -1;
	}
	return 0;
}

/* "lexical-v1 dim=D h=HASH": the hash covers every parameter and the idf. */
void
lex_identity(const struct arxiv_lexical_params *p, const char *prep, const float *idf,
    const float *mean, const float *proj, char *id, size_t n)
{
	char s[600];
	uint64_t h;

	snprintf(s, sizeof(s), "lexical v%d dim=%zu sketch=%zu buckets=%zu ngrams=%d nnz=%d seed=%llu "
	    "min_df=%u prep=%s", LEX_VERSION, p->dim, p->sketch, p->buckets, p->ngrams, p->nnz,
	    (unsigned long long)p->seed, p->min_df, prep);
	h = arxiv_hash64(s, strlen(s), 0);
	h = arxiv_hash64(idf, p->buckets * sizeof(float), h);
	if (p->sketch) {
		h = arxiv_hash64(mean, p->sketch * sizeof(float), h);
		h = arxiv_hash64(proj, p->sketch * p->dim * sizeof(float), h);
	}
	snprintf(id, n, "lexical-v%d dim=%zu h=%016llx", LEX_VERSION, p->dim, (unsigned long long)h);
}

struct lexical {
	struct arxiv_lexical_params p;
	float *idf;
	float *mean, *proj;	/* PCA: sketch, and dim x sketch (sketch > 0) */
	struct cleaner_pool pool;
};

static int
lex_claims(const char *dir)
{
	char path[PATH_MAX];
	json_t *j;
	int yes;

	snprintf(path, sizeof(path), "%s/embedder.json", dir);
	if ((j = json_load_file(path, 0, NULL)) == NULL)
		return 0;
	yes = json_is_string(json_object_get(j, "kind")) &&
	    strcmp(json_string_value(json_object_get(j, "kind")), "lexical") == 0;
	json_decref(j);
	return yes;
}

static void lex_free(void *impl);

static void *
lex_load(const char *dir, const struct arxiv_embedder_opts *o, size_t *dim, char *id, size_t idn,
    struct arxiv_error *err)
{
	struct lexical *x = calloc(1, sizeof(*x));
	struct arxiv_clean_params cp = arxiv_clean_default_params();
	struct arxiv_buf want = { 0 };
	char path[PATH_MAX];
	json_error_t je;
	json_int_t d = 0, bk = 0, ng = 0, nnz = 0, mdf = 0, ver = 0, sk = 0, sam = 0;
	const char *seed = NULL, *prep = NULL, *ident = NULL;
	struct arxiv_st *st = NULL;
	struct arxiv_st_tensor t;
	json_t *j = NULL;

	(void)o;
	if (x == NULL) {
		arxiv_error_set(err, dir, 0, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&x->pool.lock, NULL);
	snprintf(path, sizeof(path), "%s/embedder.json", dir);
	if ((j = json_load_file(path, 0, &je)) == NULL) {
		arxiv_error_set(err, path, je.line, "%s", je.text);
		goto fail;
	}
	if (json_unpack_ex(j, &je, 0, "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:s,s:s}", "version", &ver,
	    "dim", &d, "sketch", &sk, "sample", &sam, "buckets", &bk, "ngrams", &ng, "nnz", &nnz,
	    "seed", &seed, "min_df", &mdf, "prep", &prep, "identity", &ident) < 0) {
		arxiv_error_set(err, path, 0, "%s", je.text);
		goto fail;
	}
	if (ver != LEX_VERSION) {
		arxiv_error_set(err, path, 0, "lexical embedder version %lld (this reads %d)",
		    (long long)ver, LEX_VERSION);
		goto fail;
	}
	x->p.dim = (size_t)(d > 0 ? d : 0);
	x->p.sketch = (size_t)(sk > 0 ? sk : 0);
	x->p.sample = (size_t)(sam > 0 ? sam : 0);
	x->p.buckets = (size_t)(bk > 0 ? bk : 0);
	x->p.ngrams = (int)ng;
	x->p.nnz = (int)nnz;
	x->p.min_df = (unsigned)mdf;
	x->p.seed = strtoull(seed, NULL, 10);
	if (lex_check_params(&x->p, err) < 0)
		goto fail;
	if (arxiv_clean_params_str(&cp, &want) < 0 || strcmp(want.data, prep) != 0) {
		arxiv_error_set(err, path, 0, "made with cleaning \"%s\", this library cleans as \"%s\"",
		    prep, want.data ? want.data : "");
		goto fail;
	}
	x->pool.cp = cp;
	snprintf(path, sizeof(path), "%s/idf.safetensors", dir);
	if ((st = arxiv_st_open(path, err)) == NULL)
		goto fail;
	if (arxiv_st_find(st, "idf", &t) < 0 || t.dtype != ARXIV_F32 || t.ndim != 1 ||
	    (size_t)t.shape[0] != x->p.buckets) {
		arxiv_error_set(err, path, 0, "no F32 tensor \"idf\" of %zu weights", x->p.buckets);
		goto fail;
	}
	if ((x->idf = malloc(t.nbytes)) == NULL) {
		arxiv_error_set(err, dir, 0, "out of memory");
		goto fail;
	}
	memcpy(x->idf, t.data, t.nbytes);
	if (x->p.sketch) {
		struct arxiv_st_tensor tm, tp;

		if (arxiv_st_find(st, "mean", &tm) < 0 || tm.dtype != ARXIV_F32 || tm.ndim != 1 ||
		    (size_t)tm.shape[0] != x->p.sketch || arxiv_st_find(st, "proj", &tp) < 0 ||
		    tp.dtype != ARXIV_F32 || tp.ndim != 2 || (size_t)tp.shape[0] != x->p.dim ||
		    (size_t)tp.shape[1] != x->p.sketch) {
			arxiv_error_set(err, path, 0, "no F32 \"mean\" [%zu] and \"proj\" [%zu, %zu]",
			    x->p.sketch, x->p.dim, x->p.sketch);
			goto fail;
		}
		if ((x->mean = malloc(tm.nbytes)) == NULL || (x->proj = malloc(tp.nbytes)) == NULL) {
			arxiv_error_set(err, dir, 0, "out of memory");
			goto fail;
		}
		memcpy(x->mean, tm.data, tm.nbytes);
		memcpy(x->proj, tp.data, tp.nbytes);
	}
	for (size_t b = 0; b < x->p.buckets; b++)
		if (!isfinite(x->idf[b]) || x->idf[b] < 0) {
			arxiv_error_set(err, path, 0, "idf[%zu] is negative or not finite", b);
			goto fail;
		}
	lex_identity(&x->p, prep, x->idf, x->mean, x->proj, id, idn);
	if (strcmp(id, ident) != 0) {
		arxiv_error_set(err, dir, 0, "embedder.json says identity \"%.60s\" but the files give "
		    "\"%.60s\" (modified?)", ident, id);
		goto fail;
	}
	*dim = x->p.dim;
	arxiv_st_close(st);
	json_decref(j);
	arxiv_buf_free(&want);
	return x;
fail:
	arxiv_st_close(st);
	json_decref(j);
	arxiv_buf_free(&want);
	lex_free(x);
	return NULL;
}

/* A document's sorted slots, idf-weighted, projected to n dimensions by the
 * seeded signed projection and L2-normalised into v (zero when nothing weighs). */
double
lex_sketch_doc(const struct arxiv_lexical_params *p, const float *idf, const uint32_t *slots, long k,
    float *v, size_t n)
{
	float scale = 1.0f / sqrtf((float)p->nnz);
	double norm = 0;
	long a, b;
	size_t d;

	memset(v, 0, n * sizeof(float));
	for (a = 0; a < k; a = b) {
		uint32_t s = slots[a];
		float w;
		int r;

		for (b = a + 1; b < k && slots[b] == s; b++)
			;
		if ((w = idf[s]) == 0.0f)
			continue;
		w *= (1.0f + logf((float)(b - a))) * scale;
		for (r = 0; r < p->nnz; r++) {
			uint64_t h = lex_mix64(p->seed ^ ((uint64_t)s * 64 + (uint64_t)r));

			v[h % n] += (h >> 63) ? w : -w;
		}
	}
	for (d = 0; d < n; d++)
		norm += (double)v[d] * v[d];
	if (norm > 0) {
		float inv = (float)(1.0 / sqrt(norm));

		for (d = 0; d < n; d++)
			v[d] *= inv;
	}
	return norm;
}

/* z = proj (y - mean), L2-normalised: dim x sketch by hand (one row at a time,
 * vectorisable; no BLAS threads inside the caller's threads). */
static void
pca_apply(const float *proj, const float *mean, size_t dim, size_t sketch, float *y, float *z)
{
	double norm = 0;
	size_t r, c;

	for (c = 0; c < sketch; c++)
		y[c] -= mean[c];
	for (r = 0; r < dim; r++) {
		const float *pr = proj + r * sketch;
		float acc[8] = { 0 }, t = 0;

		for (c = 0; c + 8 <= sketch; c += 8) {
			int u;

			for (u = 0; u < 8; u++)
				acc[u] += pr[c + u] * y[c + u];
		}
		for (; c < sketch; c++)
			t += pr[c] * y[c];
		z[r] = t + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
		norm += (double)z[r] * z[r];
	}
	if (norm > 0) {
		float inv = (float)(1.0 / sqrt(norm));

		for (r = 0; r < dim; r++)
			z[r] *= inv;
	}
}

static int
lex_embed(void *impl, const char *const *texts, const size_t *lens, size_t n, float *out,
    struct arxiv_error *err)
{
	struct lexical *x = impl;
	struct arxiv_buf clean = { 0 };
	struct arxiv_cleaner *c;
	uint32_t *slots = NULL;
	float *y = NULL;
	size_t cap = 0, i, dim = x->p.dim;
	int rc = -1;

	if (x->p.sketch && (y = malloc(x->p.sketch * sizeof(float))) == NULL) {
		arxiv_error_set(err, "", 1, "out of memory");
		return -1;
	}
	if ((c = pool_get(&x->pool, err)) == NULL) {
		free(y);
		return -1;
	}
	for (i = 0; i < n; i++) {
		long k;

		if (arxiv_clean_text(c, texts[i], lens[i], &clean, err) < 0) {
			err->line = (long)i + 1;
			goto out;
		}
		if ((k = lex_text_slots(&x->p, clean.data ? clean.data : "", clean.len, &slots, &cap)) < 0) {
			arxiv_error_set(err, "", (long)i + 1, "out of memory");
			goto out;
		}
		if (x->p.sketch == 0) {
			lex_sketch_doc(&x->p, x->idf, slots, k, out + i * dim, dim);
			continue;
		}
		if (lex_sketch_doc(&x->p, x->idf, slots, k, y, x->p.sketch) == 0)
			memset(out + i * dim, 0, dim * sizeof(float));
		else
			pca_apply(x->proj, x->mean, dim, x->p.sketch, y, out + i * dim);
	}
	rc = 0;
out:
	pool_put(&x->pool, c);
	arxiv_buf_free(&clean);
	free(slots);
	free(y);
	return rc;
}

static void
lex_free(void *impl)
{
	struct lexical *x = impl;

	if (x == NULL)
		return;
	pool_clear(&x->pool);
	free(x->idf);
	free(x->mean);
	free(x->proj);
	free(x);
}

const struct arxiv_embedder_kind arxiv_embedder_lexical = {
	"lexical", lex_claims, lex_load, lex_embed, lex_free, NULL
};

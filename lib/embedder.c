/*
 * embedder.c - text to vector for similar-paper search: the kinds table, and
 * the lexical embedder (idf-weighted hashed word uni- and bigrams under a fixed
 * signed random projection), which needs no downloaded model.
 *
 * A lexical embedder directory holds
 *   embedder.json     {"format":"arxiv-embedder","kind":"lexical","version":1,
 *                      "dim":..,"buckets":..,"ngrams":..,"nnz":..,"seed":"<u64>",
 *                      "min_df":..,"docs":..,"prep":"<cleaning signature>",
 *                      "identity":".."}
 *   idf.safetensors   F32 tensors "idf" of `buckets` weights (0: unused slot),
 *                     and with a PCA "mean" [sketch] and "proj" [dim, sketch]
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

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

struct arxiv_embedder *
arxiv_embedder_load(const char *dir, const struct arxiv_embedder_opts *o, struct arxiv_error *err)
{
	struct arxiv_embedder_opts def = arxiv_embedder_default_opts();
	struct arxiv_embedder *e;
	struct stat st;
	size_t i;

	if (o == NULL)
		o = &def;
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
	if (realpath(dir, e->dir) == NULL)
		snprintf(e->dir, sizeof(e->dir), "%s", dir);
	if ((e->impl = e->k->load(dir, o, &e->dim, e->id, sizeof(e->id), err)) == NULL) {
		free(e);
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

/* ---------------------------------------------------------------- lexical */

#define LEX_VERSION 2
#define LEX_POOL 64	/* cleaners kept for reuse */

struct arxiv_lexical_params
arxiv_lexical_default_params(void)
{
	struct arxiv_lexical_params p = { 256, 4096, 50000, (size_t)1 << 20, 2, 8, 0x5eed1e5eedULL, 2 };

	return p;
}

/* SplitMix64's step: the golden-ratio increment, then its finaliser. */
static uint64_t
mix64(uint64_t z)
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
static long
text_slots(const struct arxiv_lexical_params *p, const char *s, size_t n, uint32_t **slots,
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
		if (k + 2 > *cap) {
			size_t nc = *cap ? *cap * 2 : 256;
			uint32_t *ns = realloc(*slots, nc * sizeof(**slots));

			if (ns == NULL)
				return -1;
			*slots = ns;
			*cap = nc;
		}
		(*slots)[k++] = (uint32_t)(mix64(h) % p->buckets);
		if (p->ngrams >= 2 && have_prev)
			(*slots)[k++] = (uint32_t)(mix64(prev * 0x100000001b3ULL ^ h ^ 0xb16a3ULL) % p->buckets);
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

struct arxiv_lexical_learner {
	struct arxiv_lexical_params p;
	struct arxiv_cleaner *c;
	struct arxiv_buf clean;
	uint32_t *df;
	uint64_t docs;
	uint32_t *slots;
	size_t cap;
	/* a reservoir sample of documents (their sorted slots) for the PCA */
	uint32_t **sample;
	size_t *nsample_slots, nsample;
};

static int
check_params(const struct arxiv_lexical_params *p, struct arxiv_error *err)
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

struct arxiv_lexical_learner *
arxiv_lexical_learner_new(const struct arxiv_lexical_params *p, struct arxiv_error *err)
{
	struct arxiv_clean_params cp = arxiv_clean_default_params();
	struct arxiv_lexical_learner *l;

	if (check_params(p, err) < 0)
		return NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL || (l->df = calloc(p->buckets, sizeof(uint32_t))) == NULL ||
	    (p->sketch && ((l->sample = calloc(p->sample, sizeof(*l->sample))) == NULL ||
	    (l->nsample_slots = calloc(p->sample, sizeof(size_t))) == NULL))) {
		if (l) {
			free(l->df);
			free(l->sample);
		}
		free(l);
		arxiv_error_set(err, "", 0, "out of memory");
		return NULL;
	}
	l->p = *p;
	if ((l->c = arxiv_cleaner_new(&cp, err)) == NULL) {
		arxiv_lexical_learner_free(l);
		return NULL;
	}
	return l;
}

void
arxiv_lexical_learner_free(struct arxiv_lexical_learner *l)
{
	if (l == NULL)
		return;
	arxiv_cleaner_free(l->c);
	arxiv_buf_free(&l->clean);
	for (size_t i = 0; l->sample && i < l->nsample; i++)
		free(l->sample[i]);
	free(l->sample);
	free(l->nsample_slots);
	free(l->df);
	free(l->slots);
	free(l);
}

int
arxiv_lexical_add(struct arxiv_lexical_learner *l, const char *text, size_t n, struct arxiv_error *err)
{
	long k, i;

	if (arxiv_clean_text(l->c, text, n, &l->clean, err) < 0)
		return -1;
	if ((k = text_slots(&l->p, l->clean.data ? l->clean.data : "", l->clean.len, &l->slots,
	    &l->cap)) < 0) {
		arxiv_error_set(err, "", 0, "out of memory");
		return -1;
	}
	for (i = 0; i < k; i++)
		if ((i == 0 || l->slots[i] != l->slots[i - 1]) && l->df[l->slots[i]] < UINT32_MAX)
			l->df[l->slots[i]]++;
	if (l->p.sketch && k > 0) {
		/* reservoir sampling (Algorithm R), seeded: the same corpus, the same sample */
		size_t at = l->nsample < l->p.sample ? l->nsample :
		    (size_t)(mix64(l->p.seed ^ (l->docs * 0x9e3779b97f4a7c15ULL)) % (l->docs + 1));

		if (at < l->p.sample) {
			uint32_t *cp = malloc((size_t)k * sizeof(*cp));

			if (cp == NULL) {
				arxiv_error_set(err, "", 0, "out of memory");
				return -1;
			}
			memcpy(cp, l->slots, (size_t)k * sizeof(*cp));
			if (at == l->nsample)
				l->nsample++;
			else
				free(l->sample[at]);
			l->sample[at] = cp;
			l->nsample_slots[at] = (size_t)k;
		}
	}
	l->docs++;
	return 0;
}

/* "lexical-v1 dim=D h=HASH": the hash covers every parameter and the idf. */
static void
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

static int
is_little_endian(void)
{
	uint32_t one = 1;
	unsigned char b;

	memcpy(&b, &one, 1);
	return b == 1;
}

static int
remove_tree(const char *dir)
{
	static const char *const files[] = { "embedder.json", "idf.safetensors", "idf.safetensors.tmp" };
	char p[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	return rmdir(dir);
}

static double sketch_doc(const struct arxiv_lexical_params *p, const float *idf,
    const uint32_t *slots, long k, float *v, size_t n);

/*
 * BLAS ssyrk and LAPACK ssyevr, loaded when a PCA is learnt (OpenBLAS, else
 * the reference LAPACK): libarxiv does not link them, because OpenBLAS starts
 * its threads when loaded, with every signal unblocked, and a server that
 * takes its signals with sigwait() must not have such threads.
 */
static void (*p_ssyrk)(const char *uplo, const char *trans, const int *n, const int *k,
    const float *alpha, const float *a, const int *lda, const float *beta, float *c, const int *ldc);
static void (*p_ssyevr)(const char *jobz, const char *range, const char *uplo, const int *n, float *a,
    const int *lda, const float *vl, const float *vu, const int *il, const int *iu,
    const float *abstol, int *m, float *w, float *z, const int *ldz, int *isuppz, float *work,
    const int *lwork, int *iwork, const int *liwork, int *info);
static pthread_once_t lapack_once = PTHREAD_ONCE_INIT;

static void
lapack_load(void)
{
	static const char *const libs[] = { "libopenblas.so.0", "liblapack.so.3" };
	size_t i;

	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		void *h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);

		if (h == NULL)
			continue;
		*(void **)&p_ssyrk = dlsym(h, "ssyrk_");
		*(void **)&p_ssyevr = dlsym(h, "ssyevr_");
		if (p_ssyrk && p_ssyevr)
			return;
		p_ssyrk = NULL;
		p_ssyevr = NULL;
		dlclose(h);
	}
}

/*
 * The PCA of the sample's sketches: mean, and the dim eigenvectors of the
 * covariance with the largest eigenvalues as the rows of proj, largest first,
 * each signed so that its largest component is positive.
 */
static int
pca_learn(const struct arxiv_lexical_learner *l, const float *idf, float *mean, float *proj,
    const char *dir, struct arxiv_error *err)
{
	size_t S = l->p.sketch, D = l->p.dim, B = 256, i, r, c, nb;
	float *Y = NULL, *C = NULL, *w = NULL, *Z = NULL, *work = NULL, q;
	int *iwork = NULL, *isupp = NULL, n = (int)S, il = (int)(S - D + 1), iu = (int)S, m = 0, info = 0;
	int lwork = -1, liwork = -1, iq;
	float vl = 0, vu = 0, abstol = 0;
	double cnt = (double)l->nsample;
	int rc = -1;

	pthread_once(&lapack_once, lapack_load);
	if (p_ssyrk == NULL || p_ssyevr == NULL) {
		arxiv_error_set(err, dir, 0, "learning the PCA needs LAPACK: libopenblas.so.0 or "
		    "liblapack.so.3 (apt-get install libopenblas0)");
		return -1;
	}
	if (l->nsample < D) {
		arxiv_error_set(err, dir, 0, "%zu documents with words: too few for %zu dimensions (--dim)",
		    l->nsample, D);
		return -1;
	}
	if ((Y = calloc(B * S, sizeof(float))) == NULL || (C = calloc(S * S, sizeof(float))) == NULL ||
	    (w = calloc(S, sizeof(float))) == NULL || (Z = calloc(S * D, sizeof(float))) == NULL ||
	    (isupp = calloc(2 * D, sizeof(int))) == NULL)
		goto oom;
	/* C = sum y y^T (upper triangle, row-major), mean = sum y */
	for (i = 0; i < l->nsample; i += nb) {
		nb = l->nsample - i < B ? l->nsample - i : B;
		for (r = 0; r < nb; r++) {
			sketch_doc(&l->p, idf, l->sample[i + r], (long)l->nsample_slots[i + r], Y + r * S, S);
			for (c = 0; c < S; c++)
				mean[c] += Y[r * S + c];
		}
		{
			/* column-major: A = Y^T (S x nb), C += A A^T, lower = row-major upper */
			int n_ = (int)S, k_ = (int)nb;
			float one = 1.0f;

			p_ssyrk("L", "N", &n_, &k_, &one, Y, &n_, &one, C, &n_);
		}
	}
	for (c = 0; c < S; c++)
		mean[c] = (float)(mean[c] / cnt);
	for (r = 0; r < S; r++)
		for (c = r; c < S; c++)
			C[r * S + c] = (float)(C[r * S + c] / cnt - (double)mean[r] * mean[c]);
	/* row-major upper = column-major lower */
	p_ssyevr("V", "I", "L", &n, C, &n, &vl, &vu, &il, &iu, &abstol, &m, w, Z, &n, isupp, &q, &lwork,
	    &iq, &liwork, &info);
	if (info != 0)
		goto lapack;
	lwork = (int)q + 1;
	liwork = iq + 1;
	if ((work = malloc((size_t)lwork * sizeof(float))) == NULL ||
	    (iwork = malloc((size_t)liwork * sizeof(int))) == NULL)
		goto oom;
	p_ssyevr("V", "I", "L", &n, C, &n, &vl, &vu, &il, &iu, &abstol, &m, w, Z, &n, isupp, work, &lwork,
	    iwork, &liwork, &info);
	if (info != 0 || (size_t)m != D)
		goto lapack;
	/* Z's columns: eigenvectors, eigenvalues ascending */
	for (r = 0; r < D; r++) {
		const float *z = Z + (D - 1 - r) * S;
		size_t big = 0;
		float sg;

		for (c = 1; c < S; c++)
			if (fabsf(z[c]) > fabsf(z[big]))
				big = c;
		sg = z[big] < 0 ? -1.0f : 1.0f;
		for (c = 0; c < S; c++)
			proj[r * S + c] = sg * z[c];
	}
	rc = 0;
	goto out;
lapack:
	arxiv_error_set(err, dir, 0, "PCA: LAPACK ssyevr failed (info %d, %d of %zu eigenvectors)", info,
	    m, D);
	goto out;
oom:
	arxiv_error_set(err, dir, 0, "out of memory");
out:
	free(Y);
	free(C);
	free(w);
	free(Z);
	free(work);
	free(iwork);
	free(isupp);
	return rc;
}

int
arxiv_lexical_save(const struct arxiv_lexical_learner *l, const char *dir, struct arxiv_error *err)
{
	struct arxiv_clean_params cp = arxiv_clean_default_params();
	struct arxiv_buf prep = { 0 };
	struct arxiv_st_tensor t[3];
	char tmp[PATH_MAX - 64], path[PATH_MAX], id[ARXIV_VEC_MAX_EMBEDDER + 1], seed[24];
	float *idf = NULL, *mean = NULL, *proj = NULL;
	json_t *j = NULL;
	struct stat st;
	size_t b;
	int rc = -1, have_old;
	struct arxiv_lexical_params P = l->p;

	if (!is_little_endian()) {
		arxiv_error_set(err, dir, 0, "big-endian hosts are not supported");
		return -1;
	}
	if (l->docs == 0) {
		arxiv_error_set(err, dir, 0, "no documents to learn the idf from");
		return -1;
	}
	have_old = lstat(dir, &st) == 0;
	if (have_old) {
		snprintf(path, sizeof(path), "%s/embedder.json", dir);
		if (!S_ISDIR(st.st_mode) || access(path, F_OK) < 0) {
			arxiv_error_set(err, dir, 0, "exists and is not an embedder directory; not replaced");
			return -1;
		}
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", dir) >= (int)sizeof(tmp) || mkdtemp(tmp) == NULL) {
		arxiv_error_set(err, dir, 0, "cannot create a temporary directory: %s", strerror(errno));
		return -1;
	}
	{	/* mkdtemp makes 0700: let the umask decide, as for mkdir */
		mode_t um = umask(0);

		umask(um);
		chmod(tmp, 0777 & ~um);
	}
	if ((idf = malloc(P.buckets * sizeof(float))) == NULL)
		goto oom;
	for (b = 0; b < P.buckets; b++)
		idf[b] = l->df[b] < P.min_df || l->df[b] == 0 ? 0.0f :
		    (float)(log((1.0 + (double)l->docs) / (1.0 + l->df[b])) + 1.0);
	if (arxiv_clean_params_str(&cp, &prep) < 0)
		goto oom;
	if (P.sketch && l->nsample < 4 * P.dim) {
		arxiv_log(ARXIV_LOG_WARN, "%s: %zu documents are too few for a PCA to %zu dimensions "
		    "(at least %zu): plain random projection", dir, l->nsample, P.dim, 4 * P.dim);
		P.sketch = 0;
	}
	if (P.sketch) {
		if ((mean = calloc(P.sketch, sizeof(float))) == NULL ||
		    (proj = calloc(P.sketch * P.dim, sizeof(float))) == NULL)
			goto oom;
		if (pca_learn(l, idf, mean, proj, dir, err) < 0)
			goto out;
	}
	lex_identity(&P, prep.data, idf, mean, proj, id, sizeof(id));
	memset(t, 0, sizeof(t));
	t[0].name = "idf";
	t[0].dtype = ARXIV_F32;
	t[0].ndim = 1;
	t[0].shape[0] = (int64_t)P.buckets;
	t[0].data = idf;
	t[0].nbytes = P.buckets * sizeof(float);
	t[1].name = "mean";
	t[1].dtype = ARXIV_F32;
	t[1].ndim = 1;
	t[1].shape[0] = (int64_t)P.sketch;
	t[1].data = mean;
	t[1].nbytes = P.sketch * sizeof(float);
	t[2].name = "proj";
	t[2].dtype = ARXIV_F32;
	t[2].ndim = 2;
	t[2].shape[0] = (int64_t)P.dim;
	t[2].shape[1] = (int64_t)P.sketch;
	t[2].data = proj;
	t[2].nbytes = P.sketch * P.dim * sizeof(float);
	snprintf(path, sizeof(path), "%s/idf.safetensors", tmp);
	if (arxiv_st_save(path, t, P.sketch ? 3 : 1, NULL, 0, err) < 0)
		goto out;
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)P.seed);
	j = json_pack("{s:s,s:s,s:i,s:I,s:I,s:I,s:I,s:i,s:i,s:s,s:i,s:I,s:s,s:s}", "format",
	    "arxiv-embedder", "kind", "lexical", "version", LEX_VERSION, "dim", (json_int_t)P.dim,
	    "sketch", (json_int_t)P.sketch, "sample", (json_int_t)P.sample,
	    "buckets", (json_int_t)P.buckets, "ngrams", P.ngrams, "nnz", P.nnz, "seed", seed,
	    "min_df", (int)P.min_df, "docs", (json_int_t)l->docs, "prep", prep.data, "identity", id);
	if (j == NULL)
		goto oom;
	snprintf(path, sizeof(path), "%s/embedder.json", tmp);
	if (json_dump_file(j, path, JSON_INDENT(2) | JSON_SORT_KEYS) < 0) {
		arxiv_error_set(err, path, 0, "write error");
		goto out;
	}
	if (have_old) {
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) < 0) {
			arxiv_error_set(err, dir, 0, "cannot replace: %s", strerror(errno));
			goto out;
		}
		/* tmp now holds the old embedder */
	} else if (rename(tmp, dir) < 0) {
		arxiv_error_set(err, dir, 0, "rename: %s", strerror(errno));
		goto out;
	} else
		tmp[0] = '\0';
	rc = 0;
	goto out;
oom:
	arxiv_error_set(err, dir, 0, "out of memory");
out:
	if (tmp[0])
		remove_tree(tmp);
	json_decref(j);
	arxiv_buf_free(&prep);
	free(idf);
	free(mean);
	free(proj);
	return rc;
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
	if (check_params(&x->p, err) < 0)
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
static double
sketch_doc(const struct arxiv_lexical_params *p, const float *idf, const uint32_t *slots, long k,
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
			uint64_t h = mix64(p->seed ^ ((uint64_t)s * 64 + (uint64_t)r));

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
		if ((k = text_slots(&x->p, clean.data ? clean.data : "", clean.len, &slots, &cap)) < 0) {
			arxiv_error_set(err, "", (long)i + 1, "out of memory");
			goto out;
		}
		if (x->p.sketch == 0) {
			sketch_doc(&x->p, x->idf, slots, k, out + i * dim, dim);
			continue;
		}
		if (sketch_doc(&x->p, x->idf, slots, k, y, x->p.sketch) == 0)
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
	"lexical", lex_claims, lex_load, lex_embed, lex_free
};

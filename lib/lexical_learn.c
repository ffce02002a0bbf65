/*
 * lexical_learn.c - learning a lexical embedder (lexical.c; arxiv-embed
 * --learn): document frequencies of the hashed slots over a corpus, a
 * reservoir sample for the PCA of their sketches (BLAS and LAPACK loaded with
 * dlopen), and the embedder directory written (embedder.json, idf.safetensors;
 * see embedder.c).
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

struct arxiv_lexical_learner *
arxiv_lexical_learner_new(const struct arxiv_lexical_params *p, struct arxiv_error *err)
{
	struct arxiv_clean_params cp = arxiv_clean_default_params();
	struct arxiv_lexical_learner *l;

	if (lex_check_params(p, err) < 0)
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
	if ((k = lex_text_slots(&l->p, l->clean.data ? l->clean.data : "", l->clean.len, &l->slots,
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
		    (size_t)(lex_mix64(l->p.seed ^ (l->docs * 0x9e3779b97f4a7c15ULL)) % (l->docs + 1));

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
			lex_sketch_doc(&l->p, idf, l->sample[i + r], (long)l->nsample_slots[i + r], Y + r * S, S);
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

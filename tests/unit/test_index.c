/* test_index.c - the local index file: build, exact search against a brute
 * force, field filter, exclude, get by id, upsert, embedder mismatch, corrupt
 * and truncated files; and the lexical embedder (deterministic, normalised,
 * related texts closer than unrelated ones). */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "arxiv.h"
#include "tap.h"

#define N 24000	/* over 20000: the search runs on 2 threads */
#define DIM 24

static float vec[N][DIM];
static float score[N];

/* The k best of score[] (ties: the lower index), brute force. */
static void
topk(int k, int *best)
{
	int i, j, b;

	for (j = 0; j < k; j++) {
		for (b = -1, i = 0; i < N; i++) {
			int used = 0, u;

			for (u = 0; u < j; u++)
				used |= best[u] == i;
			if (!used && score[i] > -5 && (b < 0 || score[i] > score[b]))
				b = i;
		}
		best[j] = b;
	}
}
static char ids[N][16];
static const char *fieldname[3] = { "Physics", "Mathematics", "Computer Science" };

static void
make(void)
{
	unsigned s = 12345;
	int i, d;

	for (i = 0; i < N; i++) {
		double n = 0;

		for (d = 0; d < DIM; d++) {
			s = s * 1103515245u + 12345u;
			vec[i][d] = (float)((s >> 8) % 2001) / 1000.0f - 1.0f;
			n += vec[i][d] * vec[i][d];
		}
		for (d = 0; d < DIM; d++)
			vec[i][d] /= (float)sqrt(n);
		snprintf(ids[i], sizeof(ids[i]), "2101.%05d", (i * 7919) % 100000);
	}
}

static int
build(const char *path, int from, int to, const char *emb, size_t dim)
{
	struct arxiv_index_opts o = arxiv_index_default_opts();
	struct arxiv_error e = { "", 0, "" };
	struct arxiv_index *ix;
	struct arxiv_vecrec r;
	int i, rc = 0;

	o.write = 1;
	o.embedder = emb;
	o.dim = dim;
	o.embedder_dir = "/nowhere";
	if ((ix = arxiv_index_open(path, &o, &e)) == NULL) {
		printf("# %s\n", e.text);
		return -1;
	}
	for (i = from; i < to && rc == 0; i++) {
		memset(&r, 0, sizeof(r));
		r.id = ids[i];
		r.id_len = strlen(ids[i]);
		r.title = i == 0 ? "nul\0inside" : "T";
		r.title_len = i == 0 ? 10 : 1;
		r.field = fieldname[i % 3];
		r.field_len = strlen(r.field);
		r.categories = "x.y";
		r.categories_len = 3;
		r.v = vec[i];
		rc = arxiv_index_add(ix, &r, 1, &e);
	}
	if (rc == 0)
		rc = arxiv_index_commit(ix, &e);
	arxiv_index_free(ix);
	return rc;
}

static void
test_index(void)
{
	char path[] = "/tmp/test_index.XXXXXX", ipath[64];
	struct arxiv_index_opts o = arxiv_index_default_opts();
	struct arxiv_error e = { "", 0, "" };
	struct arxiv_index_info info;
	struct arxiv_index *ix;
	struct arxiv_hit hits[10], meta;
	float v[DIM];
	size_t n, i;
	int q, ok, okf;

	CHECK(mkdtemp(path) != NULL, "temp dir");
	snprintf(ipath, sizeof(ipath), "%s/p.axi", path);
	CHECK(build(ipath, 0, N / 2, "emb-1", DIM) == 0, "build with half the papers");
	CHECK(build(ipath, N / 2, N, "emb-1", DIM) == 0, "add the other half (upsert run)");
	CHECK(build(ipath, 0, 10, "emb-2", DIM) == -1, "another embedder is refused");
	CHECK(build(ipath, 0, 10, "emb-1", DIM - 1) == -1, "another dimension is refused");
	o.threads = 2;
	ix = arxiv_index_open(ipath, &o, &e);
	CHECK(ix != NULL, "open read-only: %s", e.text);
	if (ix == NULL)
		return;
	arxiv_index_info(ix, &info);
	CHECK(info.size == N && info.dim == DIM && strcmp(info.kind, "file") == 0 &&
	    strcmp(info.embedder, "emb-1") == 0 && strcmp(info.embedder_dir, "/nowhere") == 0,
	    "info: file, %llu papers, dim, embedder, dir", (unsigned long long)info.size);
	ok = okf = 1;
	for (q = 0; q < 20; q++) {
		int best[10], j, d;

		for (j = 0; j < N; j++)
			for (score[j] = 0, d = 0; d < DIM; d++)
				score[j] += vec[q][d] * vec[j][d];
		score[q] = -10;		/* excluded */
		topk(10, best);
		if (arxiv_index_search(ix, vec[q], 10, NULL, ids[q], hits, &n, &e) < 0 || n != 10)
			ok = 0;
		for (i = 0; ok && i < 10; i++)
			if (strcmp(hits[i].id, ids[best[i]]) != 0 || fabsf(hits[i].score - score[best[i]]) > 1e-5)
				ok = 0;
		arxiv_hits_free(hits, n);
		for (j = 0; j < N; j++)
			if (j % 3 != 1)
				score[j] = -10;
		score[q] = vec[q][0] * 0 + 1;	/* the query itself is a Mathematics paper when q % 3 == 1 */
		if (q % 3 != 1)
			score[q] = -10;
		topk(3, best);
		if (arxiv_index_search(ix, vec[q], 3, "Mathematics", NULL, hits, &n, &e) < 0 || n != 3)
			okf = 0;
		for (i = 0; okf && i < 3; i++)
			if (strcmp(hits[i].id, ids[best[i]]) != 0 || strcmp(hits[i].field, "Mathematics") != 0)
				okf = 0;
		arxiv_hits_free(hits, n);
	}
	CHECK(ok, "two-pass search = brute-force float32 top 10 (ids, order, scores), the query excluded");
	CHECK(okf, "field filter = brute force over that field");
	CHECK(arxiv_index_search(ix, vec[0], 5, "Biology", NULL, hits, &n, &e) == 0 && n == 0,
	    "unknown field: no hits");
	CHECK(arxiv_index_get(ix, ids[0], v, &meta, &e) == 1 && memcmp(v, vec[0], sizeof(v)) == 0,
	    "get by id: the vector");
	CHECK(meta.title_len == 10 && memcmp(meta.title, "nul\0inside", 10) == 0 &&
	    strcmp(meta.field, "Physics") == 0, "get by id: title with NUL, field");
	arxiv_hits_free(&meta, 1);
	CHECK(arxiv_index_get(ix, "9999.99999", v, NULL, &e) == 0, "unknown id: 0");
	arxiv_index_free(ix);

	/* a truncated copy is refused */
	{
		char cmd[256], tpath[80];

		snprintf(tpath, sizeof(tpath), "%s/t.axi", path);
		snprintf(cmd, sizeof(cmd), "head -c 5000 %s > %s", ipath, tpath);
		CHECK(system(cmd) == 0, "truncated copy made");
		CHECK(arxiv_index_open(tpath, &o, &e) == NULL && strstr(e.text, "truncated index file"),
		    "truncated file refused: %s", e.text);
		unlink(tpath);
	}
	CHECK(arxiv_index_open("/nonexistent/x.axi", &o, &e) == NULL, "missing file refused");
	unlink(ipath);
	rmdir(path);
	(void)i;
}

static void
test_lexical(void)
{
	static const char *docs[] = {
		"Superconductivity in twisted bilayer graphene near the magic angle",
		"Magic-angle graphene bilayers show unconventional superconductivity",
		"A polynomial-time algorithm for bipartite matching in sparse graphs",
		"Matching algorithms for sparse bipartite graphs run in polynomial time",
		"Galaxy rotation curves and dark matter halos",
	};
	char path[] = "/tmp/test_lex.XXXXXX", dir[64], other[ARXIV_VEC_MAX_EMBEDDER + 16];
	struct arxiv_lexical_params p = arxiv_lexical_default_params();
	struct arxiv_error e = { "", 0, "" };
	struct arxiv_lexical_learner *l;
	struct arxiv_embedder *em, *em2, *em3;
	float out[5 * 256], again[256];
	size_t lens[5], i;
	double n0 = 0, s01 = 0, s02 = 0, s23 = 0;

	CHECK(mkdtemp(path) != NULL, "temp dir");
	snprintf(dir, sizeof(dir), "%s/emb", path);
	p.buckets = 1 << 16;
	p.min_df = 1;
	p.sketch = 0;	/* 5 documents: no PCA (test_pca has one) */
	l = arxiv_lexical_learner_new(&p, &e);
	CHECK(l != NULL, "learner: %s", e.text);
	for (i = 0; i < 5; i++) {
		lens[i] = strlen(docs[i]);
		arxiv_lexical_add(l, docs[i], lens[i], &e);
	}
	CHECK(arxiv_lexical_save(l, dir, &e) == 0, "save: %s", e.text);
	CHECK(arxiv_lexical_save(l, dir, &e) == 0, "save again over it");
	arxiv_lexical_learner_free(l);
	em = arxiv_embedder_load(dir, NULL, &e);
	CHECK(em != NULL, "load: %s", e.text);
	if (em == NULL)
		return;
	CHECK(arxiv_embedder_dim(em) == 256 && strcmp(arxiv_embedder_kind(em), "lexical") == 0,
	    "kind and dim");
	CHECK(strncmp(arxiv_embedder_id(em), "lexical-v2 dim=256 h=", 21) == 0, "identity %s",
	    arxiv_embedder_id(em));
	CHECK(arxiv_embedder_embed(em, docs, lens, 5, out, &e) == 0, "embed 5");
	for (i = 0; i < 256; i++) {
		n0 += out[i] * out[i];
		s01 += out[i] * out[256 + i];
		s02 += out[i] * out[512 + i];
		s23 += out[512 + i] * out[768 + i];
	}
	CHECK_NEAR(n0, 1.0, 1e-5, "L2-normalised");
	CHECK(s01 > s02 + 0.2 && s23 > s02 + 0.2, "related texts closer (%.3f, %.3f) than unrelated (%.3f)",
	    s01, s23, s02);
	em2 = arxiv_embedder_load(dir, NULL, &e);
	CHECK(em2 && strcmp(arxiv_embedder_id(em), arxiv_embedder_id(em2)) == 0, "same identity on reload");
	CHECK(em2 && arxiv_embedder_embed(em2, docs, lens, 1, again, &e) == 0 &&
	    memcmp(again, out, sizeof(again)) == 0, "same vector on reload");
	/* the embedder of an index's identity: the same one loads, another is refused */
	em3 = em2 ? arxiv_embedder_load_for(dir, arxiv_embedder_id(em2), NULL, &e) : NULL;
	CHECK(em3 && strcmp(arxiv_embedder_id(em3), arxiv_embedder_id(em)) == 0,
	    "load_for its own identity: %s", em3 ? arxiv_embedder_id(em3) : e.text);
	arxiv_embedder_free(em3);
	snprintf(other, sizeof(other), "%s max=64", arxiv_embedder_id(em));
	CHECK(arxiv_embedder_load_for(dir, other, NULL, &e) == NULL &&
	    strstr(e.text, "is not the index's \"") && strstr(e.text, " max=64\"") &&
	    strcmp(e.source, dir) == 0, "load_for another identity: %s: %s", e.source, e.text);
	arxiv_embedder_free(em);
	arxiv_embedder_free(em2);
	CHECK(arxiv_embedder_load(path, NULL, &e) == NULL && strstr(e.text, "not an embedder directory"),
	    "a directory without embedder.json: %s", e.text);
	system("rm -rf /tmp/test_lex.*");
}

/* The PCA path: a corpus of two topics, 4 dimensions from a 64-dimension sketch. */
static void
test_pca(void)
{
	char path[] = "/tmp/test_pca.XXXXXX", dir[64], text[200];
	struct arxiv_lexical_params p = arxiv_lexical_default_params();
	struct arxiv_error e = { "", 0, "" };
	struct arxiv_lexical_learner *l;
	struct arxiv_embedder *em;
	const char *q[3] = { "graphene superconductivity bilayer", "graphene bilayer twisted",
		"prime numbers zeta function" };
	size_t lens[3], i;
	float out[3 * 4];
	double s01 = 0, s02 = 0, n0 = 0;
	static const char *words[2][6] = {
		{ "graphene", "superconductivity", "bilayer", "twisted", "magic", "angle" },
		{ "prime", "numbers", "zeta", "function", "riemann", "gaps" } };

	CHECK(mkdtemp(path) != NULL, "temp dir");
	snprintf(dir, sizeof(dir), "%s/emb", path);
	p.dim = 4;
	p.sketch = 64;
	p.sample = 100;
	p.buckets = 1 << 12;
	p.min_df = 1;
	l = arxiv_lexical_learner_new(&p, &e);
	for (i = 0; i < 200; i++) {
		const char *const *w = words[i % 2];

		snprintf(text, sizeof(text), "%s %s %s %s", w[i % 6], w[(i / 2) % 6], w[(i / 3 + 1) % 6],
		    w[(i / 5 + 2) % 6]);
		arxiv_lexical_add(l, text, strlen(text), &e);
	}
	CHECK(arxiv_lexical_save(l, dir, &e) == 0, "save with PCA: %s", e.text);
	arxiv_lexical_learner_free(l);
	em = arxiv_embedder_load(dir, NULL, &e);
	CHECK(em != NULL && arxiv_embedder_dim(em) == 4, "load: 4 dimensions (%s)", e.text);
	if (em == NULL)
		return;
	for (i = 0; i < 3; i++)
		lens[i] = strlen(q[i]);
	CHECK(arxiv_embedder_embed(em, q, lens, 3, out, &e) == 0, "embed");
	for (i = 0; i < 4; i++) {
		n0 += out[i] * out[i];
		s01 += out[i] * out[4 + i];
		s02 += out[i] * out[8 + i];
	}
	CHECK_NEAR(n0, 1.0, 1e-5, "PCA output L2-normalised");
	/* the first principal axis separates the topics */
	CHECK(out[0] * out[4] > 0 && out[0] * out[8] < 0, "first axis: same topic same side (%.3f %.3f), "
	    "other topic the other (%.3f)", out[0], out[4], out[8]);
	arxiv_embedder_free(em);
	system("rm -rf /tmp/test_pca.*");
}

int
main(void)
{
	setenv("ARXIV_DATADIR", "data", 0);	/* tests/run.sh runs from the top */
	make();
	test_index();
	test_lexical();
	test_pca();
	return tap_done();
}

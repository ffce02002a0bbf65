/*
 * test_answer_many.c - arxiv_model_answer_many (answer_many.c): the answers of
 * many texts on 1..8 threads and any chunk size equal arxiv_model_answer's one
 * text at a time, in order; a text the model rejects fails alone (its error
 * says why) and the texts around it are still answered; NULL arguments are
 * refused. arxiv_embedder_embed_many (a lexical embedder) gives the vectors
 * of one arxiv_embedder_embed call on any thread count, and names the first
 * text that fails by its index.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"
#include "tap.h"

#define N 300

static const char *const words[3][6] = {
	{ "Banach manifolds", "Hilbert spaces", "prove lemmas", "compact operators",
	  "Sobolev embeddings", "elliptic regularity" },
	{ "neural networks", "training datasets", "GPU kernels", "gradient descent",
	  "compiler passes", "transformer models" },
	{ "spin chains", "quark gluon plasma", "dark matter halos", "laser cooling",
	  "Hamiltonian dynamics", "neutrino oscillations" },
};
static const char *const labels[3] = { "Mathematics", "Computer Science", "Physics" };
static char dir[] = "/tmp/test_answer_many.XXXXXX";

static uint64_t
next(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

/* Text i: a run of phrases of field i % 3 (with some of the next field). */
static void
make_text(char *buf, size_t size, size_t i, uint64_t *seed)
{
	size_t j, len = 0;
	int l = (int)(i % 3);

	len += (size_t)snprintf(buf, size, "Title %zu\nWe study", i);
	for (j = 0; j < 6 + i % 5; j++)
		len += (size_t)snprintf(buf + len, size - len, " %s",
		    words[(j & 3) == 3 ? (l + 1) % 3 : l][next(seed) % 6]);
}

static void
write_set(const char *path, size_t n, uint64_t seed)
{
	FILE *fp = fopen(path, "w");
	char t[600];
	size_t i;

	for (i = 0; i < n; i++) {
		make_text(t, sizeof(t), i, &seed);
		*strchr(t, '\n') = ' ';
		fprintf(fp, "{\"id\":\"%zu\",\"text\":\"%s\",\"label\":\"%s\"}\n", i, t, labels[i % 3]);
	}
	fclose(fp);
}

/* The same answer (the fields that arxiv_answer_json prints). */
static int
same(const struct arxiv_answer *a, const struct arxiv_answer *b)
{
	size_t i;

	if (a->p.k != b->p.k || a->fields != b->fields || a->abstained != b->abstained ||
	    a->in_domain != b->in_domain || a->n_terms != b->n_terms ||
	    strcmp(a->reason, b->reason) != 0)
		return 0;
	for (i = 0; i < a->p.k; i++)
		if (a->p.label[i] != b->p.label[i] || a->p.score[i] != b->p.score[i])
			return 0;
	for (i = 0; i < a->n_terms; i++)
		if (strcmp(a->terms[i].term, b->terms[i].term) != 0 ||
		    a->terms[i].weight != b->terms[i].weight)
			return 0;
	return 1;
}

static void
test_embed_many(const char **texts, char (*buf)[600])
{
	struct arxiv_lexical_params lp = arxiv_lexical_default_params();
	struct arxiv_error e = {0};
	struct arxiv_lexical_learner *l;
	struct arxiv_embedder *em;
	char ldir[400];
	static float want[N * 256], got[N * 256];
	size_t lens[N];
	static const int jobs[] = { 1, 2, 3, 8, 64, 0 };
	size_t i, n;
	int t, ok;

	snprintf(ldir, sizeof(ldir), "%s/lexical", dir);
	lp.buckets = 1 << 16;
	lp.min_df = 1;
	lp.sketch = 0;
	l = arxiv_lexical_learner_new(&lp, &e);
	for (i = 0; l != NULL && i < N; i++)
		if (i != 137)
			arxiv_lexical_add(l, texts[i], strlen(texts[i]), &e);
	CHECK(l != NULL && arxiv_lexical_save(l, ldir, &e) == 0, "a lexical embedder: %s", e.text);
	arxiv_lexical_learner_free(l);
	buf[137][3] = 'x';	/* valid again */
	for (i = 0; i < N; i++)
		lens[i] = strlen(texts[i]);
	em = arxiv_embedder_load(ldir, NULL, &e);
	CHECK(em != NULL && arxiv_embedder_dim(em) == 256, "load it: %s", e.text);
	if (em == NULL)
		return;
	CHECK(arxiv_embedder_embed(em, texts, lens, N, want, &e) == 0, "%d texts in one call", N);
	for (t = 0; t < (int)(sizeof(jobs) / sizeof(jobs[0])); t++) {
		size_t tried = 0;
		ok = 1;
		/* 1..10 texts (fewer than threads too), 30, 90, 270, then all */
		for (n = 1; ok && n <= N; n = n == N ? N + 1 : n < 10 ? n + 1 : n * 3 > N ? N : n * 3) {
			memset(got, 0, sizeof(got));
			ok = arxiv_embedder_embed_many(em, texts, lens, n, jobs[t], got, &e) == 0 &&
			    memcmp(got, want, n * 256 * sizeof(float)) == 0;
			tried++;
		}
		CHECK(ok && tried == 14, "jobs %d, 1 to %d texts: the vectors of one call (%s)", jobs[t], N,
		    e.text);
	}
	buf[201][0] = (char)0xc3;	/* invalid UTF-8 */
	buf[201][1] = '(';
	memset(&e, 0, sizeof(e));
	CHECK(arxiv_embedder_embed_many(em, texts, lens, N, 4, got, &e) < 0 && e.line == 202,
	    "a bad text is named by its index in texts (line %ld: %s)", e.line, e.text);
	arxiv_embedder_free(em);
}

int
main(void)
{
	struct arxiv_train_params p = arxiv_train_default_params();
	struct arxiv_answer_opts o = arxiv_answer_default_opts();
	struct arxiv_dataset *tr, *va;
	struct arxiv_error e = {0}, *errs = calloc(N, sizeof(*errs));
	struct arxiv_model *m;
	struct arxiv_answer *want = calloc(N, sizeof(*want)), *got = calloc(N, sizeof(*got));
	static char buf[N][600];
	const char *texts[N];
	char path[800], art[300], cmd[900];
	static const int jobs[] = { 1, 2, 3, 8, 0 };
	static const size_t chunks[] = { 0, 1, 7, 64, 500 };
	size_t i, c, bad_at = 137;
	uint64_t seed = 7;
	int ok, t;
	long r;

	setenv("ARXIV_DATADIR", "data", 0);
	if (mkdtemp(dir) == NULL || errs == NULL || want == NULL || got == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/train.jsonl", dir);
	write_set(path, 600, 1);
	tr = arxiv_dataset_load(path, NULL, 0, &e);
	snprintf(path, sizeof(path), "%s/val.jsonl", dir);
	write_set(path, 120, 2);
	va = arxiv_dataset_load(path, tr ? NULL : labels, 3, &e);
	CHECK(tr && va, "data sets load: %s", e.text);
	if (!tr || !va)
		return tap_done();
	p.threads = 1;
	p.buckets = 1 << 14;
	p.epochs = 3;
	snprintf(art, sizeof(art), "%s/artifacts", dir);
	CHECK(arxiv_train(&p, tr, va, art, 0, &e) == 0, "arxiv_train: %s", e.text);
	m = arxiv_model_load(art, NULL, &e);
	CHECK(m != NULL, "load: %s", e.text);
	if (m == NULL)
		return tap_done();

	for (i = 0; i < N; i++) {
		make_text(buf[i], sizeof(buf[i]), i, &seed);
		texts[i] = buf[i];
	}
	o.k = 3;
	o.explain = 3;
	for (i = 0, ok = 1; i < N; i++)
		ok &= arxiv_model_answer(m, &texts[i], NULL, 1, &o, &want[i], &e) == 0;
	CHECK(ok, "%d texts answered one at a time", N);
	for (t = 0; t < (int)(sizeof(jobs) / sizeof(jobs[0])); t++)
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			memset(got, 0, N * sizeof(*got));
			r = arxiv_model_answer_many(m, texts, NULL, N, &o, chunks[c], jobs[t], got, errs);
			for (i = 0, ok = r == 0; i < N && ok; i++)
				ok = same(&got[i], &want[i]) && errs[i].text[0] == '\0';
			CHECK(ok, "jobs %d, chunk %zu: every answer as alone, in order", jobs[t], chunks[c]);
		}
	/* one text the model rejects (invalid UTF-8): only it fails */
	buf[bad_at][3] = (char)0xff;
	CHECK(arxiv_model_answer(m, &texts[bad_at], NULL, 1, &o, &got[0], &e) < 0,
	    "the bad text alone fails: %s", e.text);
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		memset(got, 0, N * sizeof(*got));
		r = arxiv_model_answer_many(m, texts, NULL, N, &o, chunks[c], 2, got, errs);
		for (i = 0, ok = r == 1; i < N && ok; i++)
			ok = i == bad_at ? strstr(errs[i].text, "UTF-8") != NULL && errs[i].line == 0 :
			    same(&got[i], &want[i]) && errs[i].text[0] == '\0';
		CHECK(ok, "chunk %zu: the bad text fails alone (%s), the others are answered",
		    chunks[c], errs[bad_at].text);
	}
	/* lengths given: a prefix of each text */
	{
		size_t lens[4] = { 20, 30, 40, 50 };
		struct arxiv_answer one;
		r = arxiv_model_answer_many(m, texts, lens, 4, &o, 2, 2, got, errs);
		for (i = 0, ok = r == 0; i < 4 && ok; i++)
			ok = arxiv_model_answer(m, &texts[i], &lens[i], 1, &o, &one, &e) == 0 &&
			    same(&one, &got[i]);
		CHECK(ok, "lens: each text cut to its length");
	}
	CHECK(arxiv_model_answer_many(m, texts, NULL, 0, &o, 0, 1, got, errs) == 0, "no texts: 0");
	CHECK(arxiv_model_answer_many(m, texts, NULL, 3, NULL, 0, 1, got, errs) < 0 &&
	    strstr(errs[0].text, "NULL") != NULL, "a NULL argument is refused: %s", errs[0].text);

	test_embed_many(texts, buf);
	arxiv_model_free(m);
	arxiv_dataset_free(tr);
	arxiv_dataset_free(va);
	free(want);
	free(got);
	free(errs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}

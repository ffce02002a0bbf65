/*
 * encoder.c - the "encoder" embedder kind: a BERT-family encoder in a Hugging
 * Face folder (config.json, vocab.txt, model.safetensors or pytorch_model.bin),
 * a sentence-transformers folder of one (modules.json, 1_Pooling/config.json,
 * 2_Normalize, sentence_bert_config.json: all-MiniLM-L6-v2 and the like), or
 * our own transformer artifacts (arxiv-train -M bert). libarxiv (prep.c)
 * tokenises with the folder's vocab.txt, truncated to the model's limit
 * (max_seq_length, else min(512, max_position_embeddings), else the
 * artifacts' seq_len; lowered by max_tokens); the libtorch plugin (bert.cpp)
 * runs the forward pass over those ids, batches by length and pools as the
 * folder says: the mean of the token states or the [CLS] state (plain
 * folders: [CLS], as SPECTER), or the trained pooler of our artifacts. Vectors are then L2-normalised (what a
 * Normalize module does; cosine search needs it anyway).
 *
 * Identity: "encoder-v1 NAME dim=D [max=N] h=HASH", HASH over the bytes of
 * config.json, vocab.txt, the sentence-transformers files and the weights'
 * size and first and last MiB: another model or another truncation is
 * another identity, which an index refuses to mix.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arxiv.h"
#include "internal.h"

struct encoder {
	struct bert_model *b;
	size_t dim;
	pthread_mutex_t lock;	/* one forward at a time: libtorch has its own threads */
};

static int
has(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
		return 0;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int
enc_claims(const char *dir)
{
	if (has(dir, "config.json") && has(dir, "vocab.txt") &&
	    (has(dir, "model.safetensors") || has(dir, "pytorch_model.bin")))
		return 1;
	return has(dir, "metadata/artifact.json") && has(dir, "model/config.json") &&
	    has(dir, "tokenizer/vocab.txt");
}

/* Fold a file into h: all of it, or (big) its size and first and last MiB. */
static uint64_t
hash_file(uint64_t h, const char *dir, const char *name, int big)
{
	static const size_t MiB = 1 << 20;
	char p[PATH_MAX];
	unsigned char *buf;
	size_t n;
	FILE *fp;
	long long size;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((fp = fopen(p, "rb")) == NULL)
		return arxiv_hash64("-", 1, h);
	h = arxiv_hash64(name, strlen(name), h);
	if ((buf = malloc(MiB)) == NULL) {
		fclose(fp);
		return h;
	}
	if (big) {
		fseek(fp, 0, SEEK_END);
		size = ftell(fp);
		h = arxiv_hash64(&size, sizeof(size), h);
		rewind(fp);
		n = fread(buf, 1, MiB, fp);
		h = arxiv_hash64(buf, n, h);
		if (size > (long long)MiB && fseek(fp, -(long)MiB, SEEK_END) == 0) {
			n = fread(buf, 1, MiB, fp);
			h = arxiv_hash64(buf, n, h);
		}
	} else {
		while ((n = fread(buf, 1, MiB, fp)) > 0)
			h = arxiv_hash64(buf, n, h);
	}
	free(buf);
	fclose(fp);
	return h;
}

static void enc_free(void *impl);

static void *
enc_load(const char *dir, const struct arxiv_embedder_opts *o, size_t *dim, char *id, size_t idn,
    struct arxiv_error *err)
{
	static const char *const small[] = {
		"config.json", "vocab.txt", "tokenizer_config.json", "modules.json",
		"1_Pooling/config.json", "sentence_bert_config.json", "model/config.json",
		"tokenizer/vocab.txt", "tokenizer/preprocess.json",
	};
	struct arxiv_model_opts mo = arxiv_model_default_opts();
	struct encoder *x = calloc(1, sizeof(*x));
	char real[PATH_MAX], max[32] = "";
	const char *name;
	uint64_t h = 0x656e636f646572;	/* "encoder" */
	size_t i;

	if (x == NULL) {
		arxiv_error_set(err, dir, 0, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&x->lock, NULL);
	if (o != NULL) {
		mo.device = o->device ? o->device : "auto";
		mo.threads = o->threads;
		mo.max_tokens = o->max_tokens;
	}
	if ((x->b = bert_load(dir, &mo, err)) == NULL) {
		enc_free(x);
		return NULL;
	}
	x->dim = bert_dim(x->b);
	for (i = 0; i < sizeof(small) / sizeof(small[0]); i++)
		h = hash_file(h, dir, small[i], 0);
	h = hash_file(h, dir, "model.safetensors", 1);
	h = hash_file(h, dir, "pytorch_model.bin", 1);
	h = hash_file(h, dir, "model/model.safetensors", 1);
	if (mo.max_tokens >= 2) {
		snprintf(max, sizeof(max), " max=%zu", mo.max_tokens);
		h = arxiv_hash64(max, strlen(max), h);
	}
	if (realpath(dir, real) == NULL)
		snprintf(real, sizeof(real), "%s", dir);
	while (strlen(real) > 1 && real[strlen(real) - 1] == '/')
		real[strlen(real) - 1] = '\0';
	name = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
	snprintf(id, idn, "encoder-v1 %.200s dim=%zu%s h=%016llx", name, x->dim, max,
	    (unsigned long long)h);
	/* no spaces inside the name part, so the identity splits into fields */
	for (i = strlen("encoder-v1 "); id[i] && i < strlen("encoder-v1 ") + strlen(name); i++)
		if (id[i] == ' ')
			id[i] = '_';
	*dim = x->dim;
	return x;
}

static int
enc_embed(void *impl, const char *const *texts, const size_t *lens, size_t n, float *out,
    struct arxiv_error *err)
{
	struct encoder *x = impl;
	size_t i, j;
	int rc;

	pthread_mutex_lock(&x->lock);
	rc = bert_embed(x->b, texts, lens, n, out, err);
	pthread_mutex_unlock(&x->lock);
	if (rc < 0)
		return -1;
	for (i = 0; i < n; i++) {
		float *v = out + i * x->dim;
		double s = 0;

		for (j = 0; j < x->dim; j++)
			s += (double)v[j] * v[j];
		if (s > 0 && fabs(s - 1) > 1e-6) {	/* not normalised by the model yet */
			float inv = (float)(1 / sqrt(s));

			for (j = 0; j < x->dim; j++)
				v[j] *= inv;
		}
	}
	return 0;
}

static void
enc_free(void *impl)
{
	struct encoder *x = impl;

	if (x == NULL)
		return;
	bert_free(x->b);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

/* the options an identity records: the truncation, " max=N" (enc_load
 * writes it; none: the model's limit) */
static void
enc_id_opts(const char *identity, struct arxiv_embedder_opts *o)
{
	const char *p;

	o->max_tokens = 0;
	for (p = identity; (p = strstr(p, " max=")) != NULL; p++) {
		char *end;
		unsigned long long v = strtoull(p + 5, &end, 10);

		if (end > p + 5 && (*end == ' ' || *end == '\0') && v >= 2 && v <= 65536)
			o->max_tokens = (size_t)v;
	}
}

const struct arxiv_embedder_kind arxiv_embedder_encoder = {
	"encoder", enc_claims, enc_load, enc_embed, enc_free, enc_id_opts
};

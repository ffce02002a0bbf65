/*
 * test_bert.c - the transformer plugin (bert.cpp through bert_loader.c) against
 * the tiny random BertForSequenceClassification of tests/fixtures/tiny-bert,
 * whose reference outputs Hugging Face transformers computed
 * (tests/tools/make_tiny_bert.py): forward pass to 1e-4, checkpoint import
 * (safetensors, pytorch_model.bin, BertModel without prefix) and its errors,
 * training (loss goes down, artifacts load back), and resume after a stop
 * giving the same weights as an uninterrupted run. Skips when the library was
 * built without libtorch.
 */
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "bert_plugin.h"

#define FIX "tests/fixtures/tiny-bert"
#define NCASE_MAX 16

static char top[256];

struct refcase {
	const char *text;
	size_t n_ids;
	uint32_t ids[64];
	float logits[3], batch_logits[3], pooled[32];
};
static struct refcase ref[NCASE_MAX];
static size_t n_ref, ref_seq_len;
static json_t *ref_json;

static void
load_ref(void)
{
	json_error_t je;
	json_t *cases, *c;
	size_t i, j;

	ref_json = json_load_file(FIX "/reference.json", 0, &je);
	if (ref_json == NULL) {
		printf("Bail out! %s: %s\n", FIX "/reference.json", je.text);
		exit(1);
	}
	ref_seq_len = (size_t)json_integer_value(json_object_get(ref_json, "seq_len"));
	cases = json_object_get(ref_json, "cases");
	json_array_foreach(cases, i, c) {
		struct refcase *r = &ref[n_ref++];
		json_t *a = json_object_get(c, "ids");
		r->text = json_string_value(json_object_get(c, "text"));
		r->n_ids = json_array_size(a);
		for (j = 0; j < r->n_ids; j++)
			r->ids[j] = (uint32_t)json_integer_value(json_array_get(a, j));
		for (j = 0; j < 3; j++) {
			r->logits[j] = (float)json_number_value(json_array_get(json_object_get(c, "logits"), j));
			r->batch_logits[j] = (float)json_number_value(
			    json_array_get(json_object_get(c, "batch_logits"), j));
		}
		for (j = 0; j < 32; j++)
			r->pooled[j] = (float)json_number_value(json_array_get(json_object_get(c, "pooled"), j));
	}
}

static float
maxdiff(const float *a, const float *b, size_t n)
{
	float d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (fabsf(a[i] - b[i]) > d || isnan(a[i]))
			d = isnan(a[i]) ? INFINITY : fabsf(a[i] - b[i]);
	return d;
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static void
copy(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;

	if (in == NULL || out == NULL) {
		printf("Bail out! cannot copy %s to %s\n", from, to);
		exit(1);
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
}

static char *
path2(const char *dir, const char *name)
{
	static char buf[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

/* A checkpoint folder in dir: the fixture's config and vocab, and weights
 * written by the caller. */
static void
mkckpt(const char *dir)
{
	mkdir(dir, 0777);
	copy(FIX "/config.json", path2(dir, "config.json"));
	copy(FIX "/vocab.txt", path2(dir, "vocab.txt"));
}

/* Save the fixture's tensors to dir/model.safetensors, with the tensor named
 * drop left out, every name with prefix strip removed, the tensor reshape
 * given shape (rows, cols), and an extra tensor named add. */
static int
variant(const char *dir, const char *drop, const char *strip, const char *reshape, int64_t rows,
    int64_t cols, const char *add)
{
	struct arxiv_error err = {0};
	struct arxiv_st *st = arxiv_st_open(FIX "/model.safetensors", &err);
	struct arxiv_st_tensor t[128];
	static const char *const meta[] = { "format", "pt" };
	size_t i, n = 0;
	int rc;

	if (st == NULL)
		return -1;
	for (i = 0; i < arxiv_st_count(st); i++) {
		arxiv_st_get(st, i, &t[n]);
		if (drop && strcmp(t[n].name, drop) == 0)
			continue;
		if (strip && strncmp(t[n].name, strip, strlen(strip)) == 0)
			t[n].name += strlen(strip);
		else if (strip)
			continue;	/* BertModel: no classifier */
		if (reshape && strcmp(t[n].name, reshape) == 0) {
			t[n].shape[0] = rows;
			t[n].shape[1] = cols;
		}
		n++;
	}
	if (add) {
		t[n] = t[0];
		t[n].name = add;
		n++;
	}
	rc = arxiv_st_save(path2(dir, "model.safetensors"), t, n, meta, 1, &err);
	arxiv_st_close(st);
	return rc;
}

static struct arxiv_model_opts
cpu_opts(void)
{
	struct arxiv_model_opts o = arxiv_model_default_opts();

	o.device = "cpu";
	o.threads = 1;
	return o;
}

/* Loading dir must fail with a message containing want. */
static void
expect_load_error(const char *dir, const char *want, const char *what)
{
	struct arxiv_error err = {0};
	struct arxiv_model_opts o = cpu_opts();
	struct bert_model *b = bert_load(dir, &o, &err);

	CHECK(b == NULL && strstr(err.text, want) != NULL, "import error: %s", what);
	if (b != NULL || strstr(err.text, want) == NULL)
		printf("#   got [%s:%ld: %s]\n#   want [%s]\n", err.source, err.line, err.text, want);
	bert_free(b);
}

static void
test_forward(void)
{
	struct arxiv_error err = {0};
	struct arxiv_model_opts o = cpu_opts();
	struct bert_model *b = bert_load(FIX, &o, &err);
	float logits[NCASE_MAX * 3], pooled[NCASE_MAX * 32];
	uint32_t ids[NCASE_MAX * 64];
	uint8_t mask[NCASE_MAX * 64];
	size_t i, j, L = 0, nt = 0;
	const char *texts[NCASE_MAX];
	struct arxiv_prediction pr[NCASE_MAX];

	CHECK(b != NULL, "load the Hugging Face folder %s (%s)", FIX, err.text);
	if (b == NULL)
		return;
	CHECK(bert_dim(b) == 32 && bert_nlabels(b) == 3, "dim 32, 3 labels");
	for (i = 0; i < n_ref; i++) {
		uint8_t m1[64];
		memset(m1, 1, sizeof(m1));
		int rc = bert_forward_ids(b, ref[i].ids, m1, 1, ref[i].n_ids, logits, pooled, &err);
		CHECK(rc == 0 && maxdiff(logits, ref[i].logits, 3) <= 1e-4 &&
		    maxdiff(pooled, ref[i].pooled, 32) <= 1e-4,
		    "case %zu: logits and pooled output match transformers (max diff %.2g, %.2g)",
		    i, (double)maxdiff(logits, ref[i].logits, 3), (double)maxdiff(pooled, ref[i].pooled, 32));
		if (ref[i].n_ids > L)
			L = ref[i].n_ids;
	}
	/* one padded batch, as HF computed it with attention_mask */
	memset(ids, 0, sizeof(ids));
	memset(mask, 0, sizeof(mask));
	for (i = 0; i < n_ref; i++)
		for (j = 0; j < ref[i].n_ids; j++) {
			ids[i * L + j] = ref[i].ids[j];
			mask[i * L + j] = 1;
		}
	CHECK(bert_forward_ids(b, ids, mask, n_ref, L, logits, NULL, &err) == 0, "padded batch");
	float d = 0;
	for (i = 0; i < n_ref; i++)
		d = fmaxf(d, maxdiff(logits + 3 * i, ref[i].batch_logits, 3));
	CHECK(d <= 1e-4, "padded batch matches transformers (max diff %.2g)", (double)d);

	/* from raw text: our WordPiece must give HF's ids (texts not truncated at 24) */
	for (i = 0; i < n_ref; i++)
		if (ref[i].n_ids < ref_seq_len)
			texts[nt++] = ref[i].text;
	CHECK(bert_embed(b, texts, NULL, nt, pooled, &err) == 0, "embed %zu texts (%s)", nt, err.text);
	d = 0;
	for (i = 0, j = 0; i < n_ref; i++)
		if (ref[i].n_ids < ref_seq_len)
			d = fmaxf(d, maxdiff(pooled + 32 * j++, ref[i].pooled, 32));
	CHECK(d <= 1e-4, "embeddings of raw text match transformers (max diff %.2g)", (double)d);
	CHECK(bert_predict(b, texts, NULL, nt, 2, pr, &err) == 0, "predict top-2");
	int ok = 1;
	for (i = 0, j = 0; i < n_ref; i++) {
		if (ref[i].n_ids >= ref_seq_len)
			continue;
		const float *l = ref[i].logits;
		int best = l[0] >= l[1] && l[0] >= l[2] ? 0 : l[1] >= l[2] ? 1 : 2;
		double z = exp(l[0]) + exp(l[1]) + exp(l[2]);
		if (pr[j].k != 2 || pr[j].label[0] != best || fabs(pr[j].score[0] - exp(l[best]) / z) > 1e-4 ||
		    pr[j].score[1] > pr[j].score[0])
			ok = 0;
		j++;
	}
	CHECK(ok, "predicted label and softmax score match transformers' logits");
	bert_free(b);
}

/*
 * The plugin gets token ids only: libarxiv's tokenizer (prep.c) makes them.
 * Embedding raw texts equals the plugin's forward pass over the ids of the
 * public tokeniser (arxiv_tok_encode, the folder's vocab.txt, lowercased,
 * 64 = min(512, max_position_embeddings)), bit for bit; prep_tok_encode gives
 * those ids, and an explanation's words come from them.
 */
static void
test_ids_only(void)
{
	struct arxiv_error err = {0};
	struct arxiv_model_opts o = cpu_opts();
	struct bert_model *b = bert_load(FIX, &o, &err);
	struct arxiv_vocab *v = arxiv_vocab_load(FIX "/vocab.txt", &err);
	struct arxiv_tok_params tp = arxiv_tok_default_params();
	struct prep_tok_model mi = { 0, 155, 64, 64 };
	struct prep_tok *pt = prep_tok_open(FIX, &mi, 0, &err);
	uint32_t ids[64], pids[64];
	uint8_t mask[64], pmask[64];
	float want[32], got[32];
	size_t i, nt, pn, same = 0, same_ids = 0, n = 0;

	CHECK(b != NULL && v != NULL && pt != NULL && prep_tok_seq_len(pt) == 64,
	    "model, vocabulary and tokenizer of %s (%s)", FIX, err.text);
	if (b == NULL || v == NULL || pt == NULL)
		goto out;
	tp.seq_len = 64;
	for (i = 0; i < n_ref; i++) {
		const char *t = ref[i].text;
		if (arxiv_tok_encode(v, &tp, t, strlen(t), ids, mask, &nt, &err) != 0 ||
		    prep_tok_encode(pt, &t, NULL, 1, pids, pmask, &pn, &err) != 0)
			break;
		n++;
		same_ids += pn == nt && memcmp(ids, pids, sizeof(ids)) == 0 &&
		    memcmp(mask, pmask, sizeof(mask)) == 0;
		if (bert_forward_ids(b, ids, mask, 1, nt, NULL, want, &err) == 0 &&
		    bert_embed(b, &t, NULL, 1, got, &err) == 0 && memcmp(want, got, sizeof(got)) == 0)
			same++;
	}
	CHECK(n == n_ref && same_ids == n, "prep_tok_encode gives arxiv_tok_encode's ids (%zu of %zu)",
	    same_ids, n);
	CHECK(n == n_ref && same == n, "embedding a text = the plugin's forward pass over its ids, "
	    "bit for bit (%zu of %zu)", same, n);
	/* a cap below the model's limit (arxiv_model_opts.max_tokens) */
	prep_tok_free(pt);
	pt = prep_tok_open(FIX, &mi, 8, &err);
	CHECK(pt != NULL && prep_tok_seq_len(pt) == 8, "max_tokens caps the sequence length");
	mi.vocab_size = 154;
	CHECK(prep_tok_open(FIX, &mi, 0, &err) == NULL &&
	    strstr(err.text, "155 pieces, but config.json has vocab_size 154") != NULL,
	    "the vocabulary must have config.json's size (%s)", err.text);
out:
	prep_tok_free(pt);
	arxiv_vocab_free(v);
	bert_free(b);
}

/* Concurrent embeddings on one loaded model equal the serial ones. */
struct conc {
	struct bert_model *b;
	const char **texts;
	size_t n;
	float out[NCASE_MAX * 32];
	int rc;
};

static void *
conc_run(void *ud)
{
	struct conc *c = ud;
	struct arxiv_error err = {0};
	int i;

	for (i = 0; i < 20 && c->rc == 0; i++)
		c->rc = bert_embed(c->b, c->texts, NULL, c->n, c->out, &err);
	return NULL;
}

static void
test_threads(void)
{
	struct arxiv_error err = {0};
	struct arxiv_model_opts o = cpu_opts();
	struct bert_model *b = bert_load(FIX, &o, &err);
	const char *texts[NCASE_MAX];
	float want[NCASE_MAX * 32];
	struct conc c[4];
	pthread_t th[4];
	size_t i, n = 0;
	int ok = 1;

	if (b == NULL)
		return;
	for (i = 0; i < n_ref; i++)
		if (ref[i].text[0] != '\0')
			texts[n++] = ref[i].text;
	bert_embed(b, texts, NULL, n, want, &err);
	for (i = 0; i < 4; i++) {
		c[i].b = b;
		c[i].texts = texts;
		c[i].n = n;
		c[i].rc = 0;
		pthread_create(&th[i], NULL, conc_run, &c[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		if (c[i].rc != 0 || maxdiff(c[i].out, want, n * 32) > 1e-6)
			ok = 0;
	}
	CHECK(ok, "4 threads embedding on one model agree with the serial result");
	bert_free(b);
}

static void
test_import(const char *tmp)
{
	struct arxiv_error err = {0};
	struct arxiv_model_opts o = cpu_opts();
	struct bert_model *b;
	float logits[3], pooled[32];
	uint8_t m1[64];
	char *d;
	FILE *fp;

	memset(m1, 1, sizeof(m1));
	/* pytorch_model.bin (torch.save zip format) */
	d = path2(tmp, "bin");
	mkckpt(d);
	copy(FIX "/pytorch_model.bin", path2(d, "pytorch_model.bin"));
	b = bert_load(d, &o, &err);
	CHECK(b != NULL && bert_forward_ids(b, ref[0].ids, m1, 1, ref[0].n_ids, logits, NULL, &err) == 0 &&
	    maxdiff(logits, ref[0].logits, 3) <= 1e-4, "pytorch_model.bin imports (%s)", err.text);
	bert_free(b);

	/* BertModel checkpoint: no "bert." prefix, no classifier */
	d = path2(tmp, "bertmodel");
	mkckpt(d);
	CHECK(variant(d, NULL, "bert.", NULL, 0, 0, NULL) == 0, "write a BertModel checkpoint");
	b = bert_load(d, &o, &err);
	CHECK(b != NULL && bert_nlabels(b) == 0 && bert_dim(b) == 32, "BertModel imports without a head (%s)",
	    err.text);
	if (b != NULL) {
		CHECK(bert_forward_ids(b, ref[1].ids, m1, 1, ref[1].n_ids, NULL, pooled, &err) == 0 &&
		    maxdiff(pooled, ref[1].pooled, 32) <= 1e-4, "BertModel pooled output matches");
		struct arxiv_prediction pr;
		const char *t = "graph theory";
		CHECK(bert_predict(b, &t, NULL, 1, 1, &pr, &err) < 0 &&
		    strstr(err.text, "no classification head") != NULL, "predict without a head: %s", err.text);
		bert_free(b);
	}

	d = path2(tmp, "badheader");
	mkckpt(d);
	fp = fopen(path2(d, "model.safetensors"), "wb");
	fputs("\x10\x00\x00\x00\x00\x00\x00\x00{not json at all", fp);
	fclose(fp);
	expect_load_error(d, "", "bad safetensors header");

	d = path2(tmp, "truncated");
	mkckpt(d);
	{
		FILE *in = fopen(FIX "/model.safetensors", "rb");
		static char buf[1 << 20];
		size_t n = fread(buf, 1, sizeof(buf), in);
		fclose(in);
		fp = fopen(path2(d, "model.safetensors"), "wb");
		fwrite(buf, 1, n / 2, fp);
		fclose(fp);
	}
	expect_load_error(d, "", "truncated safetensors file");

	d = path2(tmp, "shape");
	mkckpt(d);
	variant(d, NULL, NULL, "bert.encoder.layer.0.attention.self.query.weight", 16, 64, NULL);
	expect_load_error(d, "tensor bert.encoder.layer.0.attention.self.query.weight has shape "
	    "[16, 64], config.json needs [32, 32]", "wrong shape");

	d = path2(tmp, "missing");
	mkckpt(d);
	variant(d, "bert.encoder.layer.1.output.dense.bias", NULL, NULL, 0, 0, NULL);
	expect_load_error(d, "missing tensor bert.encoder.layer.1.output.dense.bias", "missing tensor");

	d = path2(tmp, "unexpected");
	mkckpt(d);
	variant(d, NULL, NULL, NULL, 0, 0, "bert.encoder.layer.1.output.extra.weight");
	expect_load_error(d, "unexpected tensor bert.encoder.layer.1.output.extra.weight",
	    "unexpected tensor");

	d = path2(tmp, "vocab");
	mkckpt(d);
	copy(FIX "/model.safetensors", path2(d, "model.safetensors"));
	fp = fopen(path2(d, "vocab.txt"), "a");
	fputs("extra\n", fp);
	fclose(fp);
	expect_load_error(d, "156 pieces, but config.json has vocab_size 155", "vocab size mismatch");

	d = path2(tmp, "noweights");
	mkckpt(d);
	expect_load_error(d, "no model.safetensors or pytorch_model.bin", "no weights");

	d = path2(tmp, "heads");
	mkckpt(d);
	copy(FIX "/model.safetensors", path2(d, "model.safetensors"));
	fp = fopen(path2(d, "config.json"), "w");
	fputs("{\"vocab_size\":155,\"hidden_size\":32,\"num_hidden_layers\":2,"
	    "\"num_attention_heads\":5,\"intermediate_size\":37}\n", fp);
	fclose(fp);
	expect_load_error(d, "hidden_size 32 is not a multiple of num_attention_heads 5", "bad config");
}

/* ------------------------------------------------------------ training */

#define NTR 40
#define SEQ 24
static uint32_t tr_ids[NTR * SEQ];
static uint8_t tr_mask[NTR * SEQ];
static int32_t tr_label[NTR];
static char *lab[] = { "Computer Science", "Mathematics", "Physics" };

static struct arxiv_dataset
dataset(const char *name, uint64_t vocab_hash)
{
	struct arxiv_dataset d;
	size_t i, j;
	uint64_t r = 12345;

	for (i = 0; i < NTR; i++) {
		size_t len = 4 + i % (SEQ - 4);
		for (j = 0; j < SEQ; j++) {
			r = r * 6364136223846793005ULL + 1442695040888963407ULL;
			tr_ids[i * SEQ + j] = j == 0 ? 2 : j + 1 == len ? 3 : j < len ? 5 + (r >> 33) % 150 : 0;
			tr_mask[i * SEQ + j] = j < len;
		}
		tr_label[i] = (int32_t)(tr_ids[i * SEQ + 1] % 3);
	}
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	d.n = NTR;
	d.n_labels = 3;
	d.labels = lab;
	d.label = tr_label;
	d.prep = "";
	d.seq_len = SEQ;
	d.ids = tr_ids;
	d.mask = tr_mask;
	d.vocab_hash = vocab_hash;
	d.tok_flags = 1;
	return d;
}

struct run {
	int epochs;
	double loss[16];
	int best[16];
	int stop_after;
	volatile int stop;
};

static void
on_epoch(const struct arxiv_epoch_stats *s, void *ud)
{
	struct run *r = ud;

	if (s->epoch < 16) {
		r->loss[s->epoch] = s->train_loss;
		r->best[s->epoch] = s->best;
	}
	r->epochs = s->epoch;
	if (r->stop_after && s->epoch >= r->stop_after)
		r->stop = 1;
}

static struct arxiv_train_params
params(struct run *r, int epochs)
{
	struct arxiv_train_params p = arxiv_train_default_params();

	memset(r, 0, sizeof(*r));
	p.model_type = "bert";
	p.init_dir = FIX;
	p.device = "cpu";
	p.threads = 1;
	p.seed = 7;
	p.epochs = epochs;
	p.patience = 0;
	p.lr = 2e-3;
	p.batch_size = 4;
	p.grad_accum = 2;
	p.warmup_ratio = 0.1;
	p.dropout = 0.1;
	p.on_epoch = on_epoch;
	p.ud = r;
	p.stop = &r->stop;
	return p;
}

static int
same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int ca, cb, same = fa && fb;

	while (same) {
		ca = getc(fa);
		cb = getc(fb);
		if (ca != cb)
			same = 0;
		if (ca == EOF || cb == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

static void
test_train(const char *tmp)
{
	struct arxiv_error err = {0};
	struct arxiv_vocab *v = arxiv_vocab_load(FIX "/vocab.txt", &err);
	uint64_t h = arxiv_vocab_hash(v);
	struct arxiv_dataset tr = dataset("train.bin", h), va = dataset("val.bin", h);
	struct arxiv_prediction vp[NTR];
	struct arxiv_model_opts o = cpu_opts();
	struct run r;
	struct arxiv_train_params p = params(&r, 4);
	char *d = path2(tmp, "train");
	struct bert_model *b;
	struct stat sb;
	size_t i;
	int rc;

	arxiv_vocab_free(v);
	mkdir(d, 0777);
	rc = bert_train(&p, &tr, &va, d, vp, &err);
	CHECK(rc == 0, "train 4 epochs (%s)", err.text);
	CHECK(r.epochs == 4 && r.loss[4] < r.loss[1], "training loss goes down: %.4f -> %.4f",
	    r.loss[1], r.loss[4]);
	CHECK(stat(path2(d, "model/model.safetensors"), &sb) == 0 &&
	    stat(path2(d, "model/config.json"), &sb) == 0 &&
	    stat(path2(d, "tokenizer/vocab.txt"), &sb) == 0 &&
	    stat(path2(d, "tokenizer/preprocess.json"), &sb) == 0, "artifacts written");
	CHECK(stat(path2(d, "checkpoint"), &sb) != 0, "own checkpoint removed after a finished run");
	int ok = 1;
	for (i = 0; i < NTR; i++)
		if (vp[i].k != 3 || vp[i].label[0] < 0 || vp[i].label[0] > 2)
			ok = 0;
	CHECK(ok, "validation predictions filled");
	b = bert_load(d, &o, &err);
	CHECK(b != NULL, "trained artifacts load back (%s)", err.text);
	if (b != NULL) {
		float logits[NTR * 3];
		rc = bert_forward_ids(b, tr_ids, tr_mask, NTR, SEQ, logits, NULL, &err);
		ok = rc == 0;
		for (i = 0; ok && i < NTR; i++) {
			float *l = logits + 3 * i;
			int best = l[0] >= l[1] && l[0] >= l[2] ? 0 : l[1] >= l[2] ? 1 : 2;
			if (best != vp[i].label[0])
				ok = 0;
		}
		CHECK(ok, "loaded model predicts what training reported for validation");
		bert_free(b);
	}

	/* resume: 2 epochs straight == 1 epoch, stop, resume to 2 */
	char *da = path2(tmp, "runA"), *db = path2(tmp, "runB"), *dc = path2(tmp, "runC");
	mkdir(da, 0777);
	mkdir(db, 0777);
	mkdir(dc, 0777);
	p = params(&r, 2);
	rc = bert_train(&p, &tr, &va, da, vp, &err);
	CHECK(rc == 0 && r.epochs == 2 && r.best[2], "uninterrupted 2 epochs, epoch 2 best (%s)", err.text);
	p = params(&r, 2);
	r.stop_after = 1;
	rc = bert_train(&p, &tr, &va, db, vp, &err);
	CHECK(rc == 0 && r.epochs == 1 && stat(path2(db, "checkpoint/state.json"), &sb) == 0,
	    "stopped after epoch 1, checkpoint kept (%s)", err.text);
	p = params(&r, 2);
	p.resume_dir = path2(db, "checkpoint");
	p.init_dir = NULL;
	rc = bert_train(&p, &tr, &va, dc, vp, &err);
	CHECK(rc == 0 && r.epochs == 2, "resumed for epoch 2 only (%s)", err.text);
	CHECK(same_file(path2(da, "model/model.safetensors"), path2(dc, "model/model.safetensors")),
	    "resumed run gives the same weights as the uninterrupted one");
	p = params(&r, 2);
	p.resume_dir = path2(db, "checkpoint");
	p.batch_size = 8;
	rc = bert_train(&p, &tr, &va, dc, vp, &err);
	CHECK(rc < 0 && strstr(err.text, "batch_size") != NULL, "resume with other settings refused: %s",
	    err.text);

	/* vocabulary mismatch between tensor stream and checkpoint */
	tr.vocab_hash ^= 1;
	p = params(&r, 1);
	rc = bert_train(&p, &tr, &va, dc, vp, &err);
	CHECK(rc < 0 && strstr(err.text, "another vocabulary") != NULL &&
	    strcmp(err.source, "train.bin") == 0, "vocab hash mismatch: %s: %s", err.source, err.text);
	tr.vocab_hash ^= 1;

	/* random init from a config.json (vocab.txt beside it) */
	char *dr = path2(tmp, "fromconfig");
	mkckpt(dr);
	p = params(&r, 1);
	p.init_dir = NULL;
	p.config = path2(dr, "config.json");
	memset(&err, 0, sizeof(err));
	rc = bert_train(&p, &tr, &va, dr, vp, &err);
	CHECK(rc == 0 && r.epochs == 1, "random init from config.json trains (%s)", err.text);
}

int
main(void)
{
	struct arxiv_error err = {0};
	char tmp[] = "/tmp/test_bert.XXXXXX";

	if (getcwd(top, sizeof(top)) == NULL)
		return 1;
	if (bert_plugin(&err) == NULL) {
		printf("ok 1 - # skip transformer plugin unavailable: %s\n1..1\n", err.text);
		return 0;
	}
	load_ref();
	if (mkdtemp(tmp) == NULL)
		return 1;
	test_forward();
	test_ids_only();
	test_threads();
	test_import(tmp);
	test_train(tmp);
	nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	json_decref(ref_json);
	return tap_done();
}

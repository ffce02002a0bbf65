/* test_fasttext.c - the fast model: features, top-k, storage, training, determinism. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fasttext.h"
#include "tap.h"

static const char *const words[3][6] = {
	{ "theorem", "lemma", "banach", "manifold", "proof", "algebra" },
	{ "network", "training", "neural", "compiler", "dataset", "gpu" },
	{ "quark", "boson", "plasma", "galaxy", "spin", "laser" },
};
static const char *const common[4] = { "result", "study", "new", "method" };

/* A tiny data set of cleaned texts: label l's texts use its own words. */
static struct arxiv_dataset *
synth(size_t n, uint64_t seed)
{
	static char *labels[3] = { "A", "B", "C" };
	struct arxiv_dataset *d = calloc(1, sizeof(*d));
	size_t i, j;
	char buf[512];

	d->n = n;
	d->n_labels = 3;
	d->labels = labels;
	d->label = calloc(n, sizeof(int32_t));
	d->fields = calloc(n, sizeof(uint64_t));
	d->text = calloc(n, sizeof(char *));
	for (i = 0; i < n; i++) {
		int l = (int)(i % 3);
		buf[0] = '\0';
		for (j = 0; j < 8; j++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			strcat(buf, (seed >> 60) < 9 ? words[l][(seed >> 33) % 6] :
			    common[(seed >> 33) % 4]);
			strcat(buf, " ");
		}
		d->label[i] = l;
		d->text[i] = strdup(buf);
	}
	d->prep = "";
	return d;
}

static void
synth_free(struct arxiv_dataset *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->text[i]);
	free(d->text);
	free(d->label);
	free(d->fields);
	free(d);
}

static int epochs_seen, best_seen;

static void
count_epochs(const struct arxiv_epoch_stats *s, void *ud)
{
	(void)ud;
	epochs_seen++;
	best_seen += s->best;
}

static int
same_file(const char *a, const char *b)
{
	FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
	int ca, cb, same = x && y;

	while (same) {
		ca = getc(x);
		cb = getc(y);
		if (ca != cb)
			same = 0;
		if (ca == EOF || cb == EOF)
			break;
	}
	if (x)
		fclose(x);
	if (y)
		fclose(y);
	return same;
}

int
main(void)
{
	struct ft_config c = { .n_labels = 3, .word_ngrams = 2, .buckets = 1024 };
	struct ft_feats f = {0}, g = {0};
	struct arxiv_prediction p, vp[60];
	struct arxiv_epoch_stats best;
	struct arxiv_train_params tp = arxiv_train_default_params();
	struct arxiv_dataset *tr = synth(300, 1), *va = synth(60, 2);
	struct arxiv_error e = {0};
	struct ft_model *m1 = NULL, *m2 = NULL, *m3, *ld;
	float probs[3] = { 0.2f, 0.5f, 0.3f }, tie[3] = { 0.4f, 0.2f, 0.4f };
	uint32_t ids[3] = { 101, 7, 102 };
	char dir[] = "/tmp/test_ft.XXXXXX", d1[256], d2[256], f1[300], f2[300];
	size_t i, ok;
	int same, stop = 1;

	setenv("ARXIV_DATADIR", "data", 0);
	if (mkdtemp(dir) == NULL)
		return 1;

	/* features */
	ft_feats_text(&c, "alpha beta gamma", 16, &f);
	CHECK(f.n == 5, "3 words + 2 bigrams = 5 features (got %zu)", f.n);
	for (ok = 1, i = 0; i < f.n; i++)
		ok &= f.v[i] < 1024;
	CHECK(ok, "features inside the buckets");
	ft_feats_text(&c, "  alpha\tbeta \n gamma ", 21, &g);
	CHECK(g.n == f.n && memcmp(f.v, g.v, f.n * 4) == 0, "white space does not matter");
	ft_feats_text(&c, "gamma beta alpha", 16, &g);
	/* f: alpha beta (alpha beta) gamma (beta gamma); g: gamma beta (gamma beta) alpha .. */
	CHECK(g.n == 5 && g.v[0] == f.v[3] && g.v[1] == f.v[1] && g.v[3] == f.v[0],
	    "same word, same row whatever its position");
	CHECK(g.v[2] != f.v[2] && g.v[2] != f.v[4], "bigrams are ordered");
	c.word_ngrams = 3;
	ft_feats_ids(&c, ids, 3, &f);
	CHECK(f.n == 6, "3 ids up to trigrams = 6 features (got %zu)", f.n);
	ft_feats_text(&c, "", 0, &f);
	CHECK(f.n == 0, "empty text: no features");
	c.word_ngrams = 1;
	c.char_minn = 2;
	c.char_maxn = 3;
	ft_feats_text(&c, "abc", 3, &f);
	/* "<abc>": 2-grams <a ab bc c> (4) + 3-grams <ab abc bc> (3) + the word = 8 */
	CHECK(f.n == 8, "char n-grams 2..3 of 'abc' + the word = 8 (got %zu)", f.n);
	c.char_minn = c.char_maxn = 0;

	/* top-k */
	ft_topk(probs, 3, 2, &p);
	CHECK(p.k == 2 && p.label[0] == 1 && p.label[1] == 2 && p.score[0] == 0.5f,
	    "top 2 best first");
	ft_topk(probs, 3, 10, &p);
	CHECK(p.k == 3 && p.label[2] == 0, "k capped at the label count");
	ft_topk(tie, 3, 3, &p);
	CHECK(p.label[0] == 0 && p.label[1] == 2 && p.label[2] == 1, "ties: lower label id first");

	/* training: separable data is learnt; same seed + 1 thread = same bits */
	tp.threads = 1;
	tp.seed = 7;
	tp.epochs = 5;
	tp.patience = 0;
	tp.buckets = 4096;
	tp.on_epoch = count_epochs;
	snprintf(d1, sizeof(d1), "%s/a", dir);
	snprintf(d2, sizeof(d2), "%s/b", dir);
	mkdir(d1, 0755);
	mkdir(d2, 0755);
	CHECK(ft_train(&tp, tr, va, d1, vp, &best, &m1, &e) == 0, "train: %s", e.text);
	CHECK(epochs_seen == 5 && best_seen >= 1, "on_epoch every epoch (%d), best flagged", epochs_seen);
	for (ok = 0, i = 0; i < va->n; i++)
		ok += vp[i].label[0] == va->label[i];
	CHECK(ok == va->n, "separable data learnt: %zu/%zu", ok, va->n);
	CHECK(best.val_accuracy == 1.0 && best.val_loss < 0.5, "best epoch stats (loss %.3f)",
	    best.val_loss);
	ft_feats_text(&m1->c, "result theorem", 14, &f);
	CHECK(m1->idf && m1->idf[f.v[0]] >= 1 && m1->idf[f.v[0]] < m1->idf[f.v[1]],
	    "idf: a common word weighs less than a field's word (%.3f < %.3f)",
	    m1->idf ? m1->idf[f.v[0]] : 0, m1->idf ? m1->idf[f.v[1]] : 0);
	CHECK(ft_train(&tp, tr, va, d2, vp, &best, &m2, &e) == 0, "train again");
	same = m1 && m2 && memcmp(m1->in, m2->in, 4096 * 3 * sizeof(float)) == 0 &&
	    memcmp(m1->bias, m2->bias, 3 * sizeof(float)) == 0;
	CHECK(same, "fixed seed, one thread: bit-identical weights");
	snprintf(f1, sizeof(f1), "%s/model/model.safetensors", d1);
	snprintf(f2, sizeof(f2), "%s/model/model.safetensors", d2);
	CHECK(same_file(f1, f2), "fixed seed, one thread: identical model.safetensors");
	tp.seed = 8;
	CHECK(ft_train(&tp, tr, va, NULL, vp, &best, &m3, &e) == 0 &&
	    memcmp(m1->in, m3->in, 4096 * 3 * sizeof(float)) != 0, "another seed, other weights");
	ft_free(m3);

	/* storage: fp16 file loads back within fp16 precision */
	ld = ft_load(d1, &e);
	CHECK(ld != NULL, "load: %s", e.text);
	if (ld) {
		double worst = 0;
		for (i = 0; i < 4096 * 3; i++) {
			double dd = fabs(ld->in[i] - m1->in[i]) / (fabs(m1->in[i]) + 1e-3);
			if (dd > worst)
				worst = dd;
		}
		CHECK(worst < 1e-3, "fp16 weights within 1e-3 relative (%.2g)", worst);
		CHECK(ld->idf && memcmp(ld->idf, m1->idf, 4096 * sizeof(float)) == 0,
		    "idf stored exactly (rounded to half precision before training)");
		CHECK(ld->c.buckets == 4096 && ld->c.n_labels == 3 && ld->c.word_ngrams == 2,
		    "config round trip");
		ft_free(ld);
	}
	CHECK(ft_save(m1, d2, 0, &e) == 0 && (ld = ft_load(d2, &e)) != NULL &&
	    memcmp(ld->in, m1->in, 4096 * 3 * sizeof(float)) == 0, "fp32 save is exact");
	ft_free(ld);

	/* the default loss is the squared hinge, calibrated by a fitted temperature */
	CHECK(m1->c.loss == FT_LOSS_HINGE && m1->c.temperature >= 0.0099f &&
	    m1->c.temperature != 1.0f, "hinge model with a fitted temperature (%g)",
	    (double)m1->c.temperature);
	{
		double nll_fit = 0, nll_one = 0, sum = 0;
		float tfit = m1->c.temperature, pr[3];
		size_t n = 0;
		for (i = 0; i < va->n; i++, n++) {
			ft_feats_text(&m1->c, va->text[i], strlen(va->text[i]), &f);
			ft_probs(m1, &f, NULL, pr);
			nll_fit -= log(pr[va->label[i]]);
			sum += pr[0] + pr[1] + pr[2];
			m1->c.temperature = 1;
			ft_probs(m1, &f, NULL, pr);
			nll_one -= log(pr[va->label[i]]);
			m1->c.temperature = tfit;
		}
		CHECK(fabs(sum / (double)n - 1) < 1e-5, "probabilities sum to 1");
		CHECK(nll_fit < nll_one, "the fitted temperature lowers the validation NLL "
		    "(%.4f < %.4f at 1)", nll_fit / (double)n, nll_one / (double)n);
	}
	ld = ft_load(d1, &e);
	CHECK(ld && ld->c.loss == FT_LOSS_HINGE && ld->c.temperature == m1->c.temperature,
	    "loss and temperature stored");
	ft_free(ld);
	tp.loss = "softmax";
	CHECK(ft_train(&tp, tr, va, NULL, vp, &best, &m3, &e) == 0 && m3->c.temperature == 1.0f &&
	    m3->c.loss == FT_LOSS_SOFTMAX && best.val_accuracy == 1.0,
	    "softmax loss: learns, temperature 1");
	ft_free(m3);
	tp.loss = "svm";
	CHECK(ft_train(&tp, tr, va, NULL, vp, &best, &m3, &e) == -1 &&
	    strstr(e.text, "unknown loss 'svm'"), "unknown loss refused: %s", e.text);
	tp.loss = NULL;
	CHECK(ft_loss_of(NULL) == FT_LOSS_HINGE && ft_default_lr("softmax") == 0.5 &&
	    ft_default_lr(NULL) == 0.1 && ft_default_l2("softmax") == 0, "loss defaults");

	/* L2: the penalty shrinks every row of the direct model, not just the touched ones */
	{
		double n0 = 0, n1 = 0;
		struct ft_model *ma = NULL, *mb = NULL;
		tp.l2 = 0;
		ft_train(&tp, tr, va, NULL, vp, &best, &ma, &e);
		tp.l2 = 1e-2;
		ft_train(&tp, tr, va, NULL, vp, &best, &mb, &e);
		tp.l2 = -1;
		for (i = 0; ma && mb && i < 4096 * 3; i++) {
			n0 += (double)ma->in[i] * ma->in[i];
			n1 += (double)mb->in[i] * mb->in[i];
		}
		CHECK(ma && mb && n1 > 0 && n1 < 0.8 * n0, "l2 1e-2 shrinks the weights "
		    "(squared norm %.3g vs %.3g)", n1, n0);
		ft_free(ma);
		ft_free(mb);
	}

	/* an embedding model trains too */
	tp.dim = 8;
	tp.seed = 7;
	tp.lr = 0.5;
	tp.epochs = 10;
	CHECK(ft_train(&tp, tr, va, NULL, vp, &best, &m3, &e) == 0 && best.val_accuracy > 0.95,
	    "dim 8 embeddings learn (acc %.3f)", best.val_accuracy);
	ft_free(m3);
	tp.dim = 0;

	/* a stop request before the first epoch ends gives an error, no model */
	tp.stop = &stop;
	m3 = NULL;
	CHECK(ft_train(&tp, tr, va, NULL, vp, &best, &m3, &e) == -1 && m3 == NULL &&
	    strcmp(e.text, "interrupted before the first epoch completed") == 0,
	    "stopped before an epoch: %s", e.text);
	tp.stop = NULL;
	tp.buckets = 0;
	CHECK(ft_train(&tp, tr, va, NULL, vp, &best, &m3, &e) == -1 &&
	    strstr(e.text, "invalid fast-model parameters"), "bad parameters refused");

	ft_free(m1);
	ft_free(m2);
	free(f.v);
	free(g.v);
	synth_free(tr);
	synth_free(va);
	snprintf(f1, sizeof(f1), "rm -rf %s", dir);
	if (system(f1) != 0)
		return 1;
	return tap_done();
}

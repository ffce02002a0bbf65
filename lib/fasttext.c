/*
 * fasttext.c - the fast model: a fastText-style linear classifier in plain C.
 *
 * Features are hashed into `buckets` rows: every word (a run of non-space
 * bytes of the cleaned text, or a WordPiece id over tensor streams), every
 * word n-gram up to word_ngrams, and optionally the character n-grams
 * char_minn..char_maxn of each word wrapped in '<' '>'. A document is the mean
 * of its rows (dim > 0), or (dim = 0) their sum weighted by each row's
 * inverse document frequency idf = ln((1 + N) / (1 + df)) + 1 over the training
 * set (scikit-learn's smooth idf), divided by the L2 norm of those weights, so
 * a step moves the scores of a document by the same amount whatever its length.
 * With dim > 0 the rows are embeddings of dim floats followed by a
 * linear output layer (fastText); with dim = 0 each row holds one score per
 * label directly (a hashed linear model, which needs no low-rank bottleneck
 * when there are only a few labels). Training is stochastic gradient descent
 * on a class-weighted loss of the scores: the one-vs-rest squared hinge (a
 * linear SVM; the default, 0.4 points more accurate on our validation data)
 * or the cross-entropy of their softmax, with a linearly decaying learning
 * rate and L2 shrinkage (of every row in the direct model, of the touched
 * rows in the embedding model), run lock-free by several threads on disjoint
 * slices of a shuffled epoch (hogwild); with one thread and a fixed seed it
 * is deterministic. Probabilities are softmax(scores / temperature); for the
 * hinge loss the temperature is fitted on the validation set after training
 * (temperature scaling), for the cross-entropy it is 1. Training is in
 * fasttext_train.c, storage (ft_save, ft_load) in fasttext_io.c; this file
 * holds the model, its features and prediction.
 *
 * The hash is part of the model format ("hash": "fnv1a64-mix-v1" in
 * config.json): FNV-1a 64 of the word bytes, n-grams combined as
 * g = g * 116049371 + h, rows = arxiv_mix64(g ^ n) mod buckets.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fasttext.h"

/* ------------------------------------------------------------- hashing */

static inline uint64_t
fnv(const unsigned char *s, size_t n, uint64_t h)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

#define FNV_BASIS 14695981039346656037ULL

static inline int
push(struct ft_feats *f, uint32_t v)
{
	if (f->n == f->cap && arxiv_grow(&f->v, &f->cap, f->n + 1, sizeof(*f->v), 512) < 0)
		return -1;
	f->v[f->n++] = v;
	return 0;
}

/* The word (n = 1) or n-gram ending at the newest hash in the ring. */
static int
push_ngrams(const struct ft_config *c, const uint64_t *ring, size_t count, struct ft_feats *f)
{
	uint64_t g;
	int n, j;

	if (push(f, (uint32_t)(arxiv_mix64(ring[(count - 1) % FT_MAX_NGRAM]) % c->buckets)) < 0)
		return -1;
	for (n = 2; n <= c->word_ngrams && (size_t)n <= count; n++) {
		g = ring[(count - (size_t)n) % FT_MAX_NGRAM];
		for (j = n - 1; j >= 1; j--)
			g = g * 116049371ULL + ring[(count - (size_t)j) % FT_MAX_NGRAM];
		if (push(f, (uint32_t)(arxiv_mix64(g ^ (uint64_t)n) % c->buckets)) < 0)
			return -1;
	}
	return 0;
}

static int
push_chars(const struct ft_config *c, const unsigned char *w, size_t n, struct ft_feats *f)
{
	unsigned char buf[260];
	size_t starts[260], ns = 0, i, len;
	int k;

	if (n > 256)
		n = 256;
	buf[0] = '<';
	memcpy(buf + 1, w, n);
	buf[n + 1] = '>';
	len = n + 2;
	for (i = 0; i < len; i++)
		if ((buf[i] & 0xc0) != 0x80)
			starts[ns++] = i;
	starts[ns] = len;
	for (i = 0; i < ns; i++)
		for (k = c->char_minn; k <= c->char_maxn && i + (size_t)k <= ns; k++) {
			if (i == 0 && i + (size_t)k == ns)
				continue;	/* the whole "<word>" is the word itself */
			uint64_t h = fnv(buf + starts[i], starts[i + (size_t)k] - starts[i],
			    FNV_BASIS ^ 0x63);
			if (push(f, (uint32_t)(arxiv_mix64(h) % c->buckets)) < 0)
				return -1;
		}
	return 0;
}

int
ft_feats_text(const struct ft_config *c, const char *str, size_t n, struct ft_feats *f)
{
	const unsigned char *s = (const unsigned char *)str;
	uint64_t ring[FT_MAX_NGRAM];
	size_t i = 0, start, count = 0;

	f->n = 0;
	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i >= n)
			break;
		start = i;
		while (i < n && !(s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
			i++;
		ring[count % FT_MAX_NGRAM] = fnv(s + start, i - start, FNV_BASIS);
		count++;
		if (push_ngrams(c, ring, count, f) < 0)
			return -1;
		if (c->char_maxn > 0 && push_chars(c, s + start, i - start, f) < 0)
			return -1;
	}
	return 0;
}

int
ft_feats_ids(const struct ft_config *c, const uint32_t *ids, size_t n, struct ft_feats *f)
{
	uint64_t ring[FT_MAX_NGRAM];
	size_t i;

	f->n = 0;
	for (i = 0; i < n; i++) {
		ring[i % FT_MAX_NGRAM] = arxiv_mix64((uint64_t)ids[i] + 0x9e3779b97f4a7c15ULL);
		if (push_ngrams(c, ring, i + 1, f) < 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- model */

uint64_t
ft_rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return arxiv_mix64(*s);
}

size_t
ft_row_width(const struct ft_config *c)
{
	return c->dim ? (size_t)c->dim : (size_t)c->n_labels;
}

int
ft_loss_of(const char *name)
{
	if (name == NULL || *name == '\0')
		return FT_DEFAULT_LOSS;
	if (strcmp(name, "hinge") == 0)
		return FT_LOSS_HINGE;
	if (strcmp(name, "softmax") == 0)
		return FT_LOSS_SOFTMAX;
	return -1;
}

double
ft_default_lr(const char *loss)
{
	return ft_loss_of(loss) == FT_LOSS_SOFTMAX ? FT_DEFAULT_LR_SOFTMAX : FT_DEFAULT_LR_HINGE;
}

double
ft_default_l2(const char *loss)
{
	return ft_loss_of(loss) == FT_LOSS_SOFTMAX ? FT_DEFAULT_L2_SOFTMAX : FT_DEFAULT_L2_HINGE;
}

/*
 * The fast model's training defaults: the best of the grid measured on the
 * seeded 10% validation slice of ../shared/data (arxiv_split_of seed 42,
 * ratios .9/.1/0; 198,070 train and 21,930 val abstracts, cleaned with
 * arxiv_clean_default_params()). The grid and its numbers are in
 * tests/bench/fast-grid.txt.
 */
void
ft_default_params(struct arxiv_train_params *p)
{
	p->dim = 0;
	p->word_ngrams = 2;
	p->char_minn = 0;
	p->char_maxn = 0;
	p->buckets = (size_t)1 << 21;
	p->class_weight = 0.5;
	p->l2 = -1;		/* the loss's default: 2e-6 (hinge), 0 (softmax) */
	p->loss = "hinge";
}

double
ft_params_lr(const struct arxiv_train_params *p)
{
	return ft_default_lr(p->loss);
}

const char *
ft_check_params(const struct arxiv_train_params *p)
{
	if (p->dim < 0 || p->dim > 1024)
		return "dim must be in [0, 1024]";
	if (p->word_ngrams < 1 || p->word_ngrams > 8)
		return "word_ngrams must be in [1, 8]";
	if (p->char_minn < 0 || p->char_maxn > 16 || p->char_maxn < p->char_minn ||
	    (p->char_maxn > 0 && p->char_minn == 0))
		return "char n-gram range must be 0:0 or 1 <= char_minn <= char_maxn <= 16";
	if (p->buckets < 1 || p->buckets > ((size_t)1 << 30))
		return "buckets must be in [1, 2^30]";
	if (!(p->class_weight >= 0 && p->class_weight <= 2))
		return "class_weight must be in [0, 2]";
	if (!(p->l2 == -1 || (p->l2 >= 0 && p->l2 <= 1)))
		return "l2 must be in [0, 1] (or -1: the loss's default)";
	if (p->loss && strcmp(p->loss, "hinge") != 0 && strcmp(p->loss, "softmax") != 0)
		return "loss must be hinge or softmax";
	return NULL;
}

struct ft_model *
ft_new(const struct ft_config *c, uint64_t seed)
{
	struct ft_model *m;
	size_t i, w = ft_row_width(c), rows = c->buckets;
	uint64_t s = seed ^ 0x5eedULL;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->c = *c;
	if (!(m->c.temperature > 0))
		m->c.temperature = 1;
	m->in = calloc(rows * w, sizeof(float));
	m->bias = calloc((size_t)c->n_labels, sizeof(float));
	if (c->dim)
		m->out = calloc((size_t)c->n_labels * (size_t)c->dim, sizeof(float));
	if (c->idf && (m->idf = malloc(rows * sizeof(float))) != NULL)
		for (i = 0; i < rows; i++)
			m->idf[i] = 1;
	if (m->in == NULL || m->bias == NULL || (c->dim && m->out == NULL) ||
	    (c->idf && m->idf == NULL)) {
		ft_free(m);
		return NULL;
	}
	if (c->dim) {
		/* fastText: embeddings uniform in +-1/dim, output layer zero */
		for (i = 0; i < rows * w; i++)
			m->in[i] = (float)(((double)(ft_rng_next(&s) >> 11) * 0x1.0p-53 * 2 - 1) / c->dim);
	}
	return m;
}

void
ft_free(struct ft_model *m)
{
	if (m == NULL)
		return;
	free(m->in);
	free(m->out);
	free(m->bias);
	free(m->idf);
	free(m);
}

static void
softmax(float *x, int n)
{
	float mx = x[0], sum = 0;
	int i;

	for (i = 1; i < n; i++)
		if (x[i] > mx)
			mx = x[i];
	for (i = 0; i < n; i++) {
		x[i] = expf(x[i] - mx);
		sum += x[i];
	}
	for (i = 0; i < n; i++)
		x[i] /= sum;
}

/*
 * The raw scores of one feature list; the direct model's rows are read as
 * scale * stored (training with l2, see sgd_step).
 */
void
ft_scores(const struct ft_model *m, const struct ft_feats *f, float *hidden, float *out,
    float scale)
{
	int L = m->c.n_labels, d = m->c.dim, c, j;
	size_t i;
	float inv = f->n ? 1.0f / (float)f->n : 0.0f;

	if (d == 0) {
		float ss = 0, w = 1;
		for (c = 0; c < L; c++)
			out[c] = 0;
		for (i = 0; i < f->n; i++) {
			const float *r = m->in + (size_t)f->v[i] * (size_t)L;
			if (i + 8 < f->n) {	/* rows are scattered over a large table */
				__builtin_prefetch(m->in + (size_t)f->v[i + 8] * (size_t)L);
				if (m->idf)
					__builtin_prefetch(m->idf + f->v[i + 8]);
			}
			if (m->idf)
				w = m->idf[f->v[i]];
			ss += w * w;
			for (c = 0; c < L; c++)
				out[c] += w * r[c];
		}
		inv = f->n ? scale / sqrtf(ss) : 0.0f;
		for (c = 0; c < L; c++)
			out[c] = out[c] * inv + m->bias[c];
		return;
	}
	for (j = 0; j < d; j++)
		hidden[j] = 0;
	for (i = 0; i < f->n; i++) {
		const float *r = m->in + (size_t)f->v[i] * (size_t)d;
		for (j = 0; j < d; j++)
			hidden[j] += r[j];
	}
	for (j = 0; j < d; j++)
		hidden[j] *= inv;
	for (c = 0; c < L; c++) {
		const float *o = m->out + (size_t)c * (size_t)d;
		float s = m->bias[c];
		for (j = 0; j < d; j++)
			s += o[j] * hidden[j];
		out[c] = s;
	}
}

/* Scores to probabilities: softmax(scores / temperature), in place. */
void
ft_to_probs(const struct ft_model *m, float *x)
{
	int c;

	if (m->c.temperature != 1.0f)
		for (c = 0; c < m->c.n_labels; c++)
			x[c] /= m->c.temperature;
	softmax(x, m->c.n_labels);
}

/* Cross-entropy of softmax(s) for label y; with grad, its gradient (may be s). */
float
ft_softmax_xent(const float *s, int L, int y, float *grad)
{
	float mx = s[0], sum = 0, loss;
	int c;

	for (c = 1; c < L; c++)
		if (s[c] > mx)
			mx = s[c];
	for (c = 0; c < L; c++)
		sum += expf(s[c] - mx);
	loss = logf(sum) + mx - s[y];
	if (grad)
		for (c = 0; c < L; c++)
			grad[c] = expf(s[c] - mx) / sum - (c == y ? 1.0f : 0.0f);
	return loss;
}

/* Cross-entropy of softmax(s) against the distribution t (distillation's soft
 * targets); with grad, its gradient softmax(s) - t (may be s). */
float
ft_soft_xent(const float *s, int L, const float *t, float *grad)
{
	float mx = s[0], sum = 0, lse, loss = 0;
	int c;

	for (c = 1; c < L; c++)
		if (s[c] > mx)
			mx = s[c];
	for (c = 0; c < L; c++)
		sum += expf(s[c] - mx);
	lse = logf(sum) + mx;
	for (c = 0; c < L; c++)
		loss += t[c] * (lse - s[c]);
	if (grad)
		for (c = 0; c < L; c++)
			grad[c] = expf(s[c] - lse) - t[c];
	return loss;
}

/*
 * The training loss of one example from its raw scores, unweighted; with
 * grad, also d loss / d score per label into grad (may be s).
 *   softmax: cross-entropy of softmax(scores) (temperature 1)
 *   hinge:   one-vs-rest squared hinge, sum over labels of max(0, 1 - t s)^2,
 *            t = +1 for the true label and -1 for the others
 */
float
ft_example_loss(const struct ft_model *m, const float *s, int y, float *grad)
{
	int L = m->c.n_labels, c;
	float loss = 0;

	if (m->c.loss != FT_LOSS_HINGE)
		return ft_softmax_xent(s, L, y, grad);
	for (c = 0; c < L; c++) {
		float t = c == y ? 1.0f : -1.0f, h = 1.0f - t * s[c];
		if (h > 0)
			loss += h * h;
		if (grad)
			grad[c] = h > 0 ? -2.0f * t * h : 0.0f;
	}
	return loss;
}

void
ft_probs(const struct ft_model *m, const struct ft_feats *f, float *hidden, float *probs)
{
	ft_scores(m, f, hidden, probs, 1.0f);
	ft_to_probs(m, probs);
}

void
ft_topk(const float *probs, int n_labels, size_t k, struct arxiv_prediction *p)
{
	size_t i, j;
	int c;

	if (k > (size_t)n_labels)
		k = (size_t)n_labels;
	if (k > ARXIV_TOPK_MAX)
		k = ARXIV_TOPK_MAX;
	p->k = 0;
	for (c = 0; c < n_labels; c++) {
		/* insertion into the sorted top k; ties keep the lower label id first */
		for (i = p->k; i > 0 && probs[c] > p->score[i - 1]; i--)
			;
		if (i >= k)
			continue;
		j = p->k < k ? p->k : k - 1;
		for (; j > i; j--) {
			p->label[j] = p->label[j - 1];
			p->score[j] = p->score[j - 1];
		}
		p->label[i] = c;
		p->score[i] = probs[c];
		if (p->k < k)
			p->k++;
	}
}

/* Features of example i of a data set. */
int
ft_example_feats(const struct ft_config *c, const struct arxiv_dataset *d, size_t i,
    struct ft_feats *f)
{
	if (c->ids) {
		const uint8_t *mask = d->mask + i * d->seq_len;
		size_t n = 0;
		while (n < d->seq_len && mask[n])
			n++;
		return ft_feats_ids(c, d->ids + i * d->seq_len, n, f);
	}
	return ft_feats_text(c, d->text[i], strlen(d->text[i]), f);
}

/* ------------------------------------------------------------ threads */

struct pred_job {
	const struct ft_model *m;
	const struct arxiv_dataset *d;
	size_t begin, end, k;
	struct arxiv_prediction *out;
	double loss;
	int rc;
};

static void *
pred_worker(void *arg)
{
	struct pred_job *j = arg;
	struct ft_feats f = {0};
	float *buf;
	int L = j->m->c.n_labels;
	size_t i;

	buf = malloc(sizeof(float) * ((size_t)L + (size_t)j->m->c.dim + 1));
	if (buf == NULL) {
		j->rc = -1;
		return NULL;
	}
	for (i = j->begin; i < j->end; i++) {
		if (ft_example_feats(&j->m->c, j->d, i, &f) < 0) {
			j->rc = -1;
			break;
		}
		ft_scores(j->m, &f, buf + L, buf, 1.0f);
		if (j->d->label[i] >= 0 && j->d->label[i] < L)
			j->loss += ft_example_loss(j->m, buf, j->d->label[i], NULL);
		ft_to_probs(j->m, buf);
		ft_topk(buf, L, j->k, &j->out[i]);
	}
	free(f.v);
	free(buf);
	return NULL;
}

int
ft_predict_dataset(const struct ft_model *m, const struct arxiv_dataset *d, int n_threads,
    size_t k, struct arxiv_prediction *out, double *loss)
{
	struct pred_job job[64];
	int t, rc = 0;
	double sum = 0;

	n_threads = arxiv_threads(n_threads, d->n);
	for (t = 0; t < n_threads; t++)
		job[t] = (struct pred_job){ m, d, d->n * (size_t)t / (size_t)n_threads,
		    d->n * (size_t)(t + 1) / (size_t)n_threads, k, out, 0, 0 };
	arxiv_parallel_run(pred_worker, job, sizeof(job[0]), n_threads);
	for (t = 0; t < n_threads; t++) {
		if (job[t].rc)
			rc = -1;
		sum += job[t].loss;
	}
	if (loss)
		*loss = d->n ? sum / (double)d->n : 0;
	return rc;
}

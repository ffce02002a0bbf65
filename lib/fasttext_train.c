/*
 * fasttext_train.c - training the fast model (fasttext.c): stochastic gradient
 * descent on the class-weighted squared hinge or softmax cross-entropy, run
 * lock-free by several threads on disjoint slices of a shuffled epoch
 * (hogwild), with a linearly decaying learning rate and L2 shrinkage, early
 * stopping on the validation loss, the idf weights of the direct model, and
 * the temperature fitted on the validation set for the hinge loss. The
 * model, its features, prediction and storage are in fasttext.c.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fasttext.h"

/*
 * One SGD step on one example; returns its (weighted) loss. The direct model
 * (dim 0) stores its rows divided by scale, the product of every step's L2
 * decay so far (Bottou's trick: the decay of all rows costs nothing); the
 * embedding model decays the rows it touches.
 */
static float
sgd_step(struct ft_model *m, const struct ft_feats *f, int y, const float *target, float wy,
    float lr, float l2, float scale, float *hidden, float *probs, float *grad)
{
	int L = m->c.n_labels, d = m->c.dim, c, j;
	size_t i;
	float inv, loss, decay = d ? 1.0f - lr * l2 : 1.0f;

	ft_scores(m, f, hidden, probs, scale);
	loss = (target ? ft_soft_xent(probs, L, target, probs) : ft_example_loss(m, probs, y, probs)) * wy;
	for (c = 0; c < L; c++)
		probs[c] *= lr * wy;	/* now the step */
	for (c = 0; c < L; c++)
		m->bias[c] -= probs[c];
	if (f->n == 0)
		return loss;
	inv = 1.0f / (float)f->n;
	if (d == 0) {
		float ss = 0, w = 1;
		if (m->idf)
			for (i = 0; i < f->n; i++)
				ss += m->idf[f->v[i]] * m->idf[f->v[i]];
		else
			ss = (float)f->n;
		inv = 1.0f / (sqrtf(ss) * scale);
		for (c = 0; c < L; c++)
			probs[c] *= inv;
		for (i = 0; i < f->n; i++) {
			float *r = m->in + (size_t)f->v[i] * (size_t)L;
			if (m->idf)
				w = m->idf[f->v[i]];
			for (c = 0; c < L; c++)
				r[c] -= w * probs[c];
		}
		return loss;
	}
	for (j = 0; j < d; j++)
		grad[j] = 0;
	for (c = 0; c < L; c++) {
		float *o = m->out + (size_t)c * (size_t)d, g = probs[c];
		for (j = 0; j < d; j++) {
			grad[j] += g * o[j];
			o[j] = o[j] * decay - g * hidden[j];
		}
	}
	for (j = 0; j < d; j++)
		grad[j] *= inv;
	for (i = 0; i < f->n; i++) {
		float *r = m->in + (size_t)f->v[i] * (size_t)d;
		for (j = 0; j < d; j++)
			r[j] = r[j] * decay - grad[j];
	}
	return loss;
}

struct train_job {
	struct ft_model *m;
	const struct arxiv_dataset *d;
	const uint32_t *perm;
	const float *cw;
	size_t begin, end;
	double progress0, total;	/* examples done before this epoch, all examples */
	int n_threads;
	float lr, l2;
	volatile int *stop;
	double loss;
	size_t done;
	int rc;
	double epoch0;		/* examples done before this epoch */
	const float *soft;	/* distillation: d->n rows of n_labels targets, or NULL */
};

/*
 * The direct model's L2 shrinkage from the start of the epoch to progress
 * prog (a fraction of all examples): the product of (1 - lr_t l2) over the
 * steps, with lr_t = lr (1 - t / total), taken as exp(-l2 * sum of lr_t).
 */
static float
l2_scale(const struct train_job *j, double prog)
{
	double p0 = j->epoch0 / j->total, u;

	if (j->l2 <= 0 || j->m->c.dim)
		return 1.0f;
	if (prog > 1)
		prog = 1;
	u = (prog - prog * prog / 2) - (p0 - p0 * p0 / 2);
	return (float)exp(-(double)j->l2 * j->lr * j->total * u);
}

static void *
train_worker(void *arg)
{
	struct train_job *j = arg;
	struct ft_feats f = {0};
	int L = j->m->c.n_labels;
	size_t i, n = 0;
	float *buf, lr;
	double prog;

	buf = malloc(sizeof(float) * ((size_t)L + 2 * (size_t)j->m->c.dim + 1));
	if (buf == NULL) {
		j->rc = -1;
		return NULL;
	}
	for (i = j->begin; i < j->end; i++, n++) {
		size_t e = j->perm[i];
		int y = j->d->label[e];
		const float *tgt = j->soft ? j->soft + e * (size_t)L : NULL;
		if ((n & 255) == 0 && j->stop && *j->stop)
			break;
		if (!tgt && (y < 0 || y >= L))
			continue;
		if (ft_example_feats(&j->m->c, j->d, e, &f) < 0) {
			j->rc = -1;
			break;
		}
		prog = (j->progress0 + (double)n * j->n_threads) / j->total;
		lr = j->lr * (float)(prog < 1 ? 1 - prog : 0);
		j->loss += sgd_step(j->m, &f, y, tgt, y >= 0 && y < L ? j->cw[y] : 1.0f, lr, j->l2,
		    l2_scale(j, prog),
		    buf + L, buf, buf + L + j->m->c.dim);
	}
	j->done = n;
	free(f.v);
	free(buf);
	return NULL;
}

/* Inverse document frequencies of the rows over the training set, rounded to
 * half precision (as stored) before training so predict sees the same values. */
static int
compute_idf(struct ft_model *m, const struct arxiv_dataset *d)
{
	uint32_t *stamp, *df;
	struct ft_feats f = {0};
	size_t i, j, rows = m->c.buckets;

	stamp = calloc(rows, sizeof(*stamp));
	df = calloc(rows, sizeof(*df));
	if (stamp == NULL || df == NULL)
		goto fail;
	for (i = 0; i < d->n; i++) {
		if (ft_example_feats(&m->c, d, i, &f) < 0)
			goto fail;
		for (j = 0; j < f.n; j++)
			if (stamp[f.v[j]] != (uint32_t)i + 1) {
				stamp[f.v[j]] = (uint32_t)i + 1;
				df[f.v[j]]++;
			}
	}
	for (i = 0; i < rows; i++)
		m->idf[i] = ft_f16_to_f32(ft_f32_to_f16((float)(log((1.0 + (double)d->n) /
		    (1.0 + df[i])) + 1.0)));
	free(stamp);
	free(df);
	free(f.v);
	return 0;
fail:
	free(stamp);
	free(df);
	free(f.v);
	return -1;
}

/* Mean NLL of softmax(scores / t) over the labelled rows of n rows of L scores. */
static double
nll_at(const float *sc, const int32_t *label, size_t n, int L, double t)
{
	float row[64];
	double sum = 0;
	size_t i, k = 0;
	int c;

	for (i = 0; i < n; i++) {
		if (label[i] < 0 || label[i] >= L)
			continue;
		for (c = 0; c < L; c++)
			row[c] = (float)(sc[i * (size_t)L + (size_t)c] / t);
		sum += ft_softmax_xent(row, L, label[i], NULL);
		k++;
	}
	return k ? sum / (double)k : 0;
}

/*
 * Temperature scaling (Guo et al. 2017): the t in [0.01, 100] that minimises
 * the validation NLL of softmax(scores / t), by golden-section search on
 * log t (the NLL is convex in 1/t); 1 when val has no labels. With val_out,
 * also the validation predictions (all labels) at that temperature.
 */
static int
fit_temperature(struct ft_model *m, const struct arxiv_dataset *val,
    struct arxiv_prediction *val_out)
{
	const double g = 0.6180339887498949;
	int L = m->c.n_labels, it;
	float *sc, *hidden;
	size_t i, labelled = 0;
	struct ft_feats f = {0};
	double a = log(0.01), b = log(100), x1, x2, f1, f2;

	m->c.temperature = 1;
	for (i = 0; i < val->n; i++)
		labelled += val->label[i] >= 0 && val->label[i] < L;
	sc = malloc((val->n ? val->n : 1) * (size_t)L * sizeof(float));
	hidden = malloc(((size_t)m->c.dim + 1) * sizeof(float));
	if (sc == NULL || hidden == NULL)
		goto fail;
	for (i = 0; i < val->n; i++) {
		if (ft_example_feats(&m->c, val, i, &f) < 0)
			goto fail;
		ft_scores(m, &f, hidden, sc + i * (size_t)L, 1.0f);
	}
	x1 = b - g * (b - a);
	x2 = a + g * (b - a);
	f1 = nll_at(sc, val->label, val->n, L, exp(x1));
	f2 = nll_at(sc, val->label, val->n, L, exp(x2));
	for (it = 0; it < 60 && b - a > 1e-4 && labelled; it++) {
		if (f1 <= f2) {
			b = x2;
			x2 = x1;
			f2 = f1;
			x1 = b - g * (b - a);
			f1 = nll_at(sc, val->label, val->n, L, exp(x1));
		} else {
			a = x1;
			x1 = x2;
			f1 = f2;
			x2 = a + g * (b - a);
			f2 = nll_at(sc, val->label, val->n, L, exp(x2));
		}
	}
	if (labelled)
		m->c.temperature = (float)exp((a + b) / 2);
	for (i = 0; val_out && i < val->n; i++) {
		ft_to_probs(m, sc + i * (size_t)L);
		ft_topk(sc + i * (size_t)L, L, (size_t)L, &val_out[i]);
	}
	free(sc);
	free(hidden);
	free(f.v);
	return 0;
fail:
	free(sc);
	free(hidden);
	free(f.v);
	return -1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
ft_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp_dir, struct arxiv_prediction *val_out,
    struct arxiv_epoch_stats *best, struct ft_model **model_out, struct arxiv_error *err)
{
	return ft_train_soft(p, train, NULL, val, tmp_dir, val_out, best, model_out, err);
}

int
ft_train_soft(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const float *soft, const struct arxiv_dataset *val, const char *tmp_dir,
    struct arxiv_prediction *val_out, struct arxiv_epoch_stats *best,
    struct ft_model **model_out, struct arxiv_error *err)
{
	struct ft_config c = {0};
	struct ft_model *m = NULL;
	struct arxiv_prediction *pred = NULL;
	struct arxiv_metrics *met = NULL;
	struct train_job job[64];
	float *best_in = NULL, *best_out = NULL, *best_bias = NULL, cw[64];
	uint32_t *perm = NULL;
	size_t i, rows, counts[64] = {0}, n_lab = 0, in_len, out_len;
	uint64_t rs;
	double t0, total, wsum, l2;
	int epoch, t, nt, since = 0, have_best = 0, rc = -1;

	c.n_labels = (int)train->n_labels;
	c.dim = p->dim;
	c.word_ngrams = p->word_ngrams < 1 ? 1 : p->word_ngrams;
	c.char_minn = p->char_minn;
	c.char_maxn = p->char_maxn;
	c.buckets = (uint32_t)p->buckets;
	c.ids = train->ids != NULL;
	c.idf = p->dim == 0;
	c.loss = soft ? FT_LOSS_SOFTMAX : ft_loss_of(p->loss);
	c.temperature = 1;
	l2 = p->l2 >= 0 ? p->l2 : ft_default_l2(p->loss);
	if (c.loss < 0) {
		arxiv_error_set(err, "", 0, "unknown loss '%s' (hinge or softmax)", p->loss);
		return -1;
	}
	if (c.n_labels < 2 || c.n_labels > 64) {
		arxiv_error_set(err, train->name, 0, "need 2 to 64 labels, have %d", c.n_labels);
		return -1;
	}
	if (p->buckets < 1 || p->buckets > (1u << 30) || p->dim < 0 || p->dim > 1024 ||
	    c.word_ngrams > FT_MAX_NGRAM || (c.char_maxn && (c.char_minn < 1 ||
	    c.char_maxn < c.char_minn || c.char_maxn > 16)) || p->epochs < 1 || p->lr < 0) {
		arxiv_error_set(err, "", 0, "invalid fast-model parameters (buckets 1..2^30, dim 0..1024, "
		    "word_ngrams 1..%d, char n-grams 1..16, epochs >= 1, lr >= 0)", FT_MAX_NGRAM);
		return -1;
	}
	if (train->n == 0) {
		arxiv_error_set(err, train->name, 0, "no training examples");
		return -1;
	}
	nt = arxiv_threads(p->threads, 0);
	if ((m = ft_new(&c, p->seed)) == NULL)
		goto nomem;
	rows = c.buckets;
	in_len = rows * ft_row_width(&c);
	out_len = c.dim ? (size_t)c.n_labels * (size_t)c.dim : 0;
	best_in = malloc(in_len * sizeof(float));
	best_bias = malloc((size_t)c.n_labels * sizeof(float));
	if (out_len)
		best_out = malloc(out_len * sizeof(float));
	perm = malloc(train->n * sizeof(*perm));
	pred = calloc(val->n ? val->n : 1, sizeof(*pred));
	if (!best_in || !best_bias || (out_len && !best_out) || !perm || !pred)
		goto nomem;

	/* class weights (count/mean)^-class_weight, normalised to mean 1 over examples */
	for (i = 0; i < train->n; i++)
		if (train->label[i] >= 0 && train->label[i] < c.n_labels) {
			counts[train->label[i]]++;
			n_lab++;
		}
	wsum = 0;
	for (t = 0; t < c.n_labels; t++) {
		double f = counts[t] ? (double)n_lab / ((double)c.n_labels * (double)counts[t]) : 1;
		cw[t] = (float)pow(f, p->class_weight);
		wsum += cw[t] * (double)counts[t];
	}
	for (t = 0; t < c.n_labels; t++)
		cw[t] = (float)(cw[t] * (double)n_lab / (wsum > 0 ? wsum : 1));

	if (c.idf && compute_idf(m, train) < 0)
		goto nomem;
	rs = p->seed;
	for (i = 0; i < train->n; i++)
		perm[i] = (uint32_t)i;
	total = (double)train->n * p->epochs;
	for (epoch = 1; epoch <= p->epochs; epoch++) {
		struct arxiv_epoch_stats s = {0};
		double loss = 0, vloss = 0;
		size_t done = 0;

		for (i = train->n - 1; i > 0; i--) {	/* Fisher-Yates, seeded */
			size_t j = (size_t)(ft_rng_next(&rs) % (i + 1));
			uint32_t tmp = perm[i];
			perm[i] = perm[j];
			perm[j] = tmp;
		}
		t0 = now();
		for (t = 0; t < nt; t++) {
			job[t] = (struct train_job){ m, train, perm, cw,
			    train->n * (size_t)t / (size_t)nt, train->n * (size_t)(t + 1) / (size_t)nt,
			    (double)train->n * (epoch - 1) + (double)t, total, nt,
			    (float)(p->lr > 0 ? p->lr : ft_default_lr(p->loss)),
			    (float)l2, p->stop, 0, 0, 0, (double)train->n * (epoch - 1), soft };
		}
		arxiv_parallel_run(train_worker, job, sizeof(job[0]), nt);
		for (t = 0; t < nt; t++) {
			if (job[t].rc)
				goto nomem;
			loss += job[t].loss;
			done += job[t].done;
		}
		if (c.dim == 0 && l2 > 0) {	/* the epoch's shrinkage into the rows */
			float sc = l2_scale(&job[0], (double)train->n * epoch / total);
			for (i = 0; i < in_len; i++)
				m->in[i] *= sc;
		}
		s.seconds = now() - t0;
		if (p->stop && *p->stop) {
			arxiv_log(ARXIV_LOG_INFO, "stopped during epoch %d; keeping epoch %d", epoch,
			    have_best ? best->epoch : 0);
			break;
		}
		s.epoch = epoch;
		s.train_loss = done ? loss / (double)done : 0;
		s.examples_per_s = s.seconds > 0 ? (double)done / s.seconds : 0;
		if (ft_predict_dataset(m, val, nt, (size_t)c.n_labels, pred, &vloss) < 0)
			goto nomem;
		if ((met = arxiv_metrics_new((size_t)c.n_labels,
		    (const char *const *)train->labels)) == NULL)
			goto nomem;
		for (i = 0; i < val->n; i++)
			if (val->label[i] >= 0)
				arxiv_metrics_add(met, val->label[i], &pred[i], val->fields[i]);
		s.val_loss = vloss;
		if (!isfinite(s.train_loss) || !isfinite(s.val_loss)) {
			arxiv_error_set(err, "", 0, "training diverged at epoch %d (loss is not "
			    "finite); lower the learning rate (now %g)", epoch, p->lr);
			goto out;
		}
		s.val_accuracy = arxiv_metrics_accuracy(met);
		s.val_macro_f1 = arxiv_metrics_macro_f1(met);
		arxiv_metrics_free(met);
		met = NULL;
		if (!have_best || s.val_loss < best->val_loss) {
			s.best = 1;
			have_best = 1;
			*best = s;
			since = 0;
			memcpy(best_in, m->in, in_len * sizeof(float));
			memcpy(best_bias, m->bias, (size_t)c.n_labels * sizeof(float));
			if (out_len)
				memcpy(best_out, m->out, out_len * sizeof(float));
			if (val_out)
				memcpy(val_out, pred, val->n * sizeof(*pred));
		} else
			since++;
		if (p->on_epoch)
			p->on_epoch(&s, p->ud);
		if (p->patience > 0 && since >= p->patience)
			break;
		if (p->stop && *p->stop)
			break;
	}
	if (!have_best) {
		arxiv_error_set(err, "", 0, "interrupted before the first epoch completed");
		goto out;
	}
	memcpy(m->in, best_in, in_len * sizeof(float));
	memcpy(m->bias, best_bias, (size_t)c.n_labels * sizeof(float));
	if (out_len)
		memcpy(m->out, best_out, out_len * sizeof(float));
	if (c.loss == FT_LOSS_HINGE) {
		/* margins are not probabilities: calibrate them on the validation set */
		if (fit_temperature(m, val, val_out) < 0)
			goto nomem;
		arxiv_log(ARXIV_LOG_DEBUG, "temperature %.4g (fitted on the validation set)",
		    (double)m->c.temperature);
	}
	if (tmp_dir && ft_save(m, tmp_dir, 1, err) < 0)
		goto out;
	if (model_out) {
		*model_out = m;
		m = NULL;
	}
	rc = 0;
	goto out;
nomem:
	arxiv_error_set(err, "", 0, "out of memory");
out:
	arxiv_metrics_free(met);
	ft_free(m);
	free(best_in);
	free(best_out);
	free(best_bias);
	free(perm);
	free(pred);
	return rc;
}


/*
 * tpe.c - samplers for hyperparameter search (arxiv-hpo) over a search space
 * (tpe_space.c): TPE, random, and the median pruner. The Parzen estimator is
 * in tpe_parzen.c.
 *
 * The TPE sampler follows Optuna's TPESampler (optuna 5.0,
 * optuna/samplers/_tpe/sampler.py and parzen_estimator.py) with its defaults:
 *
 * - the first n_startup (10) finished trials are drawn at random;
 * - of the n finished trials (COMPLETE and PRUNED), the best
 *   gamma(n) = min(ceil(0.1 n), 25) complete ones (then pruned ones ranked by
 *   (-last step, value)) are "below" (l), the rest "above" (g); trials still
 *   running join "above" (the constant liar); each group in trial order;
 * - each group is a Parzen estimator: one kernel per observation plus a prior
 *   kernel (mean the middle of the range, sigma the range, weight
 *   prior_weight = 1); observation weights are default_weights(n): 1 for the
 *   25 newest, a linear ramp from 1/n up for older ones;
 * - a kernel's sigma is the larger distance to its neighbours among the
 *   observations' sorted means (range ends as sentinels; the outermost kernels
 *   use their inner neighbour only: consider_endpoints=False), clipped to
 *   [range / min(100, n + 2), range] (the "magic clip");
 * - kernels are normals truncated to the range, in log space for log
 *   parameters; integers are discretised (the range widened by step / 2, the
 *   probability of a value is the kernel's mass over its step cell);
 *   categorical kernels put prior_weight / (n + 1) on every choice and 1 more on
 *   the observed one (normalised);
 * - multivariate (Optuna 5's default for one objective): a kernel is the
 *   product of its per-parameter components, sampled and weighted jointly;
 *   independent (multivariate = 0): each parameter on its own;
 * - 24 candidates are drawn from l and the one with the largest
 *   log l(x) - log g(x) is proposed.
 *
 * The samplers keep no state: the random stream of a proposal is a hash of
 * (seed, trial number, parameter), so the same seed and the same trial history
 * always give the same next point (the history, arxiv-hpo's journal, is the
 * source of truth).
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpe.h"

/* ------------------------------------------------------------- samplers */

struct arxiv_sampler_params
arxiv_sampler_default_params(void)
{
	struct arxiv_sampler_params p;

	memset(&p, 0, sizeof(p));
	p.tpe = 1;
	p.n_startup = 10;
	p.n_ei_candidates = 24;
	p.prior_weight = 1.0;
	p.constant_liar = 1;
	p.multivariate = 1;
	p.seed = 42;
	return p;
}

static double
sample_random(const struct param *p, struct rng *r)
{
	double u = rng_unif(r), x;

	switch (p->kind) {
	case ARXIV_PARAM_CATEGORICAL:
		x = floor(u * (double)p->n_choices);
		return x >= (double)p->n_choices ? (double)p->n_choices - 1 : x;
	case ARXIV_PARAM_INT:
		x = floor(u * (floor((p->hi - p->lo) / p->step) + 1));
		return fmin(p->lo + x * p->step, p->hi);
	case ARXIV_PARAM_LOGUNIFORM:
		return fmin(fmax(exp(log(p->lo) + u * (log(p->hi) - log(p->lo))), p->lo), p->hi);
	default:
		return p->lo + u * (p->hi - p->lo);
	}
}

/* Ranking key of an observation (Optuna's (-step, value) pairs). */
struct obs {
	double k1, k2;
	size_t trial;
};

static int
cmp_obs(const void *a, const void *b)
{
	const struct obs *x = a, *y = b;

	if (x->k1 != y->k1)
		return x->k1 < y->k1 ? -1 : 1;
	if (x->k2 != y->k2 && !(isnan(x->k2) && isnan(y->k2))) {
		if (isnan(x->k2))
			return 1;
		if (isnan(y->k2))
			return -1;
		return x->k2 < y->k2 ? -1 : 1;
	}
	return x->trial < y->trial ? -1 : x->trial > y->trial;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Optuna 5's split (_split_trials): n counts the finished (complete and
 * pruned) trials; the best gamma(n) complete trials (then pruned ones by
 * (-last step, value)) are "below"; the rest and the running trials (the
 * constant liar) are "above"; each group in trial order. below[0..*nb) and
 * above in below[*nb..*nb+*na).
 */
static int
split(const struct arxiv_trial *trials, size_t n_trials, int liar, size_t *idx, size_t *nb,
    size_t *na, size_t *n_fin)
{
	struct obs *o;
	size_t i, n = 0, nrun = 0, n_below;

	if ((o = malloc((n_trials + 1) * sizeof(*o))) == NULL)
		return -1;
	for (i = 0; i < n_trials; i++) {
		const struct arxiv_trial *t = &trials[i];

		switch (t->state) {
		case ARXIV_TRIAL_COMPLETE:
			if (!isfinite(t->value))
				continue;
			o[n].k1 = -INFINITY;
			o[n].k2 = t->value;
			break;
		case ARXIV_TRIAL_PRUNED:
			if (t->n_steps > 0) {
				o[n].k1 = -(double)t->n_steps;
				o[n].k2 = isnan(t->steps[t->n_steps - 1]) ? INFINITY :
				    t->steps[t->n_steps - 1];
			} else {
				o[n].k1 = 1;
				o[n].k2 = 0;
			}
			break;
		default:
			continue;
		}
		o[n++].trial = i;
	}
	*n_fin = n;
	n_below = (size_t)ceil(0.1 * (double)n);
	if (n_below > 25)
		n_below = 25;
	qsort(o, n, sizeof(*o), cmp_obs);	/* complete (k1 = -inf) first, by value */
	for (i = 0; i < n; i++)
		idx[i] = o[i].trial;
	if (liar)
		for (i = 0; i < n_trials; i++)
			if (trials[i].state == ARXIV_TRIAL_RUNNING)
				idx[n + nrun++] = i;
	*nb = n_below;
	*na = n - n_below + nrun;
	qsort(idx, *nb, sizeof(size_t), cmp_size);
	qsort(idx + *nb, *na, sizeof(size_t), cmp_size);
	free(o);
	return 0;
}

/* l and g of every parameter from the history (after the start-up trials). */
struct lg {
	size_t d;
	struct parzen *l, *g;
	size_t n_fin;
};

static void
lg_free(struct lg *m)
{
	size_t j;

	if (m->l && m->g)
		for (j = 0; j < m->d; j++) {
			tpe_parzen_free(&m->l[j]);
			tpe_parzen_free(&m->g[j]);
		}
	free(m->l);
	free(m->g);
}

static int
lg_build(struct lg *m, const struct arxiv_space *s, const struct arxiv_sampler_params *sp,
    const struct arxiv_trial *trials, size_t n_trials)
{
	size_t *idx, nb, na, i, j, d = s->n;
	double *vb = NULL, *va = NULL;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	m->d = d;
	if ((idx = malloc((n_trials + 1) * sizeof(size_t))) == NULL)
		return -1;
	if (split(trials, n_trials, sp->constant_liar, idx, &nb, &na, &m->n_fin) < 0)
		goto out;
	/* the joint (multivariate) mode skips trials without every parameter */
	if (sp->multivariate) {
		size_t w = 0, nb0 = nb;

		for (i = 0; i < nb0 + na; i++) {
			int ok = 1;

			for (j = 0; j < d; j++)
				if (!isfinite(trials[idx[i]].x[j]))
					ok = 0;
			if (ok)
				idx[w++] = idx[i];
			else if (i < nb0)
				nb--;
		}
		na = w - nb;
	}
	if ((vb = malloc((nb + 1) * sizeof(double))) == NULL ||
	    (va = malloc((na + 1) * sizeof(double))) == NULL ||
	    (m->l = calloc(d, sizeof(*m->l))) == NULL || (m->g = calloc(d, sizeof(*m->g))) == NULL)
		goto out;
	for (j = 0; j < d; j++) {
		size_t cb = 0, ca = 0;

		for (i = 0; i < nb + na; i++) {
			double v = trials[idx[i]].x[j];

			if (!isfinite(v))
				continue;	/* not set in that trial (independent mode) */
			if (i < nb)
				vb[cb++] = v;
			else
				va[ca++] = v;
		}
		if (tpe_parzen_build(&m->l[j], &s->p[j], vb, cb, sp->prior_weight) < 0 ||
		    tpe_parzen_build(&m->g[j], &s->p[j], va, ca, sp->prior_weight) < 0)
			goto out;
	}
	rc = 0;
out:
	free(idx);
	free(vb);
	free(va);
	return rc;
}

/* log l(x) - log g(x): jointly, or the sum over the parameters (independent). */
static double
lg_score(const struct lg *m, int multivariate, const double *x, double *tmp, double *acc_l,
    double *acc_g)
{
	size_t i, j;
	double sc = 0;

	if (!multivariate) {
		for (j = 0; j < m->d; j++)
			sc += tpe_parzen_logpdf(&m->l[j], x[j], tmp) -
			    tpe_parzen_logpdf(&m->g[j], x[j], tmp);
		return sc;
	}
	for (i = 0; i < m->l[0].n; i++)
		acc_l[i] = log(m->l[0].w[i]);
	for (i = 0; i < m->g[0].n; i++)
		acc_g[i] = log(m->g[0].w[i]);
	for (j = 0; j < m->d; j++) {
		tpe_parzen_comp(&m->l[j], x[j], tmp);
		for (i = 0; i < m->l[j].n; i++)
			acc_l[i] += tmp[i];
		tpe_parzen_comp(&m->g[j], x[j], tmp);
		for (i = 0; i < m->g[j].n; i++)
			acc_g[i] += tmp[i];
	}
	return tpe_logsumexp(acc_l, m->l[0].n) - tpe_logsumexp(acc_g, m->g[0].n);
}

static size_t
lg_nmax(const struct lg *m)
{
	size_t j, n = 1;

	for (j = 0; j < m->d; j++) {
		if (m->l[j].n > n)
			n = m->l[j].n;
		if (m->g[j].n > n)
			n = m->g[j].n;
	}
	return n;
}

int
arxiv_sampler_logratio(const struct arxiv_space *s, const struct arxiv_sampler_params *sp,
    const struct arxiv_trial *trials, size_t n_trials, const double *x, double *out)
{
	struct lg m;
	double *tmp = NULL, *al = NULL, *ag = NULL;
	size_t n;
	int rc = -1;

	if (lg_build(&m, s, sp, trials, n_trials) < 0)
		goto out;
	n = lg_nmax(&m) + 1;
	if ((tmp = malloc(n * sizeof(double))) == NULL || (al = malloc(n * sizeof(double))) == NULL ||
	    (ag = malloc(n * sizeof(double))) == NULL)
		goto out;
	*out = lg_score(&m, sp->multivariate, x, tmp, al, ag);
	rc = 0;
out:
	lg_free(&m);
	free(tmp);
	free(al);
	free(ag);
	return rc;
}

int
arxiv_sampler_suggest(const struct arxiv_space *s, const struct arxiv_sampler_params *sp,
    const struct arxiv_trial *trials, size_t n_trials, uint64_t number, double *x)
{
	struct lg m;
	struct rng r;
	size_t i, j, k, d = s->n, n;
	double *tmp = NULL, *al = NULL, *ag = NULL, *cand = NULL, best = -INFINITY, sc;
	int rc = -1, ncand = sp->n_ei_candidates > 0 ? sp->n_ei_candidates : 24;

	memset(&m, 0, sizeof(m));
	if (sp->tpe && lg_build(&m, s, sp, trials, n_trials) < 0)
		goto out;
	if (!sp->tpe || m.n_fin < (size_t)sp->n_startup) {
		for (j = 0; j < d; j++) {
			rng_seed(&r, sp->seed, number, j);
			x[j] = sample_random(&s->p[j], &r);
		}
		rc = 0;
		goto out;
	}
	n = lg_nmax(&m) + 1;
	if ((tmp = malloc(n * sizeof(double))) == NULL || (al = malloc(n * sizeof(double))) == NULL ||
	    (ag = malloc(n * sizeof(double))) == NULL ||
	    (cand = malloc((size_t)ncand * (d + 1) * sizeof(double))) == NULL)
		goto out;
	if (!sp->multivariate) {
		/* each parameter on its own: 24 candidates from l_j, best log l_j - log g_j */
		for (j = 0; j < d; j++) {
			double bx = 0;

			best = -INFINITY;
			rng_seed(&r, sp->seed, number, j);
			for (k = 0; k < (size_t)ncand; k++) {
				double c = tpe_parzen_sample_k(&m.l[j],
				    tpe_pick(&r, m.l[j].w, m.l[j].n), &r);

				sc = tpe_parzen_logpdf(&m.l[j], c, tmp) -
				    tpe_parzen_logpdf(&m.g[j], c, tmp);
				if (k == 0 || sc > best) {
					best = sc;
					bx = c;
				}
			}
			x[j] = bx;
		}
		rc = 0;
		goto out;
	}
	/* joint: pick a kernel of l, draw each parameter from its component */
	rng_seed(&r, sp->seed, number, 0xffffffffULL);
	for (k = 0; k < (size_t)ncand; k++) {
		size_t kk = tpe_pick(&r, m.l[0].w, m.l[0].n);

		for (j = 0; j < d; j++)
			cand[k * d + j] = tpe_parzen_sample_k(&m.l[j], kk, &r);
	}
	for (k = 0, i = 0; k < (size_t)ncand; k++) {
		sc = lg_score(&m, 1, cand + k * d, tmp, al, ag);
		if (k == 0 || sc > best) {
			best = sc;
			i = k;
		}
	}
	for (j = 0; j < d; j++)
		x[j] = cand[i * d + j];
	rc = 0;
out:
	lg_free(&m);
	free(tmp);
	free(al);
	free(ag);
	free(cand);
	return rc;
}

/* ---------------------------------------------------------- median pruner */

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
arxiv_median_prune(const struct arxiv_trial *trials, size_t n_trials, const double *steps,
    int n_steps, int n_startup, int n_warmup)
{
	double *v, best, med;
	size_t i, n = 0, n_complete = 0;
	int step = n_steps, k;

	if (n_steps <= 0 || step <= n_warmup)
		return 0;
	for (i = 0; i < n_trials; i++)
		if (trials[i].state == ARXIV_TRIAL_COMPLETE)
			n_complete++;
	if (n_complete < (size_t)(n_startup > 0 ? n_startup : 0) || n_complete == 0)
		return 0;
	/* the trial's best intermediate value so far (Optuna: over steps) */
	best = NAN;
	for (k = 0; k < n_steps; k++)
		if (!isnan(steps[k]) && (isnan(best) || steps[k] < best))
			best = steps[k];
	if (isnan(best))
		return 1;	/* nothing but NaN */
	if ((v = malloc(n_complete * sizeof(double))) == NULL)
		return 0;
	for (i = 0; i < n_trials; i++)
		if (trials[i].state == ARXIV_TRIAL_COMPLETE && trials[i].n_steps >= step &&
		    !isnan(trials[i].steps[step - 1]))
			v[n++] = trials[i].steps[step - 1];
	if (n == 0) {		/* n_min_trials = 1 */
		free(v);
		return 0;
	}
	qsort(v, n, sizeof(double), cmp_dbl);
	med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
	free(v);
	return best > med;
}

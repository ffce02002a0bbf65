/*
 * tpe.c - samplers for hyperparameter search (arxiv-hpo) over a search space
 * (tpe_space.c): TPE, random, and the median pruner.
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

#define N_WEIGHT_FLAT 25

/* ------------------------------------------------------------------ rng */

struct rng {
	uint64_t s[4];
};

static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
rng_seed(struct rng *r, uint64_t seed, uint64_t number, uint64_t param)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL ^ splitmix(&number) ^ (param << 32 | param);
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(struct rng *r)	/* xoshiro256** */
{
	uint64_t res = rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;

	r->s[2] ^= r->s[0];
	r->s[3] ^= r->s[1];
	r->s[1] ^= r->s[2];
	r->s[0] ^= r->s[3];
	r->s[2] ^= t;
	r->s[3] = rotl(r->s[3], 45);
	return res;
}

/* uniform in (0, 1) */
static double
rng_unif(struct rng *r)
{
	return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* --------------------------------------------------------- normal maths */

static double
Phi(double z)
{
	return 0.5 * erfc(-z / M_SQRT2);
}

/* log(Phi(b) - Phi(a)), a < b, accurate in both tails */
static double
log_mass(double a, double b)
{
	double m;

	if (a > 0)		/* right tail: Q(a) - Q(b) */
		m = 0.5 * (erfc(a / M_SQRT2) - erfc(b / M_SQRT2));
	else
		m = Phi(b) - Phi(a);
	if (m <= 0) {
		/* both far in one tail: log phi at the nearer end minus the Mills-ratio term */
		double z = a > 0 ? a : -b;

		return -0.5 * z * z - log(z) - 0.5 * log(2 * M_PI);
	}
	return log(m);
}

/* Inverse of Phi (Acklam's rational approximation, one Halley step). */
static double
Phi_inv(double p)
{
	static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02,
	    -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01,
	    2.506628277459239e+00 };
	static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02,
	    -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01 };
	static const double c[] = { -7.784894002430293e-03, -3.223964580411365e-01,
	    -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00,
	    2.938163982698783e+00 };
	static const double d[] = { 7.784695709041462e-03, 3.224671290700398e-01,
	    2.445134137142996e+00, 3.754408661907416e+00 };
	double q, r, x, e, u;

	if (p <= 0)
		return -INFINITY;
	if (p >= 1)
		return INFINITY;
	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	} else if (p > 1 - 0.02425) {
		q = sqrt(-2 * log(1 - p));
		x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	} else {
		q = p - 0.5;
		r = q * q;
		x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
		    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
	}
	e = Phi(x) - p;
	u = e * sqrt(2 * M_PI) * exp(x * x / 2);
	return x - u / (1 + x * u / 2);
}

/* A draw from N(0,1) truncated to [a, b] by inversion (mirrored into the left
 * tail where that is more accurate). */
static double
trunc_std(struct rng *r, double a, double b)
{
	double pa, pb, z;
	int flip = 0;

	if (a > 0) {
		double t = a;

		a = -b;
		b = -t;
		flip = 1;
	}
	pa = Phi(a);
	pb = Phi(b);
	if (pb - pa <= 0)
		z = b;		/* the whole mass at the near end, numerically */
	else
		z = Phi_inv(pa + (pb - pa) * rng_unif(r));
	if (z < a)
		z = a;
	if (z > b)
		z = b;
	return flip ? -z : z;
}

/* ------------------------------------------------------ Parzen estimator */

/*
 * A one-dimensional Parzen estimator in the transformed space (log for log
 * parameters; the category index for categoricals). Kernel k has weight w[k],
 * and either (mu, sigma) truncated to [lo, hi] or, for categoricals, a row of
 * n_choices probabilities.
 */
struct parzen {
	size_t n;		/* kernels (observations + prior) */
	double *w, *mu, *sigma;
	double *cat;		/* n x n_choices */
	size_t n_choices;
	double lo, hi, step;	/* transformed, widened by step / 2 for ints */
	double *lz;		/* per kernel: log w - log(mass in [lo, hi]) (- log sigma sqrt(2 pi)) */
	int kind;
	double plo, phi;	/* the parameter's own range (for clipping ints) */
};

/* Optuna's default_weights(n): 1 for the newest 25, a ramp 1/n..1 for older. */
static void
default_weights(size_t n, double *w)
{
	size_t i, ramp;

	if (n < N_WEIGHT_FLAT) {
		for (i = 0; i < n; i++)
			w[i] = 1;
		return;
	}
	ramp = n - N_WEIGHT_FLAT;
	for (i = 0; i < ramp; i++)	/* np.linspace(1 / n, 1.0, num=ramp) */
		w[i] = ramp == 1 ? 1.0 / (double)n :
		    1.0 / (double)n + (1.0 - 1.0 / (double)n) * (double)i / (double)(ramp - 1);
	for (; i < n; i++)
		w[i] = 1;
}

struct mu_idx {
	double mu;
	size_t i;
};

static int
cmp_mu(const void *a, const void *b)
{
	const struct mu_idx *x = a, *y = b;

	if (x->mu < y->mu)
		return -1;
	if (x->mu > y->mu)
		return 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static void
parzen_free(struct parzen *pz)
{
	free(pz->w);
	free(pz->mu);
	free(pz->sigma);
	free(pz->cat);
	free(pz->lz);
}

/* obs: n_obs values of the parameter (internal repr), in trial order. */
static int
parzen_build(struct parzen *pz, const struct param *p, const double *obs, size_t n_obs,
    double prior_weight)
{
	size_t n = n_obs + 1, i, j;
	double sum = 0;
	struct mu_idx *m = NULL;

	memset(pz, 0, sizeof(*pz));
	pz->n = n;
	pz->kind = p->kind;
	if ((pz->w = calloc(n, sizeof(double))) == NULL)
		return -1;
	default_weights(n_obs, pz->w);
	pz->w[n_obs] = n_obs ? prior_weight : 1.0;
	for (i = 0; i < n; i++)
		sum += pz->w[i];
	for (i = 0; i < n; i++)
		pz->w[i] /= sum;

	if (p->kind == ARXIV_PARAM_CATEGORICAL) {
		size_t c = p->n_choices;

		pz->n_choices = c;
		if ((pz->cat = malloc(n * c * sizeof(double))) == NULL)
			return -1;
		if (n_obs == 0) {
			for (j = 0; j < c; j++)
				pz->cat[j] = 1.0 / (double)c;
			return 0;
		}
		for (i = 0; i < n; i++) {
			double rs = 0;

			for (j = 0; j < c; j++)
				pz->cat[i * c + j] = prior_weight / (double)n;
			if (i < n_obs) {
				j = (size_t)obs[i];
				if (j < c)
					pz->cat[i * c + j] += 1;
			}
			for (j = 0; j < c; j++)
				rs += pz->cat[i * c + j];
			for (j = 0; j < c; j++)
				pz->cat[i * c + j] /= rs > 0 ? rs : 1;
		}
		return 0;
	}

	pz->plo = p->lo;
	pz->phi = p->hi;
	pz->lo = p->lo;
	pz->hi = p->hi;
	pz->step = p->kind == ARXIV_PARAM_INT ? p->step : 0;
	if (pz->step > 0) {
		pz->lo -= pz->step / 2;
		pz->hi += pz->step / 2;
	}
	if (p->kind == ARXIV_PARAM_LOGUNIFORM) {
		pz->lo = log(pz->lo);
		pz->hi = log(pz->hi);
	}
	if ((pz->mu = malloc(n * sizeof(double))) == NULL ||
	    (pz->sigma = malloc(n * sizeof(double))) == NULL ||
	    (m = malloc(n * sizeof(*m))) == NULL) {
		free(m);
		return -1;
	}
	for (i = 0; i < n_obs; i++)
		pz->mu[i] = p->kind == ARXIV_PARAM_LOGUNIFORM ? log(obs[i]) : obs[i];
	pz->mu[n_obs] = 0.5 * (pz->lo + pz->hi);
	{
		double range = pz->hi - pz->lo;
		double minsigma = range / fmin(100.0, 1.0 + (double)n);

		/* the observations' sorted means (Optuna 5: without the prior's), the
		 * range ends as sentinels */
		for (i = 0; i < n_obs; i++) {
			m[i].mu = pz->mu[i];
			m[i].i = i;
		}
		qsort(m, n_obs, sizeof(*m), cmp_mu);
		for (i = 0; i < n_obs; i++) {
			double left = m[i].mu - (i == 0 ? pz->lo : m[i - 1].mu);
			double right = (i + 1 == n_obs ? pz->hi : m[i + 1].mu) - m[i].mu;
			double s = fmax(left, right);

			if (n_obs >= 2) {	/* consider_endpoints=False */
				if (i == 0)
					s = right;
				else if (i + 1 == n_obs)
					s = left;
			}
			pz->sigma[m[i].i] = fmin(fmax(s, minsigma), range);
		}
		pz->sigma[n_obs] = range;	/* the prior */
	}
	free(m);
	/* the per-kernel constants of the log density */
	if ((pz->lz = malloc(n * sizeof(double))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		pz->lz[i] = -log_mass((pz->lo - pz->mu[i]) / pz->sigma[i],
		    (pz->hi - pz->mu[i]) / pz->sigma[i]);
		if (pz->step <= 0)
			pz->lz[i] -= log(pz->sigma[i]) + 0.5 * log(2 * M_PI);
	}
	return 0;
}

/* Round a (transformed) value onto the parameter's grid and range. */
static double
to_param(const struct parzen *pz, double x)
{
	if (pz->kind == ARXIV_PARAM_LOGUNIFORM)
		x = exp(x);
	if (pz->step > 0)
		x = round((x - pz->plo) / pz->step) * pz->step + pz->plo;
	if (x < pz->plo)
		x = pz->plo;
	if (x > pz->phi)
		x = pz->phi;
	return x;
}

static size_t
pick(struct rng *r, const double *w, size_t n)
{
	double u = rng_unif(r), c = 0;
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		c += w[i];
		if (u < c)
			return i;
	}
	return n - 1;
}

static double
logsumexp(const double *v, size_t n)
{
	double mx = -INFINITY, s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] > mx)
			mx = v[i];
	if (mx == -INFINITY)
		return mx;
	for (i = 0; i < n; i++)
		s += exp(v[i] - mx);
	return mx + log(s);
}

/* tmp[k] = log of kernel k's density (mass, for ints and categories) at x,
 * without its mixture weight. */
static void
parzen_comp(const struct parzen *pz, double x, double *tmp)
{
	size_t k;

	if (pz->kind == ARXIV_PARAM_CATEGORICAL) {
		for (k = 0; k < pz->n; k++)
			tmp[k] = log(pz->cat[k * pz->n_choices + (size_t)x]);
		return;
	}
	if (pz->step > 0) {
		for (k = 0; k < pz->n; k++)
			tmp[k] = pz->lz[k] + log_mass((x - pz->step / 2 - pz->mu[k]) / pz->sigma[k],
			    (x + pz->step / 2 - pz->mu[k]) / pz->sigma[k]);
		return;
	}
	if (pz->kind == ARXIV_PARAM_LOGUNIFORM)
		x = log(x);
	for (k = 0; k < pz->n; k++) {
		double z = (x - pz->mu[k]) / pz->sigma[k];

		tmp[k] = pz->lz[k] - 0.5 * z * z;
	}
}

/* log density of the mixture at x */
static double
parzen_logpdf(const struct parzen *pz, double x, double *tmp)
{
	size_t k;

	parzen_comp(pz, x, tmp);
	for (k = 0; k < pz->n; k++)
		tmp[k] += log(pz->w[k]);
	return logsumexp(tmp, pz->n);
}

/* a draw from kernel k */
static double
parzen_sample_k(const struct parzen *pz, size_t k, struct rng *r)
{
	double z;

	if (pz->kind == ARXIV_PARAM_CATEGORICAL)
		return (double)pick(r, pz->cat + k * pz->n_choices, pz->n_choices);
	z = trunc_std(r, (pz->lo - pz->mu[k]) / pz->sigma[k], (pz->hi - pz->mu[k]) / pz->sigma[k]);
	return to_param(pz, pz->mu[k] + pz->sigma[k] * z);
}

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
			parzen_free(&m->l[j]);
			parzen_free(&m->g[j]);
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
		if (parzen_build(&m->l[j], &s->p[j], vb, cb, sp->prior_weight) < 0 ||
		    parzen_build(&m->g[j], &s->p[j], va, ca, sp->prior_weight) < 0)
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
			sc += parzen_logpdf(&m->l[j], x[j], tmp) - parzen_logpdf(&m->g[j], x[j], tmp);
		return sc;
	}
	for (i = 0; i < m->l[0].n; i++)
		acc_l[i] = log(m->l[0].w[i]);
	for (i = 0; i < m->g[0].n; i++)
		acc_g[i] = log(m->g[0].w[i]);
	for (j = 0; j < m->d; j++) {
		parzen_comp(&m->l[j], x[j], tmp);
		for (i = 0; i < m->l[j].n; i++)
			acc_l[i] += tmp[i];
		parzen_comp(&m->g[j], x[j], tmp);
		for (i = 0; i < m->g[j].n; i++)
			acc_g[i] += tmp[i];
	}
	return logsumexp(acc_l, m->l[0].n) - logsumexp(acc_g, m->g[0].n);
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
				double c = parzen_sample_k(&m.l[j], pick(&r, m.l[j].w, m.l[j].n), &r);

				sc = parzen_logpdf(&m.l[j], c, tmp) - parzen_logpdf(&m.g[j], c, tmp);
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
		size_t kk = pick(&r, m.l[0].w, m.l[0].n);

		for (j = 0; j < d; j++)
			cand[k * d + j] = parzen_sample_k(&m.l[j], kk, &r);
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

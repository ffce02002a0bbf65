/*
 * tpe_parzen.c - the TPE sampler's Parzen estimator (see tpe.c for the
 * sampler and what it follows): the truncated normal's maths, building an
 * estimator from a group of observations (weights, sorted means, the "magic
 * clip" of sigmas, categorical rows), its log density and its draws.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tpe.h"

#define N_WEIGHT_FLAT 25

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

void
tpe_parzen_free(struct parzen *pz)
{
	free(pz->w);
	free(pz->mu);
	free(pz->sigma);
	free(pz->cat);
	free(pz->lz);
}

/* obs: n_obs values of the parameter (internal repr), in trial order. */
int
tpe_parzen_build(struct parzen *pz, const struct param *p, const double *obs, size_t n_obs,
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

size_t
tpe_pick(struct rng *r, const double *w, size_t n)
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

double
tpe_logsumexp(const double *v, size_t n)
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
void
tpe_parzen_comp(const struct parzen *pz, double x, double *tmp)
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
double
tpe_parzen_logpdf(const struct parzen *pz, double x, double *tmp)
{
	size_t k;

	tpe_parzen_comp(pz, x, tmp);
	for (k = 0; k < pz->n; k++)
		tmp[k] += log(pz->w[k]);
	return tpe_logsumexp(tmp, pz->n);
}

/* a draw from kernel k */
double
tpe_parzen_sample_k(const struct parzen *pz, size_t k, struct rng *r)
{
	double z;

	if (pz->kind == ARXIV_PARAM_CATEGORICAL)
		return (double)tpe_pick(r, pz->cat + k * pz->n_choices, pz->n_choices);
	z = trunc_std(r, (pz->lo - pz->mu[k]) / pz->sigma[k], (pz->hi - pz->mu[k]) / pz->sigma[k]);
	return to_param(pz, pz->mu[k] + pz->sigma[k] * z);
}

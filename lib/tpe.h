/*
 * tpe.h - what the search space (tpe_space.c: the space file, its parameters
 * and their values) shares with the samplers and the pruner (tpe.c), and
 * those with the Parzen estimator (tpe_parzen.c) and its random stream.
 * Not installed.
 */
#ifndef ARXIV_TPE_H
#define ARXIV_TPE_H

#include <stddef.h>
#include <stdint.h>

#include "arxiv.h"

#define MAX_NAME 64

struct param {
	char name[MAX_NAME];
	int kind;
	double lo, hi, step;	/* step: ints (>= 1) */
	char **choices;
	size_t n_choices;
	long line;
};

struct arxiv_space {
	struct param *p;
	size_t n;
};

/* ------------------------------------------------------------------ rng */

/* A proposal's random stream (tpe.c, tpe_parzen.c). */
struct rng {
	uint64_t s[4];
};

static inline uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void
rng_seed(struct rng *r, uint64_t seed, uint64_t number, uint64_t param)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL ^ splitmix(&number) ^ (param << 32 | param);
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t
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
static inline double
rng_unif(struct rng *r)
{
	return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

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

/* tpe_parzen.c: the Parzen estimator */
/* obs: n_obs values of the parameter (internal repr), in trial order. */
int tpe_parzen_build(struct parzen *pz, const struct param *p, const double *obs, size_t n_obs,
    double prior_weight);
void tpe_parzen_free(struct parzen *pz);
/* tmp[k] = log of kernel k's density (mass, for ints and categories) at x,
 * without its mixture weight. */
void tpe_parzen_comp(const struct parzen *pz, double x, double *tmp);
/* log density of the mixture at x */
double tpe_parzen_logpdf(const struct parzen *pz, double x, double *tmp);
/* a draw from kernel k */
double tpe_parzen_sample_k(const struct parzen *pz, size_t k, struct rng *r);
/* an index drawn with the weights w[0..n) (summing to 1) */
size_t tpe_pick(struct rng *r, const double *w, size_t n);
/* log(sum(exp(v[i]))), -INFINITY for none */
double tpe_logsumexp(const double *v, size_t n);

#endif

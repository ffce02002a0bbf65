/*
 * hpo_bench.c - the library's samplers (lib/tpe.c) on the synthetic functions of
 * Optuna's benchmarks, for tests/bench/hpo.sh (side by side with hpo_optuna.py):
 *   hpo_bench tpe|random branin|hartmann6|mixed SEED N
 * prints "best@20 best@50 best@100 ... sampler_ms_per_trial" (best value after
 * each budget in 20 50 100 that is <= N; mean sampler time per trial).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arxiv.h"

static double
branin(const double *x)
{
	double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);

	return pow(x[1] - b * x[0] * x[0] + c * x[0] - 6, 2) + 10 * (1 - t) * cos(x[0]) + 10;
}

static double
hartmann6(const double *x)
{
	static const double A[4][6] = { { 10, 3, 17, 3.5, 1.7, 8 }, { 0.05, 10, 17, 0.1, 8, 14 },
	    { 3, 3.5, 1.7, 10, 17, 8 }, { 17, 8, 0.05, 10, 0.1, 14 } };
	static const double P[4][6] = { { 1312, 1696, 5569, 124, 8283, 5886 },
	    { 2329, 4135, 8307, 3736, 1004, 9991 }, { 2348, 1451, 3522, 2883, 3047, 6650 },
	    { 4047, 8828, 8732, 5743, 1091, 381 } };
	static const double al[4] = { 1.0, 1.2, 3.0, 3.2 };
	double s = 0;
	int i, j;

	for (i = 0; i < 4; i++) {
		double e = 0;

		for (j = 0; j < 6; j++)
			e += A[i][j] * pow(x[j] - P[i][j] * 1e-4, 2);
		s += al[i] * exp(-e);
	}
	return -s;
}

/* x float [-5, 5], n int [-5, 5], c categorical {a, b, c}: min 0 at (0, 2, b) */
static double
mixed(const double *x)
{
	static const double cat[] = { 1.0, 0.0, 2.0 };

	return x[0] * x[0] + (x[1] - 2) * (x[1] - 2) + cat[(int)x[2]];
}

int
main(int argc, char *argv[])
{
	struct arxiv_sampler_params sp = arxiv_sampler_default_params();
	struct arxiv_error e;
	struct arxiv_space *s;
	struct arxiv_trial *t;
	double (*f)(const double *);
	const char *text;
	double *xs, best = INFINITY, ns = 0;
	size_t n, i, d;
	struct timespec a, b;

	if (argc != 5) {
		fprintf(stderr, "usage: hpo_bench tpe|random branin|hartmann6|mixed seed n\n");
		return 2;
	}
	sp.tpe = strcmp(argv[1], "tpe") == 0;
	sp.seed = strtoull(argv[3], NULL, 10);
	n = strtoul(argv[4], NULL, 10);
	if (strcmp(argv[2], "branin") == 0) {
		text = "x uniform -5 10\ny uniform 0 15\n";
		f = branin;
	} else if (strcmp(argv[2], "hartmann6") == 0) {
		text = "x0 uniform 0 1\nx1 uniform 0 1\nx2 uniform 0 1\nx3 uniform 0 1\n"
		    "x4 uniform 0 1\nx5 uniform 0 1\n";
		f = hartmann6;
	} else {
		text = "x uniform -5 5\nn int -5 5\nc categorical a b c\n";
		f = mixed;
	}
	if ((s = arxiv_space_parse(text, argv[2], &e)) == NULL)
		return 1;
	d = arxiv_space_size(s);
	t = calloc(n, sizeof(*t));
	xs = calloc(n * d, sizeof(double));
	for (i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		arxiv_sampler_suggest(s, &sp, t, i, i, xs + i * d);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns += (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
		t[i].x = xs + i * d;
		t[i].state = ARXIV_TRIAL_COMPLETE;
		t[i].value = f(t[i].x);
		if (t[i].value < best)
			best = t[i].value;
		if (i + 1 == 20 || i + 1 == 50 || i + 1 == 100)
			printf("%.6g ", best);
	}
	printf("%.4f\n", ns / 1e6 / (double)n);
	free(t);
	free(xs);
	arxiv_space_free(s);
	return 0;
}

/*
 * test_tpe.c - search space parsing, the random and TPE samplers on known
 * functions (TPE must beat random search at an equal budget), reproducibility
 * from the history alone, the constant liar and the median pruner.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "tap.h"

typedef double (*objective)(const double *x);

static double
branin(const double *x)
{
	double a = 1, b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, r = 6, s = 10,
	    t = 1 / (8 * M_PI);

	return a * pow(x[1] - b * x[0] * x[0] + c * x[0] - r, 2) + s * (1 - t) * cos(x[0]) + s;
}

static double
quad(const double *x)
{
	return x[0] * x[0];
}

/* a quadratic in log space, an integer and a categorical */
static double
mixed(const double *x)
{
	double l = log10(x[0]) + 2.5;	/* min at 10^-2.5 */
	double k = x[1] - 7;		/* min at 7 */
	static const double cat[] = { 3, 0, 1.5 };

	return l * l + 0.1 * k * k + cat[(int)x[2]];
}

/* best value after n trials of a sampler on f */
static double
run(const struct arxiv_space *s, objective f, int tpe, uint64_t seed, size_t n)
{
	struct arxiv_sampler_params sp = arxiv_sampler_default_params();
	struct arxiv_trial *t = calloc(n, sizeof(*t));
	double *xs = calloc(n * arxiv_space_size(s), sizeof(double)), best = INFINITY;
	size_t i, d = arxiv_space_size(s);

	sp.tpe = tpe;
	sp.seed = seed;
	for (i = 0; i < n; i++) {
		arxiv_sampler_suggest(s, &sp, t, i, i, xs + i * d);
		t[i].x = xs + i * d;
		t[i].state = ARXIV_TRIAL_COMPLETE;
		t[i].value = f(t[i].x);
		if (t[i].value < best)
			best = t[i].value;
	}
	free(t);
	free(xs);
	return best;
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median_best(const struct arxiv_space *s, objective f, int tpe, size_t n, int seeds)
{
	double v[32];
	int i;

	for (i = 0; i < seeds; i++)
		v[i] = run(s, f, tpe, (uint64_t)i + 1, n);
	qsort(v, (size_t)seeds, sizeof(double), cmpd);
	return seeds % 2 ? v[seeds / 2] : 0.5 * (v[seeds / 2 - 1] + v[seeds / 2]);
}

static void
test_parse(void)
{
	struct arxiv_error e;
	struct arxiv_space *s;
	char buf[64];
	double lo, hi, st, v;

	s = arxiv_space_parse("# comment\n\nlr loguniform 1e-3 1  # trailing\n"
	    "ngrams int 1 4\nbuckets int 1000 8000 2000\nloss categorical hinge softmax\n"
	    "l2 uniform 0 1e-5\n", "sp", &e);
	CHECK(s != NULL && arxiv_space_size(s) == 5, "parses 5 parameters");
	if (s == NULL)
		return;
	CHECK_STR(arxiv_space_name(s, 2), "buckets", "name");
	CHECK(arxiv_space_kind(s, 0) == ARXIV_PARAM_LOGUNIFORM && arxiv_space_kind(s, 3) ==
	    ARXIV_PARAM_CATEGORICAL, "kinds");
	CHECK(arxiv_space_line(s, 0) == 3, "line numbers");
	arxiv_space_bounds(s, 2, &lo, &hi, &st);
	CHECK(lo == 1000 && hi == 7000 && st == 2000, "int high moved onto the step grid");
	CHECK(arxiv_space_format(s, 3, 1, buf, sizeof(buf)) == 0 && strcmp(buf, "softmax") == 0,
	    "categorical format");
	CHECK(arxiv_space_format(s, 1, 3, buf, sizeof(buf)) == 0 && strcmp(buf, "3") == 0,
	    "int format");
	CHECK(arxiv_space_parse_value(s, 3, "hinge", &v) == 0 && v == 0, "parse a choice");
	CHECK(arxiv_space_parse_value(s, 0, "7", &v) < 0, "out of range refused");
	arxiv_space_free(s);

#define BAD(txt, msg, ln) do { \
	s = arxiv_space_parse(txt, "f", &e); \
	CHECK(s == NULL, "refused: %s", msg); \
	CHECK_STR(e.text, msg, "message"); \
	CHECK(e.line == ln, "line %ld", e.line); \
	arxiv_space_free(s); \
} while (0)
	BAD("", "empty search space (no parameter lines)", 0);
	BAD("# only\n\n", "empty search space (no parameter lines)", 0);
	BAD("a uniform 1 1\n", "'a': lo must be below hi (1 >= 1)", 1);
	BAD("a uniform 0 1\nb uniform 2 1\n", "'b': lo must be below hi (2 >= 1)", 2);
	BAD("a loguniform 0 1\n", "'a': loguniform needs lo > 0", 1);
	BAD("a normal 0 1\n", "'a': unknown kind 'normal' (uniform, loguniform, int or categorical)", 1);
	BAD("a\n", "'a': missing kind (uniform, loguniform, int or categorical)", 1);
	BAD("a uniform 0\n", "'a': uniform takes lo hi", 1);
	BAD("a int 0 x\n", "'a': 'x' is not a number", 1);
	BAD("a int 0 2.5\n", "'a': '2.5' is not an integer", 1);
	BAD("a categorical\n", "'a': categorical needs at least one choice", 1);
	BAD("a categorical x x\n", "'a': choice 'x' given twice", 1);
	BAD("a uniform 0 1\na int 0 3\n", "'a': defined twice (line 1)", 2);
	BAD("a int 0 3 0\n", "'a': step must be >= 1", 1);
	BAD("a uniform 0 1 2\n", "'a': uniform takes lo hi", 1);
}

static void
test_samplers(void)
{
	struct arxiv_error e;
	struct arxiv_space *br = arxiv_space_parse("x uniform -5 10\ny uniform 0 15\n", "b", &e);
	struct arxiv_space *mx = arxiv_space_parse("lr loguniform 1e-5 1\nk int 0 20 1\n"
	    "c categorical a b c\n", "m", &e);
	struct arxiv_space *q = arxiv_space_parse("x uniform -10 10\n", "q", &e);
	double tb, rb, tm, rm, tq, rq;

	tb = median_best(br, branin, 1, 60, 9);
	rb = median_best(br, branin, 0, 60, 9);
	CHECK(tb < rb, "Branin, 60 trials, median of 9 seeds: TPE %.4f < random %.4f", tb, rb);
	CHECK(tb < 0.9, "Branin: TPE within 0.5 of the minimum 0.3979 (%.4f)", tb);
	tm = median_best(mx, mixed, 1, 60, 9);
	rm = median_best(mx, mixed, 0, 60, 9);
	CHECK(tm < rm, "mixed log/int/categorical: TPE %.4f < random %.4f", tm, rm);
	tq = median_best(q, quad, 1, 50, 9);
	rq = median_best(q, quad, 0, 50, 9);
	CHECK(tq < rq, "quadratic, 50 trials, median of 9 seeds: TPE %.5f < random %.5f", tq, rq);

	/* values are on the grid and in range */
	{
		struct arxiv_sampler_params sp = arxiv_sampler_default_params();
		struct arxiv_trial t[40];
		double xs[40 * 3];
		int i, ok = 1;

		for (i = 0; i < 40; i++) {
			arxiv_sampler_suggest(mx, &sp, t, (size_t)i, (uint64_t)i, xs + 3 * i);
			t[i].x = xs + 3 * i;
			t[i].state = i % 7 == 3 ? ARXIV_TRIAL_FAILED : ARXIV_TRIAL_COMPLETE;
			t[i].value = mixed(t[i].x);
			if (!(xs[3 * i] >= 1e-5 && xs[3 * i] <= 1) || xs[3 * i + 1] != floor(xs[3 * i + 1]) ||
			    xs[3 * i + 1] < 0 || xs[3 * i + 1] > 20 || (xs[3 * i + 2] != 0 &&
			    xs[3 * i + 2] != 1 && xs[3 * i + 2] != 2))
				ok = 0;
		}
		CHECK(ok, "40 proposals (10 random, 30 TPE): in range, ints whole, choices valid");
	}

	/* reproducible from (seed, number, history); the liar moves proposals */
	{
		struct arxiv_sampler_params sp = arxiv_sampler_default_params();
		struct arxiv_trial t[31];
		double xs[31 * 2], a[2], b[2], c[2], d[2];
		int i;

		sp.seed = 3;
		for (i = 0; i < 30; i++) {
			arxiv_sampler_suggest(br, &sp, t, (size_t)i, (uint64_t)i, xs + 2 * i);
			t[i].x = xs + 2 * i;
			t[i].state = ARXIV_TRIAL_COMPLETE;
			t[i].value = branin(t[i].x);
		}
		arxiv_sampler_suggest(br, &sp, t, 30, 30, a);
		arxiv_sampler_suggest(br, &sp, t, 30, 30, b);
		CHECK(a[0] == b[0] && a[1] == b[1], "same seed + history: same point");
		sp.seed = 4;
		arxiv_sampler_suggest(br, &sp, t, 30, 30, c);
		CHECK(c[0] != a[0], "another seed: another point");
		sp.seed = 3;
		t[30].x = a;
		t[30].state = ARXIV_TRIAL_RUNNING;
		arxiv_sampler_suggest(br, &sp, t, 31, 31, c);
		sp.constant_liar = 0;
		arxiv_sampler_suggest(br, &sp, t, 31, 31, d);
		CHECK(c[0] != d[0] || c[1] != d[1], "constant liar: a running trial changes the "
		    "proposal (%g,%g vs %g,%g)", c[0], c[1], d[0], d[1]);
		sp.constant_liar = 1;
		sp.tpe = 1;
		/* a second worker, with the first's point running, proposes a different one */
		CHECK(c[0] != a[0] || c[1] != a[1], "parallel worker gets a different point");
	}
	arxiv_space_free(br);
	arxiv_space_free(mx);
	arxiv_space_free(q);
}

static void
test_pruner(void)
{
	double c[5][3] = { { 1, .8, .6 }, { 1.2, .9, .7 }, { .9, .7, .5 }, { 1.1, 1, .9 },
	    { 1, .9, .8 } };
	struct arxiv_trial t[5];
	double good[2] = { .9, .8 }, bad[2] = { 1.3, 1.2 };
	int i;

	for (i = 0; i < 5; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].state = ARXIV_TRIAL_COMPLETE;
		t[i].steps = c[i];
		t[i].n_steps = 3;
	}
	CHECK(arxiv_median_prune(t, 5, bad, 2, 5, 0) == 1, "worse than the median at step 2: prune");
	CHECK(arxiv_median_prune(t, 5, good, 2, 5, 0) == 0, "better than the median: go on");
	CHECK(arxiv_median_prune(t, 5, bad, 1, 5, 0) == 1, "step 1: 1.3 > median 1.0");
	CHECK(arxiv_median_prune(t, 5, bad, 2, 5, 2) == 0, "within the warm-up steps: go on");
	CHECK(arxiv_median_prune(t, 4, bad, 2, 5, 0) == 0, "fewer than n_startup complete: go on");
	t[4].state = ARXIV_TRIAL_PRUNED;
	CHECK(arxiv_median_prune(t, 5, bad, 2, 4, 0) == 1, "pruned trials are not counted");
	{
		double best_early[2] = { 0.5, 1.5 };	/* best so far 0.5 < median */

		CHECK(arxiv_median_prune(t, 5, best_early, 2, 4, 0) == 0,
		    "the trial's best value so far is compared (Optuna)");
	}
}

int
main(void)
{
	test_parse();
	test_samplers();
	test_pruner();
	return tap_done();
}

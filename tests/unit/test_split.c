/* test_split.c - arxiv_split_of / arxiv_split_u: pinned values, determinism, ratios. */
#include <stdlib.h>

#include "arxiv.h"
#include "tap.h"

#define N 10000

static char ids[N][24];

static void
make_ids(void)
{
	int i;

	/* new-style ids of 2015..2019 and old-style ones, as in the real data */
	for (i = 0; i < N; i++) {
		if (i % 4 == 3)
			snprintf(ids[i], sizeof(ids[i]), "hep-th/%02d%02d%03d", 92 + i % 8,
			    1 + i % 12, i % 1000);
		else
			snprintf(ids[i], sizeof(ids[i]), "%02d%02d.%05d", 15 + i % 5, 1 + i % 12, i);
	}
}

static void
count(const double *r, uint64_t seed, size_t c[3])
{
	int i;

	c[0] = c[1] = c[2] = 0;
	for (i = 0; i < N; i++)
		c[arxiv_split_of(ids[i], strlen(ids[i]), seed, r)]++;
}

static void
test_pinned(void)
{
	/*
	 * A split must never change between versions: these values pin the hash
	 * (FNV-1a 64 with the seed folded in, MurmurHash3 finaliser, top 53 bits).
	 */
	CHECK_NEAR(arxiv_split_u("0704.0001", 9, 42), 0x1.148ed4f8f4bc8p-2 /* 0.270076... */, 0,
	    "arxiv_split_u(0704.0001, 42) pinned");
	CHECK_NEAR(arxiv_split_u("math/9801057", 12, 0), 0x1.7f213a7e32p-10, 0,
	    "arxiv_split_u(math/9801057, 0) pinned");
	CHECK(arxiv_split_of("0704.0001", 9, 42, NULL) == 0,
	    "arxiv_split_of(0704.0001, 42) pinned");
}

static void
test_determinism(void)
{
	double r[3] = { 0.8, 0.1, 0.1 }, u, lo = 1, hi = 0;
	int i, same = 1, diff = 0, inrange = 1;
	char copy[24];

	for (i = 0; i < N; i++) {
		/* the same bytes elsewhere in memory give the same answer */
		memcpy(copy, ids[i], sizeof(copy));
		if (arxiv_split_of(ids[i], strlen(ids[i]), 42, r) !=
		    arxiv_split_of(copy, strlen(copy), 42, r))
			same = 0;
		if (arxiv_split_of(ids[i], strlen(ids[i]), 42, r) !=
		    arxiv_split_of(ids[i], strlen(ids[i]), 43, r))
			diff++;
		u = arxiv_split_u(ids[i], strlen(ids[i]), 7);
		if (!(u >= 0 && u < 1))
			inrange = 0;
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
	}
	CHECK(same, "same id and seed -> same split");
	CHECK(inrange && lo < 0.001 && hi > 0.999, "u in [0,1) and spread (%g..%g)", lo, hi);
	/* two independent 80/10/10 draws differ with probability 0.34 */
	CHECK(diff > N * 0.30 && diff < N * 0.38, "another seed moves ~34%% of ids (%d)", diff);
	CHECK(arxiv_split_of("1234.5678", 9, 1, r) == arxiv_split_of("1234.5678xyz", 9, 1, r),
	    "only n bytes of the id count");
}

static void
test_ratios(void)
{
	static const double cases[][3] = {
		{ 0.8, 0.1, 0.1 }, { 0.7, 0.15, 0.15 }, { 0.5, 0.5, 0 }, { 0.34, 0.33, 0.33 },
		{ 1, 0, 0 }, { 0, 0, 1 }, { 0, 1, 0 },
	};
	double r[3];
	size_t c[3], i, s;
	uint64_t seed;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (seed = 0; seed < 3; seed++) {
			int ok = 1;

			count(cases[i], seed * 1000003, c);
			for (s = 0; s < 3; s++)
				if (cases[i][s] == 0 ? c[s] != 0 :
				    ((double)c[s] / N - cases[i][s] > 0.015 ||
				    cases[i][s] - (double)c[s] / N > 0.015))
					ok = 0;
			CHECK(ok, "ratios %.2f/%.2f/%.2f seed %llu: %zu/%zu/%zu of %d", cases[i][0],
			    cases[i][1], cases[i][2], (unsigned long long)seed * 1000003, c[0], c[1],
			    c[2], N);
		}
	/* defaults, and ratios are divided by their sum */
	count(NULL, 5, c);
	r[0] = 8, r[1] = 1, r[2] = 1;
	{
		size_t c2[3];
		count(r, 5, c2);
		CHECK(c[0] == c2[0] && c[1] == c2[1] && c[2] == c2[2],
		    "NULL ratios = 0.8/0.1/0.1 = 8/1/1 (%zu/%zu/%zu)", c[0], c[1], c[2]);
	}
	/* the splits are nested: a bigger train share only takes ids from val/test */
	{
		double a[3] = { 0.8, 0.1, 0.1 }, b[3] = { 0.9, 0.05, 0.05 };
		int nested = 1, k;

		for (k = 0; k < N; k++)
			if (arxiv_split_of(ids[k], strlen(ids[k]), 9, a) == 0 &&
			    arxiv_split_of(ids[k], strlen(ids[k]), 9, b) != 0)
				nested = 0;
		CHECK(nested, "train at 0.8 is a subset of train at 0.9");
	}
}

int
main(void)
{
	make_ids();
	test_pinned();
	test_determinism();
	test_ratios();
	return tap_done();
}

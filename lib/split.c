/*
 * split.c - train/val/test assignment by a seeded hash of the arXiv id, so a
 * split is reproducible, streamable and independent of the input order.
 */
#include "arxiv.h"
#include "internal.h"

/* FNV-1a's high bits alone mix poorly: finalised by MurmurHash3's fmix64. */
double
arxiv_split_u(const char *id, size_t n, uint64_t seed)
{
	/* the top 53 bits as a double in [0,1) */
	return (double)(arxiv_fmix64(arxiv_hash64(id, n, seed)) >> 11) * 0x1p-53;
}

int
arxiv_split_of(const char *id, size_t n, uint64_t seed, const double ratios[3])
{
	static const double def[3] = { 0.8, 0.1, 0.1 };
	double r[3], sum = 0, u;
	int i;

	for (i = 0; i < 3; i++) {
		r[i] = ratios ? ratios[i] : def[i];
		if (!(r[i] > 0))	/* negative or NaN */
			r[i] = 0;
		sum += r[i];
	}
	if (!(sum > 0) || sum > 1e300) {
		for (i = 0; i < 3; i++)
			r[i] = def[i];
		sum = 1;
	}
	u = arxiv_split_u(id, n, seed) * sum;
	if (u < r[0])
		return 0;
	if (u < r[0] + r[1])
		return 1;
	/* u < sum always; an empty test share still sends rounding leftovers to val */
	return r[2] > 0 ? 2 : (r[1] > 0 ? 1 : 0);
}

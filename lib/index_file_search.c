/*
 * index_file_search.c - the exact cosine search of the local index file (see
 * index_file.c): every paper scored from its int8 codes up to a stored bound,
 * and again from its float32 vector only when that could put it among the k
 * best so far, over ranges of papers in threads; the answer is that of a
 * float32 scan.
 */
#include <math.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "index_file_int.h"

typedef float v4sf __attribute__((vector_size(16)));

static float
dot(const float *a, const float *b, size_t n)
{
	size_t i = 0;
	float s = 0;

	if (n >= 16) {
		v4sf s0 = { 0, 0, 0, 0 }, s1 = s0, s2 = s0, s3 = s0, x, y;

		for (; i + 16 <= n; i += 16) {
			memcpy(&x, a + i, 16);
			memcpy(&y, b + i, 16);
			s0 += x * y;
			memcpy(&x, a + i + 4, 16);
			memcpy(&y, b + i + 4, 16);
			s1 += x * y;
			memcpy(&x, a + i + 8, 16);
			memcpy(&y, b + i + 8, 16);
			s2 += x * y;
			memcpy(&x, a + i + 12, 16);
			memcpy(&y, b + i + 12, 16);
			s3 += x * y;
		}
		s0 = (s0 + s1) + (s2 + s3);
		s = (s0[0] + s0[1]) + (s0[2] + s0[3]);
	}
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

struct cand {
	float score;
	uint32_t i;
};

/* Is a worse than b (lower score; ties: the later paper)? */
static int
worse(const struct cand *a, const struct cand *b)
{
	return a->score < b->score || (a->score == b->score && a->i > b->i);
}

/* Min-heap of the k best so far: heap[0] is the worst kept. */
static void
heap_push(struct cand *heap, size_t *n, size_t k, struct cand c)
{
	size_t i, p;

	if (*n == k) {
		if (!worse(&heap[0], &c))
			return;
		/* replace the root and sift down */
		i = 0;
		for (;;) {
			size_t l = 2 * i + 1, r = l + 1, m = i;
			const struct cand *cm = &c;

			if (l < k && worse(&heap[l], cm))
				m = l, cm = &heap[l];
			if (r < k && worse(&heap[r], cm))
				m = r;
			if (m == i)
				break;
			heap[i] = heap[m];
			i = m;
		}
		heap[i] = c;
		return;
	}
	for (i = (*n)++; i > 0; i = p) {
		p = (i - 1) / 2;
		if (!worse(&c, &heap[p]))
			break;
		heap[i] = heap[p];
	}
	heap[i] = c;
}

/* q (int16 codes) . c (int8 codes) over n dimensions; the caller bounds the
 * query codes so that no sum overflows. */
static int32_t
idot(const int16_t *q, const int8_t *c, size_t n)
{
	size_t i = 0;
	int32_t s = 0;
#ifdef __SSE2__
	__m128i acc = _mm_setzero_si128();

	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(c + i));
		__m128i lo = _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8);
		__m128i hi = _mm_srai_epi16(_mm_unpackhi_epi8(x, x), 8);

		acc = _mm_add_epi32(acc, _mm_madd_epi16(lo, _mm_loadu_si128((const __m128i *)(const void *)(q + i))));
		acc = _mm_add_epi32(acc, _mm_madd_epi16(hi, _mm_loadu_si128((const __m128i *)(const void *)(q + i + 8))));
	}
	{
		int32_t l[4];

		_mm_storeu_si128((__m128i *)(void *)l, acc);
		s = l[0] + l[1] + l[2] + l[3];
	}
#endif
	for (; i < n; i++)
		s += (int32_t)q[i] * c[i];
	return s;
}

struct job {
	const struct fileix *x;
	const float *q;
	const int16_t *qc;	/* the query's codes */
	float qscale, qbound;
	size_t k, from, to, n;
	long field;		/* -1: any */
	long long skip;		/* paper to leave out, -1 none */
	struct cand *heap;	/* the k best of this range, exact scores */
};

static float
qparam(const struct fileix *x, size_t i, int which)
{
	float f;

	memcpy(&f, x->qparam + 8 * i + 4 * which, 4);
	return f;
}

/* The k best papers of a range: each scored from its codes, and again from its
 * vector only when that could put it among the k best so far. */
static void *
scan(void *arg)
{
	struct job *j = arg;
	const struct fileix *x = j->x;
	size_t i, dim = x->dim;
	float qb = j->qbound + 1e-5f, qb1 = 1 + j->qbound;

	for (i = j->from; i < j->to; i++) {
		struct cand c;

		if ((j->field >= 0 && le16(x->fidx + 2 * i) != j->field) || (long long)i == j->skip)
			continue;
		if (j->n == j->k) {
			/* |q.v - a| <= |q - qs*qc| |v| + |qs*qc| |v - vs*vc| */
			float a = j->qscale * qparam(x, i, 0) * (float)idot(j->qc, x->codes + i * dim, dim);

			if (a + qb + qb1 * qparam(x, i, 1) < j->heap[0].score)
				continue;
		}
		c.score = dot(j->q, x->vec + i * dim, dim);
		c.i = (uint32_t)i;
		heap_push(j->heap, &j->n, j->k, c);
	}
	return NULL;
}

static int
cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	return worse(y, x) ? -1 : worse(x, y) ? 1 : 0;
}

int
ixfile_search(void *impl, const float *q, size_t k, const char *field, const char *exclude,
    struct arxiv_hit *hits, size_t *n, struct arxiv_error *err)
{
	const struct fileix *x = impl;
	struct job jobs[MAX_THREADS];
	struct cand *all = NULL, *heap;
	int16_t *qc = NULL;
	float qs, qmax = 0;
	size_t nt, t, m = 0, i, per, nh, dim = x->dim;
	double r = 0, cmax;
	long f = -1;
	long long skip = -1;
	int rc = -1;

	*n = 0;
	if (x->map == NULL || x->count == 0)
		return 0;
	if (field) {
		for (i = 0; i < x->nfields && strcmp(x->fields[i], field) != 0; i++)
			;
		if (i == x->nfields)
			return 0;
		f = (long)i;
	}
	if (exclude)
		skip = ixfile_map_find(x, exclude);
	if (k > x->count)
		k = x->count;
	nt = (size_t)x->threads;
	if (x->count < 20000)
		nt = 1;
	if ((all = malloc(nt * k * sizeof(*all))) == NULL || (qc = malloc(dim * sizeof(*qc))) == NULL) {
		arxiv_error_set(err, x->path, 0, "out of memory");
		goto out;
	}
	/* the query's int16 codes: the largest kept small enough that no dot product overflows */
	cmax = (double)INT32_MAX / (127.0 * (double)dim);
	if (cmax > 32767)
		cmax = 32767;
	for (i = 0; i < dim; i++)
		if (fabsf(q[i]) > qmax)
			qmax = fabsf(q[i]);
	qs = qmax > 0 ? (float)(qmax / cmax) : 1.0f;
	for (i = 0; i < dim; i++) {
		double d, v = (double)q[i] / qs;
		long cq = lrint(v);

		cq = cq > (long)cmax ? (long)cmax : cq < -(long)cmax ? -(long)cmax : cq;
		qc[i] = (int16_t)cq;
		d = (double)q[i] - (double)qs * (double)cq;
		r += d * d;
	}
	per = (x->count + nt - 1) / nt;
	for (t = 0; t < nt; t++) {
		jobs[t] = (struct job){ x, q, qc, qs, (float)(sqrt(r) * (1 + 1e-6)) + 1e-6f, k, t * per,
			(t + 1) * per < x->count ? (t + 1) * per : x->count, 0, f, skip, all + t * k };
	}
	arxiv_parallel_run(scan, jobs, sizeof(jobs[0]), (int)nt);
	/* merge the ranges' k best */
	for (t = 0; t < nt; t++) {
		memmove(all + m, jobs[t].heap, jobs[t].n * sizeof(*all));
		m += jobs[t].n;
	}
	qsort(all, m, sizeof(*all), cmp_cand);
	heap = all;
	nh = m < k ? m : k;
	for (i = 0; i < nh; i++) {
		struct mrec mr;

		ixfile_map_rec(x, heap[i].i, &mr);
		if (arxiv_hit_set(&hits[i], heap[i].score, mr.s[0], mr.len[0], mr.s[1], mr.len[1], mr.s[2],
		    mr.len[2], mr.s[3], mr.len[3]) < 0) {
			arxiv_hits_free(hits, i);
			arxiv_error_set(err, x->path, 0, "out of memory");
			goto out;
		}
	}
	*n = nh;
	rc = 0;
out:
	free(all);
	free(qc);
	return rc;
}

/*
 * index_file_write.c - building the local index file (see index_file.c for
 * the format): the papers in memory with an id hash table (an existing index
 * is read in first, so adding upserts by id), the int8 codes of each vector,
 * and the commit, written through a temporary file in the same directory and
 * renamed over the index.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index_file_int.h"

static uint32_t
id_hash(const char *id)
{
	return arxiv_key_hash(id, strlen(id));
}

/* Slot of id in the table (empty or holding id). */
static size_t
find_slot(const struct fileix *x, const char *id)
{
	size_t mask = x->nslot - 1, i = id_hash(id) & mask;

	while (x->slot[i] && strcmp(x->recs[x->slot[i] - 1].id, id) != 0)
		i = (i + 1) & mask;
	return i;
}

static int
grow(struct fileix *x)
{
	size_t nc = x->cap ? x->cap * 2 : 1024, i;
	struct brec *nr;
	float *nv;

	if (nc > UINT32_MAX - 1)
		return -1;
	if ((nr = realloc(x->recs, nc * sizeof(*nr))) == NULL)
		return -1;
	x->recs = nr;
	if ((nv = realloc(x->vecs, nc * x->dim * sizeof(float))) == NULL)
		return -1;
	x->vecs = nv;
	x->cap = nc;
	free(x->slot);
	x->nslot = nc * 2;
	if ((x->slot = calloc(x->nslot, sizeof(*x->slot))) == NULL)
		return -1;
	for (i = 0; i < x->n; i++)
		x->slot[find_slot(x, x->recs[i].id)] = (uint32_t)i + 1;
	return 0;
}

void
ixfile_brec_free(struct brec *r)
{
	free(r->id);
	free(r->title);
	free(r->field);
	free(r->cats);
}

/* Add or replace one paper; strings copied. */
int
ixfile_put(struct fileix *x, const char *id, size_t id_len, const char *title, size_t title_len,
    const char *field, size_t field_len, const char *cats, size_t cats_len, const float *v)
{
	struct brec r;
	size_t s, i;

	r.id = ixfile_dupn(id, id_len);
	r.title = ixfile_dupn(title, title_len);
	r.field = ixfile_dupn(field, field_len);
	r.cats = ixfile_dupn(cats, cats_len);
	r.title_len = title_len;
	if (r.id == NULL || r.title == NULL || r.field == NULL || r.cats == NULL)
		goto oom;
	if (x->n == x->cap && grow(x) < 0)
		goto oom;
	s = find_slot(x, r.id);
	if (x->slot[s]) {
		i = x->slot[s] - 1;
		ixfile_brec_free(&x->recs[i]);
	} else {
		i = x->n++;
		x->slot[s] = (uint32_t)i + 1;
	}
	x->recs[i] = r;
	memcpy(x->vecs + i * x->dim, v, x->dim * sizeof(float));
	x->dirty = 1;
	return 0;
oom:
	ixfile_brec_free(&r);
	return -1;
}

int
ixfile_add(void *impl, const struct arxiv_vecrec *recs, size_t n, struct arxiv_error *err)
{
	struct fileix *x = impl;
	size_t i;

	if (!x->write) {
		arxiv_error_set(err, x->path, 0, "index opened read-only");
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct arxiv_vecrec *r = &recs[i];

		if (r->id_len == 0 || r->id_len > ARXIV_VEC_MAX_ID || memchr(r->id, 0, r->id_len) ||
		    r->field_len > ARXIV_VEC_MAX_FIELD || r->categories_len > ARXIV_VEC_MAX_CATEGORIES ||
		    r->title_len > ARXIV_VEC_MAX_TITLE) {
			arxiv_error_set(err, x->path, (long)i + 1, "a string over its limit");
			return -1;
		}
		if (ixfile_put(x, r->id, r->id_len, r->title, r->title_len, r->field, r->field_len,
		    r->categories, r->categories_len, r->v) < 0) {
			arxiv_error_set(err, x->path, (long)i + 1, "out of memory");
			return -1;
		}
	}
	return 0;
}

static void
put16(unsigned char *b, uint32_t v)
{
	b[0] = v & 255;
	b[1] = (v >> 8) & 255;
}

static void
put32(unsigned char *b, uint32_t v)
{
	put16(b, v & 0xffff);
	put16(b + 2, v >> 16);
}

static void
put64(unsigned char *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b + 4, (uint32_t)(v >> 32));
}

/* v's int8 codes, scale and error bound: |v - scale * codes| (L2), rounded up. */
static void
quantize(const float *v, size_t dim, int8_t *codes, float *scale, float *bound)
{
	float m = 0;
	double r = 0;
	size_t i;

	for (i = 0; i < dim; i++)
		if (fabsf(v[i]) > m)
			m = fabsf(v[i]);
	*scale = m > 0 ? m / 127.0f : 1.0f;
	for (i = 0; i < dim; i++) {
		long c = lrintf(v[i] / *scale);
		double d;

		c = c > 127 ? 127 : c < -127 ? -127 : c;
		codes[i] = (int8_t)c;
		d = (double)v[i] - (double)*scale * (double)c;
		r += d * d;
	}
	*bound = (float)(sqrt(r) * (1 + 1e-6)) + 1e-6f;
}

static const struct fileix *sort_ix;

static int
cmp_order(const void *a, const void *b)
{
	const struct brec *x = &sort_ix->recs[*(const uint32_t *)a], *y = &sort_ix->recs[*(const uint32_t *)b];

	return strcmp(x->id, y->id);	/* ids hold no NUL: bytewise */
}

static int
wr(FILE *fp, const void *p, size_t n)
{
	return n == 0 || fwrite(p, 1, n, fp) == n ? 0 : -1;
}

int
ixfile_commit(void *impl, struct arxiv_error *err)
{
	static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;
	struct fileix *x = impl;
	char **fnames = NULL;
	struct arxiv_atomic *at = NULL;
	unsigned char h[AXI_FIXED], b[8];
	uint32_t *order = NULL;
	uint16_t *fidx = NULL;
	size_t nf = 0, i, j, esize, dsize, hsize;
	uint64_t meta, recoff, orderoff, fidxoff, fieldsoff, total, quant, qparam;
	int8_t *codes = NULL;
	float *qp = NULL;
	FILE *fp = NULL;

	if (!x->write) {
		arxiv_error_set(err, x->path, 0, "index opened read-only");
		return -1;
	}
	if ((order = malloc((x->n + 1) * sizeof(*order))) == NULL ||
	    (fidx = malloc((x->n + 1) * sizeof(*fidx))) == NULL ||
	    (fnames = calloc(x->n + 1, sizeof(*fnames))) == NULL)
		goto oom;
	for (i = 0; i < x->n; i++) {
		order[i] = (uint32_t)i;
		for (j = 0; j < nf && strcmp(fnames[j], x->recs[i].field) != 0; j++)
			;
		if (j == nf) {
			if (nf == MAX_FIELDS) {
				arxiv_error_set(err, x->path, 0, "more than %d distinct fields", MAX_FIELDS);
				goto fail;
			}
			fnames[nf++] = x->recs[i].field;
		}
		fidx[i] = (uint16_t)j;
	}
	pthread_mutex_lock(&sort_lock);
	sort_ix = x;
	qsort(order, x->n, sizeof(*order), cmp_order);
	pthread_mutex_unlock(&sort_lock);

	esize = strlen(x->embedder);
	dsize = strlen(x->dir);
	hsize = (AXI_FIXED + esize + dsize + 63) / 64 * 64;
	quant = (hsize + (uint64_t)x->n * x->dim * 4 + 63) / 64 * 64;
	qparam = (quant + (uint64_t)x->n * x->dim + 63) / 64 * 64;
	meta = qparam + 8 * (uint64_t)x->n;
	if ((codes = malloc(x->n * x->dim + 1)) == NULL || (qp = malloc((2 * x->n + 1) * sizeof(float))) == NULL)
		goto oom;
	for (i = 0; i < x->n; i++)
		quantize(x->vecs + i * x->dim, x->dim, codes + i * x->dim, &qp[2 * i], &qp[2 * i + 1]);
	recoff = meta + 8 * (uint64_t)x->n;
	orderoff = recoff;
	for (i = 0; i < x->n; i++)
		orderoff += 2 + strlen(x->recs[i].id) + 4 + x->recs[i].title_len + 2 +
		    strlen(x->recs[i].field) + 2 + strlen(x->recs[i].cats);
	fidxoff = orderoff + 4 * (uint64_t)x->n;
	fieldsoff = fidxoff + 2 * (uint64_t)x->n;
	total = fieldsoff + 4;
	for (i = 0; i < nf; i++)
		total += 2 + strlen(fnames[i]);

	memset(h, 0, sizeof(h));
	memcpy(h, AXI_MAGIC, 8);
	put32(h + 8, AXI_VERSION);
	put32(h + 12, (uint32_t)hsize);
	put32(h + 16, (uint32_t)x->dim);
	put64(h + 24, x->n);
	put64(h + 32, meta);
	put64(h + 40, orderoff);
	put64(h + 48, fidxoff);
	put64(h + 56, fieldsoff);
	put64(h + 64, total);
	put32(h + 72, (uint32_t)esize);
	put32(h + 76, (uint32_t)dsize);
	put64(h + 80, quant);
	put64(h + 88, qparam);

	if ((at = arxiv_atomic_open(x->path, NULL, err)) == NULL)
		goto fail;
	fp = arxiv_atomic_file(at);
	if (wr(fp, h, sizeof(h)) || wr(fp, x->embedder, esize) || wr(fp, x->dir, dsize))
		goto ioerr;
	for (i = AXI_FIXED + esize + dsize; i < hsize; i++)
		if (putc(0, fp) == EOF)
			goto ioerr;
	if (little_endian()) {
		if (wr(fp, x->vecs, x->n * x->dim * sizeof(float)))
			goto ioerr;
		for (i = hsize + x->n * x->dim * 4; i < quant; i++)
			if (putc(0, fp) == EOF)
				goto ioerr;
		if (wr(fp, codes, x->n * x->dim))
			goto ioerr;
		for (i = quant + x->n * x->dim; i < qparam; i++)
			if (putc(0, fp) == EOF)
				goto ioerr;
		if (wr(fp, qp, 2 * x->n * sizeof(float)))
			goto ioerr;
	} else {
		arxiv_error_set(err, x->path, 0, "index files are little-endian; this host is not");
		goto fail;
	}
	for (i = 0; i < x->n; i++) {
		put64(b, recoff);
		if (wr(fp, b, 8))
			goto ioerr;
		recoff += 2 + strlen(x->recs[i].id) + 4 + x->recs[i].title_len + 2 +
		    strlen(x->recs[i].field) + 2 + strlen(x->recs[i].cats);
	}
	for (i = 0; i < x->n; i++) {
		const struct brec *r = &x->recs[i];
		size_t n;

		put16(b, (uint32_t)(n = strlen(r->id)));
		if (wr(fp, b, 2) || wr(fp, r->id, n))
			goto ioerr;
		put32(b, (uint32_t)r->title_len);
		if (wr(fp, b, 4) || wr(fp, r->title, r->title_len))
			goto ioerr;
		put16(b, (uint32_t)(n = strlen(r->field)));
		if (wr(fp, b, 2) || wr(fp, r->field, n))
			goto ioerr;
		put16(b, (uint32_t)(n = strlen(r->cats)));
		if (wr(fp, b, 2) || wr(fp, r->cats, n))
			goto ioerr;
	}
	for (i = 0; i < x->n; i++) {
		put32(b, order[i]);
		if (wr(fp, b, 4))
			goto ioerr;
	}
	for (i = 0; i < x->n; i++) {
		put16(b, fidx[i]);
		if (wr(fp, b, 2))
			goto ioerr;
	}
	put32(b, (uint32_t)nf);
	if (wr(fp, b, 4))
		goto ioerr;
	for (i = 0; i < nf; i++) {
		size_t n = strlen(fnames[i]);

		put16(b, (uint32_t)n);
		if (wr(fp, b, 2) || wr(fp, fnames[i], n))
			goto ioerr;
	}
	if (arxiv_atomic_commit(at, err) < 0) {
		at = NULL;
		goto fail;
	}
	at = NULL;
	x->dirty = 0;
	free(order);
	free(fidx);
	free(fnames);
	free(codes);
	free(qp);
	return 0;
ioerr:
	arxiv_error_set(err, x->path, 0, "write error: %s", strerror(errno ? errno : EIO));
	goto fail;
oom:
	arxiv_error_set(err, x->path, 0, "out of memory");
fail:
	arxiv_atomic_abort(at);
	free(order);
	free(fidx);
	free(fnames);
	free(codes);
	free(qp);
	return -1;
}

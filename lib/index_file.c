/*
 * index_file.c - the local index file (kind "file", arxiv-index(1)): papers
 * and their float32 vectors in one memory-mapped file, exact cosine search.
 *
 * Layout, all integers little-endian (vectors are used in place, so a
 * big-endian host is refused):
 *   offset size  field
 *   0      8     magic "\x89AXI\r\n\x1a\n"
 *   8      4     version (1)
 *   12     4     header_size: offset of the vectors, a multiple of 64
 *   16     4     dim
 *   20     4     flags (0)
 *   24     8     count (papers)
 *   32     8     meta_offset: count u64 absolute offsets of the paper records
 *   40     8     order_offset: count u32 paper numbers sorted by id (bytewise)
 *   48     8     fidx_offset: count u16 field numbers
 *   56     8     fields_offset: u32 n_fields, then n_fields x (u16 size, bytes)
 *   64     8     file_size (the whole file; a shorter file is truncated)
 *   72     4     embedder_size, 76 4 embedder_dir_size
 *   80     8     quant_offset: count * dim int8 codes (a multiple of 64)
 *   88     8     qparam_offset: count x (float32 scale, float32 error bound)
 *   96     ...   embedder identity, embedder directory; zeros up to header_size
 *   header_size  count * dim float32 vectors (L2-normalised)
 *   then the int8 codes and their scales, the paper records, each u16 id size, id, u32 title size, title
 *   (may hold NUL), u16 field size, field, u16 categories size, categories;
 *   then the order, fidx and fields blocks.
 *
 * Search is exact: the int8 codes (a quarter of the bytes of the vectors)
 * give every paper's score up to a bound stored with it (|v - scale * code|
 * in L2, plus rounding); only a paper whose upper bound reaches the k-th best
 * exact score found so far is scored with its float32 vector. The answer is
 * that of a float32 scan.
 *
 * Writing builds everything in memory (an existing index is read in first,
 * so adding upserts by id) and commits through a temporary file in the same
 * directory, renamed over the index.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "arxiv.h"
#include "internal.h"

#define AXI_MAGIC "\x89" "AXI\r\n\x1a\n"
#define AXI_VERSION 1
#define AXI_FIXED 96
#define MAX_FIELDS 65535
#define MAX_THREADS 64

struct brec {			/* a paper while building */
	char *id, *title, *field, *cats;
	size_t title_len;
};

struct fileix {
	char path[PATH_MAX];
	int write, threads;
	size_t dim;
	char *embedder, *dir;
	/* the mapped file */
	unsigned char *map;
	size_t mapsize;
	uint64_t count;
	const float *vec;
	const int8_t *codes;
	const unsigned char *qparam;	/* count x (f32 scale, f32 bound) */
	const unsigned char *offs, *order, *fidx;
	char **fields;
	size_t nfields;
	/* building */
	size_t n, cap;
	struct brec *recs;
	float *vecs;
	uint32_t *slot;		/* id hash table: paper number + 1, 0 empty */
	size_t nslot;
	int dirty;
};

static uint16_t
le16(const unsigned char *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

static uint32_t
le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t
le64(const unsigned char *b)
{
	return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

static int
little_endian(void)
{
	uint16_t one = 1;
	unsigned char b;

	memcpy(&b, &one, 1);
	return b == 1;
}

static int
file_claims(const char *location)
{
	(void)location;
	return 1;
}

/* ------------------------------------------------------------ reading */

/* Paper i's record in the map: its strings (id, title, field, categories). */
struct mrec {
	const char *s[4];
	size_t len[4];
};

/* Decode record i; -1 when it does not fit in the file. */
static int
map_rec(const struct fileix *x, uint64_t i, struct mrec *m)
{
	uint64_t off = le64(x->offs + 8 * i);
	size_t k;

	for (k = 0; k < 4; k++) {
		size_t w = k == 1 ? 4 : 2, len;

		if (off > x->mapsize || x->mapsize - off < w)
			return -1;
		len = w == 4 ? le32(x->map + off) : le16(x->map + off);
		off += w;
		if (x->mapsize - off < len)
			return -1;
		m->s[k] = (const char *)x->map + off;
		m->len[k] = len;
		off += len;
	}
	return m->len[0] > 0 ? 0 : -1;
}

static int
id_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

/* Paper number of id in the map, or -1. */
static long long
map_find(const struct fileix *x, const char *id)
{
	size_t n = strlen(id);
	uint64_t lo = 0, hi = x->count;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2, i = le32(x->order + 4 * mid);
		struct mrec m;
		int c;

		if (map_rec(x, i, &m) < 0)
			return -1;
		c = id_cmp(m.s[0], m.len[0], id, n);
		if (c == 0)
			return (long long)i;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static char *
dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static int
map_open(struct fileix *x, int fd, struct arxiv_error *err)
{
	struct stat st;
	const unsigned char *h;
	uint32_t hsize, esize, dsize;
	uint64_t meta, order, fidx, fields, fsize, i, need, off, quant, qparam;

	if (fstat(fd, &st) < 0) {
		arxiv_error_set(err, x->path, 0, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		arxiv_error_set(err, x->path, 0, "not a regular file");
		return -1;
	}
	if (st.st_size < AXI_FIXED) {
		arxiv_error_set(err, x->path, 0, st.st_size >= 8 ? "truncated index file" :
		    "not an arxiv index file (too short); build one with arxiv-index -o");
		return -1;
	}
	x->mapsize = (size_t)st.st_size;
	if ((x->map = mmap(NULL, x->mapsize, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		x->map = NULL;
		arxiv_error_set(err, x->path, 0, "mmap: %s", strerror(errno));
		return -1;
	}
	h = x->map;
	if (memcmp(h, AXI_MAGIC, 8) != 0) {
		arxiv_error_set(err, x->path, 0, "not an arxiv index file (bad magic); build one with "
		    "arxiv-index -o");
		return -1;
	}
	if (le32(h + 8) != AXI_VERSION) {
		arxiv_error_set(err, x->path, 0, "unsupported index version %u (this reads %d)",
		    le32(h + 8), AXI_VERSION);
		return -1;
	}
	if (!little_endian()) {
		arxiv_error_set(err, x->path, 0, "index files are little-endian; this host is not");
		return -1;
	}
	hsize = le32(h + 12);
	x->dim = le32(h + 16);
	x->count = le64(h + 24);
	meta = le64(h + 32);
	order = le64(h + 40);
	fidx = le64(h + 48);
	fields = le64(h + 56);
	fsize = le64(h + 64);
	esize = le32(h + 72);
	dsize = le32(h + 76);
	quant = le64(h + 80);
	qparam = le64(h + 88);
	if (fsize != x->mapsize) {
		arxiv_error_set(err, x->path, 0, "truncated index file (%zu of %llu bytes)", x->mapsize,
		    (unsigned long long)fsize);
		return -1;
	}
	if (x->dim == 0 || x->dim > ARXIV_VEC_MAX_DIM || hsize % 64 || esize > ARXIV_VEC_MAX_EMBEDDER ||
	    dsize > 4096 || (uint64_t)AXI_FIXED + esize + dsize > hsize || x->count > UINT32_MAX ||
	    hsize + x->count * x->dim * 4 > fsize || meta > fsize || fsize - meta < 8 * x->count ||
	    order > fsize || fsize - order < 4 * x->count || fidx > fsize ||
	    fsize - fidx < 2 * x->count || fields > fsize || fsize - fields < 4 || quant % 64 ||
	    quant > fsize || fsize - quant < x->count * x->dim || qparam % 4 || qparam > fsize ||
	    fsize - qparam < 8 * x->count) {
		arxiv_error_set(err, x->path, 0, "corrupt index header");
		return -1;
	}
	if ((x->embedder = dupn((const char *)h + AXI_FIXED, esize)) == NULL ||
	    (x->dir = dupn((const char *)h + AXI_FIXED + esize, dsize)) == NULL)
		goto oom;
	x->vec = (const float *)(x->map + hsize);
	x->codes = (const int8_t *)(x->map + quant);
	x->qparam = x->map + qparam;
	x->offs = x->map + meta;
	x->order = x->map + order;
	x->fidx = x->map + fidx;
	x->nfields = le32(x->map + fields);
	if (x->nfields > MAX_FIELDS || (x->fields = calloc(x->nfields + 1, sizeof(char *))) == NULL)
		goto corrupt;
	off = fields + 4;
	for (i = 0; i < x->nfields; i++) {
		if (fsize - off < 2 || fsize - off - 2 < (need = le16(x->map + off)))
			goto corrupt;
		if ((x->fields[i] = dupn((const char *)x->map + off + 2, need)) == NULL)
			goto oom;
		off += 2 + need;
	}
	for (i = 0; i < x->count; i++) {
		struct mrec m;

		if (map_rec(x, i, &m) < 0 || le32(x->order + 4 * i) >= x->count ||
		    le16(x->fidx + 2 * i) >= x->nfields)
			goto corrupt;
	}
	return 0;
corrupt:
	arxiv_error_set(err, x->path, 0, "corrupt index file (a record or table out of bounds)");
	return -1;
oom:
	arxiv_error_set(err, x->path, 0, "out of memory");
	return -1;
}

/* ------------------------------------------------------------ building */

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

static void
brec_free(struct brec *r)
{
	free(r->id);
	free(r->title);
	free(r->field);
	free(r->cats);
}

/* Add or replace one paper; strings copied. */
static int
put(struct fileix *x, const char *id, size_t id_len, const char *title, size_t title_len,
    const char *field, size_t field_len, const char *cats, size_t cats_len, const float *v)
{
	struct brec r;
	size_t s, i;

	r.id = dupn(id, id_len);
	r.title = dupn(title, title_len);
	r.field = dupn(field, field_len);
	r.cats = dupn(cats, cats_len);
	r.title_len = title_len;
	if (r.id == NULL || r.title == NULL || r.field == NULL || r.cats == NULL)
		goto oom;
	if (x->n == x->cap && grow(x) < 0)
		goto oom;
	s = find_slot(x, r.id);
	if (x->slot[s]) {
		i = x->slot[s] - 1;
		brec_free(&x->recs[i]);
	} else {
		i = x->n++;
		x->slot[s] = (uint32_t)i + 1;
	}
	x->recs[i] = r;
	memcpy(x->vecs + i * x->dim, v, x->dim * sizeof(float));
	x->dirty = 1;
	return 0;
oom:
	brec_free(&r);
	return -1;
}

static void file_close(void *impl);

static void *
file_open(const char *location, const struct arxiv_index_opts *o, struct arxiv_error *err)
{
	struct fileix *x = calloc(1, sizeof(*x));
	int fd = -1;
	uint64_t i;

	if (x == NULL) {
		arxiv_error_set(err, location, 0, "out of memory");
		return NULL;
	}
	if (snprintf(x->path, sizeof(x->path), "%s", location) >= (int)sizeof(x->path)) {
		arxiv_error_set(err, "", 0, "index path too long");
		goto fail;
	}
	x->write = o->write;
	x->threads = o->threads < 1 ? 1 : o->threads > MAX_THREADS ? MAX_THREADS : o->threads;
	fd = open(location, O_RDONLY | O_CLOEXEC | O_NONBLOCK);	/* a FIFO must not block */
	if (fd < 0 && (!o->write || errno != ENOENT)) {
		arxiv_error_set(err, location, 0, "%s%s", strerror(errno), errno == ENOENT ?
		    "; build the index with arxiv-index -o" : "");
		goto fail;
	}
	if (fd >= 0 && map_open(x, fd, err) < 0)
		goto fail;
	if (fd >= 0)
		close(fd);
	fd = -1;
	if (!o->write)
		return x;
	if (o->embedder == NULL || o->dim == 0 || o->dim > ARXIV_VEC_MAX_DIM) {
		arxiv_error_set(err, location, 0, "opening to write needs the embedder and dimension");
		goto fail;
	}
	if (x->map) {
		if (x->dim != o->dim || strcmp(x->embedder, o->embedder) != 0) {
			arxiv_error_set(err, location, 0, "index has %zu dims of \"%.60s\", input %zu dims "
			    "of \"%.60s\" (build a new index)", x->dim, x->embedder, o->dim, o->embedder);
			goto fail;
		}
		/* read the papers in, so adding upserts */
		for (i = 0; i < x->count; i++) {
			struct mrec m;

			map_rec(x, i, &m);
			if (put(x, m.s[0], m.len[0], m.s[1], m.len[1], m.s[2], m.len[2], m.s[3], m.len[3],
			    x->vec + i * x->dim) < 0) {
				arxiv_error_set(err, location, 0, "out of memory");
				goto fail;
			}
		}
		x->dirty = 0;
		if (o->embedder_dir && *o->embedder_dir) {
			free(x->dir);
			x->dir = NULL;
		}
	} else {
		x->dim = o->dim;
		if ((x->embedder = strdup(o->embedder)) == NULL)
			goto oom;
	}
	if (x->dir == NULL && (x->dir = strdup(o->embedder_dir ? o->embedder_dir : "")) == NULL)
		goto oom;
	return x;
oom:
	arxiv_error_set(err, location, 0, "out of memory");
fail:
	if (fd >= 0)
		close(fd);
	file_close(x);
	return NULL;
}

static int
file_info(void *impl, struct arxiv_index_info *out)
{
	struct fileix *x = impl;

	out->kind = "file";
	out->location = x->path;
	out->embedder = x->embedder ? x->embedder : "";
	out->embedder_dir = x->dir ? x->dir : "";
	out->dim = x->dim;
	out->size = x->write ? x->n : x->count;
	return 0;
}

static int
file_add(void *impl, const struct arxiv_vecrec *recs, size_t n, struct arxiv_error *err)
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
		if (put(x, r->id, r->id_len, r->title, r->title_len, r->field, r->field_len,
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

static int
file_commit(void *impl, struct arxiv_error *err)
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

/* ------------------------------------------------------------ search */

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

static int
file_search(void *impl, const float *q, size_t k, const char *field, const char *exclude,
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
		skip = map_find(x, exclude);
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

		map_rec(x, heap[i].i, &mr);
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

static int
file_get(void *impl, const char *id, float *v, struct arxiv_hit *meta, struct arxiv_error *err)
{
	const struct fileix *x = impl;
	struct mrec r;
	long long i;

	if (x->map == NULL || (i = map_find(x, id)) < 0)
		return 0;
	memcpy(v, x->vec + (size_t)i * x->dim, x->dim * sizeof(float));
	if (meta) {
		map_rec(x, (uint64_t)i, &r);
		if (arxiv_hit_set(meta, 1.0f, r.s[0], r.len[0], r.s[1], r.len[1], r.s[2], r.len[2],
		    r.s[3], r.len[3]) < 0) {
			arxiv_error_set(err, x->path, 0, "out of memory");
			return -1;
		}
	}
	return 1;
}

static void
file_close(void *impl)
{
	struct fileix *x = impl;
	size_t i;

	if (x == NULL)
		return;
	if (x->map)
		munmap(x->map, x->mapsize);
	if (x->fields)
		for (i = 0; i < x->nfields; i++)
			free(x->fields[i]);
	free(x->fields);
	for (i = 0; i < x->n; i++)
		brec_free(&x->recs[i]);
	free(x->recs);
	free(x->vecs);
	free(x->slot);
	free(x->embedder);
	free(x->dir);
	free(x);
}

const struct arxiv_index_backend arxiv_index_file_backend = {
	"file", file_claims, file_open, file_info, file_add, file_commit, file_search, file_get,
	file_close
};

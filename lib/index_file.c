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
 *
 * This file reads (open, the header checks, the records, lookups by id);
 * building and the commit are index_file_write.c, the search
 * index_file_search.c (index_file_int.h is their shared header).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index_file_int.h"

static int
file_claims(const char *location)
{
	(void)location;
	return 1;
}

/* ------------------------------------------------------------ reading */

/* Decode record i; -1 when it does not fit in the file. */
int
ixfile_map_rec(const struct fileix *x, uint64_t i, struct mrec *m)
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
long long
ixfile_map_find(const struct fileix *x, const char *id)
{
	size_t n = strlen(id);
	uint64_t lo = 0, hi = x->count;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2, i = le32(x->order + 4 * mid);
		struct mrec m;
		int c;

		if (ixfile_map_rec(x, i, &m) < 0)
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

char *
ixfile_dupn(const char *s, size_t n)
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
	if ((x->embedder = ixfile_dupn((const char *)h + AXI_FIXED, esize)) == NULL ||
	    (x->dir = ixfile_dupn((const char *)h + AXI_FIXED + esize, dsize)) == NULL)
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
		if ((x->fields[i] = ixfile_dupn((const char *)x->map + off + 2, need)) == NULL)
			goto oom;
		off += 2 + need;
	}
	for (i = 0; i < x->count; i++) {
		struct mrec m;

		if (ixfile_map_rec(x, i, &m) < 0 || le32(x->order + 4 * i) >= x->count ||
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

			ixfile_map_rec(x, i, &m);
			if (ixfile_put(x, m.s[0], m.len[0], m.s[1], m.len[1], m.s[2], m.len[2], m.s[3], m.len[3],
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
file_get(void *impl, const char *id, float *v, struct arxiv_hit *meta, struct arxiv_error *err)
{
	const struct fileix *x = impl;
	struct mrec r;
	long long i;

	if (x->map == NULL || (i = ixfile_map_find(x, id)) < 0)
		return 0;
	memcpy(v, x->vec + (size_t)i * x->dim, x->dim * sizeof(float));
	if (meta) {
		ixfile_map_rec(x, (uint64_t)i, &r);
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
		ixfile_brec_free(&x->recs[i]);
	free(x->recs);
	free(x->vecs);
	free(x->slot);
	free(x->embedder);
	free(x->dir);
	free(x);
}

const struct arxiv_index_backend arxiv_index_file_backend = {
	"file", file_claims, file_open, file_info, ixfile_add, ixfile_commit, ixfile_search, file_get,
	file_close
};

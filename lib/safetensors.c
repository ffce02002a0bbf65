/*
 * safetensors.c - Hugging Face safetensors files: read (mmap, fully validated)
 * and write (through arxiv_atomic_open: temporary + rename).
 *
 * Layout: u64 little-endian header length N, N bytes of a JSON object
 * {"name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]},...,
 * "__metadata__":{"key":"value",..}}, then the data buffer. Offsets are relative
 * to the start of the data buffer. Validation on open, as in the Python
 * reference implementation: N fits in the file and is at most 100 MB, the header
 * is a JSON object without duplicate keys, every dtype is known, every shape is
 * a list of non-negative integers, end - begin equals the shape's element count
 * times the dtype size, and the tensors, sorted by offset, cover the data buffer
 * exactly: contiguous, non-overlapping, nothing before, between or after them.
 * Every failure names the file and, where there is one, the tensor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "arxiv.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

#define ST_MAX_HEADER ((uint64_t)100 << 20)	/* the reference reader's limit */

struct st_entry {
	char *name;
	int dtype;
	int ndim;
	int64_t shape[8];
	uint64_t begin, end;
};

struct arxiv_st {
	char path[64];
	void *map;		/* whole file when mmapped, else NULL */
	size_t map_len;
	unsigned char *copy;	/* data buffer copy when not mmapped/aligned */
	const unsigned char *data;
	uint64_t data_len;
	size_t n;
	struct st_entry *t;
	size_t n_meta;
	char **meta_k, **meta_v;
};

static const struct {
	const char *name;
	int dtype;
	size_t size;
} dtypes[] = {
	{ "F32", ARXIV_F32, 4 },
	{ "F16", ARXIV_F16, 2 },
	{ "BF16", ARXIV_BF16, 2 },
	{ "I64", ARXIV_I64, 8 },
	{ "I32", ARXIV_I32, 4 },
	{ "U8", ARXIV_U8, 1 },
};

static size_t
dtype_size(int dtype)
{
	size_t i;

	for (i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (dtypes[i].dtype == dtype)
			return dtypes[i].size;
	return 0;
}

static const char *
dtype_name(int dtype)
{
	size_t i;

	for (i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (dtypes[i].dtype == dtype)
			return dtypes[i].name;
	return NULL;
}

static int
dtype_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (strcmp(dtypes[i].name, s) == 0)
			return dtypes[i].dtype;
	return -1;
}

/* Element count of a shape times size, or -1 on overflow. */
static int
shape_bytes(const int64_t *shape, int ndim, size_t size, uint64_t *out)
{
	uint64_t n = size;
	int i;

	for (i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return -1;
		if (shape[i] != 0 && n > UINT64_MAX / (uint64_t)shape[i])
			return -1;
		n *= (uint64_t)shape[i];
	}
	*out = n;
	return 0;
}

void
arxiv_st_close(struct arxiv_st *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->n; i++)
		free(st->t[i].name);
	free(st->t);
	for (i = 0; i < st->n_meta; i++) {
		free(st->meta_k[i]);
		free(st->meta_v[i]);
	}
	free(st->meta_k);
	free(st->meta_v);
	if (st->map)
		munmap(st->map, st->map_len);
	free(st->copy);
	free(st);
}

static int
cmp_offset(const void *a, const void *b)
{
	const struct st_entry *x = *(const struct st_entry *const *)a;
	const struct st_entry *y = *(const struct st_entry *const *)b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

static int
parse_meta(struct arxiv_st *st, json_t *meta, const char *src, struct arxiv_error *err)
{
	const char *k;
	json_t *v;
	size_t n = json_object_size(meta);

	if (!json_is_object(meta)) {
		arxiv_error_set(err, src, 0, "__metadata__ is not an object");
		return -1;
	}
	if (n == 0)
		return 0;
	st->meta_k = calloc(n, sizeof(char *));
	st->meta_v = calloc(n, sizeof(char *));
	if (st->meta_k == NULL || st->meta_v == NULL)
		goto nomem;
	json_object_foreach(meta, k, v) {
		if (!json_is_string(v)) {
			arxiv_error_set(err, src, 0, "__metadata__ value of '%.40s' is not a string", k);
			return -1;
		}
		st->meta_k[st->n_meta] = strdup(k);
		st->meta_v[st->n_meta] = strdup(json_string_value(v));
		st->n_meta++;
		if (st->meta_k[st->n_meta - 1] == NULL || st->meta_v[st->n_meta - 1] == NULL)
			goto nomem;
	}
	return 0;
nomem:
	arxiv_error_set(err, src, 0, "out of memory");
	return -1;
}

static int
parse_entry(struct st_entry *e, const char *name, json_t *v, uint64_t data_len,
    const char *src, struct arxiv_error *err)
{
	json_t *dt, *shape, *off, *x;
	const char *k;
	size_t i, size;
	uint64_t want = 0;

	if (!json_is_object(v)) {
		arxiv_error_set(err, src, 0, "tensor '%.60s': entry is not an object", name);
		return -1;
	}
	json_object_foreach(v, k, x) {
		if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets")) {
			arxiv_error_set(err, src, 0, "tensor '%.60s': unexpected key '%.30s'", name, k);
			return -1;
		}
	}
	dt = json_object_get(v, "dtype");
	shape = json_object_get(v, "shape");
	off = json_object_get(v, "data_offsets");
	if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(off)) {
		arxiv_error_set(err, src, 0, "tensor '%.60s': needs dtype, shape and data_offsets", name);
		return -1;
	}
	if ((e->dtype = dtype_parse(json_string_value(dt))) < 0) {
		arxiv_error_set(err, src, 0, "tensor '%.60s': unsupported dtype '%.16s'", name,
		    json_string_value(dt));
		return -1;
	}
	if (json_array_size(shape) > 8) {
		arxiv_error_set(err, src, 0, "tensor '%.60s': more than 8 dimensions", name);
		return -1;
	}
	e->ndim = (int)json_array_size(shape);
	json_array_foreach(shape, i, x) {
		if (!json_is_integer(x) || json_integer_value(x) < 0) {
			arxiv_error_set(err, src, 0, "tensor '%.60s': shape[%zu] is not a non-negative integer",
			    name, i);
			return -1;
		}
		e->shape[i] = json_integer_value(x);
	}
	if (json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
	    !json_is_integer(json_array_get(off, 1)) ||
	    json_integer_value(json_array_get(off, 0)) < 0 ||
	    json_integer_value(json_array_get(off, 1)) < 0) {
		arxiv_error_set(err, src, 0, "tensor '%.60s': data_offsets is not [begin, end]", name);
		return -1;
	}
	e->begin = (uint64_t)json_integer_value(json_array_get(off, 0));
	e->end = (uint64_t)json_integer_value(json_array_get(off, 1));
	if (e->begin > e->end || e->end > data_len) {
		arxiv_error_set(err, src, 0,
		    "tensor '%.60s': data_offsets [%llu, %llu] out of bounds (data is %llu bytes)",
		    name, (unsigned long long)e->begin, (unsigned long long)e->end,
		    (unsigned long long)data_len);
		return -1;
	}
	size = dtype_size(e->dtype);
	if (shape_bytes(e->shape, e->ndim, size, &want) < 0) {
		arxiv_error_set(err, src, 0, "tensor '%.60s': shape overflows 64 bits", name);
		return -1;
	}
	if (want != e->end - e->begin) {
		arxiv_error_set(err, src, 0,
		    "tensor '%.60s': shape needs %llu bytes but data_offsets span %llu", name,
		    (unsigned long long)want, (unsigned long long)(e->end - e->begin));
		return -1;
	}
	if ((e->name = strdup(name)) == NULL) {
		arxiv_error_set(err, src, 0, "out of memory");
		return -1;
	}
	return 0;
}

/* Parse and validate the header; st->data/data_len must be set. */
static int
parse_header(struct arxiv_st *st, const char *hdr, size_t len, const char *src,
    struct arxiv_error *err)
{
	json_error_t je;
	json_t *root, *v;
	const char *k;
	struct st_entry **order = NULL;
	size_t i, n;
	uint64_t pos;
	int rc = -1;

	root = json_loadb(hdr, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		arxiv_error_set(err, src, 0, "invalid JSON header: %.100s (column %d)", je.text,
		    je.column);
		return -1;
	}
	if (!json_is_object(root)) {
		arxiv_error_set(err, src, 0, "JSON header is not an object");
		goto out;
	}
	n = json_object_size(root) - (json_object_get(root, "__metadata__") ? 1 : 0);
	if (n && (st->t = calloc(n, sizeof(*st->t))) == NULL) {
		arxiv_error_set(err, src, 0, "out of memory");
		goto out;
	}
	json_object_foreach(root, k, v) {
		if (strcmp(k, "__metadata__") == 0) {
			if (parse_meta(st, v, src, err) < 0)
				goto out;
			continue;
		}
		if (parse_entry(&st->t[st->n], k, v, st->data_len, src, err) < 0)
			goto out;
		st->n++;
	}
	/* sorted by offset, the tensors must tile the data buffer exactly */
	if (st->n && (order = malloc(st->n * sizeof(*order))) == NULL) {
		arxiv_error_set(err, src, 0, "out of memory");
		goto out;
	}
	for (i = 0; i < st->n; i++)
		order[i] = &st->t[i];
	if (st->n)
		qsort(order, st->n, sizeof(*order), cmp_offset);
	pos = 0;
	for (i = 0; i < st->n; i++) {
		if (order[i]->begin < pos) {
			arxiv_error_set(err, src, 0, "tensor '%.60s': data_offsets overlap tensor '%.60s'",
			    order[i]->name, order[i - 1]->name);
			goto out;
		}
		if (order[i]->begin > pos) {
			arxiv_error_set(err, src, 0,
			    "tensor '%.60s': gap of %llu bytes before its data (offsets not contiguous)",
			    order[i]->name, (unsigned long long)(order[i]->begin - pos));
			goto out;
		}
		pos = order[i]->end;
	}
	if (pos != st->data_len) {
		arxiv_error_set(err, src, 0, "%llu bytes of data after the last tensor",
		    (unsigned long long)(st->data_len - pos));
		goto out;
	}
	rc = 0;
out:
	free(order);
	json_decref(root);
	return rc;
}

struct arxiv_st *
arxiv_st_open(const char *path, struct arxiv_error *err)
{
	struct arxiv_st *st;
	struct stat sb;
	unsigned char *base;
	uint64_t hlen;
	int fd, i;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		arxiv_error_set(err, path, 0, "out of memory");
		return NULL;
	}
	snprintf(st->path, sizeof(st->path), "%s", path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		arxiv_error_set(err, path, 0, "%s", strerror(errno));
		free(st);
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		arxiv_error_set(err, path, 0, "%s", errno ? strerror(errno) : "not a regular file");
		goto fail;
	}
	if (sb.st_size < 8) {
		arxiv_error_set(err, path, 0, "not a safetensors file (%lld bytes, shorter than the "
		    "8-byte header length)", (long long)sb.st_size);
		goto fail;
	}
	st->map_len = (size_t)sb.st_size;
	st->map = mmap(NULL, st->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (st->map == MAP_FAILED) {
		st->map = NULL;
		arxiv_error_set(err, path, 0, "mmap: %s", strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	base = st->map;
	hlen = 0;
	for (i = 7; i >= 0; i--)
		hlen = (hlen << 8) | base[i];
	if (hlen > ST_MAX_HEADER || hlen > (uint64_t)sb.st_size - 8) {
		arxiv_error_set(err, path, 0, "header length %llu exceeds the file (%lld bytes)%s",
		    (unsigned long long)hlen, (long long)sb.st_size,
		    hlen > ST_MAX_HEADER ? " or the 100 MB limit" : "");
		goto fail;
	}
	if (hlen < 2 || base[8] != '{') {
		arxiv_error_set(err, path, 0, "not a safetensors file (header does not start with '{')");
		goto fail;
	}
	st->data = base + 8 + hlen;
	st->data_len = (uint64_t)sb.st_size - 8 - hlen;
	/* keep the data 8-byte aligned, whatever the header padding */
	if ((8 + hlen) % 8 != 0 && st->data_len > 0) {
		if ((st->copy = malloc(st->data_len)) == NULL) {
			arxiv_error_set(err, path, 0, "out of memory");
			goto fail;
		}
		memcpy(st->copy, st->data, st->data_len);
		st->data = st->copy;
	}
	if (parse_header(st, (const char *)base + 8, hlen, path, err) < 0)
		goto fail;
	return st;
fail:
	if (fd >= 0)
		close(fd);
	arxiv_st_close(st);
	return NULL;
}

size_t
arxiv_st_count(const struct arxiv_st *st)
{
	return st->n;
}

static void
fill(const struct arxiv_st *st, const struct st_entry *e, struct arxiv_st_tensor *t)
{
	t->name = e->name;
	t->dtype = e->dtype;
	t->ndim = e->ndim;
	memset(t->shape, 0, sizeof(t->shape));
	memcpy(t->shape, e->shape, sizeof(e->shape[0]) * (size_t)e->ndim);
	t->data = st->data + e->begin;
	t->nbytes = (size_t)(e->end - e->begin);
}

int
arxiv_st_get(const struct arxiv_st *st, size_t i, struct arxiv_st_tensor *t)
{
	if (i >= st->n)
		return -1;
	fill(st, &st->t[i], t);
	return 0;
}

int
arxiv_st_find(const struct arxiv_st *st, const char *name, struct arxiv_st_tensor *t)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->t[i].name, name) == 0) {
			fill(st, &st->t[i], t);
			return 0;
		}
	return -1;
}

const char *
arxiv_st_meta(const struct arxiv_st *st, const char *key)
{
	size_t i;

	for (i = 0; i < st->n_meta; i++)
		if (strcmp(st->meta_k[i], key) == 0)
			return st->meta_v[i];
	return NULL;
}

static int
write_all(FILE *fp, const void *p, size_t n)
{
	return n == 0 || fwrite(p, 1, n, fp) == n ? 0 : -1;
}

int
arxiv_st_save(const char *path, const struct arxiv_st_tensor *t, size_t n,
    const char *const *meta_kv, size_t n_meta, struct arxiv_error *err)
{
	json_t *root = NULL, *meta, *e, *shape;
	char *hdr = NULL;
	unsigned char len8[8];
	size_t i, j, hlen, pad, size;
	uint64_t off = 0, want = 0;
	struct arxiv_atomic *a = NULL;
	FILE *fp;
	int rc = -1;

	if ((root = json_object()) == NULL)
		goto nomem;
	if (n_meta) {
		if ((meta = json_object()) == NULL || json_object_set_new(root, "__metadata__", meta))
			goto nomem;
		for (i = 0; i < n_meta; i++)
			if (json_object_set_new(meta, meta_kv[2 * i], json_string(meta_kv[2 * i + 1])))
				goto nomem;
	}
	for (i = 0; i < n; i++) {
		if (t[i].name == NULL || strcmp(t[i].name, "__metadata__") == 0 ||
		    json_object_get(root, t[i].name)) {
			arxiv_error_set(err, path, 0, "tensor '%.60s': missing or duplicate name",
			    t[i].name ? t[i].name : "(null)");
			goto out;
		}
		if ((size = dtype_size(t[i].dtype)) == 0 || t[i].ndim < 0 || t[i].ndim > 8 ||
		    shape_bytes(t[i].shape, t[i].ndim, size, &want) < 0 || want != t[i].nbytes) {
			arxiv_error_set(err, path, 0, "tensor '%.60s': dtype, shape and nbytes disagree",
			    t[i].name);
			goto out;
		}
		if ((e = json_object()) == NULL || json_object_set_new(root, t[i].name, e) ||
		    (shape = json_array()) == NULL)
			goto nomem;
		json_object_set_new(e, "dtype", json_string(dtype_name(t[i].dtype)));
		for (j = 0; j < (size_t)t[i].ndim; j++)
			json_array_append_new(shape, json_integer(t[i].shape[j]));
		json_object_set_new(e, "shape", shape);
		json_object_set_new(e, "data_offsets",
		    json_pack("[II]", (json_int_t)off, (json_int_t)(off + t[i].nbytes)));
		off += t[i].nbytes;
	}
	if ((hdr = json_dumps(root, JSON_COMPACT)) == NULL)
		goto nomem;
	hlen = strlen(hdr);
	pad = (8 - hlen % 8) % 8;	/* spaces keep the data 8-byte aligned, as HF does */
	for (i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)(hlen + pad) >> (8 * i));
	if ((a = arxiv_atomic_open(path, NULL, err)) == NULL)
		goto out;
	fp = arxiv_atomic_file(a);
	if (write_all(fp, len8, 8) || write_all(fp, hdr, hlen) ||
	    write_all(fp, "        ", pad))
		goto ioerr;
	for (i = 0; i < n; i++)
		if (write_all(fp, t[i].data, t[i].nbytes))
			goto ioerr;
	rc = arxiv_atomic_commit(a, err);
	goto out;
ioerr:
	arxiv_error_set(err, path, 0, "write error: %s", strerror(errno ? errno : EIO));
	arxiv_atomic_abort(a);
	goto out;
nomem:
	arxiv_error_set(err, path, 0, "out of memory");
out:
	free(hdr);
	json_decref(root);
	return rc;
}

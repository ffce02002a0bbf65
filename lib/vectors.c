/*
 * vectors.c - the vector stream (arxiv-vectors(5)): papers with one embedding
 * each, binary (field by field, little-endian) or JSONL. Written by
 * arxiv-embed -e, read by arxiv-index.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>

#include "arxiv.h"
#include "internal.h"

#define HEADER_FIXED 32

struct arxiv_vec_reader {
	FILE *fp;
	char name[64];
	int jsonl;
	size_t dim;
	uint64_t n_records, rec;	/* declared count; records read */
	char *embedder, *dir;
	/* the current record */
	char *buf;			/* strings, each NUL-terminated */
	size_t bufcap;
	float *v;
	struct arxiv_lines *lines;	/* JSONL */
	json_t *first;			/* JSONL: the first line, parsed at open */
	long first_line;
};

struct arxiv_vec_writer {
	FILE *fp;
	int jsonl;
	size_t dim;
	char *embedder, *dir;
	off_t start;
	uint64_t count;
	struct arxiv_buf line;
};

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

static void
put32(unsigned char *b, uint32_t v)
{
	b[0] = v & 255;
	b[1] = (v >> 8) & 255;
	b[2] = (v >> 16) & 255;
	b[3] = v >> 24;
}

int
arxiv_vec_sniff(const void *p, size_t n)
{
	return n >= 8 && memcmp(p, ARXIV_VEC_MAGIC, 8) == 0;
}

/* Read exactly n bytes: 1, 0 at a clean EOF (nothing read), -1 short. */
static int
readn(FILE *fp, void *p, size_t n)
{
	size_t got = fread(p, 1, n, fp);

	if (got == n)
		return 1;
	return got == 0 && !ferror(fp) ? 0 : -1;
}

static char *
read_string(FILE *fp, uint32_t n)
{
	char *s = malloc((size_t)n + 1);

	if (s == NULL)
		return NULL;
	if (n && readn(fp, s, n) != 1) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

static int
valid_text(const char *s, size_t n)
{
	return arxiv_utf8_check(s, n) < 0;
}

/* rec's strings: id, title, field, categories of lengths a, b, c, d, each
 * NUL-terminated one after the other in r->buf; its vector r->v. */
static void
point_record(const struct arxiv_vec_reader *r, size_t a, size_t b, size_t c, size_t d,
    struct arxiv_vecrec *rec)
{
	rec->id = r->buf;
	rec->id_len = a;
	rec->title = rec->id + a + 1;
	rec->title_len = b;
	rec->field = rec->title + b + 1;
	rec->field_len = c;
	rec->categories = rec->field + c + 1;
	rec->categories_len = d;
	rec->v = r->v;
}

/* Parse one JSONL record object into r's buffers. */
static int
json_record(struct arxiv_vec_reader *r, json_t *o, struct arxiv_vecrec *rec, long line,
    struct arxiv_error *err)
{
	static const char *const keys[4] = { "id", "title", "field", "categories" };
	const char *val[4];
	size_t len[4], total = 0, i, off = 0;
	json_t *emb, *e, *x;

	if (!json_is_object(o)) {
		arxiv_error_set(err, r->name, line, "not a JSON object");
		return -1;
	}
	for (i = 0; i < 4; i++) {
		x = json_object_get(o, keys[i]);
		if (x == NULL || json_is_null(x)) {
			if (i == 0) {
				arxiv_error_set(err, r->name, line, "missing or non-string \"id\"");
				return -1;
			}
			val[i] = "";
			len[i] = 0;
		} else if (!json_is_string(x)) {
			arxiv_error_set(err, r->name, line, "\"%s\" must be a string", keys[i]);
			return -1;
		} else {
			val[i] = json_string_value(x);
			len[i] = json_string_length(x);
		}
		total += len[i] + 1;
	}
	if (len[0] == 0 || len[0] > ARXIV_VEC_MAX_ID || memchr(val[0], 0, len[0])) {
		arxiv_error_set(err, r->name, line, "\"id\" must have 1..%d bytes and no NUL",
		    ARXIV_VEC_MAX_ID);
		return -1;
	}
	e = json_object_get(o, "embedder");
	if (!json_is_string(e)) {
		arxiv_error_set(err, r->name, line, "missing or non-string \"embedder\"");
		return -1;
	}
	if (r->embedder == NULL) {
		if ((r->embedder = strdup(json_string_value(e))) == NULL)
			goto oom;
		x = json_object_get(o, "embedder_dir");
		if ((r->dir = strdup(json_is_string(x) ? json_string_value(x) : "")) == NULL)
			goto oom;
	} else if (strcmp(r->embedder, json_string_value(e)) != 0) {
		arxiv_error_set(err, r->name, line, "embedder \"%.40s\" differs from the first "
		    "record's \"%.40s\"", json_string_value(e), r->embedder);
		return -1;
	}
	emb = json_object_get(o, "embedding");
	if (!json_is_array(emb) || json_array_size(emb) == 0 ||
	    json_array_size(emb) > ARXIV_VEC_MAX_DIM) {
		arxiv_error_set(err, r->name, line, "\"embedding\" must be an array of 1..%d numbers",
		    ARXIV_VEC_MAX_DIM);
		return -1;
	}
	if (r->dim == 0) {
		r->dim = json_array_size(emb);
		if ((r->v = malloc(r->dim * sizeof(float))) == NULL)
			goto oom;
	} else if (json_array_size(emb) != r->dim) {
		arxiv_error_set(err, r->name, line, "dimension %zu differs from the first record's %zu",
		    json_array_size(emb), r->dim);
		return -1;
	}
	for (i = 0; i < r->dim; i++) {
		double d;

		x = json_array_get(emb, i);
		if (!json_is_number(x)) {
			arxiv_error_set(err, r->name, line, "\"embedding\"[%zu] is not a number", i);
			return -1;
		}
		d = json_number_value(x);
		if (!isfinite((float)d)) {
			arxiv_error_set(err, r->name, line, "\"embedding\"[%zu] is not finite", i);
			return -1;
		}
		r->v[i] = (float)d;
	}
	if (total > r->bufcap) {
		char *nb = realloc(r->buf, total);

		if (nb == NULL)
			goto oom;
		r->buf = nb;
		r->bufcap = total;
	}
	for (i = 0; i < 4; i++) {
		memcpy(r->buf + off, val[i], len[i]);
		r->buf[off + len[i]] = '\0';
		off += len[i] + 1;
	}
	point_record(r, len[0], len[1], len[2], len[3], rec);
	if (!valid_text(rec->title, rec->title_len) || !valid_text(rec->field, rec->field_len)) {
		arxiv_error_set(err, r->name, line, "invalid UTF-8");
		return -1;
	}
	return 1;
oom:
	arxiv_error_set(err, r->name, line, "out of memory");
	return -1;
}

static json_t *
json_line(struct arxiv_vec_reader *r, int *status, long *lineno, struct arxiv_error *err)
{
	const char *line;
	size_t len;
	json_error_t je;
	json_t *o;
	int got;

	for (;;) {
		got = arxiv_lines_next(r->lines, &line, &len, err);
		*lineno = arxiv_lines_lineno(r->lines);
		if (got == 0) {
			*status = 0;
			return NULL;
		}
		if (got < 0) {
			*status = -1;
			return NULL;
		}
		while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
			len--;
		if (len > 0)
			break;
	}
	if ((o = json_loadb(line, len, JSON_ALLOW_NUL, &je)) == NULL) {
		arxiv_error_set(err, r->name, *lineno, "invalid JSON: %s", je.text);
		*status = -1;
		return NULL;
	}
	*status = 1;
	return o;
}

struct arxiv_vec_reader *
arxiv_vec_open(FILE *fp, const char *name, struct arxiv_error *err)
{
	struct arxiv_vec_reader *r = calloc(1, sizeof(*r));
	unsigned char h[HEADER_FIXED + 4];
	uint32_t version, hsize, esize, lsize;
	uint64_t pos;
	int c;

	if (r == NULL) {
		arxiv_error_set(err, name, 0, "out of memory");
		return NULL;
	}
	r->fp = fp;
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "<stdin>");
	if ((c = getc(fp)) == EOF) {
		arxiv_error_set(err, r->name, 0, ferror(fp) ? "read error: %s" :
		    "empty input: not an arxiv vector stream%s", ferror(fp) ? strerror(errno) : "");
		goto fail;
	}
	ungetc(c, fp);
	if (c == '{' || c == ' ' || c == '\n') {
		struct arxiv_vecrec rec;
		int st;

		r->jsonl = 1;
		if ((r->lines = arxiv_lines_new(fp, r->name, 0)) == NULL) {
			arxiv_error_set(err, r->name, 0, "out of memory");
			goto fail;
		}
		r->first = json_line(r, &st, &r->first_line, err);
		if (st == 0) {
			arxiv_error_set(err, r->name, 0, "empty input: no vector records");
			goto fail;
		}
		if (st < 0 || json_record(r, r->first, &rec, r->first_line, err) < 0)
			goto fail;
		return r;
	}
	if (readn(fp, h, HEADER_FIXED + 4) != 1 || memcmp(h, ARXIV_VEC_MAGIC, 8) != 0) {
		if (memcmp(h, ARXIV_VEC_MAGIC, 8) == 0)
			arxiv_error_set(err, r->name, 0, "truncated header");
		else
			arxiv_error_set(err, r->name, 0, "not an arxiv vector stream (bad magic); "
			    "did you forget arxiv-embed -e?");
		goto fail;
	}
	version = le32(h + 8);
	hsize = le32(h + 12);
	r->dim = le32(h + 16);
	r->n_records = le64(h + 24);
	esize = le32(h + 32);
	if (version != ARXIV_VEC_VERSION) {
		arxiv_error_set(err, r->name, 0, "unsupported vector stream version %u (this reads %d)",
		    version, ARXIV_VEC_VERSION);
		goto fail;
	}
	if (r->dim == 0 || r->dim > ARXIV_VEC_MAX_DIM || esize == 0 || esize > ARXIV_VEC_MAX_EMBEDDER) {
		arxiv_error_set(err, r->name, 0, "inconsistent header (dim %zu, embedder size %u)",
		    r->dim, esize);
		goto fail;
	}
	if ((r->embedder = read_string(fp, esize)) == NULL || readn(fp, h, 4) != 1 ||
	    (lsize = le32(h)) > 4096 || (r->dir = read_string(fp, lsize)) == NULL) {
		arxiv_error_set(err, r->name, 0, "truncated header");
		goto fail;
	}
	pos = HEADER_FIXED + 4 + esize + 4 + lsize;
	if (hsize < pos) {
		arxiv_error_set(err, r->name, 0, "inconsistent header (header size %u)", hsize);
		goto fail;
	}
	for (; pos < hsize; pos++)
		if (getc(fp) == EOF) {
			arxiv_error_set(err, r->name, 0, "truncated header");
			goto fail;
		}
	if (strlen(r->embedder) != esize || arxiv_utf8_check(r->embedder, esize) >= 0) {
		arxiv_error_set(err, r->name, 0, "invalid embedder identity in the header");
		goto fail;
	}
	if ((r->v = malloc(r->dim * sizeof(float))) == NULL) {
		arxiv_error_set(err, r->name, 0, "out of memory");
		goto fail;
	}
	return r;
fail:
	arxiv_vec_close(r);
	return NULL;
}

size_t
arxiv_vec_dim(const struct arxiv_vec_reader *r)
{
	return r->dim;
}

const char *
arxiv_vec_embedder(const struct arxiv_vec_reader *r)
{
	return r->embedder;
}

const char *
arxiv_vec_embedder_dir(const struct arxiv_vec_reader *r)
{
	return r->dir ? r->dir : "";
}

int
arxiv_vec_next(struct arxiv_vec_reader *r, struct arxiv_vecrec *rec, struct arxiv_error *err)
{
	static const uint32_t limit[4] = { ARXIV_VEC_MAX_ID, ARXIV_VEC_MAX_TITLE, ARXIV_VEC_MAX_FIELD,
		ARXIV_VEC_MAX_CATEGORIES };
	static const char *const what[4] = { "id", "title", "field", "categories" };
	unsigned char b[4];
	uint32_t len[4];
	size_t off = 0, i, need;
	long recno;
	int st;

	if (r->jsonl) {
		json_t *o;
		long line;

		if (r->first) {
			o = r->first;
			r->first = NULL;
			line = r->first_line;
		} else if ((o = json_line(r, &st, &line, err)) == NULL)
			return st;
		st = json_record(r, o, rec, line, err);
		json_decref(o);
		if (st > 0)
			r->rec++;
		return st;
	}
	recno = (long)r->rec + 1;
	if (r->n_records && r->rec == r->n_records) {
		if (getc(r->fp) != EOF) {
			arxiv_error_set(err, r->name, recno, "more records than the header's %llu",
			    (unsigned long long)r->n_records);
			return -1;
		}
		return 0;
	}
	for (i = 0; i < 4; i++) {
		size_t w = i == 1 ? 4 : 2;

		st = readn(r->fp, b, w);
		if (st == 0 && i == 0) {
			if (r->n_records && r->rec < r->n_records) {
				arxiv_error_set(err, r->name, recno, "truncated stream: %llu of %llu records",
				    (unsigned long long)r->rec, (unsigned long long)r->n_records);
				return -1;
			}
			return 0;
		}
		if (st != 1)
			goto truncated;
		len[i] = w == 4 ? le32(b) : (uint32_t)b[0] | (uint32_t)b[1] << 8;
		if (len[i] > limit[i] || (i == 0 && len[i] == 0)) {
			arxiv_error_set(err, r->name, recno, "record %ld: %s of %u bytes (limit %u)", recno,
			    what[i], len[i], limit[i]);
			return -1;
		}
		need = off + len[i] + 1 + (i < 3 ? (i == 0 ? 4 : 2) : 0);
		if (need > r->bufcap) {
			char *nb = realloc(r->buf, need + 256);

			if (nb == NULL) {
				arxiv_error_set(err, r->name, recno, "out of memory");
				return -1;
			}
			r->buf = nb;
			r->bufcap = need + 256;
		}
		if (len[i] && readn(r->fp, r->buf + off, len[i]) != 1)
			goto truncated;
		r->buf[off + len[i]] = '\0';
		off += len[i] + 1;
	}
	/* the vector in one read (a fread per value cost a third of a loader's time),
	 * then decoded in place */
	if (r->dim && readn(r->fp, r->v, r->dim * 4) != 1)
		goto truncated;
	for (i = 0; i < r->dim; i++) {
		uint32_t u;
		float f;

		u = le32((const unsigned char *)r->v + 4 * i);
		memcpy(&f, &u, 4);
		if (!isfinite(f)) {
			arxiv_error_set(err, r->name, recno, "record %ld: value %zu is not finite", recno, i);
			return -1;
		}
		r->v[i] = f;
	}
	point_record(r, len[0], len[1], len[2], len[3], rec);
	if (memchr(rec->id, 0, rec->id_len) || !valid_text(rec->id, rec->id_len) ||
	    !valid_text(rec->title, rec->title_len) || !valid_text(rec->field, rec->field_len) ||
	    !valid_text(rec->categories, rec->categories_len)) {
		arxiv_error_set(err, r->name, recno, "record %ld: invalid UTF-8 or NUL in the id", recno);
		return -1;
	}
	r->rec++;
	return 1;
truncated:
	arxiv_error_set(err, r->name, recno, ferror(r->fp) ? "record %ld: read error" :
	    "truncated record %ld", recno);
	return -1;
}

void
arxiv_vec_close(struct arxiv_vec_reader *r)
{
	if (r == NULL)
		return;
	json_decref(r->first);
	arxiv_lines_free(r->lines);
	free(r->embedder);
	free(r->dir);
	free(r->buf);
	free(r->v);
	free(r);
}

/* ------------------------------------------------------------------ writer */

struct arxiv_vec_writer *
arxiv_vec_create(FILE *fp, size_t dim, const char *embedder, const char *embedder_dir, int jsonl,
    struct arxiv_error *err)
{
	struct arxiv_vec_writer *w;
	unsigned char h[HEADER_FIXED + 4];
	size_t esize = embedder ? strlen(embedder) : 0, lsize;

	if (embedder_dir == NULL)
		embedder_dir = "";
	lsize = strlen(embedder_dir);
	if (dim == 0 || dim > ARXIV_VEC_MAX_DIM || esize == 0 || esize > ARXIV_VEC_MAX_EMBEDDER ||
	    lsize > 4096) {
		arxiv_error_set(err, "", 0, "vector stream: bad dimension or embedder identity");
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->embedder = strdup(embedder)) == NULL ||
	    (w->dir = strdup(embedder_dir)) == NULL) {
		if (w)
			free(w->embedder);
		free(w);
		arxiv_error_set(err, "", 0, "out of memory");
		return NULL;
	}
	w->fp = fp;
	w->dim = dim;
	w->jsonl = jsonl;
	w->start = -1;
	if (jsonl)
		return w;
	w->start = ftello(fp);
	memcpy(h, ARXIV_VEC_MAGIC, 8);
	put32(h + 8, ARXIV_VEC_VERSION);
	put32(h + 12, (uint32_t)(HEADER_FIXED + 4 + esize + 4 + lsize));
	put32(h + 16, (uint32_t)dim);
	put32(h + 20, 0);
	put32(h + 24, 0);
	put32(h + 28, 0);
	put32(h + 32, (uint32_t)esize);
	fwrite(h, 1, sizeof(h), fp);
	fwrite(embedder, 1, esize, fp);
	put32(h, (uint32_t)lsize);
	fwrite(h, 1, 4, fp);
	fwrite(embedder_dir, 1, lsize, fp);
	return w;
}

static int
json_str(struct arxiv_buf *b, const char *key, const char *s, size_t n)
{
	return arxiv_buf_printf(b, "\"%s\":\"", key) < 0 || arxiv_json_escape(s, n, b) < 0 ||
	    arxiv_buf_putc(b, '"') < 0 ? -1 : 0;
}

int
arxiv_vec_write(struct arxiv_vec_writer *w, const struct arxiv_vecrec *rec, struct arxiv_error *err)
{
	size_t i;

	if (rec->id_len == 0 || rec->id_len > ARXIV_VEC_MAX_ID || rec->title_len > ARXIV_VEC_MAX_TITLE ||
	    rec->field_len > ARXIV_VEC_MAX_FIELD || rec->categories_len > ARXIV_VEC_MAX_CATEGORIES) {
		arxiv_error_set(err, "", (long)w->count + 1, "record %.*s: a string over its limit "
		    "(id 1..%d, title %d, field %d, categories %d bytes)", (int)(rec->id_len > 64 ? 64 :
		    rec->id_len), rec->id, ARXIV_VEC_MAX_ID, ARXIV_VEC_MAX_TITLE, ARXIV_VEC_MAX_FIELD,
		    ARXIV_VEC_MAX_CATEGORIES);
		return -1;
	}
	for (i = 0; i < w->dim; i++)
		if (!isfinite(rec->v[i])) {
			arxiv_error_set(err, "", (long)w->count + 1, "record %.*s: value %zu is not finite",
			    (int)rec->id_len, rec->id, i);
			return -1;
		}
	if (w->jsonl) {
		struct arxiv_buf *b = &w->line;

		arxiv_buf_clear(b);
		if (arxiv_buf_putc(b, '{') < 0 || json_str(b, "id", rec->id, rec->id_len) < 0 ||
		    arxiv_buf_putc(b, ',') < 0 || json_str(b, "title", rec->title, rec->title_len) < 0 ||
		    arxiv_buf_putc(b, ',') < 0 || json_str(b, "field", rec->field, rec->field_len) < 0 ||
		    arxiv_buf_putc(b, ',') < 0 ||
		    json_str(b, "categories", rec->categories, rec->categories_len) < 0 ||
		    arxiv_buf_putc(b, ',') < 0 || json_str(b, "embedder", w->embedder, strlen(w->embedder)) < 0 ||
		    arxiv_buf_putc(b, ',') < 0 || json_str(b, "embedder_dir", w->dir, strlen(w->dir)) < 0 ||
		    arxiv_buf_printf(b, ",\"embedding\":[") < 0)
			goto oom;
		for (i = 0; i < w->dim; i++)
			if (arxiv_buf_printf(b, i ? ",%.9g" : "%.9g", (double)rec->v[i]) < 0)
				goto oom;
		if (arxiv_buf_append(b, "]}\n", 3) < 0)
			goto oom;
		fwrite(b->data, 1, b->len, w->fp);
	} else {
		unsigned char h[4];
		const char *s[4] = { rec->id, rec->title, rec->field, rec->categories };
		size_t n[4] = { rec->id_len, rec->title_len, rec->field_len, rec->categories_len };

		for (i = 0; i < 4; i++) {
			put32(h, (uint32_t)n[i]);
			fwrite(h, 1, i == 1 ? 4 : 2, w->fp);
			fwrite(s[i], 1, n[i], w->fp);
		}
		for (i = 0; i < w->dim; i++) {
			uint32_t u;

			memcpy(&u, &rec->v[i], 4);
			put32(h, u);
			fwrite(h, 1, 4, w->fp);
		}
	}
	w->count++;
	return 0;
oom:
	arxiv_error_set(err, "", (long)w->count + 1, "out of memory");
	return -1;
}

int
arxiv_vec_finish(struct arxiv_vec_writer *w, struct arxiv_error *err)
{
	int rc = 0;

	if (w == NULL)
		return 0;
	if (fflush(w->fp) == EOF || ferror(w->fp)) {
		arxiv_error_set(err, "", 0, "write error: %s", strerror(errno));
		rc = -1;
	} else if (!w->jsonl && w->start >= 0 && fseeko(w->fp, w->start + 24, SEEK_SET) == 0) {
		unsigned char h[8];

		put32(h, (uint32_t)w->count);
		put32(h + 4, (uint32_t)(w->count >> 32));
		if (fwrite(h, 1, 8, w->fp) != 8 || fseeko(w->fp, 0, SEEK_END) != 0 ||
		    fflush(w->fp) == EOF) {
			arxiv_error_set(err, "", 0, "write error: %s", strerror(errno));
			rc = -1;
		}
	}
	arxiv_buf_free(&w->line);
	free(w->embedder);
	free(w->dir);
	free(w);
	return rc;
}

/* util.c - errors, logging, buffers, hashing, data paths, the line reader. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"

#ifndef DATADIR
#define DATADIR "/usr/local/share/arxiv"
#endif

void
arxiv_error_set(struct arxiv_error *e, const char *source, long line, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	snprintf(e->source, sizeof(e->source), "%s", source ? source : "");
	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
}

const char *
arxiv_error_str(const struct arxiv_error *e, char *buf, size_t n)
{
	if (e->source[0] && e->line > 0)
		snprintf(buf, n, "%s:%ld: %s", e->source, e->line, e->text);
	else if (e->source[0])
		snprintf(buf, n, "%s: %s", e->source, e->text);
	else
		snprintf(buf, n, "%s", e->text);
	return buf;
}

static void (*log_fn)(int, const char *, void *);
static void *log_ud;

void
arxiv_set_log(void (*fn)(int level, const char *msg, void *ud), void *ud)
{
	log_fn = fn;
	log_ud = ud;
}

void
arxiv_log(int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (log_fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(level, msg, log_ud);
}

int
arxiv_buf_reserve(struct arxiv_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
arxiv_buf_append(struct arxiv_buf *b, const void *p, size_t n)
{
	if (arxiv_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
arxiv_buf_putc(struct arxiv_buf *b, int c)
{
	char ch = (char)c;

	return arxiv_buf_append(b, &ch, 1);
}

int
arxiv_buf_printf(struct arxiv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || arxiv_buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
arxiv_buf_clear(struct arxiv_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
arxiv_buf_free(struct arxiv_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const char *
arxiv_data_path(const char *name, char *buf, size_t n)
{
	const char *dir = getenv("ARXIV_DATADIR");

	snprintf(buf, n, "%s/%s", dir && *dir ? dir : DATADIR, name);
	return buf;
}

uint64_t
arxiv_hash64(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = 14695981039346656037ULL, z;
	size_t i;

	if (seed) {
		/* splitmix64 of the seed, folded into the offset basis */
		z = seed + 0x9e3779b97f4a7c15ULL;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		h ^= z ^ (z >> 31);
	}
	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

long
arxiv_utf8_check(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k, len;
	uint32_t cp, min;

	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2; cp = c & 0x1f; min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3; cp = c & 0x0f; min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4; cp = c & 0x07; min = 0x10000;
		} else
			return (long)i;
		if (n - i < len)
			return (long)i;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return (long)i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (long)i;
		i += len;
	}
	return -1;
}

/* ------------------------------------------------------------ line reader */

struct arxiv_lines {
	FILE *fp;
	char name[64];
	size_t max;
	char *buf;
	size_t cap;
	long lineno;
	int ioerr;
};

struct arxiv_lines *
arxiv_lines_new(FILE *fp, const char *name, size_t max_len)
{
	struct arxiv_lines *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->fp = fp;
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "<stdin>");
	r->max = max_len ? max_len : ARXIV_MAX_LINE;
	r->cap = 4096;
	if ((r->buf = malloc(r->cap)) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

int
arxiv_lines_next(struct arxiv_lines *r, const char **line, size_t *len, struct arxiv_error *err)
{
	size_t n = 0;
	int c, toolong = 0, nul = 0;
	char *p;

	for (;;) {
		c = getc_unlocked(r->fp);
		if (c == EOF) {
			if (ferror(r->fp)) {
				r->ioerr = errno ? errno : EIO;
				arxiv_error_set(err, r->name, r->lineno + 1, "read error: %s",
				    strerror(r->ioerr));
				return -1;
			}
			if (n == 0 && !toolong && !nul)
				return 0;
			break;
		}
		if (c == '\n')
			break;
		if (c == '\0')
			nul = 1;
		if (toolong)
			continue;
		if (n >= r->max) {
			toolong = 1;
			continue;
		}
		if (n + 2 > r->cap) {
			size_t cap = r->cap * 2;
			if (cap > r->max + 2)
				cap = r->max + 2;
			if ((p = realloc(r->buf, cap)) == NULL) {
				arxiv_error_set(err, r->name, r->lineno + 1, "out of memory");
				r->ioerr = ENOMEM;
				return -1;
			}
			r->buf = p;
			r->cap = cap;
		}
		r->buf[n++] = (char)c;
	}
	r->lineno++;
	if (toolong) {
		arxiv_error_set(err, r->name, r->lineno, "line longer than %zu bytes", r->max);
		return -1;
	}
	if (nul) {
		arxiv_error_set(err, r->name, r->lineno, "NUL byte in line");
		return -1;
	}
	if (n > 0 && r->buf[n - 1] == '\r')
		n--;
	r->buf[n] = '\0';
	*line = r->buf;
	*len = n;
	return 1;
}

long
arxiv_lines_lineno(const struct arxiv_lines *r)
{
	return r->lineno;
}

const char *
arxiv_lines_name(const struct arxiv_lines *r)
{
	return r->name;
}

int
arxiv_lines_ioerr(const struct arxiv_lines *r)
{
	return r->ioerr;
}

void
arxiv_lines_free(struct arxiv_lines *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r);
}

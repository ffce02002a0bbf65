/*
 * text_steps.c - the pure Unicode steps of the cleaning pipeline (text.c):
 * NFKC (utf8proc), the character filter, whitespace collapse and case
 * folding, and their public arxiv_text_* calls. Each is a pure function of
 * its input.
 */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "text_int.h"

/* ------------------------------------------------------------- helpers */

void
text_scratch_free(struct scratch *s)
{
	free(s->u32);
	s->u32 = NULL;
	s->cap = 0;
}

static int
scratch_reserve(struct scratch *s, size_t n)
{
	utf8proc_int32_t *p;
	size_t cap;

	if (n <= s->cap)
		return 0;
	cap = s->cap ? s->cap : 1024;
	while (cap < n)
		cap *= 2;
	if ((p = realloc(s->u32, cap * sizeof(*p))) == NULL)
		return -1;
	s->u32 = p;
	s->cap = cap;
	return 0;
}

static int
put_cp(struct arxiv_buf *out, utf8proc_int32_t cp)
{
	utf8proc_uint8_t u[4];
	utf8proc_ssize_t k = utf8proc_encode_char(cp, u);

	return arxiv_buf_append(out, u, (size_t)k);
}

/* ------------------------------------------------------------------ NFKC */

#define NFKC_OPTS (UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE)

/* NFKC of one segment appended to out. */
static int
nfkc_segment(struct scratch *s, const char *in, size_t n, struct arxiv_buf *out)
{
	utf8proc_ssize_t k;

	if (n == 0)
		return 0;
	if (scratch_reserve(s, n + 1) < 0)
		return -1;
	for (;;) {
		k = utf8proc_decompose((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)n,
		    s->u32, (utf8proc_ssize_t)s->cap - 1, NFKC_OPTS);
		if (k < 0)
			return -1;
		if ((size_t)k < s->cap)
			break;
		if (scratch_reserve(s, (size_t)k + 1) < 0)
			return -1;
	}
	k = utf8proc_reencode(s->u32, k, NFKC_OPTS);
	if (k < 0)
		return -1;
	return arxiv_buf_append(out, s->u32, (size_t)k);
}

/*
 * ASCII is its own NFKC, and an ASCII character followed by another ASCII
 * character can neither compose with its neighbours nor be reordered, so only
 * the stretches around non-ASCII bytes (with the ASCII base before them) go
 * through utf8proc; the rest is copied.
 */
int
text_nfkc(struct scratch *s, const char *in, size_t n, struct arxiv_buf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, a, j;

	arxiv_buf_clear(out);
	if (arxiv_buf_reserve(out, n) < 0)
		return -1;
	while (i < n) {
		for (j = i; j < n && p[j] < 0x80; j++)
			;
		if (j == n) {
			if (arxiv_buf_append(out, in + i, n - i) < 0)
				return -1;
			break;
		}
		/* j: first non-ASCII byte; keep the base character before it */
		a = j > i ? j - 1 : j;
		if (arxiv_buf_append(out, in + i, a - i) < 0)
			return -1;
		/* end: first ASCII byte followed by ASCII or the end */
		for (j++; j < n; j++)
			if (p[j] < 0x80 && (j + 1 == n || p[j + 1] < 0x80))
				break;
		if (nfkc_segment(s, in + a, j - a, out) < 0)
			return -1;
		i = j;
	}
	if (out->data == NULL && arxiv_buf_reserve(out, 0) < 0)
		return -1;
	out->data[out->len] = '\0';
	return 0;
}

/* LaTeX to words: latex.c (text_latex). */

/* --------------------------------------------------------------- filter */

/* 1: letter or number; 2: combining mark; 3: whitespace; 0: other. */
static int
char_class(utf8proc_int32_t cp)
{
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
		return 1;
	case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
		return 2;
	default:
		return is_space_cp(cp) ? 3 : 0;
	}
}

int
text_filter(const char *s, size_t n, struct arxiv_buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start;
	utf8proc_int32_t cp;
	int k, cls, prev = 0;	/* prev: class of the last character kept */
	unsigned char c;

	arxiv_buf_clear(out);
	if (arxiv_buf_reserve(out, n) < 0)
		return -1;
	while (i < n) {
		/* a run of ASCII letters and digits is copied as is */
		start = i;
		while (i < n && ((c = p[i]) >= 'a' ? c <= 'z' :
		    (c >= 'A' ? c <= 'Z' : (c >= '0' && c <= '9'))))
			i++;
		if (i > start) {
			memcpy(out->data + out->len, s + start, i - start);
			out->len += i - start;
			prev = 1;
			continue;
		}
		c = p[i];
		if (c < 0x80) {
			if (c == ' ' || (c >= '\t' && c <= '\r')) {
				out->data[out->len++] = (char)c;
				prev = 3;
			} else {
				out->data[out->len++] = ' ';
				prev = 0;
			}
			i++;
			continue;
		}
		if ((k = decode(s, i, n, &cp)) < 0)
			return -1;
		cls = char_class(cp);
		/* a combining mark stays only on a kept letter or digit */
		if (cls == 1 || cls == 3 || (cls == 2 && (prev == 1 || prev == 2))) {
			memcpy(out->data + out->len, s + i, (size_t)k);
			out->len += (size_t)k;
			prev = cls;
		} else {
			out->data[out->len++] = ' ';
			prev = 0;
		}
		i += (size_t)k;
	}
	out->data[out->len] = '\0';
	return 0;
}

/* ---------------------------------------------------------------- space */

int
text_space(const char *s, size_t n, struct arxiv_buf *out)
{
	size_t i = 0, k, start;
	utf8proc_int32_t cp;
	int gap = 0, k2;

	arxiv_buf_clear(out);
	if (arxiv_buf_reserve(out, n) < 0)
		return -1;
	while (i < n) {
		if ((k = space_len(s, i, n)) > 0) {
			gap = 1;
			i += k;
			continue;
		}
		if (gap && out->len > 0)
			out->data[out->len++] = ' ';
		gap = 0;
		start = i;
		if ((unsigned char)s[i] >= 0x80) {
			if ((k2 = decode(s, i, n, &cp)) < 0)
				return -1;
			i += (size_t)k2;
		} else
			i++;
		while (i < n && (unsigned char)s[i] > ' ' && (unsigned char)s[i] < 0x80)
			i++;
		memcpy(out->data + out->len, s + start, i - start);
		out->len += i - start;
	}
	out->data[out->len] = '\0';
	return 0;
}

/* ------------------------------------------------------------- casefold */

int
text_casefold(const char *s, size_t n, struct arxiv_buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	utf8proc_int32_t cp, dst[32];
	utf8proc_ssize_t m, q;
	int last = 0, k;
	size_t i = 0;
	unsigned char c;

	arxiv_buf_clear(out);
	if (arxiv_buf_reserve(out, n) < 0)
		return -1;
	while (i < n) {
		c = p[i];
		if (c < 0x80) {
			if (arxiv_buf_reserve(out, n - i) < 0)
				return -1;
			for (; i < n && (c = p[i]) < 0x80; i++)
				out->data[out->len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			continue;
		}
		if ((k = decode(s, i, n, &cp)) < 0)
			return -1;
		m = utf8proc_decompose_char(cp, dst, 32, UTF8PROC_CASEFOLD, &last);
		if (m < 0 || m > 32)
			return -1;
		for (q = 0; q < m; q++)
			if (put_cp(out, dst[q]) < 0)
				return -1;
		i += (size_t)k;
	}
	if (arxiv_buf_reserve(out, 0) < 0)
		return -1;
	out->data[out->len] = '\0';
	return 0;
}


/* --------------------------------------------------- public pure steps */

int
arxiv_text_nfkc(const char *in, size_t n, struct arxiv_buf *out)
{
	struct scratch s = { NULL, 0 };
	int r = text_nfkc(&s, in, n, out);

	text_scratch_free(&s);
	return r;
}

int
arxiv_text_latex(const char *in, size_t n, struct arxiv_buf *out)
{
	if (arxiv_utf8_check(in, n) >= 0)
		return -1;
	return text_latex(in, n, out);
}

int
arxiv_text_filter(const char *in, size_t n, struct arxiv_buf *out)
{
	return text_filter(in, n, out);
}

int
arxiv_text_space(const char *in, size_t n, struct arxiv_buf *out)
{
	return text_space(in, n, out);
}

int
arxiv_text_casefold(const char *in, size_t n, struct arxiv_buf *out)
{
	return text_casefold(in, n, out);
}

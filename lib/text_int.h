/*
 * text_int.h - what the cleaner (text.c) shares with its pure Unicode steps
 * (text_steps.c): the code point scratch buffer, the small UTF-8 helpers of
 * the cleaner's fast paths (inline), and the steps. Not installed.
 */
#ifndef ARXIV_TEXT_INT_H
#define ARXIV_TEXT_INT_H

#include <stdint.h>
#include <string.h>

#include <utf8proc.h>

#include "arxiv.h"
#include "internal.h"

/* Scratch space for the Unicode steps: a code point buffer for utf8proc. */
struct scratch {
	utf8proc_int32_t *u32;
	size_t cap;		/* entries */
};

static inline int
is_ascii(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t w, acc = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= p[i];
	return (acc & 0x8080808080808080ULL) == 0;
}

/* Decode one code point at s[i]; returns its length (>0) or -1 if invalid. */
static inline int
decode(const char *s, size_t i, size_t n, utf8proc_int32_t *cp)
{
	utf8proc_ssize_t k;

	k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), cp);
	return k > 0 ? (int)k : -1;
}

/* Unicode whitespace: ASCII blanks, NEL, Zs, line and paragraph separators. */
static inline int
is_space_cp(utf8proc_int32_t cp)
{
	if (cp < 0x80)
		return cp == ' ' || (cp >= '\t' && cp <= '\r');
	if (cp == 0x85 || cp == 0x2028 || cp == 0x2029)
		return 1;
	return utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
}

/* Byte length of the whitespace character at s[i], or 0 if none there. */
static inline size_t
space_len(const char *s, size_t i, size_t n)
{
	unsigned char c = (unsigned char)s[i];
	utf8proc_int32_t cp;
	int k;

	if (c < 0x80)
		return (c == ' ' || (c >= '\t' && c <= '\r')) ? 1 : 0;
	if ((k = decode(s, i, n, &cp)) < 0)
		return 0;
	return is_space_cp(cp) ? (size_t)k : 0;
}

/* text_steps.c: the step's output for in[0..n) into out (cleared first); 0,
 * or -1 (invalid UTF-8, out of memory). */
void text_scratch_free(struct scratch *s);
int text_nfkc(struct scratch *s, const char *in, size_t n, struct arxiv_buf *out);
int text_filter(const char *s, size_t n, struct arxiv_buf *out);
int text_space(const char *s, size_t n, struct arxiv_buf *out);
int text_casefold(const char *s, size_t n, struct arxiv_buf *out);

#endif

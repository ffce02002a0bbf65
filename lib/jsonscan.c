/*
 * jsonscan.c - the fast path of the JSONL filters: a strict, allocation-free
 * scanner that validates one JSON object line and finds the raw string values
 * of a few top-level keys, plus string unescaping and jansson-compatible
 * escaping. It answers "plain" only when it is sure that jansson's json_loadb()
 * accepts the line and yields the same values; for everything else the caller
 * parses with jansson, which also gives every error message
 * (tests/fuzz/fuzz_jsonscan.c compares the two).
 *
 * Why not a library: jansson builds a tree of allocated values (about 70% of
 * arxiv-map's time); jsmn (libjsmn-dev) neither validates UTF-8, numbers or
 * literals nor decodes escapes, so it would need this validation anyway;
 * simdjson is C++.
 */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <utf8proc.h>

#include "arxiv.h"
#include "internal.h"

#define SCAN_DEPTH	64	/* deeper: not plain (jansson allows 2048) */
#define SCAN_OBJKEYS	32	/* more keys in one object with NODUP: not plain */

struct scan {
	const char *end;
	struct arxiv_json_key *keys;
	size_t nkeys;
	unsigned flags;
	int blanks;
};

/* 1 for the bytes a string may hold without a closer look. */
static const unsigned char plain_byte[256] = {
#define R4(x) x, x, x, x
#define R16(x) R4(x), R4(x), R4(x), R4(x)
	R16(0), R16(0),				/* 0x00-0x1f: control */
	1, 1, 0, 1, R4(1), R4(1), R4(1),	/* 0x20-0x2f: '"' */
	R16(1),					/* 0x30-0x3f */
	R16(1),					/* 0x40-0x4f */
	R4(1), R4(1), R4(1), 0, 1, 1, 1,	/* 0x50-0x5f: '\\' */
	R16(1), R16(1),				/* 0x60-0x7f */
	R16(0), R16(0), R16(0), R16(0),		/* 0x80-0xbf */
	R16(0), R16(0), R16(0), R16(0),		/* 0xc0-0xff */
#undef R16
#undef R4
};

/*
 * Eight bytes at a time: nonzero when one of the 8 bytes at p may be below
 * 0x20, '"' or '\\' (and, with high, >= 0x80). Exact for "none": a byte that is
 * one of them always sets its high bit (the lowest one sees no borrow).
 */
#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

static uint64_t
special8(const unsigned char *p, int high)
{
	uint64_t v, q, b;

	memcpy(&v, p, 8);
	q = v ^ (ONES * '"');
	b = v ^ (ONES * '\\');
	return (((v - ONES * 0x20) & ~v) | ((q - ONES) & ~q) | ((b - ONES) & ~b) |
	    (high ? v : 0)) & HIGHS;
}

static const char *
skip_ws(struct scan *sc, const char *p)
{
	while (p < sc->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
		sc->blanks = 1;
		p++;
	}
	return p;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The 4 hex digits at p as a number, or -1. */
static long
hex4(const char *p, const char *end)
{
	long v = 0;
	int i, h;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((h = hexval(p[i])) < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}


/* p after the opening quote; returns the closing quote or NULL (not plain). */
static const char *
scan_string(const char *p, const char *end, int *escaped)
{
	const unsigned char *u = (const unsigned char *)p, *ue = (const unsigned char *)end;
	size_t k;
	long c, l;

	*escaped = 0;
	for (;;) {
#if defined(__SSE2__)
		/* 16 bytes at a time to the first '"', '\\', control or non-ASCII byte
		 * (a signed compare: the bytes >= 0x80 are below 0x20 too) */
		while (ue - u >= 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)u);
			int m = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(
			    _mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x,
			    _mm_set1_epi8('\\'))), _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))));

			if (m) {
				u += __builtin_ctz((unsigned)m);
				break;
			}
			u += 16;
		}
#endif
		while (ue - u >= 8 && special8(u, 1) == 0)
			u += 8;
		while (u < ue && plain_byte[*u])
			u++;
		if (u >= ue)
			return NULL;
		if (*u == '"')
			return (const char *)u;
		if (*u >= 0x80) {
			if ((k = arxiv_utf8_seq(u, ue)) == 0)
				return NULL;
			u += k;
			continue;
		}
		if (*u != '\\')
			return NULL;	/* control character */
		*escaped = 1;
		if (++u >= ue)
			return NULL;
		switch (*u) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			u++;
			break;
		case 'u':
			/* \u0000 and lone surrogates: jansson rejects them and says why */
			if ((c = hex4((const char *)u + 1, end)) <= 0 || (c >= 0xdc00 && c <= 0xdfff))
				return NULL;
			u += 5;
			if (c >= 0xd800 && c <= 0xdbff) {
				if (ue - u < 6 || u[0] != '\\' || u[1] != 'u' ||
				    (l = hex4((const char *)u + 2, end)) < 0xdc00 || l > 0xdfff)
					return NULL;
				u += 6;
			}
			break;
		default:
			return NULL;
		}
	}
}

/*
 * A number; NULL when invalid, and also when jansson could refuse it for its
 * size ("too big integer", "real number overflow"): integers of more than 18
 * characters and any exponent go to jansson.
 */
static const char *
scan_number(const char *p, const char *end)
{
	const char *s = p;
	int real = 0;

	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (p < end && *p == '.') {
		real = 1;
		if (++p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
		return NULL;
	if (p - s > (real ? 300 : 18))
		return NULL;
	return p;
}

static const char *scan_value(struct scan *sc, const char *p, int depth,
    struct arxiv_json_key *key);

/* The asked key named by the raw key s (n bytes, no escapes), or NULL. */
static struct arxiv_json_key *
find_key(struct scan *sc, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < sc->nkeys; i++)
		if (strncmp(sc->keys[i].name, s, n) == 0 && sc->keys[i].name[n] == '\0')
			return &sc->keys[i];
	return NULL;
}

/* p at '{' or '['; returns the byte after the closer or NULL. */
static const char *
scan_container(struct scan *sc, const char *p, int depth)
{
	const char *end = sc->end, *k, *seen[SCAN_OBJKEYS];
	size_t seenlen[SCAN_OBJKEYS], nseen = 0, i, n;
	char close = *p == '{' ? '}' : ']';
	int obj = *p == '{', esc;
	struct arxiv_json_key *key;

	if (depth >= SCAN_DEPTH)
		return NULL;
	p = skip_ws(sc, p + 1);
	if (p < end && *p == close)
		return p + 1;
	for (;;) {
		key = NULL;
		if (obj) {
			if (p >= end || *p != '"' || (k = scan_string(p + 1, end, &esc)) == NULL)
				return NULL;
			n = (size_t)(k - p - 1);
			/* an escaped key could spell an asked or a repeated one */
			if (esc && (depth == 0 || (sc->flags & ARXIV_JSON_NODUP)))
				return NULL;
			if (sc->flags & ARXIV_JSON_NODUP) {
				if (nseen == SCAN_OBJKEYS)
					return NULL;
				for (i = 0; i < nseen; i++)
					if (seenlen[i] == n && memcmp(seen[i], p + 1, n) == 0)
						return NULL;
				seen[nseen] = p + 1;
				seenlen[nseen++] = n;
			}
			if (depth == 0 && (key = find_key(sc, p + 1, n)) != NULL) {
				/* repeated: jansson keeps the last one; not worth it */
				if (key->want == ARXIV_JSON_ABSENT || key->val != NULL)
					return NULL;
			}
			p = skip_ws(sc, k + 1);
			if (p >= end || *p != ':')
				return NULL;
			p = skip_ws(sc, p + 1);
		}
		if ((p = scan_value(sc, p, depth + 1, key)) == NULL)
			return NULL;
		p = skip_ws(sc, p);
		if (p < end && *p == ',') {
			p = skip_ws(sc, p + 1);
			continue;
		}
		if (p < end && *p == close)
			return p + 1;
		return NULL;
	}
}

static const char *
scan_value(struct scan *sc, const char *p, int depth, struct arxiv_json_key *key)
{
	const char *end = sc->end, *q;
	size_t n;
	int esc;

	if (p >= end)
		return NULL;
	if (*p == '"') {
		if ((q = scan_string(p + 1, end, &esc)) == NULL)
			return NULL;
		if (key != NULL) {
			key->val = p + 1;
			key->len = (size_t)(q - p - 1);
			key->escaped = esc;
		}
		return q + 1;
	}
	if (key != NULL)
		return NULL;	/* not a string: jansson's path reports it */
	switch (*p) {
	case '{':
	case '[':
		return scan_container(sc, p, depth);
	case 't':
		q = "true";
		break;
	case 'f':
		q = "false";
		break;
	case 'n':
		q = "null";
		break;
	default:
		return scan_number(p, end);
	}
	n = strlen(q);
	if ((size_t)(end - p) < n || memcmp(p, q, n) != 0)
		return NULL;
	return p + n;
}

int
arxiv_json_scan(const char *line, size_t len, struct arxiv_json_key *keys, size_t nkeys,
    unsigned flags, int *compact)
{
	struct scan sc;
	const char *p;
	size_t i;

	for (i = 0; i < nkeys; i++) {
		keys[i].val = NULL;
		keys[i].len = 0;
		keys[i].escaped = 0;
	}
	sc.end = line + len;
	sc.keys = keys;
	sc.nkeys = nkeys;
	sc.flags = flags;
	sc.blanks = 0;
	p = skip_ws(&sc, line);
	if (p >= sc.end || *p != '{' || (p = scan_container(&sc, p, 0)) == NULL ||
	    skip_ws(&sc, p) != sc.end)
		goto no;
	for (i = 0; i < nkeys; i++)
		if (keys[i].want == ARXIV_JSON_STRING && keys[i].val == NULL)
			goto no;
	if (compact != NULL)
		*compact = !sc.blanks;
	return 1;
no:
	for (i = 0; i < nkeys; i++)
		keys[i].val = NULL;
	return 0;
}

/* Append code point cp as UTF-8 (utf8proc's encoder). */
static int
put_utf8(struct arxiv_buf *b, long cp)
{
	utf8proc_uint8_t u[4];

	return arxiv_buf_append(b, u, (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, u));
}

int
arxiv_json_unescape(const char *raw, size_t n, struct arxiv_buf *out)
{
	const char *p = raw, *end = raw + n, *q;
	long u, l;
	char c;

	if (arxiv_buf_reserve(out, n) < 0)
		return -1;
	while (p < end) {
		if ((q = memchr(p, '\\', (size_t)(end - p))) == NULL)
			q = end;
		if (arxiv_buf_append(out, p, (size_t)(q - p)) < 0)
			return -1;
		if (q >= end)
			break;
		if (q + 1 >= end)
			return -1;
		p = q + 2;
		switch (q[1]) {
		case '"': case '\\': case '/': c = q[1]; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			if ((u = hex4(p, end)) < 0)
				return -1;
			p += 4;
			if (u >= 0xd800 && u <= 0xdbff) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    (l = hex4(p + 2, end)) < 0xdc00 || l > 0xdfff)
					return -1;
				p += 6;
				u = 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00);
			} else if (u >= 0xdc00 && u <= 0xdfff)
				return -1;
			if (put_utf8(out, u) < 0)
				return -1;
			continue;
		default:
			return -1;
		}
		if (arxiv_buf_putc(out, c) < 0)
			return -1;
	}
	return 0;
}

/* The short escapes of jansson's dumper; other controls are \u00XX. */
static const char esc_short[32] = {
	['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
};

int
arxiv_json_escape(const char *s, size_t n, struct arxiv_buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s, *e = p + n, *run;
	char seq[6];
	size_t k;

	if (arxiv_buf_reserve(out, n) < 0)
		return -1;
	while (p < e) {
		for (run = p; e - p >= 8 && special8(p, 0) == 0; p += 8)
			;
		for (; p < e && *p >= 0x20 && *p != '"' && *p != '\\'; p++)
			;
		if (p > run && arxiv_buf_append(out, run, (size_t)(p - run)) < 0)
			return -1;
		if (p == e)
			break;
		seq[0] = '\\';
		if (*p == '"' || *p == '\\') {
			seq[1] = (char)*p;
			k = 2;
		} else if (esc_short[*p]) {
			seq[1] = esc_short[*p];
			k = 2;
		} else {
			seq[1] = 'u';
			seq[2] = '0';
			seq[3] = '0';
			seq[4] = hex[*p >> 4];
			seq[5] = hex[*p & 15];
			k = 6;
		}
		if (arxiv_buf_append(out, seq, k) < 0)
			return -1;
		p++;
	}
	return 0;
}

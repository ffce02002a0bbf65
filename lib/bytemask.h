/*
 * bytemask.h - 64 bytes of text classified at once into bit masks (bit i:
 * byte i), with SSE2 where the compiler has it (every x86-64) and 8-byte
 * words elsewhere: the scanners of arxiv-stats walk runs of letters by
 * these masks instead of byte by byte. Private to libarxiv.
 */
#ifndef ARXIV_BYTEMASK_H
#define ARXIV_BYTEMASK_H

#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct bytemask {
	uint64_t alpha;		/* ASCII letters */
	uint64_t dollar;	/* '$' */
	uint64_t bslash;	/* '\\' */
	uint64_t high;		/* bytes >= 0x80 */
};

#if defined(__SSE2__) && !defined(BYTEMASK_GENERIC)
static inline void
bytemask16(const unsigned char *p, int at, struct bytemask *m)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
	/* letters: (x | 0x20) - 'a' < 26, as a signed compare shifted by 0x80 */
	__m128i l = _mm_add_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)),
	    _mm_set1_epi8((char)(0x80 - 'a')));
	__m128i a = _mm_cmplt_epi8(l, _mm_set1_epi8((char)(0x80 + 26)));

	m->alpha |= (uint64_t)(uint16_t)_mm_movemask_epi8(a) << at;
	m->dollar |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x,
	    _mm_set1_epi8('$'))) << at;
	m->bslash |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x,
	    _mm_set1_epi8('\\'))) << at;
	m->high |= (uint64_t)(uint16_t)_mm_movemask_epi8(x) << at;
}
#else
/* the high bit of each byte of x that equals c (no carries between bytes) */
static inline uint64_t
bytemask_eq8(uint64_t x, unsigned char c)
{
	const uint64_t hi = 0x8080808080808080ULL;
	uint64_t t = x ^ (0x0101010101010101ULL * c);

	return ~(((t & ~hi) + ~hi) | t) & hi;
}

/* the high bits of an 8-byte word's mask gathered into its 8 low bits */
static inline uint64_t
bytemask_gather8(uint64_t h)
{
	return ((h >> 7) * 0x0102040810204080ULL) >> 56;
}

static inline void
bytemask16(const unsigned char *p, int at, struct bytemask *m)
{
	const uint64_t hi = 0x8080808080808080ULL;
	int i;

	for (i = 0; i < 16; i += 8) {
		uint64_t x, y;

		memcpy(&x, p + i, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		x = __builtin_bswap64(x);
#endif
		y = (x | 0x2020202020202020ULL) & ~hi;
		m->alpha |= bytemask_gather8((y + 0x1f1f1f1f1f1f1f1fULL) &
		    ~(y + 0x0505050505050505ULL) & ~x & hi) << (at + i);
		m->dollar |= bytemask_gather8(bytemask_eq8(x, '$')) << (at + i);
		m->bslash |= bytemask_gather8(bytemask_eq8(x, '\\')) << (at + i);
		m->high |= bytemask_gather8(x & hi) << (at + i);
	}
}
#endif

/* The masks of the 64 bytes at p of which the first n (0..64) are text:
 * the bytes after read as zero bytes (no class). p[0..n) only is read. */
static inline void
bytemask64(const unsigned char *p, size_t n, struct bytemask *m)
{
	unsigned char b[64];
	int at;

	if (n < 64) {
		memset(b, 0, sizeof(b));
		memcpy(b, p, n);
		p = b;
	}
	memset(m, 0, sizeof(*m));
	for (at = 0; at < 64; at += 16)
		bytemask16(p + at, at, m);
}

/*
 * The classes of the WordPiece counter (tokcount.c; wordpiece.c's
 * wp_byte_class): letters and digits, split spaces (' ' \t \n \r),
 * dropped controls (the other bytes < 0x20, and 0x7f), '[', bytes >= 0x80.
 */
struct wordmask {
	uint64_t word;
	uint64_t space;
	uint64_t drop;
	uint64_t lbracket;
	uint64_t high;
};

#if defined(__SSE2__) && !defined(BYTEMASK_GENERIC)
static inline void
wordmask16(const unsigned char *p, int at, struct wordmask *m)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i l = _mm_add_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)),
	    _mm_set1_epi8((char)(0x80 - 'a')));
	__m128i d = _mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - '0')));
	__m128i w = _mm_or_si128(_mm_cmplt_epi8(l, _mm_set1_epi8((char)(0x80 + 26))),
	    _mm_cmplt_epi8(d, _mm_set1_epi8((char)(0x80 + 10))));
	__m128i sp = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')),
	    _mm_cmpeq_epi8(x, _mm_set1_epi8('\t'))), _mm_or_si128(_mm_cmpeq_epi8(x,
	    _mm_set1_epi8('\n')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\r'))));
	/* controls: 0 <= x < 0x20 (signed: the high bytes are below 0 too), and 0x7f */
	__m128i ctl = _mm_andnot_si128(_mm_cmplt_epi8(x, _mm_setzero_si128()),
	    _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
	__m128i drop = _mm_or_si128(_mm_andnot_si128(sp, ctl),
	    _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)));

	m->word |= (uint64_t)(uint16_t)_mm_movemask_epi8(w) << at;
	m->space |= (uint64_t)(uint16_t)_mm_movemask_epi8(sp) << at;
	m->drop |= (uint64_t)(uint16_t)_mm_movemask_epi8(drop) << at;
	m->lbracket |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x,
	    _mm_set1_epi8('['))) << at;
	m->high |= (uint64_t)(uint16_t)_mm_movemask_epi8(x) << at;
}
#else
static inline void
wordmask16(const unsigned char *p, int at, struct wordmask *m)
{
	int i;

	for (i = 0; i < 16; i++) {
		unsigned c = p[i];
		uint64_t bit = (uint64_t)1 << (at + i);
		unsigned l = c | 0x20;

		if ((l >= 'a' && l <= 'z') || (c >= '0' && c <= '9'))
			m->word |= bit;
		else if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			m->space |= bit;
		else if (c < 0x20 || c == 0x7f)
			m->drop |= bit;
		else if (c >= 0x80)
			m->high |= bit;
		else if (c == '[')
			m->lbracket |= bit;
	}
}
#endif

/* The word masks of the 64 bytes at p of which the first n (0..64) are
 * text: the bytes after read as none of the classes. */
static inline __attribute__((always_inline)) void
wordmask64(const unsigned char *p, size_t n, struct wordmask *m)
{
	unsigned char b[64];
	int at;

	memset(m, 0, sizeof(*m));
	if (n < 64) {
		uint64_t valid = ((uint64_t)1 << n) - 1;

		memset(b, ' ', sizeof(b));
		memcpy(b, p, n);
		for (at = 0; at < 64; at += 16)
			wordmask16(b + at, at, m);
		m->space &= valid;
		return;
	}
	for (at = 0; at < 64; at += 16)
		wordmask16(p + at, at, m);
}

/* The 8 bytes at p as a word in memory order, bit 5 of each set (a letter
 * lowercased, a digit kept), the bytes from the r-th on cleared (r 0..;
 * 8 or more keeps all): a run's next 8 bytes, zero-padded, for a key. */
static inline uint64_t
bytemask_lower8(const unsigned char *p, size_t r)
{
	uint64_t x, keep;

	memcpy(&x, p, 8);
	x |= 0x2020202020202020ULL;
	if (r >= 8)
		return x;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	keep = r ? ~0ULL << (64 - 8 * r) : 0;
#else
	keep = ((uint64_t)1 << (8 * r)) - 1;
#endif
	return x & keep;
}

/* the bits set in x: inline (without -mpopcnt __builtin_popcountll is a call) */
static inline unsigned
bytemask_pop64(uint64_t x)
{
	x -= (x >> 1) & 0x5555555555555555ULL;
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

/* x with each bit replaced by the parity of it and the bits below it */
static inline uint64_t
bytemask_prefix_xor(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

#endif

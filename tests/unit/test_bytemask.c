/*
 * test_bytemask.c - lib/bytemask.h: the masks of 64 bytes (SSE2 where built
 * with it, and the portable 8-byte words of other machines, both compiled
 * here) equal the classes byte by byte, for random bytes at every text length
 * 0..64; the prefix parity and the bit count equal loops; the lowercased
 * word equals bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* the portable code, under other names */
#define BYTEMASK_GENERIC
#define bytemask g_bytemask
#define wordmask g_wordmask
#define bytemask16 g_bytemask16
#define wordmask16 g_wordmask16
#define bytemask64 g_bytemask64
#define wordmask64 g_wordmask64
#define bytemask_lower8 g_bytemask_lower8
#define bytemask_eq8 g_bytemask_eq8
#define bytemask_gather8 g_bytemask_gather8
#define bytemask_prefix_xor g_bytemask_prefix_xor
#define bytemask_pop64 g_bytemask_pop64
#include "bytemask.h"
#undef ARXIV_BYTEMASK_H
#undef BYTEMASK_GENERIC
#undef bytemask
#undef wordmask
#undef bytemask16
#undef wordmask16
#undef bytemask64
#undef wordmask64
#undef bytemask_lower8
#undef bytemask_eq8
#undef bytemask_gather8
#undef bytemask_prefix_xor
#undef bytemask_pop64
/* the code this machine's library is built with */
#include "bytemask.h"

#include "tap.h"

#define rnd tap_rnd

/* the classes of byte c, as bytemask.h defines them */
static void
classes(unsigned c, uint64_t bit, struct bytemask *m, struct wordmask *w)
{
	unsigned l = c | 0x20;

	if (l >= 'a' && l <= 'z' && c < 0x80)
		m->alpha |= bit;
	if (c == '$')
		m->dollar |= bit;
	if (c == '\\')
		m->bslash |= bit;
	if (c >= 0x80)
		m->high |= bit, w->high |= bit;
	if ((l >= 'a' && l <= 'z' && c < 0x80) || (c >= '0' && c <= '9'))
		w->word |= bit;
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
		w->space |= bit;
	else if (c < 0x20 || c == 0x7f)
		w->drop |= bit;
	if (c == '[')
		w->lbracket |= bit;
}

int
main(void)
{
	unsigned char buf[64];
	size_t n, i, r, bad[4] = { 0, 0, 0, 0 }, tried = 0;
	const char *what[4] = { "bytemask", "wordmask", "portable bytemask",
		"portable wordmask" };

	for (r = 0; r < 4000; r++) {
		for (n = 0; n <= 64; n++) {
			struct bytemask want = { 0, 0, 0, 0 }, got;
			struct wordmask wwant = { 0, 0, 0, 0, 0 }, wgot;
			struct g_bytemask ggot;
			struct g_wordmask gwgot;

			/* one in four rounds: bytes near the class edges */
			for (i = 0; i < 64; i++)
				buf[i] = (unsigned char)(r % 4 ? rnd(256) : (unsigned)(unsigned char)
				    "@AZ[`az{/09:$\\\x1f \t\n\r\x7f\x80\xff\x01\x0b"[rnd(24)]);
			for (i = 0; i < n; i++)
				classes(buf[i], (uint64_t)1 << i, &want, &wwant);
			bytemask64(buf, n, &got);
			g_bytemask64(buf, n, &ggot);
			wordmask64(buf, n, &wgot);
			g_wordmask64(buf, n, &gwgot);
			tried++;
			bad[0] += memcmp(&want, &got, sizeof(want)) != 0;
			bad[1] += memcmp(&wwant, &wgot, sizeof(wwant)) != 0;
			bad[2] += memcmp(&want, &ggot, sizeof(want)) != 0;
			bad[3] += memcmp(&wwant, &gwgot, sizeof(wwant)) != 0;
		}
	}
	for (i = 0; i < 4; i++)
		CHECK(bad[i] == 0, "%s == the classes byte by byte: %zu blocks of 0..64 bytes "
		    "(%zu differ)", what[i], tried, bad[i]);

	for (r = 0, bad[0] = 0; r < 10000; r++) {
		uint64_t x = (uint64_t)rnd(1u << 31) << 33 ^ (uint64_t)rnd(1u << 31) << 2 ^
		    rnd(4), want = 0, par = 0;

		for (i = 0; i < 64; i++) {
			par ^= x >> i & 1;
			want |= par << i;
		}
		bad[0] += bytemask_prefix_xor(x) != want || g_bytemask_prefix_xor(x) != want;
	}
	CHECK(bad[0] == 0, "prefix parity == a loop over the bits: 10000 words (%zu differ)",
	    bad[0]);

	/* the bits set: a loop over them (sparse, dense, random, 0, all) */
	for (r = 0, bad[0] = 0; r < 10000; r++) {
		uint64_t x = (uint64_t)rnd(1u << 31) << 33 ^ (uint64_t)rnd(1u << 31) << 2 ^ rnd(4);
		unsigned want = 0;

		x = r % 4 == 1 ? x & x >> 7 & x >> 13 : r % 4 == 2 ? x | x << 5 | x >> 11 :
		    r == 3 ? 0 : r == 7 ? ~0ULL : x;
		for (i = 0; i < 64; i++)
			want += (unsigned)(x >> i & 1);
		bad[0] += bytemask_pop64(x) != want || g_bytemask_pop64(x) != want;
	}
	CHECK(bad[0] == 0, "bits set == a loop over the bits: 10000 words (%zu differ)", bad[0]);

	/* the lowercased, cut word: its bytes in memory, byte by byte */
	for (r = 0, bad[0] = 0; r < 10000; r++) {
		unsigned char want[8], got8[8];
		size_t keep = rnd(11);
		uint64_t w;

		for (i = 0; i < 8; i++) {
			buf[i] = (unsigned char)rnd(256);
			want[i] = i < keep ? (unsigned char)(buf[i] | 0x20) : 0;
		}
		w = bytemask_lower8(buf, keep);
		memcpy(got8, &w, 8);
		bad[0] += memcmp(got8, want, 8) != 0;
		w = g_bytemask_lower8(buf, keep);
		memcpy(got8, &w, 8);
		bad[0] += memcmp(got8, want, 8) != 0;
	}
	CHECK(bad[0] == 0, "the lowercased word cut at r == byte by byte: 10000 words, r 0..10 "
	    "(%zu differ)", bad[0]);
	return tap_done();
}

/*
 * tokcount_int.h - the word-count table of arxiv_tok_count_cached
 * (tokcount.c), shared with arxiv-stats' one pass over a text (stats_terms.c)
 * that splits its terms and counts its WordPiece tokens together: the table,
 * its batched lookups and the count of a 64-byte block's runs. Not installed.
 */
#ifndef ARXIV_TOKCOUNT_INT_H
#define ARXIV_TOKCOUNT_INT_H

#include <stdint.h>
#include <string.h>

#include "arxiv.h"
#include "bytemask.h"
#include "internal.h"
#include "wordpiece.h"

#define CT_SETS 262144		/* a power of two: 16 MiB */
#define CT_KEY 24

struct ct_entry {
	uint64_t key[CT_KEY / 8];	/* the word, zero-padded */
	uint32_t hash;
	uint8_t len;		/* 0: empty */
	uint8_t count;		/* its pieces */
	uint16_t unused;
};

_Static_assert(sizeof(struct ct_entry) == 32, "two count entries per cache line");

/*
 * In front of it, for the words of 2..7 bytes (most of a text's words), a
 * direct-mapped table small enough to stay in the core's cache: the word's
 * zero-padded 8 bytes, its piece count in the eighth (0 for such a word).
 * A hit costs no hash, no batch and no trip to memory.
 */
#define CT_HOT 8192		/* a power of two: 64 KiB */
#define CT_HOT_KEY 0x00ffffffffffffffULL

struct tcount_table {
	uint64_t hot[CT_HOT];
	struct ct_entry e[CT_SETS][2];
};

static inline uint64_t *
ct_hot(struct tcount_table *t, uint64_t word)
{
	return &t->hot[(word * 0x9e3779b97f4a7c15ULL) >> (64 - 13)];
}
_Static_assert(CT_HOT == 1u << 13, "ct_hot's shift");
#define CT_ALIGN (2u << 20)	/* on huge pages where the system has them: every
				 * word lands on a random line, and with 4 KiB
				 * pages nearly every lookup would miss the TLB */
/* its allocation: aligned_alloc wants a multiple of the alignment */
#define CT_BYTES ((sizeof(struct tcount_table) + CT_ALIGN - 1) / CT_ALIGN * CT_ALIGN)

struct cnt {
	const struct arxiv_vocab *v;
	struct tcount_table *t;	/* NULL: no cache */
	size_t n;		/* tokens so far */
};

/* The number of pieces greedy longest-match WordPiece gives a word of at most
 * MAX_WORD_CHARS characters (1: [UNK]), as enc_word finds them (tokcount.c). */
size_t tokcount__pieces(const struct arxiv_vocab *v, const char *p, size_t n);

/* The cache's count table for vocabulary v (made, or emptied when it was
 * filled from another vocabulary); NULL when out of memory (tokcount.c). */
struct tcount_table *tokcount__table(struct arxiv_tok_cache *cache, const struct arxiv_vocab *v);

static inline size_t ct_find(struct cnt *c, const uint64_t *key, size_t n, uint64_t h64);

/* The table's hash of a word of n bytes, zero-padded into the words a b d. */
static inline uint64_t
ct_hash(uint64_t a, uint64_t b, uint64_t d, size_t n)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ULL + b * 0xc2b2ae3d27d4eb4fULL +
	    d * 0x165667b19e3779f9ULL + n;

	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

/* Pieces of the word key (n bytes, 2..CT_KEY, zero-padded to CT_KEY). */
static inline size_t
ct_pieces(struct cnt *c, const uint64_t *key, size_t n)
{
	return ct_find(c, key, n, ct_hash(key[0], key[1], key[2], n));
}


/* Pieces of one basic-tokenised word (of nchars characters). */
static inline size_t
cnt_pieces(struct cnt *c, const char *p, size_t n, size_t nchars)
{
	uint64_t key[CT_KEY / 8];

	if ((n == 1 && (unsigned char)p[0] < 128) || nchars > MAX_WORD_CHARS)
		return 1;
	if (c->t == NULL || n > CT_KEY)
		return tokcount__pieces(c->v, p, n);
	key[0] = key[1] = key[2] = 0;
	memcpy(key, p, n);
	return ct_pieces(c, key, n);
}

/*
 * The fast path's words of 2..CT_KEY bytes wait in a batch, their table lines
 * prefetched, and are looked up together: the 4 MiB table is mostly out of
 * the core's cache, and the lookups of a batch wait for memory at the same
 * time instead of one after another. Counts are summed, so the order does not
 * matter; the words of a token that turns out to hold non-ASCII text are taken
 * out of the batch again.
 */
#define CT_BATCH 64

struct ct_item {
	uint64_t key[CT_KEY / 8];
	uint64_t h;
	size_t n;
};

struct lower {
	struct cnt *c;
	size_t nb;		/* words in the batch */
	struct ct_item b[CT_BATCH];
};

/* Pieces of the word key (n bytes, 2..CT_KEY, zero-padded) of hash h64. */
static inline size_t
ct_find(struct cnt *c, const uint64_t *key, size_t n, uint64_t h64)
{
	uint32_t h = (uint32_t)(h64 >> 32);
	struct ct_entry *s = c->t->e[h64 & (CT_SETS - 1)];
	size_t k;
	int i;

	for (i = 0; i < 2; i++)
		if (s[i].hash == h && s[i].len == n && s[i].key[0] == key[0] &&
		    s[i].key[1] == key[1] && s[i].key[2] == key[2]) {
			k = s[i].count;
			goto hot;
		}
	k = tokcount__pieces(c->v, (const char *)key, n);
	s[1] = s[0];
	s[0].key[0] = key[0];
	s[0].key[1] = key[1];
	s[0].key[2] = key[2];
	s[0].hash = h;
	s[0].len = (uint8_t)n;
	s[0].count = (uint8_t)k;
hot:
	if (n < 8)
		*ct_hot(c->t, key[0]) = key[0] | (uint64_t)k << 56;
	return k;
}

/* The pieces of the batch's words; empties it. */
static inline size_t
lw_resolve(struct lower *l)
{
	size_t i, k = 0;

	for (i = 0; i < l->nb; i++)
		k += ct_find(l->c, l->b[i].key, l->b[i].n, l->b[i].h);
	l->nb = 0;
	return k;
}

/* A run of rl word characters, lowercased in w (zero-padded to CT_KEY bytes):
 * its pieces now, or 0 when it went into the batch. */
static inline size_t
lw_run(struct lower *l, const uint64_t *w, size_t rl)
{
	struct ct_item *it;
	uint64_t a, b, d;

	if (rl == 1 || rl > MAX_WORD_CHARS)
		return 1;
	if (l->c->t == NULL || rl > CT_KEY)
		return tokcount__pieces(l->c->v, (const char *)w, rl);
	if (rl < 8) {
		uint64_t v = *ct_hot(l->c->t, w[0]);

		if ((v & CT_HOT_KEY) == w[0])
			return (size_t)(v >> 56);
	}
	if (l->nb == CT_BATCH)
		return ct_pieces(l->c, w, rl);
	/* three 8-byte loads, each of what one 8-byte store wrote (a wider load
	 * over two stores would wait for them to reach the cache) */
	a = w[0];
	b = w[1];
	d = w[2];
	__asm__("" : "+r"(a), "+r"(b), "+r"(d));
	it = &l->b[l->nb++];
	it->key[0] = a;
	it->key[1] = b;
	it->key[2] = d;
	it->n = rl;
	it->h = ct_hash(a, b, d, rl);
	__builtin_prefetch(l->c->t->e[it->h & (CT_SETS - 1)]);
	return 0;
}

/*
 * One 64-byte block of a text of cnt_masks' kind (tokcount.c: lowercasing,
 * no control character, no byte >= 0x80, no special token): the tokens of its
 * punctuation, plus the pieces of the runs of letters and digits that start
 * at the bits of starts (the callers' runs, a subset of the block's), their
 * lookups batched in l. bp: the block; left: the text's bytes from bp on; w,
 * space: the block's word and space masks; nxt_word: the next block's.
 */
static inline size_t
tc_block(struct lower *l, const unsigned char *bp, size_t left, uint64_t w, uint64_t space,
    uint64_t nxt_word, uint64_t starts)
{
	size_t total;

	/* punctuation ('[' too): the bytes that are neither word nor space */
	total = bytemask_pop64(~(w | space) &
	    (left < 64 ? ((uint64_t)1 << left) - 1 : ~0ULL));
	for (; starts; starts &= starts - 1) {
		size_t i = (size_t)__builtin_ctzll(starts), rl;
		uint64_t rest = ~w >> i, key[CT_KEY / 8];
		const unsigned char *p = bp + i;

		if (rest)
			rl = (size_t)__builtin_ctzll(rest);
		else if (~nxt_word)
			rl = 64 - i + (size_t)__builtin_ctzll(~nxt_word);
		else	/* over 64 bytes: on byte by byte */
			for (rl = 128 - i; rl < left - i && wp_byte_class[p[rl]] == C_WORD; rl++)
				;
		if (rl > CT_KEY) {
			union {
				uint64_t w[17];
				char c[136];	/* > MAX_WORD_CHARS */
			} wb;
			size_t j;

			if (rl > MAX_WORD_CHARS) {
				total++;	/* [UNK] */
				continue;
			}
			for (j = 0; j < rl; j++)
				wb.c[j] = (char)(p[j] | 0x20);
			total += lw_run(l, wb.w, rl);
			continue;
		}
		if (left - i >= CT_KEY) {
			/* three 8-byte loads, lowercased, cut at rl */
			size_t j;

			for (j = 0; j < CT_KEY / 8; j++)
				key[j] = bytemask_lower8(p + j * 8, rl > j * 8 ? rl - j * 8 : 0);
		} else {
			size_t j;

			key[0] = key[1] = key[2] = 0;
			for (j = 0; j < rl; j++)
				((unsigned char *)key)[j] = p[j] | 0x20;
		}
		if (l->nb == CT_BATCH)
			total += lw_resolve(l);
		total += lw_run(l, key, rl);
	}
	return total;
}

/* 1 when the block (its masks m, the text's left bytes from bp on) can be
 * counted by tc_block: no control character, no byte >= 0x80, no special
 * token ([CLS] ..) */
static inline int
tc_block_plain(const struct wordmask *m, const unsigned char *bp, size_t left)
{
	uint64_t br;

	if (m->high | m->drop)
		return 0;
	for (br = m->lbracket; br; br &= br - 1) {
		size_t i = (size_t)__builtin_ctzll(br);

		if (wp_special_at((const char *)bp + i, left - i) >= 0)
			return 0;
	}
	return 1;
}

#endif

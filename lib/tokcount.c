/*
 * tokcount.c - arxiv_tok_count_cached(): how many tokens arxiv_tok_encode
 * (wordpiece.c) would give a text, without building them: the fast path over
 * plain ASCII and the table of each word's piece count in the word cache.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tokcount_int.h"

/* Internal to libarxiv, defined in vocab.c. */
long arxiv_vocab__find(const struct arxiv_vocab *v, int cont, const char *p, size_t n);
size_t arxiv_vocab__maxlen(const struct arxiv_vocab *v, int cont);

/* ------------------------------------------------------- counting tokens */

/*
 * arxiv_tok_count_cached(): the length arxiv_tok_encode would give with a
 * seq_len long enough for every piece, without ids, truncation or padding.
 * Lowercasing texts (the usual case) take a fast path over runs of plain
 * ASCII: the whitespace-delimited token is split at punctuation by a byte
 * table, its runs of letters and digits found and lowercased 8 bytes at a time,
 * with no copy to the basic tokenizer and no utf8proc;
 * a token with any non-ASCII byte is handed whole to wp_basic_run (the basic
 * tokenizer's state is empty at ASCII whitespace, so that token gives what it
 * gives in the whole text). Each word's piece count is remembered in a table
 * of the word cache: 2 entries per 64-byte line, words of up to CT_KEY bytes
 * kept zero-padded in whole words (compared by three 8-byte loads); the
 * table and its lookups are in tokcount_int.h, shared with arxiv-stats.
 */

size_t
tokcount__pieces(const struct arxiv_vocab *v, const char *p, size_t n)
{
	size_t k = 0, start = 0, end, maxb;
	int cont = 0;

	while (start < n) {
		maxb = arxiv_vocab__maxlen(v, cont);
		end = n - start > maxb ? start + maxb : n;
		while (end > start && end < n && ((unsigned char)p[end] & 0xc0) == 0x80)
			end--;
		while (end > start) {
			if (arxiv_vocab__find(v, cont, p + start, end - start) >= 0)
				break;
			end--;
			while (end > start && ((unsigned char)p[end] & 0xc0) == 0x80)
				end--;
		}
		if (end == start)
			return 1;
		k++;
		start = end;
		cont = 1;
	}
	return k;
}

static int
cnt_word(void *ud, const char *p, size_t n, size_t nchars)
{
	struct cnt *c = ud;

	c->n += cnt_pieces(c, p, n, nchars);
	return 0;
}

static int
cnt_special(void *ud, int which)
{
	struct cnt *c = ud;

	(void)which;
	c->n++;
	return 0;
}


/* How many of x's 8 bytes, from the first in memory (little-endian: the
 * lowest), are ASCII letters or digits. */
static inline uint64_t
word_bytes(uint64_t x)
{
	const uint64_t hi = 0x8080808080808080ULL, one = 0x0101010101010101ULL;
	uint64_t y = x & ~hi, l = y | 0x2020202020202020ULL, digit, letter, not_word;

	/* per byte of y (< 0x80, so no carry between bytes): v + (0x80 - lo) has its
	 * high bit set when v >= lo, v + (0x7f - hi) when v > hi */
	digit = (y + one * (0x80 - '0')) & ~(y + one * (0x7f - '9'));
	letter = (l + one * (0x80 - 'a')) & ~(l + one * (0x7f - 'z'));
	not_word = ~((digit | letter) & ~x) & hi;
	return not_word ? (uint64_t)__builtin_ctzll(not_word) / 8 : 8;
}

/* The fast path (lowercasing): valid UTF-8 text, c->n counts. 0 or -1. */
static int
cnt_lower(struct cnt *c, const char *text, size_t n)
{
	struct sink sk = { cnt_word, cnt_special, c };
	struct lower l;
	union {
		uint64_t w[17];
		char c[136];	/* > MAX_WORD_CHARS + 8 */
	} wb;
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, tok = 0, rl = 0, tokn = 0, total = 0, tokb = 0, end;
	int sp;

	l.c = c;
	l.nb = 0;
	while (i < n) {
		unsigned char ch = s[i];

		if (wp_byte_class[ch] == C_WORD) {
			/* a run of letters and digits (| 0x20 lowercases a letter and
			 * keeps a digit), through dropped control characters */
			wb.w[0] = wb.w[1] = wb.w[2] = 0;
			rl = 0;
			for (;;) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				/* 8 bytes at a time while they are letters and digits */
				while (n - i >= 8) {
					uint64_t x, k;

					memcpy(&x, s + i, 8);
					k = word_bytes(x);
					if (rl < sizeof(wb.c) - 8) {
						x |= 0x2020202020202020ULL;
						if (k < 8)
							x &= (1ULL << (8 * k)) - 1;
						memcpy(wb.c + rl, &x, 8);
					}
					rl += k;
					i += k;
					if (k < 8)
						break;
				}
				if (i == n)
					break;
				ch = s[i];
#endif
				if (wp_byte_class[ch] == C_WORD) {
					if (rl < sizeof(wb.c))
						wb.c[rl] = (char)(ch | 0x20);
					rl++;
				} else if (wp_byte_class[ch] != C_DROP)
					break;
				if (++i == n)
					break;
				ch = s[i];
			}
			tokn += lw_run(&l, wb.w, rl);
			continue;
		}
		if (ch >= 0x80) {
			/* non-ASCII: the whole token through the basic tokenizer */
			for (end = i + 1; end < n && (s[end] >= 0x80 ||
			    wp_ascii_class[s[end]] != C_SPACE); end++)
				;
			c->n = 0;
			if (wp_basic_run(text + tok, end - tok, 1, &sk) < 0)
				return -1;
			total += c->n;
			l.nb = tokb;
			tokn = 0;
			i = tok = end;
			continue;
		}
		if (wp_ascii_class[ch] == C_DROP)
			i++;
		else if (wp_ascii_class[ch] == C_SPACE) {
			total += tokn;
			tokn = 0;
			if (l.nb >= CT_BATCH / 2)
				total += lw_resolve(&l);
			tokb = l.nb;
			tok = ++i;
		} else if (ch == '[' && (sp = wp_special_at(text + i, n - i)) >= 0) {
			tokn++;
			i += wp_sp_len[sp];
		} else {
			tokn++;		/* a punctuation character */
			i++;
		}
	}
	c->n = total + tokn + lw_resolve(&l);
	return 0;
}

/*
 * The fast path over masks, for a text (lowercasing) of ASCII letters,
 * digits, spaces and punctuation only - no control character, no byte >= 0x80,
 * no special token such as [CLS], which most abstracts are: its tokens are
 * then its punctuation characters, one each, and the pieces of its runs of
 * letters and digits. The text is classified 64 bytes at a time (bytemask.h)
 * and walked run by run. 1 (c->n counts), or 0 when the text is not of that
 * kind (nothing counted: cnt_lower takes it).
 */
static int
cnt_masks(struct cnt *c, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t b, nblk = (n + 63) / 64, total = 0;
	uint64_t prev = 0;	/* the last byte of the block before is a word byte */
	struct wordmask cur, nxt;
	struct lower l;

	if (n == 0) {
		c->n = 0;
		return 1;
	}
	l.c = c;
	l.nb = 0;
	wordmask64(s, n < 64 ? n : 64, &cur);
	for (b = 0; b < nblk; b++) {
		const unsigned char *bp = s + b * 64;
		size_t left = n - b * 64;
		uint64_t w = cur.word;

		if (!tc_block_plain(&cur, bp, left))
			return 0;
		if (b + 1 < nblk)
			wordmask64(bp + 64, left - 64 < 64 ? left - 64 : 64, &nxt);
		else
			memset(&nxt, 0, sizeof(nxt));
		total += tc_block(&l, bp, left, w, cur.space, nxt.word, w & ~(w << 1 | prev));
		prev = w >> 63;
		cur = nxt;
	}
	c->n = total + lw_resolve(&l);
	return 1;
}

struct tcount_table *
tokcount__table(struct arxiv_tok_cache *cache, const struct arxiv_vocab *v)
{
	if (cache->count == NULL) {
		cache->count = aligned_alloc(CT_ALIGN, CT_BYTES);
		if (cache->count == NULL)
			return NULL;
#ifdef MADV_HUGEPAGE
		(void)madvise(cache->count, CT_BYTES, MADV_HUGEPAGE);
#endif
		memset(cache->count, 0, sizeof(*cache->count));
		cache->count_vocab = arxiv_vocab_hash(v);
	} else if (cache->count_vocab != arxiv_vocab_hash(v)) {
		memset(cache->count, 0, sizeof(*cache->count));
		cache->count_vocab = arxiv_vocab_hash(v);
	}
	return cache->count;
}

int
arxiv_tok_count_cached(struct arxiv_tok_cache *cache, unsigned flags,
    const struct arxiv_vocab *v, const struct arxiv_tok_params *p, const char *text, size_t n,
    size_t *n_tokens, struct arxiv_error *err)
{
	struct sink sk = { cnt_word, cnt_special, NULL };
	struct cnt c;
	long bad;
	int r;

	if (!(flags & ARXIV_TOK_VALID_UTF8) && (bad = arxiv_utf8_check(text, n)) >= 0) {
		arxiv_error_set(err, "", 0, "invalid UTF-8 at byte %ld", bad);
		return -1;
	}
	c.v = v;
	c.t = NULL;
	c.n = 0;
	if (cache != NULL && (c.t = tokcount__table(cache, v)) == NULL)
		goto oom;
	if (p->lowercase)
		r = cnt_masks(&c, text, n) ? 0 : cnt_lower(&c, text, n);
	else {
		sk.ud = &c;
		r = wp_basic_run(text, n, 0, &sk);
	}
	if (r < 0)
		goto oom;
	if (n_tokens)
		*n_tokens = c.n + 2;
	return 0;
oom:
	arxiv_error_set(err, "", 0, "out of memory");
	return -1;
}

int
arxiv_tok_count(const struct arxiv_vocab *v, const struct arxiv_tok_params *p,
    const char *text, size_t n, size_t *n_tokens, struct arxiv_error *err)
{
	return arxiv_tok_count_cached(NULL, 0, v, p, text, n, n_tokens, err);
}

/*
 * stats_terms.c - the distinctive terms of arxiv-stats: the stop words, the
 * term table (open addressing, at most term_cap terms, lossy-counting pruning
 * of the rarest when full), the term splitters (built-in and cleaned text) and
 * the log-odds ranking written into the JSON.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "bytemask.h"
#include "stats_int.h"
#include "tokcount_int.h"

#define HUGE (2u << 20)	/* a transparent huge page */

/* ------------------------------------------------------------- stop words */

/* A 4096-bit filter before the table: about 3 in 4 terms are not stop words,
 * and most of those are then turned away by one bit in the first-level cache.
 * Its bit is that of the term's first 8 bytes (zero-padded: the length of a
 * shorter term is in them), known before the term's hash. */
#define STOP_BIT(q0) (((q0) * 0x9e3779b97f4a7c15ULL) >> 52)
_Static_assert(TERM_MAX == 32, "stop_has compares 4 words");

/* The hash of a term of n bytes, zero-padded into 4 words: the words
 * multiplied side by side (no chain of multiplies through a loop), mixed. */
static inline uint64_t
term_hash(const uint64_t *q, size_t n)
{
	_Static_assert(TERM_MAX == 32, "term_hash takes 4 words");
	return arxiv_fmix64(q[0] * 0x9e3779b97f4a7c15ULL + q[1] * 0xc2b2ae3d27d4eb4fULL +
	    q[2] * 0x165667b19e3779f9ULL + q[3] * 0xd6e8feb86659fd93ULL + n);
}

/* 1 when the term (zero-padded words q, its hash h) is a stop word */
static inline int
stop_has(const struct arxiv_stats *s, uint64_t h, const uint64_t *q, size_t n)
{
	size_t i, mask = s->nstop - 1;

	if (!(s->stopbits[STOP_BIT(q[0]) / 64] >> (STOP_BIT(q[0]) % 64) & 1))
		return 0;
	h |= 1;
	for (i = h & mask; s->stop[i]; i = (i + 1) & mask) {
		const uint64_t *w = s->stopw[i].q;

		if (s->stop[i] == h && s->stopw[i].n == n &&
		    ((w[0] ^ q[0]) | (w[1] ^ q[1]) | (w[2] ^ q[2]) | (w[3] ^ q[3])) == 0)
			return 1;
	}
	return 0;
}

/* add a stop word (q zero-padded) unless present: 0, or -1 out of memory */
static int
stop_add(struct arxiv_stats *s, const uint64_t *q, size_t n)
{
	uint64_t h = term_hash(q, n);
	size_t i, mask;

	if (stop_has(s, h, q, n))
		return 0;
	if ((s->nstopw + 1) * 2 > s->nstop) {
		size_t ncap = s->nstop ? s->nstop * 2 : 512, j;
		uint64_t *ns = calloc(ncap, sizeof(*ns));
		struct stop_word *nw = calloc(ncap, sizeof(*nw));

		if (ns == NULL || nw == NULL) {
			free(ns);
			free(nw);
			return -1;
		}
		for (j = 0; j < s->nstop; j++) {
			if (s->stop[j] == 0)
				continue;
			for (i = s->stop[j] & (ncap - 1); ns[i]; i = (i + 1) & (ncap - 1))
				;
			ns[i] = s->stop[j];
			nw[i] = s->stopw[j];
		}
		free(s->stop);
		free(s->stopw);
		s->stop = ns;
		s->stopw = nw;
		s->nstop = ncap;
	}
	mask = s->nstop - 1;
	h |= 1;
	for (i = h & mask; s->stop[i]; i = (i + 1) & mask)
		;
	s->stop[i] = h;
	s->stopbits[STOP_BIT(q[0]) / 64] |= (uint64_t)1 << (STOP_BIT(q[0]) % 64);
	s->stopw[i].n = n;
	memcpy(s->stopw[i].q, q, sizeof(s->stopw[i].q));
	s->nstopw++;
	return 0;
}

int
stats_stop_load(struct arxiv_stats *s, const char *path, struct arxiv_error *err)
{
	char buf[4096], line[256];
	FILE *fp;

	if (path == NULL)
		path = arxiv_data_path("stopwords.txt", buf, sizeof(buf));
	if ((fp = fopen(path, "r")) == NULL) {
		arxiv_error_set(err, path, 0, "%s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t n = strcspn(line, "\r\n");
		uint64_t q[TERM_MAX / 8] = { 0 };

		if (n == 0 || line[0] == '#' || n > TERM_MAX)	/* longer: never a term */
			continue;
		memcpy(q, line, n);
		if (stop_add(s, q, n) < 0) {
			fclose(fp);
			arxiv_error_set(err, path, 0, "out of memory");
			return -1;
		}
	}
	fclose(fp);
	return 0;
}

struct term *
stats_terms_alloc(size_t n)
{
	size_t bytes = n * sizeof(struct term), align = bytes >= HUGE ? HUGE : 64;
	struct term *t = aligned_alloc(align, bytes);

	if (t == NULL)
		return NULL;
#ifdef MADV_HUGEPAGE
	/* every term lands on a random slot: with 4 KiB pages nearly every
	 * lookup of a large table also misses the TLB */
	if (align == HUGE)
		(void)madvise(t, bytes, MADV_HUGEPAGE);
#endif
	memset(t, 0, bytes);
	return t;
}

/* drop the terms with the smallest totals until at most 3/4 of the cap is used */
static int
terms_prune(struct arxiv_stats *s)
{
	struct arxiv_buf na = { 0 };
	struct term *nt;
	size_t i, k, keep = s->p.term_cap * 3 / 4, mask = s->tslots - 1;
	uint32_t floor_ = s->prune_floor ? s->prune_floor : 1;

	while (1) {
		size_t left = 0;

		for (i = 0; i < s->tslots; i++)
			if (s->terms[i].len && s->terms[i].total > floor_)
				left++;
		if (left <= keep)
			break;
		floor_ *= 2;
	}
	if ((nt = stats_terms_alloc(s->tslots)) == NULL)
		return -1;
	s->prune_floor = floor_;
	for (i = k = 0; i < s->tslots; i++) {
		struct term t = s->terms[i];
		size_t j;

		if (t.len == 0)
			continue;
		if (t.total <= floor_) {
			s->pruned_terms++;
			s->pruned_tokens += t.total;
			continue;
		}
		if (arxiv_buf_reserve(&na, t.len + 1) < 0) {
			arxiv_buf_free(&na);
			free(nt);
			return -1;
		}
		memcpy(na.data + na.len, s->arena.data + t.off, t.len);
		t.off = (uint32_t)na.len;
		na.len += t.len;
		for (j = t.hash & mask; nt[j].len; j = (j + 1) & mask)
			;
		nt[j] = t;
		k++;
	}
	free(s->terms);
	s->terms = nt;
	s->nterm = k;
	arxiv_buf_free(&s->arena);
	s->arena = na;
	return 0;
}

/* A term on its way into the table: its bytes zero-padded to TERM_MAX, so
 * that the first PRE compare with an entry's pre (zero-padded too: slots
 * start zeroed and are only ever filled once) in one fixed-size memcmp. */
struct tok {
	uint64_t h;
	size_t n;
	int wp;			/* a whole word of the WordPiece count: add its pieces */
	union {
		char w[TERM_MAX];
		uint64_t q[TERM_MAX / 8];
	};
};

/* the hash of a term (all go through here: one table, one function) */
static inline uint64_t
tok_hash(const struct tok *t)
{
	return term_hash(t->q, t->n);
}

/* t = the k (at most TERM_MAX) ASCII letters at w, lowercased (end: the end
 * of w's buffer): with TERM_MAX bytes readable, four 8-byte loads and no
 * branch on k */
static inline void
tok_fill(struct tok *t, const unsigned char *w, size_t k, const unsigned char *end)
{
	size_t j;

	t->n = k;
	if (end - w >= TERM_MAX) {
		for (j = 0; j < TERM_MAX / 8; j++)
			t->q[j] = bytemask_lower8(w + j * 8, k > j * 8 ? k - j * 8 : 0);
		return;
	}
	memset(t->w, 0, TERM_MAX);
	for (j = 0; j < k; j++)
		t->w[j] = (char)(w[j] | 0x20);
}

/* the PRE leading bytes of an entry and of a term equal (two 8-byte loads
 * each, overlapping: inlined, where memcmp of 14 bytes is a call) */
static inline int
pre_eq(const char *a, const char *b)
{
	uint64_t a0, a1, b0, b1;

	_Static_assert(PRE >= 8 && PRE <= 16, "pre_eq compares two 8-byte words");
	memcpy(&a0, a, 8);
	memcpy(&a1, a + PRE - 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, b + PRE - 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* add k to the count of term w (zero-padded, see struct tok) in field f
 * (f < 0: total only): its entry, or NULL out of memory */
static struct term *
term_add_h(struct arxiv_stats *s, uint64_t h, const char *w, size_t n, int f, uint64_t k)
{
	size_t i, mask = s->tslots - 1;
	struct term *t;

	for (i = h & mask; s->terms[i].len; i = (i + 1) & mask) {
		t = &s->terms[i];
		if (t->hash == h && t->len == n && pre_eq(t->pre, w) &&
		    (n <= PRE || memcmp(s->arena.data + t->off + PRE, w + PRE, n - PRE) == 0))
			goto found;
	}
	if (s->nterm == s->p.term_cap) {
		if (terms_prune(s) < 0)
			return NULL;
		for (i = h & mask; s->terms[i].len; i = (i + 1) & mask)
			;
	}
	if (s->arena.len + n >= UINT32_MAX || arxiv_buf_reserve(&s->arena, n + 1) < 0)
		return NULL;
	t = &s->terms[i];
	t->hash = h;
	t->off = (uint32_t)s->arena.len;
	t->len = (uint8_t)n;
	memcpy(t->pre, w, n < PRE ? n : PRE);
	memcpy(s->arena.data + s->arena.len, w, n);
	s->arena.len += n;
	s->nterm++;
found:
	t->total += (uint32_t)k;
	if (f >= 0 && f < TERMF)
		t->c[f] += (uint32_t)k;
	return t;
}

int
stats_term_add(struct arxiv_stats *s, const char *w, size_t n, int f, uint64_t k)
{
	struct tok t = { 0 };

	if (n == 0 || n > TERM_MAX)	/* not a term of ours (a merged state) */
		return 0;
	memcpy(t.w, w, n);
	t.n = n;
	return term_add_h(s, tok_hash(&t), t.w, n, f, k) ? 0 : -1;
}

/* A term of a text as the splitter found it: its hash and where it is. A
 * split is handed from a thread to the one counting: 16 bytes a term, not
 * the term's zero-padded words. */
struct term_ref {
	uint64_t h;
	uint32_t off, n;
};

/* the term at r of the text at p (end: its end) into t */
static inline void
ref_fill(struct tok *t, const struct term_ref *r, const unsigned char *p, const unsigned char *end)
{
	tok_fill(t, p + r->off, r->n, end);
	t->h = r->h;
	t->wp = 0;
}

#define BATCH 64

/* the terms of a text, split ahead of time (by a thread, or for the batches) */
struct arxiv_stats_split {
	struct term_ref *t;
	size_t n, cap;
	struct stats_facts facts;	/* of the text (arxiv_stats_split) */
};


/* The WordPiece count of a text made in split_scan's pass (wp != NULL): the
 * tokens of the runs of letters and digits that are not whole terms (those
 * get theirs from the term table, batch_flush), and of the punctuation. */
struct wpass {
	struct lower l;		/* the batch of the table's lookups */
	size_t total;		/* tokens so far */
	size_t words;		/* runs of bytes other than ' ' \t \n \r so far */
	int plain;		/* 0: a block is not of tc_block's kind; count apart */
};

/*
 * The built-in splitter: the terms of the text, in order, appended to sp.
 * Terms: runs of ASCII letters (lowercased) of min_len..32 bytes outside
 * $...$ math (an odd number of '$' before) and outside \commands (right
 * after a backslash), not followed by a byte >= 0x80, not stop words. The
 * text is classified 64 bytes at a time (bytemask.h): the runs' starts that
 * can be terms are found by masks, and only those are looked at.
 * With wp, the same pass counts the WordPiece tokens (tokcount.c's
 * cnt_masks, block by block): a term that is a whole word of the count (no
 * digit before or after it) is marked t.wp and left out of the block's runs.
 */
static inline __attribute__((always_inline)) int
split_scan(const struct arxiv_stats *s, const char *text, size_t n,
    int (*emit)(void *, const struct tok *, uint32_t), void *ud, struct wpass *wp)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + n;
	size_t b, nblk = n / 64 + 1;	/* the last block holds the end */
	size_t j, min_len = s->p.min_len ? s->p.min_len : 1;
	uint64_t prev_alpha = 0, prev_bs = 0, math = 0;	/* carries, in bit 0 */
	uint64_t prev_word = 0, prev_space = 1;	/* the text starts after a blank */
	struct bytemask cur, nxt;
	struct wordmask wcur, wnxt;

	if (min_len > TERM_MAX || n > UINT32_MAX) {
		if (wp)
			wp->plain = 0;
		if (min_len > TERM_MAX)
			return 0;
		errno = EFBIG;	/* term_ref's offsets */
		return -1;
	}
	bytemask64(p, n < 64 ? n : 64, &cur);
	if (wp)
		wordmask64(p, n < 64 ? n : 64, &wcur);
	for (b = 0; b < nblk; b++) {
		uint64_t a = cur.alpha, m, cand, w = 0, covered = 0;
		size_t left = n - b * 64;
		int counting = 0;	/* this block's WordPiece tokens are counted here */

		if (b + 1 < nblk)
			bytemask64(p + (b + 1) * 64, left - 64 < 64 ? left - 64 : 64, &nxt);
		else
			memset(&nxt, 0, sizeof(nxt));
		if (wp && wp->plain) {
			if (b + 1 < nblk)
				wordmask64(p + (b + 1) * 64, left - 64 < 64 ? left - 64 : 64, &wnxt);
			else
				memset(&wnxt, 0, sizeof(wnxt));
			if ((counting = tc_block_plain(&wcur, p + b * 64, left)))
				w = wcur.word;
			else
				wp->plain = 0;
		}
		/* in math: the parity of the '$' up to here (a letter is no '$') */
		m = bytemask_prefix_xor(cur.dollar) ^ (0 - math);
		/* starts of runs, outside math, not after a backslash */
		cand = a & ~(a << 1 | prev_alpha) & ~m & ~(cur.bslash << 1 | prev_bs);
		/* followed by at least min_len - 1 more letters */
		for (j = 1; j < min_len && cand; j++)
			cand &= a >> j | nxt.alpha << (64 - j);
		while (cand) {
			unsigned i = (unsigned)__builtin_ctzll(cand), e;
			uint64_t rest = ~a >> i;
			struct tok t;
			size_t k;

			cand &= cand - 1;
			if (rest)
				k = (size_t)__builtin_ctzll(rest);
			else if (~nxt.alpha)
				k = 64 - i + (size_t)__builtin_ctzll(~nxt.alpha);
			else
				continue;	/* over 64 letters */
			if (k > TERM_MAX)
				continue;
			e = i + (unsigned)k;	/* the byte after the run */
			if ((e < 64 ? cur.high >> e : nxt.high >> (e - 64)) & 1)
				continue;
			tok_fill(&t, p + b * 64 + i, k, end);
			t.h = tok_hash(&t);
			if (stop_has(s, t.h, t.q, k))
				continue;
			/* a whole word of the count: no digit before it or after it */
			t.wp = counting && !((w << 1 | prev_word) >> i & 1) &&
			    !((e < 64 ? w >> e : wnxt.word >> (e - 64)) & 1);
			if (t.wp)
				covered |= (uint64_t)1 << i;
			if (emit(ud, &t, (uint32_t)(b * 64 + i)) < 0)
				return -1;
		}
		if (counting) {
			wp->total += tc_block(&wp->l, p + b * 64, left, w, wcur.space, wnxt.word,
			    w & ~(w << 1 | prev_word) & ~covered);
			wp->words += bytemask_pop64(~wcur.space & (wcur.space << 1 | prev_space) &
			    (left < 64 ? ((uint64_t)1 << left) - 1 : ~0ULL));
			prev_space = wcur.space >> 63;
		}
		prev_alpha = a >> 63;
		prev_bs = cur.bslash >> 63;
		math = m >> 63;
		prev_word = w >> 63;
		cur = nxt;
		if (counting)
			wcur = wnxt;
	}
	return 0;
}

/* split_scan's emit for a split: the term's reference */
static int
emit_ref(void *ud, const struct tok *t, uint32_t off)
{
	struct arxiv_stats_split *sp = ud;

	if (sp->n == sp->cap && arxiv_grow(&sp->t, &sp->cap, sp->n + 1, sizeof(*sp->t), 128) < 0)
		return -1;
	sp->t[sp->n].h = t->h;
	sp->t[sp->n].off = off;
	sp->t[sp->n++].n = (uint32_t)t->n;
	return 0;
}

static int
split_text(const struct arxiv_stats *s, const char *text, size_t n, struct arxiv_stats_split *sp)
{
	return split_scan(s, text, n, emit_ref, sp, NULL);
}

/* Terms wait in a batch of BATCH, their slots prefetched, and are counted
 * together in their order (the order decides what a full table prunes):
 * the table is larger than the caches, and the lookups of a batch then wait
 * for memory together. split_scan's emit for counting at once: */
struct batch {
	struct arxiv_stats *s;
	int f;
	size_t nb;
	struct cnt *c;		/* the WordPiece count's table (stats_terms_tokens) */
	size_t pieces;		/* the pieces of the terms marked wp */
	struct tok b[BATCH];
};

static int
batch_flush(struct batch *bt)
{
	size_t i;

	for (i = 0; i < bt->nb; i++) {
		struct term *t = term_add_h(bt->s, bt->b[i].h, bt->b[i].w, bt->b[i].n, bt->f, 1);

		if (t == NULL)
			return -1;
		bt->s->ftokens[bt->f]++;
		if (bt->b[i].wp) {
			if (t->wp == 0)
				t->wp = (uint8_t)cnt_pieces(bt->c, bt->b[i].w, bt->b[i].n,
				    bt->b[i].n);	/* ASCII letters: bytes are characters */
			bt->pieces += t->wp;
		}
	}
	bt->nb = 0;
	return 0;
}

static inline __attribute__((always_inline)) int
emit_count(void *ud, const struct tok *t, uint32_t off)
{
	struct batch *bt = ud;

	(void)off;
	__builtin_prefetch(&bt->s->terms[t->h & (bt->s->tslots - 1)]);
	bt->b[bt->nb++] = *t;
	return bt->nb == BATCH ? batch_flush(bt) : 0;
}

int
stats_terms_fast(struct arxiv_stats *s, const char *text, size_t n, int f)
{
	struct batch bt;

	bt.s = s;
	bt.f = f;
	bt.nb = 0;
	bt.c = NULL;
	bt.pieces = 0;
	if (split_scan(s, text, n, emit_count, &bt, NULL) < 0)
		return -1;
	return batch_flush(&bt);
}

int
stats_terms_tokens(struct arxiv_stats *s, const char *text, size_t n, int f, size_t *ntok,
    size_t *words)
{
	struct batch bt;
	struct wpass wp;
	struct cnt c;

	c.v = s->vocab;
	c.n = 0;
	if ((c.t = tokcount__table(s->tcache, s->vocab)) == NULL)
		return -1;
	wp.l.c = &c;
	wp.l.nb = 0;
	wp.total = 0;
	wp.words = 0;
	wp.plain = 1;
	bt.s = s;
	bt.f = f;
	bt.nb = 0;
	bt.c = &c;
	bt.pieces = 0;
	if (split_scan(s, text, n, emit_count, &bt, &wp) < 0 || batch_flush(&bt) < 0)
		return -1;
	if (!wp.plain)
		return 0;
	*ntok = wp.total + lw_resolve(&wp.l) + bt.pieces + 2;	/* [CLS] [SEP] */
	*words = wp.words;
	return 1;
}

/* ------------------------------------------------ terms split ahead of time */

struct arxiv_stats_split *
arxiv_stats_split_new(void)
{
	return calloc(1, sizeof(struct arxiv_stats_split));
}

void
arxiv_stats_split_free(struct arxiv_stats_split *sp)
{
	if (sp == NULL)
		return;
	free(sp->t);
	free(sp);
}

int
arxiv_stats_split(const struct arxiv_stats *s, const char *text, size_t n,
    struct arxiv_stats_split *sp)
{
	sp->n = 0;
	stats_text_facts(text, n, &sp->facts);
	if (s->p.cleaner || s->p.top_terms == 0)
		return 0;	/* terms come cleaned, or are not counted */
	return split_text(s, text, n, sp);
}

const struct stats_facts *
stats_split_facts(const struct arxiv_stats_split *sp)
{
	return &sp->facts;
}

size_t
stats_split_count(const struct arxiv_stats_split *sp)
{
	return sp->n;
}

size_t
stats_split_term(const struct arxiv_stats_split *sp, size_t i, size_t *n)
{
	*n = sp->t[i].n;
	return sp->t[i].off;
}

int
stats_terms_split(struct arxiv_stats *s, const struct arxiv_stats_split *sp, const char *text,
    size_t n, int f)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + n;
	struct batch bt;
	size_t i, j, mask;

	/* in batches, as stats_terms_fast: the same lookups in the same order */
	bt.s = s;
	bt.f = f;
	bt.c = NULL;
	bt.pieces = 0;
	for (i = 0; i < sp->n; i += BATCH) {
		bt.nb = sp->n - i < BATCH ? sp->n - i : BATCH;
		mask = s->tslots - 1;
		for (j = 0; j < bt.nb; j++)
			__builtin_prefetch(&s->terms[sp->t[i + j].h & mask]);
		for (j = 0; j < bt.nb; j++)
			ref_fill(&bt.b[j], &sp->t[i + j], p, end);
		if (batch_flush(&bt) < 0)
			return -1;
	}
	return 0;
}

/* The cleaned text: words separated by spaces. */
int
stats_terms_clean(struct arxiv_stats *s, const char *t, size_t n, int f)
{
	size_t i = 0, j;

	while (i < n) {
		while (i < n && t[i] == ' ')
			i++;
		for (j = i; j < n && t[j] != ' '; j++)
			;
		if (j - i >= s->p.min_len && j - i <= TERM_MAX) {
			if (stats_term_add(s, t + i, j - i, f, 1) < 0)
				return -1;
			s->ftokens[f]++;
		}
		i = j;
	}
	return 0;
}

static const struct arxiv_stats *sort_s;

struct scored {
	double z;
	size_t t;
};

static int
cmp_scored(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	const struct term *tx = &sort_s->terms[x->t], *ty = &sort_s->terms[y->t];
	size_t n = tx->len < ty->len ? tx->len : ty->len;
	int c;

	if (x->z != y->z)
		return x->z > y->z ? -1 : 1;
	c = memcmp(sort_s->arena.data + tx->off, sort_s->arena.data + ty->off, n);
	return c ? c : (tx->len > ty->len) - (tx->len < ty->len);
}

static int
cmp_term(const void *a, const void *b)
{
	const struct term *tx = &sort_s->terms[*(const size_t *)a];
	const struct term *ty = &sort_s->terms[*(const size_t *)b];
	size_t n = tx->len < ty->len ? tx->len : ty->len;
	int c = memcmp(sort_s->arena.data + tx->off, sort_s->arena.data + ty->off, n);

	return c ? c : (tx->len > ty->len) - (tx->len < ty->len);
}

/* The first k of sc[0..m) in cmp_scored's order into sc[0..k) (k <= m): the
 * best so far kept sorted, each other entry compared with the last of them;
 * a full sort where k is not small. Returns k. */
static size_t
top_scored(struct scored *sc, size_t m, size_t k)
{
	size_t i, j, n = 0;

	if (k > m)
		k = m;
	if (k == 0 || k > 64 || k > m / 16) {
		qsort(sc, m, sizeof(*sc), cmp_scored);
		return k;
	}
	for (i = 0; i < m; i++) {
		struct scored x = sc[i];

		if (n == k && cmp_scored(&x, &sc[k - 1]) >= 0)
			continue;
		j = n < k ? n++ : k - 1;
		for (; j > 0 && cmp_scored(&x, &sc[j - 1]) < 0; j--)
			sc[j] = sc[j - 1];
		sc[j] = x;
	}
	return k;
}

/*
 * Log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi and
 * Quinn 2008, eq. 16-22): field i against all other fields, prior
 * alpha_w = prior * y_w / n (the corpus' own term frequencies), z-scored.
 */
int
stats_put_terms(struct arxiv_buf *o, const struct arxiv_stats *s, const size_t *order)
{
	struct scored *sc;
	uint64_t n = 0;
	size_t i, k, m, fi;
	double a0 = s->p.prior;

	for (i = 0; i < s->nf && i < TERMF; i++)
		n += s->ftokens[i];
	arxiv_buf_printf(o, "\"terms\":{\"method\":\"log-odds ratio, informative Dirichlet prior\","
	    "\"prior\":");
	stats_put_num(o, a0);
	arxiv_buf_printf(o, ",\"tokens\":%llu,\"table_terms\":%zu,\"table_cap\":%zu,"
	    "\"pruned_terms\":%llu,\"pruned_tokens\":%llu,\"exact\":%s,\"top\":{",
	    (unsigned long long)n, s->nterm, s->p.term_cap,
	    (unsigned long long)s->pruned_terms, (unsigned long long)s->pruned_tokens,
	    s->pruned_terms ? "false" : "true");
	if ((sc = malloc((s->nterm + 1) * sizeof(*sc))) == NULL)
		return -1;
	sort_s = s;
	for (fi = 0; fi < s->nf; fi++) {
		size_t f = order[fi];
		double ni = (double)s->ftokens[f < TERMF ? f : 0], nr = (double)n - ni;

		if (f >= TERMF)
			continue;
		for (i = m = 0; i < s->tslots; i++) {
			const struct term *t = &s->terms[i];
			double yi = t->c[f], yw = (double)t->total, yr = yw - yi, a, d, v;

			if (t->len == 0 || t->c[f] == 0 || n == 0)
				continue;
			a = a0 * yw / (double)n;
			d = log((yi + a) / (ni + a0 - yi - a)) - log((yr + a) / (nr + a0 - yr - a));
			v = 1 / (yi + a) + 1 / (yr + a);
			sc[m].z = d / sqrt(v);
			sc[m].t = i;
			if (isfinite(sc[m].z))
				m++;
		}
		m = top_scored(sc, m, s->p.top_terms);
		arxiv_buf_printf(o, "%s", fi ? "," : "");
		stats_put_str(o, s->fname[f], strlen(s->fname[f]));
		arxiv_buf_printf(o, ":[");
		for (k = 0; k < m; k++) {
			const struct term *t = &s->terms[sc[k].t];

			arxiv_buf_printf(o, "%s{\"term\":", k ? "," : "");
			stats_put_str(o, s->arena.data + t->off, t->len);
			arxiv_buf_printf(o, ",\"z\":");
			stats_put_num(o, sc[k].z);
			arxiv_buf_printf(o, ",\"count\":%u}", t->c[f]);
		}
		arxiv_buf_printf(o, "]");
	}
	free(sc);
	arxiv_buf_printf(o, "}}");
	return 0;
}


void
stats_terms_sorted(const struct arxiv_stats *s, size_t *idx)
{
	size_t i, j;

	for (i = j = 0; i < s->tslots; i++)
		if (s->terms[i].len)
			idx[j++] = i;
	sort_s = s;
	qsort(idx, s->nterm, sizeof(*idx), cmp_term);
}

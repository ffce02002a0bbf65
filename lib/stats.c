/*
 * stats.c - mergeable corpus statistics for arxiv-stats (see arxiv-stats(1)).
 *
 * Every accumulator has bounded memory and an exact merge:
 *   counts, the cross-list matrix, per-year counts and fixed-bin length
 *   histograms are plain sums;
 *   duplicates: a set of 64-bit hashes, exact up to exact_max distinct keys,
 *   then a HyperLogLog sketch (2^14 registers, kept from the start) estimates
 *   the distinct count; HLL registers merge by maximum;
 *   terms: a table of at most term_cap terms with counts per field; when it
 *   is full the terms with the smallest totals are dropped (lossy counting),
 *   which makes the counts of the remaining terms lower bounds.
 * The state that a merge needs beyond the printed statistics goes under
 * "state" (arxiv_stats_json with_state), so partial results of `parallel
 * --pipe` blocks combine with arxiv_stats_merge_json into the one-pass result.
 *
 * This file counts records; the term table, the term splitters and the
 * log-odds ranking are in stats_terms.c, the JSON writer and the merge in
 * stats_json.c, the accumulator's layout in stats_int.h.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bytemask.h"
#include "stats_int.h"

const unsigned stats_bin_width[3] = { 32, 4, 8 };

struct arxiv_stats_params
arxiv_stats_default_params(void)
{
	struct arxiv_stats_params p = { 0 };

	p.term_cap = 1u << 17;
	p.exact_max = 1u << 20;
	p.top_terms = 15;
	p.prior = 10000;
	p.min_len = 3;
	return p;
}

/* ------------------------------------------------------------ hash sets */

static void
hll_add(uint8_t *reg, uint64_t h)
{
	uint32_t i = (uint32_t)(h >> (64 - HLL_P));
	uint64_t w = (h << HLL_P) | ((uint64_t)1 << (HLL_P - 1));
	uint8_t r = (uint8_t)(__builtin_clzll(w) + 1);

	if (r > reg[i])
		reg[i] = r;
}

static double
hll_estimate(const uint8_t *reg)
{
	double sum = 0, m = HLL_M, e;
	size_t i, zeros = 0;

	for (i = 0; i < HLL_M; i++) {
		sum += ldexp(1.0, -reg[i]);
		if (reg[i] == 0)
			zeros++;
	}
	e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
	if (e <= 2.5 * m && zeros)
		e = m * log(m / (double)zeros);
	return e;
}

void
stats_hset_giveup(struct hset *s)
{
	arxiv_hset64_free(&s->set);
	s->exact = 0;
}

static int
hset_add(struct hset *s, uint64_t h, size_t exact_max)
{
	hll_add(s->hll, h);
	s->records++;
	if (!s->exact)
		return 0;
	if (arxiv_hset64_add(&s->set, h) < 0)
		return -1;
	if (s->set.n > exact_max)
		stats_hset_giveup(s);
	return 0;
}

uint64_t
stats_hset_distinct(const struct hset *s)
{
	double e;

	if (s->exact)
		return s->set.n;
	e = floor(hll_estimate(s->hll) + 0.5);
	if (e > (double)s->records)
		e = (double)s->records;
	return (uint64_t)e;
}

struct arxiv_stats *
arxiv_stats_new(const struct arxiv_stats_params *p, struct arxiv_error *err)
{
	struct arxiv_stats *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		arxiv_error_set(err, "", 0, "out of memory");
		return NULL;
	}
	s->p = p ? *p : arxiv_stats_default_params();
	if (s->p.term_cap < 16)
		s->p.term_cap = 16;
	s->ids.exact = s->texts.exact = 1;
	s->chars.min = s->words.min = s->tokens.min = UINT64_MAX;
	s->cat = calloc(MAXCAT, sizeof(*s->cat));
	s->catslot = calloc(2 * MAXCAT, sizeof(*s->catslot));
	s->tslots = 1;
	while (s->tslots < s->p.term_cap + s->p.term_cap / 3)
		s->tslots <<= 1;
	s->terms = stats_terms_alloc(s->tslots);
	if (s->cat == NULL || s->catslot == NULL || s->terms == NULL) {
		arxiv_error_set(err, "", 0, "out of memory");
		arxiv_stats_free(s);
		return NULL;
	}
	if (!s->p.cleaner && stats_stop_load(s, s->p.stopwords, err) < 0) {
		arxiv_stats_free(s);
		return NULL;
	}
	return s;
}

void
arxiv_stats_free(struct arxiv_stats *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nf; i++)
		free(s->fname[i]);
	for (i = 0; i < s->ncat; i++)
		free(s->cat[i].name);
	free(s->stopw);
	free(s->stop);
	free(s->cat);
	free(s->catslot);
	arxiv_hset64_free(&s->ids.set);
	arxiv_hset64_free(&s->texts.set);
	free(s->terms);
	arxiv_buf_free(&s->arena);
	free(s);
}

void
arxiv_stats_set_vocab(struct arxiv_stats *s, const struct arxiv_vocab *v,
    const struct arxiv_tok_params *p, struct arxiv_tok_cache *c, size_t cap)
{
	s->vocab = v;
	s->tp = p ? *p : arxiv_tok_default_params();
	s->tcache = c;
	s->tok_cap = cap;
}

/* ------------------------------------------------------------ accumulating */

int
stats_field_id(struct arxiv_stats *s, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < s->nf; i++)
		if (strlen(s->fname[i]) == n && memcmp(s->fname[i], name, n) == 0)
			return (int)i;
	if (s->nf == MAXF)
		return -1;
	if ((s->fname[s->nf] = strndup(name, n)) == NULL)
		return -2;
	return (int)s->nf++;
}

int
stats_cat_add(struct arxiv_stats *s, const char *name, size_t n, int field, uint64_t k)
{
	size_t i, mask = 2 * MAXCAT - 1;
	uint32_t h = arxiv_key_hash(name, n);

	for (i = h & mask; s->catslot[i]; i = (i + 1) & mask) {
		struct cat *c = &s->cat[s->catslot[i] - 1];

		if (strlen(c->name) == n && memcmp(c->name, name, n) == 0) {
			c->n += k;
			return 0;
		}
	}
	if (s->ncat == MAXCAT) {
		s->cat_over += k;
		return 0;
	}
	if ((s->cat[s->ncat].name = strndup(name, n)) == NULL)
		return -1;
	s->cat[s->ncat].field = field;
	s->cat[s->ncat].n = k;
	s->catslot[i] = ++s->ncat;
	return 0;
}

static void
dist_add(struct dist *d, uint64_t v, unsigned width)
{
	uint64_t b = v / width;

	d->n++;
	d->sum += v;
	d->sumsq += v * v;
	if (v < d->min)
		d->min = v;
	if (v > d->max)
		d->max = v;
	d->hist[b < NBIN ? b : NBIN]++;
}

void
stats_dist_merge(struct dist *d, const struct dist *o)
{
	size_t i;

	if (o->n == 0)
		return;
	d->n += o->n;
	d->sum += o->sum;
	d->sumsq += o->sumsq;
	if (o->min < d->min)
		d->min = o->min;
	if (o->max > d->max)
		d->max = o->max;
	for (i = 0; i <= NBIN; i++)
		d->hist[i] += o->hist[i];
}

/* year of an arXiv id: "YYMM.NNNNN" (2007-), "archive/YYMMNNN", else -1 */
static int
id_year(const char *id, size_t n)
{
	const char *p = id;
	size_t i;
	int yy, mm;

	for (i = 0; i < n; i++)
		if (id[i] == '/')
			p = id + i + 1;
	if ((size_t)(p - id) + 4 > n)
		return -1;
	for (i = 0; i < 4; i++)
		if (!isdigit((unsigned char)p[i]))
			return -1;
	yy = (p[0] - '0') * 10 + (p[1] - '0');
	mm = (p[2] - '0') * 10 + (p[3] - '0');
	if (mm < 1 || mm > 12)
		return -1;
	if (p == id) {		/* new style: a dot after 4 digits */
		if (n < 5 || p[4] != '.')
			return -1;
		return 2000 + yy;
	}
	return yy >= 91 ? 1900 + yy : 2000 + yy;
}

static int
date_year(const char *d, size_t n)
{
	size_t i;

	if (d == NULL || n < 4)
		return -1;
	for (i = 0; i < 4; i++)
		if (!isdigit((unsigned char)d[i]))
			return -1;
	if (n > 4 && d[4] != '-')
		return -1;
	return atoi(d) <= 9999 ? (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10
	    + (d[3] - '0') : -1;
}

/* LaTeX math in a text: a $, or \( \[ \begin{ */
static int
has_math(const char *t, size_t n)
{
	const char *p = t, *end = t + n;

	if (memchr(t, '$', n) != NULL)
		return 1;
	while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
		size_t i = (size_t)(p - t);

		if (i + 1 < n && (t[i + 1] == '(' || t[i + 1] == '[' ||
		    (n - i > 7 && memcmp(t + i + 1, "begin{", 6) == 0)))
			return 1;
		p++;
	}
	return 0;
}

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* the high bit of each byte of x that equals c (exact: no carries between bytes) */
static inline uint64_t
bytes_eq(uint64_t x, unsigned char c)
{
	uint64_t t = x ^ (ONES * c);

	return ~(((t & ~HIGH) + ~HIGH) | t) & HIGH;
}

/* the number of bytes of x with the high bit set, x having no other bits */
static inline size_t
count_high(uint64_t x)
{
	return (size_t)(((x >> 7) * ONES) >> 56);
}

/* Characters (UTF-8 sequences: bytes but continuation bytes), words (runs
 * of bytes other than space, tab, CR, LF: wordmask64's blanks) and whether
 * any byte is non-ASCII: 64 bytes at a time by masks, the rest 8 at a time. */
static void
text_counts(const unsigned char *p, size_t n, size_t *chars, size_t *words, int *nonascii)
{
	size_t i = 0, cont = 0, starts = 0;
	unsigned prev = 1;	/* the byte before is a blank */
	unsigned char any = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t acc = 0, carry = 0x80;	/* the blank bit of the byte before, at bit 7 */

	for (; i + 64 <= n; i += 64) {
		struct wordmask m;
		size_t j;

		wordmask64(p + i, 64, &m);
		if (m.high) {	/* continuation bytes only where there are high ones */
			acc |= HIGH;
			for (j = 0; j < 64; j += 8) {
				uint64_t x;

				memcpy(&x, p + i + j, 8);
				cont += count_high(x & ~(x << 1) & HIGH);
			}
		}
		starts += bytemask_pop64(~m.space & (m.space << 1 | carry >> 7));
		carry = (m.space >> 63) << 7;
	}
	for (; i + 8 <= n; i += 8) {
		uint64_t x, blank, solid;

		memcpy(&x, p + i, 8);
		acc |= x;
		cont += count_high(x & ~(x << 1) & HIGH);
		blank = bytes_eq(x, ' ') | bytes_eq(x, '\n') | bytes_eq(x, '\t') | bytes_eq(x, '\r');
		solid = ~blank & HIGH;
		starts += count_high(solid & ((blank << 8) | carry));
		carry = blank >> 56;
	}
	any = (acc & HIGH) != 0;
	prev = carry != 0;
#endif
	for (; i < n; i++) {
		unsigned c = p[i], blank = c == ' ' || c == '\n' || c == '\t' || c == '\r';

		cont += (c & 0xc0) == 0x80;
		any |= c >= 0x80;
		starts += prev & !blank;
		prev = blank;
	}
	*chars = n - cont;
	*words = starts;
	*nonascii = any;
}

void
stats_text_facts(const char *t, size_t n, struct stats_facts *fx)
{
	fx->htext = hash64(t, n);
	text_counts((const unsigned char *)t, n, &fx->chars, &fx->words, &fx->nonascii);
	fx->math = has_math(t, n);
}

int
arxiv_stats_add(struct arxiv_stats *s, const struct arxiv_stats_record *r,
    struct arxiv_error *err)
{
	int f, g, y, terms_done = 0, counted = 0, fuse;
	long n_tokens = r->n_tokens;
	size_t i, nt, words;
	uint64_t fmask = 0, hid;
	struct stats_facts own;
	const struct stats_facts *fx;

	if (n_tokens == ARXIV_STATS_COUNT_TOKENS && (s->vocab == NULL || s->tcache == NULL)) {
		arxiv_error_set(err, "", 0, "no vocabulary to count tokens with "
		    "(arxiv_stats_set_vocab)");
		return -1;
	}
	/* tokens counted in the pass that splits the terms, for an ASCII text:
	 * which also counts its words (the text's other counts wait for it) */
	fuse = n_tokens == ARXIV_STATS_COUNT_TOKENS && r->terms.s == NULL && r->split == NULL &&
	    s->p.top_terms > 0 && s->tp.lowercase;
	if (r->split != NULL)
		fx = stats_split_facts(r->split);
	else if (fuse) {
		own.htext = hash64(r->text.s, r->text.n);
		own.math = has_math(r->text.s, r->text.n);
		fx = &own;	/* chars, words, nonascii: below */
	} else {
		stats_text_facts(r->text.s, r->text.n, &own);
		fx = &own;
	}
	/* the duplicate sets' slots are fetched while the record is counted */
	hid = hash64(r->id.s, r->id.n);
	arxiv_hset64_prefetch(&s->ids.set, hid);
	arxiv_hset64_prefetch(&s->texts.set, fx->htext);
	f = stats_field_id(s, r->label.s, r->label.n);
	if (f == -2)
		goto oom;
	s->n++;
	if (f < 0)
		s->fields_over++;
	else {
		s->fpapers[f]++;
		fmask |= (uint64_t)1 << f;
		for (i = 0; i < r->n_fields; i++) {
			g = stats_field_id(s, r->fields[i].s, r->fields[i].n);
			if (g == -2)
				goto oom;
			if (g < 0 || (fmask >> g & 1))
				continue;
			fmask |= (uint64_t)1 << g;
			s->matrix[f][g]++;
		}
		if (fmask == ((uint64_t)1 << f)) {
			s->matrix[f][f]++;
		} else
			s->fcross[f]++;
	}
	if (r->n_categories > 0 && stats_cat_add(s, r->categories[0].s, r->categories[0].n, f, 1) < 0)
		goto oom;

	y = id_year(r->id.s, r->id.n);
	if (y < 0)
		y = date_year(r->date.s, r->date.n);
	if (y >= YEAR0 && y < YEAR0 + NYEAR)
		s->years[y - YEAR0]++;
	else
		s->year_unknown++;

	if (n_tokens == ARXIV_STATS_COUNT_TOKENS) {
		if (fuse && f >= 0 && f < TERMF) {
			counted = stats_terms_tokens(s, r->text.s, r->text.n, f, &nt, &words);
			if (counted < 0)
				goto oom;
			terms_done = 1;
		}
		if (counted) {	/* no byte >= 0x80 */
			own.chars = r->text.n;
			own.words = words;
			own.nonascii = 0;
		} else if (arxiv_tok_count_cached(s->tcache, ARXIV_TOK_VALID_UTF8, s->vocab,
		    &s->tp, r->text.s, r->text.n, &nt, err) < 0)
			return -1;
		n_tokens = (long)(s->tok_cap && nt > s->tok_cap ? s->tok_cap : nt);
	}
	if (fuse && !counted)
		text_counts((const unsigned char *)r->text.s, r->text.n, &own.chars, &own.words,
		    &own.nonascii);
	s->math += fx->math;
	s->nonascii += fx->nonascii;
	dist_add(&s->chars, fx->chars, stats_bin_width[0]);
	dist_add(&s->words, fx->words, stats_bin_width[1]);
	if (n_tokens >= 0) {
		s->have_tokens = 1;
		dist_add(&s->tokens, (uint64_t)n_tokens, stats_bin_width[2]);
		if (n_tokens > 256)
			s->tok_over256++;
		if (n_tokens > 512)
			s->tok_over512++;
	}
	if (hset_add(&s->ids, hid, s->p.exact_max) < 0 ||
	    hset_add(&s->texts, fx->htext, s->p.exact_max) < 0)
		goto oom;

	if (!terms_done && f >= 0 && f < TERMF && s->p.top_terms > 0) {
		if (r->terms.s != NULL) {
			if (stats_terms_clean(s, r->terms.s, r->terms.n, f) < 0)
				goto oom;
		} else if (r->split != NULL) {
			if (stats_terms_split(s, r->split, r->text.s, r->text.n, f) < 0)
				goto oom;
		} else if (stats_terms_fast(s, r->text.s, r->text.n, f) < 0)
			goto oom;
	}
	return 0;
oom:
	arxiv_error_set(err, "", 0, "out of memory");
	return -1;
}

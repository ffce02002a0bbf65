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
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arxiv.h"
#include "internal.h"

#define MAXF ARXIV_STATS_MAX_FIELDS
#define TERMF 8		/* fields with term counts (one cache line per term) */
#define MAXCAT 4096		/* distinct primary categories kept */
#define YEAR0 1986
#define NYEAR 120
#define NBIN 512
#define HLL_P 14
#define HLL_M (1u << HLL_P)
#define TERM_MAX 32		/* longest term kept, bytes */

struct dist {
	uint64_t n, sum, sumsq, min, max;
	uint64_t hist[NBIN + 1];	/* last: overflow */
};

struct hset {
	uint64_t *slot;		/* 0 = empty (hash 0 is stored as 1) */
	size_t cap, n;		/* cap a power of two */
	int exact;		/* 0: gave up, only the HLL counts */
	uint8_t hll[HLL_M];
	uint64_t records;
};

#define PRE 14			/* leading bytes kept in the entry itself */
struct term {			/* one cache line */
	uint64_t hash;
	uint32_t off;		/* the whole term in the string arena */
	uint16_t len;		/* 0: empty slot */
	char pre[PRE];		/* its first PRE bytes, compared without the arena */
	uint32_t total;
	uint32_t c[TERMF];
} __attribute__((aligned(64)));

struct cat {
	char *name;
	int field;
	uint64_t n;
};

struct arxiv_stats {
	struct arxiv_stats_params p;
	uint64_t n;
	size_t nf;
	char *fname[MAXF];
	uint64_t fpapers[MAXF], fcross[MAXF];
	uint64_t matrix[MAXF][MAXF];
	uint64_t ftokens[MAXF];	/* term tokens per field */
	uint64_t fields_over;	/* records with a field beyond MAXF */
	struct cat *cat;
	size_t ncat;
	size_t *catslot;	/* open addressing into cat, 2*MAXCAT; value idx+1 */
	uint64_t cat_over;
	uint64_t years[NYEAR], year_unknown;
	struct dist chars, words, tokens;
	uint64_t tok_over256, tok_over512;
	int have_tokens;
	uint64_t math, nonascii;
	struct hset ids, texts;
	/* terms */
	struct term *terms;	/* open addressing, tslots entries, len 0 = empty */
	size_t nterm;		/* entries in use, at most term_cap */
	size_t tslots;
	struct arxiv_buf arena;
	uint64_t pruned_terms, pruned_tokens;
	uint32_t prune_floor;
	/* fast term splitting */
	uint64_t *stop;		/* stop-word hashes (hash64), open addressing */
	size_t nstop;
	char **stopw;
};

/* bins: chars 32 wide (to 16384), words 4 (to 2048), tokens 8 (to 4096) */
static const unsigned bin_width[3] = { 32, 4, 8 };

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

static uint64_t
hash64(const char *p, size_t n)
{
	return arxiv_key_hash64(p, n);
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

/* 1 new, 0 present, -1 out of memory */
static int
hset_insert(struct hset *s, uint64_t h)
{
	size_t i, mask;

	if (h == 0)
		h = 1;
	if (s->slot == NULL || (s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024, j;
		uint64_t *ns = calloc(ncap, sizeof(*ns));

		if (ns == NULL)
			return -1;
		for (j = 0; j < s->cap; j++) {
			uint64_t v = s->slot[j];

			if (v == 0)
				continue;
			for (i = v & (ncap - 1); ns[i]; i = (i + 1) & (ncap - 1))
				;
			ns[i] = v;
		}
		free(s->slot);
		s->slot = ns;
		s->cap = ncap;
	}
	mask = s->cap - 1;
	for (i = h & mask; s->slot[i]; i = (i + 1) & mask)
		if (s->slot[i] == h)
			return 0;
	s->slot[i] = h;
	s->n++;
	return 1;
}

static void
hset_giveup(struct hset *s)
{
	free(s->slot);
	s->slot = NULL;
	s->cap = s->n = 0;
	s->exact = 0;
}

static int
hset_add(struct hset *s, uint64_t h, size_t exact_max)
{
	hll_add(s->hll, h);
	s->records++;
	if (!s->exact)
		return 0;
	if (hset_insert(s, h) < 0)
		return -1;
	if (s->n > exact_max)
		hset_giveup(s);
	return 0;
}

static uint64_t
hset_distinct(const struct hset *s)
{
	double e;

	if (s->exact)
		return s->n;
	e = floor(hll_estimate(s->hll) + 0.5);
	if (e > (double)s->records)
		e = (double)s->records;
	return (uint64_t)e;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---------------------------------------------------------------- base64 */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_put(struct arxiv_buf *o, const unsigned char *p, size_t n)
{
	size_t i;
	char q[4];

	if (arxiv_buf_reserve(o, (n + 2) / 3 * 4 + 1) < 0)
		return -1;
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = b64[v >> 18];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		arxiv_buf_append(o, q, 4);
	}
	return 0;
}

/* decoded bytes into a new buffer, *n its length; NULL on bad input */
static unsigned char *
b64_get(const char *s, size_t len, size_t *n)
{
	unsigned char *out;
	size_t i, k = 0;
	unsigned v = 0;
	int bits = 0;

	if (len % 4)
		return NULL;
	if ((out = malloc(len / 4 * 3 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		const char *c;

		if (s[i] == '=') {
			if (i + 2 < len)
				goto bad;
			break;
		}
		if ((c = memchr(b64, s[i], 64)) == NULL || s[i] == '\0')
			goto bad;
		v = (v << 6) | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (unsigned char)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	*n = k;
	return out;
bad:
	free(out);
	return NULL;
}

/* ------------------------------------------------------------- stop words */

static int
stop_has(const struct arxiv_stats *s, uint64_t h, const char *w, size_t n)
{
	size_t i, mask = s->nstop - 1;

	if (s->stop == NULL)
		return 0;
	h |= 1;
	for (i = h & mask; s->stop[i]; i = (i + 1) & mask)
		if (s->stop[i] == h) {
			const char *sw = s->stopw[i];

			if (strlen(sw) == n && memcmp(sw, w, n) == 0)
				return 1;
		}
	return 0;
}

static int
stop_load(struct arxiv_stats *s, const char *path, struct arxiv_error *err)
{
	char buf[4096], line[256];
	FILE *fp;
	size_t i, mask;

	if (path == NULL)
		path = arxiv_data_path("stopwords.txt", buf, sizeof(buf));
	if ((fp = fopen(path, "r")) == NULL) {
		arxiv_error_set(err, path, 0, "%s", strerror(errno));
		return -1;
	}
	s->nstop = 1024;
	s->stop = calloc(s->nstop, sizeof(*s->stop));
	s->stopw = calloc(s->nstop, sizeof(*s->stopw));
	if (s->stop == NULL || s->stopw == NULL) {
		fclose(fp);
		arxiv_error_set(err, path, 0, "out of memory");
		return -1;
	}
	mask = s->nstop - 1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t n = strcspn(line, "\r\n");
		uint64_t h;

		line[n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (stop_has(s, hash64(line, n), line, n))
			continue;
		h = hash64(line, n) | 1;
		for (i = h & mask; s->stop[i]; i = (i + 1) & mask)
			;
		if ((s->stopw[i] = strdup(line)) == NULL)
			break;
		s->stop[i] = h;
	}
	fclose(fp);
	return 0;
}

/* --------------------------------------------------------------- creation */

static struct term *
terms_alloc(size_t n)
{
	struct term *t = aligned_alloc(64, n * sizeof(*t));

	if (t != NULL)
		memset(t, 0, n * sizeof(*t));
	return t;
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
	s->terms = terms_alloc(s->tslots);
	if (s->cat == NULL || s->catslot == NULL || s->terms == NULL) {
		arxiv_error_set(err, "", 0, "out of memory");
		arxiv_stats_free(s);
		return NULL;
	}
	if (!s->p.cleaner && stop_load(s, s->p.stopwords, err) < 0) {
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
	for (i = 0; s->stopw && i < s->nstop; i++)
		free(s->stopw[i]);
	free(s->stopw);
	free(s->stop);
	free(s->cat);
	free(s->catslot);
	free(s->ids.slot);
	free(s->texts.slot);
	free(s->terms);
	arxiv_buf_free(&s->arena);
	free(s);
}

/* ------------------------------------------------------------ accumulating */

static int
field_id(struct arxiv_stats *s, const char *name, size_t n)
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

static int
cat_add(struct arxiv_stats *s, const char *name, size_t n, int field, uint64_t k)
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

static void
dist_merge(struct dist *d, const struct dist *o)
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
	if ((nt = terms_alloc(s->tslots)) == NULL)
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

/* add k to the count of term w in field f (f < 0: total only) */
static int
term_add_h(struct arxiv_stats *s, uint64_t h, const char *w, size_t n, int f, uint64_t k)
{
	size_t i, mask = s->tslots - 1;
	struct term *t;

	for (i = h & mask; s->terms[i].len; i = (i + 1) & mask) {
		t = &s->terms[i];
		if (t->hash == h && t->len == n && memcmp(t->pre, w, n < PRE ? n : PRE) == 0 &&
		    (n <= PRE || memcmp(s->arena.data + t->off + PRE, w + PRE, n - PRE) == 0))
			goto found;
	}
	if (s->nterm == s->p.term_cap) {
		if (terms_prune(s) < 0)
			return -1;
		for (i = h & mask; s->terms[i].len; i = (i + 1) & mask)
			;
	}
	if (s->arena.len + n >= UINT32_MAX || arxiv_buf_reserve(&s->arena, n + 1) < 0)
		return -1;
	t = &s->terms[i];
	t->hash = h;
	t->off = (uint32_t)s->arena.len;
	t->len = (uint16_t)n;
	memcpy(t->pre, w, n < PRE ? n : PRE);
	memcpy(s->arena.data + s->arena.len, w, n);
	s->arena.len += n;
	s->nterm++;
found:
	t->total += (uint32_t)k;
	if (f >= 0 && f < TERMF)
		t->c[f] += (uint32_t)k;
	return 0;
}

static int
term_add(struct arxiv_stats *s, const char *w, size_t n, int f, uint64_t k)
{
	if (n == 0 || n > TERM_MAX)	/* not a term of ours (a merged state) */
		return 0;
	return term_add_h(s, hash64(w, n), w, n, f, k);
}

/* The fast term splitter: runs of ASCII letters (lowercased) of min_len..32
 * bytes outside $...$ math and outside \commands, not stop words. */
static int
terms_fast(struct arxiv_stats *s, const char *t, size_t n, int f)
{
	char w[TERM_MAX + 1];
	size_t i = 0, k;
	int math = 0;
	uint64_t h;

	while (i < n) {
		unsigned char c = (unsigned char)t[i];

		if (c == '$') {
			math = !math;
			i++;
			continue;
		}
		if (c == '\\') {
			i++;
			while (i < n && isalpha((unsigned char)t[i]))
				i++;
			continue;
		}
		if (!isalpha(c)) {
			i++;
			continue;
		}
		for (k = 0; i < n && isalpha((unsigned char)t[i]); i++, k++)
			if (k < TERM_MAX)
				w[k] = (char)(t[i] | 0x20);
		if (math || k < s->p.min_len || k > TERM_MAX || (i < n && (unsigned char)t[i] >= 0x80))
			continue;
		h = hash64(w, k);
		if (stop_has(s, h, w, k))
			continue;
		if (term_add_h(s, h, w, k, f, 1) < 0)
			return -1;
		s->ftokens[f]++;
	}
	return 0;
}

/* The cleaned text: words separated by spaces. */
static int
terms_clean(struct arxiv_stats *s, const char *t, size_t n, int f)
{
	size_t i = 0, j;

	while (i < n) {
		while (i < n && t[i] == ' ')
			i++;
		for (j = i; j < n && t[j] != ' '; j++)
			;
		if (j - i >= s->p.min_len && j - i <= TERM_MAX) {
			if (term_add(s, t + i, j - i, f, 1) < 0)
				return -1;
			s->ftokens[f]++;
		}
		i = j;
	}
	return 0;
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

int
arxiv_stats_add(struct arxiv_stats *s, const struct arxiv_stats_record *r,
    struct arxiv_error *err)
{
	int f, g, y;
	size_t i, chars = 0, words = 0;
	int in_word = 0, nonascii = 0, math = 0;
	uint64_t fmask = 0;

	f = field_id(s, r->label.s, r->label.n);
	if (f == -2)
		goto oom;
	s->n++;
	if (f < 0)
		s->fields_over++;
	else {
		s->fpapers[f]++;
		fmask |= (uint64_t)1 << f;
		for (i = 0; i < r->n_fields; i++) {
			g = field_id(s, r->fields[i].s, r->fields[i].n);
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
	if (r->n_categories > 0 && cat_add(s, r->categories[0].s, r->categories[0].n, f, 1) < 0)
		goto oom;

	y = id_year(r->id.s, r->id.n);
	if (y < 0)
		y = date_year(r->date.s, r->date.n);
	if (y >= YEAR0 && y < YEAR0 + NYEAR)
		s->years[y - YEAR0]++;
	else
		s->year_unknown++;

	for (i = 0; i < r->text.n; i++) {
		unsigned char c = (unsigned char)r->text.s[i];

		if ((c & 0xc0) != 0x80)
			chars++;
		if (c >= 0x80)
			nonascii = 1;
		else if (c == '$')
			math = 1;
		else if (c == '\\' && i + 1 < r->text.n && (r->text.s[i + 1] == '(' ||
		    r->text.s[i + 1] == '[' || (r->text.n - i > 7 &&
		    memcmp(r->text.s + i + 1, "begin{", 6) == 0)))
			math = 1;
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
			in_word = 0;
		else if (!in_word) {
			in_word = 1;
			words++;
		}
	}
	s->math += math;
	s->nonascii += nonascii;
	dist_add(&s->chars, chars, bin_width[0]);
	dist_add(&s->words, words, bin_width[1]);
	if (r->n_tokens >= 0) {
		s->have_tokens = 1;
		dist_add(&s->tokens, (uint64_t)r->n_tokens, bin_width[2]);
		if (r->n_tokens > 256)
			s->tok_over256++;
		if (r->n_tokens > 512)
			s->tok_over512++;
	}
	if (hset_add(&s->ids, hash64(r->id.s, r->id.n), s->p.exact_max) < 0 ||
	    hset_add(&s->texts, hash64(r->text.s, r->text.n), s->p.exact_max) < 0)
		goto oom;

	if (f >= 0 && f < TERMF && s->p.top_terms > 0) {
		if (r->terms.s != NULL) {
			if (terms_clean(s, r->terms.s, r->terms.n, f) < 0)
				goto oom;
		} else if (terms_fast(s, r->text.s, r->text.n, f) < 0)
			goto oom;
	}
	return 0;
oom:
	arxiv_error_set(err, "", 0, "out of memory");
	return -1;
}

/* ------------------------------------------------------------------ output */

static void
put_str(struct arxiv_buf *o, const char *s, size_t n)
{
	arxiv_buf_putc(o, '"');
	arxiv_json_escape(s, n, o);
	arxiv_buf_putc(o, '"');
}

static void
put_num(struct arxiv_buf *o, double v)
{
	if (!isfinite(v))
		v = 0;
	arxiv_buf_printf(o, "%.6g", v);
}

static double
share(uint64_t k, uint64_t n)
{
	return n ? (double)k / (double)n : 0;
}

/* the q-quantile from the histogram: the upper edge of the bin holding it */
static uint64_t
dist_quantile(const struct dist *d, unsigned width, double q)
{
	uint64_t want = (uint64_t)ceil(q * (double)d->n), acc = 0;
	size_t i;

	if (want == 0)
		want = 1;
	for (i = 0; i <= NBIN; i++) {
		acc += d->hist[i];
		if (acc >= want) {
			uint64_t edge = (uint64_t)(i + 1) * width - 1;

			if (i == NBIN || edge > d->max)
				edge = d->max;
			if (edge < d->min)
				edge = d->min;
			return edge;
		}
	}
	return d->max;
}

static void
put_dist(struct arxiv_buf *o, const struct dist *d, unsigned width)
{
	double mean = d->n ? (double)d->sum / (double)d->n : 0, var = 0;
	size_t i, last = 0;

	if (d->n > 1)
		var = ((double)d->sumsq - (double)d->n * mean * mean) / (double)(d->n - 1);
	if (var < 0)
		var = 0;
	arxiv_buf_printf(o, "{\"n\":%llu,\"sum\":%llu,\"sumsq\":%llu,\"min\":%llu,\"max\":%llu,"
	    "\"mean\":", (unsigned long long)d->n, (unsigned long long)d->sum,
	    (unsigned long long)d->sumsq, (unsigned long long)(d->n ? d->min : 0),
	    (unsigned long long)d->max);
	put_num(o, mean);
	arxiv_buf_printf(o, ",\"sd\":");
	put_num(o, sqrt(var));
	arxiv_buf_printf(o, ",\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"bin_width\":%u,\"histogram\":[",
	    (unsigned long long)(d->n ? dist_quantile(d, width, 0.5) : 0),
	    (unsigned long long)(d->n ? dist_quantile(d, width, 0.9) : 0),
	    (unsigned long long)(d->n ? dist_quantile(d, width, 0.99) : 0), width);
	for (i = 0; i <= NBIN; i++)
		if (d->hist[i])
			last = i + 1;
	for (i = 0; i < last; i++)
		arxiv_buf_printf(o, "%s%llu", i ? "," : "", (unsigned long long)d->hist[i]);
	arxiv_buf_printf(o, "],\"overflow\":%llu}", (unsigned long long)d->hist[NBIN]);
}

static const struct arxiv_stats *sort_s;

static int
cmp_field(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (sort_s->fpapers[x] != sort_s->fpapers[y])
		return sort_s->fpapers[x] > sort_s->fpapers[y] ? -1 : 1;
	return strcmp(sort_s->fname[x], sort_s->fname[y]);
}

static int
cmp_cat(const void *a, const void *b)
{
	const struct cat *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->name, y->name);
}

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

/*
 * Log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi and
 * Quinn 2008, eq. 16-22): field i against all other fields, prior
 * alpha_w = prior * y_w / n (the corpus' own term frequencies), z-scored.
 */
static int
put_terms(struct arxiv_buf *o, const struct arxiv_stats *s, const size_t *order)
{
	struct scored *sc;
	uint64_t n = 0;
	size_t i, k, m, fi;
	double a0 = s->p.prior;

	for (i = 0; i < s->nf && i < TERMF; i++)
		n += s->ftokens[i];
	arxiv_buf_printf(o, "\"terms\":{\"method\":\"log-odds ratio, informative Dirichlet prior\","
	    "\"prior\":");
	put_num(o, a0);
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
		qsort(sc, m, sizeof(*sc), cmp_scored);
		arxiv_buf_printf(o, "%s", fi ? "," : "");
		put_str(o, s->fname[f], strlen(s->fname[f]));
		arxiv_buf_printf(o, ":[");
		for (k = 0; k < m && k < s->p.top_terms; k++) {
			const struct term *t = &s->terms[sc[k].t];

			arxiv_buf_printf(o, "%s{\"term\":", k ? "," : "");
			put_str(o, s->arena.data + t->off, t->len);
			arxiv_buf_printf(o, ",\"z\":");
			put_num(o, sc[k].z);
			arxiv_buf_printf(o, ",\"count\":%u}", t->c[f]);
		}
		arxiv_buf_printf(o, "]");
	}
	free(sc);
	arxiv_buf_printf(o, "}}");
	return 0;
}

static void
put_hset(struct arxiv_buf *o, const struct hset *h)
{
	arxiv_buf_printf(o, "{\"records\":%llu,\"exact\":%s,\"hll\":\"",
	    (unsigned long long)h->records, h->exact ? "true" : "false");
	b64_put(o, h->hll, HLL_M);
	arxiv_buf_printf(o, "\"");
	if (h->exact) {
		uint64_t *v = malloc((h->n + 1) * sizeof(*v));
		unsigned char *le = malloc((h->n + 1) * 8);
		size_t i, k;

		if (v == NULL || le == NULL) {
			free(v);
			free(le);
			return;
		}
		for (i = k = 0; i < h->cap; i++)
			if (h->slot[i])
				v[k++] = h->slot[i];
		qsort(v, k, sizeof(*v), cmp_u64);
		for (i = 0; i < k; i++)
			for (int b = 0; b < 8; b++)
				le[i * 8 + b] = (unsigned char)(v[i] >> (8 * b));
		arxiv_buf_printf(o, ",\"hashes\":\"");
		b64_put(o, le, k * 8);
		arxiv_buf_printf(o, "\"");
		free(v);
		free(le);
	}
	arxiv_buf_printf(o, "}");
}

int
arxiv_stats_json(const struct arxiv_stats *s, int with_state, struct arxiv_buf *o)
{
	size_t order[MAXF], i, j;
	struct cat *cats;
	uint64_t n = s->n;

	arxiv_buf_clear(o);
	for (i = 0; i < s->nf; i++)
		order[i] = i;
	sort_s = s;
	qsort(order, s->nf, sizeof(*order), cmp_field);

	arxiv_buf_printf(o, "{\"format\":\"arxiv-stats\",\"version\":1,\"records\":%llu,\"fields\":[",
	    (unsigned long long)n);
	for (i = 0; i < s->nf; i++) {
		size_t f = order[i];

		arxiv_buf_printf(o, "%s{\"name\":", i ? "," : "");
		put_str(o, s->fname[f], strlen(s->fname[f]));
		arxiv_buf_printf(o, ",\"papers\":%llu,\"share\":", (unsigned long long)s->fpapers[f]);
		put_num(o, share(s->fpapers[f], n));
		arxiv_buf_printf(o, ",\"cross_listed\":%llu}", (unsigned long long)s->fcross[f]);
	}
	arxiv_buf_printf(o, "],\"fields_over\":%llu,\"categories\":[",
	    (unsigned long long)s->fields_over);
	if ((cats = malloc((s->ncat + 1) * sizeof(*cats))) == NULL)
		return -1;
	memcpy(cats, s->cat, s->ncat * sizeof(*cats));
	qsort(cats, s->ncat, sizeof(*cats), cmp_cat);
	for (i = 0; i < s->ncat; i++) {
		arxiv_buf_printf(o, "%s{\"name\":", i ? "," : "");
		put_str(o, cats[i].name, strlen(cats[i].name));
		arxiv_buf_printf(o, ",\"field\":");
		if (cats[i].field >= 0)
			put_str(o, s->fname[cats[i].field], strlen(s->fname[cats[i].field]));
		else
			arxiv_buf_printf(o, "null");
		arxiv_buf_printf(o, ",\"papers\":%llu}", (unsigned long long)cats[i].n);
	}
	free(cats);
	arxiv_buf_printf(o, "],\"categories_over\":%llu,\"years\":[",
	    (unsigned long long)s->cat_over);
	for (i = j = 0; i < NYEAR; i++)
		if (s->years[i])
			arxiv_buf_printf(o, "%s{\"year\":%zu,\"papers\":%llu}", j++ ? "," : "",
			    i + YEAR0, (unsigned long long)s->years[i]);
	arxiv_buf_printf(o, "],\"year_unknown\":%llu,\"cross_list\":{\"fields\":[",
	    (unsigned long long)s->year_unknown);
	for (i = 0; i < s->nf; i++) {
		arxiv_buf_printf(o, "%s", i ? "," : "");
		put_str(o, s->fname[order[i]], strlen(s->fname[order[i]]));
	}
	arxiv_buf_printf(o, "],\"matrix\":[");
	for (i = 0; i < s->nf; i++) {
		arxiv_buf_printf(o, "%s[", i ? "," : "");
		for (j = 0; j < s->nf; j++)
			arxiv_buf_printf(o, "%s%llu", j ? "," : "",
			    (unsigned long long)s->matrix[order[i]][order[j]]);
		arxiv_buf_printf(o, "]");
	}
	arxiv_buf_printf(o, "]},\"length\":{\"chars\":");
	put_dist(o, &s->chars, bin_width[0]);
	arxiv_buf_printf(o, ",\"words\":");
	put_dist(o, &s->words, bin_width[1]);
	arxiv_buf_printf(o, ",\"tokens\":");
	if (s->have_tokens) {
		put_dist(o, &s->tokens, bin_width[2]);
		o->len--;	/* reopen the object */
		arxiv_buf_printf(o, ",\"over_256\":%llu,\"over_512\":%llu,\"share_truncated_256\":",
		    (unsigned long long)s->tok_over256, (unsigned long long)s->tok_over512);
		put_num(o, share(s->tok_over256, s->tokens.n));
		arxiv_buf_printf(o, ",\"share_truncated_512\":");
		put_num(o, share(s->tok_over512, s->tokens.n));
		arxiv_buf_printf(o, "}");
	} else
		arxiv_buf_printf(o, "null");
	arxiv_buf_printf(o, "},\"latex_math\":{\"papers\":%llu,\"share\":", (unsigned long long)s->math);
	put_num(o, share(s->math, n));
	arxiv_buf_printf(o, "},\"non_ascii\":{\"papers\":%llu,\"share\":",
	    (unsigned long long)s->nonascii);
	put_num(o, share(s->nonascii, n));
	arxiv_buf_printf(o, "},\"duplicates\":{\"ids\":%llu,\"texts\":%llu,\"exact\":%s},",
	    (unsigned long long)(n - hset_distinct(&s->ids)),
	    (unsigned long long)(n - hset_distinct(&s->texts)),
	    s->ids.exact && s->texts.exact ? "true" : "false");
	if (put_terms(o, s, order) < 0)
		return -1;
	if (with_state) {
		size_t *idx = malloc((s->nterm + 1) * sizeof(*idx));

		if (idx == NULL)
			return -1;
		arxiv_buf_printf(o, ",\"state\":{\"version\":1,\"ftokens\":[");
		for (i = 0; i < s->nf; i++)
			arxiv_buf_printf(o, "%s%llu", i ? "," : "",
			    (unsigned long long)(order[i] < TERMF ? s->ftokens[order[i]] : 0));
		arxiv_buf_printf(o, "],\"prune_floor\":%u,\"ids\":", s->prune_floor);
		put_hset(o, &s->ids);
		arxiv_buf_printf(o, ",\"texts\":");
		put_hset(o, &s->texts);
		/* terms sorted by text, counts in the order of "fields" */
		for (i = j = 0; i < s->tslots; i++)
			if (s->terms[i].len)
				idx[j++] = i;
		qsort(idx, s->nterm, sizeof(*idx), cmp_term);
		arxiv_buf_printf(o, ",\"terms\":[");
		for (i = 0; i < s->nterm; i++) {
			const struct term *t = &s->terms[idx[i]];

			arxiv_buf_printf(o, "%s[", i ? "," : "");
			put_str(o, s->arena.data + t->off, t->len);
			arxiv_buf_printf(o, ",%lu", (unsigned long)t->total);
			for (j = 0; j < s->nf; j++)
				arxiv_buf_printf(o, ",%u", order[j] < TERMF ? t->c[order[j]] : 0);
			arxiv_buf_printf(o, "]");
		}
		free(idx);
		arxiv_buf_printf(o, "]}");
	}
	arxiv_buf_printf(o, "}");
	return o->data == NULL ? -1 : 0;
}

/* ------------------------------------------------------------------- merge */

static int
bad(struct arxiv_error *e, const char *what)
{
	arxiv_error_set(e, "", 0, "not a partial arxiv-stats result (%s); "
	    "make it with arxiv-stats --partial", what);
	return -1;
}

static int
get_u64(json_t *o, const char *k, uint64_t *v)
{
	json_t *j = json_object_get(o, k);

	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return -1;
	*v = (uint64_t)json_integer_value(j);
	return 0;
}

static int
merge_dist(struct dist *d, json_t *j, unsigned width)
{
	struct dist o = { 0 };
	json_t *h, *v;
	size_t i;

	if (!json_is_object(j) || get_u64(j, "n", &o.n) || get_u64(j, "sum", &o.sum) ||
	    get_u64(j, "sumsq", &o.sumsq) || get_u64(j, "min", &o.min) ||
	    get_u64(j, "max", &o.max) || get_u64(j, "overflow", &o.hist[NBIN]))
		return -1;
	if (!json_is_integer(json_object_get(j, "bin_width")) ||
	    json_integer_value(json_object_get(j, "bin_width")) != width)
		return -1;
	h = json_object_get(j, "histogram");
	if (!json_is_array(h) || json_array_size(h) > NBIN)
		return -1;
	json_array_foreach(h, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return -1;
		o.hist[i] = (uint64_t)json_integer_value(v);
	}
	dist_merge(d, &o);
	return 0;
}

static int
merge_hset(struct hset *s, json_t *j, size_t exact_max)
{
	json_t *h = json_object_get(j, "hll"), *x = json_object_get(j, "hashes");
	unsigned char *b;
	uint64_t recs;
	size_t n, i;

	if (!json_is_object(j) || get_u64(j, "records", &recs) || !json_is_string(h))
		return -1;
	if ((b = b64_get(json_string_value(h), json_string_length(h), &n)) == NULL || n != HLL_M) {
		free(b);
		return -1;
	}
	for (i = 0; i < HLL_M; i++)
		if (b[i] > s->hll[i])
			s->hll[i] = b[i];
	free(b);
	s->records += recs;
	if (!json_is_string(x)) {
		if (json_is_true(json_object_get(j, "exact")))
			return -1;
		hset_giveup(s);
		return 0;
	}
	if ((b = b64_get(json_string_value(x), json_string_length(x), &n)) == NULL || n % 8) {
		free(b);
		return -1;
	}
	for (i = 0; s->exact && i < n / 8; i++) {
		uint64_t v = 0;

		for (int k = 0; k < 8; k++)
			v |= (uint64_t)b[i * 8 + k] << (8 * k);
		if (hset_insert(s, v) < 0) {
			free(b);
			return -2;
		}
		if (s->n > exact_max)
			hset_giveup(s);
	}
	free(b);
	return 0;
}

int
arxiv_stats_merge_json(struct arxiv_stats *s, const char *text, size_t len,
    struct arxiv_error *err)
{
	json_t *root, *st, *a, *v, *w;
	json_error_t je;
	int fmap[MAXF];
	size_t i, j, nf;
	uint64_t x, recs;
	int rc = -1;

	if ((root = json_loadb(text, len, 0, &je)) == NULL) {
		arxiv_error_set(err, "", je.line, "invalid JSON: %s", je.text);
		return -1;
	}
	st = json_object_get(root, "state");
	if (!json_is_string(json_object_get(root, "format")) ||
	    strcmp(json_string_value(json_object_get(root, "format")), "arxiv-stats") != 0) {
		bad(err, "no \"format\":\"arxiv-stats\"");
		goto out;
	}
	if (!json_is_object(st)) {
		bad(err, "no \"state\"");
		goto out;
	}
	if (get_u64(root, "records", &recs)) {
		bad(err, "records");
		goto out;
	}
	/* fields, in the order of the cross-list matrix and of the term counts */
	a = json_object_get(json_object_get(root, "cross_list"), "fields");
	if (!json_is_array(a) || json_array_size(a) > MAXF) {
		bad(err, "cross_list.fields");
		goto out;
	}
	nf = json_array_size(a);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v)) {
			bad(err, "cross_list.fields");
			goto out;
		}
		fmap[i] = field_id(s, json_string_value(v), json_string_length(v));
		if (fmap[i] < 0) {
			arxiv_error_set(err, "", 0, "more than %d fields", MAXF);
			goto out;
		}
	}
	s->n += recs;
	a = json_object_get(root, "fields");
	json_array_foreach(a, i, v) {
		int f;

		w = json_object_get(v, "name");
		if (!json_is_string(w)) {
			bad(err, "fields");
			goto out;
		}
		f = field_id(s, json_string_value(w), json_string_length(w));
		if (f < 0 || get_u64(v, "papers", &x)) {
			bad(err, "fields");
			goto out;
		}
		s->fpapers[f] += x;
		if (get_u64(v, "cross_listed", &x)) {
			bad(err, "fields");
			goto out;
		}
		s->fcross[f] += x;
	}
	if (get_u64(root, "fields_over", &x)) {
		bad(err, "fields_over");
		goto out;
	}
	s->fields_over += x;
	a = json_object_get(json_object_get(root, "cross_list"), "matrix");
	if (!json_is_array(a) || json_array_size(a) != nf) {
		bad(err, "cross_list.matrix");
		goto out;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_array(v) || json_array_size(v) != nf) {
			bad(err, "cross_list.matrix");
			goto out;
		}
		json_array_foreach(v, j, w) {
			if (!json_is_integer(w)) {
				bad(err, "cross_list.matrix");
				goto out;
			}
			s->matrix[fmap[i]][fmap[j]] += (uint64_t)json_integer_value(w);
		}
	}
	a = json_object_get(root, "categories");
	json_array_foreach(a, i, v) {
		json_t *fn = json_object_get(v, "field");
		int f = -1;

		w = json_object_get(v, "name");
		if (!json_is_string(w) || get_u64(v, "papers", &x)) {
			bad(err, "categories");
			goto out;
		}
		if (json_is_string(fn))
			f = field_id(s, json_string_value(fn), json_string_length(fn));
		if (cat_add(s, json_string_value(w), json_string_length(w), f, x) < 0)
			goto oom;
	}
	if (get_u64(root, "categories_over", &x)) {
		bad(err, "categories_over");
		goto out;
	}
	s->cat_over += x;
	a = json_object_get(root, "years");
	json_array_foreach(a, i, v) {
		uint64_t y;

		if (get_u64(v, "year", &y) || get_u64(v, "papers", &x) || y < YEAR0 ||
		    y >= YEAR0 + NYEAR) {
			bad(err, "years");
			goto out;
		}
		s->years[y - YEAR0] += x;
	}
	if (get_u64(root, "year_unknown", &x)) {
		bad(err, "year_unknown");
		goto out;
	}
	s->year_unknown += x;
	v = json_object_get(root, "length");
	if (merge_dist(&s->chars, json_object_get(v, "chars"), bin_width[0]) ||
	    merge_dist(&s->words, json_object_get(v, "words"), bin_width[1])) {
		bad(err, "length");
		goto out;
	}
	w = json_object_get(v, "tokens");
	if (!json_is_null(w)) {
		if (merge_dist(&s->tokens, w, bin_width[2]) || get_u64(w, "over_256", &x)) {
			bad(err, "length.tokens");
			goto out;
		}
		s->tok_over256 += x;
		if (get_u64(w, "over_512", &x)) {
			bad(err, "length.tokens");
			goto out;
		}
		s->tok_over512 += x;
		s->have_tokens = 1;
	}
	if (get_u64(json_object_get(root, "latex_math"), "papers", &x)) {
		bad(err, "latex_math");
		goto out;
	}
	s->math += x;
	if (get_u64(json_object_get(root, "non_ascii"), "papers", &x)) {
		bad(err, "non_ascii");
		goto out;
	}
	s->nonascii += x;
	if ((rc = merge_hset(&s->ids, json_object_get(st, "ids"), s->p.exact_max)) != 0 ||
	    (rc = merge_hset(&s->texts, json_object_get(st, "texts"), s->p.exact_max)) != 0) {
		if (rc == -2)
			goto oom;
		rc = bad(err, "state ids/texts");
		goto out;
	}
	rc = -1;
	a = json_object_get(st, "ftokens");
	if (!json_is_array(a) || json_array_size(a) != nf) {
		bad(err, "state.ftokens");
		goto out;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_integer(v)) {
			bad(err, "state.ftokens");
			goto out;
		}
		if (fmap[i] < TERMF)
			s->ftokens[fmap[i]] += (uint64_t)json_integer_value(v);
	}
	w = json_object_get(json_object_get(root, "terms"), "pruned_terms");
	if (json_is_integer(w))
		s->pruned_terms += (uint64_t)json_integer_value(w);
	w = json_object_get(json_object_get(root, "terms"), "pruned_tokens");
	if (json_is_integer(w))
		s->pruned_tokens += (uint64_t)json_integer_value(w);
	a = json_object_get(st, "terms");
	if (!json_is_array(a)) {
		bad(err, "state.terms");
		goto out;
	}
	json_array_foreach(a, i, v) {
		json_t *t = json_array_get(v, 0);
		uint64_t total, sum = 0;

		if (!json_is_array(v) || json_array_size(v) != nf + 2 || !json_is_string(t) ||
		    !json_is_integer(json_array_get(v, 1))) {
			bad(err, "state.terms");
			goto out;
		}
		total = (uint64_t)json_integer_value(json_array_get(v, 1));
		for (j = 0; j < nf; j++) {
			json_t *c = json_array_get(v, j + 2);

			if (!json_is_integer(c) || json_integer_value(c) < 0) {
				bad(err, "state.terms");
				goto out;
			}
			x = (uint64_t)json_integer_value(c);
			if (x && term_add(s, json_string_value(t), json_string_length(t),
			    fmap[j], x) < 0)
				goto oom;
			sum += x;
		}
		if (total > sum && term_add(s, json_string_value(t), json_string_length(t), -1,
		    total - sum) < 0)
			goto oom;
	}
	rc = 0;
	goto out;
oom:
	arxiv_error_set(err, "", 0, "out of memory");
	rc = -1;
out:
	json_decref(root);
	return rc;
}

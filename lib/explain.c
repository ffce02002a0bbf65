/*
 * explain.c - why the fast model chose its label, in the input's own words.
 *
 * The score of a label is linear in the features, so the margin of the
 * winning label over the runner-up splits exactly into one share per feature
 * (plus the difference of the biases): with dim 0, idf(row) (W[row][win] -
 * W[row][run]) / ||idf|| / temperature; with dim > 0, (out[win] - out[run]) .
 * E[row] / n_features / temperature. The shares of one n-gram (the same row
 * and length) are summed over its occurrences, and the n largest positive ones
 * are the explanation, in logits of the margin.
 *
 * ft_feats_text emits, for the j-th word of the cleaned text, its unigram,
 * then the n-grams ending at it (n = 2 .. word_ngrams), then its character
 * n-grams (counted here by featurising the word alone); character n-grams are
 * credited to their word. To show the paper's words instead of stems, the raw
 * text is walked word by word, each word cleaned alone with the model's
 * cleaner (through a small per-thread cache) and matched in order against the
 * cleaned tokens; a term whose tokens were not matched (cleaning that depends
 * on context, e.g. LaTeX spanning words) falls back to the cleaned tokens.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"

static int
grow(void *pp, size_t *cap, size_t need, size_t size)
{
	void *p;
	size_t c = *cap ? *cap : 64;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if ((p = realloc(*(void **)pp, c * size)) == NULL)
		return -1;
	*(void **)pp = p;
	*cap = c;
	return 0;
}

/* ------------------------------------------------ raw word -> cleaned cache */

#define WC_SLOTS 1024	/* small enough to stay in cache: stop words, mostly */
#define WC_KEY 32
#define WC_VAL 48

struct wc_slot {
	unsigned char klen, vlen;	/* klen 0: empty */
	char key[WC_KEY], val[WC_VAL];
};

struct agg {
	uint64_t key;		/* row << 8 | span; 0 empty */
	size_t first;		/* first word of its first occurrence */
	int span;
	double w;
};

/* Per thread: the word cache and explain_fast's scratch arrays (kept between
 * calls: no allocation per answer). */
struct wcache {
	const struct arxiv_cleaner *owner;
	struct arxiv_buf tmp;
	struct wc_slot slot[WC_SLOTS];
	struct arxiv_span *tok, *rw;
	size_t tcap, rcap;
	struct agg *tab;
	size_t tabcap;
	long *rawof;
	size_t rawcap;
	struct ft_feats one;
};

static pthread_key_t wc_key;
static pthread_once_t wc_once = PTHREAD_ONCE_INIT;

static void
wc_free(void *p)
{
	struct wcache *w = p;

	if (w) {
		arxiv_buf_free(&w->tmp);
		free(w->tok);
		free(w->rw);
		free(w->tab);
		free(w->rawof);
		free(w->one.v);
		free(w);
	}
}

static void
wc_init(void)
{
	pthread_key_create(&wc_key, wc_free);
}

/* This thread's cache, emptied when used with another cleaner (model). */
static struct wcache *
wc_get(const struct arxiv_cleaner *cl)
{
	struct wcache *c;

	pthread_once(&wc_once, wc_init);
	if ((c = pthread_getspecific(wc_key)) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return NULL;
		if (pthread_setspecific(wc_key, c) != 0) {
			free(c);
			return NULL;
		}
	}
	if (c->owner != cl) {
		size_t i;
		for (i = 0; i < WC_SLOTS; i++)
			c->slot[i].klen = 0;
		c->owner = cl;
	}
	return c;
}

/* The cleaned form of one raw word into *out and *outlen (borrowed until the next call). */
static int
clean_word(struct wcache *c, struct arxiv_cleaner *cl, const char *w, size_t n,
    const char **out, size_t *outlen)
{
	struct arxiv_error e;
	struct wc_slot *s = NULL;

	if (n < WC_KEY && n > 0) {
		s = &c->slot[arxiv_key_hash(w, n) & (WC_SLOTS - 1)];
		if (s->klen == n && memcmp(s->key, w, n) == 0) {
			*out = s->val;
			*outlen = s->vlen;
			return 0;
		}
	}
	if (cl == NULL) {
		*out = w;
		*outlen = n;
		return 0;
	}
	if (arxiv_clean_text(cl, w, n, &c->tmp, &e) < 0) {
		*out = "";
		*outlen = 0;
		return 0;	/* a word the cleaner refuses: no tokens */
	}
	*out = c->tmp.data ? c->tmp.data : "";
	*outlen = c->tmp.len;
	if (s && c->tmp.len < WC_VAL) {
		s->klen = (unsigned char)n;
		memcpy(s->key, w, n);
		s->vlen = (unsigned char)c->tmp.len;
		memcpy(s->val, *out, c->tmp.len);
	}
	return 0;
}

/* Trim ASCII punctuation from both ends of a raw word. */
static void
trim(const char *s, size_t *st, size_t *len)
{
	size_t a = *st, b = *st + *len;

	while (a < b && (unsigned char)s[a] < 0x80 && !((s[a] >= '0' && s[a] <= '9') ||
	    ((s[a] | 0x20) >= 'a' && (s[a] | 0x20) <= 'z')))
		a++;
	while (b > a && (unsigned char)s[b - 1] < 0x80 && !((s[b - 1] >= '0' && s[b - 1] <= '9') ||
	    ((s[b - 1] | 0x20) >= 'a' && (s[b - 1] | 0x20) <= 'z')))
		b--;
	*st = a;
	*len = b - a;
}

/* Is the token t (ASCII, 3 bytes or more) the ASCII-lowercased word w or its
 * start, with what is left of w a plain lowercase suffix ("networks" for
 * "network", "learning" for "learn")? */
static int
prefix_of(const char *t, size_t tl, const char *w, size_t wl)
{
	size_t i;

	if (tl < 3 || tl > wl || wl - tl > 4)
		return 0;
	for (i = 0; i < wl; i++) {
		unsigned char c = (unsigned char)w[i];
		if (c >= 0x80)
			return 0;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c | 0x20);
		if (i < tl ? c != (unsigned char)t[i] : !(c >= 'a' && c <= 'z'))
			return 0;
	}
	return 1;
}

/* Token byte t and raw byte w are both ASCII letters or digits, different
 * once w is lowercased. */
static int
first_differs(char t, char w)
{
	unsigned char a = (unsigned char)t, b = (unsigned char)w;

	if (b >= 'A' && b <= 'Z')
		b = (unsigned char)(b | 0x20);
	return ((a >= 'a' && a <= 'z') || (a >= '0' && a <= '9')) &&
	    ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9')) && a != b;
}

/* ----------------------------------------------------------------- terms */


/* Append s[0..n) to t (capacity cap), cut at a UTF-8 boundary; blanks as one space. */
static void
term_add(char *t, size_t cap, const char *s, size_t n)
{
	size_t len = strlen(t), i;
	int sp = len > 0 && t[len - 1] == ' ';

	for (i = 0; i < n && len + 1 < cap; i++) {
		char ch = s[i];
		if (arxiv_blank(ch)) {
			if (sp || len == 0)
				continue;
			ch = ' ';
			sp = 1;
		} else
			sp = 0;
		t[len++] = ch;
	}
	while (len > 0 && i < n && ((unsigned char)t[len - 1] & 0xc0) == 0x80)
		len--;	/* cut inside a sequence: drop its continuation bytes ... */
	if (len > 0 && i < n && (unsigned char)t[len - 1] >= 0xc0)
		len--;	/* ... and its lead byte */
	t[len] = '\0';
}

int
explain_fast(const struct ft_model *ft, const struct ft_feats *f, int win, int run,
    const char *clean, size_t clen, const char *raw, size_t rlen, struct arxiv_cleaner *cl,
    size_t n, struct arxiv_answer *a)
{
	const struct ft_config *c = &ft->c;
	struct wcache *wc = wc_get(cl);
	struct arxiv_span *tok, *rw;
	struct agg *tab;
	long *rawof;
	size_t ntok = 0, nrw = 0, tsize, i, j, fi = 0, need = 0, nc, ncand = 0;
	struct cand {
		double w;
		size_t first;
		int span;		/* -1: merged into another */
		char term[sizeof(((struct arxiv_term *)0)->term)];
	} cand[2 * ARXIV_EXPLAIN_MAX];
	int L = c->n_labels, q;
	double scale, ss = 0;

	a->n_terms = 0;
	if (f->n == 0 || c->ids)
		return 0;
	if (wc == NULL || arxiv_words(clean, clen, &wc->tok, &ntok, &wc->tcap) < 0)
		return -1;
	tok = wc->tok;
	for (tsize = 64; tsize < 2 * f->n; tsize *= 2)
		;
	if (grow(&wc->tab, &wc->tabcap, tsize, sizeof(*wc->tab)) < 0)
		return -1;
	tab = wc->tab;
	memset(tab, 0, tsize * sizeof(*tab));
	if (c->dim == 0) {
		for (i = 0; i < f->n; i++) {
			double w = ft->idf ? ft->idf[f->v[i]] : 1;
			ss += w * w;
		}
		scale = 1 / sqrt(ss) / c->temperature;
	} else
		scale = 1.0 / (double)f->n / c->temperature;

	/* shares, summed per (row, span) */
	for (j = 0; j < ntok; j++) {
		size_t nchars = 0, nf;
		if (c->char_maxn > 0) {
			if (ft_feats_text(c, clean + tok[j].st, tok[j].len, &wc->one) < 0)
				return -1;
			nchars = wc->one.n ? wc->one.n - 1 : 0;
		}
		nf = (j + 1 < (size_t)c->word_ngrams ? j + 1 : (size_t)c->word_ngrams) + nchars;
		for (q = 0; (size_t)q < nf; q++, fi++) {
			uint32_t row;
			int span = q < c->word_ngrams && (size_t)q <= j ? q + 1 : 1;
			double w;
			uint64_t key, h;
			if (fi >= f->n)
				goto mismatch;
			row = f->v[fi];
			if (c->dim == 0) {
				const float *r = ft->in + (size_t)row * (size_t)L;
				w = (ft->idf ? ft->idf[row] : 1) * ((double)r[win] - r[run]);
			} else {
				const float *e = ft->in + (size_t)row * (size_t)c->dim;
				const float *ow = ft->out + (size_t)win * (size_t)c->dim;
				const float *orr = ft->out + (size_t)run * (size_t)c->dim;
				int k;
				w = 0;
				for (k = 0; k < c->dim; k++)
					w += (double)e[k] * ((double)ow[k] - orr[k]);
			}
			key = ((uint64_t)row << 8 | (uint64_t)span) + 1;
			h = (key * 0x9e3779b97f4a7c15ULL) >> 20;
			for (i = h & (tsize - 1); tab[i].key && tab[i].key != key; i = (i + 1) & (tsize - 1))
				;
			if (tab[i].key == 0) {
				tab[i].key = key;
				tab[i].first = j + 1 - (size_t)span;
				tab[i].span = span;
			}
			tab[i].w += w * scale;
		}
	}
	if (fi != f->n)
		goto mismatch;

	/* the 2n best positive shares, best first (two n-grams may show as the
	 * same words: they are merged below) */
	nc = 2 * n < sizeof(cand) / sizeof(cand[0]) ? 2 * n : sizeof(cand) / sizeof(cand[0]);
	for (i = 0; i < tsize; i++) {
		size_t at;
		if (tab[i].key == 0 || !(tab[i].w > 0))
			continue;
		if (ncand == nc && tab[i].w <= cand[nc - 1].w)
			continue;
		at = ncand < nc ? ncand++ : nc - 1;
		while (at > 0 && cand[at - 1].w < tab[i].w) {
			cand[at] = cand[at - 1];
			at--;
		}
		cand[at].w = tab[i].w;
		cand[at].first = tab[i].first;
		cand[at].span = tab[i].span;
	}

	/* raw words of the cleaned tokens, in order, up to the last one needed */
	for (i = 0; i < ncand; i++)
		if (cand[i].first + (size_t)cand[i].span > need)
			need = cand[i].first + (size_t)cand[i].span;
	if (grow(&wc->rawof, &wc->rawcap, ntok ? ntok : 1, sizeof(*wc->rawof)) < 0 ||
	    arxiv_words(raw, rlen, &wc->rw, &nrw, &wc->rcap) < 0)
		return -1;
	rawof = wc->rawof;
	rw = wc->rw;
	for (j = 0; j < ntok; j++)
		rawof[j] = -1;
	{
		size_t pos = 0, r;
		for (r = 0; r < nrw && pos < need; r++) {
			size_t st = rw[r].st, len = rw[r].len, cn, k2 = 0;
			const char *cw;
			trim(raw, &st, &len);
			rw[r].st = st;
			rw[r].len = len;
			if (len == 0)
				continue;
			/* most words need no cleaning to be recognised: the next token is
			 * the word lowercased, or its start (a stem) */
			{
				size_t t2;
				for (t2 = pos; t2 < ntok && t2 < pos + 3; t2++)
					if (prefix_of(clean + tok[t2].st, tok[t2].len, raw + st, len))
						break;
				if (t2 < ntok && t2 < pos + 3) {	/* a little later: back in step */
					rawof[t2] = (long)r;
					pos = t2 + 1;
					continue;
				}
			}
			/* nor do words that cannot give it: a different first letter (stop
			 * words, mostly) gives no token we look for */
			if (pos < ntok && first_differs(clean[tok[pos].st], raw[st]))
				continue;
			if (clean_word(wc, cl, raw + st, len, &cw, &cn) < 0)
				continue;
			/* each token of the cleaned word, matched at pos or a little later */
			while (k2 < cn) {
				size_t ts, tl, look;
				while (k2 < cn && arxiv_blank(cw[k2]))
					k2++;
				if (k2 >= cn)
					break;
				ts = k2;
				while (k2 < cn && !arxiv_blank(cw[k2]))
					k2++;
				tl = k2 - ts;
				for (look = pos; look < ntok && look < pos + 3; look++)
					if (tok[look].len == tl && memcmp(clean + tok[look].st, cw + ts, tl) == 0)
						break;
				if (look < ntok && look < pos + 3) {
					rawof[look] = (long)r;
					pos = look + 1;
				}
			}
		}
	}

	/* the terms in the input's words */
	for (i = 0; i < ncand; i++) {
		size_t first = cand[i].first, e;
		int span = cand[i].span, ok = 1;
		char *t = cand[i].term;
		t[0] = '\0';
		for (e = first; e < first + (size_t)span; e++)
			ok &= rawof[e] >= 0;
		if (ok && rawof[first + (size_t)span - 1] - rawof[first] <= span + 2) {
			/* the raw text from the first word to the last, stop words included */
			size_t a0 = rw[rawof[first]].st, b0 = rw[rawof[first + (size_t)span - 1]].st +
			    rw[rawof[first + (size_t)span - 1]].len;
			term_add(t, sizeof(cand[i].term), raw + a0, b0 - a0);
		} else
			for (e = first; e < first + (size_t)span; e++) {
				if (e > first)
					term_add(t, sizeof(cand[i].term), " ", 1);
				if (rawof[e] >= 0)
					term_add(t, sizeof(cand[i].term), raw + rw[rawof[e]].st,
					    rw[rawof[e]].len);
				else
					term_add(t, sizeof(cand[i].term), clean + tok[e].st, tok[e].len);
			}
	}
	/* the same words twice ("many-body" from "mani", "bodi" and "mani bodi"): one
	 * term with the shares summed; then the n best */
	for (i = 0; i < ncand; i++) {
		size_t k;
		if (cand[i].span < 0)
			continue;
		for (k = i + 1; k < ncand; k++)
			if (cand[k].span >= 0 && strcmp(cand[i].term, cand[k].term) == 0) {
				cand[i].w += cand[k].w;
				cand[k].span = -1;
			}
	}
	for (i = 0; i < ncand; i++) {
		size_t at;
		if (cand[i].span < 0)
			continue;
		if (a->n_terms == n && cand[i].w <= a->terms[n - 1].weight)
			continue;
		at = a->n_terms < n ? a->n_terms++ : n - 1;
		while (at > 0 && a->terms[at - 1].weight < cand[i].w) {
			a->terms[at] = a->terms[at - 1];
			at--;
		}
		a->terms[at].weight = (float)cand[i].w;
		memcpy(a->terms[at].term, cand[i].term, sizeof(a->terms[at].term));
	}
	return 0;
mismatch:
	a->n_terms = 0;	/* the features are not laid out as expected: no explanation */
	return 0;
}

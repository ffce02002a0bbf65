/*
 * text.c - the cleaning pipeline of arxiv-clean: NFKC, LaTeX to words,
 * character filter, whitespace collapse, case folding, stop words, Snowball
 * stemming, truncation; and the preprocessing signature that records it.
 *
 * Every step is a pure function of its input. The cleaner only caches: its
 * scratch buffers are reused between calls (no malloc per call once they have
 * grown) and a small direct-mapped cache remembers recent stems, so output
 * depends on the input and the parameters alone.
 *
 * The pure Unicode steps (NFKC, filter, space, casefold) are text_steps.c;
 * this file has the stop words, the cleaner and the signature.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>

#include "text_int.h"

/* ------------------------------------------------------------ stop words */

struct stopset {
	char **slot;		/* open addressing, NUL-terminated words */
	size_t mask;
	size_t count;
	struct arxiv_buf canon;	/* "w1\nw2\n..." in file order: hashed for the signature */
};

/* FNV-1a 64, the same as arxiv_hash64(w, n, 0), inlined for the word loop. */
static inline uint64_t
word_hash(const char *w, size_t n)
{
	const unsigned char *p = (const unsigned char *)w;
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int
stop_has_h(const struct stopset *st, const char *w, size_t n, uint64_t hash)
{
	size_t h;
	const char *e;

	if (st->slot == NULL)
		return 0;
	for (h = (size_t)hash & st->mask; (e = st->slot[h]) != NULL;
	    h = (h + 1) & st->mask)
		if ((unsigned char)e[0] == n && memcmp(e + 1, w, n) == 0)
			return 1;
	return 0;
}

static int
stop_has(const struct stopset *st, const char *w, size_t n)
{
	return stop_has_h(st, w, n, word_hash(w, n));
}

static void
stop_free(struct stopset *st)
{
	size_t i;

	if (st->slot)
		for (i = 0; i <= st->mask; i++)
			free(st->slot[i]);
	free(st->slot);
	st->slot = NULL;
	arxiv_buf_free(&st->canon);
}

/* Read a list (one word per line, '#' comment lines, blanks ignored). */
static int
stop_load(struct stopset *st, const char *path, struct arxiv_error *err)
{
	FILE *fp;
	struct arxiv_lines *r;
	const char *line;
	size_t len, a, b, h, cap = 64, i;
	char **slot;
	int rc, ret = -1;

	memset(st, 0, sizeof(*st));
	if ((fp = fopen(path, "r")) == NULL) {
		arxiv_error_set(err, path, 0, "cannot open stop-word list: %s", strerror(errno));
		return -1;
	}
	if ((r = arxiv_lines_new(fp, path, 4096)) == NULL) {
		fclose(fp);
		arxiv_error_set(err, path, 0, "out of memory");
		return -1;
	}
	if ((st->slot = calloc(cap, sizeof(*st->slot))) == NULL)
		goto nomem;
	st->mask = cap - 1;
	while ((rc = arxiv_lines_next(r, &line, &len, err)) != 0) {
		if (rc < 0)
			goto out;
		for (a = 0; a < len && (line[a] == ' ' || line[a] == '\t'); a++)
			;
		for (b = len; b > a && (line[b - 1] == ' ' || line[b - 1] == '\t'); b--)
			;
		if (a == b || line[a] == '#')
			continue;
		if (b - a > 255) {
			arxiv_error_set(err, path, arxiv_lines_lineno(r), "stop word longer than 255 bytes");
			goto out;
		}
		if (arxiv_utf8_check(line + a, b - a) >= 0) {
			arxiv_error_set(err, path, arxiv_lines_lineno(r), "invalid UTF-8");
			goto out;
		}
		if (stop_has(st, line + a, b - a))
			continue;
		if ((st->count + 1) * 2 > cap) {
			/* grow and rehash */
			if ((slot = calloc(cap * 2, sizeof(*slot))) == NULL)
				goto nomem;
			for (i = 0; i < cap; i++) {
				if (st->slot[i] == NULL)
					continue;
				for (h = (size_t)word_hash(st->slot[i] + 1,
				    (unsigned char)st->slot[i][0]) &
				    (cap * 2 - 1); slot[h]; h = (h + 1) & (cap * 2 - 1))
					;
				slot[h] = st->slot[i];
			}
			free(st->slot);
			st->slot = slot;
			cap *= 2;
			st->mask = cap - 1;
		}
		for (h = (size_t)word_hash(line + a, b - a) & st->mask; st->slot[h];
		    h = (h + 1) & st->mask)
			;
		/* stored as a length byte and the word */
		if ((st->slot[h] = malloc(b - a + 1)) == NULL)
			goto nomem;
		st->slot[h][0] = (char)(b - a);
		memcpy(st->slot[h] + 1, line + a, b - a);
		st->count++;
		if (arxiv_buf_append(&st->canon, line + a, b - a) < 0 ||
		    arxiv_buf_putc(&st->canon, '\n') < 0)
			goto nomem;
	}
	if (ferror(fp)) {
		arxiv_error_set(err, path, 0, "read error");
		goto out;
	}
	ret = 0;
	goto out;
nomem:
	arxiv_error_set(err, path, 0, "out of memory");
out:
	arxiv_lines_free(r);
	fclose(fp);
	if (ret < 0)
		stop_free(st);
	return ret;
}

/* Hash of a list's words (in file order, '\n'-terminated); -1 with err. */
static int
stop_hash(const char *path, uint64_t *h, struct arxiv_error *err)
{
	struct stopset st;

	if (stop_load(&st, path, err) < 0)
		return -1;
	*h = arxiv_hash64(st.canon.data ? st.canon.data : "", st.canon.len, 0);
	stop_free(&st);
	return 0;
}

/* ------------------------------------------------------------- cleaner */

#define STEM_SLOTS 65536	/* direct-mapped cache of recent stems: 2 MiB */
#define STEM_KEY 15		/* longest cached word and stem, bytes */

/* 32 bytes, so an entry never straddles a cache line */
struct stem_entry {
	unsigned char klen, slen;	/* 0 klen: empty */
	char key[STEM_KEY];
	char stem[STEM_KEY];
};

struct arxiv_cleaner {
	struct arxiv_clean_params p;
	char lang[32];
	struct sb_stemmer *stemmer;
	struct stopset stop;
	struct scratch scr;
	struct arxiv_buf a, b;
	struct stem_entry *cache;
};

struct arxiv_clean_params
arxiv_clean_default_params(void)
{
	struct arxiv_clean_params p;

	p.flags = ARXIV_CLEAN_DEFAULT;
	p.truncate = 0;
	p.stopwords = NULL;
	p.stem_lang = "english";
	return p;
}

/* The language name as libstemmer lists it (static storage), or NULL. */
static const char *
stem_lang_known(const char *lang, size_t n)
{
	const char **l;

	for (l = sb_stemmer_list(); *l; l++)
		if (strncmp(*l, lang, n) == 0 && (*l)[n] == '\0')
			return *l;
	return NULL;
}

struct arxiv_cleaner *
arxiv_cleaner_new(const struct arxiv_clean_params *p, struct arxiv_error *err)
{
	struct arxiv_cleaner *c;
	char path[4096];
	const char *lang;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		arxiv_error_set(err, "", 0, "out of memory");
		return NULL;
	}
	c->p = *p;
	c->p.stopwords = NULL;	/* not kept: the caller's string may go */
	lang = p->stem_lang ? p->stem_lang : "english";
	snprintf(c->lang, sizeof(c->lang), "%s", lang);
	c->p.stem_lang = c->lang;
	if (p->flags & ARXIV_CLEAN_STEM) {
		if (stem_lang_known(lang, strlen(lang)) == NULL ||
		    (c->stemmer = sb_stemmer_new(lang, "UTF_8")) == NULL) {
			arxiv_error_set(err, "", 0, "unknown stemmer language: %s", lang);
			goto fail;
		}
		if ((c->cache = aligned_alloc(64, STEM_SLOTS * sizeof(*c->cache))) == NULL) {
			arxiv_error_set(err, "", 0, "out of memory");
			goto fail;
		}
		memset(c->cache, 0, STEM_SLOTS * sizeof(*c->cache));
	}
	if (p->flags & ARXIV_CLEAN_STOP) {
		if (p->stopwords == NULL)
			arxiv_data_path("stopwords.txt", path, sizeof(path));
		if (stop_load(&c->stop, p->stopwords ? p->stopwords : path, err) < 0)
			goto fail;
	}
	return c;
fail:
	arxiv_cleaner_free(c);
	return NULL;
}

void
arxiv_cleaner_free(struct arxiv_cleaner *c)
{
	if (c == NULL)
		return;
	if (c->stemmer)
		sb_stemmer_delete(c->stemmer);
	stop_free(&c->stop);
	text_scratch_free(&c->scr);
	arxiv_buf_free(&c->a);
	arxiv_buf_free(&c->b);
	free(c->cache);
	free(c);
}

/* Append the stem of w to out, through the cache. */
static int
put_stem(struct arxiv_cleaner *c, const char *w, size_t n, uint64_t hash, struct arxiv_buf *out)
{
	struct stem_entry *e = NULL;
	const sb_symbol *s;
	int len;

	if (n <= STEM_KEY) {
		e = &c->cache[(hash >> 20) & (STEM_SLOTS - 1)];
		if (e->klen == n && memcmp(e->key, w, n) == 0)
			return arxiv_buf_append(out, e->stem, e->slen);
	}
	if ((s = sb_stemmer_stem(c->stemmer, (const sb_symbol *)w, (int)n)) == NULL)
		return -1;
	len = sb_stemmer_length(c->stemmer);
	if (e != NULL && len <= STEM_KEY) {
		e->klen = (unsigned char)n;
		memcpy(e->key, w, n);
		e->slen = (unsigned char)len;
		memcpy(e->stem, s, (size_t)len);
	}
	return arxiv_buf_append(out, s, (size_t)len);
}

/* Split on whitespace, drop stop words, stem, join with single spaces. */
static int
words_step(struct arxiv_cleaner *c, const char *s, size_t n, struct arxiv_buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k = 0, start;
	unsigned flags = c->p.flags;
	uint64_t h;

	arxiv_buf_clear(out);
	if (arxiv_buf_reserve(out, n) < 0)
		return -1;
	while (i < n) {
		if (p[i] == ' ' || (k = space_len(s, i, n)) > 0) {
			i += p[i] == ' ' ? 1 : k;
			continue;
		}
		start = i;
		while (i < n && ((p[i] > ' ' && p[i] < 0x80) || (p[i] >= 0x80 &&
		    space_len(s, i, n) == 0)))
			i++;
		h = word_hash(s + start, i - start);
		if ((flags & ARXIV_CLEAN_STOP) && stop_has_h(&c->stop, s + start, i - start, h))
			continue;
		if (out->len > 0 && arxiv_buf_putc(out, ' ') < 0)
			return -1;
		if (flags & ARXIV_CLEAN_STEM) {
			if (put_stem(c, s + start, i - start, h, out) < 0)
				return -1;
		} else if (arxiv_buf_append(out, s + start, i - start) < 0)
			return -1;
	}
	if (arxiv_buf_reserve(out, 0) < 0)
		return -1;
	out->data[out->len] = '\0';
	return 0;
}

/*
 * filter, space and lower in one pass, for ASCII text with the filter and the
 * whitespace collapse on: the same bytes as the three steps one after the other.
 */
/* 1: a-z 0-9, 2: A-Z, 0: anything else (other ASCII, and bytes >= 0x80) */
static const unsigned char ascii_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
	0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static int
ascii_fused(const char *s, size_t n, int lower, struct arxiv_buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;
	int gap = 0;
	unsigned char ch;
	char *o;

	arxiv_buf_clear(out);
	if (arxiv_buf_reserve(out, n) < 0)
		return -1;
	o = out->data;
	for (i = 0; i < n; i++) {
		ch = p[i];
		switch (ascii_class[ch]) {
		case 0:
			gap = 1;
			continue;
		case 2:
			if (lower)
				ch += 32;
			break;
		}
		if (gap && o != out->data)
			*o++ = ' ';
		gap = 0;
		*o++ = (char)ch;
	}
	*o = '\0';
	out->len = (size_t)(o - out->data);
	return 0;
}

/* Cut to at most max bytes at a word boundary (a UTF-8 boundary for one long word). */
static void
truncate_words(struct arxiv_buf *b, size_t max)
{
	size_t i;

	if (max == 0 || b->len <= max)
		return;
	for (i = max; i > 0; i--)
		if (space_len(b->data, i, b->len) > 0)
			break;
	if (i == 0) {
		/* no boundary: back up to a character start */
		for (i = max; i > 0 && ((unsigned char)b->data[i] & 0xc0) == 0x80; i--)
			;
	}
	/* drop the blanks before the cut */
	while (i > 0 && (b->data[i - 1] == ' ' || b->data[i - 1] == '\t' ||
	    b->data[i - 1] == '\n' || b->data[i - 1] == '\r'))
		i--;
	b->len = i;
	b->data[i] = '\0';
}

int
arxiv_clean_text(struct arxiv_cleaner *c, const char *in, size_t n, struct arxiv_buf *out,
    struct arxiv_error *err)
{
	struct arxiv_buf *src, *dst, *t;
	unsigned f = c->p.flags;
	const char *s = in;
	size_t len = n;
	long bad;
	int ascii;

#define STEP(call) do { \
	if ((call) < 0) goto bad; \
	s = dst->data; len = dst->len; \
	t = src; src = dst; dst = t; \
} while (0)
	ascii = is_ascii(in, n);
	if (!ascii && (bad = arxiv_utf8_check(in, n)) >= 0) {
		arxiv_error_set(err, "", 0, "invalid UTF-8 at byte %ld", bad);
		return -1;
	}
	/* ping-pong between the two scratch buffers; the last step writes to out */
	src = &c->b;
	dst = &c->a;
	if ((f & ARXIV_CLEAN_NFKC) && !ascii)
		STEP(text_nfkc(&c->scr, s, len, dst));
	if (f & ARXIV_CLEAN_LATEX)
		STEP(text_latex(s, len, dst));
	if ((f & ARXIV_CLEAN_FILTER) && (f & ARXIV_CLEAN_SPACE) && is_ascii(s, len)) {
		STEP(ascii_fused(s, len, (f & ARXIV_CLEAN_LOWER) != 0, dst));
		f &= ~(unsigned)(ARXIV_CLEAN_FILTER | ARXIV_CLEAN_SPACE | ARXIV_CLEAN_LOWER);
	}
	if (f & ARXIV_CLEAN_FILTER)
		STEP(text_filter(s, len, dst));
	if (f & ARXIV_CLEAN_SPACE)
		STEP(text_space(s, len, dst));
	if (f & ARXIV_CLEAN_LOWER)
		STEP(text_casefold(s, len, dst));
	if (f & (ARXIV_CLEAN_STOP | ARXIV_CLEAN_STEM))
		STEP(words_step(c, s, len, dst));
	(void)src;
	arxiv_buf_clear(out);
	if (arxiv_buf_append(out, s, len) < 0)
		goto bad;
	truncate_words(out, c->p.truncate);
	return 0;
bad:
	arxiv_error_set(err, "", 0, "%s", errno == ENOMEM ? "out of memory" : "invalid UTF-8");
	return -1;
#undef STEP
}

/* ----------------------------------------------------------- signature */

static const struct { unsigned flag; const char *name; } flag_names[] = {
	{ ARXIV_CLEAN_NFKC, "nfkc" }, { ARXIV_CLEAN_LATEX, "latex" },
	{ ARXIV_CLEAN_FILTER, "filter" }, { ARXIV_CLEAN_SPACE, "space" },
	{ ARXIV_CLEAN_LOWER, "lower" }, { ARXIV_CLEAN_STOP, "stop" },
	{ ARXIV_CLEAN_STEM, "stem" },
};
#define NFLAGS (sizeof(flag_names) / sizeof(flag_names[0]))

int
arxiv_clean_params_str(const struct arxiv_clean_params *p, struct arxiv_buf *out)
{
	size_t i;
	int first = 1;
	uint64_t h;

	arxiv_buf_clear(out);
	if (arxiv_buf_append(out, "v1 ", 3) < 0)
		return -1;
	for (i = 0; i < NFLAGS; i++) {
		if (!(p->flags & flag_names[i].flag))
			continue;
		if (arxiv_buf_printf(out, "%s%s", first ? "" : ",", flag_names[i].name) < 0)
			return -1;
		first = 0;
	}
	if (first && arxiv_buf_append(out, "none", 4) < 0)
		return -1;
	if (arxiv_buf_printf(out, " trunc=%zu stem=%s", p->truncate,
	    (p->flags & ARXIV_CLEAN_STEM) ? (p->stem_lang ? p->stem_lang : "english") : "none") < 0)
		return -1;
	if (!(p->flags & ARXIV_CLEAN_STOP))
		return arxiv_buf_append(out, " stop=none", 10);
	if (p->stopwords == NULL)
		return arxiv_buf_append(out, " stop=default", 13);
	if (stop_hash(p->stopwords, &h, NULL) < 0)
		return -1;
	return arxiv_buf_printf(out, " stop=%016llx", (unsigned long long)h);
}

int
arxiv_clean_params_parse(const char *sig, const char *stopwords_path,
    struct arxiv_clean_params *p, struct arxiv_error *err)
{
	struct arxiv_clean_params q = arxiv_clean_default_params();
	const char *s = sig, *e, *lang;
	char *end;
	size_t i, n;
	unsigned long long v;
	uint64_t h;
	int have_stem = 0, have_stop = 0, have_trunc = 0;

	if (sig == NULL || strncmp(sig, "v1 ", 3) != 0) {
		arxiv_error_set(err, "", 0, "unknown preprocessing signature: %s",
		    sig ? sig : "(null)");
		return -1;
	}
	s += 3;
	/* flags */
	q.flags = 0;
	e = s + strcspn(s, " ");
	if (!(e - s == 4 && strncmp(s, "none", 4) == 0)) {
		while (s < e) {
			n = strcspn(s, ", ");
			for (i = 0; i < NFLAGS; i++)
				if (strlen(flag_names[i].name) == n &&
				    strncmp(flag_names[i].name, s, n) == 0)
					break;
			if (i == NFLAGS || (q.flags & flag_names[i].flag)) {
				arxiv_error_set(err, "", 0, "bad step '%.*s' in signature",
				    (int)n, s);
				return -1;
			}
			q.flags |= flag_names[i].flag;
			s += n;
			if (*s == ',')
				s++;
		}
	}
	s = e;
	while (*s == ' ') {
		s++;
		n = strcspn(s, " ");
		if (n > 6 && strncmp(s, "trunc=", 6) == 0 && !have_trunc) {
			errno = 0;
			v = strtoull(s + 6, &end, 10);
			if (errno || end != s + n || s[6] < '0' || s[6] > '9')
				goto bad;
			q.truncate = (size_t)v;
			have_trunc = 1;
		} else if (n > 5 && strncmp(s, "stem=", 5) == 0 && !have_stem) {
			if (n - 5 == 4 && strncmp(s + 5, "none", 4) == 0) {
				if (q.flags & ARXIV_CLEAN_STEM)
					goto bad;
			} else {
				if (!(q.flags & ARXIV_CLEAN_STEM) ||
				    (lang = stem_lang_known(s + 5, n - 5)) == NULL)
					goto bad;
				q.stem_lang = lang;
			}
			have_stem = 1;
		} else if (n > 5 && strncmp(s, "stop=", 5) == 0 && !have_stop) {
			if (n - 5 == 4 && strncmp(s + 5, "none", 4) == 0) {
				if (q.flags & ARXIV_CLEAN_STOP)
					goto bad;
				q.stopwords = stopwords_path;
			} else if (n - 5 == 7 && strncmp(s + 5, "default", 7) == 0) {
				if (!(q.flags & ARXIV_CLEAN_STOP))
					goto bad;
				q.stopwords = stopwords_path;
			} else {
				if (!(q.flags & ARXIV_CLEAN_STOP) || n - 5 != 16)
					goto bad;
				errno = 0;
				v = strtoull(s + 5, &end, 16);
				if (errno || end != s + n)
					goto bad;
				if (stopwords_path == NULL) {
					arxiv_error_set(err, "", 0, "signature needs the custom "
					    "stop-word list %016llx", v);
					return -1;
				}
				if (stop_hash(stopwords_path, &h, err) < 0)
					return -1;
				if (h != v) {
					arxiv_error_set(err, stopwords_path, 0, "stop-word list does "
					    "not match the signature (%016llx, want %016llx)",
					    (unsigned long long)h, v);
					return -1;
				}
				q.stopwords = stopwords_path;
			}
			have_stop = 1;
		} else
			goto bad;
		s += n;
	}
	if (*s != '\0' || !have_trunc || !have_stem || !have_stop)
		goto bad;
	*p = q;
	return 0;
bad:
	arxiv_error_set(err, "", 0, "malformed preprocessing signature: %s", sig);
	return -1;
}

/*
 * domains.c - the category-to-field table of arxiv-map: "code<TAB>label"
 * lines loaded into an open-addressing hash table, looked up by the rules
 * documented in arxiv.h (exact code, archive, archive before '-', default).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"

#define DEFAULT_LABEL "Other"
#define MAX_CODE 256

struct slot {
	char *code;		/* NULL: empty slot */
	size_t len;
	size_t label;		/* index into labels */
};

struct arxiv_domains {
	size_t n_labels;
	char **labels;		/* default label last */
	size_t mask;		/* slots - 1 (a power of two minus one) */
	struct slot *slots;
	size_t n_codes;
};

/* One parsed table line before the labels are numbered. */
struct entry {
	char *code, *label;
	long line;
};

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static char *
dup_range(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static struct slot *
find_slot(const struct arxiv_domains *d, const char *code, size_t n)
{
	size_t i = (size_t)arxiv_hash64(code, n, 0) & d->mask;

	for (;;) {
		struct slot *s = &d->slots[i];
		if (s->code == NULL || (s->len == n && memcmp(s->code, code, n) == 0))
			return s;
		i = (i + 1) & d->mask;
	}
}

static long
label_index(char **labels, size_t n, const char *label)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(labels[i], label) == 0)
			return (long)i;
	return -1;
}

void
arxiv_domains_free(struct arxiv_domains *d)
{
	size_t i;

	if (d == NULL)
		return;
	if (d->slots != NULL)
		for (i = 0; i <= d->mask; i++)
			free(d->slots[i].code);
	for (i = 0; i < d->n_labels; i++)
		free(d->labels[i]);
	free(d->labels);
	free(d->slots);
	free(d);
}

static void
free_entries(struct entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(e[i].code);
		free(e[i].label);
	}
	free(e);
}

/*
 * Parse one non-comment line into code and label. Returns 0, or -1 with the
 * reason in err (source/line set by the caller's arguments).
 */
static int
parse_line(const char *s, size_t n, const char *src, long line, struct entry *e,
    struct arxiv_error *err)
{
	const char *tab, *lab, *end = s + n, *p;
	size_t clen;

	if ((tab = memchr(s, '\t', n)) == NULL) {
		arxiv_error_set(err, src, line, "expected code<TAB>label");
		return -1;
	}
	lab = tab + 1;
	while (lab < end && *lab == ' ')
		lab++;
	while (end > lab && is_space((unsigned char)end[-1]))
		end--;
	clen = (size_t)(tab - s);
	if (clen == 0) {
		arxiv_error_set(err, src, line, "empty category code");
		return -1;
	}
	if (clen > MAX_CODE) {
		arxiv_error_set(err, src, line, "category code longer than %d bytes", MAX_CODE);
		return -1;
	}
	for (p = s; p < tab; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			arxiv_error_set(err, src, line, "space or control character in category code");
			return -1;
		}
	if (end == lab) {
		arxiv_error_set(err, src, line, "empty label");
		return -1;
	}
	for (p = lab; p < end; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f) {
			arxiv_error_set(err, src, line, "%s in label",
			    *p == '\t' ? "more than one TAB" : "control character");
			return -1;
		}
	if (arxiv_utf8_check(lab, (size_t)(end - lab)) >= 0 || arxiv_utf8_check(s, clen) >= 0) {
		arxiv_error_set(err, src, line, "invalid UTF-8");
		return -1;
	}
	e->code = dup_range(s, clen);
	e->label = dup_range(lab, (size_t)(end - lab));
	e->line = line;
	if (e->code == NULL || e->label == NULL) {
		free(e->code);
		free(e->label);
		arxiv_error_set(err, src, line, "out of memory");
		return -1;
	}
	return 0;
}

/* Read every entry of the file; the "*" line's label goes to *dflt. */
static int
read_entries(FILE *fp, const char *path, struct entry **out, size_t *nout, char **dflt,
    struct arxiv_error *err)
{
	struct arxiv_lines *r;
	struct entry *e = NULL, cur;
	size_t n = 0, cap = 0, len, i;
	const char *line;
	int rc;

	*dflt = NULL;
	if ((r = arxiv_lines_new(fp, path, 4096)) == NULL) {
		arxiv_error_set(err, path, 0, "out of memory");
		return -1;
	}
	while ((rc = arxiv_lines_next(r, &line, &len, err)) == 1) {
		long ln = arxiv_lines_lineno(r);

		for (i = 0; i < len && is_space((unsigned char)line[i]); i++)
			;
		if (i == len || line[i] == '#')
			continue;
		if (i > 0) {
			arxiv_error_set(err, path, ln, "leading white space before category code");
			goto fail;
		}
		if (parse_line(line, len, path, ln, &cur, err) < 0)
			goto fail;
		if (strcmp(cur.code, "*") == 0) {
			free(cur.code);
			if (*dflt != NULL) {
				free(cur.label);
				arxiv_error_set(err, path, ln, "second default line \"*\"");
				goto fail;
			}
			*dflt = cur.label;
			continue;
		}
		if (n == cap && arxiv_grow(&e, &cap, n + 1, sizeof(*e), 64) < 0) {
			free(cur.code);
			free(cur.label);
			arxiv_error_set(err, path, ln, "out of memory");
			goto fail;
		}
		e[n++] = cur;
	}
	if (rc < 0)
		goto fail;
	if (n == 0 && *dflt == NULL) {
		arxiv_error_set(err, path, 0, "no entries in table");
		goto fail;
	}
	arxiv_lines_free(r);
	*out = e;
	*nout = n;
	return 0;
fail:
	arxiv_lines_free(r);
	free_entries(e, n);
	free(*dflt);
	*dflt = NULL;
	return -1;
}

/* Index of label in d->labels, appending a copy when new; -1 on ENOMEM. */
static long
add_label(struct arxiv_domains *d, const char *label)
{
	long i = label_index(d->labels, d->n_labels, label);

	if (i >= 0)
		return i;
	if ((d->labels[d->n_labels] = dup_range(label, strlen(label))) == NULL)
		return -1;
	return (long)d->n_labels++;
}

struct arxiv_domains *
arxiv_domains_load(const char *path, struct arxiv_error *err)
{
	struct arxiv_domains *d = NULL;
	struct entry *e = NULL;
	size_t n = 0, i, nslots;
	char *dflt = NULL;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		arxiv_error_set(err, path, 0, "%s", strerror(errno));
		return NULL;
	}
	if (read_entries(fp, path, &e, &n, &dflt, err) < 0) {
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	if (dflt == NULL && (dflt = dup_range(DEFAULT_LABEL, strlen(DEFAULT_LABEL))) == NULL)
		goto oom;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		goto oom;
	if ((d->labels = calloc(n + 1, sizeof(*d->labels))) == NULL)
		goto oom;
	/* labels in order of first appearance, the default label last */
	for (i = 0; i < n; i++)
		if (strcmp(e[i].label, dflt) != 0 && add_label(d, e[i].label) < 0)
			goto oom;
	d->labels[d->n_labels++] = dflt;
	dflt = NULL;
	for (nslots = 16; nslots < 2 * n + 1; nslots *= 2)
		;
	if ((d->slots = calloc(nslots, sizeof(*d->slots))) == NULL)
		goto oom;
	d->mask = nslots - 1;
	for (i = 0; i < n; i++) {
		size_t len = strlen(e[i].code);
		struct slot *s = find_slot(d, e[i].code, len);

		if (s->code != NULL) {
			arxiv_error_set(err, path, e[i].line, "duplicate category code \"%s\"",
			    e[i].code);
			free_entries(e, n);
			arxiv_domains_free(d);
			return NULL;
		}
		s->label = (size_t)label_index(d->labels, d->n_labels, e[i].label);
		s->code = e[i].code;
		s->len = len;
		e[i].code = NULL;
		d->n_codes++;
	}
	free_entries(e, n);
	return d;
oom:
	arxiv_error_set(err, path, 0, "out of memory");
	free_entries(e, n);
	free(dflt);
	arxiv_domains_free(d);
	return NULL;
}

/* Label index of an exact code, or -1. */
static long
lookup_exact(const struct arxiv_domains *d, const char *code, size_t n)
{
	const struct slot *s;

	if (n == 0 || d->n_codes == 0)
		return -1;
	s = find_slot(d, code, n);
	return s->code ? (long)s->label : -1;
}

const char *
arxiv_domains_lookup(const struct arxiv_domains *d, const char *code, size_t n)
{
	const char *dot, *dash;
	size_t an;
	long i;

	if (code == NULL || n == 0)
		return d->labels[d->n_labels - 1];
	if ((i = lookup_exact(d, code, n)) >= 0)
		return d->labels[i];
	/* the archive: the part before the first '.' */
	an = (dot = memchr(code, '.', n)) ? (size_t)(dot - code) : n;
	if (an < n && (i = lookup_exact(d, code, an)) >= 0)
		return d->labels[i];
	/* the archive's part before its first '-' ("hep-xx" -> "hep") */
	if ((dash = memchr(code, '-', an)) != NULL &&
	    (i = lookup_exact(d, code, (size_t)(dash - code))) >= 0)
		return d->labels[i];
	return d->labels[d->n_labels - 1];
}

size_t
arxiv_domains_nlabels(const struct arxiv_domains *d)
{
	return d->n_labels;
}

const char *
arxiv_domains_label(const struct arxiv_domains *d, size_t i)
{
	return i < d->n_labels ? d->labels[i] : NULL;
}

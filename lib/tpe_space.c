/*
 * tpe_space.c - search spaces for hyperparameter search (arxiv-hpo): the space
 * file ("name kind args" a line: uniform, loguniform, int [step] or
 * categorical), its parameters, and a value's printed and parsed forms (what
 * a trial trains with is exactly the printed value). The samplers over a
 * space are in tpe.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpe.h"

/* --------------------------------------------------------------- space */

void
arxiv_space_free(struct arxiv_space *s)
{
	size_t i, j;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		for (j = 0; j < s->p[i].n_choices; j++)
			free(s->p[i].choices[j]);
		free(s->p[i].choices);
	}
	free(s->p);
	free(s);
}

static int
num(const char *tok, double *x)
{
	char *end;

	errno = 0;
	*x = strtod(tok, &end);
	return end != tok && *end == '\0' && errno != ERANGE && isfinite(*x) ? 0 : -1;
}

static char *
next_tok(char **sp)
{
	char *s = *sp, *t;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return NULL;
	t = s;
	while (*s && *s != ' ' && *s != '\t')
		s++;
	if (*s)
		*s++ = '\0';
	*sp = s;
	return t;
}

static int
parse_line(struct arxiv_space *s, char *line, const char *src, long ln, struct arxiv_error *err)
{
	struct param *p, *np;
	char *name, *kind, *t, *toks[4];
	size_t i, nt = 0;

	if ((name = next_tok(&line)) == NULL || name[0] == '#')
		return 0;
	if ((kind = next_tok(&line)) == NULL) {
		arxiv_error_set(err, src, ln, "'%s': missing kind (uniform, loguniform, int or "
		    "categorical)", name);
		return -1;
	}
	if (strlen(name) >= MAX_NAME) {
		arxiv_error_set(err, src, ln, "parameter name too long");
		return -1;
	}
	for (i = 0; i < s->n; i++)
		if (strcmp(s->p[i].name, name) == 0) {
			arxiv_error_set(err, src, ln, "'%s': defined twice (line %ld)", name,
			    s->p[i].line);
			return -1;
		}
	if ((np = realloc(s->p, (s->n + 1) * sizeof(*np))) == NULL)
		goto nomem;
	s->p = np;
	p = &s->p[s->n];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->line = ln;
	if (strcmp(kind, "categorical") == 0) {
		p->kind = ARXIV_PARAM_CATEGORICAL;
		while ((t = next_tok(&line)) != NULL && t[0] != '#') {
			for (i = 0; i < p->n_choices; i++)
				if (strcmp(p->choices[i], t) == 0) {
					arxiv_error_set(err, src, ln, "'%s': choice '%s' given twice",
					    name, t);
					goto fail;
				}
			if ((toks[0] = (char *)realloc(p->choices, (p->n_choices + 1) *
			    sizeof(char *))) == NULL)
				goto nomem_p;
			p->choices = (char **)(void *)toks[0];
			if ((p->choices[p->n_choices] = strdup(t)) == NULL)
				goto nomem_p;
			p->n_choices++;
		}
		if (p->n_choices == 0) {
			arxiv_error_set(err, src, ln, "'%s': categorical needs at least one choice",
			    name);
			goto fail;
		}
		s->n++;
		return 0;
	}
	while ((t = next_tok(&line)) != NULL && t[0] != '#') {
		if (nt == 3) {
			arxiv_error_set(err, src, ln, "'%s': too many arguments", name);
			goto fail;
		}
		toks[nt++] = t;
	}
	if (strcmp(kind, "uniform") == 0)
		p->kind = ARXIV_PARAM_UNIFORM;
	else if (strcmp(kind, "loguniform") == 0)
		p->kind = ARXIV_PARAM_LOGUNIFORM;
	else if (strcmp(kind, "int") == 0)
		p->kind = ARXIV_PARAM_INT;
	else {
		arxiv_error_set(err, src, ln, "'%s': unknown kind '%s' (uniform, loguniform, int "
		    "or categorical)", name, kind);
		goto fail;
	}
	if (nt < 2 || (nt == 3 && p->kind != ARXIV_PARAM_INT)) {
		arxiv_error_set(err, src, ln, "'%s': %s takes lo hi%s", name, kind,
		    p->kind == ARXIV_PARAM_INT ? " [step]" : "");
		goto fail;
	}
	for (i = 0; i < nt; i++) {
		double x;

		if (num(toks[i], &x) < 0) {
			arxiv_error_set(err, src, ln, "'%s': '%s' is not a number", name, toks[i]);
			goto fail;
		}
		if (p->kind == ARXIV_PARAM_INT && x != floor(x)) {
			arxiv_error_set(err, src, ln, "'%s': '%s' is not an integer", name, toks[i]);
			goto fail;
		}
		if (i == 0)
			p->lo = x;
		else if (i == 1)
			p->hi = x;
		else
			p->step = x;
	}
	if (!(p->lo < p->hi)) {
		arxiv_error_set(err, src, ln, "'%s': lo must be below hi (%g >= %g)", name, p->lo,
		    p->hi);
		goto fail;
	}
	if (p->kind == ARXIV_PARAM_LOGUNIFORM && p->lo <= 0) {
		arxiv_error_set(err, src, ln, "'%s': loguniform needs lo > 0", name);
		goto fail;
	}
	if (p->kind == ARXIV_PARAM_INT) {
		if (nt < 3)
			p->step = 1;
		if (p->step < 1) {
			arxiv_error_set(err, src, ln, "'%s': step must be >= 1", name);
			goto fail;
		}
		/* Optuna: the high end moves down onto the step grid */
		p->hi = p->lo + floor((p->hi - p->lo) / p->step) * p->step;
		if (p->hi <= p->lo) {
			arxiv_error_set(err, src, ln, "'%s': the range holds one value", name);
			goto fail;
		}
	}
	s->n++;
	return 0;
nomem_p:
	arxiv_error_set(err, src, ln, "out of memory");
fail:
	for (i = 0; i < p->n_choices; i++)
		free(p->choices[i]);
	free(p->choices);
	return -1;
nomem:
	arxiv_error_set(err, src, ln, "out of memory");
	return -1;
}

struct arxiv_space *
arxiv_space_parse(const char *text, const char *src, struct arxiv_error *err)
{
	struct arxiv_space *s;
	const char *p = text, *e;
	char line[4096];
	long ln = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		arxiv_error_set(err, src, 0, "out of memory");
		return NULL;
	}
	while (*p) {
		ln++;
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) >= sizeof(line)) {
			arxiv_error_set(err, src, ln, "line too long");
			goto fail;
		}
		memcpy(line, p, (size_t)(e - p));
		line[e - p] = '\0';
		if (e > p && line[e - p - 1] == '\r')
			line[e - p - 1] = '\0';
		if (parse_line(s, line, src, ln, err) < 0)
			goto fail;
		p = *e ? e + 1 : e;
	}
	if (s->n == 0) {
		arxiv_error_set(err, src, 0, "empty search space (no parameter lines)");
		goto fail;
	}
	return s;
fail:
	arxiv_space_free(s);
	return NULL;
}

struct arxiv_space *
arxiv_space_load(const char *path, struct arxiv_error *err)
{
	struct arxiv_space *s;
	struct arxiv_buf b = {0};
	FILE *fp;
	char buf[8192];
	size_t n;

	if ((fp = fopen(path, "r")) == NULL) {
		arxiv_error_set(err, path, 0, "%s", strerror(errno));
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		if (arxiv_buf_append(&b, buf, n) < 0) {
			fclose(fp);
			arxiv_buf_free(&b);
			arxiv_error_set(err, path, 0, "out of memory");
			return NULL;
		}
	if (ferror(fp)) {
		arxiv_error_set(err, path, 0, "read error");
		fclose(fp);
		arxiv_buf_free(&b);
		return NULL;
	}
	fclose(fp);
	if (arxiv_buf_append(&b, "", 1) < 0) {
		arxiv_buf_free(&b);
		arxiv_error_set(err, path, 0, "out of memory");
		return NULL;
	}
	if (memchr(b.data, '\0', b.len - 1) != NULL) {
		arxiv_error_set(err, path, 0, "NUL byte in the space file");
		arxiv_buf_free(&b);
		return NULL;
	}
	s = arxiv_space_parse(b.data, path, err);
	arxiv_buf_free(&b);
	return s;
}

size_t
arxiv_space_size(const struct arxiv_space *s)
{
	return s ? s->n : 0;
}

const char *
arxiv_space_name(const struct arxiv_space *s, size_t i)
{
	return i < s->n ? s->p[i].name : NULL;
}

int
arxiv_space_kind(const struct arxiv_space *s, size_t i)
{
	return i < s->n ? s->p[i].kind : -1;
}

long
arxiv_space_line(const struct arxiv_space *s, size_t i)
{
	return i < s->n ? s->p[i].line : 0;
}

int
arxiv_space_bounds(const struct arxiv_space *s, size_t i, double *lo, double *hi, double *step)
{
	if (i >= s->n)
		return -1;
	if (s->p[i].kind == ARXIV_PARAM_CATEGORICAL) {
		*lo = 0;
		*hi = (double)s->p[i].n_choices - 1;
		*step = 1;
	} else {
		*lo = s->p[i].lo;
		*hi = s->p[i].hi;
		*step = s->p[i].kind == ARXIV_PARAM_INT ? s->p[i].step : 0;
	}
	return 0;
}

size_t
arxiv_space_nchoices(const struct arxiv_space *s, size_t i)
{
	return i < s->n ? s->p[i].n_choices : 0;
}

const char *
arxiv_space_choice(const struct arxiv_space *s, size_t i, size_t j)
{
	return i < s->n && j < s->p[i].n_choices ? s->p[i].choices[j] : NULL;
}

int
arxiv_space_format(const struct arxiv_space *s, size_t i, double v, char *buf, size_t n)
{
	const struct param *p;
	size_t j;

	if (i >= s->n || !isfinite(v))
		return -1;
	p = &s->p[i];
	switch (p->kind) {
	case ARXIV_PARAM_CATEGORICAL:
		j = (size_t)v;
		if (v < 0 || j >= p->n_choices)
			return -1;
		snprintf(buf, n, "%s", p->choices[j]);
		break;
	case ARXIV_PARAM_INT:
		snprintf(buf, n, "%.0f", v);
		break;
	default:
		snprintf(buf, n, "%.10g", v);
	}
	return 0;
}

int
arxiv_space_parse_value(const struct arxiv_space *s, size_t i, const char *str, double *v)
{
	const struct param *p;
	size_t j;

	if (i >= s->n || str == NULL)
		return -1;
	p = &s->p[i];
	if (p->kind == ARXIV_PARAM_CATEGORICAL) {
		for (j = 0; j < p->n_choices; j++)
			if (strcmp(p->choices[j], str) == 0) {
				*v = (double)j;
				return 0;
			}
		return -1;
	}
	if (num(str, v) < 0 || *v < p->lo || *v > p->hi)
		return -1;
	return 0;
}

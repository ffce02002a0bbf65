/*
 * map.c - arxiv-map's record step: one Kaggle-schema JSON line in, one
 * {"id","text","label","categories","fields"} line out. The common line is
 * read by the fast scanner (arxiv_json_scan); anything else, and every error,
 * goes through jansson. The category codes go through the domains table.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"

struct arxiv_map_params
arxiv_map_default_params(void)
{
	struct arxiv_map_params p;

	memset(&p, 0, sizeof(p));
	p.abstract_only = 0;
	return p;
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Trim ASCII white space: *s and *n describe the trimmed range. */
static void
trim(const char **s, size_t *n)
{
	const char *p = *s, *e = *s + *n;

	while (p < e && is_space((unsigned char)*p))
		p++;
	while (e > p && is_space((unsigned char)e[-1]))
		e--;
	*s = p;
	*n = (size_t)(e - p);
}

static int
join(const char *t, size_t tn, const char *a, size_t an, struct arxiv_buf *out)
{
	arxiv_buf_clear(out);
	trim(&t, &tn);
	trim(&a, &an);
	if (arxiv_buf_reserve(out, tn + an + 1) < 0)
		return -1;
	if (arxiv_buf_append(out, t, tn) < 0)
		return -1;
	if (tn > 0 && an > 0 && arxiv_buf_putc(out, '\n') < 0)
		return -1;
	return arxiv_buf_append(out, a, an);
}

int
arxiv_text_join(const char *title, const char *abstract, struct arxiv_buf *out)
{
	return join(title ? title : "", title ? strlen(title) : 0,
	    abstract ? abstract : "", abstract ? strlen(abstract) : 0, out);
}

/* True when s[0..n) is empty or only ASCII white space. */
static int
blank(const char *s, size_t n)
{
	trim(&s, &n);
	return n == 0;
}

/* The text of an input record: see arxiv.h. */
int
arxiv_record_text(const struct json_t *rec, struct arxiv_buf *out, struct arxiv_error *err)
{
	json_t *o = (json_t *)(uintptr_t)rec, *v, *t;
	const char *key;

	arxiv_buf_clear(out);
	if (!json_is_object(o)) {
		arxiv_error_set(err, "", 0, "not a JSON object");
		return -1;
	}
	if ((v = json_object_get(o, key = "text")) == NULL &&
	    (v = json_object_get(o, key = "abstract")) == NULL) {
		arxiv_error_set(err, "", 0, "\"abstract\" (or \"text\") is required");
		return -1;
	}
	if (!json_is_string(v))
		goto not_string;
	if (blank(json_string_value(v), json_string_length(v))) {
		arxiv_error_set(err, "", 0, "\"%s\" is empty", key);
		return -1;
	}
	if (key[0] == 't') {		/* "text": as it is */
		if (arxiv_buf_append(out, json_string_value(v), json_string_length(v)) < 0)
			goto oom;
		return 0;
	}
	t = json_object_get(o, "title");
	if (t != NULL && !json_is_null(t) && !json_is_string(t)) {
		key = "title";
		goto not_string;
	}
	if (join(json_is_string(t) ? json_string_value(t) : "", json_is_string(t) ? json_string_length(t) : 0,
	    json_string_value(v), json_string_length(v), out) < 0)
		goto oom;
	return 0;
not_string:
	arxiv_error_set(err, "", 0, "\"%s\" must be a string", key);
	return -1;
oom:
	arxiv_error_set(err, "", 0, "out of memory");
	return -1;
}

/* JSON string output, byte-identical to jansson's json_dumps() (checked in
 * tests/unit/test_map.c). */
static int
put_escaped(struct arxiv_buf *b, const char *s, size_t n)
{
	return arxiv_json_escape(s, n, b);
}

/* ,"key":"value" with the value escaped; key is a literal. */
static int
put_member(struct arxiv_buf *b, const char *key, const char *s, size_t n)
{
	if (arxiv_buf_printf(b, "%s\"%s\":\"", b->len > 1 ? "," : "", key) < 0 ||
	    put_escaped(b, s, n) < 0)
		return -1;
	return arxiv_buf_putc(b, '"');
}

/* The string value of key, or NULL with err set. */
static const char *
get_string(json_t *o, const char *key, size_t *n, struct arxiv_error *err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v)) {
		arxiv_error_set(err, "", 0, "missing or non-string \"%s\"", key);
		return NULL;
	}
	*n = json_string_length(v);
	return json_string_value(v);
}

/* Trim *s; "empty <key>" when nothing is left: 0 ok, -1 (err set). */
static int
check_text(const char *key, const char **s, size_t *n, struct arxiv_error *err)
{
	trim(s, n);
	if (*n == 0) {
		arxiv_error_set(err, "", 0, "empty %s", key);
		return -1;
	}
	return 0;
}

/* Like get_string, trimmed, and "empty <key>" when nothing is left. */
static const char *
get_text(json_t *o, const char *key, size_t *n, struct arxiv_error *err)
{
	const char *s = get_string(o, key, n, err);

	if (s == NULL || check_text(key, &s, n, err) < 0)
		return NULL;
	return s;
}

/*
 * The fast path: the four fields of a plain line (see arxiv_json_scan), decoded
 * into tmp when escaped. 1 done, 0 not plain (use jansson), -1 out of memory.
 */
static int
fast_fields(const char *line, size_t len, const char *v[4], size_t vn[4],
    struct arxiv_buf *tmp)
{
	static const char *const names[4] = { "id", "title", "abstract", "categories" };
	struct arxiv_json_key k[4];
	size_t off[4], i;

	memset(k, 0, sizeof(k));
	for (i = 0; i < 4; i++)
		k[i].name = names[i];
	if (!arxiv_json_scan(line, len, k, 4, ARXIV_JSON_NODUP, NULL))
		return 0;
	for (i = 0; i < 4; i++) {
		if (!k[i].escaped)
			continue;
		/* decoded values are appended to tmp, one after another */
		off[i] = tmp->len;
		if (arxiv_json_unescape(k[i].val, k[i].len, tmp) < 0)
			return -1;
		vn[i] = tmp->len - off[i];
	}
	for (i = 0; i < 4; i++) {
		if (k[i].escaped)
			v[i] = tmp->data + off[i];
		else {
			v[i] = k[i].val;
			vn[i] = k[i].len;
		}
	}
	return 1;
}

/* Append label to the set (*seen, *nseen) unless present; 1 added, 0 present, -1 ENOMEM. */
static int
add_field(const char ***seen, size_t *nseen, size_t *cap, const char *label)
{
	size_t i;

	for (i = 0; i < *nseen; i++)
		if ((*seen)[i] == label)
			return 0;
	if (*nseen == *cap && arxiv_grow(seen, cap, *nseen + 1, sizeof(**seen), 8) < 0)
		return -1;
	(*seen)[(*nseen)++] = label;
	return 1;
}

int
arxiv_map_line(const struct arxiv_domains *d, const struct arxiv_map_params *p,
    const char *line, size_t len, struct arxiv_buf *out, const char **label,
    struct arxiv_error *err)
{
	struct arxiv_map_params def = arxiv_map_default_params();
	const char *id, *title, *abstract, *cats, *c, *s, *end, **seen = NULL, *v[4];
	size_t idn, tn, an, cn, nseen = 0, seencap = 0, i, vn[4];
	struct arxiv_buf tmp = { 0 };
	json_t *in = NULL;
	json_error_t jerr;
	long bad;
	int rc = -1, first, fast;

	if (p == NULL)
		p = &def;
	arxiv_buf_clear(out);
	if ((fast = fast_fields(line, len, v, vn, &tmp)) < 0)
		goto oom;
	if (fast) {
		/* the same checks, in the same order, as the jansson path below */
		id = v[0], idn = vn[0], title = v[1], tn = vn[1];
		abstract = v[2], an = vn[2], cats = v[3], cn = vn[3];
		if (check_text("id", &id, &idn, err) < 0 ||
		    check_text("title", &title, &tn, err) < 0 ||
		    check_text("abstract", &abstract, &an, err) < 0 ||
		    check_text("categories", &cats, &cn, err) < 0)
			goto done;
		goto fields;
	}
	if (memchr(line, '\0', len) != NULL) {
		arxiv_error_set(err, "", 0, "NUL byte in line");
		return -1;
	}
	/* jansson rejects invalid UTF-8 too: look for it only to name the byte */
	if ((in = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		if ((bad = arxiv_utf8_check(line, len)) >= 0)
			arxiv_error_set(err, "", 0, "invalid UTF-8 at byte %ld", bad);
		else
			arxiv_error_set(err, "", 0, "invalid JSON: %s", jerr.text);
		return -1;
	}
	if (!json_is_object(in)) {
		arxiv_error_set(err, "", 0, "not a JSON object");
		goto done;
	}
	if ((id = get_text(in, "id", &idn, err)) == NULL ||
	    (title = get_text(in, "title", &tn, err)) == NULL ||
	    (abstract = get_text(in, "abstract", &an, err)) == NULL ||
	    (cats = get_text(in, "categories", &cn, err)) == NULL)
		goto done;

fields:
	/* the fields of all codes, primary first (trimmed, so there is a first) */
	for (c = cats, end = cats + cn; c < end;) {
		for (s = c; c < end && !is_space((unsigned char)*c); c++)
			;
		if (add_field(&seen, &nseen, &seencap, arxiv_domains_lookup(d, s,
		    (size_t)(c - s))) < 0)
			goto oom;
		while (c < end && is_space((unsigned char)*c))
			c++;
	}

	/* {"id":..,"text":..,"label":..,"categories":[..],"fields":[..]} */
	if (arxiv_buf_reserve(out, len + 256) < 0 || arxiv_buf_putc(out, '{') < 0 ||
	    put_member(out, "id", id, idn) < 0 ||
	    arxiv_buf_append(out, ",\"text\":\"", 9) < 0)
		goto oom;
	if (!p->abstract_only && (put_escaped(out, title, tn) < 0 ||
	    arxiv_buf_append(out, "\\n", 2) < 0))
		goto oom;
	if (put_escaped(out, abstract, an) < 0 || arxiv_buf_putc(out, '"') < 0 ||
	    put_member(out, "label", seen[0], strlen(seen[0])) < 0 ||
	    arxiv_buf_append(out, ",\"categories\":[", 15) < 0)
		goto oom;
	for (c = cats, first = 1; c < end; first = 0) {
		for (s = c; c < end && !is_space((unsigned char)*c); c++)
			;
		if ((!first && arxiv_buf_putc(out, ',') < 0) || arxiv_buf_putc(out, '"') < 0 ||
		    put_escaped(out, s, (size_t)(c - s)) < 0 || arxiv_buf_putc(out, '"') < 0)
			goto oom;
		while (c < end && is_space((unsigned char)*c))
			c++;
	}
	if (arxiv_buf_append(out, "],\"fields\":[", 12) < 0)
		goto oom;
	for (i = 0; i < nseen; i++)
		if ((i > 0 && arxiv_buf_putc(out, ',') < 0) || arxiv_buf_putc(out, '"') < 0 ||
		    put_escaped(out, seen[i], strlen(seen[i])) < 0 ||
		    arxiv_buf_putc(out, '"') < 0)
			goto oom;
	if (arxiv_buf_append(out, "]}", 2) < 0)
		goto oom;
	if (label != NULL)
		*label = seen[0];
	rc = 0;
	goto done;
oom:
	arxiv_buf_clear(out);
	arxiv_error_set(err, "", 0, "out of memory");
done:
	free(seen);
	arxiv_buf_free(&tmp);
	json_decref(in);
	return rc;
}

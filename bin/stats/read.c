/*
 * read.c - arxiv-stats: a record from its line (the scan of arxiv-map's JSON,
 * jansson where the scan cannot), its WordPiece count and cleaned terms, and
 * counting it.
 */
#include <string.h>

#include "stats.h"

/*
 * The array of strings after "key": in a line that arxiv_json_scan has found
 * to be valid JSON. In valid JSON the bytes "key":[ can only be that key (a
 * quote inside a string is escaped). 0, or -1 when absent or not a plain
 * array of unescaped strings (the caller then parses with jansson).
 */
static int
scan_array(const char *line, size_t len, const char *key, struct arxiv_stats_str *out,
    size_t max, size_t *n)
{
	char pat[32];
	const char *p, *end = line + len;
	size_t k = 0;

	snprintf(pat, sizeof(pat), "\"%s\":[", key);
	if ((p = memmem(line, len, pat, strlen(pat))) == NULL)
		return -1;
	p += strlen(pat);
	while (p < end && *p != ']') {
		const char *q;

		if (*p != '"' || k == max)
			return -1;
		for (q = ++p; q < end && *q != '"'; q++)
			if (*q == '\\')
				return -1;
		if (q >= end)
			return -1;
		out[k].s = p;
		out[k++].n = (size_t)(q - p);
		p = q + 1;
		if (p < end && *p == ',')
			p++;
	}
	*n = k;
	return p < end ? 0 : -1;
}

/* "categories" and "fields" by scan_array, looked for after the text first
 * (where arxiv-map writes them) and then before it: the text is most of the
 * line. 0, or -1 (the caller then parses with jansson). */
static int
scan_arrays(const char *line, size_t len, const char *text, size_t tn, struct tools *t,
    struct arxiv_stats_record *r)
{
	const char *tail = text + tn;
	size_t head = (size_t)(text - line), rest = len - head - tn;

	if (scan_array(tail, rest, "categories", t->cats, 64, &r->n_categories) < 0 &&
	    scan_array(line, head, "categories", t->cats, 64, &r->n_categories) < 0)
		return -1;
	if (scan_array(tail, rest, "fields", t->fields, 64, &r->n_fields) < 0 &&
	    scan_array(line, head, "fields", t->fields, 64, &r->n_fields) < 0)
		return -1;
	return 0;
}

static int
get_strings(json_t *o, const char *key, struct arxiv_stats_str *out, size_t max, size_t *n,
    struct arxiv_error *err)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;

	if (!json_is_array(a)) {
		arxiv_error_set(err, "", 0, "missing or non-array \"%s\"", key);
		return -1;
	}
	*n = 0;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v)) {
			arxiv_error_set(err, "", 0, "non-string in \"%s\"", key);
			return -1;
		}
		if (*n < max) {
			out[*n].s = json_string_value(v);
			out[(*n)++].n = json_string_length(v);
		}
	}
	return 0;
}

/* The record of a line into r (strings borrowed from line, t and *o, which
 * the caller frees with json_decref). 0 or -1 with err. */
int
parse_line(struct tools *t, const char *line, size_t len, struct arxiv_stats_record *r,
    json_t **o, struct arxiv_error *err)
{
	struct arxiv_json_key k[4] = {
		{ "id", ARXIV_JSON_STRING, NULL, 0, 0 },
		{ "text", ARXIV_JSON_STRING, NULL, 0, 0 },
		{ "label", ARXIV_JSON_STRING, NULL, 0, 0 },
		{ "update_date", ARXIV_JSON_OPTIONAL, NULL, 0, 0 },
	};
	json_t *v;
	json_error_t je;

	memset(r, 0, sizeof(*r));
	*o = NULL;
	if (arxiv_json_scan(line, len, k, 4, 0, NULL) == 1 && !k[0].escaped && !k[2].escaped &&
	    !k[3].escaped &&
	    scan_arrays(line, len, k[1].val, k[1].len, t, r) == 0) {
		r->id.s = k[0].val;
		r->id.n = k[0].len;
		r->label.s = k[2].val;
		r->label.n = k[2].len;
		r->date.s = k[3].val;
		r->date.n = k[3].len;
		if (k[1].escaped) {
			arxiv_buf_clear(&t->text);
			if (arxiv_json_unescape(k[1].val, k[1].len, &t->text) < 0) {
				arxiv_error_set(err, "", 0, "bad escape in \"text\"");
				return -1;
			}
			r->text.s = t->text.data;
			r->text.n = t->text.len;
		} else {
			r->text.s = k[1].val;
			r->text.n = k[1].len;
		}
	} else {
		const char *key[3] = { "id", "text", "label" };
		struct arxiv_stats_str *dst[3] = { &r->id, &r->text, &r->label };
		int i;

		if ((*o = json_loadb(line, len, 0, &je)) == NULL) {
			arxiv_error_set(err, "", 0, "invalid JSON: %s", je.text);
			return -1;
		}
		if (!json_is_object(*o)) {
			arxiv_error_set(err, "", 0, "not a JSON object");
			return -1;
		}
		for (i = 0; i < 3; i++) {
			v = json_object_get(*o, key[i]);
			if (!json_is_string(v)) {
				arxiv_error_set(err, "", 0, "missing or non-string \"%s\"%s", key[i],
				    i == 1 ? "; is this arxiv-map output?" : "");
				return -1;
			}
			dst[i]->s = json_string_value(v);
			dst[i]->n = json_string_length(v);
		}
		if (memchr(r->text.s, '\0', r->text.n) != NULL) {
			arxiv_error_set(err, "", 0, "NUL in \"text\"");
			return -1;
		}
		if (json_is_string(v = json_object_get(*o, "update_date"))) {
			r->date.s = json_string_value(v);
			r->date.n = json_string_length(v);
		}
		if (get_strings(*o, "categories", t->cats, 64, &r->n_categories, err) < 0 ||
		    get_strings(*o, "fields", t->fields, 64, &r->n_fields, err) < 0)
			return -1;
	}
	r->categories = t->cats;
	r->fields = t->fields;
	r->n_tokens = -1;
	return 0;
}

/* r's WordPiece count (-v; with here 0: left to arxiv_stats_add, which
 * counts it in the pass that splits the terms) and cleaned terms (--clean,
 * into t->cleaned). */
int
count_record(const struct state *s, struct tools *t, struct arxiv_stats_record *r, int here,
    struct arxiv_error *err)
{
	struct arxiv_tok_params tp = arxiv_tok_default_params();
	size_t nt;

	if (s->vocab != NULL && !here)
		r->n_tokens = ARXIV_STATS_COUNT_TOKENS;
	else if (s->vocab != NULL) {
		/* counted whole, capped as encoding with seq_len MAXSEQ would */
		if (arxiv_tok_count_cached(t->cache, ARXIV_TOK_VALID_UTF8, s->vocab, &tp,
		    r->text.s, r->text.n, &nt, err) < 0)
			return -1;
		r->n_tokens = (long)(nt < MAXSEQ ? nt : MAXSEQ);
	}
	if (t->cl != NULL) {
		if (arxiv_clean_text(t->cl, r->text.s, r->text.n, &t->cleaned, err) < 0)
			return -1;
		r->terms.s = t->cleaned.data ? t->cleaned.data : "";
		r->terms.n = t->cleaned.len;
	}
	return 0;
}

/* r takes what a thread prepared of it (p; keep: its thread's buffer) */
void
use_prep(const struct state *s, const struct prep *p, const struct arxiv_buf *keep,
    struct arxiv_stats_record *r)
{
	r->n_tokens = p->n_tokens;
	if (s->clean) {
		r->terms.s = keep->data ? keep->data + p->off : "";
		r->terms.n = p->len;
	}
	r->split = p->split;
}

/* One record (p: its count and terms, prepared by a thread; NULL: count
 * them here); 0 or -1 with err. */
int
add_line(struct state *s, const char *line, size_t len, const struct prep *p,
    const struct arxiv_buf *keep, struct arxiv_error *err)
{
	struct arxiv_stats_record r;
	json_t *o;
	int rc = -1;

	if (parse_line(&s->t, line, len, &r, &o, err) < 0)
		goto out;
	if (p != NULL && p->ok)
		use_prep(s, p, keep, &r);
	else if (count_record(s, &s->t, &r, 0, err) < 0)
		goto out;
	rc = arxiv_stats_add(s->st, &r, err);
out:
	json_decref(o);
	return rc;
}

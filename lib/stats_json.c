/*
 * stats_json.c - arxiv-stats' JSON: the statistics (schema in arxiv-stats(1)),
 * the merge state of --partial (base64 HyperLogLog registers and hashes, the
 * term table) and arxiv_stats_merge_json, which adds such a result back in.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stats_int.h"

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

/* ------------------------------------------------------------------ output */

void
stats_put_str(struct arxiv_buf *o, const char *s, size_t n)
{
	arxiv_buf_putc(o, '"');
	arxiv_json_escape(s, n, o);
	arxiv_buf_putc(o, '"');
}

void
stats_put_num(struct arxiv_buf *o, double v)
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
	stats_put_num(o, mean);
	arxiv_buf_printf(o, ",\"sd\":");
	stats_put_num(o, sqrt(var));
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

static void
put_hset(struct arxiv_buf *o, const struct hset *h)
{
	arxiv_buf_printf(o, "{\"records\":%llu,\"exact\":%s,\"hll\":\"",
	    (unsigned long long)h->records, h->exact ? "true" : "false");
	b64_put(o, h->hll, HLL_M);
	arxiv_buf_printf(o, "\"");
	if (h->exact) {
		uint64_t *v = malloc((h->set.n + 1) * sizeof(*v));
		unsigned char *le = malloc((h->set.n + 1) * 8);
		size_t i, k;

		if (v == NULL || le == NULL) {
			free(v);
			free(le);
			return;
		}
		for (i = k = 0; i < h->set.cap; i++)
			if (h->set.slot[i])
				v[k++] = h->set.slot[i];
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
		stats_put_str(o, s->fname[f], strlen(s->fname[f]));
		arxiv_buf_printf(o, ",\"papers\":%llu,\"share\":", (unsigned long long)s->fpapers[f]);
		stats_put_num(o, share(s->fpapers[f], n));
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
		stats_put_str(o, cats[i].name, strlen(cats[i].name));
		arxiv_buf_printf(o, ",\"field\":");
		if (cats[i].field >= 0)
			stats_put_str(o, s->fname[cats[i].field], strlen(s->fname[cats[i].field]));
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
		stats_put_str(o, s->fname[order[i]], strlen(s->fname[order[i]]));
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
	put_dist(o, &s->chars, stats_bin_width[0]);
	arxiv_buf_printf(o, ",\"words\":");
	put_dist(o, &s->words, stats_bin_width[1]);
	arxiv_buf_printf(o, ",\"tokens\":");
	if (s->have_tokens) {
		put_dist(o, &s->tokens, stats_bin_width[2]);
		o->len--;	/* reopen the object */
		arxiv_buf_printf(o, ",\"over_256\":%llu,\"over_512\":%llu,\"share_truncated_256\":",
		    (unsigned long long)s->tok_over256, (unsigned long long)s->tok_over512);
		stats_put_num(o, share(s->tok_over256, s->tokens.n));
		arxiv_buf_printf(o, ",\"share_truncated_512\":");
		stats_put_num(o, share(s->tok_over512, s->tokens.n));
		arxiv_buf_printf(o, "}");
	} else
		arxiv_buf_printf(o, "null");
	arxiv_buf_printf(o, "},\"latex_math\":{\"papers\":%llu,\"share\":", (unsigned long long)s->math);
	stats_put_num(o, share(s->math, n));
	arxiv_buf_printf(o, "},\"non_ascii\":{\"papers\":%llu,\"share\":",
	    (unsigned long long)s->nonascii);
	stats_put_num(o, share(s->nonascii, n));
	arxiv_buf_printf(o, "},\"duplicates\":{\"ids\":%llu,\"texts\":%llu,\"exact\":%s},",
	    (unsigned long long)(n - stats_hset_distinct(&s->ids)),
	    (unsigned long long)(n - stats_hset_distinct(&s->texts)),
	    s->ids.exact && s->texts.exact ? "true" : "false");
	if (stats_put_terms(o, s, order) < 0)
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
		stats_terms_sorted(s, idx);
		arxiv_buf_printf(o, ",\"terms\":[");
		for (i = 0; i < s->nterm; i++) {
			const struct term *t = &s->terms[idx[i]];

			arxiv_buf_printf(o, "%s[", i ? "," : "");
			stats_put_str(o, s->arena.data + t->off, t->len);
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
	stats_dist_merge(d, &o);
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
		stats_hset_giveup(s);
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
		if (arxiv_hset64_add(&s->set, v) < 0) {
			free(b);
			return -2;
		}
		if (s->set.n > exact_max)
			stats_hset_giveup(s);
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
		fmap[i] = stats_field_id(s, json_string_value(v), json_string_length(v));
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
		f = stats_field_id(s, json_string_value(w), json_string_length(w));
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
			f = stats_field_id(s, json_string_value(fn), json_string_length(fn));
		if (stats_cat_add(s, json_string_value(w), json_string_length(w), f, x) < 0)
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
	if (merge_dist(&s->chars, json_object_get(v, "chars"), stats_bin_width[0]) ||
	    merge_dist(&s->words, json_object_get(v, "words"), stats_bin_width[1])) {
		bad(err, "length");
		goto out;
	}
	w = json_object_get(v, "tokens");
	if (!json_is_null(w)) {
		if (merge_dist(&s->tokens, w, stats_bin_width[2]) || get_u64(w, "over_256", &x)) {
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
			if (x && stats_term_add(s, json_string_value(t), json_string_length(t),
			    fmap[j], x) < 0)
				goto oom;
			sum += x;
		}
		if (total > sum && stats_term_add(s, json_string_value(t), json_string_length(t), -1,
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


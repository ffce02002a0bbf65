/*
 * arxiv-serve's API (see serve.h): POST /api/predict/ (one abstract, a
 * record or a batch, through the library calls of arxiv-predict so the answers
 * are byte-identical) and POST /api/similar/ (the index's nearest papers to an
 * abstract or to a paper by id).
 */
#include <ctype.h>

#include "serve.h"

/* ------------------------------------------------------------- predict */

static int
blank(const char *t)
{
	for (; *t; t++)
		if (!isspace((unsigned char)*t))
			return 0;
	return 1;
}

/*
 * One bare string of a batch into out: a string that is not blank. 0, or -1
 * with a detail naming the offending item ("what" is its name) in why. A record
 * (a JSON object) goes through arxiv_record_text instead.
 */
static int
item_text(json_t *abs, const char *what, struct arxiv_buf *out, char *why, size_t n)
{
	if (!json_is_string(abs))
		snprintf(why, n, "%s must be a string", what);
	else if (blank(json_string_value(abs)))
		snprintf(why, n, "%s is empty", what);
	else if (arxiv_text_join(NULL, json_string_value(abs), out) < 0)
		snprintf(why, n, "out of memory");
	else
		return 0;
	return -1;
}

/*
 * The answer options of a request: "explain" (0..16 terms), "min_confidence"
 * and "ood_threshold" (numbers in [0, 1]; absent or null: the server's -
 * --min-confidence, --ood-threshold - whose own default is the model's).
 */
static int
answer_opts(const struct server *s, json_t *root, struct arxiv_answer_opts *o, char *why,
    size_t n)
{
	json_t *ex = json_object_get(root, "explain"), *mc = json_object_get(root, "min_confidence"),
	    *ood = json_object_get(root, "ood_threshold");

	o->min_confidence = s->min_confidence;
	o->ood_threshold = s->ood_threshold;
	if (ex && !json_is_null(ex)) {
		if (!json_is_integer(ex) || json_integer_value(ex) < 0 ||
		    json_integer_value(ex) > ARXIV_EXPLAIN_MAX) {
			snprintf(why, n, "\"explain\" must be an integer between 0 and %d",
			    ARXIV_EXPLAIN_MAX);
			return -1;
		}
		o->explain = (size_t)json_integer_value(ex);
	}
	if (mc && !json_is_null(mc)) {
		if (!json_is_number(mc) || !(json_number_value(mc) >= 0 && json_number_value(mc) <= 1)) {
			snprintf(why, n, "\"min_confidence\" must be a number between 0 and 1");
			return -1;
		}
		o->min_confidence = json_number_value(mc);
	}
	if (ood && !json_is_null(ood)) {
		if (!json_is_number(ood) || !(json_number_value(ood) >= 0 && json_number_value(ood) <= 1)) {
			snprintf(why, n, "\"ood_threshold\" must be a number between 0 and 1");
			return -1;
		}
		o->ood_threshold = json_number_value(ood);
	}
	return 0;
}

int
predict(struct server *s, struct req *r)
{
	struct arxiv_error err = { "", 0, "" };
	struct arxiv_answer *preds = NULL;
	struct arxiv_answer_opts ao = arxiv_answer_default_opts();
	struct arxiv_buf *texts = NULL, out = { 0 }, one = { 0 };
	const char **tp = NULL;
	size_t *lens = NULL, n = 0, i, k;
	struct model_ref *m = NULL;
	json_t *root, *abs, *batch, *tk;
	json_error_t je;
	int ret;
	char ebuf[400], why[256];	/* what (64) + ": " + an arxiv_error text (160) */

	if (r->body.len == 0)
		return reply_err(s, r, HTTP_BAD_REQUEST, "malformed JSON",
		    "the body is empty; send a JSON object such as {\"abstract\":\"...\"}");
	if ((root = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return reply_err(s, r, HTTP_BAD_REQUEST, "malformed JSON", "line %d column %d: %s",
		    je.line, je.column, je.text);
	if (!json_is_object(root)) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "the body must be a JSON object such as {\"abstract\":\"...\"}");
		goto done;
	}
	abs = json_object_get(root, "abstract");
	batch = json_object_get(root, "abstracts");
	tk = json_object_get(root, "top_k");
	if (tk && json_is_null(tk))
		tk = NULL;
	if (tk && !json_is_integer(tk)) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "\"top_k\" must be an integer");
		goto done;
	}
	if (abs && batch) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "give either \"abstract\" or \"abstracts\", not both");
		goto done;
	}
	if (answer_opts(s, root, &ao, why, sizeof(why)) < 0) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request", "%s", why);
		goto done;
	}
	if (batch) {
		if (!json_is_array(batch) || json_array_size(batch) == 0) {
			ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
			    "\"abstracts\" must be a non-empty array of strings");
			goto done;
		}
		n = json_array_size(batch);
		if (n > s->maxbatch) {
			ret = reply_err(s, r, HTTP_CONTENT_TOO_LARGE, "payload too large",
			    "a batch of %zu abstracts is over the limit of %zu (-B)", n, s->maxbatch);
			goto done;
		}
		if ((texts = calloc(n, sizeof(*texts))) == NULL)
			goto oom;
		for (i = 0; i < n; i++) {
			json_t *it = json_array_get(batch, i);
			char what[64];
			int bad;

			snprintf(what, sizeof(what), "\"abstracts\"[%zu]", i);
			if (json_is_object(it)) {
				/* a record: the rule of predict and eval (arxiv_record_text) */
				if ((bad = arxiv_record_text((const struct json_t *)it, &texts[i], &err) < 0))
					snprintf(why, sizeof(why), "%s: %s", what, err.text);
			} else
				bad = item_text(it, what, &texts[i], why, sizeof(why));
			if (bad) {
				ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request", "%s", why);
				goto done;
			}
		}
	} else {
		n = 1;
		/* the record's text by the rule of predict and eval (arxiv_record_text) */
		if (arxiv_record_text((const struct json_t *)root, &one, &err) < 0) {
			ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request", "%s", err.text);
			goto done;
		}
	}
	if ((m = ref_get(s)) == NULL) {
		ret = reply_503(s, r, 0);
		goto done;
	}
	k = m->nlabels < DEFAULT_TOPK ? m->nlabels : DEFAULT_TOPK;
	if (tk) {
		json_int_t v = json_integer_value(tk);
		size_t hi = m->nlabels < ARXIV_TOPK_MAX ? m->nlabels : ARXIV_TOPK_MAX;

		if (v < 1 || (uint64_t)v > hi) {
			ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
			    "\"top_k\" must be an integer between 1 and %zu", hi);
			goto done;
		}
		k = (size_t)v;
	}
	if ((preds = calloc(n, sizeof(*preds))) == NULL || (tp = calloc(n, sizeof(*tp))) == NULL ||
	    (lens = calloc(n, sizeof(*lens))) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		struct arxiv_buf *t = texts ? &texts[i] : &one;

		tp[i] = t->data ? t->data : "";
		lens[i] = t->len;
	}
	ao.k = k;
	if (arxiv_model_answer(m->m, tp, lens, n, &ao, preds, &err) < 0) {
		arxiv_error_str(&err, ebuf, sizeof(ebuf));
		warnx("prediction failed: %s", ebuf);
		ret = reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "prediction failed", "%s", ebuf);
		goto done;
	}
	if (texts && arxiv_buf_append(&out, "{\"predictions\":[", 16) < 0)
		goto oom;
	for (i = 0; i < n; i++) {
		const struct arxiv_prediction *pi = &preds[i].p;

		if (pi->k > 0 && pi->label[0] >= 0 && (size_t)pi->label[0] < m->nlabels &&
		    m->slot[pi->label[0]] < MAX_SLOTS)
			atomic_fetch_add(&s->slots[m->slot[pi->label[0]]].n, 1);
		if (arxiv_answer_json(m->m, &preds[i], &one) < 0 ||
		    (i > 0 && arxiv_buf_putc(&out, ',') < 0) ||
		    arxiv_buf_append(&out, one.data, one.len) < 0)
			goto oom;
	}
	if ((texts && arxiv_buf_append(&out, "]}", 2) < 0) || arxiv_buf_putc(&out, '\n') < 0)
		goto oom;
	ret = reply(s, r, HTTP_OK, out.data, "application/json", NULL);
	out.data = NULL;
	goto done;
oom:
	ret = reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "internal error", "out of memory");
done:
	ref_put(m);
	if (texts)
		for (i = 0; i < n; i++)
			arxiv_buf_free(&texts[i]);
	free(texts);
	free(preds);
	free(tp);
	free(lens);
	arxiv_buf_free(&one);
	arxiv_buf_free(&out);
	json_decref(root);
	return ret;
}

/* ------------------------------------------------------------- similar */

/*
 * POST /api/similar/ {"abstract":..,"title":..(optional),"k":5,"field":..(optional)}
 * or {"id":..,"k":5}: {"similar":[{"id":..,"title":..,"field":..,"score":..},..]},
 * best first; a query by id leaves the paper itself out.
 */
int
similar(struct server *s, struct req *r)
{
	struct arxiv_error err = { "", 0, "" };
	struct arxiv_hit hits[SIMILAR_MAX_K];
	struct arxiv_buf text = { 0 }, out = { 0 };
	struct index_ref *ix = NULL;
	json_t *root, *abs, *id, *kj, *fj;
	json_error_t je;
	int ret;
	size_t k = SIMILAR_K, n = 0, i;
	float *q = NULL;
	char ebuf[400], ix_why[sizeof(s->ix_why)];
	int got;

	if (r->body.len == 0)
		return reply_err(s, r, HTTP_BAD_REQUEST, "malformed JSON",
		    "the body is empty; send a JSON object such as {\"abstract\":\"...\",\"k\":5}");
	if ((root = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return reply_err(s, r, HTTP_BAD_REQUEST, "malformed JSON", "line %d column %d: %s",
		    je.line, je.column, je.text);
	if (!json_is_object(root)) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "the body must be a JSON object such as {\"abstract\":\"...\",\"k\":5}");
		goto done;
	}
	abs = json_object_get(root, "abstract");
	id = json_object_get(root, "id");
	kj = json_object_get(root, "k");
	fj = json_object_get(root, "field");
	if (abs && id) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "give either \"abstract\" or \"id\", not both");
		goto done;
	}
	if (kj && !json_is_null(kj)) {
		if (!json_is_integer(kj) || json_integer_value(kj) < 1 ||
		    json_integer_value(kj) > SIMILAR_MAX_K) {
			ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
			    "\"k\" must be an integer between 1 and %d", SIMILAR_MAX_K);
			goto done;
		}
		k = (size_t)json_integer_value(kj);
	}
	if (fj && !json_is_null(fj) && !json_is_string(fj)) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request", "\"field\" must be a string");
		goto done;
	}
	if (id) {
		if (!json_is_string(id) || json_string_length(id) == 0) {
			ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
			    "\"id\" must be a non-empty string");
			goto done;
		}
	} else if (abs == NULL && json_object_get(root, "text") == NULL) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "\"abstract\" (or \"id\") is required");
		goto done;
	} else if (arxiv_record_text((const struct json_t *)root, &text, &err) < 0) {
		/* the record's text by the rule of predict and eval */
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request", "%s", err.text);
		goto done;
	}
	if ((ix = ixref_get(s)) == NULL) {
		pthread_mutex_lock(&s->lock);
		memcpy(ix_why, s->ix_why, sizeof(ix_why));
		pthread_mutex_unlock(&s->lock);
		ret = reply_err(s, r, HTTP_SERVICE_UNAVAILABLE, "no index", "%s", s->ix_loc ? ix_why :
		    "no similar-paper index is configured; start arxiv-serve with -i FILE (arxiv-index -o) "
		    "or -d DSN");
		goto done;
	}
	if ((q = calloc(ix->info.dim ? ix->info.dim : 1, sizeof(float))) == NULL)
		goto oom;
	if (id) {
		if ((got = arxiv_index_get(ix->ix, json_string_value(id), q, NULL, &err)) < 0)
			goto unavailable;
		if (got == 0) {
			ret = reply_err(s, r, HTTP_NOT_FOUND, "not found", "paper %s is not in the index",
			    json_string_value(id));
			goto done;
		}
	} else {
		const char *t = text.data ? text.data : "";

		if (ix->emb == NULL) {
			ret = reply_err(s, r, HTTP_SERVICE_UNAVAILABLE, "no embedder", "%s", ix->emb_why);
			goto done;
		}
		if (arxiv_embedder_embed(ix->emb, &t, &text.len, 1, q, &err) < 0)
			goto failed;
	}
	if (arxiv_index_search(ix->ix, q, k, json_is_string(fj) ? json_string_value(fj) : NULL,
	    id ? json_string_value(id) : NULL, hits, &n, &err) < 0)
		goto unavailable;
	if (arxiv_buf_append(&out, "{\"similar\":[", 12) < 0)
		goto oom;
	for (i = 0; i < n; i++) {
		double sc = hits[i].score > 1 ? 1 : hits[i].score < -1 ? -1 : hits[i].score;

		if ((i && arxiv_buf_putc(&out, ',') < 0) || arxiv_buf_append(&out, "{\"id\":\"", 7) < 0 ||
		    arxiv_json_escape(hits[i].id, strlen(hits[i].id), &out) < 0 ||
		    arxiv_buf_append(&out, "\",\"title\":\"", 11) < 0 ||
		    arxiv_json_escape(hits[i].title, hits[i].title_len, &out) < 0 ||
		    arxiv_buf_append(&out, "\",\"field\":\"", 11) < 0 ||
		    arxiv_json_escape(hits[i].field, strlen(hits[i].field), &out) < 0 ||
		    arxiv_buf_printf(&out, "\",\"score\":%.4f}", sc) < 0)
			goto oom;
	}
	if (arxiv_buf_append(&out, "]}\n", 3) < 0)
		goto oom;
	ret = reply(s, r, HTTP_OK, out.data, "application/json", NULL);
	out.data = NULL;
	goto done;
unavailable:
	/* the index did not answer (a database that is down or restarting): the
	 * client may retry; the backend reconnects on a later request */
	arxiv_error_str(&err, ebuf, sizeof(ebuf));
	warnx("similar-paper index unavailable: %s", ebuf);
	ret = reply_err(s, r, HTTP_SERVICE_UNAVAILABLE, "index unavailable", "%s", ebuf);
	goto done;
failed:
	arxiv_error_str(&err, ebuf, sizeof(ebuf));
	warnx("similar-paper search failed: %s", ebuf);
	ret = reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "search failed", "%s", ebuf);
	goto done;
oom:
	ret = reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "internal error", "out of memory");
done:
	arxiv_hits_free(hits, n);
	ixref_put(ix);
	free(q);
	arxiv_buf_free(&text);
	arxiv_buf_free(&out);
	json_decref(root);
	return ret;
}

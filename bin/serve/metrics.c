/*
 * arxiv-serve's health and metrics (see serve.h): /healthz, /readyz (a real
 * prediction through the loaded model, and the index when one is configured),
 * /api/labels/, the Prometheus text of /metrics, and app_done(), which counts
 * every finished request (status, latency histogram) and writes its access-log
 * line.
 */
#include "serve.h"

/* Status codes counted in /metrics; the last slot is "aborted" (no response). */
static const unsigned status_code[] = { 200, 204, 400, 404, 405, 408, 413, 414, 415, 431, 500, 503, 505 };
_Static_assert(sizeof(status_code) / sizeof(status_code[0]) == NSTATUS_CODES,
    "NSTATUS_CODES in serve.h counts status_code[]");

static const double bucket_le[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
_Static_assert(sizeof(bucket_le) / sizeof(bucket_le[0]) == NBUCKETS,
    "NBUCKETS in serve.h counts bucket_le[]");

int
get_healthz(struct server *s, struct req *r)
{
	return reply_json(s, r, HTTP_OK, strdup("{\"status\":\"ok\"}\n"));
}

static int
get_model_json(struct server *s, struct req *r, int ready)
{
	struct model_ref *m;
	char *body;

	if ((m = ref_get(s)) == NULL)
		return reply_503(s, r, ready);
	if (ready) {
		struct arxiv_error pe = { "", 0, "" };

		/* ready only if the loaded model really predicts (issue 10 point 6) */
		if (probe(m->m, &pe) < 0) {
			ref_put(m);
			return reply_json(s, r, HTTP_SERVICE_UNAVAILABLE,
			    dump_line(json_pack("{s:b,s:s,s:s}", "ready", 0, "error",
			    "the model cannot predict", "detail", pe.text)));
		}
	}
	body = strdup(ready ? m->ready_json : m->labels_json);
	ref_put(m);
	return reply_json(s, r, HTTP_OK, body);
}

/* /readyz: the model's readiness, and the index (kind, size, embedder) when one is configured. */
int
get_readyz(struct server *s, struct req *r)
{
	struct model_ref *m;
	struct index_ref *ix;
	json_t *j, *o;
	char why[sizeof(s->ix_why)];

	if (s->ix_loc == NULL)
		return get_model_json(s, r, 1);
	if ((m = ref_get(s)) == NULL)
		return reply_503(s, r, 1);
	{
		struct arxiv_error pe = { "", 0, "" };

		if (probe(m->m, &pe) < 0) {	/* as get_model_json: ready only if it predicts */
			ref_put(m);
			return get_model_json(s, r, 1);
		}
	}
	j = json_loads(m->ready_json, 0, NULL);
	ref_put(m);
	if ((ix = ixref_get(s)) != NULL)
		o = json_copy(ix->ready);
	else {
		pthread_mutex_lock(&s->lock);
		memcpy(why, s->ix_why, sizeof(why));
		pthread_mutex_unlock(&s->lock);
		o = json_pack("{s:s,s:s}", "location", s->ix_loc, "error", why);
	}
	ixref_put(ix);
	if (j == NULL || o == NULL || json_object_set_new(j, "index", o) < 0) {
		json_decref(j);
		return reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "internal error", "out of memory");
	}
	return reply_json(s, r, HTTP_OK, dump_line(j));
}

int
get_labels(struct server *s, struct req *r)
{
	return get_model_json(s, r, 0);
}

static void
prom_escape(struct arxiv_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			arxiv_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			arxiv_buf_append(b, "\\n", 2);
		else
			arxiv_buf_putc(b, *v);
	}
}

int
reply_metrics(struct server *s, struct req *r)
{
	struct arxiv_buf b = { 0 };
	struct model_ref *m;
	size_t i, j, n;

	arxiv_buf_printf(&b, "# HELP arxiv_http_requests_total HTTP requests by path and status "
	    "(status \"aborted\": the connection ended before a response).\n"
	    "# TYPE arxiv_http_requests_total counter\n");
	for (i = 0; i < NROUTES; i++)
		for (j = 0; j < NSTATUS; j++) {
			unsigned long v = atomic_load(&s->requests[i][j]);

			if (v == 0)
				continue;
			if (j + 1 < NSTATUS)
				arxiv_buf_printf(&b, "arxiv_http_requests_total{path=\"%s\",status=\"%u\"} %lu\n",
				    route_name(i), status_code[j], v);
			else
				arxiv_buf_printf(&b, "arxiv_http_requests_total{path=\"%s\",status=\"aborted\"} %lu\n",
				    route_name(i), v);
		}
	arxiv_buf_printf(&b, "# HELP arxiv_http_request_duration_seconds Time from the request headers "
	    "to the end of the response.\n# TYPE arxiv_http_request_duration_seconds histogram\n");
	for (i = 0; i < NROUTES; i++) {
		unsigned long cum = 0, total = 0;

		for (j = 0; j <= NBUCKETS; j++)
			total += atomic_load(&s->hist[i][j]);
		if (total == 0)
			continue;
		for (j = 0; j < NBUCKETS; j++) {
			cum += atomic_load(&s->hist[i][j]);
			arxiv_buf_printf(&b, "arxiv_http_request_duration_seconds_bucket{path=\"%s\",le=\"%g\"} %lu\n",
			    route_name(i), bucket_le[j], cum);
		}
		arxiv_buf_printf(&b, "arxiv_http_request_duration_seconds_bucket{path=\"%s\",le=\"+Inf\"} %lu\n"
		    "arxiv_http_request_duration_seconds_sum{path=\"%s\"} %.9f\n"
		    "arxiv_http_request_duration_seconds_count{path=\"%s\"} %lu\n",
		    route_name(i), total, route_name(i), (double)atomic_load(&s->lat_ns[i]) / 1e9,
		    route_name(i), total);
	}
	arxiv_buf_printf(&b, "# HELP arxiv_predictions_total Predictions by predicted label (top 1).\n"
	    "# TYPE arxiv_predictions_total counter\n");
	n = atomic_load(&s->nslots);
	for (i = 0; i < n; i++) {
		arxiv_buf_printf(&b, "arxiv_predictions_total{label=\"");
		prom_escape(&b, s->slots[i].name);
		arxiv_buf_printf(&b, "\"} %lu\n", atomic_load(&s->slots[i].n));
	}
	m = ref_get(s);
	arxiv_buf_printf(&b, "# HELP arxiv_model_loaded 1 when a model is loaded and predictions are answered.\n"
	    "# TYPE arxiv_model_loaded gauge\narxiv_model_loaded %d\n", m != NULL);
	arxiv_buf_printf(&b, "# HELP arxiv_model_load_seconds Time the current model took to load.\n"
	    "# TYPE arxiv_model_load_seconds gauge\narxiv_model_load_seconds %.6f\n",
	    m ? m->load_seconds : 0.0);
	if (m) {
		arxiv_buf_printf(&b, "# HELP arxiv_model_info The loaded model.\n# TYPE arxiv_model_info gauge\n"
		    "arxiv_model_info{model_type=\"");
		prom_escape(&b, arxiv_model_type(m->m));
		arxiv_buf_printf(&b, "\",artifact_version=\"%d\",labels=\"%zu\"} 1\n",
		    arxiv_model_version(m->m), m->nlabels);
	}
	ref_put(m);
	arxiv_buf_printf(&b, "# HELP arxiv_model_loads_total Model loads (start and SIGHUP) by result.\n"
	    "# TYPE arxiv_model_loads_total counter\n"
	    "arxiv_model_loads_total{result=\"ok\"} %lu\narxiv_model_loads_total{result=\"error\"} %lu\n",
	    atomic_load(&s->reload_ok), atomic_load(&s->reload_fail));
	arxiv_buf_printf(&b, "# HELP arxiv_http_requests_in_flight Requests being answered.\n"
	    "# TYPE arxiv_http_requests_in_flight gauge\narxiv_http_requests_in_flight %ld\n",
	    atomic_load(&s->inflight));
	if (b.data == NULL)
		return -1;
	return reply(s, r, HTTP_OK, b.data, "text/plain; version=0.0.4; charset=utf-8", NULL);
}

void
app_done(void *ud, struct httpd_req *hr, unsigned status, const char *why)
{
	struct server *s = ud;
	struct req *r = hr->data, other;
	double dt;
	size_t si, b;

	if (r == NULL) {
		/* refused by the server before the routes (malformed, not HTTP) */
		memset(&other, 0, sizeof(other));
		clock_gettime(CLOCK_MONOTONIC, &other.t0);
		other.route = R_OTHER;
		copy_clean(other.method, sizeof(other.method), hr->method ? hr->method : "-");
		copy_clean(other.path, sizeof(other.path), hr->method && hr->path ? hr->path : "-");
		r = &other;
	}
	hr->data = NULL;
	r->status = status;
	dt = elapsed(&r->t0);
	for (si = 0; si + 1 < NSTATUS && (r->status == 0 || status_code[si] != r->status); si++)
		;
	if (r->status == 0 || why != NULL)
		si = NSTATUS - 1;
	for (b = 0; b < NBUCKETS && dt > bucket_le[b]; b++)
		;
	atomic_fetch_add(&s->requests[r->route][si], 1);
	atomic_fetch_add(&s->hist[r->route][b], 1);
	atomic_fetch_add(&s->lat_ns[r->route], (unsigned long)(dt * 1e9));
	if (!s->quiet) {
		if (why == NULL)
			fprintf(stderr, "%s %s %u %.3fms\n", r->method, r->path, r->status, dt * 1e3);
		else
			fprintf(stderr, "%s %s %u %.3fms %s\n", r->method, r->path, r->status, dt * 1e3, why);
	}
	if (r != &other) {
		free(r);
		atomic_fetch_sub(&s->inflight, 1);
	}
}

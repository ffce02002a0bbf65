/*
 * arxiv-serve's model and similar-paper index (see serve.h): each behind a
 * reference-counted pointer that a request holds while it uses it. load_model()
 * and load_index() run at start and on SIGHUP: a load that works is swapped in
 * under the lock (the old one freed when its last request lets go), a failed
 * one keeps what is there.
 */
#include "serve.h"

/* ------------------------------------------------------------------ model */

struct model_ref *
ref_get(struct server *s)
{
	struct model_ref *r;

	pthread_mutex_lock(&s->lock);
	if ((r = s->cur) != NULL)
		atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&s->lock);
	return r;
}

void
ref_put(struct model_ref *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	arxiv_model_free(r->m);
	free(r->slot);
	free(r->labels_json);
	free(r->ready_json);
	free(r);
}

/* The metrics slot of a label name, added on first sight. */
static size_t
slot_of(struct server *s, const char *name)
{
	size_t i, n;

	pthread_mutex_lock(&s->slot_lock);
	n = atomic_load(&s->nslots);
	for (i = 0; i < n; i++)
		if (strcmp(s->slots[i].name, name) == 0)
			break;
	if (i == n && n < MAX_SLOTS && (s->slots[n].name = strdup(name)) != NULL)
		atomic_store(&s->nslots, n + 1);
	pthread_mutex_unlock(&s->slot_lock);
	return i < MAX_SLOTS && s->slots[i].name ? i : MAX_SLOTS;
}

/*
 * Readiness: one real prediction through the loaded model (its preprocessing,
 * its data files, its weights). 0, or -1 with the reason in err.
 */
int
probe(const struct arxiv_model *m, struct arxiv_error *err)
{
	static const char text[] = "Readiness probe: we prove a bound on the spectral gap "
	    "of a neural network trained on galaxy images.";
	const char *t = text;
	size_t len = sizeof(text) - 1;
	struct arxiv_prediction pred;

	if (arxiv_model_predict(m, &t, &len, 1, 1, &pred, err) < 0)
		return -1;
	if (pred.k < 1 || !(pred.score[0] >= 0 && pred.score[0] <= 1)) {
		arxiv_error_set(err, "", 0, "the probe prediction has no valid score");
		return -1;
	}
	return 0;
}

static struct model_ref *
ref_new(struct server *s, struct arxiv_model *m, double secs, struct arxiv_error *err)
{
	struct model_ref *r;
	json_t *labels, *ready;
	size_t i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto oom;
	atomic_init(&r->refs, 1);
	r->m = m;
	r->load_seconds = secs;
	r->nlabels = arxiv_model_nlabels(m);
	if (r->nlabels == 0) {
		arxiv_error_set(err, s->dir, 0, "the model has no labels");
		goto fail;
	}
	if ((r->slot = calloc(r->nlabels, sizeof(*r->slot))) == NULL || (labels = json_array()) == NULL)
		goto oom;
	for (i = 0; i < r->nlabels; i++) {
		const char *l = arxiv_model_label(m, i);

		if (l == NULL || json_array_append_new(labels, json_string(l)) < 0) {
			json_decref(labels);
			arxiv_error_set(err, s->dir, 0, "label %zu is missing or not UTF-8", i);
			goto fail;
		}
		r->slot[i] = slot_of(s, l);
	}
	if (probe(m, err) < 0) {
		char why[sizeof(err->text)];

		json_decref(labels);
		snprintf(why, sizeof(why), "%s", err->text);
		arxiv_error_set(err, "", 0, "the model cannot predict: %s", why);
		goto fail;
	}
	ready = json_pack("{s:b,s:s,s:i,s:O}", "ready", 1, "model_type", arxiv_model_type(m),
	    "artifact_version", arxiv_model_version(m), "labels", labels);
	r->ready_json = dump_line(ready);
	r->labels_json = dump_line(json_pack("{s:o}", "labels", labels));
	if (r->ready_json == NULL || r->labels_json == NULL)
		goto oom;
	return r;
oom:
	arxiv_error_set(err, s->dir, 0, "out of memory");
fail:
	if (r) {
		r->m = NULL;
		ref_put(r);
	}
	return NULL;
}

/* Load the artifacts; on success swap them in, else keep what is there. */
void
load_model(struct server *s)
{
	struct arxiv_model_opts o = arxiv_model_default_opts();
	struct arxiv_error err = { "", 0, "" };
	struct model_ref *r = NULL, *old;
	struct arxiv_model *m;
	struct timespec t0;
	char ebuf[400];
	double secs;
	int had;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((m = arxiv_model_load(s->dir, &o, &err)) != NULL &&
	    (r = ref_new(s, m, elapsed(&t0), &err)) == NULL)
		arxiv_model_free(m);
	secs = elapsed(&t0);
	pthread_mutex_lock(&s->lock);
	had = s->cur != NULL;
	if (r == NULL) {
		arxiv_error_str(&err, ebuf, sizeof(ebuf));
		if (!had)
			snprintf(s->why, sizeof(s->why),
			    "no usable artifacts in %s: %s; train a model and send SIGHUP", s->dir, ebuf);
		pthread_mutex_unlock(&s->lock);
		atomic_fetch_add(&s->reload_fail, 1);
		if (had)
			warnx("reload failed, keeping the current model: %s", ebuf);
		else
			warnx("%s", s->why);
		return;
	}
	old = s->cur;
	s->cur = r;
	s->why[0] = '\0';
	pthread_mutex_unlock(&s->lock);
	ref_put(old);
	atomic_fetch_add(&s->reload_ok, 1);
	warnx("%s %s model (artifact version %d, %zu labels) from %s in %.3f s",
	    had ? "reloaded" : "loaded", arxiv_model_type(m), arxiv_model_version(m), r->nlabels,
	    s->dir, secs);
}

/* ------------------------------------------------------------------ index */

struct index_ref *
ixref_get(struct server *s)
{
	struct index_ref *r;

	pthread_mutex_lock(&s->lock);
	if ((r = s->ixcur) != NULL)
		atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&s->lock);
	return r;
}

void
ixref_put(struct index_ref *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	arxiv_index_free(r->ix);
	arxiv_embedder_free(r->emb);
	json_decref(r->ready);
	free(r);
}

/* Open the index (-i/-d) and its embedder; on success swap them in, else keep
 * what is there. The embedder is optional: without it, queries by id work. */
void
load_index(struct server *s)
{
	struct arxiv_index_opts o = arxiv_index_default_opts();
	struct arxiv_error err = { "", 0, "" };
	struct index_ref *r, *old;
	const char *edir;
	char ebuf[400];

	if (s->ix_loc == NULL)
		return;
	o.kind = s->ix_kind;
	o.threads = 2;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return;
	atomic_init(&r->refs, 1);
	if ((r->ix = arxiv_index_open(s->ix_loc, &o, &err)) == NULL) {
		arxiv_error_str(&err, ebuf, sizeof(ebuf));
		pthread_mutex_lock(&s->lock);
		if (s->ixcur == NULL)
			snprintf(s->ix_why, sizeof(s->ix_why), "cannot open the index: %s", ebuf);
		pthread_mutex_unlock(&s->lock);
		warnx("%s%s", ebuf, s->ixcur ? " (keeping the index already open)" : "");
		free(r);
		return;
	}
	arxiv_index_info(r->ix, &r->info);
	edir = s->edir ? s->edir : r->info.embedder_dir;
	if (edir == NULL || *edir == '\0')
		snprintf(r->emb_why, sizeof(r->emb_why), "the index records no embedder directory; "
		    "start arxiv-serve with -e DIR to answer abstracts");
	else if ((r->emb = arxiv_embedder_load_for(edir, r->info.embedder, NULL, &err)) == NULL)
		snprintf(r->emb_why, sizeof(r->emb_why), "cannot load the embedder: %s",
		    arxiv_error_str(&err, ebuf, sizeof(ebuf)));
	if (r->emb == NULL)
		warnx("%s: answering queries by id only: %s", s->ix_loc, r->emb_why);
	r->ready = json_pack("{s:s,s:s,s:I,s:s,s:I,s:b}", "kind", r->info.kind, "location",
	    r->info.location, "size", (json_int_t)r->info.size, "embedder", r->info.embedder,
	    "dim", (json_int_t)r->info.dim, "text_queries", r->emb != NULL);
	pthread_mutex_lock(&s->lock);
	old = s->ixcur;
	s->ixcur = r;
	s->ix_why[0] = '\0';
	pthread_mutex_unlock(&s->lock);
	ixref_put(old);
	warnx("%s %s index %s: %llu papers, %zu dimensions, embedder %s", old ? "reopened" : "opened",
	    r->info.kind, r->info.location, (unsigned long long)r->info.size, r->info.dim,
	    r->info.embedder);
}

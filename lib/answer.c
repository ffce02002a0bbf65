/*
 * answer.c - arxiv_model_answer: a prediction with its fields list, the
 * decision to abstain (out of domain, or not confident enough) and, for the
 * fast model over cleaned text, an explanation (explain.c). The thresholds
 * come from the artifacts (decision.c).
 *
 * The fast text model is answered here from its features: the text is cleaned
 * with the model's stored preprocessing by a cleaner kept per thread (keyed by
 * the preprocessing signature), so the domain check and the explanation see
 * the same cleaned words as the classifier; every other model goes through
 * arxiv_model_predict with all labels.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"

struct arxiv_answer_opts
arxiv_answer_default_opts(void)
{
	struct arxiv_answer_opts o = { 3, 0, 0.0, -1.0 };

	return o;
}

/* ------------------------------------------------- per-thread state */

struct tstate {
	char sig[512];
	struct arxiv_cleaner *cl;
	struct arxiv_buf clean;
	struct ft_feats f;
	float *probs;
	size_t probs_cap;
};

static pthread_key_t ts_key;
static pthread_once_t ts_once = PTHREAD_ONCE_INIT;

static void
ts_free(void *p)
{
	struct tstate *t = p;

	if (t == NULL)
		return;
	arxiv_cleaner_free(t->cl);
	arxiv_buf_free(&t->clean);
	free(t->f.v);
	free(t->probs);
	free(t);
}

static void
ts_init(void)
{
	pthread_key_create(&ts_key, ts_free);
}

static struct tstate *
ts_get(const struct arxiv_clean_params *cp, size_t nfloats, struct arxiv_error *err)
{
	struct tstate *t;
	struct arxiv_buf sig = {0};

	pthread_once(&ts_once, ts_init);
	if ((t = pthread_getspecific(ts_key)) == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL || pthread_setspecific(ts_key, t) != 0) {
			free(t);
			goto nomem;
		}
	}
	if (t->probs_cap < nfloats) {
		float *p = realloc(t->probs, nfloats * sizeof(float));
		if (p == NULL)
			goto nomem;
		t->probs = p;
		t->probs_cap = nfloats;
	}
	if (cp) {
		if (arxiv_clean_params_str(cp, &sig) < 0)
			goto nomem;
		/* the stop-word path is not in the signature of the default list */
		if (cp->stopwords)
			arxiv_buf_printf(&sig, " path=%s", cp->stopwords);
		if (t->cl == NULL || sig.len >= sizeof(t->sig) || strcmp(sig.data, t->sig) != 0) {
			arxiv_cleaner_free(t->cl);
			t->sig[0] = '\0';
			if ((t->cl = arxiv_cleaner_new(cp, err)) == NULL) {
				arxiv_buf_free(&sig);
				return NULL;
			}
			if (sig.len < sizeof(t->sig))
				memcpy(t->sig, sig.data, sig.len + 1);
		}
		arxiv_buf_free(&sig);
	}
	return t;
nomem:
	arxiv_buf_free(&sig);
	arxiv_error_set(err, "", 0, "out of memory");
	return NULL;
}

/* ----------------------------------------------------------- answer */

/* The domain check's counts and P(in domain) of a raw text, when the model has one. */
static void
domain(const struct dec *d, const char *raw, size_t len, struct arxiv_answer *a)
{
	struct dec_counts c;

	a->in_domain = -1;
	if (d == NULL || !d->have_domain)
		return;
	dec_count(d, raw, len, &c);
	a->words = c.words;
	a->known_words = c.known_words;
	a->pairs = c.pairs;
	a->known_pairs = c.known_pairs;
	a->in_domain = dec_in_domain(d, &c);
}

static void
decide(const struct arxiv_model *m, const struct arxiv_answer_opts *o, size_t k,
    struct arxiv_answer *a)
{
	const struct dec *d = model_dec(m);
	double thr = o->ood_threshold, ft = d ? d->fields_threshold : DEC_DEFAULT_FIELDS_THRESHOLD;
	size_t j;

	a->fields = 0;
	for (j = 0; j < a->p.k; j++)
		if (a->p.label[j] >= 0 && a->p.label[j] < 64 &&
		    (j == 0 || a->p.score[j] >= ft))
			a->fields |= (uint64_t)1 << a->p.label[j];
	a->abstained = 0;
	a->reason[0] = '\0';
	if (thr < 0)
		thr = d && d->have_domain ? d->ood_threshold : 0;
	if (thr > 0 && a->in_domain >= 0 && a->in_domain < thr) {
		a->abstained = 1;
		if (a->words == 0)
			snprintf(a->reason, sizeof(a->reason), "out of domain: no words the model "
			    "uses");
		else if (2 * a->known_words < a->words || a->pairs == 0)
			snprintf(a->reason, sizeof(a->reason), "out of domain: %zu of %zu words known "
			    "to the model", a->known_words, a->words);
		else
			snprintf(a->reason, sizeof(a->reason), "out of domain: %zu of %zu words but "
			    "only %zu of %zu word pairs known to the model", a->known_words,
			    a->words, a->known_pairs, a->pairs);
	} else if (o->min_confidence > 0 && a->p.k > 0 && a->p.score[0] < o->min_confidence) {
		a->abstained = 1;
		snprintf(a->reason, sizeof(a->reason), "not confident: top probability %.4f is "
		    "below %.4f", (double)a->p.score[0], o->min_confidence);
	}
	if (a->abstained) {
		a->fields = 0;
		a->n_terms = 0;
	}
	if (a->p.k > k)
		a->p.k = k;
}

int
arxiv_model_answer(const struct arxiv_model *m, const char *const *texts, const size_t *lens,
    size_t n, const struct arxiv_answer_opts *o0, struct arxiv_answer *out,
    struct arxiv_error *err)
{
	struct arxiv_answer_opts o = o0 ? *o0 : arxiv_answer_default_opts();
	const struct ft_model *ft = model_ft(m);
	const struct dec *d = model_dec(m);
	size_t nl = arxiv_model_nlabels(m), k = o.k, i;

	if (k > nl)
		k = nl;
	if (k > ARXIV_TOPK_MAX)
		k = ARXIV_TOPK_MAX;
	if (k == 0)
		k = 1;
	if (o.explain > ARXIV_EXPLAIN_MAX)
		o.explain = ARXIV_EXPLAIN_MAX;
	if (!model_text_input(m)) {
		struct arxiv_prediction *p = malloc((n ? n : 1) * sizeof(*p));
		if (p == NULL) {
			arxiv_error_set(err, "", 0, "out of memory");
			return -1;
		}
		if (arxiv_model_predict(m, texts, lens, n, nl, p, err) < 0) {
			free(p);
			return -1;
		}
		for (i = 0; i < n; i++) {
			struct arxiv_answer *a = &out[i];
			size_t len = lens ? lens[i] : strlen(texts[i]);
			memset(a, 0, offsetof(struct arxiv_answer, terms));
			a->p = p[i];
			domain(d, texts[i], len, a);
			decide(m, &o, nl, a);
			if (o.explain > 0 && !a->abstained && a->p.k >= 2 && model_bert(m) &&
			    bert_explain(model_bert(m), texts[i], len, a->p.label[0], a->p.label[1],
			    o.explain, a->terms, &a->n_terms, err) < 0) {
				if (err)
					err->line = (long)i + 1;
				free(p);
				return -1;
			}
			if (a->p.k > k)
				a->p.k = k;
		}
		free(p);
		return 0;
	}
	{
		const struct arxiv_clean_params *cp = model_clean_params(m);
		struct tstate *t = ts_get(cp, (size_t)ft->c.n_labels + (size_t)ft->c.dim + 1, err);
		if (t == NULL)
			return -1;
		for (i = 0; i < n; i++) {
			struct arxiv_answer *a = &out[i];
			size_t len = lens ? lens[i] : strlen(texts[i]), cl;
			const char *s = texts[i];
			memset(a, 0, offsetof(struct arxiv_answer, terms));
			if (cp) {
				if (arxiv_clean_text(t->cl, texts[i], len, &t->clean, err) < 0) {
					if (err)
						err->line = (long)i + 1;
					return -1;
				}
				s = t->clean.data ? t->clean.data : "";
				cl = t->clean.len;
			} else
				cl = len;
			if (ft_feats_text(&ft->c, s, cl, &t->f) < 0) {
				arxiv_error_set(err, "", (long)i + 1, "out of memory");
				return -1;
			}
			ft_probs(ft, &t->f, t->probs + ft->c.n_labels, t->probs);
			ft_topk(t->probs, ft->c.n_labels, (size_t)ft->c.n_labels, &a->p);
			domain(d, texts[i], len, a);
			decide(m, &o, (size_t)ft->c.n_labels, a);
			if (o.explain > 0 && !a->abstained && a->p.k >= 2 &&
			    explain_fast(ft, &t->f, a->p.label[0], a->p.label[1], s, cl, texts[i], len,
			    t->cl, o.explain, a) < 0) {
				arxiv_error_set(err, "", (long)i + 1, "out of memory");
				return -1;
			}
			if (a->p.k > k)
				a->p.k = k;
		}
	}
	return 0;
}

double
arxiv_model_fields_threshold(const struct arxiv_model *m)
{
	const struct dec *d = model_dec(m);

	return d ? d->fields_threshold : DEC_DEFAULT_FIELDS_THRESHOLD;
}

double
arxiv_model_ood_threshold(const struct arxiv_model *m)
{
	const struct dec *d = model_dec(m);

	return d && d->have_domain ? d->ood_threshold : -1;
}

/* ------------------------------------------------------------- JSON */

static int
put_str(struct arxiv_buf *b, const char *s)
{
	int rc = arxiv_buf_putc(b, '"');

	rc |= arxiv_json_escape(s, strlen(s), b);
	rc |= arxiv_buf_putc(b, '"');
	return rc;
}

/* A finite number for JSON. */
static double
fin(double x)
{
	return isfinite(x) ? x : 0;
}

int
arxiv_answer_json(const struct arxiv_model *m, const struct arxiv_answer *a,
    struct arxiv_buf *out)
{
	size_t i, nl = arxiv_model_nlabels(m);
	int rc = 0, first = 1;

	arxiv_buf_clear(out);
	if (a->p.k == 0 || a->p.k > ARXIV_TOPK_MAX)
		return -1;
	for (i = 0; i < a->p.k; i++)
		if (a->p.label[i] < 0 || (size_t)a->p.label[i] >= nl)
			return -1;
	rc |= arxiv_buf_printf(out, "{\"predicted_category\":");
	if (a->abstained) {
		rc |= arxiv_buf_printf(out, "\"Other\",\"confidence\":0.0,\"abstained\":true,"
		    "\"reason\":");
		rc |= put_str(out, a->reason);
	} else {
		rc |= put_str(out, arxiv_model_label(m, (size_t)a->p.label[0]));
		rc |= arxiv_buf_printf(out, ",\"confidence\":%.4f", fin(a->p.score[0]));
	}
	rc |= arxiv_buf_printf(out, ",\"fields\":[");
	/* the primary first, then by probability: the order of the full ranking */
	for (i = 0; i < a->p.k; i++)
		if (a->fields >> a->p.label[i] & 1) {
			rc |= arxiv_buf_printf(out, "%s", first ? "" : ",");
			rc |= put_str(out, arxiv_model_label(m, (size_t)a->p.label[i]));
			first = 0;
		}
	for (i = 0; i < nl && i < 64; i++) {	/* listed fields beyond the top k */
		size_t j;
		int shown = 0;
		if (!(a->fields >> i & 1))
			continue;
		for (j = 0; j < a->p.k; j++)
			shown |= (size_t)a->p.label[j] == i;
		if (!shown) {
			rc |= arxiv_buf_printf(out, "%s", first ? "" : ",");
			rc |= put_str(out, arxiv_model_label(m, i));
			first = 0;
		}
	}
	rc |= arxiv_buf_printf(out, "],\"top_k\":[");
	for (i = 0; i < a->p.k; i++) {
		rc |= arxiv_buf_printf(out, "%s{\"label\":", i ? "," : "");
		rc |= put_str(out, arxiv_model_label(m, (size_t)a->p.label[i]));
		rc |= arxiv_buf_printf(out, ",\"score\":%.4f}", fin(a->p.score[i]));
	}
	rc |= arxiv_buf_putc(out, ']');
	if (a->n_terms > 0) {
		rc |= arxiv_buf_printf(out, ",\"explanation\":[");
		for (i = 0; i < a->n_terms && i < ARXIV_EXPLAIN_MAX; i++) {
			rc |= arxiv_buf_printf(out, "%s{\"term\":", i ? "," : "");
			rc |= put_str(out, a->terms[i].term);
			rc |= arxiv_buf_printf(out, ",\"weight\":%.4f}", fin(a->terms[i].weight));
		}
		rc |= arxiv_buf_putc(out, ']');
	}
	rc |= arxiv_buf_putc(out, '}');
	return rc ? -1 : 0;
}

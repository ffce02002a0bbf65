/*
 * metrics.c - classification metrics over a stream of predictions (arxiv-eval).
 *
 * Everything is derived from counts kept per group (all papers, single-field
 * papers, cross-listed papers): a confusion matrix (rows = true label, columns
 * = predicted label), the number of field-set hits, top-k hits and 15
 * equal-width confidence bins for the expected calibration error.
 *
 * Conventions follow scikit-learn: a precision, recall or F1 whose denominator
 * is zero is 0 (zero_division=0); F1 = 2 tp / (2 tp + fp + fn); weighted
 * averages weigh each label by its support; macro averages run over the labels
 * that occur in the truth or the predictions of the group (sklearn's default
 * labels=None), while per_class and the confusion matrix list every label.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"

#define ECE_BINS 15

enum { G_ALL, G_SINGLE, G_CROSS, G_N };

struct group {
	size_t n, correct, field_hit;
	size_t *conf;		/* n_labels * n_labels, row = truth */
	/* the predicted field set against the paper's: sums over papers */
	double set_p, set_r, set_f;
	size_t set_exact, abstained;
};

/* one paper for selective accuracy: its confidence and whether it was right */
struct sel {
	float conf;
	unsigned char hit;
};

struct arxiv_metrics {
	size_t n_labels;
	char **labels;
	struct group g[G_N];
	size_t min_k;		/* smallest k seen (top-k accuracy is reported up to it) */
	size_t topk_hit[ARXIV_TOPK_MAX];	/* truth within the first i+1 */
	size_t bin_n[ECE_BINS];
	double bin_conf[ECE_BINS], bin_hit[ECE_BINS];
	struct sel *sel;	/* g[G_ALL].n entries */
	size_t sel_cap;
};

struct arxiv_metrics *
arxiv_metrics_new(size_t n_labels, const char *const *labels)
{
	struct arxiv_metrics *m;
	size_t i;

	if (n_labels == 0 || labels == NULL || n_labels > SIZE_MAX / n_labels / sizeof(size_t))
		return NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->n_labels = n_labels;
	if ((m->labels = calloc(n_labels, sizeof(char *))) == NULL)
		goto fail;
	for (i = 0; i < n_labels; i++)
		if ((m->labels[i] = strdup(labels[i] ? labels[i] : "")) == NULL)
			goto fail;
	for (i = 0; i < G_N; i++)
		if ((m->g[i].conf = calloc(n_labels * n_labels, sizeof(size_t))) == NULL)
			goto fail;
	m->min_k = ARXIV_TOPK_MAX;
	return m;
fail:
	arxiv_metrics_free(m);
	return NULL;
}

void
arxiv_metrics_free(struct arxiv_metrics *m)
{
	size_t i;

	if (m == NULL)
		return;
	if (m->labels)
		for (i = 0; i < m->n_labels; i++)
			free(m->labels[i]);
	free(m->labels);
	for (i = 0; i < G_N; i++)
		free(m->g[i].conf);
	free(m->sel);
	free(m);
}

/* Is label l in the field set (fields, plus the truth itself)? */
static int
in_fields(uint64_t fields, int truth, int l)
{
	return l == truth || (l >= 0 && l < 64 && (fields >> l & 1));
}

static int
popcount64(uint64_t x)
{
	int n = 0;

	for (; x; x &= x - 1)
		n++;
	return n;
}

static double
ratio_i(int a, int b)
{
	return b > 0 ? (double)a / (double)b : 0;
}

/*
 * The common part of arxiv_metrics_add and arxiv_metrics_add_answer: pred_set
 * is the predicted field set (bit per label), abstained whether the answer was
 * "none of these".
 */
static int
add(struct arxiv_metrics *m, int truth, const struct arxiv_prediction *p, uint64_t fields,
    uint64_t pred_set, int abstained)
{
	size_t i, k, nl = m->n_labels;
	int pred, hit, fhit, cross, b;
	double conf;
	struct group *gs[2];

	if (truth < 0 || (size_t)truth >= nl || p == NULL || p->k == 0 || p->k > ARXIV_TOPK_MAX)
		return -1;
	for (i = 0; i < p->k; i++)
		if (p->label[i] < 0 || (size_t)p->label[i] >= nl)
			return -1;
	if (m->g[G_ALL].n == m->sel_cap &&
	    arxiv_grow(&m->sel, &m->sel_cap, m->g[G_ALL].n + 1, sizeof(*m->sel), 1024) < 0)
		return -1;
	pred = p->label[0];
	hit = pred == truth;
	fhit = in_fields(fields, truth, pred);
	if (truth < 64)
		fields |= (uint64_t)1 << truth;
	cross = popcount64(fields) > 1;
	if (nl < 64)
		pred_set &= ((uint64_t)1 << nl) - 1;

	gs[0] = &m->g[G_ALL];
	gs[1] = &m->g[cross ? G_CROSS : G_SINGLE];
	for (i = 0; i < 2; i++) {
		gs[i]->n++;
		gs[i]->correct += (size_t)hit;
		gs[i]->field_hit += (size_t)fhit;
		gs[i]->conf[(size_t)truth * nl + (size_t)pred]++;
		{
			int sa = popcount64(pred_set & fields), sb = popcount64(pred_set),
			    sc = popcount64(fields);
			gs[i]->set_p += ratio_i(sa, sb);
			gs[i]->set_r += ratio_i(sa, sc);
			gs[i]->set_f += ratio_i(2 * sa, sb + sc);
			gs[i]->set_exact += (size_t)(pred_set == fields);
			gs[i]->abstained += (size_t)(abstained != 0);
		}
	}

	k = p->k < nl ? p->k : nl;
	if (k < m->min_k)
		m->min_k = k;
	for (i = 0; i < k; i++)
		if (p->label[i] == truth)
			break;
	for (; i < k; i++)
		m->topk_hit[i]++;

	/* bins (lo, hi] of width 1/15; a confidence of 0 goes to the first */
	conf = p->score[0];
	if (!(conf > 0))
		conf = 0;
	if (conf > 1)
		conf = 1;
	b = (int)(conf * ECE_BINS);
	if (b > 0 && (double)b == conf * ECE_BINS)
		b--;		/* exactly on an upper edge: the lower bin */
	if (b >= ECE_BINS)
		b = ECE_BINS - 1;
	m->bin_n[b]++;
	m->bin_conf[b] += conf;
	m->bin_hit[b] += hit;
	m->sel[m->g[G_ALL].n - 1].conf = (float)conf;
	m->sel[m->g[G_ALL].n - 1].hit = (unsigned char)hit;
	return 0;
}

int
arxiv_metrics_add(struct arxiv_metrics *m, int truth, const struct arxiv_prediction *p,
    uint64_t fields)
{
	uint64_t set = p && p->k > 0 && p->label[0] >= 0 && p->label[0] < 64 ?
	    (uint64_t)1 << p->label[0] : 0;

	return add(m, truth, p, fields, set, 0);
}

int
arxiv_metrics_add_answer(struct arxiv_metrics *m, int truth, const struct arxiv_answer *a,
    uint64_t fields)
{
	if (a == NULL)
		return -1;
	return add(m, truth, &a->p, fields, a->fields, a->abstained);
}

size_t
arxiv_metrics_count(const struct arxiv_metrics *m)
{
	return m->g[G_ALL].n;
}

static double
ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

struct prf {
	double p, r, f;
	size_t support, predicted;
};

static void
class_prf(const struct arxiv_metrics *m, const struct group *g, size_t c, struct prf *o)
{
	size_t i, nl = m->n_labels, tp = g->conf[c * nl + c];

	o->support = o->predicted = 0;
	for (i = 0; i < nl; i++) {
		o->support += g->conf[c * nl + i];
		o->predicted += g->conf[i * nl + c];
	}
	o->p = ratio((double)tp, (double)o->predicted);
	o->r = ratio((double)tp, (double)o->support);
	o->f = ratio(2.0 * (double)tp, (double)(o->support + o->predicted));
}

struct avg {
	double p, r, f;
};

static void
averages(const struct arxiv_metrics *m, const struct group *g, struct avg *macro,
    struct avg *weighted)
{
	struct prf c;
	size_t i, present = 0;

	memset(macro, 0, sizeof(*macro));
	memset(weighted, 0, sizeof(*weighted));
	for (i = 0; i < m->n_labels; i++) {
		class_prf(m, g, i, &c);
		if (c.support == 0 && c.predicted == 0)
			continue;
		present++;
		macro->p += c.p;
		macro->r += c.r;
		macro->f += c.f;
		weighted->p += c.p * (double)c.support;
		weighted->r += c.r * (double)c.support;
		weighted->f += c.f * (double)c.support;
	}
	macro->p = ratio(macro->p, (double)present);
	macro->r = ratio(macro->r, (double)present);
	macro->f = ratio(macro->f, (double)present);
	weighted->p = ratio(weighted->p, (double)g->n);
	weighted->r = ratio(weighted->r, (double)g->n);
	weighted->f = ratio(weighted->f, (double)g->n);
}

double
arxiv_metrics_accuracy(const struct arxiv_metrics *m)
{
	return ratio((double)m->g[G_ALL].correct, (double)m->g[G_ALL].n);
}

double
arxiv_metrics_macro_f1(const struct arxiv_metrics *m)
{
	struct avg ma, wa;

	averages(m, &m->g[G_ALL], &ma, &wa);
	return ma.f;
}

double
arxiv_metrics_weighted_f1(const struct arxiv_metrics *m)
{
	struct avg ma, wa;

	averages(m, &m->g[G_ALL], &ma, &wa);
	return wa.f;
}

static double
ece(const struct arxiv_metrics *m)
{
	double e = 0, n = (double)m->g[G_ALL].n;
	size_t b;

	if (n <= 0)
		return 0;
	for (b = 0; b < ECE_BINS; b++) {
		double d;

		if (m->bin_n[b] == 0)
			continue;
		d = (m->bin_hit[b] - m->bin_conf[b]) / (double)m->bin_n[b];
		e += (d < 0 ? -d : d) * (double)m->bin_n[b] / n;
	}
	return e;
}

/* top-k accuracy is reported for k = 1 .. kmax */
static size_t
topk_max(const struct arxiv_metrics *m)
{
	return m->g[G_ALL].n ? m->min_k : 1;
}

static int
cmp_sel(const void *a, const void *b)
{
	const struct sel *x = a, *y = b;

	return x->conf > y->conf ? -1 : x->conf < y->conf;
}

/*
 * Selective accuracy: the accuracy on the ceil(coverage * n) most confident
 * papers (the rest abstained), for each of the nc coverages into acc.
 */
static int
selective(const struct arxiv_metrics *m, const double *cov, size_t nc, double *acc)
{
	size_t n = m->g[G_ALL].n, i, c, keep, hits;
	struct sel *s;

	for (c = 0; c < nc; c++)
		acc[c] = 0;
	if (n == 0)
		return 0;
	if ((s = malloc(n * sizeof(*s))) == NULL)
		return -1;
	memcpy(s, m->sel, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_sel);
	for (c = 0; c < nc; c++) {
		double want = cov[c] * (double)n;
		keep = (size_t)want;
		if ((double)keep < want - 1e-9)
			keep++;
		if (keep < 1)
			keep = 1;
		if (keep > n)
			keep = n;
		for (i = 0, hits = 0; i < keep; i++)
			hits += s[i].hit;
		acc[c] = (double)hits / (double)keep;
	}
	free(s);
	return 0;
}

static const double coverages[3] = { 0.90, 0.95, 0.99 };

/* Build-or-fail helpers: any allocation failure poisons *bad. */
static void
put(json_t *o, const char *key, json_t *v, int *bad)
{
	if (v == NULL || json_object_set_new(o, key, v) < 0)
		*bad = 1;
}

static void
push(json_t *a, json_t *v, int *bad)
{
	if (v == NULL || json_array_append_new(a, v) < 0)
		*bad = 1;
}

static json_t *
group_json(const struct arxiv_metrics *m, const struct group *g, int *bad)
{
	json_t *o = json_object();
	struct avg ma, wa;

	if (o == NULL) {
		*bad = 1;
		return NULL;
	}
	averages(m, g, &ma, &wa);
	put(o, "n", json_integer((json_int_t)g->n), bad);
	put(o, "accuracy", json_real(ratio((double)g->correct, (double)g->n)), bad);
	put(o, "macro_f1", json_real(ma.f), bad);
	put(o, "weighted_f1", json_real(wa.f), bad);
	put(o, "field_set_accuracy", json_real(ratio((double)g->field_hit, (double)g->n)), bad);
	put(o, "set_precision", json_real(ratio(g->set_p, (double)g->n)), bad);
	put(o, "set_recall", json_real(ratio(g->set_r, (double)g->n)), bad);
	put(o, "set_f1", json_real(ratio(g->set_f, (double)g->n)), bad);
	put(o, "exact_set_accuracy", json_real(ratio((double)g->set_exact, (double)g->n)), bad);
	put(o, "abstained", json_integer((json_int_t)g->abstained), bad);
	return o;
}

int
arxiv_metrics_json(const struct arxiv_metrics *m, struct arxiv_buf *out)
{
	const struct group *g = &m->g[G_ALL];
	json_t *o, *pc, *cm, *labels, *matrix, *row, *c, *tk;
	struct avg ma, wa;
	struct prf p;
	size_t i, j, nl = m->n_labels;
	char key[24], *s;
	int bad = 0;

	arxiv_buf_clear(out);
	if ((o = json_object()) == NULL)
		return -1;
	averages(m, g, &ma, &wa);
	put(o, "n", json_integer((json_int_t)g->n), &bad);
	put(o, "accuracy", json_real(arxiv_metrics_accuracy(m)), &bad);
	put(o, "weighted_precision", json_real(wa.p), &bad);
	put(o, "weighted_recall", json_real(wa.r), &bad);
	put(o, "weighted_f1", json_real(wa.f), &bad);
	put(o, "macro_precision", json_real(ma.p), &bad);
	put(o, "macro_recall", json_real(ma.r), &bad);
	put(o, "macro_f1", json_real(ma.f), &bad);
	put(o, "field_set_accuracy", json_real(ratio((double)g->field_hit, (double)g->n)), &bad);
	put(o, "ece", json_real(ece(m)), &bad);

	tk = json_object();
	for (i = 0; tk && i < topk_max(m); i++) {
		snprintf(key, sizeof(key), "%zu", i + 1);
		put(tk, key, json_real(ratio((double)m->topk_hit[i], (double)g->n)), &bad);
	}
	put(o, "top_k_accuracy", tk, &bad);

	pc = json_object();
	for (i = 0; pc && i < nl; i++) {
		class_prf(m, g, i, &p);
		if ((c = json_object()) == NULL) {
			bad = 1;
			break;
		}
		put(c, "precision", json_real(p.p), &bad);
		put(c, "recall", json_real(p.r), &bad);
		put(c, "f1", json_real(p.f), &bad);
		put(c, "support", json_integer((json_int_t)p.support), &bad);
		put(pc, m->labels[i], c, &bad);
	}
	put(o, "per_class", pc, &bad);

	cm = json_object();
	labels = json_array();
	matrix = json_array();
	for (i = 0; labels && i < nl; i++)
		push(labels, json_string(m->labels[i]), &bad);
	for (i = 0; matrix && i < nl; i++) {
		row = json_array();
		for (j = 0; row && j < nl; j++)
			push(row, json_integer((json_int_t)g->conf[i * nl + j]), &bad);
		push(matrix, row, &bad);
	}
	if (cm) {
		put(cm, "labels", labels, &bad);
		put(cm, "matrix", matrix, &bad);
	} else {
		json_decref(labels);
		json_decref(matrix);
	}
	put(o, "confusion_matrix", cm, &bad);

	put(o, "single_field", group_json(m, &m->g[G_SINGLE], &bad), &bad);
	put(o, "cross_listed", group_json(m, &m->g[G_CROSS], &bad), &bad);

	/* the multi-field answers, abstaining, reliability diagram, selective accuracy */
	put(o, "set_precision", json_real(ratio(g->set_p, (double)g->n)), &bad);
	put(o, "set_recall", json_real(ratio(g->set_r, (double)g->n)), &bad);
	put(o, "set_f1", json_real(ratio(g->set_f, (double)g->n)), &bad);
	put(o, "exact_set_accuracy", json_real(ratio((double)g->set_exact, (double)g->n)), &bad);
	put(o, "abstained", json_integer((json_int_t)g->abstained), &bad);
	put(o, "abstain_rate", json_real(ratio((double)g->abstained, (double)g->n)), &bad);
	{
		json_t *rel = json_array(), *sa = json_object();
		double acc[3];
		for (i = 0; rel && i < ECE_BINS; i++) {
			json_t *bo = json_object();
			if (bo == NULL) {
				bad = 1;
				break;
			}
			put(bo, "lo", json_real((double)i / ECE_BINS), &bad);
			put(bo, "hi", json_real((double)(i + 1) / ECE_BINS), &bad);
			put(bo, "count", json_integer((json_int_t)m->bin_n[i]), &bad);
			put(bo, "confidence", json_real(ratio(m->bin_conf[i], (double)m->bin_n[i])), &bad);
			put(bo, "accuracy", json_real(ratio(m->bin_hit[i], (double)m->bin_n[i])), &bad);
			push(rel, bo, &bad);
		}
		put(o, "reliability", rel, &bad);
		if (selective(m, coverages, 3, acc) < 0)
			bad = 1;
		for (i = 0; sa && i < 3; i++) {
			snprintf(key, sizeof(key), "%.2f", coverages[i]);
			put(sa, key, json_real(acc[i]), &bad);
		}
		put(o, "selective_accuracy", sa, &bad);
	}

	s = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (s == NULL)
		return -1;
	bad = arxiv_buf_append(out, s, strlen(s));
	free(s);
	return bad;
}

int
arxiv_metrics_table(const struct arxiv_metrics *m, struct arxiv_buf *out)
{
	const struct group *g = &m->g[G_ALL];
	struct avg ma, wa;
	struct prf p;
	size_t i, j, nl = m->n_labels;
	int w = 12, r = 0, cw = 7;

	arxiv_buf_clear(out);
	for (i = 0; i < nl; i++)
		if ((int)strlen(m->labels[i]) > w)
			w = (int)strlen(m->labels[i]);
	for (i = 0; i < nl * nl; i++) {
		int d = snprintf(NULL, 0, "%zu", g->conf[i]) + 1;

		if (d > cw)
			cw = d;
	}
	averages(m, g, &ma, &wa);

	r |= arxiv_buf_printf(out, "%-*s %9s %9s %9s %9s\n", w, "label", "precision", "recall",
	    "f1", "support");
	for (i = 0; i < nl; i++) {
		class_prf(m, g, i, &p);
		r |= arxiv_buf_printf(out, "%-*s %9.4f %9.4f %9.4f %9zu\n", w, m->labels[i],
		    p.p, p.r, p.f, p.support);
	}
	r |= arxiv_buf_printf(out, "\n%-*s %9.4f %9.4f %9.4f %9zu\n", w, "macro avg",
	    ma.p, ma.r, ma.f, g->n);
	r |= arxiv_buf_printf(out, "%-*s %9.4f %9.4f %9.4f %9zu\n", w, "weighted avg",
	    wa.p, wa.r, wa.f, g->n);

	r |= arxiv_buf_printf(out, "\n%-*s %9s %9s %9s %9s %9s %9s %9s %9s\n", w, "subset", "n",
	    "accuracy", "macro f1", "field-set", "set P", "set R", "set F1", "exact set");
	for (i = 0; i < G_N; i++) {
		static const char *const names[G_N] = { "all", "single field", "cross-listed" };
		struct avg gm, gw;

		averages(m, &m->g[i], &gm, &gw);
		r |= arxiv_buf_printf(out, "%-*s %9zu %9.4f %9.4f %9.4f %9.4f %9.4f %9.4f %9.4f\n",
		    w, names[i], m->g[i].n, ratio((double)m->g[i].correct, (double)m->g[i].n), gm.f,
		    ratio((double)m->g[i].field_hit, (double)m->g[i].n),
		    ratio(m->g[i].set_p, (double)m->g[i].n), ratio(m->g[i].set_r, (double)m->g[i].n),
		    ratio(m->g[i].set_f, (double)m->g[i].n),
		    ratio((double)m->g[i].set_exact, (double)m->g[i].n));
	}

	r |= arxiv_buf_printf(out, "\ntop-k accuracy:");
	for (i = 0; i < topk_max(m); i++)
		r |= arxiv_buf_printf(out, "  %zu: %.4f", i + 1,
		    ratio((double)m->topk_hit[i], (double)g->n));
	r |= arxiv_buf_printf(out, "\nexpected calibration error (15 bins): %.4f\n", ece(m));
	{
		double acc[3];
		if (selective(m, coverages, 3, acc) < 0)
			r = -1;
		r |= arxiv_buf_printf(out, "selective accuracy (most confident kept):");
		for (i = 0; i < 3; i++)
			r |= arxiv_buf_printf(out, "  %.0f%%: %.4f", coverages[i] * 100, acc[i]);
		r |= arxiv_buf_printf(out, "\nabstained: %zu of %zu\n", g->abstained, g->n);
		r |= arxiv_buf_printf(out, "\nreliability (confidence bins)\n%-11s %9s %10s %9s\n",
		    "bin", "count", "mean conf", "accuracy");
		for (i = 0; i < ECE_BINS; i++) {
			char h[32];
			snprintf(h, sizeof(h), "%.3f-%.3f", (double)i / ECE_BINS,
			    (double)(i + 1) / ECE_BINS);
			r |= arxiv_buf_printf(out, "%-11s %9zu %10.4f %9.4f\n", h, m->bin_n[i],
			    ratio(m->bin_conf[i], (double)m->bin_n[i]),
			    ratio(m->bin_hit[i], (double)m->bin_n[i]));
		}
	}

	r |= arxiv_buf_printf(out, "\nconfusion matrix (rows: true, columns: predicted)\n%-*s",
	    w + 6, "");
	for (j = 0; j < nl; j++) {
		char h[24];

		snprintf(h, sizeof(h), "[%zu]", j + 1);
		r |= arxiv_buf_printf(out, "%*s", cw, h);
	}
	r |= arxiv_buf_putc(out, '\n');
	for (i = 0; i < nl; i++) {
		char h[24];

		snprintf(h, sizeof(h), "[%zu]", i + 1);
		r |= arxiv_buf_printf(out, "%-5s %-*s", h, w, m->labels[i]);
		for (j = 0; j < nl; j++)
			r |= arxiv_buf_printf(out, "%*zu", cw, g->conf[i * nl + j]);
		r |= arxiv_buf_putc(out, '\n');
	}
	return r ? -1 : 0;
}

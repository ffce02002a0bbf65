/*
 * distill.c - the soft targets of distillation into the fast model
 * (arxiv-train --teacher): a teacher (an artifacts directory of any model
 * type) predicts every training record and every record of an optional
 * unlabelled JSONL file; its probabilities, mapped onto the student's labels
 * by name and softened as p^(1/T) renormalised, are mixed with the true label
 * (alpha * teacher + (1 - alpha) * one-hot) for labelled records and used
 * alone for unlabelled ones. ft_train_soft then trains on them with the
 * softmax cross-entropy.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fasttext.h"

void
ds_distill_free(struct ds_distill *x)
{
	free(x->label);
	free(x->fields);
	free(x->id);
	free(x->text);
	free(x->soft);
	arxiv_dataset_free(x->unl);
	memset(x, 0, sizeof(*x));
}

int
ds_distill(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    struct ds_distill *x, struct arxiv_error *err)
{
	struct arxiv_model_opts mo = arxiv_model_default_opts();
	struct arxiv_model *tm = NULL;
	struct arxiv_prediction *pred = NULL;
	struct arxiv_dataset *d = &x->set;
	int map[ARXIV_TOPK_MAX], L = (int)train->n_labels, c;
	size_t i, j, n_t, nu = 0, K, chunk = 256;
	double inv_t = 1.0 / p->distill_temperature, a = p->distill_alpha;
	const char *tp = train->prep ? train->prep : "";

	memset(x, 0, sizeof(*x));
	if (train->text == NULL) {
		arxiv_error_set(err, train->name, 0, "distillation needs JSONL training records "
		    "(texts for the teacher), not a tensor stream");
		return -1;
	}
	mo.threads = p->threads;
	if ((tm = arxiv_model_load(p->teacher, &mo, err)) == NULL) {
		char m[sizeof(err->text)];
		snprintf(m, sizeof(m), "%s", err->text);
		snprintf(err->text, sizeof(err->text), "teacher: %.*s", (int)sizeof(m) - 10, m);
		if (err->source[0] == '\0')
			snprintf(err->source, sizeof(err->source), "%s", p->teacher);
		return -1;
	}
	snprintf(x->teacher_type, sizeof(x->teacher_type), "%s", arxiv_model_type(tm));
	n_t = arxiv_model_nlabels(tm);
	if (n_t > ARXIV_TOPK_MAX) {
		arxiv_error_set(err, p->teacher, 0, "teacher has %zu labels (at most %d)", n_t,
		    ARXIV_TOPK_MAX);
		goto fail;
	}
	for (i = 0; i < n_t; i++) {
		map[i] = -1;
		for (c = 0; c < L; c++)
			if (strcmp(arxiv_model_label(tm, i), train->labels[c]) == 0)
				map[i] = c;
	}
	for (c = 0; c < L; c++) {
		for (i = 0; i < n_t && map[i] != c; i++)
			;
		if (i == n_t) {
			arxiv_error_set(err, p->teacher, 0, "the teacher has no label \"%s\"; its "
			    "labels must cover the training set's", train->labels[c]);
			goto fail;
		}
	}
	if (p->unlabelled) {
		if ((x->unl = arxiv_dataset_load(p->unlabelled, NULL, 0, err)) == NULL)
			goto fail;
		if (x->unl->text == NULL) {
			arxiv_error_set(err, p->unlabelled, 0, "unlabelled records must be JSONL");
			goto fail;
		}
		if (strcmp(x->unl->prep ? x->unl->prep : "", tp) != 0) {
			arxiv_error_set(err, p->unlabelled, 0, "preprocessed differently from the "
			    "training set");
			goto fail;
		}
		nu = x->unl->n;
	}
	/* the training set followed by the unlabelled records (borrowed strings) */
	*d = *train;
	d->n = train->n + nu;
	d->label = malloc(d->n * sizeof(*d->label));
	d->fields = malloc(d->n * sizeof(*d->fields));
	d->id = malloc(d->n * sizeof(*d->id));
	d->text = malloc(d->n * sizeof(*d->text));
	x->soft = malloc(d->n * (size_t)L * sizeof(float));
	pred = malloc(chunk * sizeof(*pred));
	if (!d->label || !d->fields || !d->id || !d->text || !x->soft || !pred) {
		arxiv_error_set(err, "", 0, "out of memory");
		goto fail;
	}
	x->label = d->label;
	x->fields = d->fields;
	x->id = d->id;
	x->text = d->text;
	for (i = 0; i < d->n; i++) {
		int un = i >= train->n;
		d->label[i] = un ? -1 : train->label[i];
		d->fields[i] = un ? 0 : train->fields[i];
		d->id[i] = un ? x->unl->id[i - train->n] : train->id[i];
		d->text[i] = un ? x->unl->text[i - train->n] : train->text[i];
	}
	K = n_t;
	for (i = 0; i < d->n; i += chunk) {
		size_t n = d->n - i < chunk ? d->n - i : chunk;
		if (arxiv_model_predict(tm, (const char *const *)d->text + i, NULL, n, K, pred,
		    err) < 0) {
			const struct arxiv_dataset *src = i < train->n ? train : x->unl;
			snprintf(err->source, sizeof(err->source), "%s", src->name);
			err->line = 0;
			goto fail;
		}
		for (j = 0; j < n; j++) {
			float *row = x->soft + (i + j) * (size_t)L;
			double sum = 0;
			size_t r;
			int y = d->label[i + j];
			for (c = 0; c < L; c++)
				row[c] = 0;
			for (r = 0; r < pred[j].k; r++) {
				int s = pred[j].label[r] >= 0 && (size_t)pred[j].label[r] < n_t ?
				    map[pred[j].label[r]] : -1;
				if (s >= 0 && pred[j].score[r] > 0)
					row[s] = (float)pow(pred[j].score[r], inv_t);
			}
			for (c = 0; c < L; c++)
				sum += row[c];
			for (c = 0; c < L; c++)
				row[c] = sum > 0 ? (float)(row[c] / sum) : 1.0f / (float)L;
			if (y >= 0 && y < L) {
				for (c = 0; c < L; c++)
					row[c] = (float)(a * row[c]);
				row[y] += (float)(1 - a);
			}
		}
	}
	x->n_unlabelled = nu;
	free(pred);
	arxiv_model_free(tm);
	return 0;
fail:
	free(pred);
	arxiv_model_free(tm);
	ds_distill_free(x);
	return -1;
}

/*
 * dataset.c - labelled data sets in memory (arxiv_dataset_load), from the JSONL
 * of arxiv-map / arxiv-clean or from a tensor stream, and the cleaning of a
 * data set's texts for the fast model (ds_clean).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fasttext.h"

#define MAX_LABELS 64


void
arxiv_dataset_free(struct arxiv_dataset *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n_labels; i++)
		free(d->labels[i]);
	free(d->labels);
	if (d->id)
		for (i = 0; i < d->n; i++)
			free(d->id[i]);
	if (d->text)
		for (i = 0; i < d->n; i++)
			free(d->text[i]);
	if (d->raw)
		for (i = 0; i < d->n; i++)
			free(d->raw[i]);
	free(d->raw);
	free(d->id);
	free(d->text);
	free(d->label);
	free(d->fields);
	free(d->prep);
	free(d->ids);
	free(d->mask);
	free(d);
}

size_t
arxiv_dataset_count(const struct arxiv_dataset *d)
{
	return d->n;
}

size_t
arxiv_dataset_nlabels(const struct arxiv_dataset *d)
{
	return d->n_labels;
}

const char *
arxiv_dataset_label(const struct arxiv_dataset *d, size_t i)
{
	return i < d->n_labels ? d->labels[i] : NULL;
}

/* Index of a label, adding it when the label set is open; -1 unknown, -2 too many. */
static int
label_index(struct arxiv_dataset *d, const char *s, int open)
{
	size_t i;
	char *dup;

	for (i = 0; i < d->n_labels; i++)
		if (strcmp(d->labels[i], s) == 0)
			return (int)i;
	if (!open)
		return -1;
	if (d->n_labels >= MAX_LABELS)
		return -2;
	if ((dup = strdup(s)) == NULL)
		return -2;
	d->labels[d->n_labels++] = dup;
	return (int)(d->n_labels - 1);
}

static int
grow(struct arxiv_dataset *d, size_t *cap)
{
	size_t c = *cap ? *cap * 2 : 1024;
	void *p;

	if ((p = realloc(d->id, c * sizeof(*d->id))) == NULL)
		return -1;
	d->id = p;
	if ((p = realloc(d->text, c * sizeof(*d->text))) == NULL)
		return -1;
	d->text = p;
	if ((p = realloc(d->raw, c * sizeof(*d->raw))) == NULL)
		return -1;
	d->raw = p;
	if ((p = realloc(d->label, c * sizeof(*d->label))) == NULL)
		return -1;
	d->label = p;
	if ((p = realloc(d->fields, c * sizeof(*d->fields))) == NULL)
		return -1;
	d->fields = p;
	*cap = c;
	return 0;
}

static int
load_jsonl(struct arxiv_dataset *d, FILE *fp, const char *path, int open,
    struct arxiv_error *err)
{
	struct arxiv_lines *r;
	const char *line, *s, *prep;
	size_t len, cap = 0, i;
	json_error_t je;
	json_t *o = NULL, *v, *x;
	int rc, lab, with_clean = -1;
	long ln;

	if ((r = arxiv_lines_new(fp, path, 0)) == NULL) {
		arxiv_error_set(err, path, 0, "out of memory");
		return -1;
	}
	while ((rc = arxiv_lines_next(r, &line, &len, err)) != 0) {
		if (rc < 0)
			goto fail;
		ln = arxiv_lines_lineno(r);
		if ((o = json_loadb(line, len, 0, &je)) == NULL) {
			arxiv_error_set(err, path, ln, "invalid JSON: %s", je.text);
			goto fail;
		}
		if (!json_is_object(o)) {
			arxiv_error_set(err, path, ln, "not a JSON object");
			goto fail;
		}
		if (d->n == cap && grow(d, &cap) < 0)
			goto nomem;
		/* text: "clean" (arxiv-clean) when present, else "text" */
		v = json_object_get(o, "clean");
		if (with_clean < 0)
			with_clean = v != NULL;
		if ((v != NULL) != with_clean) {
			arxiv_error_set(err, path, ln, with_clean ? "no \"clean\" key (earlier records "
			    "have one)" : "a \"clean\" key (earlier records have none)");
			goto fail;
		}
		if (with_clean) {
			x = json_object_get(o, "prep");
			prep = json_string_value(x);
			if (!json_is_string(v) || prep == NULL) {
				arxiv_error_set(err, path, ln, "\"clean\" needs a string and a \"prep\" "
				    "signature");
				goto fail;
			}
			if (d->prep == NULL && (d->prep = strdup(prep)) == NULL)
				goto nomem;
			if (strcmp(d->prep, prep) != 0) {
				arxiv_error_set(err, path, ln, "preprocessing \"%.50s\" differs from "
				    "earlier records (\"%.50s\")", prep, d->prep);
				goto fail;
			}
		} else
			v = json_object_get(o, "text");
		if ((s = json_string_value(v)) == NULL) {
			arxiv_error_set(err, path, ln, "missing string \"%s\"", with_clean ? "clean" : "text");
			goto fail;
		}
		d->text[d->n] = strdup(s);
		/* the raw "text" beside "clean" (the domain check reads raw words) */
		s = with_clean ? json_string_value(json_object_get(o, "text")) : NULL;
		d->raw[d->n] = s ? strdup(s) : NULL;
		if ((s = json_string_value(json_object_get(o, "id"))) == NULL)
			s = "";
		d->id[d->n] = strdup(s);
		d->n++;	/* owned from here on */
		if (d->text[d->n - 1] == NULL || d->id[d->n - 1] == NULL)
			goto nomem;
		v = json_object_get(o, "label");
		if (v == NULL || json_is_null(v))
			lab = -1;	/* unlabelled */
		else if (!json_is_string(v)) {
			arxiv_error_set(err, path, ln, "\"label\" is not a string");
			goto fail;
		} else if ((lab = label_index(d, json_string_value(v), open)) < 0) {
			if (lab == -2)
				arxiv_error_set(err, path, ln, "more than %d labels", MAX_LABELS);
			else
				arxiv_error_set(err, path, ln, "unknown label \"%.60s\"",
				    json_string_value(v));
			goto fail;
		}
		d->label[d->n - 1] = lab;
		d->fields[d->n - 1] = 0;
		v = json_object_get(o, "fields");
		if (json_is_array(v)) {
			json_array_foreach(v, i, x) {
				int f;
				if (!json_is_string(x))
					continue;
				f = label_index(d, json_string_value(x), open);
				if (f >= 0)
					d->fields[d->n - 1] |= (uint64_t)1 << f;
			}
		}
		json_decref(o);
		o = NULL;
	}
	if (arxiv_lines_ioerr(r))
		goto fail;
	if (d->prep == NULL && (d->prep = strdup("")) == NULL)
		goto nomem;
	arxiv_lines_free(r);
	return 0;
nomem:
	arxiv_error_set(err, path, 0, "out of memory");
fail:
	json_decref(o);
	arxiv_lines_free(r);
	return -1;
}

static int
load_tensor(struct arxiv_dataset *d, FILE *fp, const char *path, int open,
    struct arxiv_error *err)
{
	struct arxiv_tensor_reader *r;
	const struct arxiv_tensor_header *h;
	struct arxiv_tensor_record rec;
	int map[MAX_LABELS], rc;
	size_t cap = 0, i, L;

	if ((r = arxiv_tensor_open(fp, path, err)) == NULL)
		return -1;
	h = arxiv_tensor_header(r);
	if (h->n_labels > MAX_LABELS) {
		arxiv_error_set(err, path, 0, "more than %d labels", MAX_LABELS);
		goto fail;
	}
	for (i = 0; i < h->n_labels; i++) {
		if ((map[i] = label_index(d, h->labels[i], open)) < 0)
			map[i] = -1;	/* a label the model does not know: unlabelled */
	}
	d->seq_len = h->seq_len;
	d->vocab_hash = h->vocab_hash;
	d->tok_flags = h->flags;
	if ((d->prep = strdup(h->prep ? h->prep : "")) == NULL)
		goto nomem;
	L = d->seq_len;
	while ((rc = arxiv_tensor_next(r, &rec, err)) != 0) {
		if (rc < 0)
			goto fail;
		if (d->n == cap) {
			size_t c = cap ? cap * 2 : 1024;
			void *p;
			if ((p = realloc(d->id, c * sizeof(*d->id))) == NULL)
				goto nomem;
			d->id = p;
			if ((p = realloc(d->label, c * sizeof(*d->label))) == NULL)
				goto nomem;
			d->label = p;
			if ((p = realloc(d->fields, c * sizeof(*d->fields))) == NULL)
				goto nomem;
			d->fields = p;
			if ((p = realloc(d->ids, c * L * sizeof(*d->ids))) == NULL)
				goto nomem;
			d->ids = p;
			if ((p = realloc(d->mask, c * L)) == NULL)
				goto nomem;
			d->mask = p;
			cap = c;
		}
		if ((d->id[d->n] = strdup(rec.id)) == NULL)
			goto nomem;
		d->label[d->n] = rec.label >= 0 && (uint32_t)rec.label < h->n_labels ?
		    map[rec.label] : -1;
		d->fields[d->n] = 0;
		memcpy(d->ids + d->n * L, rec.ids, L * sizeof(*d->ids));
		memcpy(d->mask + d->n * L, rec.mask, L);
		d->n++;
	}
	if (d->ids == NULL && (d->ids = calloc(1, sizeof(*d->ids))) == NULL)
		goto nomem;
	if (d->mask == NULL && (d->mask = calloc(1, 1)) == NULL)
		goto nomem;
	arxiv_tensor_close(r);
	return 0;
nomem:
	arxiv_error_set(err, path, 0, "out of memory");
fail:
	arxiv_tensor_close(r);
	return -1;
}

struct arxiv_dataset *
arxiv_dataset_load(const char *path, const char *const *labels, size_t n_labels,
    struct arxiv_error *err)
{
	struct arxiv_dataset *d;
	unsigned char head[8];
	size_t i, got;
	FILE *fp;
	int rc, c;

	if (n_labels > MAX_LABELS) {
		arxiv_error_set(err, path, 0, "more than %d labels", MAX_LABELS);
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->labels = calloc(MAX_LABELS, sizeof(char *))) == NULL) {
		free(d);
		arxiv_error_set(err, path, 0, "out of memory");
		return NULL;
	}
	snprintf(d->name, sizeof(d->name), "%s", strcmp(path, "-") ? path : "<stdin>");
	for (i = 0; labels && i < n_labels; i++)
		if (label_index(d, labels[i], 1) < 0) {
			arxiv_error_set(err, path, 0, "out of memory");
			goto fail;
		}
	if (strcmp(path, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(path, "rb")) == NULL) {
		arxiv_error_set(err, path, 0, "%s", strerror(errno));
		goto fail;
	}
	/* sniff the magic, then push the bytes back (works on pipes) */
	for (got = 0; got < sizeof(head) && (c = getc(fp)) != EOF; got++)
		head[got] = (unsigned char)c;
	for (i = got; i > 0; i--)
		ungetc(head[i - 1], fp);	/* glibc takes back up to a buffer's worth */
	if (arxiv_tensor_sniff(head, got))
		rc = load_tensor(d, fp, d->name, labels == NULL, err);
	else
		rc = load_jsonl(d, fp, d->name, labels == NULL, err);
	if (fp != stdin)
		fclose(fp);
	if (rc < 0)
		goto fail;
	return d;
fail:
	arxiv_dataset_free(d);
	return NULL;
}

/* --------------------------------------------------------- cleaning */

struct clean_job {
	const struct arxiv_clean_params *p;
	char **in, **out;
	size_t begin, end;
	struct arxiv_error err;
	long bad;	/* 1-based index of a failing text, 0 none */
};

static void *
clean_worker(void *arg)
{
	struct clean_job *j = arg;
	struct arxiv_cleaner *c;
	struct arxiv_buf b = {0};
	size_t i;

	if ((c = arxiv_cleaner_new(j->p, &j->err)) == NULL) {
		j->bad = -1;
		return NULL;
	}
	for (i = j->begin; i < j->end; i++) {
		if (arxiv_clean_text(c, j->in[i], strlen(j->in[i]), &b, &j->err) < 0) {
			j->bad = (long)i + 1;
			break;
		}
		if ((j->out[i] = strdup(b.data ? b.data : "")) == NULL) {
			arxiv_error_set(&j->err, "", 0, "out of memory");
			j->bad = (long)i + 1;
			break;
		}
	}
	arxiv_buf_free(&b);
	arxiv_cleaner_free(c);
	return NULL;
}

int
ds_clean(struct arxiv_dataset *d, const char *sig, int threads, struct arxiv_error *err)
{
	struct arxiv_clean_params p;
	struct clean_job job[64];
	char **out = NULL, *sdup = NULL;
	int t, nt, rc = -1;
	size_t i;

	if (d->text == NULL || strcmp(d->prep ? d->prep : "", sig) == 0)
		return 1;
	if (d->prep && d->prep[0]) {
		arxiv_error_set(err, d->name, 0, "preprocessed as \"%.50s\", expected \"%.50s\"",
		    d->prep, sig);
		return -1;
	}
	if (arxiv_clean_params_parse(sig, NULL, &p, err) < 0)
		return -1;
	nt = arxiv_threads(threads, 0);
	if ((out = calloc(d->n ? d->n : 1, sizeof(*out))) == NULL || (sdup = strdup(sig)) == NULL) {
		arxiv_error_set(err, d->name, 0, "out of memory");
		goto out;
	}
	for (t = 0; t < nt; t++) {
		job[t] = (struct clean_job){ &p, d->text, out, d->n * (size_t)t / (size_t)nt,
		    d->n * (size_t)(t + 1) / (size_t)nt, { "", 0, "" }, 0 };
	}
	arxiv_parallel_run(clean_worker, job, sizeof(job[0]), nt);
	rc = 0;
	for (t = 0; t < nt; t++) {
		if (job[t].bad && rc == 0) {
			*err = job[t].err;
			snprintf(err->source, sizeof(err->source), "%s", d->name);
			err->line = job[t].bad > 0 ? job[t].bad : 0;
			rc = -1;
		}
	}
	if (rc == 0) {
		d->text = out;
		d->prep = sdup;
		out = NULL;
		sdup = NULL;
	} else
		for (i = 0; i < d->n; i++)
			free(out[i]);
out:
	free(out);
	free(sdup);
	return rc;
}

void
ds_free_texts(struct arxiv_dataset *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->text[i]);
	free(d->text);
	free(d->prep);
	d->text = NULL;
	d->prep = NULL;
}

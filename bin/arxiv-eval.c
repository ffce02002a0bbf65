/*
 * arxiv-eval - evaluate a trained model on labelled JSONL.
 *
 * Reads arxiv-map / arxiv-clean output ("text" raw joined text, "label",
 * "fields"), predicts the top K labels of each record with the model in the
 * artifacts directory, and prints the metrics report of arxiv_metrics_json()
 * as one JSON line, or a human table with -t. Records are read in batches and
 * each batch is predicted on threads by arxiv_model_answer_many (fixed chunks);
 * the metrics are added in input order, so the report does not depend on the
 * thread count.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>

#include "prog.h"

#define BATCH 4096		/* records read before predicting */
#define CHUNK 256		/* texts per arxiv_model_predict call */

enum { O_SKIP = 256, O_THREADS };

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "keep-going", no_argument, NULL, 'k' },
	{ "table", no_argument, NULL, 't' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "top-k", required_argument, NULL, 'K' },
	{ "output", required_argument, NULL, 'o' },
	{ "skip", no_argument, NULL, O_SKIP },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "model", "dir", "the artifacts directory to evaluate", 1 },
	{ "keep-going", NULL, "skip bad records with a warning, count them", 0 },
	{ "table", NULL, "print a table for people instead of the JSON report", 0 },
	{ "jobs", "threads", "threads (default: all cores)", 0 },
	{ "top-k", "k", "also count a hit within the k best labels (default: 3)", 0 },
	{ "output", "report", "also write the JSON report to this file", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog_deprecated deprecated[] = {
	{ O_SKIP, 'k', "--skip", "--keep-going (-k)" },
	{ O_THREADS, 'j', "--threads", "--jobs (-j)" },
	{ 0, 0, NULL, NULL }
};

static const struct prog P = {
	"arxiv-eval", "[file ...]",
	"Evaluate artifacts on labelled JSON lines: accuracy, F1, confusion.",
	"hVm:ktj:K:o:", longopts, help, deprecated
};

struct rec {
	char *text;
	size_t len;
	int truth;
	uint64_t fields;
	const char *source;
	long line;
	size_t pj;		/* its prediction: batch.pred[pj] */
	int failed;		/* a bad record (parse or prediction): msg says why */
	char msg[200];
};

/*
 * A batch holds records in input order, bad ones included, so errors and
 * warnings come out in line order; only the good ones are predicted.
 */
struct batch {
	struct rec *r;
	size_t n;
	size_t *idx;		/* record of the j-th text */
	const char **texts;
	size_t *lens;
	struct arxiv_answer *pred;	/* the prediction with its fields and abstaining */
	struct arxiv_error *errs;	/* why the j-th text failed */
};

static void
fail_text(struct batch *b, size_t j, const char *why)
{
	struct rec *r = &b->r[b->idx[j]];

	snprintf(r->msg, sizeof(r->msg), "%s", why[0] ? why : "prediction failed");
	r->failed = 1;
}

/* The model's answers (top k, fields, abstaining with the model's thresholds),
 * CHUNK texts per call on threads; a text the model rejects fails its record. */
static void
predict_batch(const struct arxiv_model *model, struct batch *b, size_t k, int threads)
{
	struct arxiv_answer_opts o = arxiv_answer_default_opts();
	size_t i, m = 0;
	long failed;

	for (i = 0; i < b->n; i++) {
		if (b->r[i].failed)
			continue;
		b->idx[m] = i;
		b->texts[m] = b->r[i].text;
		b->lens[m] = b->r[i].len;
		b->r[i].pj = m++;
	}
	o.k = k;
	failed = arxiv_model_answer_many(model, b->texts, b->lens, m, &o, CHUNK, threads, b->pred,
	    b->errs);
	for (i = 0; i < m && failed != 0; i++)
		if (failed < 0 || b->errs[i].text[0] != '\0')
			fail_text(b, i, b->errs[failed < 0 ? 0 : i].text);
}

struct ctx {
	const struct arxiv_model *model;
	struct arxiv_metrics *metrics;
	size_t n_labels, k, skipped;
	int skip, threads;
	struct arxiv_buf known;	/* "A, B, C" for the unknown-label hint */
	struct arxiv_buf joined;
};

static int
label_id(const struct ctx *c, const char *s)
{
	size_t i;

	for (i = 0; i < c->n_labels; i++)
		if (strcmp(arxiv_model_label(c->model, i), s) == 0)
			return (int)i;
	return -1;
}

static void bad(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
bad(struct rec *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->failed = 1;
}

/* Parse one line into *r (text copied), or make *r a bad record. */
static void
parse(struct ctx *c, const char *line, size_t len, struct rec *r)
{
	struct arxiv_error e = { "", 0, "" };
	json_error_t je;
	json_t *o, *v, *x;
	const char *text, *label;
	size_t i;
	int id;

	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		bad(r, "invalid JSON: %s", je.text);
		return;
	}
	if (!json_is_object(o)) {
		bad(r, "not a JSON object");
		goto out;
	}
	v = json_object_get(o, "label");
	if (v == NULL || json_is_null(v)) {
		bad(r, "missing \"label\"");
		goto out;
	}
	if ((label = json_string_value(v)) == NULL) {
		bad(r, "\"label\" is not a string");
		goto out;
	}
	if ((id = label_id(c, label)) < 0) {
		bad(r, "unknown label \"%.40s\" (the model knows %.100s)", label, c->known.data);
		goto out;
	}
	/* the text predict and serve would classify (arxiv_record_text) */
	if (arxiv_record_text((const struct json_t *)o, &c->joined, &e) < 0) {
		bad(r, "%s", e.text);
		goto out;
	}
	text = c->joined.data;
	r->len = c->joined.len;
	v = json_object_get(o, "fields");
	if (v != NULL && !json_is_array(v) && !json_is_null(v)) {
		bad(r, "\"fields\" is not an array");
		goto out;
	}
	json_array_foreach(v, i, x) {
		int f = json_is_string(x) ? label_id(c, json_string_value(x)) : -1;

		if (f >= 0 && f < 64)
			r->fields |= (uint64_t)1 << f;
	}
	if ((r->text = malloc(r->len + 1)) == NULL)
		errx(1, "out of memory");
	memcpy(r->text, text, r->len);
	r->text[r->len] = '\0';
	r->truth = id;
out:
	json_decref(o);
}

/* Predict the batch, then count its records in order; a bad record stops
 * arxiv-eval (exit 1) or, with -k, is skipped with a warning. */
static void
flush_batch(struct ctx *c, struct batch *b)
{
	size_t i;

	if (b->n == 0)
		return;
	predict_batch(c->model, b, c->k, c->threads);
	for (i = 0; i < b->n; i++) {
		struct rec *r = &b->r[i];

		if (!r->failed && arxiv_metrics_add_answer(c->metrics, r->truth, &b->pred[r->pj],
		    r->fields) < 0)
			bad(r, "invalid prediction from the model");
		if (r->failed) {
			if (!c->skip)
				errx(1, "%s:%ld: %s", r->source, r->line, r->msg);
			warnx("%s:%ld: %s", r->source, r->line, r->msg);
			c->skipped++;
		}
		free(r->text);
		r->text = NULL;
	}
	b->n = 0;
}

static int
eval_file(struct ctx *c, struct batch *b, FILE *fp, const char *name)
{
	struct arxiv_lines *lr;
	struct arxiv_error e;
	struct rec *r;
	const char *line;
	size_t len;
	int rc;

	if ((lr = arxiv_lines_new(fp, name, 0)) == NULL)
		errx(1, "out of memory");
	while ((rc = arxiv_lines_next(lr, &line, &len, &e)) != 0) {
		if (rc < 0 && arxiv_lines_ioerr(lr)) {
			prog_warnerr(&e);
			arxiv_lines_free(lr);
			return -1;
		}
		if (rc > 0 && (len == 0 || strspn(line, " \t\r") == len))
			continue;	/* blank line */
		r = &b->r[b->n++];
		memset(r, 0, offsetof(struct rec, msg));
		r->msg[0] = '\0';
		r->source = name;
		r->line = arxiv_lines_lineno(lr);
		if (rc < 0)
			bad(r, "%s", e.text);	/* too long, NUL byte */
		else
			parse(c, line, len, r);
		/* without -k stop at the first bad record: predict what came before */
		if (b->n == BATCH || (r->failed && !c->skip))
			flush_batch(c, b);
	}
	arxiv_lines_free(lr);
	return 0;
}

/* -o: the JSON report also to a file, through a temporary and a rename
 * (arxiv_atomic_*), so the table and the report come from one evaluation. */
static int
write_report(const struct ctx *c, const char *path)
{
	struct arxiv_buf b = { 0 };
	struct arxiv_error e;
	int rc = -1;

	if (arxiv_metrics_json(c->metrics, &b) < 0 || arxiv_buf_putc(&b, '\n') < 0) {
		warnx("out of memory");
		goto out;
	}
	if (arxiv_atomic_write(path, NULL, b.data, b.len, &e) < 0) {
		prog_warnerr(&e);
		goto out;
	}
	rc = 0;
out:
	arxiv_buf_free(&b);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct arxiv_model_opts mo = arxiv_model_default_opts();
	struct arxiv_model *model;
	struct arxiv_error e;
	struct arxiv_buf out = { 0 };
	struct ctx c = { 0 };
	struct batch b = { 0 };
	const char *dir = NULL, *name, *report = NULL;
	const char **labels;
	int ch, table = 0, verbose = 0, i, rc, status = 1;
	long threads = 0, k = 3;
	size_t l;
	FILE *fp;

	while ((ch = prog_getopt(&P, argc, argv)) != -1) {
		switch (ch) {
		case 'm':
			dir = optarg;
			break;
		case 'k':
			c.skip = 1;
			break;
		case 'K':
			k = prog_num(optarg, 1, ARXIV_TOPK_MAX, "top-k");
			break;
		case 't':
			table = 1;
			break;
		case 'o':
			report = optarg;
			break;
		case 'j':
			threads = prog_num(optarg, 0, 64, "thread count");
			break;
		}
	}
	argc -= optind;
	argv += optind;
	if (dir == NULL) {
		warnx("no model: -m dir is required");
		prog_usage(&P, stderr);
		return 2;
	}
	arxiv_set_log(prog_log, &verbose);
	if (threads == 0) {
		threads = sysconf(_SC_NPROCESSORS_ONLN);
		if (threads < 1)
			threads = 1;
		if (threads > 64)
			threads = 64;
	}

	mo.threads = (int)threads;	/* used by the transformer; the fast model is single-threaded */
	if ((model = arxiv_model_load(dir, &mo, &e)) == NULL) {
		if (e.source[0] == '\0')
			snprintf(e.source, sizeof(e.source), "%s", dir);
		prog_warnerr(&e);
		return 1;
	}
	/* the transformer parallelises inside one call; the fast model across calls */
	c.threads = arxiv_model_threads_inside(model) ? 1 : (int)threads;
	c.model = model;
	c.n_labels = arxiv_model_nlabels(model);
	c.k = (size_t)k < c.n_labels ? (size_t)k : c.n_labels;
	if ((labels = calloc(c.n_labels, sizeof(*labels))) == NULL)
		errx(1, "out of memory");
	for (l = 0; l < c.n_labels; l++) {
		labels[l] = arxiv_model_label(model, l);
		arxiv_buf_printf(&c.known, "%s%s", l ? ", " : "", labels[l]);
	}
	if ((c.metrics = arxiv_metrics_new(c.n_labels, labels)) == NULL)
		errx(1, "out of memory");
	free(labels);
	b.r = calloc(BATCH, sizeof(*b.r));
	b.idx = calloc(BATCH, sizeof(*b.idx));
	b.pred = calloc(BATCH, sizeof(*b.pred));
	b.texts = calloc(BATCH, sizeof(*b.texts));
	b.lens = calloc(BATCH, sizeof(*b.lens));
	b.errs = calloc(BATCH, sizeof(*b.errs));
	if (b.r == NULL || b.idx == NULL || b.pred == NULL || b.texts == NULL || b.lens == NULL ||
	    b.errs == NULL)
		errx(1, "out of memory");

	for (i = 0; i < (argc ? argc : 1); i++) {
		/* a partial report would mislead: any unreadable input is fatal */
		if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL)
			goto done;
		rc = eval_file(&c, &b, fp, name);
		prog_close(fp);
		if (rc < 0)
			goto done;
	}
	flush_batch(&c, &b);
	if (c.skipped)
		warnx("skipped %zu records", c.skipped);

	if (report != NULL && write_report(&c, report) < 0)
		goto done;
	if ((table ? arxiv_metrics_table(c.metrics, &out) : arxiv_metrics_json(c.metrics, &out)) < 0)
		errx(1, "out of memory");
	fputs(out.data, stdout);
	if (!table)
		putchar('\n');
	status = prog_fshut();
done:
	for (l = 0; l < b.n; l++)
		free(b.r[l].text);
	arxiv_buf_free(&out);
	arxiv_buf_free(&c.known);
	arxiv_buf_free(&c.joined);
	arxiv_metrics_free(c.metrics);
	arxiv_model_free(model);
	free(b.r);
	free(b.idx);
	free(b.pred);
	free(b.texts);
	free(b.lens);
	free(b.errs);
	return status;
}

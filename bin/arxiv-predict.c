/*
 * arxiv-predict - apply trained artifacts to abstracts: one JSON line out per
 * line in (plain text, or JSONL with "abstract" [+ "title"] or "text"), in the
 * seed's response schema. A line that cannot be predicted gives an
 * {"error":..} line and a warning, so output and input always line up.
 */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>

#include "prog.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

#define BATCH 2048

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: arxiv-predict [-b] [-j threads] [-k k] -m dir [file ...]\n");
}

enum { O_VERSION = 256, O_HELP };

static const struct option longopts[] = {
	{ "batch", no_argument, NULL, 'b' },
	{ "threads", required_argument, NULL, 'j' },
	{ "top-k", required_argument, NULL, 'k' },
	{ "model", required_argument, NULL, 'm' },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

struct item {
	struct arxiv_buf raw;	/* the input line, parsed by the workers */
	int have_raw;
	struct arxiv_buf text;	/* the raw joined text */
	char err[200];		/* non-empty: this line's error */
	long line;
	struct arxiv_prediction pred;
	struct arxiv_buf out;
};

struct slice {
	struct pool *p;
	size_t begin, end;
};

struct pool {
	const struct arxiv_model *m;
	struct item *items;
	size_t n, k;
	int n_threads;
	/* a batch in flight (-b): its threads and the name of its input */
	int running, nt;
	pthread_t th[64];
	struct slice *sl;
	const char *name;
};


static void
error_json(struct arxiv_buf *out, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	arxiv_buf_clear(out);
	arxiv_buf_append(out, s ? s : "{\"error\":\"out of memory\"}",
	    strlen(s ? s : "{\"error\":\"out of memory\"}"));
	free(s);
	json_decref(o);
}

static void parse_line(struct item *it, const char *line, size_t len);

/* Predict one item alone (after a batch call failed, to find the bad one). */
static void
predict_one(const struct arxiv_model *m, struct item *it, size_t k)
{
	struct arxiv_error e = {0};
	const char *t = it->text.data;
	size_t len = it->text.len;

	if (arxiv_model_predict(m, &t, &len, 1, k, &it->pred, &e) < 0)
		snprintf(it->err, sizeof(it->err), "%s", e.text);
}

static void *
worker(void *arg)
{
	struct slice *s = arg;
	struct pool *p = s->p;
	const char *texts[BATCH];
	size_t lens[BATCH], idx[BATCH], n = 0, i, j;
	struct arxiv_prediction preds[64];
	struct arxiv_error e;

	/* parse the lines here, in parallel: JSON parsing costs as much as predicting */
	for (i = s->begin; i < s->end; i++)
		if (p->items[i].have_raw)
			parse_line(&p->items[i], p->items[i].raw.data ? p->items[i].raw.data : "",
			    p->items[i].raw.len);
	/* runs of valid items, predicted 64 at a time */
	for (i = s->begin; i <= s->end; i++) {
		if (i < s->end && p->items[i].err[0] == '\0') {
			idx[n] = i;
			texts[n] = p->items[i].text.data;
			lens[n] = p->items[i].text.len;
			n++;
			if (n < 64)
				continue;
		}
		if (n > 0) {
			if (arxiv_model_predict(p->m, texts, lens, n, p->k, preds, &e) == 0) {
				for (j = 0; j < n; j++)
					p->items[idx[j]].pred = preds[j];
			} else
				for (j = 0; j < n; j++)
					predict_one(p->m, &p->items[idx[j]], p->k);
			n = 0;
		}
	}
	for (i = s->begin; i < s->end; i++) {
		struct item *it = &p->items[i];
		if (it->err[0] == '\0' && arxiv_prediction_json(p->m, &it->pred, &it->out) < 0)
			snprintf(it->err, sizeof(it->err), "cannot format the prediction");
		if (it->err[0])
			error_json(&it->out, it->err);
	}
	return NULL;
}

/* Start predicting batch p on its threads; finish() waits and prints. */
static void
start(struct pool *p, const char *name)
{
	int t, nt = p->n_threads;

	if ((size_t)nt > p->n)
		nt = p->n ? (int)p->n : 1;
	p->nt = nt;
	p->name = name;
	p->running = 1;
	for (t = 0; t < nt; t++) {
		p->sl[t] = (struct slice){ p, p->n * (size_t)t / (size_t)nt,
		    p->n * (size_t)(t + 1) / (size_t)nt };
		if (nt == 1 || pthread_create(&p->th[t], NULL, worker, &p->sl[t]) != 0) {
			worker(&p->sl[t]);	/* one thread, or none to spare: inline */
			p->sl[t].p = NULL;
		}
	}
}

static size_t n_errors, n_predicted;

static int
finish(struct pool *p)
{
	size_t i;
	int t;

	if (!p->running)
		return 0;
	for (t = 0; t < p->nt; t++)
		if (p->sl[t].p != NULL)
			pthread_join(p->th[t], NULL);
	p->running = 0;
	for (i = 0; i < p->n; i++) {
		struct item *it = &p->items[i];
		if (it->err[0]) {
			warnx("%s:%ld: %s", p->name, it->line, it->err);
			n_errors++;
		} else
			n_predicted++;
		fwrite(it->out.data, 1, it->out.len, stdout);
		putchar('\n');
	}
	p->n = 0;
	return ferror(stdout) ? -1 : 0;
}

/* Fill it from one input line: plain text, or a JSON object. */
static void
parse_line(struct item *it, const char *line, size_t len)
{
	json_error_t je;
	json_t *o, *a, *t;
	size_t i = 0;

	arxiv_buf_clear(&it->text);
	it->err[0] = '\0';
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len) {
		snprintf(it->err, sizeof(it->err), "empty line");
		return;
	}
	if (line[i] != '{') {
		arxiv_buf_append(&it->text, line, len);
		return;
	}
	if ((o = json_loadb(line, len, 0, &je)) == NULL) {
		snprintf(it->err, sizeof(it->err), "invalid JSON: %s", je.text);
		return;
	}
	a = json_object_get(o, "abstract");
	t = json_object_get(o, "title");
	if (json_is_string(a) && (t == NULL || json_is_null(t) || json_is_string(t)))
		arxiv_text_join(json_string_value(t), json_string_value(a), &it->text);
	else if (a == NULL && json_is_string(json_object_get(o, "text")))
		arxiv_buf_append(&it->text, json_string_value(json_object_get(o, "text")),
		    strlen(json_string_value(json_object_get(o, "text"))));
	else
		snprintf(it->err, sizeof(it->err), "no string \"abstract\" or \"text\"");
	json_decref(o);
	if (it->err[0] == '\0' && it->text.len == 0)
		snprintf(it->err, sizeof(it->err), "empty text");
}

int
main(int argc, char *argv[])
{
	struct arxiv_model_opts mo = arxiv_model_default_opts();
	struct arxiv_error e = {0};
	struct arxiv_model *m;
	struct arxiv_lines *r;
	struct pool pools[2], *p, *q;
	const char *dir = NULL, *name, *line;
	size_t len, i, batch;
	int c, batch_mode = 0, threads = 0, status = 0, a, rc, verbose = 0, t;
	long k = 3;
	FILE *fp;

	while ((c = getopt_long(argc, argv, "bj:k:K:m:", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': batch_mode = 1; break;
		case 'j': threads = (int)prog_num(optarg, 0, 64, "thread count"); break;
		case 'k':
		case 'K': k = prog_num(optarg, 1, ARXIV_TOPK_MAX, "top-k"); break;
		case 'm': dir = optarg; break;
		case O_HELP:
			usage(stdout);
			return prog_fshut();
		case O_VERSION:
			printf("arxiv-predict %s\n", VERSION);
			return prog_fshut();
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (dir == NULL) {
		warnx("no model: give the artifacts directory with -m");
		usage(stderr);
		return 2;
	}
	arxiv_set_log(prog_log, &verbose);
	mo.threads = threads;
	if ((m = arxiv_model_load(dir, &mo, &e)) == NULL) {
		prog_warnerr(&e);
		return 1;
	}
	if (threads <= 0) {
		long nc = sysconf(_SC_NPROCESSORS_ONLN);
		threads = nc > 0 ? (int)(nc > 64 ? 64 : nc) : 1;
	}
	/* -b: two batches, one read while the other is predicted */
	batch = batch_mode ? BATCH : 1;
	for (i = 0; i < 2; i++) {
		pools[i] = (struct pool){ .m = m, .items = calloc(batch, sizeof(struct item)),
		    .k = (size_t)k, .n_threads = batch_mode ? threads : 1,
		    .sl = calloc(64, sizeof(struct slice)) };
		if (pools[i].items == NULL || pools[i].sl == NULL)
			errx(1, "out of memory");
	}
	p = &pools[0];

	for (a = 0; a < (argc ? argc : 1); a++) {
		if ((fp = prog_open(argc ? argv[a] : NULL, &name)) == NULL) {
			status = 1;
			continue;
		}
		if ((r = arxiv_lines_new(fp, name, 0)) == NULL)
			errx(1, "out of memory");
		while ((rc = arxiv_lines_next(r, &line, &len, &e)) != 0) {
			struct item *it = &p->items[p->n++];
			it->line = arxiv_lines_lineno(r);
			if (rc < 0) {
				if (arxiv_lines_ioerr(r)) {
					p->n--;
					prog_warnerr(&e);
					status = 1;
					break;
				}
				it->line = e.line;
				it->have_raw = 0;
				arxiv_buf_clear(&it->text);
				snprintf(it->err, sizeof(it->err), "%s", e.text);
			} else {
				it->have_raw = 1;
				arxiv_buf_clear(&it->raw);
				if (arxiv_buf_append(&it->raw, line, len) < 0)
					errx(1, "out of memory");
			}
			if (p->n == batch) {
				q = p == &pools[0] ? &pools[1] : &pools[0];
				if (finish(q) < 0)	/* the batch before, in order */
					goto out;
				start(p, name);
				if (!batch_mode && finish(p) < 0)
					goto out;
				p = q;
			}
		}
		/* the end of this input: everything out, in order */
		q = p == &pools[0] ? &pools[1] : &pools[0];
		if (finish(q) < 0)
			goto out;
		if (p->n > 0) {
			start(p, name);
			if (finish(p) < 0)
				goto out;
		}
		arxiv_lines_free(r);
		r = NULL;
		prog_close(fp);
	}
out:
	if (n_errors)
		warnx("%zu line%s without a prediction", n_errors, n_errors == 1 ? "" : "s");
	for (a = 0; a < 2; a++) {
		q = &pools[a];
		for (t = 0; t < q->nt && q->running; t++)	/* after a write error */
			if (q->sl[t].p != NULL)
				pthread_join(q->th[t], NULL);
		for (i = 0; i < batch; i++) {
			arxiv_buf_free(&q->items[i].raw);
			arxiv_buf_free(&q->items[i].text);
			arxiv_buf_free(&q->items[i].out);
		}
		free(q->items);
		free(q->sl);
	}
	arxiv_model_free(m);
	if (prog_fshut())
		return 1;
	/* lines in, not one answered: the model or its setup is broken */
	if (n_errors > 0 && n_predicted == 0)
		return 1;
	return status;
}

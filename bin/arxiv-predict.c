/*
 * arxiv-predict - apply trained artifacts to abstracts: one JSON line out per
 * line in (plain text, or a JSON record whose text arxiv_record_text finds:
 * "text", else "title" + "abstract"), in the seed's response schema. A line that cannot be predicted gives an
 * {"error":..} line and a warning, so output and input always line up.
 */
#include <jansson.h>

#include "prog.h"

#define BATCH 2048

enum { O_THREADS = 256, O_INPUT, O_EXPLAIN, O_MINCONF, O_OOD };

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "batch", no_argument, NULL, 'b' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "top-k", required_argument, NULL, 'K' },
	{ "keep-going", no_argument, NULL, 'k' },
	{ "input", required_argument, NULL, O_INPUT },
	{ "explain", required_argument, NULL, O_EXPLAIN },
	{ "min-confidence", required_argument, NULL, O_MINCONF },
	{ "ood-threshold", required_argument, NULL, O_OOD },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "model", "dir", "the artifacts directory (arxiv-train -o)", 1 },
	{ "batch", NULL, "read and predict in batches of 2048 lines on all threads", 0 },
	{ "jobs", "threads", "threads for -b (default: all cores)", 0 },
	{ "top-k", "k", "labels per answer, best first (default: 3)", 0 },
	{ "keep-going", NULL, "the default: a bad line gets an {\"error\":...} line, the rest go on", 0 },
	{ "input", "text|jsonl|auto", "text, jsonl, or auto (default): a line that is a JSON object is a record", 0 },
	{ "explain", "n", "add the n terms that weighed most for the answer (0..16)", 0 },
	{ "min-confidence", "p", "answer \"Other\" when the top probability is below p (default 0)", 0 },
	{ "ood-threshold", "p", "answer \"Other\" when P(in domain) < p (default: the model's; 0: off)", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog_deprecated deprecated[] = {
	{ O_THREADS, 'j', "--threads", "--jobs (-j)" },
	{ 'k' + 1000, 'K', "-k N (top-k)", "-K N (-k alone is --keep-going)" },
	{ 0, 0, NULL, NULL }
};

static const struct prog P = {
	"arxiv-predict", "[file ...]",
	"Predict the field of each input line (plain text, or JSONL): one JSON answer per line.",
	"hVm:bj:K:k", longopts, help, deprecated
};

/*
 * The old -k N (top-k) before getopt: -k followed by a number, as its own word
 * ("-k 3") or attached ("-k3"), becomes -K N with a warning. -k alone is
 * --keep-going, as in every arxiv program.
 */
static void
old_topk(int argc, char *argv[])
{
	static char K[] = "-K";
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-k") == 0 && i + 1 < argc &&
		    argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9' &&
		    argv[i + 1][strspn(argv[i + 1], "0123456789")] == '\0') {
			prog_deprecated("-k N (top-k)", "-K N (-k alone is --keep-going)");
			argv[i] = K;
		} else if (strncmp(argv[i], "-k", 2) == 0 && argv[i][2] >= '0' && argv[i][2] <= '9') {
			prog_deprecated("-k N (top-k)", "-K N (-k alone is --keep-going)");
			argv[i][1] = 'K';
		}
	}
}

struct item {
	struct arxiv_buf raw;	/* the input line, parsed in flush() */
	int have_raw;
	struct arxiv_buf text;	/* the raw joined text */
	char err[200];		/* non-empty: this line's error */
	long line;
	struct arxiv_answer ans;
	struct arxiv_buf out;
};

/* A batch of lines (-b: BATCH, else 1), answered on jobs threads in parts of
 * 64 lines (answer_part); the good lines' texts and answers, by part. */
struct batch {
	const struct arxiv_model *m;
	struct item *items;
	size_t n;
	struct arxiv_answer_opts ao;	/* k, explanation terms, abstaining */
	int jobs;
	const char **texts;
	size_t *lens, *idx;		/* idx: the item of the j-th text */
	struct arxiv_answer *ans;
	struct arxiv_error *errs;
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

static size_t n_errors, n_predicted;

/*
 * Items [from, to) of the batch (arxiv_parallel_for's fn, on any thread):
 * parse the lines, answer the good ones in one model call (the slice's
 * entries of texts, lens, idx, ans and errs are this part's alone), format
 * every answer. Chunks are fixed by item index, so answers do not depend
 * on -j.
 */
static void
answer_part(void *ud, size_t from, size_t to)
{
	struct batch *b = ud;
	struct item *it;
	size_t i, j, nv = 0;
	long failed;

	for (i = from; i < to; i++) {
		it = &b->items[i];
		if (it->have_raw)
			parse_line(it, it->raw.data ? it->raw.data : "", it->raw.len);
		if (it->err[0] == '\0') {
			b->idx[from + nv] = i;
			b->texts[from + nv] = it->text.data;
			b->lens[from + nv] = it->text.len;
			nv++;
		}
	}
	failed = nv ? arxiv_model_answer_many(b->m, b->texts + from, b->lens + from, nv, &b->ao,
	    nv, 1, b->ans + from, b->errs + from) : 0;
	for (j = 0; j < nv; j++) {
		it = &b->items[b->idx[from + j]];
		if (failed < 0 || b->errs[from + j].text[0] != '\0')
			snprintf(it->err, sizeof(it->err), "%s",
			    b->errs[from + (failed < 0 ? 0 : j)].text);
		else
			it->ans = b->ans[from + j];
	}
	for (i = from; i < to; i++) {
		it = &b->items[i];
		if (it->err[0] == '\0' && arxiv_answer_json(b->m, &it->ans, &it->out) < 0)
			snprintf(it->err, sizeof(it->err), "cannot format the prediction");
		if (it->err[0])
			error_json(&it->out, it->err);
	}
}

/* Answer the batch on jobs threads (parsing and formatting included), then
 * print every line's answer or error in order. */
static int
flush(struct batch *b, const char *name)
{
	struct item *it;
	size_t i;

	if (b->n == 0)
		return 0;
	arxiv_parallel_for(b->n, 64, b->jobs, answer_part, b);
	for (i = 0; i < b->n; i++) {
		it = &b->items[i];
		if (it->err[0]) {
			warnx("%s:%ld: %s", name, it->line, it->err);
			n_errors++;
		} else
			n_predicted++;
		fwrite(it->out.data, 1, it->out.len, stdout);
		putchar('\n');
	}
	b->n = 0;
	return ferror(stdout) ? -1 : 0;
}

/* --input: how a line is read */
enum { IN_AUTO, IN_TEXT, IN_JSONL };
static int input_mode = IN_AUTO;

/*
 * Fill it from one input line: plain text, or a JSON record whose text
 * arxiv_record_text finds (the rule eval, embed and serve use too). In auto
 * mode a line is a record when it parses as a JSON object, else plain text
 * (an abstract may begin with a brace: "{\AE}therFlow: ...").
 */
static void
parse_line(struct item *it, const char *line, size_t len)
{
	struct arxiv_error e = { "", 0, "" };
	json_error_t je;
	json_t *o = NULL;
	size_t i = 0;

	arxiv_buf_clear(&it->text);
	it->err[0] = '\0';
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len) {
		snprintf(it->err, sizeof(it->err), "empty line");
		return;
	}
	if (input_mode == IN_JSONL || (input_mode == IN_AUTO && line[i] == '{')) {
		o = json_loadb(line, len, 0, &je);
		if (input_mode == IN_JSONL && o == NULL) {
			snprintf(it->err, sizeof(it->err), "invalid JSON: %s", je.text);
			return;
		}
		if (input_mode == IN_AUTO && !json_is_object(o)) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o == NULL) {
		arxiv_buf_append(&it->text, line, len);
		return;
	}
	if (arxiv_record_text((const struct json_t *)o, &it->text, &e) < 0)
		snprintf(it->err, sizeof(it->err), "%s", e.text);
	json_decref(o);
}

int
main(int argc, char *argv[])
{
	struct arxiv_model_opts mo = arxiv_model_default_opts();
	struct arxiv_answer_opts ao = arxiv_answer_default_opts();
	struct arxiv_error e = {0};
	struct arxiv_model *m;
	struct arxiv_lines *r;
	struct batch b;
	const char *dir = NULL, *name, *line;
	size_t len, i, batch;
	int c, batch_mode = 0, threads = 0, status = 0, a, rc, verbose = 0;
	long k = 3;
	FILE *fp;

	old_topk(argc, argv);
	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case 'b': batch_mode = 1; break;
		case 'j': threads = (int)prog_num(optarg, 0, 64, "thread count"); break;
		case 'K': k = prog_num(optarg, 1, ARXIV_TOPK_MAX, "top-k"); break;
		case 'k': break;	/* what arxiv-predict always does */
		case 'm': dir = optarg; break;
		case O_INPUT:
			if (strcmp(optarg, "auto") == 0)
				input_mode = IN_AUTO;
			else if (strcmp(optarg, "text") == 0)
				input_mode = IN_TEXT;
			else if (strcmp(optarg, "jsonl") == 0)
				input_mode = IN_JSONL;
			else {
				warnx("%s: unknown input format (text, jsonl or auto)", optarg);
				prog_usage(&P, stderr);
				return 2;
			}
			break;
		case O_EXPLAIN:
			ao.explain = (size_t)prog_num(optarg, 0, ARXIV_EXPLAIN_MAX, "explanation term count");
			break;
		case O_MINCONF: ao.min_confidence = prog_real(optarg, 0, 1, "minimum confidence"); break;
		case O_OOD: ao.ood_threshold = prog_real(optarg, 0, 1, "OOD threshold"); break;
		}
	}
	argc -= optind;
	argv += optind;
	if (dir == NULL) {
		warnx("no model: give the artifacts directory with -m");
		prog_usage(&P, stderr);
		return 2;
	}
	arxiv_set_log(prog_log, &verbose);
	mo.threads = threads;
	if ((m = arxiv_model_load(dir, &mo, &e)) == NULL) {
		prog_warnerr(&e);
		return 1;
	}
	ao.k = (size_t)k;
	batch = batch_mode ? BATCH : 1;
	b = (struct batch){ .m = m, .ao = ao, .jobs = batch_mode ? threads : 1,
	    .items = calloc(batch, sizeof(struct item)), .texts = calloc(batch, sizeof(char *)),
	    .lens = calloc(batch, sizeof(size_t)), .idx = calloc(batch, sizeof(size_t)),
	    .ans = calloc(batch, sizeof(struct arxiv_answer)),
	    .errs = calloc(batch, sizeof(struct arxiv_error)) };
	if (b.items == NULL || b.texts == NULL || b.lens == NULL || b.idx == NULL ||
	    b.ans == NULL || b.errs == NULL)
		errx(1, "out of memory");

	for (a = 0; a < (argc ? argc : 1); a++) {
		if ((fp = prog_open(argc ? argv[a] : NULL, &name)) == NULL) {
			status = 1;
			continue;
		}
		if ((r = arxiv_lines_new(fp, name, 0)) == NULL)
			errx(1, "out of memory");
		while ((rc = arxiv_lines_next(r, &line, &len, &e)) != 0) {
			struct item *it = &b.items[b.n++];
			it->line = arxiv_lines_lineno(r);
			if (rc < 0) {
				if (arxiv_lines_ioerr(r)) {
					b.n--;
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
			if (b.n == batch && flush(&b, name) < 0)
				goto out;
		}
		/* the end of this input: everything out, in order */
		if (flush(&b, name) < 0)
			goto out;
		arxiv_lines_free(r);
		r = NULL;
		prog_close(fp);
	}
out:
	if (n_errors)
		warnx("%zu line%s without a prediction", n_errors, n_errors == 1 ? "" : "s");
	for (i = 0; i < batch; i++) {
		arxiv_buf_free(&b.items[i].raw);
		arxiv_buf_free(&b.items[i].text);
		arxiv_buf_free(&b.items[i].out);
	}
	free(b.items);
	free(b.texts);
	free(b.lens);
	free(b.idx);
	free(b.ans);
	free(b.errs);
	arxiv_model_free(m);
	if (prog_fshut())
		return 1;
	/* lines in, not one answered: the model or its setup is broken */
	if (n_errors > 0 && n_predicted == 0)
		return 1;
	return status;
}

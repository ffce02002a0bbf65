/*
 * arxiv-embed - one pooled embedding per input line from a transformer model's
 * artifacts: raw text lines, or JSONL records with "text" (else "title" and
 * "abstract", joined as arxiv-map joins them) and an optional "id".
 *
 * Output (-f bin, the default): a little-endian binary stream, written field
 * by field:
 *
 *   offset size  field
 *   0      8     magic "\x89AXE\r\n\x1a\n"
 *   8      4     version (1)
 *   12     4     header_size (32; readers skip to it)
 *   16     4     dim (floats per vector)
 *   20     4     flags (0)
 *   24     8     count (0 = unknown, read to EOF; filled in when the output
 *                is a seekable file)
 *   32     ...   count records of dim IEEE-754 float32
 *
 * -f jsonl writes {"id":..,"embedding":[..]} lines instead ("id" only when the
 * input record had one). Vectors come out in input order, one per line.
 *
 * -e DIR embeds with an embedder directory (arxiv_embedder_load: the lexical
 * embedder that --learn DIR makes from the input, or an encoder folder) and
 * writes the vector stream of arxiv-vectors(5) instead: id, title, field and
 * categories of each JSONL record with its vector, for arxiv-index.
 */
#include <math.h>
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>

#include "arxiv.h"
#include "prog.h"

#define EMBED_MAGIC "\x89" "AXE\r\n\x1a\n"
#define EMBED_VERSION 1
#define EMBED_HEADER 32

enum { O_SKIP = 256, O_THREADS };

static const struct option opts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "embedder", required_argument, NULL, 'e' },
	{ "learn", required_argument, NULL, 'L' + 256 },
	{ "dim", required_argument, NULL, 'd' + 256 },
	{ "max-tokens", required_argument, NULL, 'M' + 256 },
	{ "format", required_argument, NULL, 'f' },
	{ "batch", required_argument, NULL, 'b' },
	{ "device", required_argument, NULL, 'D' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "keep-going", no_argument, NULL, 'k' },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "skip", no_argument, NULL, O_SKIP },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "model", "dir", "artifacts of a transformer model (arxiv-train -M bert)", 0 },
	{ "embedder", "dir", "an embedder directory (lexical, or an encoder folder): write the vector stream of arxiv-vectors(5) for arxiv-index", 0 },
	{ "learn", "dir", "learn a lexical embedder from the input into dir", 0 },
	{ "dim", "n", "dimensions of the lexical embedder (--learn; default: 256)", 0 },
	{ "max-tokens", "n", "encoders: truncate to n tokens (default: the model's limit)", 0 },
	{ "format", "bin|jsonl", "bin (little-endian float32 stream, default) or jsonl", 0 },
	{ "batch", "batch", "texts per forward pass (default: 32)", 0 },
	{ "device", "device", "auto, cpu, cuda, cuda:N or mps (default: auto)", 0 },
	{ "jobs", "threads", "CPU threads (default: all cores; -e: 2)", 0 },
	{ "keep-going", NULL, "skip bad lines with a warning, count them", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog_deprecated deprecated[] = {
	{ 't', 'j', "-t", "-j" },
	{ O_THREADS, 'j', "--threads", "--jobs (-j)" },
	{ O_SKIP, 'k', "--skip", "--keep-going (-k)" },
	{ 0, 0, NULL, NULL }
};

static const struct prog P = {
	"arxiv-embed", "[file ...]",
	"Write one pooled embedding per input line (text, or JSONL with \"text\" or\n"
	"\"title\"/\"abstract\" and an optional \"id\").",
	"hVm:e:f:b:D:j:kt:", opts, help, deprecated
};

struct item {
	long line;
	char *text;
	size_t len;
	char *id;
};

struct state {
	struct arxiv_model *m;
	size_t dim, batch, n;
	int jsonl, skip;
	long skipped;
	uint64_t count;
	struct item *items;
	float *vec;
};

static void
put_u32(uint32_t v)
{
	unsigned char b[4] = { v & 255, (v >> 8) & 255, (v >> 16) & 255, v >> 24 };

	fwrite(b, 1, 4, stdout);
}

static void
put_u64(uint64_t v)
{
	put_u32((uint32_t)v);
	put_u32((uint32_t)(v >> 32));
}

static void
put_f32(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	put_u32(u);
}

static int
dump_cb(const char *buf, size_t size, void *data)
{
	return fwrite(buf, 1, size, data) == size ? 0 : -1;
}

static void
clear_items(struct state *st)
{
	size_t i;

	for (i = 0; i < st->n; i++) {
		free(st->items[i].text);
		free(st->items[i].id);
	}
	st->n = 0;
}

/* Embed and write the pending batch. */
static int
flush_batch(struct state *st, const char *name)
{
	const char **texts;
	size_t *lens, i, j;
	struct arxiv_error e = {0};
	int rc = 0;

	if (st->n == 0)
		return 0;
	texts = calloc(st->n, sizeof(*texts));
	lens = calloc(st->n, sizeof(*lens));
	if (texts == NULL || lens == NULL)
		errx(1, "out of memory");
	for (i = 0; i < st->n; i++) {
		texts[i] = st->items[i].text;
		lens[i] = st->items[i].len;
	}
	if (arxiv_model_embed(st->m, texts, lens, st->n, st->vec, &e) < 0) {
		if (e.line > 0 && (size_t)e.line <= st->n)
			warnx("%s:%ld: %s", name, st->items[e.line - 1].line, e.text);
		else
			prog_warnerr(&e);
		rc = -1;
		goto out;
	}
	for (i = 0; i < st->n; i++) {
		const float *v = st->vec + i * st->dim;
		if (!st->jsonl) {
			for (j = 0; j < st->dim; j++)
				put_f32(v[j]);
			continue;
		}
		fputs("{", stdout);
		if (st->items[i].id != NULL) {
			json_t *s = json_string(st->items[i].id);
			fputs("\"id\":", stdout);
			json_dump_callback(s, dump_cb, stdout, JSON_ENCODE_ANY);
			json_decref(s);
			fputs(",", stdout);
		}
		fputs("\"embedding\":[", stdout);
		for (j = 0; j < st->dim; j++)	/* never NaN/Inf into JSON */
			printf(isfinite(v[j]) ? (j ? ",%.9g" : "%.9g") : (j ? ",null" : "null"),
			    (double)v[j]);
		fputs("]}\n", stdout);
	}
	st->count += st->n;
out:
	clear_items(st);
	free(texts);
	free(lens);
	return rc;
}

/* The text (and id) of one input line into *it; -1 with a message in why. */
static int
parse_line(const char *line, size_t len, struct item *it, char *why, size_t n)
{
	struct arxiv_buf b = {0};
	struct arxiv_error e = { "", 0, "" };
	json_error_t je;
	json_t *o, *v;
	size_t i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len) {
		snprintf(why, n, "empty line");
		return -1;
	}
	if (line[i] != '{') {
		if ((it->text = malloc(len + 1)) == NULL)
			errx(1, "out of memory");
		memcpy(it->text, line, len + 1);
		it->len = len;
		return 0;
	}
	if ((o = json_loadb(line, len, 0, &je)) == NULL || !json_is_object(o)) {
		snprintf(why, n, "invalid JSON: %s", o ? "not an object" : je.text);
		json_decref(o);
		return -1;
	}
	/* the text predict, eval and serve would take (arxiv_record_text) */
	if (arxiv_record_text((const struct json_t *)o, &b, &e) < 0) {
		snprintf(why, n, "%s", e.text);
		json_decref(o);
		arxiv_buf_free(&b);
		return -1;
	}
	it->text = b.data;
	it->len = b.len;
	if (json_is_string(v = json_object_get(o, "id")) && (it->id = strdup(json_string_value(v))) == NULL)
		errx(1, "out of memory");
	json_decref(o);
	return 0;
}

/*
 * The input loop of both modes: each line of fp goes to take (ud, the line,
 * its number; 0, or -1 with why: a bad record, skipped and counted with -k,
 * else the end); a taken record then goes to use (0, or -1 to stop: reported
 * by use). An I/O error stops the loop. 0, or -1 when it stopped early.
 */
static int
read_records(FILE *fp, const char *name, int skip, long *skipped,
    int (*take)(void *ud, const char *line, size_t len, long ln, char *why, size_t n),
    int (*use)(void *ud, const char *name), void *ud)
{
	struct arxiv_lines *r = arxiv_lines_new(fp, name, 0);
	struct arxiv_error e = {0};
	const char *line;
	size_t len;
	char why[200];
	int rc = 0, got;
	long ln;

	if (r == NULL)
		errx(1, "out of memory");
	while ((got = arxiv_lines_next(r, &line, &len, &e)) != 0) {
		ln = arxiv_lines_lineno(r);
		if (got < 0) {
			if (arxiv_lines_ioerr(r)) {
				prog_warnerr(&e);
				rc = -1;
				break;
			}
			snprintf(why, sizeof(why), "%s", e.text);
		}
		if (got < 0 || take(ud, line, len, ln, why, sizeof(why)) < 0) {
			warnx("%s:%ld: %s", name, ln, why);
			if (!skip) {
				rc = -1;
				break;
			}
			(*skipped)++;
			continue;
		}
		if (use(ud, name) < 0) {
			rc = -1;
			break;
		}
	}
	arxiv_lines_free(r);
	return rc;
}

static int
take_item(void *ud, const char *line, size_t len, long ln, char *why, size_t n)
{
	struct state *st = ud;
	struct item *it = &st->items[st->n];

	memset(it, 0, sizeof(*it));
	it->line = ln;
	return parse_line(line, len, it, why, n);
}

static int
use_item(void *ud, const char *name)
{
	struct state *st = ud;

	return ++st->n == st->batch && flush_batch(st, name) < 0 ? -1 : 0;
}

static int
embed_file(struct state *st, FILE *fp, const char *name)
{
	int rc = read_records(fp, name, st->skip, &st->skipped, take_item, use_item, st);

	if (rc == 0 && flush_batch(st, name) < 0)
		rc = -1;
	clear_items(st);
	return rc;
}

/* ------------------------------------------------ -e and --learn: papers */

struct paper {
	long line;
	struct arxiv_buf text, id, title, field, cats;
};

struct vstate {
	struct arxiv_embedder *e;		/* -e */
	struct arxiv_lexical_learner *learn;	/* --learn */
	struct arxiv_vec_writer *w;
	struct arxiv_domains *dom;		/* field of raw records, loaded on first need */
	size_t dim, batch, n;
	int skip, threads;
	long skipped;
	uint64_t count;
	struct paper *p;
	float *vec;
};

static int
set_str(struct arxiv_buf *b, const char *s, size_t n)
{
	arxiv_buf_clear(b);
	if (arxiv_buf_append(b, s, n) < 0 || arxiv_buf_putc(b, '\0') < 0)
		errx(1, "out of memory");
	b->len = n;
	return 0;
}

/*
 * One JSONL record into *p: the text as arxiv-embed -m takes it; the id (required
 * for the vector stream); the title ("title", else the first line of "text", as
 * arxiv-map writes it); the field ("label" of arxiv-map, else "field", else the
 * primary category's field in the shipped table); the categories (a string, or
 * arxiv-map's array) as one space-separated string.
 */
static int
parse_paper(struct vstate *st, const char *line, size_t len, struct paper *p, int need_id, char *why,
    size_t n)
{
	json_error_t je;
	json_t *o, *v, *t, *c;
	const char *ttl;
	size_t i;

	if ((o = json_loadb(line, len, 0, &je)) == NULL || !json_is_object(o)) {
		snprintf(why, n, "invalid JSON: %s", o ? "not an object" : je.text);
		json_decref(o);
		return -1;
	}
	arxiv_buf_clear(&p->text);
	t = json_object_get(o, "title");
	if (json_is_string(v = json_object_get(o, "text"))) {
		set_str(&p->text, json_string_value(v), json_string_length(v));
	} else if (json_is_string(v = json_object_get(o, "abstract"))) {
		if (arxiv_text_join(json_is_string(t) ? json_string_value(t) : "", json_string_value(v),
		    &p->text) < 0)
			errx(1, "out of memory");
	} else {
		snprintf(why, n, "no \"text\" or \"abstract\" string");
		goto bad;
	}
	v = json_object_get(o, "id");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > ARXIV_VEC_MAX_ID || strlen(json_string_value(v)) != json_string_length(v)) {
		if (need_id) {
			snprintf(why, n, "no \"id\" string (1..%d bytes, no NUL)", ARXIV_VEC_MAX_ID);
			goto bad;
		}
		set_str(&p->id, "", 0);
	} else
		set_str(&p->id, json_string_value(v), json_string_length(v));
	if (json_is_string(t))
		set_str(&p->title, json_string_value(t), json_string_length(t));
	else {
		ttl = p->text.data ? p->text.data : "";
		set_str(&p->title, ttl, p->text.len && strchr(ttl, '\n') ? (size_t)(strchr(ttl, '\n') - ttl) :
		    p->text.len);
	}
	arxiv_buf_clear(&p->cats);
	c = json_object_get(o, "categories");
	if (json_is_string(c))
		set_str(&p->cats, json_string_value(c), json_string_length(c));
	else if (json_is_array(c)) {
		for (i = 0; i < json_array_size(c); i++)
			if (json_is_string(json_array_get(c, i)) &&
			    arxiv_buf_printf(&p->cats, "%s%s", p->cats.len ? " " : "",
			    json_string_value(json_array_get(c, i))) < 0)
				errx(1, "out of memory");
	} else
		set_str(&p->cats, "", 0);
	if (json_is_string(v = json_object_get(o, "label")) || json_is_string(v = json_object_get(o, "field")))
		set_str(&p->field, json_string_value(v), json_string_length(v));
	else if (p->cats.len) {
		struct arxiv_error e = { "", 0, "" };
		char path[4096];

		if (st->dom == NULL &&
		    (st->dom = arxiv_domains_load(arxiv_data_path("domains.tsv", path, sizeof(path)), &e)) == NULL) {
			prog_warnerr(&e);
			exit(1);
		}
		ttl = arxiv_domains_lookup(st->dom, p->cats.data, strcspn(p->cats.data, " "));
		set_str(&p->field, ttl, strlen(ttl));
	} else
		set_str(&p->field, "", 0);
	if (p->title.len > ARXIV_VEC_MAX_TITLE || p->field.len > ARXIV_VEC_MAX_FIELD ||
	    p->cats.len > ARXIV_VEC_MAX_CATEGORIES) {
		snprintf(why, n, "title, field or categories too long for the vector stream");
		goto bad;
	}
	json_decref(o);
	return 0;
bad:
	json_decref(o);
	return -1;
}

static int
flush_papers(struct vstate *st, const char *name)
{
	const char *texts[4096];
	size_t lens[4096], i;
	struct arxiv_error e = { "", 0, "" };

	if (st->n == 0 || st->learn)
		return 0;
	for (i = 0; i < st->n; i++) {
		texts[i] = st->p[i].text.data ? st->p[i].text.data : "";
		lens[i] = st->p[i].text.len;
	}
	if (arxiv_embedder_embed_many(st->e, texts, lens, st->n, st->threads > 16 ? 16 : st->threads,
	    st->vec, &e) < 0) {
		size_t at = e.line > 0 && (size_t)e.line <= st->n ? (size_t)e.line - 1 : 0;

		warnx("%s:%ld: %s", name, st->p[at].line, e.text);
		return -1;
	}
	for (i = 0; i < st->n; i++) {
		struct paper *p = &st->p[i];
		struct arxiv_vecrec r = { p->id.data, p->title.data, p->field.data, p->cats.data,
			p->id.len, p->title.len, p->field.len, p->cats.len, st->vec + i * st->dim };

		if (arxiv_vec_write(st->w, &r, &e) < 0) {
			warnx("%s:%ld: %s", name, p->line, e.text);
			return -1;
		}
	}
	st->count += st->n;
	st->n = 0;
	return 0;
}

static int
take_paper(void *ud, const char *line, size_t len, long ln, char *why, size_t n)
{
	struct vstate *st = ud;
	struct paper *p = &st->p[st->n];

	p->line = ln;
	return parse_paper(st, line, len, p, st->learn == NULL, why, n);
}

static int
use_paper(void *ud, const char *name)
{
	struct vstate *st = ud;
	struct paper *p = &st->p[st->n];
	struct arxiv_error e = { "", 0, "" };

	if (st->learn) {
		if (arxiv_lexical_add(st->learn, p->text.data ? p->text.data : "", p->text.len, &e) < 0) {
			warnx("%s:%ld: %s", name, p->line, e.text);
			return -1;
		}
		st->count++;
		return 0;
	}
	return ++st->n == st->batch && flush_papers(st, name) < 0 ? -1 : 0;
}

static int
papers_file(struct vstate *st, FILE *fp, const char *name)
{
	int rc = read_records(fp, name, st->skip, &st->skipped, take_paper, use_paper, st);

	if (rc == 0 && flush_papers(st, name) < 0)
		rc = -1;
	st->n = 0;
	return rc;
}

/* arxiv-embed -e dir, or --learn dir: returns the exit status. */
static int
run_papers(const char *edir, const char *learn, size_t dim, int jsonl, int skip, int threads,
    size_t batch, const struct arxiv_model_opts *mo, int argc, char **argv)
{
	struct arxiv_embedder_opts eo = arxiv_embedder_default_opts();
	struct arxiv_error e = { "", 0, "" };
	struct vstate st;
	const char *name;
	static char obuf[1 << 16];
	int i, status = 0;
	FILE *fp;

	memset(&st, 0, sizeof(st));
	st.skip = skip;
	st.threads = threads > 0 ? threads : 2;
	st.batch = batch < 256 ? 256 : batch > 4096 ? 4096 : batch;
	if (learn) {
		struct arxiv_lexical_params lp = arxiv_lexical_default_params();

		if (dim)
			lp.dim = dim;
		if (lp.sketch && lp.dim * 2 > lp.sketch)
			lp.sketch = lp.dim * 2 > 8192 ? 8192 : lp.dim * 2;
		if ((st.learn = arxiv_lexical_learner_new(&lp, &e)) == NULL) {
			prog_warnerr(&e);
			return 1;
		}
	} else {
		eo.device = mo->device;
		eo.threads = mo->threads;
		eo.max_tokens = mo->max_tokens;
		if ((st.e = arxiv_embedder_load(edir, &eo, &e)) == NULL) {
			prog_warnerr(&e);
			return 1;
		}
		st.dim = arxiv_embedder_dim(st.e);
		setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
		if ((st.w = arxiv_vec_create(stdout, st.dim, arxiv_embedder_id(st.e), arxiv_embedder_dir(st.e),
		    jsonl, &e)) == NULL) {
			prog_warnerr(&e);
			return 1;
		}
	}
	if ((st.p = calloc(st.batch, sizeof(*st.p))) == NULL ||
	    (st.vec = calloc(st.batch * (st.dim ? st.dim : 1), sizeof(float))) == NULL)
		errx(1, "out of memory");
	for (i = 0; i < (argc ? argc : 1); i++) {
		if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL) {
			status = 1;
			break;
		}
		if (papers_file(&st, fp, name) < 0)
			status = 1;
		prog_close(fp);
		if (status)
			break;
	}
	if (st.skipped)
		warnx("skipped %ld record%s", st.skipped, st.skipped == 1 ? "" : "s");
	if (st.learn && status == 0) {
		if (arxiv_lexical_save(st.learn, learn, &e) < 0) {
			prog_warnerr(&e);
			status = 1;
		} else
			warnx("%s: lexical embedder learnt from %llu documents", learn,
			    (unsigned long long)st.count);
	}
	if (st.w && arxiv_vec_finish(st.w, &e) < 0 && status == 0) {
		warnx("write error");
		status = 1;
	}
	for (i = 0; i < (int)st.batch; i++) {
		arxiv_buf_free(&st.p[i].text);
		arxiv_buf_free(&st.p[i].id);
		arxiv_buf_free(&st.p[i].title);
		arxiv_buf_free(&st.p[i].field);
		arxiv_buf_free(&st.p[i].cats);
	}
	free(st.p);
	free(st.vec);
	arxiv_domains_free(st.dom);
	arxiv_lexical_learner_free(st.learn);
	arxiv_embedder_free(st.e);
	if (prog_fshut())
		status = 1;
	return status;
}

int
main(int argc, char *argv[])
{
	struct arxiv_model_opts mo = arxiv_model_default_opts();
	struct arxiv_error e = {0};
	struct state st;
	const char *dir = NULL, *edir = NULL, *learn = NULL, *name;
	size_t ldim = 0;
	int batch_set = 0;
	static char obuf[1 << 16];
	off_t start = -1;
	int c, i, status = 0, verbose = 0;
	FILE *fp;

	memset(&st, 0, sizeof(st));
	st.batch = 32;
	arxiv_set_log(prog_log, &verbose);
	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case 'm': dir = optarg; break;
		case 'e': edir = optarg; break;
		case 'L' + 256: learn = optarg; break;
		case 'd' + 256: ldim = (size_t)prog_num(optarg, 1, ARXIV_VEC_MAX_DIM, "dimension"); break;
		case 'M' + 256: mo.max_tokens = (size_t)prog_num(optarg, 2, 65536, "token count"); break;
		case 'f':
			if (strcmp(optarg, "bin") == 0)
				st.jsonl = 0;
			else if (strcmp(optarg, "jsonl") == 0)
				st.jsonl = 1;
			else {
				warnx("%s: unknown format (bin or jsonl)", optarg);
				prog_usage(&P, stderr);
				return 2;
			}
			break;
		case 'b': st.batch = (size_t)prog_num(optarg, 1, 4096, "batch size"); batch_set = 1; break;
		case 'D': mo.device = optarg; break;
		case 'j': mo.threads = (int)prog_num(optarg, 0, 1024, "thread count"); break;
		case 'k': st.skip = 1; break;
		}
	}
	argc -= optind;
	argv += optind;
	if ((dir != NULL) + (edir != NULL) + (learn != NULL) > 1) {
		warnx("-m, -e and --learn exclude each other");
		prog_usage(&P, stderr);
		return 2;
	}
	if (edir || learn)
		return run_papers(edir, learn, ldim, st.jsonl, st.skip, mo.threads,
		    batch_set ? st.batch : 1024, &mo, argc, argv);
	if (dir == NULL) {
		warnx("no model: -m dir, -e dir or --learn dir is required");
		prog_usage(&P, stderr);
		return 2;
	}
	if ((st.m = arxiv_model_load(dir, &mo, &e)) == NULL) {
		prog_warnerr(&e);
		return 1;
	}
	if ((st.dim = arxiv_model_dim(st.m)) == 0)
		errx(1, "%s: a %s model has no embeddings (train one with -M bert)", dir,
		    arxiv_model_type(st.m));
	if ((st.items = calloc(st.batch, sizeof(*st.items))) == NULL ||
	    (st.vec = calloc(st.batch * st.dim, sizeof(float))) == NULL)
		errx(1, "out of memory");
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	if (!st.jsonl) {
		start = ftello(stdout);
		fwrite(EMBED_MAGIC, 1, 8, stdout);
		put_u32(EMBED_VERSION);
		put_u32(EMBED_HEADER);
		put_u32((uint32_t)st.dim);
		put_u32(0);
		put_u64(0);
	}
	for (i = 0; i < (argc ? argc : 1); i++) {
		if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL) {
			status = 1;
			break;
		}
		c = embed_file(&st, fp, name);
		prog_close(fp);
		if (c) {
			status = 1;
			break;
		}
	}
	/* a seekable output gets its record count filled in */
	if (!st.jsonl && start >= 0 && fflush(stdout) == 0 && fseeko(stdout, start + 24, SEEK_SET) == 0) {
		put_u64(st.count);
		fseeko(stdout, 0, SEEK_END);
	}
	if (st.skipped)
		warnx("skipped %ld record%s", st.skipped, st.skipped == 1 ? "" : "s");
	arxiv_model_free(st.m);
	free(st.items);
	free(st.vec);
	if (prog_fshut())
		status = 1;
	return status;
}

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
	{ "model", "dir", "artifacts of a transformer model (arxiv-train -M bert)", 1 },
	{ "format", "bin|jsonl", "bin (little-endian float32 stream, default) or jsonl", 0 },
	{ "batch", "batch", "texts per forward pass (default: 32)", 0 },
	{ "device", "device", "auto, cpu, cuda, cuda:N or mps (default: auto)", 0 },
	{ "jobs", "threads", "CPU threads (default: all cores)", 0 },
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
	"hVm:f:b:D:j:kt:", opts, help, deprecated
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

static int
embed_file(struct state *st, FILE *fp, const char *name)
{
	struct arxiv_lines *r = arxiv_lines_new(fp, name, 0);
	struct arxiv_error e = {0};
	const char *line;
	size_t len;
	char why[200];
	int rc = 0, got;

	if (r == NULL)
		errx(1, "out of memory");
	while ((got = arxiv_lines_next(r, &line, &len, &e)) != 0) {
		struct item *it = &st->items[st->n];
		memset(it, 0, sizeof(*it));
		it->line = arxiv_lines_lineno(r);
		if (got < 0) {
			if (arxiv_lines_ioerr(r)) {
				prog_warnerr(&e);
				rc = -1;
				break;
			}
			snprintf(why, sizeof(why), "%s", e.text);
		}
		if (got < 0 || parse_line(line, len, it, why, sizeof(why)) < 0) {
			warnx("%s:%ld: %s", name, it->line, why);
			if (!st->skip) {
				rc = -1;
				break;
			}
			st->skipped++;
			continue;
		}
		if (++st->n == st->batch && flush_batch(st, name) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && flush_batch(st, name) < 0)
		rc = -1;
	clear_items(st);
	arxiv_lines_free(r);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct arxiv_model_opts mo = arxiv_model_default_opts();
	struct arxiv_error e = {0};
	struct state st;
	const char *dir = NULL, *name;
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
		case 'b': st.batch = (size_t)prog_num(optarg, 1, 4096, "batch size"); break;
		case 'D': mo.device = optarg; break;
		case 'j': mo.threads = (int)prog_num(optarg, 0, 1024, "thread count"); break;
		case 'k': st.skip = 1; break;
		}
	}
	argc -= optind;
	argv += optind;
	if (dir == NULL) {
		warnx("no model: -m dir is required");
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

/*
 * arxiv-similar - the papers of an index most similar to each query: an
 * abstract (a text line, or a JSONL record with "abstract"/"text" and an
 * optional "title"), or an indexed paper (--id, or a JSONL record with only
 * "id"). Text is embedded with the embedder the index was built with (its
 * recorded directory, or -e). One JSON line per neighbour:
 *   {"id":..,"title":..,"field":..,"score":..,"query":N}
 * best first; "query" is the 1-based number of the query.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arxiv.h"
#include "prog.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

#define DEFAULT_K 5
#define MAX_K 1000

enum { O_FIELD = 256, O_ID, O_EF };

static const struct option longopts[] = {
	{ "index", required_argument, NULL, 'i' },
	{ "dsn", required_argument, NULL, 'd' },
	{ "top-k", required_argument, NULL, 'K' },
	{ "embedder", required_argument, NULL, 'e' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "field", required_argument, NULL, O_FIELD },
	{ "id", required_argument, NULL, O_ID },
	{ "ef-search", required_argument, NULL, O_EF },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "index", "index", "a local index file (arxiv-index -o)", 0 },
	{ "dsn", "dsn", "a PostgreSQL + pgvector index (arxiv-index -d)", 0 },
	{ "top-k", "k", "neighbours per query (default: 5, at most 1000)", 0 },
	{ "embedder", "dir", "embed queries with this embedder (default: the index's; same identity)", 0 },
	{ "jobs", "n", "search threads (default: 2)", 0 },
	{ "field", "field", "only papers of this field (e.g. Physics)", 0 },
	{ "id", "id", "the neighbours of this indexed paper (no input read)", 0 },
	{ "ef-search", "n", "-d: HNSW search breadth, 1-1000 (default: 100)", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog P = {
	"arxiv-similar", "[file ...]",
	"Print the indexed papers most similar to each query line (an abstract, or a\n"
	"JSONL record with \"abstract\" or \"text\", or with only \"id\"), or to --id.",
	"hVi:d:K:e:j:", longopts, help, NULL
};

struct sim {
	struct arxiv_index *ix;
	struct arxiv_index_info info;
	struct arxiv_embedder *e;	/* loaded at the first text query */
	const char *edir, *field;
	size_t k;
	long nq;
	float *q;
	struct arxiv_hit *hits;
	struct arxiv_buf line;
};

static int
load_embedder(struct sim *s)
{
	struct arxiv_error e = { "", 0, "" };
	const char *dir = s->edir ? s->edir : s->info.embedder_dir;

	if (s->e)
		return 0;
	if (dir == NULL || *dir == '\0') {
		warnx("%s: the index records no embedder directory; give one with -e to embed text",
		    s->info.location);
		return -1;
	}
	if ((s->e = arxiv_embedder_load_for(dir, s->info.embedder, NULL, &e)) == NULL) {
		prog_warnerr(&e);
		return -1;
	}
	return 0;
}

/* Search with s->q and print the neighbours; exclude: the query paper. */
static int
answer(struct sim *s, const char *exclude)
{
	struct arxiv_error e = { "", 0, "" };
	size_t n, i;

	s->nq++;
	if (arxiv_index_search(s->ix, s->q, s->k, s->field, exclude, s->hits, &n, &e) < 0) {
		prog_warnerr(&e);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct arxiv_buf *b = &s->line;
		double sc = s->hits[i].score;

		arxiv_buf_clear(b);
		if (sc > 1)
			sc = 1;
		if (sc < -1)
			sc = -1;
		if (arxiv_buf_append(b, "{\"id\":\"", 7) < 0 ||
		    arxiv_json_escape(s->hits[i].id, strlen(s->hits[i].id), b) < 0 ||
		    arxiv_buf_append(b, "\",\"title\":\"", 11) < 0 ||
		    arxiv_json_escape(s->hits[i].title, s->hits[i].title_len, b) < 0 ||
		    arxiv_buf_append(b, "\",\"field\":\"", 11) < 0 ||
		    arxiv_json_escape(s->hits[i].field, strlen(s->hits[i].field), b) < 0 ||
		    arxiv_buf_printf(b, "\",\"score\":%.4f,\"query\":%ld}\n", sc, s->nq) < 0)
			errx(1, "out of memory");
		fwrite(b->data, 1, b->len, stdout);
	}
	arxiv_hits_free(s->hits, n);
	return 0;
}

static int
by_id(struct sim *s, const char *id)
{
	struct arxiv_error e = { "", 0, "" };
	int got = arxiv_index_get(s->ix, id, s->q, NULL, &e);

	if (got < 0) {
		prog_warnerr(&e);
		return -1;
	}
	if (got == 0) {
		warnx("%s: not in the index %s", id, s->info.location);
		return -1;
	}
	return answer(s, id);
}

static int
by_text(struct sim *s, const char *text, size_t len, const char *name, long line)
{
	struct arxiv_error e = { "", 0, "" };

	if (load_embedder(s) < 0)
		return -1;
	if (arxiv_embedder_embed(s->e, &text, &len, 1, s->q, &e) < 0) {
		warnx("%s:%ld: %s", name, line, e.text);
		return -1;
	}
	return answer(s, NULL);
}

static int
query_file(struct sim *s, FILE *fp, const char *name)
{
	struct arxiv_lines *r = arxiv_lines_new(fp, name, 0);
	struct arxiv_error e = { "", 0, "" };
	struct arxiv_buf text = { 0 };
	const char *line;
	size_t len;
	int got, rc = 0;

	if (r == NULL)
		errx(1, "out of memory");
	while (rc == 0 && (got = arxiv_lines_next(r, &line, &len, &e)) != 0) {
		long ln = arxiv_lines_lineno(r);
		json_t *o = NULL, *abs, *id;
		size_t i = 0;

		if (got < 0) {
			prog_warnerr(&e);
			rc = -1;
			break;
		}
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len) {
			warnx("%s:%ld: empty line", name, ln);
			rc = -1;
			break;
		}
		/* a line that is a JSON object is a record; any other is the text itself */
		if (line[i] == '{' && (o = json_loadb(line, len, 0, NULL)) != NULL && json_is_object(o)) {
			abs = json_object_get(o, "abstract");
			if (abs == NULL)
				abs = json_object_get(o, "text");
			id = json_object_get(o, "id");
			if (abs) {
				/* the record's text by the rule of predict and eval */
				if (arxiv_record_text((const struct json_t *)o, &text, &e) < 0) {
					warnx("%s:%ld: %s", name, ln, e.text);
					rc = -1;
				} else
					rc = by_text(s, text.data ? text.data : "", text.len, name, ln);
			} else if (json_is_string(id))
				rc = by_id(s, json_string_value(id));
			else {
				warnx("%s:%ld: no \"abstract\", \"text\" or \"id\" string", name, ln);
				rc = -1;
			}
		} else
			rc = by_text(s, line, len, name, ln);
		json_decref(o);
	}
	arxiv_buf_free(&text);
	arxiv_lines_free(r);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct arxiv_index_opts io = arxiv_index_default_opts();
	struct arxiv_error e = { "", 0, "" };
	struct sim s;
	const char *path = NULL, *dsn = NULL, *id = NULL, *name;
	int c, i, status = 0, verbose = 0;
	FILE *fp;

	memset(&s, 0, sizeof(s));
	s.k = DEFAULT_K;
	io.threads = 2;
	arxiv_set_log(prog_log, &verbose);
	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case 'i': path = optarg; break;
		case 'd': dsn = optarg; break;
		case 'K': s.k = (size_t)prog_num(optarg, 1, MAX_K, "top-k"); break;
		case 'e': s.edir = optarg; break;
		case 'j': io.threads = (int)prog_num(optarg, 1, 64, "job count"); break;
		case O_FIELD: s.field = optarg; break;
		case O_ID: id = optarg; break;
		case O_EF: io.ef_search = (int)prog_num(optarg, 1, 1000, "ef-search"); break;
		default: prog_usage(&P, stderr); return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if ((path == NULL) == (dsn == NULL)) {
		warnx(path ? "-i and -d exclude each other" : "no index: -i file or -d dsn is required");
		prog_usage(&P, stderr);
		return 2;
	}
	if (id && argc) {
		warnx("--id reads no input files");
		prog_usage(&P, stderr);
		return 2;
	}
	if (dsn)
		io.kind = "pgvector";
	if ((s.ix = arxiv_index_open(path ? path : dsn, &io, &e)) == NULL) {
		prog_warnerr(&e);
		return 1;
	}
	arxiv_index_info(s.ix, &s.info);
	if ((s.q = calloc(s.info.dim ? s.info.dim : 1, sizeof(float))) == NULL ||
	    (s.hits = calloc(s.k, sizeof(*s.hits))) == NULL)
		errx(1, "out of memory");
	if (id)
		status = by_id(&s, id) < 0;
	else
		for (i = 0; i < (argc ? argc : 1) && status == 0; i++) {
			if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL) {
				status = 1;
				break;
			}
			status = query_file(&s, fp, name) < 0;
			prog_close(fp);
		}
	arxiv_embedder_free(s.e);
	arxiv_index_free(s.ix);
	arxiv_buf_free(&s.line);
	free(s.q);
	free(s.hits);
	if (prog_fshut())
		status = 1;
	return status;
}

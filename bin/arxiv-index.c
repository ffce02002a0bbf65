/*
 * arxiv-index - load vector streams (arxiv-embed -e) into an index for
 * similar-paper search: a local index file (-o, the default kind) or any other
 * backend of the library's table (-d DSN). Re-running on an existing index adds
 * or replaces papers by id; vectors of another embedder or dimension are
 * refused.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "prog.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

#define BATCH 1000

enum { O_VERBOSE = 256, O_BATCH, O_HNSW_M, O_EFC };

static const struct option longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "dsn", required_argument, NULL, 'd' },
	{ "keep-going", no_argument, NULL, 'k' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "batch", required_argument, NULL, O_BATCH },
	{ "hnsw-m", required_argument, NULL, O_HNSW_M },
	{ "ef-construction", required_argument, NULL, O_EFC },
	{ "verbose", no_argument, NULL, O_VERBOSE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "output", "index", "the local index file to create or update", 0 },
	{ "dsn", "dsn", "a PostgreSQL + pgvector database instead (libpq DSN or URI)", 0 },
	{ "keep-going", NULL, "skip papers the index refuses, count them", 0 },
	{ "jobs", "n", "-d: parallel connections loading (default: 1)", 0 },
	{ "batch", "n", "-d: papers per transaction (default: 10000)", 0 },
	{ "hnsw-m", "m", "-d: links per node of the HNSW index it builds, 2-100 (default: 16)", 0 },
	{ "ef-construction", "n", "-d: the HNSW build's breadth, 4-1000 (default: 64)", 0 },
	{ "verbose", NULL, "progress messages", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog P = {
	"arxiv-index", "[file ...]",
	"Load vector streams (arxiv-embed -e) into an index for arxiv-similar and\n"
	"arxiv-serve -i; papers already there are replaced by id.",
	"hVo:d:kj:", longopts, help, NULL
};

/* A batch of copied records (the reader's are borrowed until its next call). */
struct batch {
	struct arxiv_vecrec r[BATCH];
	struct arxiv_buf s[BATCH];	/* id, title, field, categories, vector; one block each */
	long recno[BATCH];
	size_t n, dim;
};

static void
batch_put(struct batch *b, const struct arxiv_vecrec *r, long recno)
{
	struct arxiv_buf *s = &b->s[b->n];
	struct arxiv_vecrec *d = &b->r[b->n];
	size_t o[5];

	arxiv_buf_clear(s);
	/* vector first, so it stays aligned */
	if (arxiv_buf_append(s, r->v, b->dim * sizeof(float)) < 0)
		errx(1, "out of memory");
	o[0] = s->len;
	if (arxiv_buf_append(s, r->id, r->id_len) < 0 || arxiv_buf_putc(s, 0) < 0)
		errx(1, "out of memory");
	o[1] = s->len;
	if (arxiv_buf_append(s, r->title, r->title_len) < 0 || arxiv_buf_putc(s, 0) < 0)
		errx(1, "out of memory");
	o[2] = s->len;
	if (arxiv_buf_append(s, r->field, r->field_len) < 0 || arxiv_buf_putc(s, 0) < 0)
		errx(1, "out of memory");
	o[3] = s->len;
	if (arxiv_buf_append(s, r->categories, r->categories_len) < 0 || arxiv_buf_putc(s, 0) < 0)
		errx(1, "out of memory");
	*d = *r;
	d->v = (const float *)s->data;
	d->id = s->data + o[0];
	d->title = s->data + o[1];
	d->field = s->data + o[2];
	d->categories = s->data + o[3];
	b->recno[b->n++] = recno;
}

/* Add the batch; with keep_going, a refused paper is skipped and counted. */
static int
batch_flush(struct arxiv_index *ix, struct batch *b, const char *name, int keep_going, long *skipped)
{
	struct arxiv_error e = { "", 0, "" };
	size_t from = 0;

	while (from < b->n) {
		if (arxiv_index_add(ix, b->r + from, b->n - from, &e) == 0)
			break;
		if (e.line < 1 || (size_t)e.line > b->n - from) {
			prog_warnerr(&e);
			return -1;
		}
		{
			size_t bad = from + (size_t)e.line - 1;

			warnx("%s: record %ld (id %s): %s", name, b->recno[bad], b->r[bad].id, e.text);
			if (!keep_going)
				return -1;
			(*skipped)++;
			from = bad + 1;
		}
	}
	b->n = 0;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct arxiv_index_opts io = arxiv_index_default_opts();
	struct arxiv_error e = { "", 0, "" };
	struct arxiv_index *ix = NULL;
	struct arxiv_index_info info;
	struct arxiv_vec_reader *r;
	struct arxiv_vecrec rec;
	struct batch *b;
	const char *out = NULL, *dsn = NULL, *name;
	char *embedder = NULL;
	size_t dim = 0, i;
	long skipped = 0;
	unsigned long long count = 0;
	int c, keep_going = 0, verbose = 0, status = 0, got, nin;
	FILE *fp;

	arxiv_set_log(prog_log, &verbose);
	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'd': dsn = optarg; break;
		case 'k': keep_going = 1; break;
		case 'j': {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 || v > ARXIV_PG_MAX_JOBS) {
				warnx("-j: not a count from 1 to %d: %s", ARXIV_PG_MAX_JOBS, optarg);
				prog_usage(&P, stderr);
				return 2;
			}
			io.threads = (int)v;
			break;
		}
		case O_VERBOSE: verbose = 1; break;
		case O_BATCH: {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 || v > 100000000) {
				warnx("--batch: not a count from 1 to 100000000: %s", optarg);
				prog_usage(&P, stderr);
				return 2;
			}
			io.batch = (size_t)v;
			break;
		}
		case O_HNSW_M: io.hnsw_m = (int)prog_num(optarg, 2, 100, "hnsw-m"); break;
		case O_EFC:
			io.ef_construction = (int)prog_num(optarg, 4, 1000, "ef-construction");
			break;
		default: prog_usage(&P, stderr); return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if ((out == NULL) == (dsn == NULL)) {
		warnx(out ? "-o and -d exclude each other" : "no index: -o file or -d dsn is required");
		prog_usage(&P, stderr);
		return 2;
	}
	if (dsn)
		io.kind = "pgvector";
	if ((b = calloc(1, sizeof(*b))) == NULL)
		errx(1, "out of memory");
	nin = argc ? argc : 1;
	for (i = 0; i < (size_t)nin && status == 0; i++) {
		long recno = 0;

		if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL) {
			status = 1;
			break;
		}
		if ((r = arxiv_vec_open(fp, name, &e)) == NULL) {
			prog_warnerr(&e);
			prog_close(fp);
			status = 1;
			break;
		}
		if (ix == NULL) {
			dim = arxiv_vec_dim(r);
			if ((embedder = strdup(arxiv_vec_embedder(r))) == NULL)
				errx(1, "out of memory");
			b->dim = dim;
			io.write = 1;
			io.embedder = embedder;
			io.dim = dim;
			io.embedder_dir = arxiv_vec_embedder_dir(r);
			if ((ix = arxiv_index_open(out ? out : dsn, &io, &e)) == NULL) {
				prog_warnerr(&e);
				arxiv_vec_close(r);
				prog_close(fp);
				status = 1;
				break;
			}
		} else if (arxiv_vec_dim(r) != dim || strcmp(arxiv_vec_embedder(r), embedder) != 0) {
			warnx("%s: vectors of %zu dimensions from embedder \"%s\"; the first input's have %zu "
			    "from \"%s\"", name, arxiv_vec_dim(r), arxiv_vec_embedder(r), dim, embedder);
			status = 1;
		}
		while (status == 0 && (got = arxiv_vec_next(r, &rec, &e)) != 0) {
			if (got < 0) {
				prog_warnerr(&e);
				status = 1;
				break;
			}
			batch_put(b, &rec, ++recno);
			count++;
			if (b->n == BATCH && batch_flush(ix, b, name, keep_going, &skipped) < 0)
				status = 1;
			if (verbose && count % 100000 == 0)
				warnx("%llu papers read", count);
		}
		if (status == 0 && batch_flush(ix, b, name, keep_going, &skipped) < 0)
			status = 1;
		arxiv_vec_close(r);
		prog_close(fp);
	}
	if (status == 0 && ix && arxiv_index_commit(ix, &e) < 0) {
		prog_warnerr(&e);
		status = 1;
	}
	if (skipped)
		warnx("skipped %ld record%s", skipped, skipped == 1 ? "" : "s");
	if (status == 0 && ix && arxiv_index_info(ix, &info) == 0)
		warnx("%s: %llu papers (%llu read), %zu dimensions, embedder %s", info.location,
		    (unsigned long long)info.size, count - (unsigned long long)skipped, info.dim,
		    info.embedder);
	arxiv_index_free(ix);
	for (i = 0; i < BATCH; i++)
		arxiv_buf_free(&b->s[i]);
	free(b);
	free(embedder);
	if (prog_fshut())
		status = 1;
	return status;
}

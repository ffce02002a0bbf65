/*
 * arxiv-stats - corpus statistics over arxiv-map records, as one JSON object:
 * papers per field, category and year, cross-lists, text lengths (characters,
 * words, WordPiece tokens), LaTeX and non-ASCII shares, duplicates and the
 * most distinctive terms of each field. Constant memory; partial results
 * (--partial) of blocks merge with --merge into the one-pass result.
 * The reading of a record is in bin/stats/read.c, -j's blocks in
 * bin/stats/blocks.c.
 */
#include <getopt.h>
#include <stdint.h>
#include <unistd.h>

#include "stats/stats.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

enum { OPT_CLEAN = 256, OPT_STOP, OPT_CAP, OPT_EXACT, OPT_PRIOR, OPT_VERBOSE };

static const struct option longopts[] = {
	{ "vocab", required_argument, NULL, 'v' },
	{ "keep-going", no_argument, NULL, 'k' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "top-k", required_argument, NULL, 'K' },
	{ "partial", no_argument, NULL, 'p' },
	{ "merge", no_argument, NULL, 'M' },
	{ "clean", no_argument, NULL, OPT_CLEAN },
	{ "stopwords", required_argument, NULL, OPT_STOP },
	{ "terms-cap", required_argument, NULL, OPT_CAP },
	{ "exact-max", required_argument, NULL, OPT_EXACT },
	{ "prior", required_argument, NULL, OPT_PRIOR },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "vocab", "vocab", "count WordPiece tokens with this vocab.txt", 0 },
	{ "keep-going", NULL, "skip bad records, count them", 0 },
	{ "jobs", "threads", "threads that split, tokenise, clean (default: 1; 0: all cores)", 0 },
	{ "top-k", "n", "distinctive terms per field (default: 15; 0: count no terms)", 0 },
	{ "partial", NULL, "add the merge state (\"state\") to the output", 0 },
	{ "merge", NULL, "the operands are --partial results: print their merge", 0 },
	{ "clean", NULL, "split terms with arxiv-clean's default cleaner (slower)", 0 },
	{ "stopwords", "file", "stop words of the built-in term splitter (default: shipped)", 0 },
	{ "terms-cap", "n", "terms kept in the count table (default: 131072)", 0 },
	{ "exact-max", "n", "distinct ids and texts counted exactly (default: 1048576)", 0 },
	{ "prior", "a", "alpha_0 of the Dirichlet prior (default: 10000)", 0 },
	{ "verbose", NULL, "the number of records on stderr", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog P = {
	"arxiv-stats", "[file ...]",
	"Corpus statistics of arxiv-map records as one JSON object; --partial results merge with --merge.",
	"hVv:kj:K:pM", longopts, help, NULL
};

/* the tools of a thread; 0 or -1 */
static int
tools_init(const struct state *s, struct tools *t, struct arxiv_error *e)
{
	if (s->vocab != NULL) {
		if ((t->cache = arxiv_tok_cache_new()) == NULL) {
			arxiv_error_set(e, "", 0, "out of memory");
			return -1;
		}
	}
	if (s->clean) {
		struct arxiv_clean_params cp = arxiv_clean_default_params();

		if ((t->cl = arxiv_cleaner_new(&cp, e)) == NULL)
			return -1;
	}
	return 0;
}

static void
tools_free(struct tools *t)
{
	arxiv_buf_free(&t->text);
	arxiv_buf_free(&t->cleaned);
	arxiv_tok_cache_free(t->cache);
	arxiv_cleaner_free(t->cl);
}

static int
stats_stream(struct state *s, FILE *fp, const char *name)
{
	struct arxiv_lines *r;
	struct arxiv_error e;
	const char *line;
	size_t len;
	int rc;

	if ((r = arxiv_lines_new(fp, name, 0)) == NULL)
		err(1, "out of memory");
	while ((rc = arxiv_lines_next(r, &line, &len, &e)) != 0) {
		if (rc > 0 && s->jobs > 1) {	/* into the block; counted when it is full */
			struct block *b = s->fill;

			if (arxiv_buf_append(&b->lines, line, len) < 0)
				err(1, "out of memory");
			b->off[b->nb] = b->lines.len - len;
			b->len[b->nb] = len;
			b->lineno[b->nb++] = arxiv_lines_lineno(r);
			if ((b->nb == BLOCK || b->lines.len >= BLOCK_BYTES) && run_block(s, name) < 0)
				goto fail;
			continue;
		}
		if (s->jobs > 1 && drain(s, name) < 0)	/* what came before, first */
			goto fail;
		if (rc > 0 && add_line(s, line, len, NULL, NULL, &e) == 0) {
			s->n++;
			continue;
		}
		if (rc > 0) {
			snprintf(e.source, sizeof(e.source), "%s", name);
			e.line = arxiv_lines_lineno(r);
		}
		prog_warnerr(&e);
		if (!s->keep || arxiv_lines_ioerr(r))
			goto fail;
		s->skipped++;
	}
	if (s->jobs > 1 && drain(s, name) < 0)
		goto fail;
	arxiv_lines_free(r);
	return 0;
fail:
	if (s->jobs > 1) {
		settle(s);
		s->blk[0].nb = s->blk[1].nb = 0;
		arxiv_buf_clear(&s->blk[0].lines);
		arxiv_buf_clear(&s->blk[1].lines);
	}
	arxiv_lines_free(r);
	return -1;
}

/* Merge every partial result of a file: one JSON object per line (what
 * `parallel --pipe arxiv-stats -p` prints). */
static int
merge_file(struct state *s, FILE *fp, const char *name)
{
	struct arxiv_error e;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int rc = 0;

	while ((n = getline(&line, &cap, fp)) > 0) {
		lineno++;
		if (n == 1 && line[0] == '\n')
			continue;
		if (arxiv_stats_merge_json(s->st, line, (size_t)n, &e) < 0) {
			snprintf(e.source, sizeof(e.source), "%s", name);
			e.line = lineno;
			prog_warnerr(&e);
			rc = -1;
			break;
		}
		s->n++;
	}
	if (rc == 0 && ferror(fp)) {
		warn("%s", name);
		rc = -1;
	}
	if (rc == 0 && lineno == 0) {
		warnx("%s: empty input: no partial result to merge", name);
		rc = -1;
	}
	free(line);
	return rc;
}

int
main(int argc, char *argv[])
{
	static char ibuf[1 << 16];
	struct arxiv_stats_params sp = arxiv_stats_default_params();
	struct state s = { 0 };
	struct arxiv_error e;
	struct arxiv_buf out = { 0 };
	const char *vocab = NULL, *name;
	int c, verbose = 0, status = 0, i, k, partial = 0, merge = 0, clean = 0, rc, jobs = -1;
	FILE *fp;

	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case 'v':
			vocab = optarg;
			break;
		case 'k':
			s.keep = 1;
			break;
		case 'j':
			jobs = (int)prog_num(optarg, 0, MAXJOBS, "jobs");
			break;
		case 'K':
			sp.top_terms = (size_t)prog_num(optarg, 0, 100000, "top-k");
			break;
		case 'p':
			partial = 1;
			break;
		case 'M':
			merge = 1;
			break;
		case OPT_CLEAN:
			clean = 1;
			break;
		case OPT_STOP:
			sp.stopwords = optarg;
			break;
		case OPT_CAP:
			sp.term_cap = (size_t)prog_num(optarg, 16, 1L << 26, "terms-cap");
			break;
		case OPT_EXACT:
			sp.exact_max = (size_t)prog_num(optarg, 0, 1L << 30, "exact-max");
			break;
		case OPT_PRIOR:
			sp.prior = prog_real(optarg, 0.001, 1e12, "prior");
			break;
		case OPT_VERBOSE:
			verbose = 1;
			break;
		}
	}
	argc -= optind;
	argv += optind;
	arxiv_set_log(prog_log, &verbose);
	if (merge && (vocab != NULL || clean)) {
		warnx("--merge takes no -v or --clean: the partial results are already counted");
		prog_usage(&P, stderr);
		return 2;
	}

	sp.cleaner = clean;
	if ((s.st = arxiv_stats_new(&sp, &e)) == NULL) {
		prog_warnerr(&e);
		return 1;
	}
	if (vocab != NULL && (s.vocab = arxiv_vocab_load(vocab, &e)) == NULL) {
		prog_warnerr(&e);
		return 1;
	}
	s.clean = clean;
	/* threads share the tokenising, the cleaning or the term splitting (the
	 * counting is in record order on this one): with none nothing is shared */
	s.jobs = 1;
	s.split = !clean && sp.top_terms > 0;
	if (!merge && (vocab != NULL || clean || s.split)) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		s.jobs = jobs > 0 ? jobs : ncpu > MAXJOBS ? MAXJOBS : ncpu > 1 ? (int)ncpu : 1;
		if (jobs < 0)	/* no -j: one thread, the cheapest per record */
			s.jobs = 1;
	}
	if (tools_init(&s, &s.t, &e) < 0) {
		prog_warnerr(&e);
		return 1;
	}
	if (s.vocab != NULL) {	/* what this thread counts, in the pass over the terms */
		struct arxiv_tok_params tp = arxiv_tok_default_params();

		arxiv_stats_set_vocab(s.st, s.vocab, &tp, s.t.cache, MAXSEQ);
	}
	if (s.jobs > 1) {
		for (k = 0; k < 2; k++) {
			struct block *b = &s.blk[k];

			b->off = malloc(BLOCK * sizeof(*b->off));
			b->len = malloc(BLOCK * sizeof(*b->len));
			b->lineno = malloc(BLOCK * sizeof(*b->lineno));
			b->prep = calloc(BLOCK, sizeof(*b->prep));
			if (b->off == NULL || b->len == NULL || b->lineno == NULL || b->prep == NULL)
				err(1, "out of memory");
			for (i = 0; i < BLOCK; i++)
				if ((b->prep[i].split = arxiv_stats_split_new()) == NULL)
					err(1, "out of memory");
		}
		s.fill = &s.blk[0];
		for (i = 0; i < s.jobs; i++) {
			s.job[i].s = &s;
			if (tools_init(&s, &s.job[i].t, &e) < 0) {
				prog_warnerr(&e);
				return 1;
			}
		}
	}
	setvbuf(stdin, ibuf, _IOFBF, sizeof(ibuf));

	for (i = 0; i < (argc ? argc : 1); i++) {
		if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL) {
			status = 1;
			continue;
		}
		rc = merge ? merge_file(&s, fp, name) : stats_stream(&s, fp, name);
		prog_close(fp);
		if (rc < 0) {
			status = 1;
			break;
		}
	}
	if (status == 0) {
		if (arxiv_stats_json(s.st, partial, &out) < 0)
			err(1, "out of memory");
		arxiv_buf_putc(&out, '\n');
		fwrite(out.data, 1, out.len, stdout);
	}
	if (verbose && !merge)
		warnx("%zu records", s.n);
	if (s.skipped)
		warnx("skipped %zu records", s.skipped);
	arxiv_buf_free(&out);
	tools_free(&s.t);
	for (i = 0; s.jobs > 1 && i < s.jobs; i++)
		tools_free(&s.job[i].t);
	for (k = 0; k < 2; k++) {
		struct block *b = &s.blk[k];

		arxiv_buf_free(&b->lines);
		for (i = 0; i < MAXJOBS; i++) {
			arxiv_buf_free(&b->keep[i]);
			free(b->strs[i].a);
		}
		free(b->off);
		free(b->len);
		free(b->lineno);
		for (i = 0; b->prep && i < BLOCK; i++)
			arxiv_stats_split_free(b->prep[i].split);
		free(b->prep);
	}
	arxiv_stats_free(s.st);
	arxiv_vocab_free(s.vocab);
	if (prog_fshut() != 0)
		status = 1;
	return status;
}

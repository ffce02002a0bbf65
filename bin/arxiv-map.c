/*
 * arxiv-map - map Kaggle-schema arXiv records to {"id","text","label",
 * "categories","fields"} JSON lines; the primary category's field is the label.
 */
#include <getopt.h>

#include "prog.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: arxiv-map [-akv] [-m table] [file ...]\n");
}

static const struct option longopts[] = {
	{ "abstract-only", no_argument, NULL, 'a' },
	{ "keep-going", no_argument, NULL, 'k' },
	{ "map", required_argument, NULL, 'm' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

struct state {
	const struct arxiv_domains *d;
	struct arxiv_map_params p;
	int keep;
	size_t *counts;		/* per label id */
	size_t n, skipped;
	struct arxiv_buf out;
};

static size_t
label_id(const struct arxiv_domains *d, const char *label)
{
	size_t i, n = arxiv_domains_nlabels(d);

	for (i = 0; i < n; i++)
		if (arxiv_domains_label(d, i) == label)
			return i;
	return n - 1;
}

/* Map one input stream; 0, or -1 after a fatal error (already reported). */
static int
map_stream(struct state *s, FILE *fp, const char *name)
{
	struct arxiv_lines *r;
	struct arxiv_error e;
	const char *line, *label;
	size_t len;
	int rc;

	if ((r = arxiv_lines_new(fp, name, 0)) == NULL)
		err(1, "out of memory");
	while ((rc = arxiv_lines_next(r, &line, &len, &e)) != 0) {
		if (rc > 0 && arxiv_map_line(s->d, &s->p, line, len, &s->out, &label, &e) == 0) {
			s->out.data[s->out.len] = '\n';
			if (fwrite(s->out.data, 1, s->out.len + 1, stdout) != s->out.len + 1) {
				arxiv_lines_free(r);
				return -2;
			}
			s->out.data[s->out.len] = '\0';
			s->counts[label_id(s->d, label)]++;
			s->n++;
			continue;
		}
		if (rc > 0) {
			snprintf(e.source, sizeof(e.source), "%s", name);
			e.line = arxiv_lines_lineno(r);
		}
		prog_warnerr(&e);
		if (!s->keep || arxiv_lines_ioerr(r)) {
			arxiv_lines_free(r);
			return -1;
		}
		s->skipped++;
	}
	arxiv_lines_free(r);
	return 0;
}

int
main(int argc, char *argv[])
{
	static char ibuf[1 << 16], obuf[1 << 16], fbuf[1 << 16];
	struct state s = { 0 };
	struct arxiv_domains *d;
	struct arxiv_error e;
	const char *table = NULL, *name;
	char path[4096];
	int c, verbose = 0, status = 0, i, rc;
	size_t l;
	FILE *fp;

	s.p = arxiv_map_default_params();
	while ((c = getopt_long(argc, argv, "akm:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			s.p.abstract_only = 1;
			break;
		case 'k':
			s.keep = 1;
			break;
		case 'm':
			table = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return prog_fshut();
		case 'V':
			printf("arxiv-map %s\n", VERSION);
			return prog_fshut();
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	arxiv_set_log(prog_log, &verbose);

	if (table == NULL)
		table = arxiv_data_path("domains.tsv", path, sizeof(path));
	if ((d = arxiv_domains_load(table, &e)) == NULL) {
		prog_warnerr(&e);
		return 1;
	}
	s.d = d;
	if ((s.counts = calloc(arxiv_domains_nlabels(d), sizeof(*s.counts))) == NULL)
		err(1, "out of memory");
	/* 64 KiB stdio buffers: a pipe's default (4 KiB) costs a system call
	 * every few records */
	setvbuf(stdin, ibuf, _IOFBF, sizeof(ibuf));
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

	for (i = 0; i < (argc ? argc : 1); i++) {
		if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL) {
			status = 1;
			continue;
		}
		if (fp != stdin)	/* the previous file is closed: reuse fbuf */
			setvbuf(fp, fbuf, _IOFBF, sizeof(fbuf));
		rc = map_stream(&s, fp, name);
		prog_close(fp);
		if (rc == -2 || ferror(stdout)) {
			status = 1;	/* reported by prog_fshut */
			break;
		}
		if (rc < 0) {
			status = 1;
			break;
		}
	}

	if (verbose) {
		warnx("%zu records", s.n);
		for (l = 0; l < arxiv_domains_nlabels(d); l++)
			warnx("%s: %zu", arxiv_domains_label(d, l), s.counts[l]);
	}
	if (s.skipped)
		warnx("skipped %zu records", s.skipped);
	arxiv_buf_free(&s.out);
	free(s.counts);
	arxiv_domains_free(d);
	if (prog_fshut() != 0)
		status = 1;
	return status;
}

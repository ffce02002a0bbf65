/*
 * arxiv-map - map Kaggle-schema arXiv records to {"id","text","label",
 * "categories","fields"} JSON lines; the primary category's field is the label.
 */
#include <limits.h>
#include <zlib.h>

#include "prog.h"

enum { O_VERBOSE = 256, O_MAP };

static const struct option longopts[] = {
	{ "abstract-only", no_argument, NULL, 'a' },
	{ "keep-going", no_argument, NULL, 'k' },
	{ "map", required_argument, NULL, O_MAP },
	{ "verbose", no_argument, NULL, O_VERBOSE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "abstract-only", NULL, "classify the abstract alone (default: title and abstract)", 0 },
	{ "keep-going", NULL, "skip bad records with a warning, count them", 0 },
	{ "map", "table", "category-to-field table (default: the shipped domains.tsv)", 0 },
	{ "verbose", NULL, "print the records per field at the end", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog_deprecated deprecated[] = {
	{ 'v', O_VERBOSE, "-v", "--verbose" },
	{ 'm', O_MAP, "-m table", "--map=table (-m is --model in the suite)" },
	{ 0, 0, NULL, NULL }
};

static const struct prog P = {
	"arxiv-map", "[file ...]",
	"Map Kaggle-schema arXiv records (JSON lines, plain or gzip) to {id,text,label,...} lines.",
	"hVakm:v", longopts, help, deprecated
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

/* One record to stdout (map_stream's fn): 0, -1 a bad record, -2 a write error. */
static int
map_record(void *ud, const char *line, size_t len, struct arxiv_error *e)
{
	struct state *s = ud;
	const char *label;

	if (arxiv_map_line(s->d, &s->p, line, len, &s->out, &label, e) != 0)
		return -1;
	s->out.data[s->out.len] = '\n';
	if (fwrite(s->out.data, 1, s->out.len + 1, stdout) != s->out.len + 1)
		return -2;
	s->out.data[s->out.len] = '\0';
	s->counts[label_id(s->d, label)]++;
	s->n++;
	return 0;
}

/* Map one input stream; 0, -1 after a fatal error (already reported), -2 a write error. */
static int
map_stream(struct state *s, FILE *fp, const char *name)
{
	return prog_each_record(fp, name, s->keep, &s->skipped, map_record, s);
}

/*
 * gzip input (the Kaggle dump and its parts come compressed): read through
 * zlib, so `arxiv-map dump.jsonl.gz` works like `zcat dump.jsonl.gz | arxiv-map`.
 * Concatenated members are read in turn, as gzip -d does.
 */
struct gz {
	FILE *src;
	z_stream z;
	int end;		/* the last member ended at EOF */
	unsigned char in[1 << 16];
};

static ssize_t
gz_read(void *cookie, char *buf, size_t n)
{
	struct gz *g = cookie;
	unsigned want = n > UINT_MAX ? UINT_MAX : (unsigned)n;
	int rc, c;

	g->z.next_out = (unsigned char *)buf;
	g->z.avail_out = want;
	while (!g->end && g->z.avail_out == want) {
		if (g->z.avail_in == 0) {
			g->z.avail_in = (unsigned)fread(g->in, 1, sizeof(g->in), g->src);
			g->z.next_in = g->in;
			if (g->z.avail_in == 0) {
				if (!ferror(g->src))
					warnx("gzip input ends inside a compressed member (truncated file?)");
				errno = EIO;
				return -1;
			}
		}
		rc = inflate(&g->z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END) {
			/* another member follows, or this was the end */
			if (g->z.avail_in == 0 && (c = getc(g->src)) != EOF) {
				g->in[0] = (unsigned char)c;
				g->z.next_in = g->in;
				g->z.avail_in = 1;
			}
			if (g->z.avail_in == 0)
				g->end = 1;
			else
				inflateReset(&g->z);
		} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
			warnx("gzip input: %s", g->z.msg ? g->z.msg : "corrupt data");
			errno = EIO;
			return -1;
		}
	}
	return (ssize_t)(want - g->z.avail_out);
}

static int
gz_close(void *cookie)
{
	struct gz *g = cookie;

	inflateEnd(&g->z);
	free(g);
	return 0;
}

/* fp itself when it is not gzip, else a new stream of its decompressed bytes
 * (closing it leaves fp open); NULL on error. */
static FILE *
gz_open(FILE *fp)
{
	static const cookie_io_functions_t io = { gz_read, NULL, NULL, gz_close };
	struct gz *g;
	FILE *z;
	int c1, c2;

	if ((c1 = getc(fp)) == EOF)
		return fp;
	if (c1 != 0x1f || (c2 = getc(fp)) != 0x8b) {
		if (c1 == 0x1f && c2 != EOF)
			ungetc(c2, fp);
		ungetc(c1, fp);
		return fp;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->src = fp;
	g->in[0] = 0x1f;
	g->in[1] = 0x8b;
	g->z.next_in = g->in;
	g->z.avail_in = 2;
	if (inflateInit2(&g->z, 15 + 16) != Z_OK) {
		free(g);
		return NULL;
	}
	if ((z = fopencookie(g, "r", io)) == NULL)
		gz_close(g);
	return z;
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
	FILE *fp, *zfp;

	s.p = arxiv_map_default_params();
	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case 'a':
			s.p.abstract_only = 1;
			break;
		case 'k':
			s.keep = 1;
			break;
		case O_MAP:
			table = optarg;
			break;
		case O_VERBOSE:
			verbose = 1;
			break;
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
		if ((zfp = gz_open(fp)) == NULL)
			err(1, "%s: cannot read gzip input", name);
		rc = map_stream(&s, zfp, name);
		if (zfp != fp)
			fclose(zfp);
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

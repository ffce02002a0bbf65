/*
 * arxiv-stats - corpus statistics over arxiv-map records, as one JSON object:
 * papers per field, category and year, cross-lists, text lengths (characters,
 * words, WordPiece tokens), LaTeX and non-ASCII shares, duplicates and the
 * most distinctive terms of each field. Constant memory; partial results
 * (--partial) of blocks merge with --merge into the one-pass result.
 */
#include <getopt.h>
#include <stdint.h>

#include <jansson.h>

#include "prog.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

#define MAXSEQ 16384	/* tokens counted at most */
#define SHORTSEQ 768


enum { OPT_CLEAN = 256, OPT_STOP, OPT_CAP, OPT_EXACT, OPT_PRIOR, OPT_VERBOSE };

static const struct option longopts[] = {
	{ "vocab", required_argument, NULL, 'v' },
	{ "keep-going", no_argument, NULL, 'k' },
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
	"hVv:kK:pM", longopts, help, NULL
};

struct state {
	struct arxiv_stats *st;
	struct arxiv_vocab *vocab;
	struct arxiv_tok_cache *cache;
	struct arxiv_tok_params tp;
	struct arxiv_cleaner *cl;
	uint32_t *ids;
	uint8_t *mask;
	int keep;
	size_t n, skipped;
	struct arxiv_buf text, cleaned, strs;
	struct arxiv_stats_str cats[64], fields[64];
};

/*
 * The array of strings after "key": in a line that arxiv_json_scan has found
 * to be valid JSON. In valid JSON the bytes "key":[ can only be that key (a
 * quote inside a string is escaped). 0, or -1 when absent or not a plain
 * array of unescaped strings (the caller then parses with jansson).
 */
static int
scan_array(const char *line, size_t len, const char *key, struct arxiv_stats_str *out,
    size_t max, size_t *n)
{
	char pat[32];
	const char *p, *end = line + len;
	size_t k = 0;

	snprintf(pat, sizeof(pat), "\"%s\":[", key);
	if ((p = memmem(line, len, pat, strlen(pat))) == NULL)
		return -1;
	p += strlen(pat);
	while (p < end && *p != ']') {
		const char *q;

		if (*p != '"' || k == max)
			return -1;
		for (q = ++p; q < end && *q != '"'; q++)
			if (*q == '\\')
				return -1;
		if (q >= end)
			return -1;
		out[k].s = p;
		out[k++].n = (size_t)(q - p);
		p = q + 1;
		if (p < end && *p == ',')
			p++;
	}
	*n = k;
	return p < end ? 0 : -1;
}

static int
get_strings(json_t *o, const char *key, struct arxiv_stats_str *out, size_t max, size_t *n,
    struct arxiv_error *err)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;

	if (!json_is_array(a)) {
		arxiv_error_set(err, "", 0, "missing or non-array \"%s\"", key);
		return -1;
	}
	*n = 0;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v)) {
			arxiv_error_set(err, "", 0, "non-string in \"%s\"", key);
			return -1;
		}
		if (*n < max) {
			out[*n].s = json_string_value(v);
			out[(*n)++].n = json_string_length(v);
		}
	}
	return 0;
}

/* One record; 0 or -1 with err. */
static int
add_line(struct state *s, const char *line, size_t len, struct arxiv_error *err)
{
	struct arxiv_json_key k[4] = {
		{ "id", ARXIV_JSON_STRING, NULL, 0, 0 },
		{ "text", ARXIV_JSON_STRING, NULL, 0, 0 },
		{ "label", ARXIV_JSON_STRING, NULL, 0, 0 },
		{ "update_date", ARXIV_JSON_OPTIONAL, NULL, 0, 0 },
	};
	struct arxiv_stats_record r = { 0 };
	json_t *o = NULL, *v;
	json_error_t je;
	size_t nt;
	int rc = -1;

	if (arxiv_json_scan(line, len, k, 4, 0, NULL) == 1 && !k[0].escaped && !k[2].escaped &&
	    !k[3].escaped &&
	    scan_array(line, len, "categories", s->cats, 64, &r.n_categories) == 0 &&
	    scan_array(line, len, "fields", s->fields, 64, &r.n_fields) == 0) {
		r.id.s = k[0].val;
		r.id.n = k[0].len;
		r.label.s = k[2].val;
		r.label.n = k[2].len;
		r.date.s = k[3].val;
		r.date.n = k[3].len;
		if (k[1].escaped) {
			arxiv_buf_clear(&s->text);
			if (arxiv_json_unescape(k[1].val, k[1].len, &s->text) < 0) {
				arxiv_error_set(err, "", 0, "bad escape in \"text\"");
				return -1;
			}
			r.text.s = s->text.data;
			r.text.n = s->text.len;
		} else {
			r.text.s = k[1].val;
			r.text.n = k[1].len;
		}
	} else {
		const char *key[3] = { "id", "text", "label" };
		struct arxiv_stats_str *dst[3] = { &r.id, &r.text, &r.label };
		int i;

		if ((o = json_loadb(line, len, 0, &je)) == NULL) {
			arxiv_error_set(err, "", 0, "invalid JSON: %s", je.text);
			return -1;
		}
		if (!json_is_object(o)) {
			arxiv_error_set(err, "", 0, "not a JSON object");
			goto out;
		}
		for (i = 0; i < 3; i++) {
			v = json_object_get(o, key[i]);
			if (!json_is_string(v)) {
				arxiv_error_set(err, "", 0, "missing or non-string \"%s\"%s", key[i],
				    i == 1 ? "; is this arxiv-map output?" : "");
				goto out;
			}
			dst[i]->s = json_string_value(v);
			dst[i]->n = json_string_length(v);
		}
		if (memchr(r.text.s, '\0', r.text.n) != NULL) {
			arxiv_error_set(err, "", 0, "NUL in \"text\"");
			goto out;
		}
		if (json_is_string(v = json_object_get(o, "update_date"))) {
			r.date.s = json_string_value(v);
			r.date.n = json_string_length(v);
		}
		if (get_strings(o, "categories", s->cats, 64, &r.n_categories, err) < 0 ||
		    get_strings(o, "fields", s->fields, 64, &r.n_fields, err) < 0)
			goto out;
	}
	r.categories = s->cats;
	r.fields = s->fields;
	r.n_tokens = -1;
	if (s->vocab != NULL) {
		/* the encoder pads to seq_len: count with a short sequence first, and
		 * only a text that fills it again with the longest */
		s->tp.seq_len = SHORTSEQ;
		if (arxiv_tok_encode_cached(s->cache, ARXIV_TOK_VALID_UTF8, s->vocab, &s->tp,
		    r.text.s, r.text.n, s->ids, s->mask, &nt, err) < 0)
			goto out;
		if (nt == SHORTSEQ) {
			s->tp.seq_len = MAXSEQ;
			if (arxiv_tok_encode_cached(s->cache, ARXIV_TOK_VALID_UTF8, s->vocab, &s->tp,
			    r.text.s, r.text.n, s->ids, s->mask, &nt, err) < 0)
				goto out;
		}
		r.n_tokens = (long)nt;
	}
	if (s->cl != NULL) {
		if (arxiv_clean_text(s->cl, r.text.s, r.text.n, &s->cleaned, err) < 0)
			goto out;
		r.terms.s = s->cleaned.data ? s->cleaned.data : "";
		r.terms.n = s->cleaned.len;
	}
	rc = arxiv_stats_add(s->st, &r, err);
out:
	json_decref(o);
	return rc;
}

/* One record into the statistics (stats_stream's fn): 0, or -1 a bad record. */
static int
stats_record(void *ud, const char *line, size_t len, struct arxiv_error *e)
{
	struct state *s = ud;

	if (add_line(s, line, len, e) != 0)
		return -1;
	s->n++;
	return 0;
}

static int
stats_stream(struct state *s, FILE *fp, const char *name)
{
	return prog_each_record(fp, name, s->keep, &s->skipped, stats_record, s);
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
	int c, verbose = 0, status = 0, i, partial = 0, merge = 0, clean = 0, rc;
	FILE *fp;

	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case 'v':
			vocab = optarg;
			break;
		case 'k':
			s.keep = 1;
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
	if (vocab != NULL) {
		if ((s.vocab = arxiv_vocab_load(vocab, &e)) == NULL) {
			prog_warnerr(&e);
			return 1;
		}
		s.tp = arxiv_tok_default_params();
		s.tp.seq_len = MAXSEQ;
		s.ids = malloc(MAXSEQ * sizeof(*s.ids));
		s.mask = malloc(MAXSEQ);
		if ((s.cache = arxiv_tok_cache_new()) == NULL || s.ids == NULL || s.mask == NULL)
			err(1, "out of memory");
	}
	if (clean) {
		struct arxiv_clean_params cp = arxiv_clean_default_params();

		if ((s.cl = arxiv_cleaner_new(&cp, &e)) == NULL) {
			prog_warnerr(&e);
			return 1;
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
	arxiv_buf_free(&s.text);
	arxiv_buf_free(&s.cleaned);
	arxiv_stats_free(s.st);
	arxiv_vocab_free(s.vocab);
	arxiv_tok_cache_free(s.cache);
	arxiv_cleaner_free(s.cl);
	free(s.ids);
	free(s.mask);
	if (prog_fshut() != 0)
		status = 1;
	return status;
}

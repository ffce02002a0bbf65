/*
 * arxiv-stats - corpus statistics over arxiv-map records, as one JSON object:
 * papers per field, category and year, cross-lists, text lengths (characters,
 * words, WordPiece tokens), LaTeX and non-ASCII shares, duplicates and the
 * most distinctive terms of each field. Constant memory; partial results
 * (--partial) of blocks merge with --merge into the one-pass result.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include <jansson.h>

#include "prog.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

#define MAXSEQ 16384	/* tokens counted at most */


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

#define BLOCK 2048		/* records prepared by the threads at a time */
#define BLOCK_BYTES (16 << 20)	/* or their bytes */
#define MAXJOBS 64

/* What one thread needs to read, tokenise and clean records. */
struct tools {
	struct arxiv_tok_cache *cache;
	struct arxiv_cleaner *cl;
	struct arxiv_buf text, cleaned;
	struct arxiv_stats_str cats[64], fields[64];
};

/* A record prepared by a thread: its WordPiece count, cleaned terms, the
 * facts and terms of arxiv_stats_split, and, when the line's fields could be
 * taken where they are, the record itself, so that counting it does not read
 * the line again. */
struct prep {
	int ok;			/* 0: not prepared (the main thread does it and
				 * reports the record's error in its place) */
	int parsed;		/* r holds the record (else the line is read again) */
	long n_tokens;
	size_t off, len;	/* cleaned text in its thread's keep buffer */
	struct arxiv_stats_split *split;	/* the text's facts and terms */
	struct arxiv_stats_record r;	/* parsed: its strings in the line, but */
	size_t text_off;	/* an unescaped text: in the keep buffer (SIZE_MAX: not) */
	size_t cat_at, field_at;	/* its categories and fields in the thread's strs */
};

/* a thread's categories and fields of a block */
struct strs {
	struct arxiv_stats_str *a;
	size_t n, cap;
};

/* A block of records (-j): their lines, line numbers and preparation. */
struct block {
	struct arxiv_buf lines;
	size_t nb, *off, *len;
	long *lineno;
	struct prep *prep;
	size_t from[MAXJOBS], to[MAXJOBS];	/* each thread's records */
	struct arxiv_buf keep[MAXJOBS];		/* and their cleaned and unescaped texts */
	struct strs strs[MAXJOBS];		/* and their categories and fields */
};

struct state;
struct job {
	struct state *s;
	struct tools t;
	struct block *b;	/* the block it prepares */
	int id;
};

struct state {
	struct arxiv_stats *st;
	struct arxiv_vocab *vocab;
	int clean;
	int split;		/* terms are split by the built-in splitter (no --clean, -K not 0) */
	int keep;
	int jobs;
	size_t n, skipped;
	struct tools t;		/* the main thread's */
	/* -j: the block being read, and the one the threads prepare (NULL:
	 * none; on thread th when async), counted when the next one is read */
	struct block blk[2], *fill, *busy;
	pthread_t th;
	int async;
	int njob;		/* threads preparing a block (at most jobs, records) */
	struct job job[MAXJOBS];
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

/* "categories" and "fields" by scan_array, looked for after the text first
 * (where arxiv-map writes them) and then before it: the text is most of the
 * line. 0, or -1 (the caller then parses with jansson). */
static int
scan_arrays(const char *line, size_t len, const char *text, size_t tn, struct tools *t,
    struct arxiv_stats_record *r)
{
	const char *tail = text + tn;
	size_t head = (size_t)(text - line), rest = len - head - tn;

	if (scan_array(tail, rest, "categories", t->cats, 64, &r->n_categories) < 0 &&
	    scan_array(line, head, "categories", t->cats, 64, &r->n_categories) < 0)
		return -1;
	if (scan_array(tail, rest, "fields", t->fields, 64, &r->n_fields) < 0 &&
	    scan_array(line, head, "fields", t->fields, 64, &r->n_fields) < 0)
		return -1;
	return 0;
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

/* The record of a line into r (strings borrowed from line, t and *o, which
 * the caller frees with json_decref). 0 or -1 with err. */
static int
parse_line(struct tools *t, const char *line, size_t len, struct arxiv_stats_record *r,
    json_t **o, struct arxiv_error *err)
{
	struct arxiv_json_key k[4] = {
		{ "id", ARXIV_JSON_STRING, NULL, 0, 0 },
		{ "text", ARXIV_JSON_STRING, NULL, 0, 0 },
		{ "label", ARXIV_JSON_STRING, NULL, 0, 0 },
		{ "update_date", ARXIV_JSON_OPTIONAL, NULL, 0, 0 },
	};
	json_t *v;
	json_error_t je;

	memset(r, 0, sizeof(*r));
	*o = NULL;
	if (arxiv_json_scan(line, len, k, 4, 0, NULL) == 1 && !k[0].escaped && !k[2].escaped &&
	    !k[3].escaped &&
	    scan_arrays(line, len, k[1].val, k[1].len, t, r) == 0) {
		r->id.s = k[0].val;
		r->id.n = k[0].len;
		r->label.s = k[2].val;
		r->label.n = k[2].len;
		r->date.s = k[3].val;
		r->date.n = k[3].len;
		if (k[1].escaped) {
			arxiv_buf_clear(&t->text);
			if (arxiv_json_unescape(k[1].val, k[1].len, &t->text) < 0) {
				arxiv_error_set(err, "", 0, "bad escape in \"text\"");
				return -1;
			}
			r->text.s = t->text.data;
			r->text.n = t->text.len;
		} else {
			r->text.s = k[1].val;
			r->text.n = k[1].len;
		}
	} else {
		const char *key[3] = { "id", "text", "label" };
		struct arxiv_stats_str *dst[3] = { &r->id, &r->text, &r->label };
		int i;

		if ((*o = json_loadb(line, len, 0, &je)) == NULL) {
			arxiv_error_set(err, "", 0, "invalid JSON: %s", je.text);
			return -1;
		}
		if (!json_is_object(*o)) {
			arxiv_error_set(err, "", 0, "not a JSON object");
			return -1;
		}
		for (i = 0; i < 3; i++) {
			v = json_object_get(*o, key[i]);
			if (!json_is_string(v)) {
				arxiv_error_set(err, "", 0, "missing or non-string \"%s\"%s", key[i],
				    i == 1 ? "; is this arxiv-map output?" : "");
				return -1;
			}
			dst[i]->s = json_string_value(v);
			dst[i]->n = json_string_length(v);
		}
		if (memchr(r->text.s, '\0', r->text.n) != NULL) {
			arxiv_error_set(err, "", 0, "NUL in \"text\"");
			return -1;
		}
		if (json_is_string(v = json_object_get(*o, "update_date"))) {
			r->date.s = json_string_value(v);
			r->date.n = json_string_length(v);
		}
		if (get_strings(*o, "categories", t->cats, 64, &r->n_categories, err) < 0 ||
		    get_strings(*o, "fields", t->fields, 64, &r->n_fields, err) < 0)
			return -1;
	}
	r->categories = t->cats;
	r->fields = t->fields;
	r->n_tokens = -1;
	return 0;
}

/* r's WordPiece count (-v) and cleaned terms (--clean, into t->cleaned). */
static int
count_record(const struct state *s, struct tools *t, struct arxiv_stats_record *r,
    struct arxiv_error *err)
{
	struct arxiv_tok_params tp = arxiv_tok_default_params();
	size_t nt;

	if (s->vocab != NULL) {
		/* counted whole, capped as encoding with seq_len MAXSEQ would */
		if (arxiv_tok_count_cached(t->cache, ARXIV_TOK_VALID_UTF8, s->vocab, &tp,
		    r->text.s, r->text.n, &nt, err) < 0)
			return -1;
		r->n_tokens = (long)(nt < MAXSEQ ? nt : MAXSEQ);
	}
	if (t->cl != NULL) {
		if (arxiv_clean_text(t->cl, r->text.s, r->text.n, &t->cleaned, err) < 0)
			return -1;
		r->terms.s = t->cleaned.data ? t->cleaned.data : "";
		r->terms.n = t->cleaned.len;
	}
	return 0;
}

/* One record (p: its count and terms, prepared by a thread; NULL: count
 * them here); 0 or -1 with err. */
static int
add_line(struct state *s, const char *line, size_t len, const struct prep *p,
    const struct arxiv_buf *keep, struct arxiv_error *err)
{
	struct arxiv_stats_record r;
	json_t *o;
	int rc = -1;

	if (parse_line(&s->t, line, len, &r, &o, err) < 0)
		goto out;
	if (p != NULL && p->ok) {
		r.n_tokens = p->n_tokens;
		if (s->clean) {
			r.terms.s = keep->data ? keep->data + p->off : "";
			r.terms.n = p->len;
		}
		r.split = p->split;
	} else if (count_record(s, &s->t, &r, err) < 0)
		goto out;
	rc = arxiv_stats_add(s->st, &r, err);
out:
	json_decref(o);
	return rc;
}

/* Keep a record read by the scan for counting (its strings in the block's
 * line, but its text when unescaped, and its categories and fields, which
 * are in the thread's tools until its next record). 0 or -1 (out of memory). */
static int
keep_record(struct prep *p, const struct arxiv_stats_record *r, const struct job *j,
    struct arxiv_buf *keep, struct strs *ss)
{
	size_t need = ss->n + r->n_categories + r->n_fields;

	p->text_off = SIZE_MAX;
	if (r->text.s == j->t.text.data && r->text.n > 0) {
		p->text_off = keep->len;
		if (arxiv_buf_append(keep, r->text.s, r->text.n) < 0)
			return -1;
	}
	if (need > ss->cap) {
		size_t ncap = ss->cap ? ss->cap : 1024;
		struct arxiv_stats_str *na;

		while (ncap < need)
			ncap *= 2;
		if ((na = realloc(ss->a, ncap * sizeof(*na))) == NULL)
			return -1;
		ss->a = na;
		ss->cap = ncap;
	}
	p->r = *r;
	p->r.categories = p->r.fields = NULL;
	p->cat_at = ss->n;
	memcpy(ss->a + ss->n, r->categories, r->n_categories * sizeof(*ss->a));
	ss->n += r->n_categories;
	p->field_at = ss->n;
	memcpy(ss->a + ss->n, r->fields, r->n_fields * sizeof(*ss->a));
	ss->n += r->n_fields;
	return 0;
}

/* A thread's share of a block: the counts and terms of its records. A record
 * that fails here is left unprepared; the main thread meets its error again
 * in order. */
static void
prepare(struct job *j)
{
	struct state *s = j->s;
	struct block *b = j->b;
	struct arxiv_buf *keep = &b->keep[j->id];
	struct strs *ss = &b->strs[j->id];
	struct arxiv_stats_record r;
	struct arxiv_error e;
	json_t *o;
	size_t i;

	arxiv_buf_clear(keep);
	ss->n = 0;
	for (i = b->from[j->id]; i < b->to[j->id]; i++) {
		struct prep *p = &b->prep[i];

		p->ok = p->parsed = 0;
		if (parse_line(&j->t, b->lines.data + b->off[i], b->len[i], &r, &o, &e) == 0 &&
		    count_record(s, &j->t, &r, &e) == 0 &&
		    arxiv_stats_split(s->st, r.text.s, r.text.n, p->split) == 0) {
			p->n_tokens = r.n_tokens;
			p->off = keep->len;
			p->len = r.terms.n;
			if (r.terms.n == 0 || arxiv_buf_append(keep, r.terms.s, r.terms.n) == 0)
				p->ok = 1;
			/* the record itself, when its strings stay where they are: in
			 * the line (read by the scan, not by jansson), but for an
			 * unescaped text, kept */
			if (p->ok && o == NULL && keep_record(p, &r, j, keep, ss) == 0)
				p->parsed = 1;
		}
		json_decref(o);
	}
}

/* arxiv_parallel_for's fn: jobs [from, to) of the block, each with its own tools */
static void
prepare_jobs(void *ud, size_t from, size_t to)
{
	struct state *s = ud;

	for (; from < to; from++)
		prepare(&s->job[from]);
}

/* Prepare block b on the threads (its records shared out evenly). */
static void *
prepare_block(void *ud)
{
	struct state *s = ud;
	struct block *b = s->job[0].b;
	int t, nt = s->njob;

	for (t = 0; t < nt; t++) {
		b->from[t] = b->nb * (size_t)t / (size_t)nt;
		b->to[t] = b->nb * (size_t)(t + 1) / (size_t)nt;
	}
	arxiv_parallel_for((size_t)nt, 1, nt, prepare_jobs, s);
	return NULL;
}

/* Count a prepared block's records in order, and empty it. */
static int
count_block(struct state *s, struct block *b, const char *name)
{
	struct arxiv_error e;
	size_t i;
	int t = 0, rc = 0;

	for (i = 0; i < b->nb; i++) {
		const struct prep *p = &b->prep[i];

		while (i >= b->to[t])
			t++;
		if (p->parsed) {
			struct arxiv_stats_record r = p->r;

			r.categories = b->strs[t].a + p->cat_at;
			r.fields = b->strs[t].a + p->field_at;
			if (p->text_off != SIZE_MAX)
				r.text.s = b->keep[t].data + p->text_off;
			if (s->clean) {
				r.terms.s = b->keep[t].data ? b->keep[t].data + p->off : "";
				r.terms.n = p->len;
			}
			r.split = p->split;
			if (arxiv_stats_add(s->st, &r, &e) == 0) {
				s->n++;
				continue;
			}
		} else if (add_line(s, b->lines.data + b->off[i], b->len[i], p, &b->keep[t],
		    &e) == 0) {
			s->n++;
			continue;
		}
		snprintf(e.source, sizeof(e.source), "%s", name);
		e.line = b->lineno[i];
		prog_warnerr(&e);
		if (!s->keep) {
			rc = -1;
			break;
		}
		s->skipped++;
	}
	b->nb = 0;
	arxiv_buf_clear(&b->lines);
	return rc;
}

/* Wait for the block the threads are preparing, if any. */
static struct block *
settle(struct state *s)
{
	struct block *b = s->busy;

	if (b != NULL && s->async)
		pthread_join(s->th, NULL);
	s->busy = NULL;
	return b;
}

/* The block read is full (or the input ends): the threads are given it, and
 * this thread counts the block they prepared before, if any, then reads on
 * into that one while they work. */
static int
run_block(struct state *s, const char *name)
{
	struct block *b = s->fill, *done;
	int t, rc = 0;

	if (b->nb == 0)
		return 0;
	done = settle(s);
	s->njob = (size_t)s->jobs > b->nb ? (int)b->nb : s->jobs;
	for (t = 0; t < s->njob; t++) {
		s->job[t].b = b;
		s->job[t].id = t;
	}
	s->async = pthread_create(&s->th, NULL, prepare_block, s) == 0;
	if (!s->async)
		prepare_block(s);
	s->busy = b;
	if (done != NULL)
		rc = count_block(s, done, name);
	s->fill = b == &s->blk[0] ? &s->blk[1] : &s->blk[0];
	return rc;
}

/* Count every record read so far: the block being prepared, then the one read. */
static int
drain(struct state *s, const char *name)
{
	struct block *b;
	int rc = run_block(s, name);

	if ((b = settle(s)) != NULL && count_block(s, b, name) < 0)
		rc = -1;
	return rc;
}

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

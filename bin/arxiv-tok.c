/*
 * arxiv-tok - BERT WordPiece tokenisation of JSONL records into a binary
 * tensor stream (arxiv-tensor(5)); -d decodes a stream for debugging and
 * --learn builds a vocab.txt from a corpus.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdint.h>

#include "prog.h"

enum { MODE_ENCODE, MODE_DECODE, MODE_LEARN };
/* The record keys read: -f's field, "clean", "text", "label", "id", "prep". */
enum { K_FIELD, K_CLEAN, K_TEXT, K_LABEL, K_ID, K_PREP, K_N };

struct ctx {
	int mode, keep, jansson;
	const char *field;		/* -f, or NULL: "clean" if present, else "text" */
	struct arxiv_vocab *vocab;
	struct arxiv_tok_params tp;
	/* encode */
	size_t n_labels;
	const char **labels;
	const char *table_name;		/* for "unknown label" messages */
	struct arxiv_tensor_writer *w;
	char *prep;			/* the first record's signature, NULL before */
	struct arxiv_buf prepbuf;	/* this record's, NUL-terminated */
	struct arxiv_buf dec[K_N];	/* decoded escaped strings, per key */
	struct arxiv_json_key keys[K_N];	/* for arxiv_json_scan */
	size_t nkeys;
	int kidx[K_N];			/* K_* -> index in keys, -1: none */
	struct arxiv_tok_cache *cache;	/* this process's word cache */
	int prep_clean;			/* the first record tokenised "clean" */
	uint32_t *ids;
	uint8_t *mask;
	/* learn */
	struct arxiv_wordpiece_learner *learner;
	long skipped;
};

enum { O_LABELS = 256 };

static const struct option longopts[] = {
	{ "decode", no_argument, NULL, 'd' },
	{ "field", required_argument, NULL, 'f' },
	{ "jansson", no_argument, NULL, 'J' },
	{ "keep-going", no_argument, NULL, 'k' },
	{ "learn", required_argument, NULL, 'l' },
	{ "labels", required_argument, NULL, O_LABELS },
	{ "seq-len", required_argument, NULL, 'n' },
	{ "vocab", required_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const struct prog_help help[] = {
	{ "decode", NULL, "read a tensor stream, write its records back as JSON lines", 0 },
	{ "field", "field", "tokenise this key instead of \"clean\" (else \"text\")", 0 },
	{ "jansson", NULL, "parse every record with jansson (no fast path; slower)", 0 },
	{ "keep-going", NULL, "skip bad records with a warning, count them", 0 },
	{ "learn", "size", "learn a WordPiece vocabulary of this size, write it to stdout", 0 },
	{ "labels", "labels.tsv", "category-to-field table for the label ids (default: domains.tsv)", 0 },
	{ "seq-len", "seq_len", "token ids per record, [CLS] and [SEP] included (default: 256)", 0 },
	{ "vocab", "vocab.txt", "the WordPiece vocabulary (one token a line)", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog_deprecated deprecated[] = {
	{ 'm', O_LABELS, "-m labels.tsv", "--labels=labels.tsv (-m is --model in the suite)" },
	{ 0, 0, NULL, NULL }
};

static const struct prog P = {
	"arxiv-tok", "[file ...]",
	"Tokenise JSON lines with a WordPiece vocabulary into a binary tensor stream (arxiv-tensor(5)).",
	"hVdf:Jkl:m:n:v:", longopts, help, deprecated
};

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* A bad record: stop, or with -k warn and count. */
static void
bad_record(struct ctx *c, const struct arxiv_error *e)
{
	prog_warnerr(e);
	if (!c->keep)
		exit(1);
	c->skipped++;
}

/* The stream header; empty: no record was written (ARXIV_TENSOR_EMPTY). */
static int
write_header(struct ctx *c, const char *prep, int empty)
{
	struct arxiv_tensor_header h;
	struct arxiv_error e;

	memset(&h, 0, sizeof(h));
	h.seq_len = (uint32_t)c->tp.seq_len;
	h.id_width = 32;
	h.n_labels = (uint32_t)c->n_labels;
	h.flags = (c->tp.lowercase ? 1 : 0) | (empty ? ARXIV_TENSOR_EMPTY : 0);
	h.n_records = 0;
	h.vocab_hash = arxiv_vocab_hash(c->vocab);
	h.labels = (char **)c->labels;
	h.prep = (char *)prep;
	if ((c->w = arxiv_tensor_create(stdout, &h, &e)) == NULL) {
		prog_warnerr(&e);
		exit(1);
	}
	return 0;
}

/* ------------------------------------------------------------ records */

/*
 * The keys of a record that arxiv-tok reads. A plain record is checked by the
 * library's validating scanner (arxiv_json_scan: strict JSON, valid UTF-8, no
 * allocation), which finds these keys' strings (zero-copy when they hold no
 * escapes); anything else (invalid JSON or UTF-8, a key that is not a string
 * or repeated, ...) is parsed again by jansson, which also words the error
 * messages, so both paths give the same bytes. -J always uses jansson.
 */

struct val {
	int kind;		/* 0 absent, 1 string, 2 another JSON type */
	int esc;		/* s/n is the raw JSON string, escapes not yet decoded */
	const char *s;
	size_t n;
};

static const char *
key_name(const struct ctx *c, int k)
{
	static const char *const names[K_N] = { NULL, "clean", "text", "label", "id", "prep" };

	return k == K_FIELD ? c->field : names[k];
}

/* The scanner's key list: the five names, and -f's field unless it is one of them. */
static void
scan_keys_init(struct ctx *c)
{
	int k, j;

	memset(c->keys, 0, sizeof(c->keys));
	c->nkeys = 0;
	c->kidx[K_FIELD] = -1;
	for (k = K_CLEAN; k < K_N; k++) {
		c->kidx[k] = (int)c->nkeys;
		c->keys[c->nkeys].name = key_name(c, k);
		c->keys[c->nkeys++].want = ARXIV_JSON_OPTIONAL;
	}
	if (c->field == NULL)
		return;
	for (j = K_CLEAN; j < K_N; j++)
		if (strcmp(c->field, key_name(c, j)) == 0)
			c->kidx[K_FIELD] = c->kidx[j];
	if (c->kidx[K_FIELD] < 0) {
		c->kidx[K_FIELD] = (int)c->nkeys;
		c->keys[c->nkeys].name = c->field;
		c->keys[c->nkeys++].want = ARXIV_JSON_OPTIONAL;
	}
}

/* The fast path: 1 with v[] filled, or 0 to let jansson parse the record. */
static int
fast_parse(struct ctx *c, const char *line, size_t len, struct val *v)
{
	int k;

	if (!arxiv_json_scan(line, len, c->keys, c->nkeys, 0, NULL))
		return 0;
	for (k = 0; k < K_N; k++) {
		const struct arxiv_json_key *key;
		if (c->kidx[k] < 0)
			continue;
		key = &c->keys[c->kidx[k]];
		if (key->val == NULL)
			continue;
		v[k].kind = 1;
		v[k].esc = key->escaped;	/* decoded by parse() when used */
		v[k].s = key->val;
		v[k].n = key->len;
	}
	return 1;
}

/* What parse() returns for a record of the fast path (never dereferenced). */
static json_t fast_parsed;

/*
 * Parse one record into v[] and pick the text to tokenise (*fk: its slot).
 * Returns NULL or the jansson object the strings point into (to json_decref;
 * a non-NULL dummy for the fast path), or NULL with err. The strings are
 * valid UTF-8 (checked by the scanner, or by arxiv_utf8_check and jansson).
 */
static json_t *
parse(struct ctx *c, const char *line, size_t len, struct val *v, int *fk, int *is_clean,
    struct arxiv_error *err)
{
	json_error_t je;
	json_t *o = &fast_parsed;
	const char *fname;
	long bad;
	int k;

	memset(v, 0, K_N * sizeof(*v));
	if (c->jansson || !fast_parse(c, line, len, v)) {
		memset(v, 0, K_N * sizeof(*v));
		if ((bad = arxiv_utf8_check(line, len)) >= 0) {
			arxiv_error_set(err, "", 0, "invalid UTF-8 at byte %ld", bad);
			return NULL;
		}
		if ((o = json_loadb(line, len, JSON_ALLOW_NUL, &je)) == NULL) {
			arxiv_error_set(err, "", 0, "invalid JSON: %s", je.text);
			return NULL;
		}
		if (!json_is_object(o)) {
			arxiv_error_set(err, "", 0, "not a JSON object");
			json_decref(o);
			return NULL;
		}
		for (k = 0; k < K_N; k++) {
			json_t *x = key_name(c, k) ? json_object_get(o, key_name(c, k)) : NULL;
			if (x == NULL)
				continue;
			v[k].kind = json_is_string(x) ? 1 : 2;
			if (v[k].kind == 1) {
				v[k].s = json_string_value(x);
				v[k].n = json_string_length(x);
			}
		}
	}
	*fk = c->field ? K_FIELD : v[K_CLEAN].kind ? K_CLEAN : K_TEXT;
	for (k = 0; k < K_N; k++) {
		if (!v[k].esc || (k != *fk && k < K_LABEL))
			continue;
		arxiv_buf_clear(&c->dec[k]);
		if (arxiv_json_unescape(v[k].s, v[k].n, &c->dec[k]) < 0) {
			arxiv_error_set(err, "", 0, "out of memory");
			return NULL;
		}
		v[k].s = c->dec[k].data;
		v[k].n = c->dec[k].len;
		v[k].esc = 0;
	}
	fname = key_name(c, *fk);
	*is_clean = strcmp(fname, "clean") == 0;
	if (v[*fk].kind != 1 || memchr(v[*fk].s, '\0', v[*fk].n) || v[*fk].n == 0) {
		arxiv_error_set(err, "", 0, v[*fk].kind == 0 ? "missing \"%s\"" :
		    v[*fk].kind == 2 ? "\"%s\" is not a string" :
		    v[*fk].n == 0 ? "empty \"%s\"" : "NUL character in \"%s\"", fname);
		if (o != &fast_parsed)
			json_decref(o);
		return NULL;
	}
	return o;
}

static void
release(json_t *o)
{
	if (o != &fast_parsed)
		json_decref(o);
}

/* An optional string key: 0 (v->s NULL when absent) or -1 with err. */
static int
opt_string(const struct val *v, const char *key, struct arxiv_error *err)
{
	if (v->kind == 2) {
		arxiv_error_set(err, "", 0, "\"%s\" is not a string", key);
		return -1;
	}
	if (v->kind == 1 && memchr(v->s, '\0', v->n)) {
		arxiv_error_set(err, "", 0, "NUL character in \"%s\"", key);
		return -1;
	}
	return 0;
}

static int
encode_record(struct ctx *c, const char *line, size_t len, long lineno, struct arxiv_error *err)
{
	struct arxiv_tensor_record rec;
	struct val v[K_N];
	const char *prep = "";
	size_t ntok, i;
	int fk, is_clean, rc = -1;
	json_t *o;

	if ((o = parse(c, line, len, v, &fk, &is_clean, err)) == NULL)
		return -1;
	memset(&rec, 0, sizeof(rec));
	rec.label = -1;
	rec.line = (uint64_t)lineno;
	if (opt_string(&v[K_LABEL], "label", err) < 0 || opt_string(&v[K_ID], "id", err) < 0)
		goto out;
	if (v[K_LABEL].kind) {
		for (i = 0; i < c->n_labels; i++)
			if (strlen(c->labels[i]) == v[K_LABEL].n &&
			    memcmp(c->labels[i], v[K_LABEL].s, v[K_LABEL].n) == 0)
				break;
		if (i == c->n_labels) {
			arxiv_error_set(err, "", 0, "unknown label \"%.*s\" (not in %s)",
			    (int)(v[K_LABEL].n < 60 ? v[K_LABEL].n : 60), v[K_LABEL].s, c->table_name);
			goto out;
		}
		rec.label = (int32_t)i;
	}
	if (v[K_ID].kind) {
		if (v[K_ID].n > 32) {
			arxiv_error_set(err, "", 0, "\"id\" longer than 32 bytes");
			goto out;
		}
		memcpy(rec.id, v[K_ID].s, v[K_ID].n);
		rec.id[v[K_ID].n] = '\0';
	}
	if (is_clean) {
		if (opt_string(&v[K_PREP], "prep", err) < 0)
			goto out;
		if (v[K_PREP].kind == 0) {
			arxiv_error_set(err, "", 0,
			    "missing \"prep\" (tokenising \"clean\" needs arxiv-clean's signature)");
			goto out;
		}
		if (arxiv_buf_append(&c->prepbuf, v[K_PREP].s, v[K_PREP].n) < 0) {
			arxiv_error_set(err, "", 0, "out of memory");
			goto out;
		}
		prep = c->prepbuf.data;
	}
	if (c->prep != NULL && (is_clean != c->prep_clean || strcmp(prep, c->prep) != 0)) {
		if (is_clean != c->prep_clean)
			arxiv_error_set(err, "", 0, "mixes cleaned and raw records (\"%s\" here, "
			    "\"%s\" in the first record)", is_clean ? "clean" : "text",
			    c->prep_clean ? "clean" : "text");
		else {
			/* name the first setting that differs */
			const char *a = prep, *b = c->prep, *wa = a, *wb = b;
			while (*a && *a == *b) {
				if (*a == ' ') {
					wa = a + 1;
					wb = b + 1;
				}
				a++;
				b++;
			}
			arxiv_error_set(err, "", 0, "\"prep\" differs from the first record's: "
			    "\"%.*s\" vs \"%.*s\"", (int)strcspn(wa, " "), wa, (int)strcspn(wb, " "), wb);
		}
		goto out;
	}
	if (arxiv_tok_encode_cached(c->cache, ARXIV_TOK_VALID_UTF8, c->vocab, &c->tp, v[fk].s,
	    v[fk].n, c->ids, c->mask, &ntok, err) < 0)
		goto out;
	if (ntok <= 2) {
		arxiv_error_set(err, "", 0, "no tokens in \"%s\"", key_name(c, fk));
		goto out;
	}
	if (c->prep == NULL) {
		if ((c->prep = strdup(prep)) == NULL) {
			arxiv_error_set(err, "", 0, "out of memory");
			goto out;
		}
		c->prep_clean = is_clean;
		write_header(c, c->prep, 0);
	}
	rec.ids = c->ids;
	rec.mask = c->mask;
	if (arxiv_tensor_write(c->w, &rec, err) < 0) {
		prog_warnerr(err);
		exit(1);
	}
	rc = 0;
out:
	arxiv_buf_clear(&c->prepbuf);
	release(o);
	return rc;
}

static int
learn_record(struct ctx *c, const char *line, size_t len, struct arxiv_error *err)
{
	struct val v[K_N];
	int fk, is_clean, rc;
	json_t *o;

	if ((o = parse(c, line, len, v, &fk, &is_clean, err)) == NULL)
		return -1;
	rc = arxiv_wordpiece_add(c->learner, v[fk].s, v[fk].n, err);
	release(o);
	return rc;
}

static void
jsonl_file(struct ctx *c, FILE *fp, const char *name)
{
	struct arxiv_lines *r;
	struct arxiv_error e;
	const char *line;
	size_t len;
	int k;

	if ((r = arxiv_lines_new(fp, name, 0)) == NULL)
		err(1, NULL);
	while ((k = arxiv_lines_next(r, &line, &len, &e)) != 0) {
		if (k < 0) {
			if (arxiv_lines_ioerr(r)) {
				prog_warnerr(&e);
				exit(1);
			}
			bad_record(c, &e);
			continue;
		}
		if ((c->mode == MODE_LEARN ? learn_record(c, line, len, &e) :
		    encode_record(c, line, len, arxiv_lines_lineno(r), &e)) < 0) {
			snprintf(e.source, sizeof(e.source), "%s", name);
			e.line = arxiv_lines_lineno(r);
			bad_record(c, &e);
		}
	}
	arxiv_lines_free(r);
}

/* Print a stream as "id<TAB>label<TAB>tokens" lines, ## pieces merged. */
static int
decode_file(struct ctx *c, FILE *fp, const char *name)
{
	const struct arxiv_tensor_header *h;
	struct arxiv_tensor_reader *r;
	struct arxiv_tensor_record rec;
	struct arxiv_error e;
	size_t i;
	int k;

	if ((r = arxiv_tensor_open(fp, name, &e)) == NULL) {
		prog_warnerr(&e);
		return -1;
	}
	h = arxiv_tensor_header(r);
	if (c->vocab && arxiv_tensor_check_vocab(h, c->vocab, name, &e) < 0) {
		prog_warnerr(&e);
		arxiv_tensor_close(r);
		return -1;
	}
	while ((k = arxiv_tensor_next(r, &rec, &e)) == 1) {
		printf("%s\t%s\t", rec.id, rec.label >= 0 ? h->labels[rec.label] : "-");
		for (i = 0; i < h->seq_len && rec.mask[i]; i++) {
			const char *p = c->vocab ? arxiv_vocab_piece(c->vocab, rec.ids[i]) : NULL;
			if (c->vocab == NULL)
				printf(i ? " %u" : "%u", rec.ids[i]);
			else if (p == NULL)
				printf(i ? " <%u>" : "<%u>", rec.ids[i]);
			else if (i > 0 && p[0] == '#' && p[1] == '#' && p[2])
				fputs(p + 2, stdout);
			else
				printf(i ? " %s" : "%s", p);
		}
		putchar('\n');
	}
	arxiv_tensor_close(r);
	if (k < 0) {
		fflush(stdout);	/* the good records before the message */
		prog_warnerr(&e);
		return -1;
	}
	return 0;
}

/* Every input file in turn (standard input when there is none); 1 if one cannot be opened. */
static int
jsonl_inputs(struct ctx *c, int argc, char *argv[])
{
	static char fbuf[65536];
	const char *name;
	FILE *fp;
	int i;

	for (i = 0; i < (argc ? argc : 1); i++) {
		if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL)
			return 1;
		if (fp != stdin)	/* the previous file is closed: reuse fbuf */
			setvbuf(fp, fbuf, _IOFBF, sizeof(fbuf));
		jsonl_file(c, fp, name);
		prog_close(fp);
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static char ibuf[65536], obuf[65536];
	struct ctx c;
	struct arxiv_error e;
	struct arxiv_domains *dom = NULL;
	const char *vocab_path = NULL, *table = NULL, *name;
	char path[4096];
	size_t learn_n = 0, i;
	int ch, status = 0, verbose = 0;
	FILE *fp;

	memset(&c, 0, sizeof(c));
	c.tp = arxiv_tok_default_params();
	arxiv_set_log(prog_log, &verbose);
	while ((ch = prog_getopt(&P, argc, argv)) != -1) {
		switch (ch) {
		case 'd':
			c.mode = MODE_DECODE;
			break;
		case 'f':
			c.field = optarg;
			break;
		case 'J':
			c.jansson = 1;
			break;
		case 'k':
			c.keep = 1;
			break;
		case 'l':
			c.mode = MODE_LEARN;
			learn_n = (size_t)prog_num(optarg, 8, 10000000, "vocabulary size");
			break;
		case O_LABELS:
			table = optarg;
			break;
		case 'n':
			c.tp.seq_len = (size_t)prog_num(optarg, 2, ARXIV_TENSOR_MAX_SEQ, "sequence length");
			break;
		case 'v':
			vocab_path = optarg;
			break;
		}
	}
	argc -= optind;
	argv += optind;
	scan_keys_init(&c);
	/* 64 KiB stdio buffers: a pipe's default (4 KiB) costs a system call
	 * every few records */
	setvbuf(stdin, ibuf, _IOFBF, sizeof(ibuf));
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

	if (vocab_path == NULL && c.mode == MODE_ENCODE) {
		warnx("a vocabulary is required: -v vocab.txt (or build one with --learn)");
		prog_usage(&P, stderr);
		return 2;
	}
	if (vocab_path && c.mode != MODE_LEARN && (c.vocab = arxiv_vocab_load(vocab_path, &e)) == NULL) {
		prog_warnerr(&e);
		return 1;
	}

	if (c.mode == MODE_DECODE) {
		for (i = 0; i < (size_t)(argc ? argc : 1); i++) {
			if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL) {
				status = 1;
				continue;
			}
			if (decode_file(&c, fp, name) < 0)
				status = 1;
			prog_close(fp);
		}
		arxiv_vocab_free(c.vocab);
		return prog_fshut() || status;
	}

	if (c.mode == MODE_LEARN) {
		struct arxiv_buf out = {0};

		if ((c.learner = arxiv_wordpiece_learner_new(0)) == NULL)
			err(1, NULL);
		status = jsonl_inputs(&c, argc, argv);
		if (status == 0 && arxiv_wordpiece_learn(c.learner, learn_n, &out, &e) < 0) {
			prog_warnerr(&e);
			status = 1;
		}
		if (status == 0)
			fwrite(out.data, 1, out.len, stdout);
		arxiv_buf_free(&out);
		arxiv_wordpiece_learner_free(c.learner);
		for (i = 0; i < K_N; i++)
			arxiv_buf_free(&c.dec[i]);
		if (c.skipped)
			warnx("skipped %ld records", c.skipped);
		return status ? 1 : prog_fshut();
	}

	if (isatty(STDOUT_FILENO))
		errx(1, "refusing to write a binary tensor stream to a terminal; redirect stdout");
	if (table == NULL)
		table = arxiv_data_path("domains.tsv", path, sizeof(path));
	if ((dom = arxiv_domains_load(table, &e)) == NULL) {
		prog_warnerr(&e);
		arxiv_vocab_free(c.vocab);
		return 1;
	}
	c.table_name = base_name(table);
	c.n_labels = arxiv_domains_nlabels(dom);
	if ((c.labels = calloc(c.n_labels ? c.n_labels : 1, sizeof(*c.labels))) == NULL ||
	    (c.ids = malloc(c.tp.seq_len * sizeof(*c.ids))) == NULL ||
	    (c.mask = malloc(c.tp.seq_len)) == NULL)
		err(1, NULL);
	for (i = 0; i < c.n_labels; i++)
		c.labels[i] = arxiv_domains_label(dom, i);
	if ((c.cache = arxiv_tok_cache_new()) == NULL)
		err(1, NULL);
	status = jsonl_inputs(&c, argc, argv);
	if (c.w == NULL && status == 0)
		write_header(&c, "", 1);	/* no record: a placeholder header */
	if (arxiv_tensor_finish(c.w, &e) < 0 && status == 0) {
		prog_warnerr(&e);
		status = 1;
	}
	if (c.skipped)
		warnx("skipped %ld records", c.skipped);
	free(c.labels);
	free(c.ids);
	free(c.mask);
	free(c.prep);
	arxiv_tok_cache_free(c.cache);
	arxiv_buf_free(&c.prepbuf);
	for (i = 0; i < K_N; i++)
		arxiv_buf_free(&c.dec[i]);
	arxiv_domains_free(dom);
	arxiv_vocab_free(c.vocab);
	return status ? 1 : prog_fshut();
}

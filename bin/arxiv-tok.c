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
	int prep_clean;			/* the first record tokenised "clean" */
	uint32_t *ids;
	uint8_t *mask;
	/* learn */
	struct arxiv_wordpiece_learner *learner;
	long skipped;
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: arxiv-tok [-dJk] [-f field] [-l size] [-m labels.tsv] [-n seq_len] "
	    "[-v vocab.txt] [file ...]\n");
}

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

static int
write_header(struct ctx *c, const char *prep)
{
	struct arxiv_tensor_header h;
	struct arxiv_error e;

	memset(&h, 0, sizeof(h));
	h.seq_len = (uint32_t)c->tp.seq_len;
	h.id_width = 32;
	h.n_labels = (uint32_t)c->n_labels;
	h.flags = c->tp.lowercase ? 1 : 0;
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
 * The keys of a record that arxiv-tok reads. A record is parsed by a small
 * validating scanner that only decodes these keys' strings (zero-copy when
 * they hold no escapes) and skips everything else; whenever it meets anything
 * unusual (invalid JSON, an escaped key, a surrogate escape, an exponent or a
 * long number, deep nesting) it gives up and the record is parsed again by
 * jansson, which also words the error messages. -J always uses jansson.
 */

struct val {
	int kind;		/* 0 absent, 1 string, 2 another JSON type */
	int esc;		/* s/n is the raw JSON string, escapes not yet decoded */
	const char *s;
	size_t n;
};

struct scan {
	const char *p, *end;
	struct ctx *c;
	struct val *v;
};

static const char *
key_name(const struct ctx *c, int k)
{
	static const char *const names[K_N] = { NULL, "clean", "text", "label", "id", "prep" };

	return k == K_FIELD ? c->field : names[k];
}

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A string at s->p ('"'). *esc: it has escapes. 0, or -1: give up. */
static int
scan_string(struct scan *s, const char **start, size_t *n, int *esc)
{
	const char *p = s->p + 1;

	*esc = 0;
	*start = p;
	for (;;) {
		unsigned char ch;
		if (p >= s->end)
			return -1;
		ch = (unsigned char)*p;
		if (ch == '"')
			break;
		if (ch < 0x20)
			return -1;
		if (ch == '\\') {
			*esc = 1;
			if (++p >= s->end)
				return -1;
			if (*p == 'u') {
				int i, u = 0;
				if (s->end - p < 5)
					return -1;
				for (i = 1; i <= 4; i++) {
					int h = hexval(p[i]);
					if (h < 0)
						return -1;
					u = u * 16 + h;
				}
				if (u >= 0xd800 && u <= 0xdfff)
					return -1;
				p += 5;
				continue;
			}
			if (!strchr("\"\\/bfnrt", *p) || *p == '\0')
				return -1;
		}
		p++;
	}
	*n = (size_t)(p - *start);
	s->p = p + 1;
	return 0;
}

/* Decode a scanned string with escapes into b. */
static int
decode_string(const char *p, size_t n, struct arxiv_buf *b)
{
	const char *end = p + n, *q;
	char ch;

	arxiv_buf_clear(b);
	while (p < end) {
		if ((q = memchr(p, '\\', (size_t)(end - p))) == NULL)
			q = end;
		if (arxiv_buf_append(b, p, (size_t)(q - p)) < 0)
			return -1;
		if ((p = q) == end)
			break;
		p++;
		ch = *p++;
		switch (ch) {
		case 'b': ch = '\b'; break;
		case 'f': ch = '\f'; break;
		case 'n': ch = '\n'; break;
		case 'r': ch = '\r'; break;
		case 't': ch = '\t'; break;
		case 'u': {
			unsigned u = (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 |
			    hexval(p[2]) << 4 | hexval(p[3]));
			char enc[3];
			size_t k;
			p += 4;
			if (u < 0x80) {
				enc[0] = (char)u;
				k = 1;
			} else if (u < 0x800) {
				enc[0] = (char)(0xc0 | u >> 6);
				enc[1] = (char)(0x80 | (u & 0x3f));
				k = 2;
			} else {
				enc[0] = (char)(0xe0 | u >> 12);
				enc[1] = (char)(0x80 | ((u >> 6) & 0x3f));
				enc[2] = (char)(0x80 | (u & 0x3f));
				k = 3;
			}
			if (arxiv_buf_append(b, enc, k) < 0)
				return -1;
			continue;
		}
		default: break;	/* " \ / */
		}
		if (arxiv_buf_putc(b, ch) < 0)
			return -1;
	}
	return arxiv_buf_reserve(b, 0);
}

static int
scan_value(struct scan *s, int depth)
{
	const char *start;
	size_t n, digits = 0;
	int esc;

	if (s->p >= s->end || depth > 32)
		return -1;
	switch (*s->p) {
	case '"':
		return scan_string(s, &start, &n, &esc);
	case '{':
	case '[': {
		char close = *s->p == '{' ? '}' : ']';
		s->p++;
		skip_ws(s);
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				if (s->p >= s->end || *s->p != '"' || scan_string(s, &start, &n, &esc) < 0)
					return -1;
				skip_ws(s);
				if (s->p >= s->end || *s->p++ != ':')
					return -1;
				skip_ws(s);
			}
			if (scan_value(s, depth + 1) < 0)
				return -1;
			skip_ws(s);
			if (s->p >= s->end)
				return -1;
			if (*s->p == close) {
				s->p++;
				return 0;
			}
			if (*s->p++ != ',')
				return -1;
			skip_ws(s);
		}
	}
	case 't':
		n = 4;
		start = "true";
		goto literal;
	case 'f':
		n = 5;
		start = "false";
		goto literal;
	case 'n':
		n = 4;
		start = "null";
literal:
		if ((size_t)(s->end - s->p) < n || memcmp(s->p, start, n) != 0)
			return -1;
		s->p += n;
		return 0;
	default:
		/* a number; exponents and long numbers are left to jansson */
		if (*s->p == '-')
			s->p++;
		if (s->p < s->end && *s->p == '0')
			s->p++, digits++;
		else if (s->p < s->end && *s->p >= '1' && *s->p <= '9')
			while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
				s->p++, digits++;
		else
			return -1;
		if (s->p < s->end && *s->p == '.') {
			s->p++;
			if (s->p >= s->end || *s->p < '0' || *s->p > '9')
				return -1;
			while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
				s->p++, digits++;
		}
		if (digits > 15 || (s->p < s->end && (*s->p == 'e' || *s->p == 'E')))
			return -1;
		return 0;
	}
}

/* The fast path: 0 with v[] filled, or -1 to let jansson parse the record. */
static int
fast_parse(struct ctx *c, const char *line, size_t len, struct val *v)
{
	struct scan s = { line, line + len, c, v };
	const char *key, *str;
	size_t kn, n;
	int esc, k, hit;

	skip_ws(&s);
	if (s.p >= s.end || *s.p++ != '{')
		return -1;
	skip_ws(&s);
	if (s.p < s.end && *s.p == '}') {
		s.p++;
		goto end;
	}
	for (;;) {
		if (s.p >= s.end || *s.p != '"' || scan_string(&s, &key, &kn, &esc) < 0 || esc)
			return -1;
		skip_ws(&s);
		if (s.p >= s.end || *s.p++ != ':')
			return -1;
		skip_ws(&s);
		for (hit = 0, k = 0; k < K_N; k++) {
			const char *name = key_name(c, k);
			if (name && strlen(name) == kn && memcmp(name, key, kn) == 0)
				hit |= 1 << k;
		}
		if (hit && s.p < s.end && *s.p == '"') {
			if (scan_string(&s, &str, &n, &esc) < 0)
				return -1;
			for (k = 0; k < K_N; k++) {
				if (!(hit & 1 << k))
					continue;
				v[k].kind = 1;
				v[k].esc = esc;	/* decoded by parse() when used */
				v[k].s = str;
				v[k].n = n;
			}
		} else {
			if (scan_value(&s, 1) < 0)
				return -1;
			for (k = 0; k < K_N; k++)
				if (hit & 1 << k)
					v[k].kind = 2;
		}
		skip_ws(&s);
		if (s.p >= s.end)
			return -1;
		if (*s.p == '}') {
			s.p++;
			break;
		}
		if (*s.p++ != ',')
			return -1;
		skip_ws(&s);
	}
end:
	skip_ws(&s);
	return s.p == s.end ? 0 : -1;
}

/* What parse() returns for a record of the fast path (never dereferenced). */
static json_t fast_parsed;

/*
 * Parse one record into v[] and pick the text to tokenise (*fk: its slot).
 * Returns NULL or the jansson object the strings point into (to json_decref;
 * a non-NULL dummy for the fast path), or NULL with err.
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
	if ((bad = arxiv_utf8_check(line, len)) >= 0) {
		arxiv_error_set(err, "", 0, "invalid UTF-8 at byte %ld", bad);
		return NULL;
	}
	if (c->jansson || fast_parse(c, line, len, v) < 0) {
		memset(v, 0, K_N * sizeof(*v));
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
		if (decode_string(v[k].s, v[k].n, &c->dec[k]) < 0) {
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
	if (arxiv_tok_encode(c->vocab, &c->tp, v[fk].s, v[fk].n, c->ids, c->mask, &ntok, err) < 0)
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
		write_header(c, c->prep);
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

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "decode", no_argument, NULL, 'd' },
		{ "field", required_argument, NULL, 'f' },
		{ "jansson", no_argument, NULL, 'J' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "learn", required_argument, NULL, 'l' },
		{ "labels", required_argument, NULL, 'm' },
		{ "seq-len", required_argument, NULL, 'n' },
		{ "vocab", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'H' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
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
	while ((ch = getopt_long(argc, argv, "df:Jkl:m:n:v:", longopts, NULL)) != -1) {
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
		case 'm':
			table = optarg;
			break;
		case 'n':
			c.tp.seq_len = (size_t)prog_num(optarg, 2, ARXIV_TENSOR_MAX_SEQ, "sequence length");
			break;
		case 'v':
			vocab_path = optarg;
			break;
		case 'H':
			usage(stdout);
			return 0;
		case 'V':
			printf("arxiv-tok %s\n", VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;

	if (vocab_path == NULL && c.mode == MODE_ENCODE) {
		warnx("a vocabulary is required: -v vocab.txt (or build one with --learn)");
		usage(stderr);
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
		for (i = 0; i < (size_t)(argc ? argc : 1); i++) {
			if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL) {
				status = 1;
				break;
			}
			jsonl_file(&c, fp, name);
			prog_close(fp);
		}
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
	for (i = 0; i < (size_t)(argc ? argc : 1); i++) {
		if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL) {
			status = 1;
			break;
		}
		jsonl_file(&c, fp, name);
		prog_close(fp);
	}
	if (c.w == NULL && status == 0)
		write_header(&c, "");
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
	arxiv_buf_free(&c.prepbuf);
	for (i = 0; i < K_N; i++)
		arxiv_buf_free(&c.dec[i]);
	arxiv_domains_free(dom);
	arxiv_vocab_free(c.vocab);
	return status ? 1 : prog_fshut();
}

/*
 * arxiv-clean - clean the text of JSONL records for training: NFKC, LaTeX to
 * words, character filter, whitespace, case folding, stop words, stemming,
 * truncation. Adds "clean" and "prep" (the preprocessing signature) to each
 * record and passes every other key through. Stateless per line.
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

static const char usage_line[] =
    "usage: arxiv-clean [-CFJkLNpPSTW] [-f field] [-l lang] [-n bytes] [-s stopwords] [file ...]";

static void
usage(FILE *fp, int status)
{
	fprintf(fp, "%s\n", usage_line);
	if (status == 0)
		fputs("Clean the text of JSONL records; adds \"clean\" and \"prep\" keys.\n"
		    "  -f, --field FIELD      clean FIELD instead of \"text\"\n"
		    "  -p, --plain            plain text: one raw text per line in, one cleaned line out\n"
		    "  -n, --truncate BYTES   cut the cleaned text to BYTES at a word boundary (0: no limit)\n"
		    "  -s, --stopwords FILE   stop-word list (default: the shipped stopwords.txt)\n"
		    "  -l, --stem-lang LANG   Snowball stemmer language (default english)\n"
		    "  -N, --no-nfkc          no Unicode NFKC normalisation\n"
		    "  -L, --no-latex         no LaTeX-to-words conversion\n"
		    "  -F, --no-filter        keep punctuation and symbols\n"
		    "  -W, --no-space         do not collapse whitespace\n"
		    "  -C, --no-casefold      keep upper case\n"
		    "  -S, --no-stop          keep stop words\n"
		    "  -T, --no-stem          no stemming\n"
		    "  -P, --signature        print the preprocessing signature and exit\n"
		    "  -J, --jansson          parse every record with jansson (no fast path; slower)\n"
		    "  -k, --skip             skip bad records with a warning\n"
		    "  -h, --help             this help\n"
		    "      --version          print the version\n", fp);
	exit(status);
}

struct state {
	struct arxiv_cleaner *cl;
	const char *field;
	int plain, skip, jansson;
	long skipped;
	json_t *prep;
	struct arxiv_buf out, txt;
};

static int
dump_cb(const char *buf, size_t size, void *data)
{
	return fwrite(buf, 1, size, data) == size ? 0 : -1;
}

/*
 * A compact JSON object line: '{' ... '}' with no blank outside strings. Such a
 * line (already parsed, so valid) gets the new keys spliced in before its
 * closing brace; every other byte passes through unchanged.
 */
static int
compact_object(const char *s, size_t n)
{
	size_t i;
	int instr = 0;

	if (n < 2 || s[0] != '{' || s[n - 1] != '}')
		return 0;
	for (i = 0; i < n; i++) {
		if (instr) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				instr = 0;
		} else if (s[i] == '"')
			instr = 1;
		else if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
			return 0;
	}
	return 1;
}

/* Write s as a JSON string, escaped exactly as jansson's compact dump does. */
static void
put_json_string(const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, start = 0;
	unsigned char c;

	putchar('"');
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		fwrite(s + start, 1, i - start, stdout);
		start = i + 1;
		putchar('\\');
		switch (c) {
		case '"': putchar('"'); break;
		case '\\': putchar('\\'); break;
		case '\b': putchar('b'); break;
		case '\f': putchar('f'); break;
		case '\n': putchar('n'); break;
		case '\r': putchar('r'); break;
		case '\t': putchar('t'); break;
		default:
			printf("u00%c%c", hex[c >> 4], hex[c & 15]);
			break;
		}
	}
	fwrite(s + start, 1, n - start, stdout);
	putchar('"');
}

/* Is the text empty or whitespace only? */
static int
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' &&
		    s[i] != '\f' && s[i] != '\v')
			return 0;
	return 1;
}

/*
 * The fast path. jansson parses a 1 KiB record in about 20 us, more than the
 * cleaning itself, so the common record (a compact object whose text field is
 * a plain key holding a string, without "clean" or "prep" yet) is checked by
 * this validating scanner instead: strict RFC 8259 grammar, no allocation.
 * Anything else (and every error, for its message) goes through jansson, so
 * both paths give the same bytes; -J forces jansson for every line.
 */
struct scan {
	const char *end;
	const char *field;
	size_t field_len;
	const char *val;	/* the field's string token (after the quote) */
	size_t val_len;		/* raw bytes, escapes not decoded */
	int nfield, other;	/* field seen; "clean"/"prep" seen or an odd key */
	int escaped;		/* the field's value has escapes */
	int blanks;		/* whitespace between tokens: output is compacted */
};

static const char *
scan_ws(struct scan *sc, const char *p)
{
	while (p < sc->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
		sc->blanks = 1;
		p++;
	}
	return p;
}

#define SCAN_DEPTH 64

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long
hex4(const char *p, const char *end)
{
	long v = 0;
	int i, h;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((h = hexval(p[i])) < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* p after the opening quote; returns the closing quote or NULL. */
static const char *
scan_string(const char *p, const char *end, int *escaped)
{
	long u, l;

	*escaped = 0;
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p;
		if (c < 0x20)
			return NULL;
		if (c != '\\') {
			p++;
			continue;
		}
		*escaped = 1;
		if (++p >= end)
			return NULL;
		switch (*p) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			p++;
			break;
		case 'u':
			if ((u = hex4(p + 1, end)) <= 0)	/* \u0000: jansson says why */
				return NULL;
			p += 5;
			if (u >= 0xdc00 && u <= 0xdfff)
				return NULL;
			if (u >= 0xd800 && u <= 0xdbff) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    (l = hex4(p + 2, end)) < 0xdc00 || l > 0xdfff)
					return NULL;
				p += 6;
			}
			break;
		default:
			return NULL;
		}
	}
	return NULL;
}

static const char *
scan_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (p < end && *p == '.') {
		if (++p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

static const char *scan_value(struct scan *sc, const char *p, int depth, int top_field);

/* p at '{' or '['. */
static const char *
scan_container(struct scan *sc, const char *p, int depth)
{
	const char *end = sc->end, *k;
	char close = *p == '{' ? '}' : ']';
	int obj = *p == '{', esc, is_field;

	if (depth >= SCAN_DEPTH)
		return NULL;
	p = scan_ws(sc, p + 1);
	if (p < end && *p == close)
		return p + 1;
	for (;;) {
		is_field = 0;
		if (obj) {
			if (p >= end || *p != '"' || (k = scan_string(p + 1, end, &esc)) == NULL)
				return NULL;
			if (depth == 0) {
				size_t n = (size_t)(k - p - 1);
				if (esc)
					sc->other = 1;
				else if (n == sc->field_len && memcmp(p + 1, sc->field, n) == 0)
					is_field = 1;
				else if ((n == 5 && memcmp(p + 1, "clean", 5) == 0) ||
				    (n == 4 && memcmp(p + 1, "prep", 4) == 0))
					sc->other = 1;
			}
			p = scan_ws(sc, k + 1);
			if (p >= end || *p != ':')
				return NULL;
			p = scan_ws(sc, p + 1);
		}
		if ((p = scan_value(sc, p, depth + 1, is_field)) == NULL)
			return NULL;
		p = scan_ws(sc, p);
		if (p < end && *p == ',') {
			p = scan_ws(sc, p + 1);
			continue;
		}
		if (p < end && *p == close)
			return p + 1;
		return NULL;
	}
}

static const char *
scan_value(struct scan *sc, const char *p, int depth, int top_field)
{
	const char *end = sc->end, *q;
	int esc;

	if (p >= end)
		return NULL;
	if (top_field)
		sc->nfield++;
	switch (*p) {
	case '"':
		if ((q = scan_string(p + 1, end, &esc)) == NULL)
			return NULL;
		if (top_field) {
			sc->val = p + 1;
			sc->val_len = (size_t)(q - p - 1);
			sc->escaped = esc;
		}
		return q + 1;
	case '{':
	case '[':
		if (top_field)
			sc->other = 1;	/* not a string: jansson reports it */
		return scan_container(sc, p, depth);
	case 't':
		q = "true";
		break;
	case 'f':
		q = "false";
		break;
	case 'n':
		q = "null";
		break;
	default:
		if (top_field)
			sc->other = 1;
		return scan_number(p, end);
	}
	if (top_field)
		sc->other = 1;
	if ((size_t)(end - p) < strlen(q) || memcmp(p, q, strlen(q)) != 0)
		return NULL;
	return p + strlen(q);
}

static void
put_utf8(struct arxiv_buf *b, long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp; n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3f)); n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f)); n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); u[3] = (char)(0x80 | (cp & 0x3f)); n = 4;
	}
	arxiv_buf_append(b, u, n);
}

/* Decode a validated string token (escapes) into b. */
static void
unescape(const char *p, size_t n, struct arxiv_buf *b)
{
	const char *end = p + n, *q;
	long u, l;

	arxiv_buf_clear(b);
	arxiv_buf_reserve(b, n);
	while (p < end) {
		for (q = p; q < end && *q != '\\'; q++)
			;
		arxiv_buf_append(b, p, (size_t)(q - p));
		if (q >= end)
			break;
		p = q + 1;
		switch (*p++) {
		case 'b': arxiv_buf_putc(b, '\b'); break;
		case 'f': arxiv_buf_putc(b, '\f'); break;
		case 'n': arxiv_buf_putc(b, '\n'); break;
		case 'r': arxiv_buf_putc(b, '\r'); break;
		case 't': arxiv_buf_putc(b, '\t'); break;
		case 'u':
			u = hex4(p, end);
			p += 4;
			if (u >= 0xd800 && u <= 0xdbff) {
				l = hex4(p + 2, end);
				p += 6;
				u = 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00);
			}
			put_utf8(b, u);
			break;
		default: arxiv_buf_putc(b, p[-1]); break;	/* " \\ / */
		}
	}
}

/* 1: a fast-path record (text and n set); 0: let jansson handle the line. */
static int
fast_scan(struct state *st, const char *line, size_t len, const char **text, size_t *n,
    int *blanks)
{
	struct scan sc;
	const char *p;

	memset(&sc, 0, sizeof(sc));
	sc.end = line + len;
	sc.field = st->field;
	sc.field_len = strlen(st->field);
	p = scan_ws(&sc, line);
	if (p >= sc.end || *p != '{' || (p = scan_container(&sc, p, 0)) == NULL ||
	    scan_ws(&sc, p) != sc.end || sc.nfield != 1 || sc.other || sc.val == NULL)
		return 0;
	*blanks = sc.blanks;
	if (sc.escaped) {
		unescape(sc.val, sc.val_len, &st->txt);
		*text = st->txt.data;
		*n = st->txt.len;
	} else {
		*text = sc.val;
		*n = sc.val_len;
	}
	return 1;
}

/*
 * Write line with the new keys spliced in before its closing brace; with
 * blanks, the whitespace outside strings is dropped on the way (compact).
 */
static void
put_spliced(struct state *st, const char *line, size_t len, int blanks)
{
	size_t i, start = 0;
	int instr = 0;

	while (len > 0 && line[len - 1] != '}')
		len--;
	if (!blanks)
		fwrite(line, 1, len - 1, stdout);
	else {
		for (i = 0; i < len - 1; i++) {
			if (instr) {
				if (line[i] == '\\')
					i++;
				else if (line[i] == '"')
					instr = 0;
			} else if (line[i] == '"')
				instr = 1;
			else if (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' ||
			    line[i] == '\n') {
				fwrite(line + start, 1, i - start, stdout);
				start = i + 1;
			}
		}
		fwrite(line + start, 1, len - 1 - start, stdout);
	}
	fputs(",\"clean\":", stdout);
	put_json_string(st->out.data ? st->out.data : "", st->out.len);
	fputs(",\"prep\":", stdout);
	put_json_string(json_string_value(st->prep), json_string_length(st->prep));
	fputs("}\n", stdout);
}

/* One line: 0 done, -1 bad record (err set). */
static int
clean_line(struct state *st, const char *line, size_t len, struct arxiv_error *err)
{
	json_error_t jerr;
	json_t *obj, *v;
	const char *text;
	size_t n;
	long bad;
	int blanks;

	if ((bad = arxiv_utf8_check(line, len)) >= 0) {
		arxiv_error_set(err, "", 0, "invalid UTF-8 at byte %ld", bad);
		return -1;
	}
	if (st->plain) {
		if (blank(line, len)) {
			arxiv_error_set(err, "", 0, "empty text");
			return -1;
		}
		if (arxiv_clean_text(st->cl, line, len, &st->out, err) < 0)
			return -1;
		fwrite(st->out.data, 1, st->out.len, stdout);
		putchar('\n');
		return 0;
	}
	if (!st->jansson && fast_scan(st, line, len, &text, &n, &blanks)) {
		if (blank(text, n)) {
			arxiv_error_set(err, "", 0, "empty \"%s\" field", st->field);
			return -1;
		}
		if (arxiv_clean_text(st->cl, text, n, &st->out, err) < 0)
			return -1;
		put_spliced(st, line, len, blanks);
		return 0;
	}
	if ((obj = json_loadb(line, len, 0, &jerr)) == NULL) {
		arxiv_error_set(err, "", 0, "invalid JSON: %s", jerr.text);
		return -1;
	}
	if (!json_is_object(obj)) {
		arxiv_error_set(err, "", 0, "not a JSON object");
		goto bad;
	}
	if ((v = json_object_get(obj, st->field)) == NULL) {
		arxiv_error_set(err, "", 0, "missing \"%s\" field", st->field);
		goto bad;
	}
	if (!json_is_string(v)) {
		arxiv_error_set(err, "", 0, "\"%s\" is not a string", st->field);
		goto bad;
	}
	text = json_string_value(v);
	n = json_string_length(v);
	if (blank(text, n)) {
		arxiv_error_set(err, "", 0, "empty \"%s\" field", st->field);
		goto bad;
	}
	if (arxiv_clean_text(st->cl, text, n, &st->out, err) < 0)
		goto bad;
	if (compact_object(line, len) && json_object_get(obj, "clean") == NULL &&
	    json_object_get(obj, "prep") == NULL) {
		put_spliced(st, line, len, 0);
		json_decref(obj);
		return 0;
	}
	/* otherwise: update the object and write it compactly */
	if (json_object_set_new(obj, "clean", json_stringn_nocheck(st->out.data ? st->out.data : "",
	    st->out.len)) < 0 || json_object_set(obj, "prep", st->prep) < 0) {
		arxiv_error_set(err, "", 0, "out of memory");
		goto bad;
	}
	json_dump_callback(obj, dump_cb, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(obj);
	return 0;
bad:
	json_decref(obj);
	return -1;
}

/* 0 ok, 1 failed (message printed). */
static int
clean_file(struct state *st, FILE *fp, const char *name)
{
	struct arxiv_lines *r;
	struct arxiv_error e;
	const char *line;
	size_t len;
	int rc;

	if ((r = arxiv_lines_new(fp, name, ARXIV_MAX_LINE)) == NULL)
		err(1, "out of memory");
	while ((rc = arxiv_lines_next(r, &line, &len, &e)) != 0) {
		if (rc > 0) {
			if (clean_line(st, line, len, &e) == 0) {
				if (ferror(stdout))
					break;	/* reported by prog_fshut() */
				continue;
			}
			/* the library does not know where the line came from */
			snprintf(e.source, sizeof(e.source), "%s", name);
			e.line = arxiv_lines_lineno(r);
		} else if (arxiv_lines_ioerr(r)) {
			prog_warnerr(&e);
			arxiv_lines_free(r);
			return 1;
		}
		fflush(stdout);	/* good records first, then the message */
		prog_warnerr(&e);
		if (!st->skip) {
			arxiv_lines_free(r);
			return 1;
		}
		st->skipped++;
	}
	arxiv_lines_free(r);
	return ferror(stdout) ? 1 : 0;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "field", required_argument, NULL, 'f' },
		{ "plain", no_argument, NULL, 'p' },
		{ "truncate", required_argument, NULL, 'n' },
		{ "stopwords", required_argument, NULL, 's' },
		{ "stem-lang", required_argument, NULL, 'l' },
		{ "no-nfkc", no_argument, NULL, 'N' },
		{ "no-latex", no_argument, NULL, 'L' },
		{ "no-filter", no_argument, NULL, 'F' },
		{ "no-space", no_argument, NULL, 'W' },
		{ "no-casefold", no_argument, NULL, 'C' },
		{ "no-stop", no_argument, NULL, 'S' },
		{ "no-stem", no_argument, NULL, 'T' },
		{ "signature", no_argument, NULL, 'P' },
		{ "jansson", no_argument, NULL, 'J' },
		{ "skip", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' + 256 },
		{ NULL, 0, NULL, 0 }
	};
	struct arxiv_clean_params p = arxiv_clean_default_params();
	struct state st;
	struct arxiv_error e;
	struct arxiv_buf sig = { 0 };
	static char obuf[1 << 16];
	const char *name;
	int c, i, status = 0, print_sig = 0;
	FILE *fp;

	memset(&st, 0, sizeof(st));
	st.field = "text";
	arxiv_set_log(prog_log, NULL);
	while ((c = getopt_long(argc, argv, "f:pn:s:l:NLFWCSTPJkh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': st.field = optarg; break;
		case 'p': st.plain = 1; break;
		case 'n': p.truncate = (size_t)prog_num(optarg, 0, 1L << 30, "truncation"); break;
		case 's': p.stopwords = optarg; break;
		case 'l': p.stem_lang = optarg; break;
		case 'N': p.flags &= ~(unsigned)ARXIV_CLEAN_NFKC; break;
		case 'L': p.flags &= ~(unsigned)ARXIV_CLEAN_LATEX; break;
		case 'F': p.flags &= ~(unsigned)ARXIV_CLEAN_FILTER; break;
		case 'W': p.flags &= ~(unsigned)ARXIV_CLEAN_SPACE; break;
		case 'C': p.flags &= ~(unsigned)ARXIV_CLEAN_LOWER; break;
		case 'S': p.flags &= ~(unsigned)ARXIV_CLEAN_STOP; break;
		case 'T': p.flags &= ~(unsigned)ARXIV_CLEAN_STEM; break;
		case 'P': print_sig = 1; break;
		case 'J': st.jansson = 1; break;
		case 'k': st.skip = 1; break;
		case 'h': usage(stdout, 0); break;
		case 'V' + 256: printf("arxiv-clean %s\n", VERSION); return prog_fshut();
		default: usage(stderr, 2);
		}
	}
	argc -= optind;
	argv += optind;

	if ((st.cl = arxiv_cleaner_new(&p, &e)) == NULL) {
		prog_warnerr(&e);
		return 1;
	}
	if (arxiv_clean_params_str(&p, &sig) < 0)
		errx(1, "%s: cannot compute the preprocessing signature", p.stopwords);
	if (print_sig) {
		printf("%s\n", sig.data);
		arxiv_buf_free(&sig);
		arxiv_cleaner_free(st.cl);
		return prog_fshut();
	}
	if ((st.prep = json_string(sig.data)) == NULL)
		errx(1, "out of memory");
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

	for (i = 0; i < (argc ? argc : 1); i++) {
		if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL) {
			status = 1;
			break;
		}
		c = clean_file(&st, fp, name);
		prog_close(fp);
		if (c) {
			status = 1;
			break;
		}
	}
	if (st.skipped)
		warnx("skipped %ld records", st.skipped);
	json_decref(st.prep);
	arxiv_buf_free(&st.out);
	arxiv_buf_free(&st.txt);
	arxiv_buf_free(&sig);
	arxiv_cleaner_free(st.cl);
	if (prog_fshut())
		status = 1;
	return status;
}

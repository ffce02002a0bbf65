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

enum { O_SKIP = 256, O_STOPWORDS };

static const struct option opts[] = {
	{ "field", required_argument, NULL, 'f' },
	{ "plain", no_argument, NULL, 'p' },
	{ "truncate", required_argument, NULL, 'n' },
	{ "stopwords", required_argument, NULL, O_STOPWORDS },
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
	{ "keep-going", no_argument, NULL, 'k' },
	{ "skip", no_argument, NULL, O_SKIP },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "field", "field", "clean this key instead of \"text\"", 0 },
	{ "plain", NULL, "plain text: one raw text per line in, one cleaned line out", 0 },
	{ "truncate", "bytes", "cut the cleaned text to this many bytes at a word boundary (0: no limit)", 0 },
	{ "stopwords", "file", "stop-word list (default: the shipped stopwords.txt)", 0 },
	{ "stem-lang", "lang", "Snowball stemmer language (default: english)", 0 },
	{ "no-nfkc", NULL, "no Unicode NFKC normalisation", 0 },
	{ "no-latex", NULL, "no LaTeX-to-words conversion", 0 },
	{ "no-filter", NULL, "keep punctuation and symbols", 0 },
	{ "no-space", NULL, "do not collapse whitespace", 0 },
	{ "no-casefold", NULL, "keep upper case", 0 },
	{ "no-stop", NULL, "keep stop words", 0 },
	{ "no-stem", NULL, "no stemming", 0 },
	{ "signature", NULL, "print the preprocessing signature and exit", 0 },
	{ "jansson", NULL, "parse every record with jansson (no fast path; slower)", 0 },
	{ "keep-going", NULL, "skip bad records with a warning, count them", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog_deprecated deprecated[] = {
	{ O_SKIP, 'k', "--skip", "--keep-going (-k)" },
	{ 's', O_STOPWORDS, "-s file", "--stopwords=file (-s is --seed in the suite)" },
	{ 0, 0, NULL, NULL }
};

static const struct prog P = {
	"arxiv-clean", "[file ...]",
	"Clean the text of JSONL records; adds \"clean\" and \"prep\" keys.",
	"hVf:pn:s:l:NLFWCSTPJk", opts, help, deprecated
};

struct state {
	struct arxiv_cleaner *cl;
	const char *field;
	int plain, skip, jansson;
	long skipped;
	json_t *prep;
	struct arxiv_buf out, txt, esc;
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
put_json_string(struct state *st, const char *s, size_t n)
{
	arxiv_buf_clear(&st->esc);
	if (arxiv_buf_putc(&st->esc, '"') < 0 || arxiv_json_escape(s, n, &st->esc) < 0 ||
	    arxiv_buf_putc(&st->esc, '"') < 0)
		errx(1, "out of memory");
	fwrite(st->esc.data, 1, st->esc.len, stdout);
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
 * the library's validating scanner instead (arxiv_json_scan: strict, valid
 * UTF-8, no allocation). Anything else (and every error, for its message) goes
 * through jansson, so both paths give the same bytes; -J forces jansson.
 */
static int
fast_scan(struct state *st, const char *line, size_t len, const char **text, size_t *n,
    int *blanks)
{
	struct arxiv_json_key k[3];
	int compact;

	memset(k, 0, sizeof(k));
	k[0].name = st->field;
	k[1].name = "clean";
	k[1].want = ARXIV_JSON_ABSENT;
	k[2].name = "prep";
	k[2].want = ARXIV_JSON_ABSENT;
	/* cleaning "clean" or "prep" replaces a key: jansson's path does that */
	if (strcmp(st->field, "clean") == 0 || strcmp(st->field, "prep") == 0 ||
	    !arxiv_json_scan(line, len, k, 3, 0, &compact))
		return 0;
	*blanks = !compact;
	if (k[0].escaped) {
		arxiv_buf_clear(&st->txt);
		if (arxiv_json_unescape(k[0].val, k[0].len, &st->txt) < 0)
			return 0;	/* out of memory: jansson reports it */
		*text = st->txt.data;
		*n = st->txt.len;
	} else {
		*text = k[0].val;
		*n = k[0].len;
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
	put_json_string(st, st->out.data ? st->out.data : "", st->out.len);
	fputs(",\"prep\":", stdout);
	put_json_string(st, json_string_value(st->prep), json_string_length(st->prep));
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

	/* a plain line (fast path) is valid UTF-8 */
	if (!st->plain && !st->jansson && fast_scan(st, line, len, &text, &n, &blanks)) {
		if (blank(text, n)) {
			arxiv_error_set(err, "", 0, "empty \"%s\" field", st->field);
			return -1;
		}
		if (arxiv_clean_text(st->cl, text, n, &st->out, err) < 0)
			return -1;
		put_spliced(st, line, len, blanks);
		return 0;
	}
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
	struct arxiv_clean_params p = arxiv_clean_default_params();
	struct state st;
	struct arxiv_error e;
	struct arxiv_buf sig = { 0 };
	static char obuf[1 << 16], ibuf[1 << 16], fbuf[1 << 16];
	const char *name;
	int c, i, status = 0, print_sig = 0;
	FILE *fp;

	memset(&st, 0, sizeof(st));
	st.field = "text";
	arxiv_set_log(prog_log, NULL);
	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case 'f': st.field = optarg; break;
		case 'p': st.plain = 1; break;
		case 'n': p.truncate = (size_t)prog_num(optarg, 0, 1L << 30, "truncation"); break;
		case O_STOPWORDS: p.stopwords = optarg; break;
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
	setvbuf(stdin, ibuf, _IOFBF, sizeof(ibuf));	/* a pipe's default is 4 KiB */

	for (i = 0; i < (argc ? argc : 1); i++) {
		if ((fp = prog_open(argc ? argv[i] : NULL, &name)) == NULL) {
			status = 1;
			break;
		}
		if (fp != stdin)	/* the previous file is closed: reuse fbuf */
			setvbuf(fp, fbuf, _IOFBF, sizeof(fbuf));
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
	arxiv_buf_free(&st.esc);
	arxiv_buf_free(&sig);
	arxiv_cleaner_free(st.cl);
	if (prog_fshut())
		status = 1;
	return status;
}

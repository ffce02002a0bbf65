/*
 * prog.h - the little every arxiv program shares (sbase's libutil in spirit):
 * the command line (synopsis, --help, --version, deprecated spellings), opening
 * operands, checking the output stream on exit, library log messages.
 * Header-only so each program stays one .c file; not installed.
 */
#ifndef ARXIV_PROG_H
#define ARXIV_PROG_H

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

/* Open an operand: "-" or NULL is stdin. On failure warns and returns NULL. */
static inline FILE *
prog_open(const char *path, const char **name)
{
	FILE *fp;

	if (path == NULL || strcmp(path, "-") == 0) {
		*name = "<stdin>";
		return stdin;
	}
	*name = path;
	if ((fp = fopen(path, "r")) == NULL)
		warn("%s", path);
	return fp;
}

static inline void
prog_close(FILE *fp)
{
	if (fp != NULL && fp != stdin)
		fclose(fp);
}

/* Flush and close stdout; a write error (e.g. > /dev/full) is fatal. */
static inline int
prog_fshut(void)
{
	int bad = 0;

	if (fflush(stdout) == EOF || ferror(stdout))
		bad = 1;
	if (fclose(stdout) == EOF)
		bad = 1;
	if (bad) {
		warn("write error");
		return 1;
	}
	return 0;
}

/* Library diagnostics to stderr as "prog: message". */
static inline void
prog_log(int level, const char *msg, void *ud)
{
	int verbose = ud ? *(int *)ud : 0;

	if (level == ARXIV_LOG_DEBUG && !verbose)
		return;
	warnx("%s", msg);
}

/* Report a library error as "prog: source:line: text". */
static inline void
prog_warnerr(const struct arxiv_error *e)
{
	char buf[512];

	warnx("%s", arxiv_error_str(e, buf, sizeof(buf)));
}

/* Parse a non-negative integer option argument in [lo, hi] or exit 2. */
static inline long
prog_num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		warnx("%s: invalid %s (expected %ld..%ld)", s, what, lo, hi);
		exit(2);
	}
	return v;
}

static inline double
prog_real(const char *s, double lo, double hi, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		warnx("%s: invalid %s (expected %g..%g)", s, what, lo, hi);
		exit(2);
	}
	return v;
}

/* ------------------------------------------------------------ command line */

/*
 * A program's command line in one place. The getopt_long table is the one list
 * of its options; each has one line of help, looked up by its long name. The
 * suite's flag table: -h --help, -V --version, --verbose (long only),
 * -k --keep-going, -o --output, -m --model, -s --seed, -j --jobs, -K --top-k,
 * -D --device, -v --vocab, -t --table. "help" must return 'h' and "version" 'V'.
 */
struct prog_help {
	const char *name;	/* long name, as in the getopt table */
	const char *arg;	/* the argument's name; NULL: none */
	const char *text;	/* what it does, one line */
	int required;		/* the synopsis shows it without brackets */
};

/* An old spelling kept working for one release: getopt_long returns val for it,
 * prog_getopt warns and returns now instead. */
struct prog_deprecated {
	int val, now;
	const char *old, *use;	/* e.g. "-t", "-j" */
};

struct prog {
	const char *name;		/* "arxiv-map" */
	const char *operands;		/* "[file ...]"; NULL: none */
	const char *about;		/* what the program does, for --help */
	const char *shortopts;
	const struct option *longopts;	/* ends with a NULL name */
	const struct prog_help *help;	/* ends with a NULL name */
	const struct prog_deprecated *deprecated;	/* ends with val 0; may be NULL */
};

static inline const struct prog_deprecated *
prog_old_(const struct prog *p, int val)
{
	const struct prog_deprecated *d;

	for (d = p->deprecated; d && d->val; d++)
		if (d->val == val)
			return d;
	return NULL;
}

static inline const struct prog_help *
prog_help_of_(const struct prog *p, const char *name)
{
	const struct prog_help *h;

	for (h = p->help; h && h->name; h++)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

/* The short letter of a long option, or 0 when it has none. */
static inline int
prog_short_(const struct prog *p, const struct option *o)
{
	return o->val > 0 && o->val < 128 && o->val != ':' && strchr(p->shortopts, o->val) ? o->val : 0;
}

/* The synopsis: "usage: NAME [-k | --keep-going] [-m dir | --model=dir] ... operands",
 * wrapped at 80 columns; the man page's SYNOPSIS says the same. */
static inline void
prog_usage(const struct prog *p, FILE *fp)
{
	const struct option *o;
	const struct prog_help *h;
	const char *arg;
	char item[512], sh[256];
	size_t col;
	int c, n;

	col = (size_t)fprintf(fp, "usage: %s", p->name);
	for (o = p->longopts; o->name; o++) {
		if (prog_old_(p, o->val) || strcmp(o->name, "help") == 0 || strcmp(o->name, "version") == 0)
			continue;
		h = prog_help_of_(p, o->name);
		c = prog_short_(p, o);
		arg = o->has_arg ? (h && h->arg ? h->arg : "arg") : NULL;
		/* "[-m dir | --model=dir]", braces when required */
		sh[0] = '\0';
		if (c)
			snprintf(sh, sizeof(sh), "-%c%s%s | ", c, arg ? " " : "", arg ? arg : "");
		n = snprintf(item, sizeof(item), "%s%s--%s%s%s%s", h && h->required ? "{" : "[", sh,
		    o->name, arg ? "=" : "", arg ? arg : "", h && h->required ? "}" : "]");
		if (n < 0)
			continue;
		if (col + 1 + (size_t)n > 79) {
			fprintf(fp, "\n       ");
			col = 7 + strlen(p->name);
			fprintf(fp, "%*s", (int)strlen(p->name), "");
		}
		col += (size_t)fprintf(fp, " %s", item);
	}
	if (p->operands) {
		if (col + 1 + strlen(p->operands) > 79)
			fprintf(fp, "\n       %*s", (int)strlen(p->name), "");
		fprintf(fp, " %s", p->operands);
	}
	fputc('\n', fp);
}

/* One --help line: "  -m, --model=DIR           text". */
static inline void
prog_help_line_(FILE *fp, int c, const char *name, const char *arg, const char *text)
{
	char left[96];
	int n;

	if (c)
		n = snprintf(left, sizeof(left), "  -%c, --%s%s%s", c, name, arg ? "=" : "", arg ? arg : "");
	else
		n = snprintf(left, sizeof(left), "      --%s%s%s", name, arg ? "=" : "", arg ? arg : "");
	fprintf(fp, "%s%*s%s\n", left, n < 28 ? 28 - n : 2, "", text);
}

/* --help: the synopsis, what the program does, then every option one line each
 * (deprecated spellings last), to stdout. Returns the exit status. */
static inline int
prog_help(const struct prog *p)
{
	const struct option *o;
	const struct prog_help *h;
	const struct prog_deprecated *d;

	prog_usage(p, stdout);
	if (p->about)
		printf("%s\n", p->about);
	printf("\nOptions:\n");
	for (o = p->longopts; o->name; o++) {
		if (prog_old_(p, o->val))
			continue;
		h = prog_help_of_(p, o->name);
		prog_help_line_(stdout, prog_short_(p, o), o->name,
		    o->has_arg ? (h && h->arg ? h->arg : "ARG") : NULL,
		    h ? h->text : "(undocumented)");
	}
	if (p->deprecated && p->deprecated->val) {
		printf("\nDeprecated spellings (they still work, with a warning, for one release):\n");
		for (d = p->deprecated; d->val; d++)
			printf("  %-24s  use %s\n", d->old, d->use);
	}
	printf("\nSee %s(%d) for details.\n", p->name, strcmp(p->name, "arxiv-serve") ? 1 : 8);
	return prog_fshut();
}

static inline void
prog_deprecated(const char *old, const char *use)
{
	warnx("%s is deprecated and will be removed in the next release; use %s", old, use);
}

/*
 * getopt_long over the program's table with the shared cases done here: -h/--help
 * (help to stdout, exit 0), -V/--version, a bad option or missing argument
 * (synopsis to stderr, exit 2), and deprecated spellings (a warning, then the
 * new option's value). Returns the option's value, or -1 at the end.
 */
static inline int
prog_getopt(const struct prog *p, int argc, char *const argv[])
{
	const struct prog_deprecated *d;
	int c;

	c = getopt_long(argc, argv, p->shortopts, p->longopts, NULL);
	switch (c) {
	case 'h':
		exit(prog_help(p));
	case 'V':
		printf("%s %s\n", p->name, VERSION);
		exit(prog_fshut());
	case '?':
	case ':':
		prog_usage(p, stderr);
		exit(2);
	default:
		if ((d = prog_old_(p, c)) != NULL) {
			prog_deprecated(d->old, d->use);
			return d->now;
		}
		return c;
	}
}


/*
 * The input loop of a JSONL filter: each line of fp (named name) goes to
 * fn(ud, line, len, err), which returns 0 (taken), -1 (a bad record, err says
 * why) or another negative (stop: returned as is, reported by fn). A bad or
 * unreadable line is reported as "name:line: why"; with keep it is counted in
 * *skipped and passed over, else the loop ends; an I/O error always ends it.
 * 0 at the end of the input, -1 when a bad record or an I/O error ended it.
 */
static inline int
prog_each_record(FILE *fp, const char *name, int keep, size_t *skipped,
    int (*fn)(void *ud, const char *line, size_t len, struct arxiv_error *err), void *ud)
{
	struct arxiv_lines *r;
	struct arxiv_error e;
	const char *line;
	size_t len;
	int rc, k;

	if ((r = arxiv_lines_new(fp, name, 0)) == NULL)
		err(1, "out of memory");
	while ((rc = arxiv_lines_next(r, &line, &len, &e)) != 0) {
		if (rc > 0) {
			if ((k = fn(ud, line, len, &e)) == 0)
				continue;
			if (k < -1) {
				arxiv_lines_free(r);
				return k;
			}
			snprintf(e.source, sizeof(e.source), "%s", name);
			e.line = arxiv_lines_lineno(r);
		}
		prog_warnerr(&e);
		if (!keep || arxiv_lines_ioerr(r)) {
			arxiv_lines_free(r);
			return -1;
		}
		(*skipped)++;
	}
	arxiv_lines_free(r);
	return 0;
}

#endif

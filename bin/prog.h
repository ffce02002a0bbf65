/*
 * prog.h - the little every arxiv program shares (sbase's libutil in spirit):
 * opening operands, checking the output stream on exit, library log messages.
 * Header-only so each program stays one .c file; not installed.
 */
#ifndef ARXIV_PROG_H
#define ARXIV_PROG_H

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"

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

#endif

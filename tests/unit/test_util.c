/* test_util.c - buffers, arrays, errors, hashing, UTF-8 check and the line reader. */
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arxiv.h"
#include "internal.h"
#include "tap.h"

static FILE *
mem(const char *s, size_t n)
{
	FILE *fp = tmpfile();

	fwrite(s, 1, n, fp);
	rewind(fp);
	return fp;
}

int
main(void)
{
	struct arxiv_buf b = {0};
	struct arxiv_error e;
	struct arxiv_lines *r;
	const char *line;
	size_t len;
	char big[3000], msg[256];
	FILE *fp;
	int i;

	CHECK(arxiv_buf_append(&b, "ab", 2) == 0 && b.len == 2, "buf append");
	for (i = 0; i < 1000; i++)
		arxiv_buf_putc(&b, 'x');
	CHECK(b.len == 1002 && b.data[1002] == '\0', "buf grows and stays NUL-terminated");
	arxiv_buf_clear(&b);
	arxiv_buf_printf(&b, "%d-%s", 42, "z");
	CHECK_STR(b.data, "42-z", "buf printf");
	arxiv_buf_free(&b);

	{
		/* a typed array by arxiv_grow: doubling from first, the values kept */
		double *a = NULL;
		size_t cap = 0, n, caps = 0, last = 0;
		int kept = 1;

		for (n = 0; n < 1000; n++) {
			if (n == cap && arxiv_grow(&a, &cap, n + 1, sizeof(*a), 16) < 0)
				break;
			if (cap != last)
				caps++, last = cap;
			a[n] = (double)n / 3;
		}
		for (i = 0; i < 1000; i++)
			kept &= a != NULL && a[i] == (double)i / 3;
		CHECK(n == 1000 && cap == 1024 && caps == 7 && kept, "grow: 1000 doubles in 7 "
		    "steps from 16 to %zu, the values kept", cap);
		CHECK(arxiv_grow(&a, &cap, 700, sizeof(*a), 16) == 0 && cap == 1024,
		    "grow: no change when there is room");
		CHECK(arxiv_grow(&a, &cap, 5000, sizeof(*a), 16) == 0 && cap == 8192 &&
		    a[999] == 999.0 / 3, "grow: to the first doubling that holds need");
		n = cap;
		CHECK(arxiv_grow(&a, &cap, SIZE_MAX / 4, sizeof(*a), 16) < 0 && cap == n &&
		    a[999] == 999.0 / 3, "grow: overflow refused, the array and capacity kept");
		free(a);
	}

	arxiv_error_set(&e, "in.jsonl", 12, "bad %s", "thing");
	CHECK_STR(arxiv_error_str(&e, msg, sizeof(msg)), "in.jsonl:12: bad thing", "error string with line");
	arxiv_error_set(&e, "in.bin", 0, "bad magic");
	CHECK_STR(arxiv_error_str(&e, msg, sizeof(msg)), "in.bin: bad magic", "error string without line");

	CHECK(arxiv_hash64("a", 1, 0) == 0xaf63dc4c8601ec8cULL, "FNV-1a 64 of \"a\"");
	CHECK(arxiv_hash64("a", 1, 1) != arxiv_hash64("a", 1, 2), "seed changes hash");

	CHECK(arxiv_utf8_check("h\xc3\xa9llo", 6) == -1, "valid UTF-8");
	CHECK(arxiv_utf8_check("ab\xc3", 3) == 2, "truncated sequence at offset 2");
	CHECK(arxiv_utf8_check("\xed\xa0\x80", 3) == 0, "surrogate rejected");
	CHECK(arxiv_utf8_check("\xc0\xaf", 2) == 0, "overlong rejected");

	fp = mem("one\r\ntwo\n\nlast", 14);
	r = arxiv_lines_new(fp, "mem", 0);
	CHECK(arxiv_lines_next(r, &line, &len, &e) == 1 && strcmp(line, "one") == 0, "CRLF stripped");
	CHECK(arxiv_lines_next(r, &line, &len, &e) == 1 && strcmp(line, "two") == 0, "second line");
	CHECK(arxiv_lines_next(r, &line, &len, &e) == 1 && len == 0, "empty line");
	CHECK(arxiv_lines_next(r, &line, &len, &e) == 1 && strcmp(line, "last") == 0, "last line without newline");
	CHECK(arxiv_lines_next(r, &line, &len, &e) == 0 && arxiv_lines_lineno(r) == 4, "EOF after 4 lines");
	arxiv_lines_free(r);
	fclose(fp);

	memset(big, 'x', sizeof(big));
	big[2000] = '\n';
	fp = mem(big, sizeof(big));
	r = arxiv_lines_new(fp, "big", 100);
	CHECK(arxiv_lines_next(r, &line, &len, &e) == -1 && e.line == 1 &&
	    strstr(e.text, "longer than 100") != NULL, "too-long line is an error with its line number");
	CHECK(arxiv_lines_next(r, &line, &len, &e) == -1 && e.line == 2, "reader resyncs at the next newline");
	arxiv_lines_free(r);
	fclose(fp);

	fp = mem("a\0b\nok\n", 7);
	r = arxiv_lines_new(fp, "nul", 0);
	CHECK(arxiv_lines_next(r, &line, &len, &e) == -1 && strstr(e.text, "NUL") != NULL, "NUL byte reported");
	CHECK(arxiv_lines_next(r, &line, &len, &e) == 1 && strcmp(line, "ok") == 0, "next line after NUL is read");
	arxiv_lines_free(r);
	fclose(fp);

	/* the reader reads in chunks (4 KiB, then 16 KiB): lines across them */
	{
		size_t big_n = 3 * 16384 + 1000, j;
		char *long_in = malloc(2 * big_n + 64), *z;
		for (j = 0; j < big_n; j++)
			long_in[j] = (char)('a' + j % 26);
		memcpy(long_in + big_n, "\r\nx\n", 4);
		fp = mem(long_in, big_n + 4);
		r = arxiv_lines_new(fp, "long", 0);
		CHECK(arxiv_lines_next(r, &line, &len, &e) == 1 && len == big_n &&
		    memcmp(line, long_in, big_n) == 0 && line[len] == '\0',
		    "a 50 KB line across chunks comes back whole, CR stripped");
		CHECK(getc(fp) == 'x' && ungetc('x', fp) == 'x', "the stream is not read past the newline");
		CHECK(arxiv_lines_next(r, &line, &len, &e) == 1 && strcmp(line, "x") == 0 &&
		    arxiv_lines_next(r, &line, &len, &e) == 0, "next line, then EOF");
		arxiv_lines_free(r);
		fclose(fp);

		/* exactly max bytes is fine, max + 1 (a CR counts) is too long */
		memset(long_in, 'y', 2 * big_n);
		long_in[5000] = '\n';
		long_in[5000 + 5001] = '\r';
		long_in[5000 + 5002] = '\n';
		long_in[2 * big_n - 1] = '\n';
		long_in[2 * big_n - 2] = '\0';
		fp = mem(long_in, 2 * big_n);
		r = arxiv_lines_new(fp, "max", 5000);
		CHECK(arxiv_lines_next(r, &line, &len, &e) == 1 && len == 5000, "line of max bytes read");
		CHECK(arxiv_lines_next(r, &line, &len, &e) == -1 && e.line == 2 &&
		    strstr(e.text, "longer than 5000") != NULL, "max bytes plus CR is too long");
		CHECK(arxiv_lines_next(r, &line, &len, &e) == -1 && e.line == 3 &&
		    strstr(e.text, "longer than") != NULL, "long line with a NUL: too long wins");
		CHECK(arxiv_lines_next(r, &line, &len, &e) == 0, "EOF after the long lines");
		arxiv_lines_free(r);
		fclose(fp);

		/* a NUL far into a line, and a last line without newline after it */
		memset(long_in, 'z', 30000);
		long_in[20000] = '\0';
		long_in[25000] = '\n';
		fp = mem(long_in, 30000);
		r = arxiv_lines_new(fp, "nul2", 0);
		CHECK(arxiv_lines_next(r, &line, &len, &e) == -1 && strstr(e.text, "NUL") != NULL &&
		    e.line == 1, "NUL byte after 20000 bytes reported");
		CHECK(arxiv_lines_next(r, &line, &len, &e) == 1 && len == 4999 &&
		    (z = memchr(line, 'z', len)) == line && arxiv_lines_next(r, &line, &len, &e) == 0,
		    "last line without newline after it, then EOF");
		arxiv_lines_free(r);
		fclose(fp);
		free(long_in);
	}

	fp = mem("", 0);
	r = arxiv_lines_new(fp, "empty", 0);
	CHECK(arxiv_lines_next(r, &line, &len, &e) == 0 && arxiv_lines_lineno(r) == 0, "empty input: EOF");
	arxiv_lines_free(r);
	fclose(fp);
	fp = mem("\n\0", 2);
	r = arxiv_lines_new(fp, "nl", 0);
	CHECK(arxiv_lines_next(r, &line, &len, &e) == 1 && len == 0, "lone newline: an empty line");
	CHECK(arxiv_lines_next(r, &line, &len, &e) == -1 && strstr(e.text, "NUL") != NULL &&
	    e.line == 2, "a final NUL without newline is a line with a NUL");
	CHECK(arxiv_lines_next(r, &line, &len, &e) == 0, "then EOF");
	arxiv_lines_free(r);
	fclose(fp);

	/* arxiv_words: blank-separated runs, grown as needed */
	{
		struct arxiv_span *w = NULL;
		size_t nw = 0, cap = 0, k;
		const char *t = "  graph\tneural\r\nnets ";
		char many[1000];

		CHECK(arxiv_words(t, strlen(t), &w, &nw, &cap) == 0 && nw == 3 &&
		    w[0].st == 2 && w[0].len == 5 && w[1].st == 8 && w[1].len == 6 &&
		    w[2].st == 16 && w[2].len == 4, "arxiv_words: spans of the words between blanks");
		CHECK(arxiv_words("", 0, &w, &nw, &cap) == 0 && nw == 0 &&
		    arxiv_words(" \t\n", 3, &w, &nw, &cap) == 0 && nw == 0, "arxiv_words: no words");
		for (k = 0; k < sizeof(many); k++)
			many[k] = k % 2 ? ' ' : 'a';
		CHECK(arxiv_words(many, sizeof(many), &w, &nw, &cap) == 0 && nw == 500 && cap >= 500 &&
		    w[499].st == 998 && w[499].len == 1, "arxiv_words: grows past its first capacity");
		free(w);
	}

	/* arxiv_tree_remove: depth first, a symbolic link removed, not followed */
	{
		char dir[] = "/tmp/test_util.XXXXXX", path[256], keep[256];
		struct stat sb;

		CHECK(mkdtemp(dir) != NULL, "temporary directory");
		snprintf(keep, sizeof(keep), "%s.keep", dir);
		fp = fopen(keep, "w");
		CHECK(fp != NULL, "a file outside the tree");
		if (fp)
			fclose(fp);
		snprintf(path, sizeof(path), "%s/a", dir);
		mkdir(path, 0777);
		snprintf(path, sizeof(path), "%s/a/b", dir);
		mkdir(path, 0777);
		snprintf(path, sizeof(path), "%s/a/b/f", dir);
		if ((fp = fopen(path, "w")) != NULL)
			fclose(fp);
		snprintf(path, sizeof(path), "%s/a/link", dir);
		CHECK(symlink(keep, path) == 0, "a link out of the tree");
		snprintf(path, sizeof(path), "%s/a/dirlink", dir);
		CHECK(symlink("/tmp", path) == 0, "a link to a directory");
		CHECK(arxiv_tree_remove(dir) == 0 && lstat(dir, &sb) < 0 && errno == ENOENT,
		    "arxiv_tree_remove removes the tree");
		CHECK(stat(keep, &sb) == 0 && stat("/tmp", &sb) == 0,
		    "what the links point to is left alone");
		CHECK(arxiv_tree_remove(dir) == -1 && errno == ENOENT, "a missing tree: -1, ENOENT");
		unlink(keep);
	}
	return tap_done();
}

/* test_util.c - buffers, errors, hashing, UTF-8 check and the line reader. */
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
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
	return tap_done();
}

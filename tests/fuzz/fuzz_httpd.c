/*
 * fuzz_httpd.c - libFuzzer harness for arxiv-serve's request parser
 * (lib/httpd_parse.c): any bytes must be scanned and parsed without a crash, leak
 * or overread, and
 *  - arxiv_httpd_scan_head gives a length within the input, 0, or -status;
 *  - a head it delimits parses to 0 or to 400/431/505, and a parsed request
 *    has a token method, a path starting with / (or *), one framing only;
 *  - the chunked decoder gives the same answer and the same data whether the
 *    bytes after the head come at once or in pieces (it is incremental).
 *   make fuzz BUILD=build-x
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
append(void *arg, const char *p, size_t n)
{
	return arxiv_buf_append(arg, p, n);
}

static int
decode(const char *in, size_t n, size_t piece, struct arxiv_buf *out, size_t *taken)
{
	struct httpd_chunked c;
	const char *why = NULL;
	size_t i = 0;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	while (i < n) {
		size_t k = n - i < piece ? n - i : piece, used = 0;

		rc = arxiv_httpd_chunked_feed(&c, in + i, k, &used, append, out, &why);
		if (used > k)
			abort();
		i += used;
		if (rc != 0)
			break;
		if (used < k)
			abort();	/* more needed, yet not all taken */
	}
	if (rc < 0 && why == NULL)
		abort();
	*taken = i;
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	char *copy;
	long hl;

	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	hl = arxiv_httpd_scan_head(copy, size, &why);
	if (hl > (long)size || (hl < 0 && (why == NULL || (hl != -400 && hl != -414 && hl != -431))))
		abort();
	if (hl > 0) {
		struct httpd_req r;
		char *head = malloc((size_t)hl);
		int st;

		memcpy(head, copy, (size_t)hl);
		why = NULL;
		st = arxiv_httpd_parse_head(head, (size_t)hl, &r, &why);
		if (st != 0 && (why == NULL || (st != 400 && st != 431 && st != 505)))
			abort();
		if (st == 0) {
			const char *m;

			if (r.method == NULL || r.path == NULL || r.nheaders > HTTPD_MAX_HEADERS ||
			    (r.path[0] != '/' && strcmp(r.path, "*") != 0) || (r.chunked && r.content_length >= 0) ||
			    r.content_length < -1 || (r.minor != 0 && r.minor != 1))
				abort();
			for (m = r.method; *m; m++)
				if (strchr(" \t\r\n:/", *m) != NULL)
					abort();
		}
		free(head);
	}
	/* the chunked decoder over the bytes after a head (or all of them) */
	{
		size_t off = hl > 0 ? (size_t)hl : 0, n = size - off, t1, t2;
		size_t piece = size ? (size_t)(data[0] % 7) + 1 : 1;
		struct arxiv_buf a = { 0 }, b = { 0 };
		int r1 = decode(copy + off, n, n ? n : 1, &a, &t1), r2 = decode(copy + off, n, piece, &b, &t2);

		if (r1 != r2 || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0) || a.len > n ||
		    (r1 >= 0 && t1 != t2))
			abort();
		arxiv_buf_free(&a);
		arxiv_buf_free(&b);
	}
	free(copy);
	return 0;
}

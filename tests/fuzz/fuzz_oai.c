/*
 * fuzz_oai.c - libFuzzer harness for arxiv-harvest's OAI-PMH page parser
 * (bin/harvest/oai.c) and its -k record-by-record recovery (recover.c): the
 * bytes are a response, parsed without and with -k, fed in reads of 1 to 16
 * bytes (the first byte picks) and whole. Checked: without -k and with -k the
 * answer is the same for a well-formed page; with -k the answer does not
 * depend on the read size; every line written is a JSON object.
 *   make fuzz BUILD=build-x   (the messages of bad pages go to its log)
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bin/harvest/oai.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
	const uint8_t *data;
	size_t len, off;
	int chunk;
};

static int
src_read(void *ctx, char *buf, int n)
{
	struct src *s = ctx;
	size_t k = s->len - s->off;

	if (n > s->chunk)
		n = s->chunk;
	if (k > (size_t)n)
		k = (size_t)n;
	memcpy(buf, s->data + s->off, k);
	s->off += k;
	return (int)k;
}

static int
src_failed(void *ctx, int rc)
{
	(void)ctx;
	(void)rc;
	return 0;
}

static int
parse(struct page *p, const uint8_t *data, size_t size, int keep, int chunk)
{
	struct src s = { data, size, 0, chunk };

	memset(p, 0, sizeof(*p));
	p->url = "fuzz";
	p->pageno = 1;
	p->keep = keep;
	p->emit_deleted = 1;
	return oai_parse_page(p, src_read, src_failed, &s);
}

static int
same(const struct page *a, const struct page *b)
{
	return a->n == b->n && a->deleted == b->deleted && a->skipped == b->skipped &&
	    a->malformed == b->malformed && a->out.len == b->out.len &&
	    (a->out.len == 0 || memcmp(a->out.data, b->out.data, a->out.len) == 0) &&
	    a->have_token == b->have_token && a->token.len == b->token.len &&
	    (a->token.len == 0 || memcmp(a->token.data, b->token.data, a->token.len) == 0);
}

/* every line of p->out is a JSON object */
static void
check_lines(const struct page *p)
{
	const char *s = p->out.data, *nl;

	while (s && *s) {
		json_error_t e;
		json_t *j;

		if ((nl = strchr(s, '\n')) == NULL)
			abort();	/* a line without its end */
		j = json_loadb(s, (size_t)(nl - s), 0, &e);
		if (j == NULL || !json_is_object(j))
			abort();
		json_decref(j);
		s = nl + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct page plain, keep, whole;
	int rp, rk, rw, chunk;

	if (size < 1)
		return 0;
	chunk = 1 + data[0] % 16;
	data++;
	size--;
	rp = parse(&plain, data, size, 0, chunk);
	rk = parse(&keep, data, size, 1, chunk);
	rw = parse(&whole, data, size, 1, 1 << 16);
	if (rk != rw || (rk == 0 && !same(&keep, &whole)))
		abort();	/* -k depends on how the bytes arrive */
	if (rp == 0 && (rk != 0 || !same(&plain, &keep)))
		abort();	/* -k changed a well-formed page */
	if (rk == 0)
		check_lines(&keep);
	if (rp == 0)
		check_lines(&plain);
	oai_page_free(&plain);
	oai_page_free(&keep);
	oai_page_free(&whole);
	return 0;
}

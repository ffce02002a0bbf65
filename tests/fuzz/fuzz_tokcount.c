/*
 * fuzz_tokcount.c - libFuzzer harness for arxiv_tok_count_cached against
 * arxiv_tok_encode: for any text, the count is the length encode gives with a
 * seq_len that truncates nothing, or both refuse the text (invalid UTF-8). The
 * first input byte picks lowercasing (bit 0) and whether the word cache, kept
 * across inputs, is used (bit 1); the rest is the text. The vocabulary is the
 * tokenizer tests' hand-made one (run from the repository root).
 *   make fuzz BUILD=build-x
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arxiv_vocab *v;
	static struct arxiv_tok_cache *cache;
	struct arxiv_tok_params p = arxiv_tok_default_params();
	struct arxiv_error e;
	const char *text = (const char *)data + 1;
	size_t n, want = 0, got = 0;
	uint32_t *ids;
	uint8_t *mask;
	int re, rc;

	if (v == NULL && (v = arxiv_vocab_load("tests/cases/arxiv-tok/vocab.txt", &e)) == NULL) {
		fprintf(stderr, "fuzz_tokcount: %s (run from the repository root)\n", e.text);
		abort();
	}
	if (cache == NULL && (cache = arxiv_tok_cache_new()) == NULL)
		abort();
	if (size < 1)
		return 0;
	n = size - 1;
	p.lowercase = data[0] & 1;
	p.seq_len = n + 2;
	ids = malloc(p.seq_len * sizeof(*ids));
	mask = malloc(p.seq_len);
	if (ids == NULL || mask == NULL)
		abort();
	re = arxiv_tok_encode(v, &p, text, n, ids, mask, &want, &e);
	rc = arxiv_tok_count_cached(data[0] & 2 ? cache : NULL, 0, v, &p, text, n, &got, &e);
	if (re != rc || (re == 0 && want != got)) {
		fprintf(stderr, "fuzz_tokcount: encode %d/%zu, count %d/%zu\n", re, want, rc, got);
		abort();
	}
	free(ids);
	free(mask);
	return 0;
}

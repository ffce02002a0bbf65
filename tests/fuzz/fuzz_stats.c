/*
 * fuzz_stats.c - libFuzzer harness for arxiv-stats' one pass over a text
 * (arxiv_stats_add with ARXIV_STATS_COUNT_TOKENS: terms and WordPiece tokens
 * together) against the two apart: for any valid UTF-8 text, the tokens it
 * counts are arxiv_tok_count's, and the statistics equal those of a second
 * accumulator given that count (its terms split by the term pass alone). The
 * first input byte picks lowercasing (bit 0); the rest is the text. Both
 * accumulators live across inputs with a 256-term table, so it prunes; their
 * words, characters and terms are compared after every input, the whole JSON
 * every 256 inputs. The vocabulary is the tokenizer tests' hand-made one (run
 * from the repository root).
 *   make fuzz BUILD=build-x
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "stats_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct arxiv_stats *
mk(struct arxiv_error *e)
{
	struct arxiv_stats_params p = arxiv_stats_default_params();

	p.term_cap = 256;
	p.stopwords = "data/stopwords.txt";
	return arxiv_stats_new(&p, e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arxiv_vocab *v;
	static struct arxiv_tok_cache *cache;
	static struct arxiv_stats *a[2], *b[2];
	static unsigned long runs;
	static const struct arxiv_stats_str cat = { "cs.AI", 5 }, f = { "F", 1 };
	struct arxiv_tok_params p = arxiv_tok_default_params();
	struct arxiv_stats_record r = { 0 };
	struct arxiv_error e;
	const char *text = (const char *)data + 1;
	size_t n, want = 0;
	uint64_t before;
	int lower;

	if (v == NULL) {
		if ((v = arxiv_vocab_load("tests/cases/arxiv-tok/vocab.txt", &e)) == NULL ||
		    (cache = arxiv_tok_cache_new()) == NULL) {
			fprintf(stderr, "fuzz_stats: %s (run from the repository root)\n", e.text);
			abort();
		}
		for (lower = 0; lower < 2; lower++) {
			p.lowercase = lower;
			if ((a[lower] = mk(&e)) == NULL || (b[lower] = mk(&e)) == NULL) {
				fprintf(stderr, "fuzz_stats: %s\n", e.text);
				abort();
			}
			/* one cache for both: the vocabulary is the same */
			arxiv_stats_set_vocab(a[lower], v, &p, cache, 0);
		}
	}
	if (size < 1)
		return 0;
	n = size - 1;
	if (arxiv_utf8_check(text, n) >= 0 || memchr(text, '\0', n) != NULL)
		return 0;	/* a record's text: valid UTF-8, no NUL */
	lower = data[0] & 1;
	p.lowercase = lower;
	if (arxiv_tok_count(v, &p, text, n, &want, &e) != 0)
		abort();
	r.id.s = text;
	r.id.n = n < 8 ? n : 8;
	r.text.s = text;
	r.text.n = n;
	r.label = f;
	r.categories = &cat;
	r.n_categories = 1;
	r.fields = &f;
	r.n_fields = 1;
	r.n_tokens = ARXIV_STATS_COUNT_TOKENS;
	before = a[lower]->tokens.sum;
	if (arxiv_stats_add(a[lower], &r, &e) != 0)
		abort();
	r.n_tokens = (long)want;
	if (arxiv_stats_add(b[lower], &r, &e) != 0)
		abort();
	if (a[lower]->tokens.sum - before != want || a[lower]->words.sum != b[lower]->words.sum ||
	    a[lower]->chars.sum != b[lower]->chars.sum || a[lower]->nonascii != b[lower]->nonascii ||
	    a[lower]->nterm != b[lower]->nterm || a[lower]->ftokens[0] != b[lower]->ftokens[0]) {
		fprintf(stderr, "fuzz_stats: the pass counted %llu tokens, arxiv_tok_count %zu; "
		    "words %llu/%llu, terms %zu/%zu\n",
		    (unsigned long long)(a[lower]->tokens.sum - before), want,
		    (unsigned long long)a[lower]->words.sum, (unsigned long long)b[lower]->words.sum,
		    a[lower]->nterm, b[lower]->nterm);
		abort();
	}
	if (++runs % 256 == 0) {
		struct arxiv_buf oa = { 0 }, ob = { 0 };

		if (arxiv_stats_json(a[lower], 1, &oa) < 0 || arxiv_stats_json(b[lower], 1, &ob) < 0 ||
		    oa.len != ob.len || memcmp(oa.data, ob.data, oa.len) != 0) {
			fprintf(stderr, "fuzz_stats: the statistics differ\n");
			abort();
		}
		arxiv_buf_free(&oa);
		arxiv_buf_free(&ob);
	}
	return 0;
}

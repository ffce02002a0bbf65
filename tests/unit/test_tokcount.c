/*
 * test_tokcount.c - arxiv_tok_count_cached (lib/wordpiece.c) gives exactly the
 * length arxiv_tok_encode gives with a seq_len long enough for every piece:
 * over the tokenizer's table of cases (tests/cases/arxiv-tok), random texts of
 * ASCII, punctuation, control characters, accents, combining marks, CJK,
 * Unicode spaces and special tokens, and, when $ARXIV_SHARED has them, the
 * SciBERT vocabulary and the first 20,000 real abstracts. Lowercasing on and
 * off, with no cache, a fresh cache and one cache shared by both vocabularies
 * and by arxiv_tok_encode_cached.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "tap.h"

#define CASES "tests/cases/arxiv-tok/"

static uint32_t *ids;
static uint8_t *mask;
static size_t cap;

/* encode's length with a seq_len that truncates nothing (a byte gives at most one
 * token), or (size_t)-1 */
static size_t
enc_len(struct arxiv_tok_cache *c, const struct arxiv_vocab *v, int lower, const char *t,
    size_t n)
{
	struct arxiv_tok_params p = arxiv_tok_default_params();
	struct arxiv_error e;
	size_t nt;

	p.seq_len = n + 2;
	p.lowercase = lower;
	if (p.seq_len > cap) {
		cap = p.seq_len * 2;
		ids = realloc(ids, cap * sizeof(*ids));
		mask = realloc(mask, cap);
	}
	if (arxiv_tok_encode_cached(c, 0, v, &p, t, n, ids, mask, &nt, &e) < 0)
		return (size_t)-1;
	return nt;
}

/* count == encode's length, with no cache, with cache c (twice: cold and warm
 * words) and with flags VALID_UTF8; 0 or 1 (printed) */
static int
differs(const char *what, struct arxiv_tok_cache *c, const struct arxiv_vocab *v, int lower,
    const char *t, size_t n)
{
	struct arxiv_tok_params p = arxiv_tok_default_params();
	struct arxiv_error e;
	size_t want = enc_len(c, v, lower, t, n), got[4] = { 0, 0, 0, 0 };
	int ok;

	p.lowercase = lower;
	p.seq_len = 2;		/* not used by counting */
	ok = want != (size_t)-1 &&
	    arxiv_tok_count(v, &p, t, n, &got[0], &e) == 0 &&
	    arxiv_tok_count_cached(c, 0, v, &p, t, n, &got[1], &e) == 0 &&
	    arxiv_tok_count_cached(c, ARXIV_TOK_VALID_UTF8, v, &p, t, n, &got[2], &e) == 0 &&
	    arxiv_tok_count_cached(NULL, ARXIV_TOK_VALID_UTF8, v, &p, t, n, &got[3], &e) == 0 &&
	    got[0] == want && got[1] == want && got[2] == want && got[3] == want;
	if (!ok)
		printf("# %s lower=%d: encode %zu, count %zu %zu %zu %zu: \"%.*s\"\n", what, lower,
		    want, got[0], got[1], got[2], got[3], (int)(n < 300 ? n : 300), t);
	return !ok;
}

/* the rows of the tokenizer's table for vocabulary name; failures, rows in *rows */
static int
table(const char *name, const struct arxiv_vocab *v, struct arxiv_tok_cache *c, int *rows)
{
	json_error_t je;
	json_t *row;
	FILE *fp = fopen(CASES "expected.jsonl", "r");
	static char line[200000];
	int bad = 0, lower;

	*rows = 0;
	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if ((row = json_loads(line, JSON_ALLOW_NUL, &je)) == NULL)
			return -1;
		if (strcmp(json_string_value(json_object_get(row, "vocab")), name) == 0) {
			const char *t = json_string_value(json_object_get(row, "text"));
			size_t n = json_string_length(json_object_get(row, "text"));

			(*rows)++;
			for (lower = 0; lower < 2; lower++)
				bad += differs(name, c, v, lower, t, n);
		}
		json_decref(row);
	}
	fclose(fp);
	return bad;
}

/* pieces random texts are made of */
static const char *const frag[] = {
	"a", "B", "z", "Q", "7", "the", "The", "THE", "quantum", "Quantum", "graph", "graphs",
	"tokenizer", "tokenizers", "unaffable", "izer", "ing", "ly", "neural", "network",
	"x1", "H2O", "e.g.", "i.e.", "3.14", "10^{-3}", "$\\alpha$", "\\frac{a}{b}",
	"state-of-the-art", "don't", "(see", "[1]", "{x}", "a_b", "~", "`", "|", "@", "#",
	".", ",", ";", ":", "!", "?", "-", "--", "...", "\"", "'", "/", "\\", "+", "=",
	"<", ">", "*", "&", "%", "^", "_",
	" ", " ", " ", " ", "  ", "\t", "\n", "\r", "\r\n",
	"\x01", "\x0b", "\x0c", "\x1f", "\x7f",
	"[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "[unk]", "[UNK", "UNK]", "[[SEP]]",
	"caf\xc3\xa9", "CAF\xc3\x89", "e\xcc\x81", "E\xcc\x81", "\xcc\x81", "na\xc3\xafve",
	"\xc3\x9f", "\xef\xac\x81", "\xc4\xb0", "\xce\x9f\xce\x94\xce\x9f\xce\xa3",
	"\xcf\x82", "\xc3\x85ngstr\xc3\xb6m", "\xc3\xb8", "\xc5\x93", "\xc3\xa6",
	"\xe4\xb8\xad", "\xe6\x96\x87", "\xe3\x81\x82", "\xea\xb0\x80", "\xef\xbc\xa1",
	"\xe2\x80\x94", "\xc2\xab", "\xc2\xbb", "\xe2\x80\x9c", "\xc2\xb7", "\xc2\xbf",
	"\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\x89",
	"\xc2\xad", "\xe2\x80\x8b", "\xef\xbf\xbd", "\xc2\x85", "\xef\xbb\xbf",
	"\xf0\x9f\x98\x80", "\xf0\x9d\x90\x80", "\xe2\x88\x91", "\xe2\x84\x8f", "\xc2\xb5",
	"\xe0\xb3\xb3", "\xf0\x9f\x9b\x9c", "\xf0\xa0\x80\x80", "\xd7\x90", "\xd8\xa7",
	"\xe0\xa4\x95\xe0\xa4\xbf", "\xef\xb9\x98",
	"abcdefghijklmnopqrstuvwxyz", "Pneumonoultramicroscopicsilicovolcanoconiosis",
	"supercalifragilisticexpialidocious-ness",
};
#define NFRAG (sizeof(frag) / sizeof(frag[0]))

#define rnd tap_rnd

/* a random text into b: fragments, sometimes a word of over 100 characters */
static void
random_text(struct arxiv_buf *b)
{
	size_t k, nf = rnd(40), i;

	arxiv_buf_clear(b);
	for (k = 0; k < nf; k++) {
		switch (rnd(50)) {
		case 0:	/* a long word, ASCII or not: [UNK] past 100 characters */
			for (i = 95 + rnd(12); i > 0; i--) {
				if (rnd(8))
					arxiv_buf_putc(b, 'x');
				else
					arxiv_buf_append(b, "\xc3\xa9", 2);
			}
			break;
		case 1:	/* random printable ASCII */
			for (i = rnd(30); i > 0; i--)
				arxiv_buf_putc(b, (char)(33 + rnd(94)));
			break;
		default: {
			const char *f = frag[rnd(NFRAG)];

			arxiv_buf_append(b, f, strlen(f));
			break;
		}
		}
	}
}

/* a random text of ASCII letters, digits, spaces and punctuation only (the
 * counter's mask path; sometimes a special token or a control character,
 * which it hands on): words across the 64-byte blocks, runs of 20..140 */
static void
random_ascii(struct arxiv_buf *b)
{
	static const char *const af[] = {
		"a", "B", "7", "the", "The", "quantum", "Graphs", "tokenizer", "unaffable",
		"x1", "H2O", "e.g.", "3.14", "10^{-3}", "$\\alpha$", "state-of-the-art",
		"don't", "(see", "[1]", "[", "]", "[[", "{x}", "a_b", "~", ".", ",", "-", "--",
		" ", " ", " ", " ", "  ", "\t", "\n", "\r\n",
	};
	size_t k, nf = rnd(200), i;

	arxiv_buf_clear(b);
	for (k = 0; k < nf; k++) {
		switch (rnd(40)) {
		case 0:	/* a run of letters and digits, often over 64 bytes */
			for (i = 20 + rnd(121); i > 0; i--)
				arxiv_buf_putc(b, rnd(5) ? (char)((rnd(2) ? 'a' : 'A') + rnd(26)) :
				    (char)('0' + rnd(10)));
			break;
		case 1:	/* a special token or a control character, now and then */
			if (rnd(10) == 0) {
				const char *f = rnd(2) ? "[SEP]" : "\x0b";

				arxiv_buf_append(b, f, strlen(f));
			}
			break;
		default: {
			const char *f = af[rnd(sizeof(af) / sizeof(af[0]))];

			arxiv_buf_append(b, f, strlen(f));
			break;
		}
		}
	}
}

int
main(void)
{
	struct arxiv_vocab *tiny, *sci;
	struct arxiv_tok_cache *cache, *fresh;
	struct arxiv_tok_params p = arxiv_tok_default_params();
	struct arxiv_error e;
	struct arxiv_buf b = {0};
	const char *shared = getenv("ARXIV_SHARED");
	char path[1024];
	size_t nt, i;
	int bad, rows, k, lower;

	tiny = arxiv_vocab_load(CASES "vocab.txt", &e);
	snprintf(path, sizeof(path), "%s/vocab/scibert_scivocab_uncased.vocab.txt",
	    shared ? shared : "../shared");
	sci = arxiv_vocab_load(path, &e);
	cache = arxiv_tok_cache_new();
	if (tiny == NULL || cache == NULL)
		return 1;

	/* ---- the tokenizer's table of cases */
	bad = table("tiny", tiny, cache, &rows);
	CHECK(bad == 0 && rows > 50, "hand-made vocab: %d table texts, count = encode's length "
	    "(%d differ)", rows, bad);
	if (sci != NULL) {
		bad = table("scibert", sci, cache, &rows);
		CHECK(bad == 0 && rows > 50, "SciBERT vocab, the cache of the hand-made one: %d table "
		    "texts, count = encode's length (%d differ)", rows, bad);
	} else
		printf("ok %d # skip SciBERT vocab not found: %s (set ARXIV_SHARED)\n", ++tap_n, path);

	/* ---- edge cases */
	p.lowercase = 1;
	CHECK(arxiv_tok_count(tiny, &p, "", 0, &nt, &e) == 0 && nt == 2, "empty text: [CLS] [SEP]");
	CHECK(arxiv_tok_count(tiny, &p, "a\xff", 2, &nt, &e) < 0 &&
	    strstr(e.text, "invalid UTF-8 at byte 1"), "invalid UTF-8 is an error: %s", e.text);
	arxiv_buf_clear(&b);
	for (i = 0; i < 700; i++)
		arxiv_buf_append(&b, "graphs, ", 8);
	{
		struct arxiv_tok_params q = p;
		size_t trunc;

		q.seq_len = 256;
		CHECK(arxiv_tok_count_cached(cache, 0, tiny, &p, b.data, b.len, &nt, &e) == 0 &&
		    nt == enc_len(cache, tiny, 1, b.data, b.len) && nt > 1400 &&
		    arxiv_tok_encode(tiny, &q, b.data, b.len, ids, mask, &trunc, &e) == 0 &&
		    trunc == 256, "a long text is counted whole (%zu), encode truncates to 256", nt);
	}

	/* ---- random texts, both vocabularies, one cache, lowercasing on and off */
	fresh = arxiv_tok_cache_new();
	for (lower = 0; lower < 2; lower++) {
		const struct arxiv_vocab *vs[2] = { tiny, sci };

		for (k = 0; k < 2; k++) {
			if (vs[k] == NULL) {
				printf("ok %d # skip SciBERT vocab not found: %s\n", ++tap_n, path);
				continue;
			}
			for (i = 0, bad = 0; i < 20000; i++) {
				random_text(&b);
				bad += differs(k ? "scibert" : "tiny", i % 3 ? cache : fresh, vs[k],
				    lower, b.data ? b.data : "", b.len);
				if (bad > 20)
					break;
			}
			CHECK(bad == 0, "%s vocab, lowercase %d: 20000 random texts, count = "
			    "encode's length (%d differ)", k ? "SciBERT" : "hand-made", lower, bad);
		}
	}
	/* ---- random ASCII texts, lowercasing: the path by masks */
	for (k = 0; k < 2; k++) {
		const struct arxiv_vocab *vs[2] = { tiny, sci };
		size_t len = 0;

		if (vs[k] == NULL) {
			printf("ok %d # skip SciBERT vocab not found: %s\n", ++tap_n, path);
			continue;
		}
		for (i = 0, bad = 0; i < 20000; i++) {
			random_ascii(&b);
			len += b.len;
			bad += differs(k ? "scibert" : "tiny", i % 3 ? cache : fresh, vs[k], 1,
			    b.data ? b.data : "", b.len);
			if (bad > 20)
				break;
		}
		CHECK(bad == 0 && len > 20000 * 300, "%s vocab: 20000 random ASCII texts (%zu "
		    "bytes), count = encode's length (%d differ)", k ? "SciBERT" : "hand-made",
		    len, bad);
	}
	arxiv_tok_cache_free(fresh);

	/* ---- real abstracts */
	{
		char cmd[1200];
		FILE *fp;
		static char line[1 << 20];
		size_t n_abs = 0;

		snprintf(cmd, sizeof(cmd), "gzip -dc '%s/data/arxiv-part-000.jsonl.gz' 2>/dev/null",
		    shared ? shared : "../shared");
		fp = sci != NULL ? popen(cmd, "r") : NULL;
		for (bad = 0; fp != NULL && n_abs < 20000 && fgets(line, sizeof(line), fp); ) {
			json_error_t je;
			json_t *o = json_loads(line, 0, &je), *a = json_object_get(o, "abstract");

			if (json_is_string(a)) {
				n_abs++;
				for (lower = 1; lower >= (n_abs % 10 == 0 ? 0 : 1); lower--)
					bad += differs("abstract", cache, sci, lower,
					    json_string_value(a), json_string_length(a));
			}
			json_decref(o);
		}
		if (fp != NULL)
			pclose(fp);
		if (n_abs == 20000)
			CHECK(bad == 0, "the first 20000 real abstracts (SciBERT; every tenth cased "
			    "too): count = encode's length (%d differ)", bad);
		else {
			printf("# real abstracts not found (%zu read): %s/data/arxiv-part-000.jsonl.gz "
			    "(set ARXIV_SHARED)\n", n_abs, shared ? shared : "../shared");
			printf("ok %d # skip real abstracts not found\n", ++tap_n);
		}
	}

	arxiv_buf_free(&b);
	arxiv_tok_cache_free(cache);
	arxiv_vocab_free(sci);
	arxiv_vocab_free(tiny);
	free(ids);
	free(mask);
	return tap_done();
}

/*
 * test_wordpiece.c - vocab.txt loading, BERT tokenisation against the ids of
 * Hugging Face's BertTokenizer (tests/cases/arxiv-tok/expected.jsonl, made by
 * tests/tools/make_tok_table.py) for the hand-made vocab and, when
 * $ARXIV_SHARED has it, SciBERT's; and the WordPiece learner.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"
#include "tap.h"

#define CASES "tests/cases/arxiv-tok/"

static char *
write_tmp(const char *content, size_t n)
{
	static char path[64];
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/test_wordpiece.%ld.txt", (long)getpid());
	fp = fopen(path, "wb");
	fwrite(content, 1, n, fp);
	fclose(fp);
	return path;
}

/* Table rows for one vocabulary: returns failures, counts rows in *rows.
 * With a cache, each row is encoded twice through it (a cold, then a warm
 * cache: the words of the first pass are found in the second). */
static int
run_table(const char *name, const struct arxiv_vocab *v, struct arxiv_tok_cache *cache,
    int *rows)
{
	json_error_t je;
	json_t *row;
	FILE *fp = fopen(CASES "expected.jsonl", "r");
	char line[200000];
	uint32_t *ids = malloc(65536 * sizeof(*ids));
	uint8_t *mask = malloc(65536);
	int bad = 0;

	*rows = 0;
	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		struct arxiv_tok_params p = arxiv_tok_default_params();
		struct arxiv_error e;
		const char *text;
		size_t i, n, nt;
		json_t *want;
		int ok, pass;

		if ((row = json_loads(line, JSON_ALLOW_NUL, &je)) == NULL)
			return -1;
		if (strcmp(json_string_value(json_object_get(row, "vocab")), name) != 0) {
			json_decref(row);
			continue;
		}
		(*rows)++;
		p.seq_len = (size_t)json_integer_value(json_object_get(row, "seq_len"));
		p.lowercase = json_is_true(json_object_get(row, "lower"));
		text = json_string_value(json_object_get(row, "text"));
		n = json_string_length(json_object_get(row, "text"));
		want = json_object_get(row, "ids");
		for (ok = 1, pass = 0; ok && pass < (cache ? 2 : 1); pass++) {
			memset(ids, 0xff, p.seq_len * sizeof(*ids));
			ok = (cache ? arxiv_tok_encode_cached(cache, ARXIV_TOK_VALID_UTF8, v, &p, text,
			    n, ids, mask, &nt, &e) : arxiv_tok_encode(v, &p, text, n, ids, mask, &nt,
			    &e)) == 0 && nt == json_array_size(want);
			for (i = 0; ok && i < p.seq_len; i++) {
				if (i < nt)
					ok = ids[i] == (uint32_t)json_integer_value(
					    json_array_get(want, i)) && mask[i] == 1;
				else
					ok = ids[i] == (uint32_t)arxiv_vocab_id(v, "[PAD]", 5) &&
					    mask[i] == 0;
			}
		}
		if (!ok) {
			bad++;
			printf("# %s lower=%d seq_len=%zu mismatch: %.80s\n#   want", name, p.lowercase,
			    p.seq_len, text);
			for (i = 0; i < json_array_size(want) && i < 40; i++)
				printf(" %lld", json_integer_value(json_array_get(want, i)));
			printf("\n#   got ");
			for (i = 0; i < nt && i < 40; i++)
				printf(" %u", ids[i]);
			printf("\n");
		}
		json_decref(row);
	}
	fclose(fp);
	free(ids);
	free(mask);
	return bad;
}

static int
wp_ids(const struct arxiv_vocab *v, const char *text, size_t seq, uint32_t *ids, size_t *nt)
{
	struct arxiv_tok_params p = arxiv_tok_default_params();
	uint8_t mask[64];
	struct arxiv_error e;

	p.seq_len = seq;
	return arxiv_tok_encode(v, &p, text, strlen(text), ids, mask, nt, &e);
}

int
main(void)
{
	struct arxiv_vocab *v, *sci, *lv;
	struct arxiv_error e;
	struct arxiv_buf b = {0}, out = {0}, out2 = {0};
	struct arxiv_wordpiece_learner *l;
	struct arxiv_tok_cache *cache;
	const char *shared = getenv("ARXIV_SHARED");
	char path[1024], *data;
	uint32_t ids[64];
	size_t nt, i;
	int bad, rows;
	FILE *fp;
	long len;

	/* ---- vocab.txt */
	v = arxiv_vocab_load(CASES "vocab.txt", &e);
	CHECK(v != NULL, "load the hand-made vocab");
	CHECK(arxiv_vocab_size(v) == 204, "204 pieces");
	CHECK_STR(arxiv_vocab_piece(v, 0), "[PAD]", "id 0 is [PAD]");
	CHECK(arxiv_vocab_piece(v, 204) == NULL, "piece out of range is NULL");
	CHECK(arxiv_vocab_id(v, "[UNK]", 5) == 1 && arxiv_vocab_id(v, "[MASK]", 6) == 4, "special ids");
	CHECK(arxiv_vocab_id(v, "the", 3) == 203, "a later duplicate wins (Python dict semantics)");
	CHECK(arxiv_vocab_id(v, "##izer", 6) > 0 && arxiv_vocab_id(v, "izer", 4) == -1,
	    "## pieces are distinct from word-initial ones");
	CHECK(arxiv_vocab_id(v, "nope", 4) == -1, "unknown piece: -1");
	fp = fopen(CASES "vocab.txt", "rb");
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	data = malloc((size_t)len);
	CHECK(fread(data, 1, (size_t)len, fp) == (size_t)len &&
	    arxiv_vocab_hash(v) == arxiv_hash64(data, (size_t)len, 0),
	    "vocab hash = arxiv_hash64(file bytes, len, 0)");
	fclose(fp);
	free(data);

	lv = arxiv_vocab_load(write_tmp("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nab\r\n##c", 35), &e);
	CHECK(lv && arxiv_vocab_size(lv) == 6 && arxiv_vocab_id(lv, "ab", 2) == 4 &&
	    arxiv_vocab_id(lv, "##c", 3) == 5, "CRLF and a last line without newline");
	CHECK(lv && wp_ids(lv, "abc ab", 10, ids, &nt) == 0 && nt == 5 && ids[1] == 4 &&
	    ids[2] == 5 && ids[3] == 4, "greedy WordPiece with ## (CRLF vocab)");
	CHECK(lv && wp_ids(lv, "ac", 10, ids, &nt) == 0 && nt == 3 && ids[1] == 1,
	    "uncoverable word is [UNK]");
	arxiv_vocab_free(lv);
	CHECK(arxiv_vocab_load(write_tmp("[PAD]\n[CLS]\n[SEP]\na\n", 20), &e) == NULL &&
	    strstr(e.text, "no [UNK] piece"), "vocab without [UNK] rejected: %s", e.text);
	CHECK(arxiv_vocab_load(write_tmp("", 0), &e) == NULL && strstr(e.text, "empty vocabulary"),
	    "empty vocab rejected");
	CHECK(arxiv_vocab_load(write_tmp("[PAD]\n[UNK]\n\xff\n", 14), &e) == NULL &&
	    e.line == 3 && strstr(e.text, "invalid UTF-8"), "invalid UTF-8 rejected with its line");
	CHECK(arxiv_vocab_load("/nonexistent/vocab.txt", &e) == NULL &&
	    strcmp(e.text, "No such file or directory") == 0, "missing file");
	remove(write_tmp("", 0));

	/* ---- tokenisation: the Hugging Face table */
	if ((cache = arxiv_tok_cache_new()) == NULL)
		return 1;
	bad = run_table("tiny", v, NULL, &rows);
	CHECK(bad == 0 && rows > 50, "hand-made vocab: %d cases match BertTokenizer (%d differ)", rows, bad);
	bad = run_table("tiny", v, cache, &rows);
	CHECK(bad == 0 && rows > 50, "hand-made vocab, word cache cold and warm: %d cases match "
	    "(%d differ)", rows, bad);
	snprintf(path, sizeof(path), "%s/vocab/scibert_scivocab_uncased.vocab.txt",
	    shared ? shared : "../shared");
	if ((sci = arxiv_vocab_load(path, &e)) != NULL) {
		CHECK(arxiv_vocab_size(sci) == 31090 && arxiv_vocab_id(sci, "[CLS]", 5) == 102,
		    "SciBERT vocab: 31090 pieces, [CLS] = 102");
		bad = run_table("scibert", sci, NULL, &rows);
		CHECK(bad == 0 && rows > 50, "SciBERT vocab: %d cases match BertTokenizer (%d differ)",
		    rows, bad);
		/* the same cache, now with another vocabulary: it must forget the tiny one */
		bad = run_table("scibert", sci, cache, &rows);
		CHECK(bad == 0 && rows > 50, "SciBERT vocab after the tiny one, one word cache: "
		    "%d cases match (%d differ)", rows, bad);
		arxiv_vocab_free(sci);
		bad = run_table("tiny", v, cache, &rows);
		CHECK(bad == 0 && rows > 50, "hand-made vocab again, one word cache: %d cases match "
		    "(%d differ)", rows, bad);
	} else {
		printf("# SciBERT vocab not found: %s (set ARXIV_SHARED)\n", path);
		for (i = 0; i < 4; i++)
			printf("ok %d # skip SciBERT vocab not found: %s\n", ++tap_n, path);
	}
	arxiv_tok_cache_free(cache);

	/* ---- the basic tokenizer and edge cases */
	data = "Héllo, WORLD! ΟΔΟΣ İx \xe4\xb8\xad\xe6\x96\x87 a\xc2\xad" "b [CLS]x";
	arxiv_tok_basic(data, strlen(data), 1, &b, &e);
	CHECK_STR(b.data, "hello , world ! οδοσ ix 中 文 ab [CLS] x",
	    "basic: lowercase, accents, punctuation, sigma, İ, CJK, soft hyphen, special");
	arxiv_tok_basic("Héllo [CLS]", 12, 0, &b, &e);
	CHECK_STR(b.data, "Héllo [CLS]", "basic cased keeps case and accents");
	CHECK(arxiv_tok_basic("a\xff", 2, 1, &b, &e) < 0 && strstr(e.text, "invalid UTF-8 at byte 1"),
	    "invalid UTF-8 is an error");
	CHECK(wp_ids(v, "a b c", 2, ids, &nt) == 0 && nt == 2 && ids[0] == 2 && ids[1] == 3,
	    "seq_len 2: [CLS] [SEP]");
	CHECK(wp_ids(v, "", 8, ids, &nt) == 0 && nt == 2 && ids[2] == 0, "empty text: [CLS] [SEP] [PAD]...");
	CHECK(wp_ids(v, "x", 1, ids, &nt) < 0, "seq_len 1 is an error");

	/* ---- the learner */
	l = arxiv_wordpiece_learner_new(0);
	for (i = 0; i < 20; i++) {
		arxiv_wordpiece_add(l, "the tokenizer tokenizes tokens; the tokens are tokenized.", 57, &e);
		arxiv_wordpiece_add(l, "Quantum graphs and quantum fields", 33, &e);
	}
	CHECK(arxiv_wordpiece_learn(l, 10, &out, &e) < 0 && strstr(e.text, "cannot hold"),
	    "too small a vocabulary is an error: %s", e.text);
	CHECK(arxiv_wordpiece_learn(l, 80, &out, &e) == 0, "learn 80 pieces");
	CHECK(strncmp(out.data, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", 30) == 0, "specials first");
	for (i = 0, nt = 0; i < out.len; i++)
		nt += out.data[i] == '\n';
	CHECK(nt <= 80 && nt > 40, "at most 80 lines (%zu)", nt);
	CHECK(strstr(out.data, "\ntoken") != NULL && strstr(out.data, "\nquantum\n") != NULL,
	    "frequent words become pieces");
	arxiv_wordpiece_learner_free(l);
	l = arxiv_wordpiece_learner_new(0);
	for (i = 0; i < 20; i++) {
		arxiv_wordpiece_add(l, "Quantum graphs and quantum fields", 33, &e);
		arxiv_wordpiece_add(l, "the tokenizer tokenizes tokens; the tokens are tokenized.", 57, &e);
	}
	arxiv_wordpiece_learn(l, 80, &out2, &e);
	CHECK(out.len == out2.len && memcmp(out.data, out2.data, out.len) == 0,
	    "deterministic: input order does not matter");
	arxiv_wordpiece_learner_free(l);
	lv = arxiv_vocab_load(write_tmp(out.data, out.len), &e);
	CHECK(lv && wp_ids(lv, "The tokens and quantum graphs", 32, ids, &nt) == 0 && nt > 2,
	    "the learnt vocab loads and tokenises");
	for (i = 1, bad = 0; lv && i + 1 < nt; i++)
		bad += ids[i] == (uint32_t)arxiv_vocab_id(lv, "[UNK]", 5);
	CHECK(bad == 0, "no [UNK] for corpus words");
	arxiv_vocab_free(lv);
	remove(write_tmp("", 0));

	arxiv_buf_free(&b);
	arxiv_buf_free(&out);
	arxiv_buf_free(&out2);
	arxiv_vocab_free(v);
	return tap_done();
}

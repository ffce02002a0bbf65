/* test_vocab.c - vocab.txt (vocab.c): ids by line, continuation pieces, line
 * endings, duplicates, the special pieces, the file hash, errors; and the real
 * SciBERT vocabulary when ../shared is there. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"
#include "tap.h"

static char dir[] = "/tmp/test_vocab.XXXXXX";

static const char *
put(const char *name, const char *text, size_t n)
{
	static char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	fwrite(text, 1, n, fp);
	fclose(fp);
	return path;
}

#define PUT(name, lit) put(name, lit, sizeof(lit) - 1)

int
main(void)
{
	static const char base[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nquant\n##um\num\nb\xc3\xa9ta\n";
	struct arxiv_vocab *v;
	struct arxiv_error e;
	const char *p;

	if (mkdtemp(dir) == NULL)
		return 1;
	p = PUT("v.txt", base);
	v = arxiv_vocab_load(p, &e);
	CHECK(v != NULL, "load: %s", v ? "" : e.text);
	if (v == NULL)
		return tap_done();
	CHECK(arxiv_vocab_size(v) == 10, "one piece per line");
	CHECK(arxiv_vocab_id(v, "[PAD]", 5) == 0 && arxiv_vocab_id(v, "[SEP]", 5) == 3,
	    "id = line number - 1");
	CHECK(arxiv_vocab_id(v, "##um", 4) == 7 && arxiv_vocab_id(v, "um", 2) == 8,
	    "a continuation piece and the word piece of the same text are different ids");
	CHECK(arxiv_vocab_id(v, "quantum", 7) == -1 && arxiv_vocab_id(v, "quant", 4) == -1,
	    "unknown pieces (and prefixes) are -1");
	CHECK(arxiv_vocab_id(v, "b\xc3\xa9ta", 5) == 9, "UTF-8 piece");
	CHECK_STR(arxiv_vocab_piece(v, 7), "##um", "piece of an id");
	CHECK(arxiv_vocab_piece(v, 10) == NULL, "piece past the end is NULL");
	CHECK(arxiv_vocab_hash(v) == arxiv_hash64(base, sizeof(base) - 1, 0),
	    "hash = arxiv_hash64 of the file's bytes");
	arxiv_vocab_free(v);
	arxiv_vocab_free(NULL);

	/* universal newlines, no final newline, a later duplicate wins */
	p = PUT("crlf.txt", "[PAD]\r\n[UNK]\r[CLS]\n[SEP]\r\nthe\r\nthe\r\nend");
	v = arxiv_vocab_load(p, &e);
	CHECK(v && arxiv_vocab_size(v) == 7, "\\r\\n, \\r and \\n each end a line; the last needs none");
	CHECK(v && arxiv_vocab_id(v, "the", 3) == 5, "a later duplicate wins (as Hugging Face's load_vocab)");
	CHECK(v && arxiv_vocab_id(v, "end", 3) == 6 && strcmp(arxiv_vocab_piece(v, 1), "[UNK]") == 0,
	    "no terminator left in the pieces");
	arxiv_vocab_free(v);

	/* a changed byte changes the hash */
	{
		char other[sizeof(base)];
		struct arxiv_vocab *a, *b;

		memcpy(other, base, sizeof(base));
		other[sizeof(base) - 3] = 'b';	/* "béta" -> "bétb" */
		a = arxiv_vocab_load(PUT("a.txt", base), &e);
		b = arxiv_vocab_load(put("b.txt", other, sizeof(other) - 1), &e);
		CHECK(a && b && arxiv_vocab_hash(a) != arxiv_vocab_hash(b), "hash depends on the content");
		arxiv_vocab_free(a);
		arxiv_vocab_free(b);
	}

	/* errors */
	CHECK(arxiv_vocab_load(PUT("nosep.txt", "[PAD]\n[UNK]\n[CLS]\nthe\n"), &e) == NULL &&
	    strcmp(e.text, "no [SEP] piece: not a BERT vocab.txt") == 0, "[SEP] missing: %s", e.text);
	CHECK(arxiv_vocab_load(PUT("empty.txt", ""), &e) == NULL &&
	    strcmp(e.text, "empty vocabulary") == 0, "empty file: %s", e.text);
	CHECK(arxiv_vocab_load(PUT("bad.txt", "[PAD]\n[UNK]\nb\xff\n"), &e) == NULL && e.line == 3 &&
	    strcmp(e.text, "invalid UTF-8 in vocabulary") == 0, "invalid UTF-8 names its line: %ld %s",
	    e.line, e.text);
	CHECK(arxiv_vocab_load("/nonexistent/vocab.txt", &e) == NULL &&
	    strcmp(e.source, "/nonexistent/vocab.txt") == 0, "missing file: %s", e.text);

	/* the real SciBERT vocabulary */
	if (access("../shared/vocab/scibert_scivocab_uncased.vocab.txt", R_OK) == 0 &&
	    (v = arxiv_vocab_load("../shared/vocab/scibert_scivocab_uncased.vocab.txt", &e)) != NULL) {
		CHECK(arxiv_vocab_size(v) == 31090, "SciBERT scivocab: 31090 pieces (%zu)",
		    arxiv_vocab_size(v));
		CHECK(arxiv_vocab_id(v, "[PAD]", 5) == 0 && arxiv_vocab_id(v, "[UNK]", 5) == 101 &&
		    arxiv_vocab_id(v, "[CLS]", 5) == 102 && arxiv_vocab_id(v, "[SEP]", 5) == 103,
		    "SciBERT special ids 0/101/102/103");
		arxiv_vocab_free(v);
	} else
		printf("# ../shared/vocab/scibert_scivocab_uncased.vocab.txt not there: SciBERT checks not run\n");

	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}

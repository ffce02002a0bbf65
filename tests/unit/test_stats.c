/* test_stats.c - arxiv_stats: years from ids, merge == one pass, prune bound. */
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "internal.h"
#include "tap.h"

static int add_failed;

static struct arxiv_stats *
mk(size_t cap)
{
	struct arxiv_stats_params p = arxiv_stats_default_params();
	struct arxiv_error e;
	struct arxiv_stats *s;

	p.term_cap = cap;
	p.stopwords = "data/stopwords.txt";
	s = arxiv_stats_new(&p, &e);
	CHECK(s != NULL, "arxiv_stats_new: %s", s ? "" : e.text);
	return s;
}

static void
add(struct arxiv_stats *s, const char *id, const char *text, const char *label)
{
	struct arxiv_stats_str cat = { "cs.AI", 5 }, f = { label, strlen(label) };
	struct arxiv_stats_record r = { 0 };
	struct arxiv_error e;

	r.id.s = id;
	r.id.n = strlen(id);
	r.text.s = text;
	r.text.n = strlen(text);
	r.label = f;
	r.categories = &cat;
	r.n_categories = 1;
	r.fields = &f;
	r.n_fields = 1;
	r.n_tokens = -1;
	if (arxiv_stats_add(s, &r, &e) != 0)
		add_failed++;
}

static void
test_years(void)
{
	struct arxiv_stats *s = mk(1024);
	struct arxiv_buf o = { 0 };

	add(s, "0704.0001", "a", "F");
	add(s, "hep-th/9108001", "b", "F");
	add(s, "math.AG/0012001", "c", "F");
	add(s, "1913.00001", "d", "F");		/* month 13: unknown */
	add(s, "abc", "e", "F");
	arxiv_stats_json(s, 0, &o);
	CHECK(strstr(o.data, "\"years\":[{\"year\":1991,\"papers\":1},{\"year\":2000,\"papers\":1},"
	    "{\"year\":2007,\"papers\":1}],\"year_unknown\":2") != NULL, "years: %.300s",
	    strstr(o.data, "\"years\""));
	arxiv_buf_free(&o);
	arxiv_stats_free(s);
}

static void
test_merge(void)
{
	struct arxiv_stats *one = mk(1024), *a = mk(1024), *b = mk(1024), *m = mk(1024);
	struct arxiv_buf o1 = { 0 }, pa = { 0 }, pb = { 0 }, om = { 0 };
	struct arxiv_error e = { "", 0, "" };
	char id[32], text[64];
	int i;

	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "1501.%05d", i % 250);
		snprintf(text, sizeof(text), "word%c quark $x$ thing%d", 'a' + i % 7, i % 3);
		add(one, id, text, i % 3 ? "Physics" : "Mathematics");
		add(i < 120 ? a : b, id, text, i % 3 ? "Physics" : "Mathematics");
	}
	arxiv_stats_json(one, 0, &o1);
	arxiv_stats_json(a, 1, &pa);
	arxiv_stats_json(b, 1, &pb);
	CHECK(arxiv_stats_merge_json(m, pa.data, pa.len, &e) == 0, "merge a: %s", e.text);
	CHECK(arxiv_stats_merge_json(m, pb.data, pb.len, &e) == 0, "merge b: %s", e.text);
	arxiv_stats_json(m, 0, &om);
	CHECK_STR(om.data, o1.data, "merge of two parts == one pass");
	CHECK(strstr(o1.data, "\"duplicates\":{\"ids\":50,\"texts\":279,\"exact\":true}") != NULL,
	    "duplicates: %.80s", strstr(o1.data, "\"duplicates\""));
	CHECK(arxiv_stats_merge_json(m, o1.data, o1.len, &e) == -1 &&
	    strstr(e.text, "no \"state\"") != NULL, "final result is not mergeable: %s", e.text);
	arxiv_buf_free(&o1);
	arxiv_buf_free(&pa);
	arxiv_buf_free(&pb);
	arxiv_buf_free(&om);
	arxiv_stats_free(one);
	arxiv_stats_free(a);
	arxiv_stats_free(b);
	arxiv_stats_free(m);
}

static void
test_prune(void)
{
	struct arxiv_stats *s = mk(32);
	struct arxiv_buf o = { 0 };
	char text[64];
	int i;

	for (i = 0; i < 2000; i++) {
		snprintf(text, sizeof(text), "common rare%c%c%c", 'a' + i % 26, 'a' + i / 26 % 26,
		    'a' + i / 676);
		add(s, "x", text, "F");
	}
	arxiv_stats_json(s, 0, &o);
	CHECK(strstr(o.data, "\"table_cap\":32") != NULL && strstr(o.data, "\"exact\":false,") != NULL,
	    "pruned table says so");
	CHECK(strstr(o.data, "{\"term\":\"common\"") != NULL, "the frequent term survives");
	arxiv_buf_free(&o);
	arxiv_stats_free(s);
}

/* the terms' word-wise hash is internal.h's one hash, for every length */
static void
test_hash_words(void)
{
	uint64_t q[6];
	size_t n, i, bad = 0;

	for (n = 0; n <= 40; n++) {
		memset(q, 0, sizeof(q));
		for (i = 0; i < n; i++)
			((char *)q)[i] = (char)('a' + (i * 7 + n) % 26);
		if (arxiv_key_hash64_words(q, n) != arxiv_key_hash64((const char *)q, n))
			bad++;
	}
	CHECK(bad == 0, "arxiv_key_hash64_words == arxiv_key_hash64 for 0..40 bytes (%zu differ)",
	    bad);
}

/* the lengths counted 8 bytes at a time == byte by byte, at every offset */
static void
test_lengths(void)
{
	const char *pieces[] = { "ab", " ", "\t", "\n", "\r", "é", "日本", "𝔽", "  ", "xyz" };
	char text[128], id[16];
	struct arxiv_stats *s = mk(64);
	struct arxiv_buf o = { 0 };
	unsigned long chars = 0, words = 0;
	int i, k, in_word;

	for (i = 0; i < 200; i++) {
		size_t n = 0, j;

		for (k = 0; k < (i % 23); k++) {
			const char *p = pieces[(i * 3 + k * 5) % 10];

			memcpy(text + n, p, strlen(p));
			n += strlen(p);
		}
		text[n] = '\0';
		for (j = 0, in_word = 0; j < n; j++) {
			unsigned char c = (unsigned char)text[j];

			chars += (c & 0xc0) != 0x80;
			if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
				in_word = 0;
			else if (!in_word) {
				in_word = 1;
				words++;
			}
		}
		snprintf(id, sizeof(id), "%d", i);
		add(s, id, text, "F");
	}
	arxiv_stats_json(s, 0, &o);
	snprintf(text, sizeof(text), "\"chars\":{\"n\":200,\"sum\":%lu,", chars);
	CHECK(strstr(o.data, text) != NULL, "characters: want %s", text);
	snprintf(text, sizeof(text), "\"words\":{\"n\":200,\"sum\":%lu,", words);
	CHECK(strstr(o.data, text) != NULL, "words: want %s", text);
	arxiv_buf_free(&o);
	arxiv_stats_free(s);
}

/* terms split ahead (arxiv_stats_split, rec.split) count as terms split in
 * arxiv_stats_add, a full table's pruning included */
static void
test_split(void)
{
	struct arxiv_stats *a = mk(40), *b = mk(40);
	struct arxiv_stats_split *sp = arxiv_stats_split_new();
	struct arxiv_stats_str cat = { "cs.AI", 5 }, f = { "F", 1 };
	struct arxiv_buf oa = { 0 }, ob = { 0 };
	struct arxiv_error e;
	char text[160];
	int i, bad = 0;

	for (i = 0; i < 500; i++) {
		struct arxiv_stats_record r = { 0 };

		snprintf(text, sizeof(text), "The quark w%c%cx $x y$ and \\emph{gluon} Energy%s rare%c%c%c "
		    "common common caf\xc3\xa9s", 'a' + i % 26, 'a' + i / 26 % 26, i % 2 ? "" : "s",
		    'a' + i % 7, 'a' + i % 11, 'a' + i % 13);
		r.id.s = text;
		r.id.n = 4;
		r.text.s = text;
		r.text.n = strlen(text);
		r.label = f;
		r.categories = &cat;
		r.n_categories = 1;
		r.fields = &f;
		r.n_fields = 1;
		r.n_tokens = -1;
		bad += arxiv_stats_add(a, &r, &e) != 0;
		bad += sp == NULL || arxiv_stats_split(b, text, r.text.n, sp) != 0;
		r.split = sp;
		bad += arxiv_stats_add(b, &r, &e) != 0;
	}
	arxiv_stats_json(a, 1, &oa);
	arxiv_stats_json(b, 1, &ob);
	CHECK(bad == 0, "split and add succeed");
	CHECK(strstr(oa.data, "\"exact\":false") != NULL, "the table was pruned");
	CHECK_STR(ob.data, oa.data, "split ahead == split in arxiv_stats_add");
	arxiv_buf_free(&oa);
	arxiv_buf_free(&ob);
	arxiv_stats_split_free(sp);
	arxiv_stats_free(a);
	arxiv_stats_free(b);
}

int
main(void)
{
	test_split();
	test_hash_words();
	test_lengths();
	test_years();
	test_merge();
	test_prune();
	CHECK(add_failed == 0, "every arxiv_stats_add succeeded");
	return tap_done();
}

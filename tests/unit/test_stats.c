/* test_stats.c - arxiv_stats: years from ids, merge == one pass, prune bound,
 * split ahead == split here, tokens counted in the terms' pass == arxiv_tok_count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"
#include "internal.h"
#include "stats_int.h"
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

static const struct arxiv_stats_str cs_ai = { "cs.AI", 5 }, field_f = { "F", 1 };

/* a record: the id's first idn bytes, text, category cs.AI, field f (its label) */
static struct arxiv_stats_record
rec(const char *id, size_t idn, const char *text, size_t n, const struct arxiv_stats_str *f)
{
	struct arxiv_stats_record r = { 0 };

	r.id.s = id;
	r.id.n = idn;
	r.text.s = text;
	r.text.n = n;
	r.label = *f;
	r.categories = &cs_ai;
	r.n_categories = 1;
	r.fields = f;
	r.n_fields = 1;
	r.n_tokens = -1;
	return r;
}

static void
add(struct arxiv_stats *s, const char *id, const char *text, const char *label)
{
	struct arxiv_stats_str f = { label, strlen(label) };
	struct arxiv_stats_record r = rec(id, strlen(id), text, strlen(text), &f);
	struct arxiv_error e;

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

/* The splitter's rule byte by byte (the code before the masks): runs of
 * ASCII letters of min_len..32 bytes, outside $...$, not right after a
 * backslash, not followed by a byte >= 0x80, not stop words; into out. */
static size_t
ref_split(const char *text, size_t n, size_t min_len, const char *const *stop, char out[][33],
    size_t max)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + n, *w;
	size_t k, nt = 0, i;
	int math = 0;

#define ALPHA(c) (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z')
	while (p < end) {
		if (!ALPHA(*p)) {
			if (*p == '$')
				math = !math;
			else if (*p == '\\')
				while (p + 1 < end && ALPHA(p[1]))
					p++;
			p++;
			continue;
		}
		for (w = p; p < end && ALPHA(*p); p++)
			;
		k = (size_t)(p - w);
		if (math || k < min_len || k > 32 || (p < end && *p >= 0x80))
			continue;
		for (i = 0; i < k; i++)
			out[nt][i] = (char)(w[i] | 0x20);
		out[nt][k] = '\0';
		for (i = 0; stop[i] && strcmp(stop[i], out[nt]) != 0; i++)
			;
		if (stop[i] == NULL && nt < max)
			nt++;
	}
#undef ALPHA
	return nt;
}

#define rnd tap_rnd

/* The built-in splitter (64 bytes at a time by masks) gives the terms of the
 * byte-by-byte rule, in order, for random texts of every length and mix:
 * runs across the 64-byte blocks, $ and \ at their edges, runs of 31..34 and
 * of over 64 letters, non-ASCII bytes after a run; min_len 1, 3, 8, 32. */
static void
test_split_rule(void)
{
	static const char *const frag[] = {
		"a", "Z", "ab", "the", "The", "AND", "of", "quark", "Gluon", "gluons",
		"superconductivity", "x1", "H2O", "3.14", "$", "$x$", "$\\alpha$", "\\",
		"\\frac", "\\emph{", "}", "{", " ", " ", " ", "  ", "\n", "\t", ",", ".", "-",
		"(", ")", "[1]", "caf\xc3\xa9", "\xc3\xa9t\xc3\xa9", "na\xc3\xafve", "\xe2\x80\x94",
		"\x01", "\x7f", "\xff", "@", "_", "0", "9",
	};
	static const char *const stop[] = { "the", "and", "of", "with", "for", "in", "a", NULL };
	static char ref[2048][33];
	static const size_t mins[] = { 1, 3, 8, 32 };
	struct arxiv_stats_params p = arxiv_stats_default_params();
	struct arxiv_stats_split *sp = arxiv_stats_split_new();
	struct arxiv_buf b = { 0 };
	struct arxiv_error e;
	char path[] = "/tmp/test_stats.stop.XXXXXX";
	size_t m, i, j, k, nr, bad = 0, terms = 0;
	FILE *fp;
	int fd;

	if ((fd = mkstemp(path)) < 0 || (fp = fdopen(fd, "w")) == NULL) {
		CHECK(0, "a stop-word file: %s", path);
		return;
	}
	for (i = 0; stop[i]; i++)
		fprintf(fp, "%s\n", stop[i]);
	fclose(fp);
	p.stopwords = path;
	tap_rng = 0x2545f4914f6cdd1dULL;
	for (m = 0; m < sizeof(mins) / sizeof(mins[0]); m++) {
		struct arxiv_stats *s;

		p.min_len = mins[m];
		if ((s = arxiv_stats_new(&p, &e)) == NULL) {
			CHECK(0, "arxiv_stats_new: %s", e.text);
			break;
		}
		for (i = 0; i < 4000; i++) {
			size_t nf = rnd(i % 10 == 0 ? 300 : 60);

			arxiv_buf_clear(&b);
			for (j = 0; j < nf; j++) {
				if (rnd(20) == 0) {	/* a run of 28..70 letters */
					for (k = 28 + rnd(43); k > 0; k--)
						arxiv_buf_putc(&b, (char)((rnd(2) ? 'a' : 'A') + rnd(26)));
				} else {
					const char *f = frag[rnd(sizeof(frag) / sizeof(frag[0]))];

					arxiv_buf_append(&b, f, strlen(f));
				}
			}
			nr = ref_split(b.data ? b.data : "", b.len, mins[m], stop, ref, 2048);
			if (arxiv_stats_split(s, b.data ? b.data : "", b.len, sp) != 0 ||
			    stats_split_count(sp) != nr) {
				bad++;
				continue;
			}
			for (j = 0; j < nr; j++) {
				size_t off = stats_split_term(sp, j, &k), c;

				for (c = 0; c < k && (b.data[off + c] | 0x20) == ref[j][c]; c++)
					;
				if (k != strlen(ref[j]) || c != k) {
					bad++;
					break;
				}
			}
			terms += nr;
		}
		arxiv_stats_free(s);
	}
	CHECK(bad == 0 && terms > 20000, "the splitter by masks == byte by byte: 16000 random "
	    "texts, min_len 1 3 8 32, %zu terms (%zu texts differ)", terms, bad);
	unlink(path);
	arxiv_buf_free(&b);
	arxiv_stats_split_free(sp);
}

/* the lengths counted 8 bytes at a time == byte by byte, at every offset */
static void
test_lengths(void)
{
	const char *pieces[] = { "ab", " ", "\t", "\n", "\r", "é", "日本", "𝔽", "  ", "xyz" };
	char text[1024], id[16];
	struct arxiv_stats *s = mk(64);
	struct arxiv_buf o = { 0 };
	unsigned long chars = 0, words = 0;
	int i, k, in_word;

	for (i = 0; i < 400; i++) {	/* texts of 0..470 bytes: 64 at a time and the rest */
		size_t n = 0, j;

		for (k = 0; k < (i % 23) + (i % 5 == 0 ? i / 4 : 0); k++) {
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
	snprintf(text, sizeof(text), "\"chars\":{\"n\":400,\"sum\":%lu,", chars);
	CHECK(strstr(o.data, text) != NULL, "characters: want %s", text);
	snprintf(text, sizeof(text), "\"words\":{\"n\":400,\"sum\":%lu,", words);
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
	struct arxiv_buf oa = { 0 }, ob = { 0 };
	struct arxiv_error e;
	char text[160];
	int i, bad = 0;

	for (i = 0; i < 500; i++) {
		struct arxiv_stats_record r;

		snprintf(text, sizeof(text), "The quark w%c%cx $x y$ and \\emph{gluon} Energy%s rare%c%c%c "
		    "common common caf\xc3\xa9s", 'a' + i % 26, 'a' + i / 26 % 26, i % 2 ? "" : "s",
		    'a' + i % 7, 'a' + i % 11, 'a' + i % 13);
		r = rec(text, 4, text, strlen(text), &field_f);
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

/* A random text for test_tokens: the pieces where the pass over the terms and
 * the WordPiece count can part (digits beside letters, math, backslashes, stop
 * words, words of 1..130 letters, runs over a 64-byte block's end), now and
 * then a control character, a non-ASCII word or a special token, which the
 * pass leaves to arxiv_tok_count_cached. */
static size_t
random_text(char *t, size_t cap, unsigned *seed)
{
	static const char *const piece[] = {
		"the", "quark", "Gluon", "covid19", "2D", "h2o", "x", "ab", "$", "$x^2$",
		"\\alpha", "\\", "{", "}", " ", "  ", "\n", "\t", ".", ",", "-", "(", "[",
		"superconductivity", "Tokenization", "of", "and", "which", "between",
		"ABCDEFGHIJKLMNOPQRSTUVWX", "abcdefghijklmnopqrstuvwxy",
		"abcdefghijklmnopqrstuvwxyzabcdef", "abcdefghijklmnopqrstuvwxyzabcdefg",
		"graphs", "1234567", "U235", "e-mail", "it's", "Schr", "odinger",
	};
	static const char *const rare[] = { "\x01", "caf\xc3\xa9", "[CLS]", "[sep]", "\x7f" };
	size_t n = 0, want = (size_t)(rand_r(seed) % 600);

	while (n < want) {
		int r = rand_r(seed) % 1000;
		char buf[160];
		const char *w;
		size_t k;

		if (r < 2)
			w = rare[(size_t)rand_r(seed) % (sizeof(rare) / sizeof(rare[0]))];
		else if (r < 14) {	/* a run of 40..130 letters */
			size_t j, len = 40 + (size_t)(rand_r(seed) % 91);

			for (j = 0; j < len; j++)
				buf[j] = (char)('a' + rand_r(seed) % 3);
			buf[len] = '\0';
			w = buf;
		} else
			w = piece[(size_t)rand_r(seed) % (sizeof(piece) / sizeof(piece[0]))];
		k = strlen(w);
		if (n + k + 1 >= cap)
			break;
		memcpy(t + n, w, k);
		n += k;
		if (rand_r(seed) % 3)
			t[n++] = ' ';
	}
	t[n] = '\0';
	return n;
}

/* tokens counted by arxiv_stats_add in the pass that splits the terms
 * (ARXIV_STATS_COUNT_TOKENS) == arxiv_tok_count's, record by record, and the
 * statistics == those of records that bring their counts (a small term table:
 * pruned, its entries' pieces moved with them) */
static void
test_tokens(const char *name, const char *vpath, int lower)
{
	struct arxiv_stats *a = mk(64), *b = mk(64);
	struct arxiv_vocab *v;
	struct arxiv_tok_cache *c = arxiv_tok_cache_new();
	struct arxiv_tok_params tp = arxiv_tok_default_params();
	struct arxiv_buf oa = { 0 }, ob = { 0 };
	struct arxiv_error e;
	static char text[1024];
	unsigned seed = 7;
	int i, bad = 0, differ = 0, plain = 0;

	if ((v = arxiv_vocab_load(vpath, &e)) == NULL) {
		printf("ok %d # skip %s vocabulary: %s\n", ++tap_n, name, e.text);
		arxiv_stats_free(a);
		arxiv_stats_free(b);
		arxiv_tok_cache_free(c);
		return;
	}
	tp.lowercase = lower;
	arxiv_stats_set_vocab(a, v, &tp, c, 0);
	for (i = 0; i < 3000; i++) {
		uint64_t before = a->tokens.sum;
		size_t n = i == 0 ? 0 : random_text(text, sizeof(text), &seed), nt = 0;
		struct arxiv_stats_record r = rec(text, n < 4 ? n : 4, text, n, &field_f);

		r.n_tokens = ARXIV_STATS_COUNT_TOKENS;
		bad += arxiv_stats_add(a, &r, &e) != 0;
		bad += arxiv_tok_count(v, &tp, text, n, &nt, &e) != 0;
		if (a->tokens.sum - before != nt && differ++ == 0)
			printf("# %s: %llu tokens in the pass, %zu by arxiv_tok_count: \"%s\"\n", name,
			    (unsigned long long)(a->tokens.sum - before), nt, text);
		plain += !strpbrk(text, "\x01\x7f\xc3") && !strstr(text, "[CLS]");
		r.n_tokens = (long)nt;
		bad += arxiv_stats_add(b, &r, &e) != 0;
	}
	CHECK(bad == 0, "%s: every add and count succeeds", name);
	CHECK(differ == 0 && plain > 1500, "%s%s: 3000 texts (%d plain ASCII), the pass's count == "
	    "arxiv_tok_count's (%d differ)", name, lower ? "" : " cased", plain, differ);
	arxiv_stats_json(a, 1, &oa);
	arxiv_stats_json(b, 1, &ob);
	CHECK(strstr(oa.data, "\"exact\":false") != NULL, "%s: the term table was pruned", name);
	CHECK_STR(oa.data, ob.data, "%s: statistics with the pass's counts == with the records' own",
	    name);
	arxiv_buf_free(&oa);
	arxiv_buf_free(&ob);
	arxiv_stats_free(a);
	arxiv_stats_free(b);
	arxiv_tok_cache_free(c);
	arxiv_vocab_free(v);
}

/* ARXIV_STATS_COUNT_TOKENS without a vocabulary is refused, nothing counted */
static void
test_tokens_novocab(void)
{
	struct arxiv_stats *s = mk(64);
	struct arxiv_stats_record r = rec("quark", 5, "quark", 5, &field_f);
	struct arxiv_error e;

	r.n_tokens = ARXIV_STATS_COUNT_TOKENS;
	CHECK(arxiv_stats_add(s, &r, &e) < 0 && strstr(e.text, "no vocabulary") && s->n == 0,
	    "tokens to count without a vocabulary: refused (%s), nothing counted", e.text);
	arxiv_stats_free(s);
}

int
main(void)
{
	const char *shared = getenv("ARXIV_SHARED");
	char sci[1024];

	snprintf(sci, sizeof(sci), "%s/vocab/scibert_scivocab_uncased.vocab.txt",
	    shared ? shared : "../shared");
	test_tokens("tiny-bert", "tests/fixtures/tiny-bert/vocab.txt", 1);
	test_tokens("tiny-bert", "tests/fixtures/tiny-bert/vocab.txt", 0);
	test_tokens("SciBERT", sci, 1);
	test_tokens_novocab();
	test_split();
	test_split_rule();
	test_lengths();
	test_years();
	test_merge();
	test_prune();
	CHECK(add_failed == 0, "every arxiv_stats_add succeeded");
	return tap_done();
}

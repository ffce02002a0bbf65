/* test_vectors.c - the vector stream: round trip (binary and JSONL, NUL in a
 * title), header checks, truncated records, limits. */
#include <stdlib.h>

#include "arxiv.h"
#include "tap.h"

#define DIM 5

static void
rec(struct arxiv_vecrec *r, const char *id, const char *title, size_t tlen, const float *v)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->id_len = strlen(id);
	r->title = title;
	r->title_len = tlen;
	r->field = "Physics";
	r->field_len = 7;
	r->categories = "hep-th gr-qc";
	r->categories_len = 12;
	r->v = v;
}

static FILE *
write_two(int jsonl)
{
	static const float a[DIM] = { 1, 0, 0, 0, 0 }, b[DIM] = { 0.6f, 0.8f, 0, 0, -0 };
	struct arxiv_error e = { "", 0, "" };
	struct arxiv_vec_writer *w;
	struct arxiv_vecrec r;
	FILE *fp = tmpfile();

	w = arxiv_vec_create(fp, DIM, "test-v1 dim=5", "/emb", jsonl, &e);
	CHECK(w != NULL, "create (%s)", jsonl ? "jsonl" : "binary");
	rec(&r, "2101.00001", "A \"title\"\nwith\0NUL", 19, a);
	CHECK(arxiv_vec_write(w, &r, &e) == 0, "write record 1");
	rec(&r, "hep-th/9901001", "", 0, b);
	CHECK(arxiv_vec_write(w, &r, &e) == 0, "write record 2");
	CHECK(arxiv_vec_finish(w, &e) == 0, "finish");
	rewind(fp);
	return fp;
}

static void
test_roundtrip(int jsonl)
{
	struct arxiv_error e = { "", 0, "" };
	struct arxiv_vec_reader *r;
	struct arxiv_vecrec x;
	FILE *fp = write_two(jsonl);

	r = arxiv_vec_open(fp, "t", &e);
	CHECK(r != NULL, "open: %s", e.text);
	if (r == NULL)
		return;
	CHECK(arxiv_vec_dim(r) == DIM, "dim");
	CHECK_STR(arxiv_vec_embedder(r), "test-v1 dim=5", "embedder identity");
	CHECK_STR(arxiv_vec_embedder_dir(r), "/emb", "embedder dir");
	CHECK(arxiv_vec_next(r, &x, &e) == 1, "record 1");
	CHECK(x.id_len == 10 && memcmp(x.id, "2101.00001", 10) == 0, "id");
	CHECK(x.title_len == 19 && memcmp(x.title, "A \"title\"\nwith\0NUL", 19) == 0,
	    "title with quote, newline and NUL kept");
	CHECK(x.categories_len == 12 && strcmp(x.categories, "hep-th gr-qc") == 0, "categories");
	CHECK(x.v[0] == 1 && x.v[1] == 0, "vector 1");
	CHECK(arxiv_vec_next(r, &x, &e) == 1, "record 2");
	CHECK(strcmp(x.id, "hep-th/9901001") == 0 && x.title_len == 0, "record 2 id, empty title");
	CHECK(x.v[0] == 0.6f && x.v[1] == 0.8f, "vector 2 exact");
	CHECK(arxiv_vec_next(r, &x, &e) == 0, "end");
	arxiv_vec_close(r);
	fclose(fp);
}

static void
test_bad(void)
{
	struct arxiv_error e = { "", 0, "" };
	struct arxiv_vec_reader *r;
	struct arxiv_vecrec x;
	char buf[4096];
	size_t n;
	FILE *fp = write_two(0), *t;

	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	/* cut in the middle of the second record's vector */
	t = tmpfile();
	fwrite(buf, 1, n - 3, t);
	rewind(t);
	r = arxiv_vec_open(t, "cut.bin", &e);
	CHECK(r != NULL && arxiv_vec_next(r, &x, &e) == 1, "truncated: first record fine");
	CHECK(r != NULL && arxiv_vec_next(r, &x, &e) == -1, "truncated: second record is an error");
	CHECK_STR(e.text, "truncated record 2", "truncated record message");
	CHECK(e.line == 2 && strcmp(e.source, "cut.bin") == 0, "names input and record");
	arxiv_vec_close(r);
	fclose(t);

	t = tmpfile();
	fputs("hello\n", t);
	rewind(t);
	CHECK(arxiv_vec_open(t, "x", &e) == NULL, "bad magic refused");
	CHECK_STR(e.text, "not an arxiv vector stream (bad magic); did you forget arxiv-embed -e?",
	    "bad magic message");
	fclose(t);

	t = tmpfile();
	fwrite(buf, 1, n, t);
	rewind(t);
	fseek(t, 8, SEEK_SET);
	fputc(9, t);
	rewind(t);
	CHECK(arxiv_vec_open(t, "x", &e) == NULL, "version 9 refused");
	CHECK(strstr(e.text, "unsupported vector stream version 9") != NULL, "version message");
	fclose(t);

	t = tmpfile();
	fputs("{\"id\":\"a\",\"embedder\":\"e\",\"embedding\":[1,2]}\n"
	    "{\"id\":\"b\",\"embedder\":\"e\",\"embedding\":[1,2,3]}\n", t);
	rewind(t);
	r = arxiv_vec_open(t, "v.jsonl", &e);
	CHECK(r != NULL && arxiv_vec_next(r, &x, &e) == 1, "jsonl first");
	CHECK(r != NULL && arxiv_vec_next(r, &x, &e) == -1 && e.line == 2, "jsonl: other dimension, line 2");
	CHECK_STR(e.text, "dimension 3 differs from the first record's 2", "dimension message");
	arxiv_vec_close(r);
	fclose(t);
}

int
main(void)
{
	test_roundtrip(0);
	test_roundtrip(1);
	test_bad();
	return tap_done();
}

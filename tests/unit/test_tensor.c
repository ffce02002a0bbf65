/* test_tensor.c - the tensor stream: round trip, byte layout, and every way a
 * stream can be broken (bad magic, version, header, truncated record). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"
#include "tap.h"

#define SEQ 4

static const char *labels[] = { "Physics", "Mathematics", "Other" };

static struct arxiv_tensor_header
header(void)
{
	struct arxiv_tensor_header h;

	memset(&h, 0, sizeof(h));
	h.seq_len = SEQ;
	h.id_width = 16;
	h.n_labels = 3;
	h.flags = 1;
	h.vocab_hash = 0x0123456789abcdefULL;
	h.labels = (char **)labels;
	h.prep = "v1 test";
	return h;
}

/* A stream of n records in memory; *len gets its size. */
static unsigned char *
make_stream(int n, size_t *len)
{
	struct arxiv_tensor_header h = header();
	struct arxiv_tensor_writer *w;
	struct arxiv_tensor_record rec;
	struct arxiv_error e;
	uint32_t ids[SEQ];
	uint8_t mask[SEQ];
	char *buf = NULL;
	size_t sz = 0;
	FILE *fp = open_memstream(&buf, &sz);
	int i, j;

	w = arxiv_tensor_create(fp, &h, &e);
	for (i = 0; i < n; i++) {
		memset(&rec, 0, sizeof(rec));
		rec.label = i % 4 == 3 ? -1 : i % 3;
		rec.line = (uint64_t)i + 1;
		snprintf(rec.id, sizeof(rec.id), "%04d.%05d", 2000 + i, i);
		for (j = 0; j < SEQ; j++) {
			ids[j] = (uint32_t)(i * 100 + j);
			mask[j] = j < 3;
		}
		rec.ids = ids;
		rec.mask = mask;
		arxiv_tensor_write(w, &rec, &e);
	}
	arxiv_tensor_finish(w, &e);
	fclose(fp);
	*len = sz;
	return (unsigned char *)buf;
}

/* The placeholder stream of a writer without records (ARXIV_TENSOR_EMPTY, prep ""). */
static unsigned char *
make_empty(uint32_t seq_len, size_t *len)
{
	struct arxiv_tensor_header h = header();
	struct arxiv_error e;
	char *buf = NULL;
	size_t sz = 0;
	FILE *fp = open_memstream(&buf, &sz);

	h.seq_len = seq_len;
	h.flags |= ARXIV_TENSOR_EMPTY;
	h.prep = "";
	arxiv_tensor_finish(arxiv_tensor_create(fp, &h, &e), &e);
	fclose(fp);
	*len = sz;
	return (unsigned char *)buf;
}

static FILE *
mem(const void *p, size_t n)
{
	FILE *fp = tmpfile();

	fwrite(p, 1, n, fp);
	rewind(fp);
	return fp;
}

/* Open a stream from bytes; returns the reader or NULL with the message in msg. */
static struct arxiv_tensor_reader *
open_bytes(const void *p, size_t n, FILE **fpp, char *msg, size_t msz)
{
	struct arxiv_tensor_reader *r;
	struct arxiv_error e;

	*fpp = mem(p, n);
	msg[0] = '\0';
	if ((r = arxiv_tensor_open(*fpp, "t.bin", &e)) == NULL)
		arxiv_error_str(&e, msg, msz);
	return r;
}

/* Read all records; returns the count, or -(count+1) on error with msg. */
static long
read_all(struct arxiv_tensor_reader *r, char *msg, size_t msz)
{
	struct arxiv_tensor_record rec;
	struct arxiv_error e;
	long n = 0;
	int k;

	while ((k = arxiv_tensor_next(r, &rec, &e)) == 1)
		n++;
	if (k < 0) {
		arxiv_error_str(&e, msg, msz);
		return -(n + 1);
	}
	return n;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

int
main(void)
{
	const struct arxiv_tensor_header *h;
	struct arxiv_tensor_header hh;
	struct arxiv_tensor_reader *r;
	struct arxiv_tensor_writer *w;
	struct arxiv_tensor_record rec;
	struct arxiv_error e;
	unsigned char *s, *t;
	size_t n, hsize, rsize = 4 + 8 + 16 + 5 * SEQ;
	char msg[300];
	uint32_t ids[SEQ] = {1, 2, 3, 4};
	uint8_t mask[SEQ] = {1, 1, 0, 0};
	FILE *fp;
	int k, pfd[2];

	/* ---- layout */
	s = make_stream(5, &n);
	hsize = 52 + strlen("Physics") + 1 + strlen("Mathematics") + 1 + strlen("Other") + 1 + 4 + 7;
	CHECK(n == hsize + 5 * rsize, "stream size = header + 5 fixed records (%zu)", n);
	CHECK(arxiv_tensor_sniff(s, n), "sniff recognises the magic");
	CHECK(!arxiv_tensor_sniff("{\"id\":1}", 8), "sniff rejects JSON");
	CHECK(memcmp(s, "\x89" "AXT\r\n\x1a\n", 8) == 0, "magic bytes");
	CHECK(s[8] == 1 && s[9] == 0 && s[10] == 0 && s[11] == 0, "version 1, little-endian");
	CHECK(s[12] == (hsize & 0xff) && s[13] == 0, "header_size field");
	CHECK(s[16] == SEQ && s[20] == 16 && s[24] == 3 && s[28] == 1, "seq_len, id_width, n_labels, flags");
	CHECK(s[40] == 0xef && s[47] == 0x01, "vocab hash little-endian");
	CHECK(memcmp(s + 52, "Physics\0Mathematics\0Other\0", 26) == 0, "label block");
	CHECK(s[78] == 7 && memcmp(s + 82, "v1 test", 7) == 0, "prep size and bytes");
	/* first record: label 0, line 1, id, ids 0..3, mask 1 1 1 0 */
	t = s + hsize;
	CHECK(t[0] == 0 && t[4] == 1 && memcmp(t + 12, "2000.00000\0", 11) == 0, "record fields");
	CHECK(t[28] == 0 && t[32] == 1 && t[44] == 1 && t[47] == 0, "ids and mask bytes");

	/* ---- round trip */
	r = open_bytes(s, n, &fp, msg, sizeof(msg));
	CHECK(r != NULL, "open a valid stream %s", msg);
	h = arxiv_tensor_header(r);
	CHECK(h->version == 1 && h->seq_len == SEQ && h->id_width == 16 && h->n_labels == 3 &&
	    h->flags == 1 && h->n_records == 0 && h->vocab_hash == 0x0123456789abcdefULL &&
	    h->header_size == hsize, "header fields read back");
	CHECK_STR(h->labels[1], "Mathematics", "labels read back");
	CHECK_STR(h->prep, "v1 test", "prep read back");
	k = arxiv_tensor_next(r, &rec, &e);
	k += arxiv_tensor_next(r, &rec, &e);
	CHECK(k == 2 && rec.label == 1 && rec.line == 2 && strcmp(rec.id, "2001.00001") == 0 &&
	    rec.ids[0] == 100 && rec.ids[3] == 103 && rec.mask[2] == 1 && rec.mask[3] == 0,
	    "second record read back");
	arxiv_tensor_next(r, &rec, &e);
	arxiv_tensor_next(r, &rec, &e);
	CHECK(rec.label == -1, "unlabelled record (-1)");
	CHECK(arxiv_tensor_next(r, &rec, &e) == 1 && arxiv_tensor_next(r, &rec, &e) == 0, "EOF after 5");
	arxiv_tensor_close(r);
	fclose(fp);

	/* ---- through a pipe: no seeking */
	if (pipe(pfd) == 0) {
		k = (int)write(pfd[1], s, n);
		close(pfd[1]);
		fp = fdopen(pfd[0], "r");
		r = arxiv_tensor_open(fp, "<pipe>", &e);
		CHECK(r && k == (int)n && read_all(r, msg, sizeof(msg)) == 5, "reads from a pipe");
		arxiv_tensor_close(r);
		fclose(fp);
	}

	/* ---- bad input */
	t = (unsigned char *)"{\"id\": \"1\", \"text\": \"x\"}\n" "0123456789012345678901234567890123456789012345678901";
	r = open_bytes(t, strlen((char *)t), &fp, msg, sizeof(msg));
	CHECK_STR(msg, "t.bin: not an arxiv tensor stream (bad magic); did you forget arxiv-tok?",
	    "JSONL is rejected: bad magic");
	fclose(fp);
	r = open_bytes("xy", 2, &fp, msg, sizeof(msg));
	CHECK(r == NULL && strstr(msg, "bad magic"), "two bytes: bad magic");
	fclose(fp);
	r = open_bytes("", 0, &fp, msg, sizeof(msg));
	CHECK(r == NULL && strstr(msg, "empty input"), "empty input");
	fclose(fp);
	r = open_bytes(s, 30, &fp, msg, sizeof(msg));
	CHECK_STR(msg, "t.bin: truncated header (30 of 52 bytes)", "truncated fixed header");
	fclose(fp);
	r = open_bytes(s, 60, &fp, msg, sizeof(msg));
	CHECK_STR(msg, "t.bin: truncated header (in the label block)", "truncated label block");
	fclose(fp);
	r = open_bytes(s, hsize - 3, &fp, msg, sizeof(msg));
	CHECK_STR(msg, "t.bin: truncated header (in the prep)", "truncated prep");
	fclose(fp);

	t = malloc(n + 64);
	memcpy(t, s, n);
	put32(t + 8, 2);
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK_STR(msg, "t.bin: unsupported tensor stream version 2 (this reader knows 1)",
	    "wrong version");
	fclose(fp);
	memcpy(t, s, n);
	put32(t + 16, 0);
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK_STR(msg, "t.bin: bad header: seq_len 0 not in 1..65536", "seq_len 0");
	fclose(fp);
	memcpy(t, s, n);
	put32(t + 16, 0x7fffffff);
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK(r == NULL && strstr(msg, "seq_len 2147483647"), "huge seq_len rejected: %s", msg);
	fclose(fp);
	memcpy(t, s, n);
	put32(t + 20, 64);
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK(r == NULL && strstr(msg, "id_width 64"), "id_width 64 rejected");
	fclose(fp);
	memcpy(t, s, n);
	put32(t + 24, 100000);
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK(r == NULL && strstr(msg, "100000 labels"), "too many labels rejected");
	fclose(fp);
	memcpy(t, s, n);
	put32(t + 24, 4);
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK_STR(msg, "t.bin: bad header: label block holds 3 of 4 labels", "label count mismatch");
	fclose(fp);
	memcpy(t, s, n);
	put32(t + 24, 2);
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK(r == NULL && strstr(msg, "stray bytes after the labels"), "label block too long");
	fclose(fp);
	memcpy(t, s, n);
	put32(t + 48, 0xffffffffU);
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK(r == NULL && strstr(msg, "label block of 4294967295 bytes"), "huge label block");
	fclose(fp);
	memcpy(t, s, n);
	put32(t + 12, 10);
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK(r == NULL && strstr(msg, "header_size 10"), "header_size too small");
	fclose(fp);

	/* a larger header_size: the reader skips the unknown extra bytes */
	memcpy(t, s, hsize);
	memset(t + hsize, 0xee, 8);
	memcpy(t + hsize + 8, s + hsize, n - hsize);
	put32(t + 12, (uint32_t)hsize + 8);
	r = open_bytes(t, n + 8, &fp, msg, sizeof(msg));
	CHECK(r && read_all(r, msg, sizeof(msg)) == 5, "extra header bytes are skipped");
	arxiv_tensor_close(r);
	fclose(fp);

	/* truncated last record */
	r = open_bytes(s, n - 5, &fp, msg, sizeof(msg));
	CHECK(r && read_all(r, msg, sizeof(msg)) == -5, "4 good records, then an error");
	CHECK_STR(msg, "t.bin:5: truncated record (43 of 48 bytes)", "truncated record message");
	arxiv_tensor_close(r);
	fclose(fp);
	/* a label out of range, a bad mask byte */
	memcpy(t, s, n);
	put32(t + hsize + rsize, 7);
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK(r && read_all(r, msg, sizeof(msg)) == -2, "bad label stops at record 2");
	CHECK_STR(msg, "t.bin:2: label 7 out of range (3 labels)", "label out of range message");
	arxiv_tensor_close(r);
	fclose(fp);
	memcpy(t, s, n);
	t[hsize + rsize - 1] = 5;
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK(r && read_all(r, msg, sizeof(msg)) == -1 && strstr(msg, "mask value 5"), "bad mask byte");
	arxiv_tensor_close(r);
	fclose(fp);
	/* streams concatenated (parallel --pipe -k arxiv-tok): same header = one stream */
	{
		unsigned char *c2 = malloc(3 * n);
		memcpy(c2, s, n);
		memcpy(c2 + n, s, n);
		memcpy(c2 + 2 * n, s, hsize);	/* a header-only stream at the end */
		r = open_bytes(c2, 2 * n + hsize, &fp, msg, sizeof(msg));
		CHECK(r && read_all(r, msg, sizeof(msg)) == 10, "concatenated streams read as one %s", msg);
		arxiv_tensor_close(r);
		fclose(fp);
		r = open_bytes(c2, 2 * n + hsize - 2, &fp, msg, sizeof(msg));
		CHECK(r && read_all(r, msg, sizeof(msg)) == -11 &&
		    strstr(msg, "truncated header of a concatenated stream"), "cut second header: %s", msg);
		arxiv_tensor_close(r);
		fclose(fp);
		r = open_bytes(c2, n + hsize + 10, &fp, msg, sizeof(msg));
		CHECK(r && read_all(r, msg, sizeof(msg)) == -6 &&
		    strstr(msg, "t.bin:6: truncated record (10 of 48 bytes)"), "cut record after a header: %s", msg);
		arxiv_tensor_close(r);
		fclose(fp);
		c2[n + 82] = 'X';	/* another prep */
		r = open_bytes(c2, 2 * n, &fp, msg, sizeof(msg));
		CHECK(r && read_all(r, msg, sizeof(msg)) == -6 && strstr(msg, "unlike the first"),
		    "a different second header is an error: %s", msg);
		arxiv_tensor_close(r);
		fclose(fp);
		free(c2);
	}
	/* placeholder headers of empty streams (parallel --pipe -k arxiv-tok -k,
	 * a block without a good record): skipped, first or later */
	{
		size_t en, bn;
		unsigned char *e0 = make_empty(SEQ, &en), *bad = make_empty(SEQ + 1, &bn);
		unsigned char *c3 = malloc(3 * en + 2 * n);
		size_t at = 0;
		memcpy(c3 + at, e0, en), at += en;
		memcpy(c3 + at, e0, en), at += en;
		memcpy(c3 + at, s, n), at += n;
		memcpy(c3 + at, e0, en), at += en;
		memcpy(c3 + at, s, n), at += n;
		r = open_bytes(c3, at, &fp, msg, sizeof(msg));
		h = r ? arxiv_tensor_header(r) : NULL;
		CHECK(h && strcmp(h->prep, "v1 test") == 0 && h->flags == 1,
		    "leading empty-stream headers: the first real header is the header %s", msg);
		CHECK(r && read_all(r, msg, sizeof(msg)) == 10, "empty-stream headers skipped %s", msg);
		arxiv_tensor_close(r);
		fclose(fp);
		r = open_bytes(e0, en, &fp, msg, sizeof(msg));
		h = r ? arxiv_tensor_header(r) : NULL;
		CHECK(h && h->prep[0] == '\0' && (h->flags & ARXIV_TENSOR_EMPTY) &&
		    read_all(r, msg, sizeof(msg)) == 0, "an empty stream alone: 0 records %s", msg);
		arxiv_tensor_close(r);
		fclose(fp);
		memcpy(c3 + en, s + hsize, rsize);	/* a record after a placeholder */
		r = open_bytes(c3, en + rsize, &fp, msg, sizeof(msg));
		CHECK(r == NULL && strstr(msg, "data after the header of an empty stream"),
		    "records after an empty-stream header: %s", msg);
		fclose(fp);
		memcpy(c3, s, n);
		memcpy(c3 + n, bad, bn);	/* a placeholder of another shape */
		r = open_bytes(c3, n + bn, &fp, msg, sizeof(msg));
		CHECK(r && read_all(r, msg, sizeof(msg)) == -6 && strstr(msg, "unlike the first"),
		    "an empty-stream header of another shape is an error: %s", msg);
		arxiv_tensor_close(r);
		fclose(fp);
		{
			struct arxiv_tensor_header eh = header();
			struct arxiv_tensor_record er;
			struct arxiv_tensor_writer *ew;
			struct arxiv_error ee;
			uint32_t eids[SEQ] = {0};
			uint8_t emask[SEQ] = {0};
			FILE *wf = tmpfile();
			memset(&er, 0, sizeof(er));
			er.ids = eids;
			er.mask = emask;
			eh.flags |= ARXIV_TENSOR_EMPTY;
			ew = arxiv_tensor_create(wf, &eh, &ee);
			CHECK(ew && arxiv_tensor_write(ew, &er, &ee) < 0 && strstr(ee.text, "flagged empty"),
			    "a writer flagged empty refuses records");
			arxiv_tensor_finish(ew, &ee);
			fclose(wf);
		}
		free(e0);
		free(bad);
		free(c3);
	}
	/* n_records announced: fewer or more records are errors */
	memcpy(t, s, n);
	t[32] = 6;
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK(r && read_all(r, msg, sizeof(msg)) == -6 && strstr(msg, "5 of 6 records"),
	    "missing announced records");
	arxiv_tensor_close(r);
	fclose(fp);
	memcpy(t, s, n);
	t[32] = 4;
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK(r && read_all(r, msg, sizeof(msg)) == -5 && strstr(msg, "trailing data"),
	    "data after the announced records");
	arxiv_tensor_close(r);
	fclose(fp);
	memcpy(t, s, n);
	t[32] = 5;
	r = open_bytes(t, n, &fp, msg, sizeof(msg));
	CHECK(r && read_all(r, msg, sizeof(msg)) == 5, "exactly the announced records");
	arxiv_tensor_close(r);
	fclose(fp);
	free(t);

	/* ---- writer errors */
	hh = header();
	fp = tmpfile();
	w = arxiv_tensor_create(fp, &hh, &e);
	memset(&rec, 0, sizeof(rec));
	rec.ids = ids;
	rec.mask = mask;
	rec.label = 3;
	CHECK(arxiv_tensor_write(w, &rec, &e) < 0 && strstr(e.text, "label 3 out of range"),
	    "writer rejects a bad label");
	rec.label = 0;
	strcpy(rec.id, "0123456789abcdefX");
	CHECK(arxiv_tensor_write(w, &rec, &e) < 0 && strstr(e.text, "longer than 16 bytes"),
	    "writer rejects a long id");
	CHECK(arxiv_tensor_finish(w, &e) == 0, "finish");
	fclose(fp);
	hh.n_records = 2;
	fp = tmpfile();
	w = arxiv_tensor_create(fp, &hh, &e);
	strcpy(rec.id, "1");
	arxiv_tensor_write(w, &rec, &e);
	CHECK(arxiv_tensor_finish(w, &e) < 0 && strstr(e.text, "wrote 1 records, the header announced 2"),
	    "finish checks n_records");
	fclose(fp);
	hh = header();
	hh.seq_len = 0;
	CHECK(arxiv_tensor_create(stdout, &hh, &e) == NULL && strstr(e.text, "seq_len 0"),
	    "writer rejects seq_len 0");
	if ((fp = fopen("/dev/full", "w")) != NULL) {
		int i, bad = 0;
		hh = header();
		w = arxiv_tensor_create(fp, &hh, &e);
		for (i = 0; w && i < 200; i++)
			bad |= arxiv_tensor_write(w, &rec, &e) < 0;
		bad |= w == NULL || arxiv_tensor_finish(w, &e) < 0;
		CHECK(bad && strstr(e.text, "write error"), "/dev/full: write error (%s)", e.text);
		fclose(fp);
	}
	free(s);
	return tap_done();
}

/*
 * tensor.c - the binary tensor stream of arxiv-tensor(5): a little-endian
 * header (magic, version, header size, shapes, labels, vocab hash, prep) and
 * fixed-size records, encoded and decoded field by field. The reader only reads
 * forward, so it works on pipes; a partial record at EOF is an error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"

#define FIXED_SIZE 52			/* bytes up to and including labels_size */
#define MAX_BLOCK ((uint32_t)1 << 20)	/* label block, prep, extra header bytes */

static const char magic[8] = ARXIV_TENSOR_MAGIC;

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static size_t
record_size(uint32_t seq_len, uint32_t id_width)
{
	return 4 + 8 + (size_t)id_width + 5 * (size_t)seq_len;
}

static void
free_header(struct arxiv_tensor_header *h)
{
	uint32_t i;

	if (h->labels) {
		for (i = 0; i < h->n_labels; i++)
			free(h->labels[i]);
		free(h->labels);
	}
	free(h->prep);
	h->labels = NULL;
	h->prep = NULL;
}

int
arxiv_tensor_sniff(const void *p, size_t n)
{
	return n >= 8 && memcmp(p, magic, 8) == 0;
}

/* Shape checks shared by reader and writer. */
static int
check_shape(const struct arxiv_tensor_header *h, const char *name, struct arxiv_error *err)
{
	if (h->seq_len < 1 || h->seq_len > ARXIV_TENSOR_MAX_SEQ) {
		arxiv_error_set(err, name, 0, "bad header: seq_len %u not in 1..%d", h->seq_len,
		    ARXIV_TENSOR_MAX_SEQ);
		return -1;
	}
	if (h->id_width < 1 || h->id_width > ARXIV_TENSOR_MAX_ID) {
		arxiv_error_set(err, name, 0, "bad header: id_width %u not in 1..%d", h->id_width,
		    ARXIV_TENSOR_MAX_ID);
		return -1;
	}
	if (h->n_labels > ARXIV_TENSOR_MAX_LABELS) {
		arxiv_error_set(err, name, 0, "bad header: %u labels (at most %d)", h->n_labels,
		    ARXIV_TENSOR_MAX_LABELS);
		return -1;
	}
	return 0;
}

/* ----------------------------------------------------------------- reader */

struct arxiv_tensor_reader {
	FILE *fp;
	char name[64];
	struct arxiv_tensor_header h;
	size_t rec_size;
	unsigned char *buf;	/* one encoded record */
	uint32_t *ids;
	uint8_t *mask;
	uint64_t n_read;
	struct arxiv_buf raw;	/* the header's bytes, to recognise a repeat of it */
	struct arxiv_buf empty;	/* the same header as an ARXIV_TENSOR_EMPTY stream's */
	uint32_t labels_size, prep_size;
};

/* Read exactly n bytes: 1 done, 0 clean EOF before any byte, -1 short/error
 * (*got says how many bytes arrived). */
static int
read_full(FILE *fp, void *p, size_t n, size_t *got)
{
	*got = fread(p, 1, n, fp);
	if (*got == n)
		return 1;
	if (*got == 0 && !ferror(fp))
		return 0;
	return -1;
}

static int
read_block(struct arxiv_tensor_reader *r, void *p, size_t n, const char *what,
    struct arxiv_error *err)
{
	size_t got;

	if (n == 0)
		return 0;
	if (read_full(r->fp, p, n, &got) == 1)
		return arxiv_buf_append(&r->raw, p, n) < 0 ? -1 : 0;
	if (ferror(r->fp))
		arxiv_error_set(err, r->name, 0, "read error: %s", strerror(errno ? errno : EIO));
	else
		arxiv_error_set(err, r->name, 0, "truncated header (in the %s)", what);
	return -1;
}

/* Parse the header whose first FIXED_SIZE bytes are in fixed (magic checked)
 * and read the rest of it into r->h, r->raw. 0 or -1 with err. */
static int
parse_header(struct arxiv_tensor_reader *r, const unsigned char *fixed, struct arxiv_error *err)
{
	struct arxiv_tensor_header *h = &r->h;
	unsigned char four[4];
	uint32_t labels_size, prep_size, i;
	uint64_t consumed;
	char *block = NULL, *p, *end;
	long bad;

	if (arxiv_buf_append(&r->raw, fixed, FIXED_SIZE) < 0) {
		arxiv_error_set(err, r->name, 0, "out of memory");
		goto fail;
	}
	h->version = get32(fixed + 8);
	h->header_size = get32(fixed + 12);
	h->seq_len = get32(fixed + 16);
	h->id_width = get32(fixed + 20);
	h->n_labels = get32(fixed + 24);
	h->flags = get32(fixed + 28);
	h->n_records = get64(fixed + 32);
	h->vocab_hash = get64(fixed + 40);
	labels_size = get32(fixed + 48);
	if (h->version != ARXIV_TENSOR_VERSION) {
		arxiv_error_set(err, r->name, 0,
		    "unsupported tensor stream version %u (this reader knows %d)", h->version,
		    ARXIV_TENSOR_VERSION);
		goto fail;
	}
	if (check_shape(h, r->name, err) < 0)
		goto fail;
	if (labels_size > MAX_BLOCK || labels_size < h->n_labels) {
		arxiv_error_set(err, r->name, 0, "bad header: label block of %u bytes for %u labels",
		    labels_size, h->n_labels);
		goto fail;
	}
	/* The label block: exactly n_labels NUL-terminated UTF-8 names. */
	if ((h->labels = calloc(h->n_labels ? h->n_labels : 1, sizeof(char *))) == NULL ||
	    (block = malloc(labels_size ? labels_size : 1)) == NULL) {
		arxiv_error_set(err, r->name, 0, "out of memory");
		goto fail;
	}
	if (read_block(r, block, labels_size, "label block", err) < 0)
		goto fail;
	p = block;
	end = block + labels_size;
	for (i = 0; i < h->n_labels; i++) {
		char *nul = memchr(p, '\0', (size_t)(end - p));
		if (nul == NULL) {
			arxiv_error_set(err, r->name, 0, "bad header: label block holds %u of %u labels",
			    i, h->n_labels);
			goto fail;
		}
		if (nul == p || arxiv_utf8_check(p, (size_t)(nul - p)) >= 0) {
			arxiv_error_set(err, r->name, 0, "bad header: label %u is empty or not UTF-8", i);
			goto fail;
		}
		if ((h->labels[i] = strdup(p)) == NULL) {
			arxiv_error_set(err, r->name, 0, "out of memory");
			goto fail;
		}
		p = nul + 1;
	}
	if (p != end) {
		arxiv_error_set(err, r->name, 0, "bad header: %zu stray bytes after the labels",
		    (size_t)(end - p));
		goto fail;
	}
	free(block);
	block = NULL;
	if (read_block(r, four, 4, "prep size", err) < 0)
		goto fail;
	prep_size = get32(four);
	if (prep_size > MAX_BLOCK) {
		arxiv_error_set(err, r->name, 0, "bad header: prep of %u bytes", prep_size);
		goto fail;
	}
	if ((h->prep = malloc((size_t)prep_size + 1)) == NULL) {
		arxiv_error_set(err, r->name, 0, "out of memory");
		goto fail;
	}
	if (read_block(r, h->prep, prep_size, "prep", err) < 0)
		goto fail;
	h->prep[prep_size] = '\0';
	if (memchr(h->prep, '\0', prep_size) || (bad = arxiv_utf8_check(h->prep, prep_size)) >= 0) {
		arxiv_error_set(err, r->name, 0, "bad header: prep is not a UTF-8 string");
		goto fail;
	}
	consumed = (uint64_t)FIXED_SIZE + labels_size + 4 + prep_size;
	if (h->header_size < consumed || h->header_size - consumed > MAX_BLOCK) {
		arxiv_error_set(err, r->name, 0, "bad header: header_size %u (its fields take %llu)",
		    h->header_size, (unsigned long long)consumed);
		goto fail;
	}
	/* Fields of later versions that this reader does not know: skip them. */
	while (consumed < h->header_size) {
		unsigned char skip[4096];
		size_t k = h->header_size - consumed > sizeof(skip) ? sizeof(skip) :
		    (size_t)(h->header_size - consumed);
		if (read_block(r, skip, k, "extra header fields", err) < 0)
			goto fail;
		consumed += k;
	}
	r->labels_size = labels_size;
	r->prep_size = prep_size;
	return 0;
fail:
	free(block);
	return -1;
}

struct arxiv_tensor_reader *
arxiv_tensor_open(FILE *fp, const char *name, struct arxiv_error *err)
{
	struct arxiv_tensor_reader *r;
	struct arxiv_tensor_header *h;
	unsigned char fixed[FIXED_SIZE];
	size_t got;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		arxiv_error_set(err, name, 0, "out of memory");
		return NULL;
	}
	r->fp = fp;
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "<stdin>");
	if (read_full(fp, fixed, sizeof(fixed), &got) != 1) {

		if (ferror(fp))
			arxiv_error_set(err, r->name, 0, "read error: %s",
			    strerror(errno ? errno : EIO));
		else if (got >= 8 && memcmp(fixed, magic, 8) == 0)
			arxiv_error_set(err, r->name, 0, "truncated header (%zu of %d bytes)", got,
			    FIXED_SIZE);
		else if (got == 0)
			arxiv_error_set(err, r->name, 0,
			    "empty input, not an arxiv tensor stream; did you forget arxiv-tok?");
		else
			arxiv_error_set(err, r->name, 0,
			    "not an arxiv tensor stream (bad magic); did you forget arxiv-tok?");
		goto fail;
	}
	if (memcmp(fixed, magic, 8) != 0) {
		arxiv_error_set(err, r->name, 0,
		    "not an arxiv tensor stream (bad magic); did you forget arxiv-tok?");
		goto fail;
	}
	if (parse_header(r, fixed, err) < 0)
		goto fail;
	/* An empty stream's placeholder header followed by another stream's
	 * (parallel --pipe -k arxiv-tok): the next one is the first header. */
	while (r->h.flags & ARXIV_TENSOR_EMPTY) {
		if (read_full(fp, fixed, sizeof(fixed), &got) == 0)
			break;		/* EOF: the whole stream is empty */
		if (ferror(fp)) {
			arxiv_error_set(err, r->name, 0, "read error: %s",
			    strerror(errno ? errno : EIO));
			goto fail;
		}
		if (got < 8 || memcmp(fixed, magic, 8) != 0) {
			arxiv_error_set(err, r->name, 0,
			    "data after the header of an empty stream (flag %u set)",
			    ARXIV_TENSOR_EMPTY);
			goto fail;
		}
		if (got < sizeof(fixed)) {
			arxiv_error_set(err, r->name, 0, "truncated header (%zu of %d bytes)", got,
			    FIXED_SIZE);
			goto fail;
		}
		free_header(&r->h);
		memset(&r->h, 0, sizeof(r->h));
		arxiv_buf_clear(&r->raw);
		if (parse_header(r, fixed, err) < 0)
			goto fail;
	}
	/* A later placeholder for an empty stream: this header, flagged empty,
	 * with an empty prep (the extra fields of later versions kept). */
	{
		const unsigned char *raw = (const unsigned char *)r->raw.data;
		size_t at = FIXED_SIZE + r->labels_size, rest = at + 4 + r->prep_size;
		unsigned char *e;
		if (arxiv_buf_append(&r->empty, raw, at + 4) < 0 ||
		    arxiv_buf_append(&r->empty, raw + rest, r->raw.len - rest) < 0) {
			arxiv_error_set(err, r->name, 0, "out of memory");
			goto fail;
		}
		e = (unsigned char *)r->empty.data;
		put32(e + 12, (uint32_t)r->empty.len);
		put32(e + 28, r->h.flags | ARXIV_TENSOR_EMPTY);
		put32(e + at, 0);
	}
	h = &r->h;
	r->rec_size = record_size(h->seq_len, h->id_width);
	/* at least a fixed header, so skip_header can read a header's flags */
	r->buf = malloc(r->rec_size > FIXED_SIZE ? r->rec_size : FIXED_SIZE);
	r->ids = malloc((size_t)h->seq_len * sizeof(*r->ids));
	r->mask = malloc(h->seq_len);
	if (!r->buf || !r->ids || !r->mask) {
		arxiv_error_set(err, r->name, 0, "out of memory");
		goto fail;
	}
	return r;
fail:
	arxiv_tensor_close(r);
	return NULL;
}

const struct arxiv_tensor_header *
arxiv_tensor_header(const struct arxiv_tensor_reader *r)
{
	return &r->h;
}

/*
 * r->buf holds got bytes that start with the magic. Check that they begin a
 * copy of the first header, or of its ARXIV_TENSOR_EMPTY placeholder, and
 * consume it; returns how many bytes after the header are left at the start
 * of r->buf, or (size_t)-1 with err.
 */
static size_t
skip_header(struct arxiv_tensor_reader *r, size_t got, long recno, struct arxiv_error *err)
{
	const unsigned char *hdr = (const unsigned char *)r->raw.data;
	size_t hs = r->raw.len, n, done;
	unsigned char chunk[4096];

	if (r->h.n_records) {
		arxiv_error_set(err, r->name, recno,
		    "another stream header where a record should be (a counted stream cannot be "
		    "concatenated)");
		return (size_t)-1;
	}
	if (got < FIXED_SIZE && got == r->rec_size) {
		/* records shorter than a fixed header: read up to its flags */
		if (fread(r->buf + got, 1, FIXED_SIZE - got, r->fp) != FIXED_SIZE - got)
			goto truncated;
		got = FIXED_SIZE;
	}
	if (got >= 32 && (get32(r->buf + 28) & ARXIV_TENSOR_EMPTY) && !(r->h.flags & ARXIV_TENSOR_EMPTY)) {
		hdr = (const unsigned char *)r->empty.data;
		hs = r->empty.len;
	}
	n = got < hs ? got : hs;
	if (memcmp(r->buf, hdr, n) != 0)
		goto differs;
	if (got >= hs) {
		memmove(r->buf, r->buf + hs, got - hs);
		return got - hs;
	}
	if (got < r->rec_size)
		goto truncated;
	/* a header longer than a record: compare the rest as it comes */
	for (done = got; done < hs; done += n) {
		n = hs - done < sizeof(chunk) ? hs - done : sizeof(chunk);
		if (fread(chunk, 1, n, r->fp) != n)
			goto truncated;
		if (memcmp(chunk, hdr + done, n) != 0)
			goto differs;
	}
	return 0;
differs:
	arxiv_error_set(err, r->name, recno,
	    "another stream header where a record should be, unlike the first "
	    "(concatenated streams must have the same header)");
	return (size_t)-1;
truncated:
	arxiv_error_set(err, r->name, recno, "truncated header of a concatenated stream");
	return (size_t)-1;
}

int
arxiv_tensor_next(struct arxiv_tensor_reader *r, struct arxiv_tensor_record *rec,
    struct arxiv_error *err)
{
	const struct arxiv_tensor_header *h = &r->h;
	long recno = (long)(r->n_read + 1);
	const unsigned char *p;
	size_t got, i, have = 0;
	int k;

	if (h->n_records && r->n_read == h->n_records) {
		/* All announced records read: anything after them is an error. */
		unsigned char c;
		if (fread(&c, 1, 1, r->fp) == 1) {
			arxiv_error_set(err, r->name, recno,
			    "trailing data after the %llu records of the header",
			    (unsigned long long)h->n_records);
			return -1;
		}
		if (!ferror(r->fp))
			return 0;
		arxiv_error_set(err, r->name, recno, "read error: %s", strerror(errno ? errno : EIO));
		return -1;
	}
	for (;;) {
		k = read_full(r->fp, r->buf + have, r->rec_size - have, &got);
		got += have;
		if (ferror(r->fp)) {
			arxiv_error_set(err, r->name, recno, "read error: %s",
			    strerror(errno ? errno : EIO));
			return -1;
		}
		if (got == 0) {
			if (h->n_records) {
				arxiv_error_set(err, r->name, recno,
				    "truncated stream: %llu of %llu records",
				    (unsigned long long)r->n_read, (unsigned long long)h->n_records);
				return -1;
			}
			return 0;
		}
		if (got < 8 || memcmp(r->buf, magic, 8) != 0)
			break;
		/* Streams concatenated (parallel --pipe -k arxiv-tok): a repeat of
		 * the first header, byte for byte, is skipped. */
		if ((have = skip_header(r, got, recno, err)) == (size_t)-1)
			return -1;
		if (k != 1 && have == 0)
			continue;	/* EOF right after the header: got is 0 next time */
		if (k != 1) {
			got = have;
			break;
		}
	}
	if (got < r->rec_size) {
		arxiv_error_set(err, r->name, recno, "truncated record (%zu of %zu bytes)",
		    got, r->rec_size);
		return -1;
	}
	p = r->buf;
	rec->label = (int32_t)get32(p);
	if (rec->label < -1 || (rec->label >= 0 && (uint32_t)rec->label >= h->n_labels)) {
		arxiv_error_set(err, r->name, recno, "label %ld out of range (%u labels)",
		    (long)rec->label, h->n_labels);
		return -1;
	}
	rec->line = get64(p + 4);
	p += 12;
	memcpy(rec->id, p, h->id_width);
	rec->id[h->id_width] = '\0';
	p += h->id_width;
	for (i = 0; i < h->seq_len; i++, p += 4)
		r->ids[i] = get32(p);
	for (i = 0; i < h->seq_len; i++) {
		if (p[i] > 1) {
			arxiv_error_set(err, r->name, recno, "mask value %u is not 0 or 1", p[i]);
			return -1;
		}
		r->mask[i] = p[i];
	}
	rec->ids = r->ids;
	rec->mask = r->mask;
	r->n_read++;
	return 1;
}

void
arxiv_tensor_close(struct arxiv_tensor_reader *r)
{
	if (r == NULL)
		return;
	free_header(&r->h);
	arxiv_buf_free(&r->raw);
	arxiv_buf_free(&r->empty);
	free(r->buf);
	free(r->ids);
	free(r->mask);
	free(r);
}

int
arxiv_tensor_check_vocab(const struct arxiv_tensor_header *h, const struct arxiv_vocab *v,
    const char *name, struct arxiv_error *err)
{
	uint64_t vh = arxiv_vocab_hash(v);

	if (h->vocab_hash == vh)
		return 0;
	arxiv_error_set(err, name, 0,
	    "vocab mismatch: the stream was tokenised with vocab %016llx, this vocab.txt is %016llx",
	    (unsigned long long)h->vocab_hash, (unsigned long long)vh);
	return -1;
}

/* ----------------------------------------------------------------- writer */

struct arxiv_tensor_writer {
	FILE *fp;
	struct arxiv_tensor_header h;
	size_t rec_size;
	unsigned char *buf;
	uint64_t n_written;
};

struct arxiv_tensor_writer *
arxiv_tensor_create(FILE *fp, const struct arxiv_tensor_header *hin, struct arxiv_error *err)
{
	struct arxiv_tensor_writer *w;
	struct arxiv_tensor_header *h;
	struct arxiv_buf b = {0};
	unsigned char fixed[FIXED_SIZE], four[4];
	size_t labels_size = 0, prep_size, i;
	const char *prep = hin->prep ? hin->prep : "";

	if (check_shape(hin, "", err) < 0)
		return NULL;
	for (i = 0; i < hin->n_labels; i++) {
		if (hin->labels == NULL || hin->labels[i] == NULL || !hin->labels[i][0]) {
			arxiv_error_set(err, "", 0, "label %zu is missing or empty", i);
			return NULL;
		}
		labels_size += strlen(hin->labels[i]) + 1;
	}
	prep_size = strlen(prep);
	if (labels_size > MAX_BLOCK || prep_size > MAX_BLOCK) {
		arxiv_error_set(err, "", 0, "labels or prep longer than %u bytes", MAX_BLOCK);
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto nomem;
	w->fp = fp;
	h = &w->h;
	*h = *hin;
	h->labels = NULL;
	h->prep = NULL;
	h->version = ARXIV_TENSOR_VERSION;
	h->header_size = (uint32_t)(FIXED_SIZE + labels_size + 4 + prep_size);
	if ((h->labels = calloc(h->n_labels ? h->n_labels : 1, sizeof(char *))) == NULL ||
	    (h->prep = strdup(prep)) == NULL)
		goto nomem;
	for (i = 0; i < h->n_labels; i++)
		if ((h->labels[i] = strdup(hin->labels[i])) == NULL)
			goto nomem;
	w->rec_size = record_size(h->seq_len, h->id_width);
	if ((w->buf = malloc(w->rec_size)) == NULL)
		goto nomem;

	memcpy(fixed, magic, 8);
	put32(fixed + 8, h->version);
	put32(fixed + 12, h->header_size);
	put32(fixed + 16, h->seq_len);
	put32(fixed + 20, h->id_width);
	put32(fixed + 24, h->n_labels);
	put32(fixed + 28, h->flags);
	put64(fixed + 32, h->n_records);
	put64(fixed + 40, h->vocab_hash);
	put32(fixed + 48, (uint32_t)labels_size);
	put32(four, (uint32_t)prep_size);
	if (arxiv_buf_append(&b, fixed, sizeof(fixed)) < 0)
		goto nomem;
	for (i = 0; i < h->n_labels; i++)
		if (arxiv_buf_append(&b, h->labels[i], strlen(h->labels[i]) + 1) < 0)
			goto nomem;
	if (arxiv_buf_append(&b, four, 4) < 0 || arxiv_buf_append(&b, prep, prep_size) < 0)
		goto nomem;
	if (fwrite(b.data, 1, b.len, fp) != b.len) {
		arxiv_error_set(err, "", 0, "write error: %s", strerror(errno ? errno : EIO));
		arxiv_buf_free(&b);
		free_header(h);
		free(w->buf);
		free(w);
		return NULL;
	}
	arxiv_buf_free(&b);
	return w;
nomem:
	arxiv_error_set(err, "", 0, "out of memory");
	arxiv_buf_free(&b);
	if (w) {
		free_header(&w->h);
		free(w->buf);
		free(w);
	}
	return NULL;
}

int
arxiv_tensor_write(struct arxiv_tensor_writer *w, const struct arxiv_tensor_record *rec,
    struct arxiv_error *err)
{
	const struct arxiv_tensor_header *h = &w->h;
	unsigned char *p = w->buf;
	size_t idlen = strnlen(rec->id, sizeof(rec->id)), i;

	if (h->flags & ARXIV_TENSOR_EMPTY) {
		arxiv_error_set(err, "", 0, "a stream flagged empty (ARXIV_TENSOR_EMPTY) holds no records");
		return -1;
	}
	if (rec->label < -1 || (rec->label >= 0 && (uint32_t)rec->label >= h->n_labels)) {
		arxiv_error_set(err, "", 0, "label %ld out of range (%u labels)", (long)rec->label,
		    h->n_labels);
		return -1;
	}
	if (idlen > h->id_width) {
		arxiv_error_set(err, "", 0, "id \"%.64s\" longer than %u bytes", rec->id, h->id_width);
		return -1;
	}
	put32(p, (uint32_t)rec->label);
	put64(p + 4, rec->line);
	p += 12;
	memcpy(p, rec->id, idlen);
	memset(p + idlen, 0, h->id_width - idlen);
	p += h->id_width;
	for (i = 0; i < h->seq_len; i++, p += 4)
		put32(p, rec->ids[i]);
	for (i = 0; i < h->seq_len; i++)
		p[i] = rec->mask[i] ? 1 : 0;
	if (fwrite(w->buf, 1, w->rec_size, w->fp) != w->rec_size) {
		arxiv_error_set(err, "", 0, "write error: %s", strerror(errno ? errno : EIO));
		return -1;
	}
	w->n_written++;
	return 0;
}

int
arxiv_tensor_finish(struct arxiv_tensor_writer *w, struct arxiv_error *err)
{
	int rc = 0;

	if (w == NULL)
		return 0;
	if (fflush(w->fp) == EOF || ferror(w->fp)) {
		arxiv_error_set(err, "", 0, "write error: %s", strerror(errno ? errno : EIO));
		rc = -1;
	} else if (w->h.n_records && w->n_written != w->h.n_records) {
		arxiv_error_set(err, "", 0, "wrote %llu records, the header announced %llu",
		    (unsigned long long)w->n_written, (unsigned long long)w->h.n_records);
		rc = -1;
	}
	free_header(&w->h);
	free(w->buf);
	free(w);
	return rc;
}

/*
 * vocab.c - a WordPiece vocabulary (vocab.txt) in two open-addressing hash
 * tables: word-initial pieces, and "##" continuation pieces keyed without
 * their "##". The tokeniser (wordpiece.c) looks up byte slices of a word
 * directly, so no lookup builds a string or allocates.
 *
 * vocab.txt is read the way Hugging Face's load_vocab() reads it: UTF-8,
 * universal newlines ("\n", "\r\n" and "\r" end a line), id = line number - 1,
 * a later duplicate of a piece wins the lookup.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "internal.h"

#define VOCAB_MAX_BYTES ((size_t)256 << 20)	/* refuse vocab.txt files above 256 MiB */

struct vslot {
	uint32_t hash;		/* the key's hash */
	uint32_t id;
	uint32_t off, len;	/* the key's bytes in text (so a probe touches one line) */
};

struct vtable {
	uint16_t *tags;		/* per slot: 0 empty, else 16 bits of the hash | 1;
				 * small enough to stay in cache, so a miss (most
				 * WordPiece lookups) rarely touches the slots */
	struct vslot *slots;
	size_t mask;		/* slots - 1 */
	size_t maxlen;		/* longest key in bytes */
};

struct arxiv_vocab {
	char *text;		/* the pieces, each NUL-terminated */
	size_t *off;		/* n offsets into text */
	uint32_t *len;		/* n lengths */
	size_t n;
	uint64_t hash;
	struct vtable t[2];	/* [0] initial pieces, [1] "##" pieces without "##" */
	long special[5];	/* [PAD] [UNK] [CLS] [SEP] [MASK], -1 if absent */
	long ascii[128];	/* id of each one-byte initial piece, -1 if absent */
};

/* Internal to libarxiv (vocab.c and wordpiece.c); see wordpiece.c. */
long arxiv_vocab__find(const struct arxiv_vocab *v, int cont, const char *p, size_t n);
size_t arxiv_vocab__maxlen(const struct arxiv_vocab *v, int cont);
long arxiv_vocab__special(const struct arxiv_vocab *v, int which);
long arxiv_vocab__ascii(const struct arxiv_vocab *v, int c);

static const char *const special_names[5] = { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };


static long
table_find(const struct arxiv_vocab *v, const struct vtable *t, const char *p, size_t n)
{
	uint32_t h = arxiv_key_hash(p, n);
	uint16_t tag = (uint16_t)((h >> 16) | 1), g;
	size_t i = h & t->mask;

	while ((g = t->tags[i]) != 0) {
		if (g == tag) {
			const struct vslot *s = &t->slots[i];
			if (s->hash == h && s->len == n && memcmp(v->text + s->off, p, n) == 0)
				return (long)s->id;
		}
		i = (i + 1) & t->mask;
	}
	return -1;
}

static void
table_put(struct arxiv_vocab *v, struct vtable *t, uint32_t id, const char *p, size_t n)
{
	uint32_t h = arxiv_key_hash(p, n);
	size_t i = h & t->mask;

	if (n > t->maxlen)
		t->maxlen = n;
	for (;;) {
		struct vslot *s = &t->slots[i];
		if (t->tags[i] == 0) {
			t->tags[i] = (uint16_t)((h >> 16) | 1);
			s->hash = h;
			s->id = id;
			s->off = (uint32_t)(p - v->text);
			s->len = (uint32_t)n;
			return;
		}
		if (s->hash == h && s->len == n && memcmp(v->text + s->off, p, n) == 0) {
			s->id = id;	/* a later duplicate wins, as in Python's dict */
			s->off = (uint32_t)(p - v->text);
			return;
		}
		i = (i + 1) & t->mask;
	}
}

static int
is_cont(const char *p, size_t n)
{
	return n >= 2 && p[0] == '#' && p[1] == '#';
}

void
arxiv_vocab_free(struct arxiv_vocab *v)
{
	if (v == NULL)
		return;
	free(v->text);
	free(v->off);
	free(v->len);
	free(v->t[0].slots);
	free(v->t[1].slots);
	free(v->t[0].tags);
	free(v->t[1].tags);
	free(v);
}

static char *
read_file(const char *path, size_t *n, struct arxiv_error *err)
{
	struct arxiv_buf b = {0};
	char chunk[65536];
	size_t got;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL) {
		arxiv_error_set(err, path, 0, "%s", strerror(errno));
		return NULL;
	}
	while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (b.len + got > VOCAB_MAX_BYTES) {
			arxiv_error_set(err, path, 0, "vocabulary file larger than %zu bytes",
			    VOCAB_MAX_BYTES);
			goto fail;
		}
		if (arxiv_buf_append(&b, chunk, got) < 0) {
			arxiv_error_set(err, path, 0, "out of memory");
			goto fail;
		}
	}
	if (ferror(fp)) {
		arxiv_error_set(err, path, 0, "read error: %s", strerror(errno ? errno : EIO));
		goto fail;
	}
	fclose(fp);
	if (arxiv_buf_reserve(&b, 1) < 0) {
		arxiv_error_set(err, path, 0, "out of memory");
		arxiv_buf_free(&b);
		return NULL;
	}
	b.data[b.len] = '\0';
	*n = b.len;
	return b.data;
fail:
	fclose(fp);
	arxiv_buf_free(&b);
	return NULL;
}

struct arxiv_vocab *
arxiv_vocab_load(const char *path, struct arxiv_error *err)
{
	struct arxiv_vocab *v;
	size_t n, i, lines, cap, start, k;
	long bad;
	char *data;
	int t;

	if ((data = read_file(path, &n, err)) == NULL)
		return NULL;
	if ((bad = arxiv_utf8_check(data, n)) >= 0) {
		for (lines = 1, i = 0; i < (size_t)bad; i++)
			lines += data[i] == '\n';
		arxiv_error_set(err, path, (long)lines, "invalid UTF-8 in vocabulary");
		free(data);
		return NULL;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		free(data);
		arxiv_error_set(err, path, 0, "out of memory");
		return NULL;
	}
	v->hash = arxiv_hash64(data, n, 0);
	/* Count lines: each "\n", "\r\n" or "\r" ends one; a last line without one counts. */
	for (lines = 0, i = 0; i < n; i++) {
		if (data[i] == '\n' || (data[i] == '\r' && (i + 1 == n || data[i + 1] != '\n')))
			lines++;
	}
	if (n > 0 && data[n - 1] != '\n' && data[n - 1] != '\r')
		lines++;
	if (lines == 0) {
		arxiv_error_set(err, path, 0, "empty vocabulary");
		goto fail;
	}
	if (lines >= UINT32_MAX) {
		arxiv_error_set(err, path, 0, "too many pieces");
		goto fail;
	}
	v->text = data;
	data = NULL;
	v->off = malloc(lines * sizeof(*v->off));
	v->len = malloc(lines * sizeof(*v->len));
	for (cap = 16; cap < 2 * lines; cap *= 2)
		;
	for (t = 0; t < 2; t++) {
		v->t[t].slots = malloc(cap * sizeof(struct vslot));
		v->t[t].tags = calloc(cap, sizeof(uint16_t));
		v->t[t].mask = cap - 1;
	}
	if (!v->off || !v->len || !v->t[0].slots || !v->t[1].slots || !v->t[0].tags ||
	    !v->t[1].tags) {
		arxiv_error_set(err, path, 0, "out of memory");
		goto fail;
	}
	/* Split in place: every line terminator becomes a NUL. */
	for (start = 0, k = 0, i = 0; k < lines; i++) {
		if (i == n || v->text[i] == '\n' || v->text[i] == '\r') {
			size_t len = i - start;
			const char *p = v->text + start;
			if (i < n && v->text[i] == '\r' && i + 1 < n && v->text[i + 1] == '\n')
				v->text[i++] = '\0';
			if (i < n)
				v->text[i] = '\0';
			v->off[k] = start;
			v->len[k] = (uint32_t)len;
			if (is_cont(p, len))
				table_put(v, &v->t[1], (uint32_t)k, p + 2, len - 2);
			else
				table_put(v, &v->t[0], (uint32_t)k, p, len);
			k++;
			start = i + 1;
		}
	}
	v->n = lines;
	for (i = 0; i < 5; i++)
		v->special[i] = arxiv_vocab_id(v, special_names[i], strlen(special_names[i]));
	for (i = 0; i < 4; i++) {
		if (v->special[i] < 0) {
			arxiv_error_set(err, path, 0, "no %s piece: not a BERT vocab.txt",
			    special_names[i]);
			goto fail;
		}
	}
	for (i = 0; i < 128; i++) {
		char c = (char)i;
		v->ascii[i] = table_find(v, &v->t[0], &c, 1);
	}
	return v;
fail:
	free(data);
	arxiv_vocab_free(v);
	return NULL;
}

size_t
arxiv_vocab_size(const struct arxiv_vocab *v)
{
	return v->n;
}

uint64_t
arxiv_vocab_hash(const struct arxiv_vocab *v)
{
	return v->hash;
}

long
arxiv_vocab_id(const struct arxiv_vocab *v, const char *piece, size_t n)
{
	if (is_cont(piece, n))
		return table_find(v, &v->t[1], piece + 2, n - 2);
	return table_find(v, &v->t[0], piece, n);
}

const char *
arxiv_vocab_piece(const struct arxiv_vocab *v, size_t id)
{
	return id < v->n ? v->text + v->off[id] : NULL;
}

long
arxiv_vocab__find(const struct arxiv_vocab *v, int cont, const char *p, size_t n)
{
	return table_find(v, &v->t[cont != 0], p, n);
}

size_t
arxiv_vocab__maxlen(const struct arxiv_vocab *v, int cont)
{
	return v->t[cont != 0].maxlen;
}

long
arxiv_vocab__special(const struct arxiv_vocab *v, int which)
{
	return which >= 0 && which < 5 ? v->special[which] : -1;
}

long
arxiv_vocab__ascii(const struct arxiv_vocab *v, int c)
{
	return c >= 0 && c < 128 ? v->ascii[c] : -1;
}

/*
 * index_file_int.h - the local index file (kind "file") in memory, shared by
 * lib/index_file.c (the format, reading: open, header checks, records, the
 * backend table), lib/index_file_write.c (building in memory, upserts, the
 * commit through a temporary file) and lib/index_file_search.c (the exact
 * cosine search over int8 codes and float32 vectors). Not installed.
 */
#ifndef ARXIV_INDEX_FILE_INT_H
#define ARXIV_INDEX_FILE_INT_H

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "arxiv.h"
#include "internal.h"

#define AXI_MAGIC "\x89" "AXI\r\n\x1a\n"
#define AXI_VERSION 1
#define AXI_FIXED 96
#define MAX_FIELDS 65535
#define MAX_THREADS 64

struct brec {			/* a paper while building */
	char *id, *title, *field, *cats;
	size_t title_len;
};

struct fileix {
	char path[PATH_MAX];
	int write, threads;
	size_t dim;
	char *embedder, *dir;
	/* the mapped file */
	unsigned char *map;
	size_t mapsize;
	uint64_t count;
	const float *vec;
	const int8_t *codes;
	const unsigned char *qparam;	/* count x (f32 scale, f32 bound) */
	const unsigned char *offs, *order, *fidx;
	char **fields;
	size_t nfields;
	/* building */
	size_t n, cap;
	struct brec *recs;
	float *vecs;
	uint32_t *slot;		/* id hash table: paper number + 1, 0 empty */
	size_t nslot;
	int dirty;
};

/* Paper i's record in the map: its strings (id, title, field, categories). */
struct mrec {
	const char *s[4];
	size_t len[4];
};

static inline uint16_t
le16(const unsigned char *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t
le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t
le64(const unsigned char *b)
{
	return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

static inline int
little_endian(void)
{
	uint16_t one = 1;
	unsigned char b;

	memcpy(&b, &one, 1);
	return b == 1;
}

/* index_file.c */
int ixfile_map_rec(const struct fileix *x, uint64_t i, struct mrec *m);
long long ixfile_map_find(const struct fileix *x, const char *id);
char *ixfile_dupn(const char *s, size_t n);

/* index_file_write.c */
void ixfile_brec_free(struct brec *r);
int ixfile_put(struct fileix *x, const char *id, size_t id_len, const char *title, size_t title_len,
    const char *field, size_t field_len, const char *cats, size_t cats_len, const float *v);
int ixfile_add(void *impl, const struct arxiv_vecrec *recs, size_t n, struct arxiv_error *err);
int ixfile_commit(void *impl, struct arxiv_error *err);

/* index_file_search.c */
int ixfile_search(void *impl, const float *q, size_t k, const char *field, const char *exclude,
    struct arxiv_hit *hits, size_t *n, struct arxiv_error *err);

#endif

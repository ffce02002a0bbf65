/*
 * stats.h - arxiv-stats' parts (bin/stats/), one program in several files:
 *   read.c     a record from its line: the scan of arxiv-map's JSON (jansson
 *              where it must), the WordPiece count and cleaning, counting it
 *   blocks.c   -j: blocks of records prepared by threads while this thread
 *              counts the block before, in input order
 *   ../arxiv-stats.c  the command line, the input files, --merge, the output
 * Not installed; nothing here is part of libarxiv.
 */
#ifndef ARXIV_STATS_PROG_H
#define ARXIV_STATS_PROG_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "../prog.h"

#define MAXSEQ 16384	/* tokens counted at most */
#define BLOCK 2048		/* records prepared by the threads at a time */
#define BLOCK_BYTES (16 << 20)	/* or their bytes */
#define MAXJOBS 64

/* What one thread needs to read, tokenise and clean records. */
struct tools {
	struct arxiv_tok_cache *cache;
	struct arxiv_cleaner *cl;
	struct arxiv_buf text, cleaned;
	struct arxiv_stats_str cats[64], fields[64];
};

/* A record prepared by a thread: its WordPiece count, cleaned terms, the
 * facts and terms of arxiv_stats_split, and, when the line's fields could be
 * taken where they are, the record itself, so that counting it does not read
 * the line again. */
struct prep {
	int ok;			/* 0: not prepared (the main thread does it and
				 * reports the record's error in its place) */
	int parsed;		/* r holds the record (else the line is read again) */
	long n_tokens;
	size_t off, len;	/* cleaned text in its thread's keep buffer */
	struct arxiv_stats_split *split;	/* the text's facts and terms */
	struct arxiv_stats_record r;	/* parsed: its strings in the line, but */
	size_t text_off;	/* an unescaped text: in the keep buffer (SIZE_MAX: not) */
	size_t cat_at, field_at;	/* its categories and fields in the thread's strs */
};

/* a thread's categories and fields of a block */
struct strs {
	struct arxiv_stats_str *a;
	size_t n, cap;
};

/* A block of records (-j): their lines, line numbers and preparation. */
struct block {
	struct arxiv_buf lines;
	size_t nb, *off, *len;
	long *lineno;
	struct prep *prep;
	size_t from[MAXJOBS], to[MAXJOBS];	/* each thread's records */
	struct arxiv_buf keep[MAXJOBS];		/* and their cleaned and unescaped texts */
	struct strs strs[MAXJOBS];		/* and their categories and fields */
};

struct state;
struct job {
	struct state *s;
	struct tools t;
	struct block *b;	/* the block it prepares */
	int id;
};

struct state {
	struct arxiv_stats *st;
	struct arxiv_vocab *vocab;
	int clean;
	int split;		/* terms are split by the built-in splitter (no --clean, -K not 0) */
	int keep;
	int jobs;
	size_t n, skipped;
	struct tools t;		/* the main thread's */
	/* -j: the block being read, and the one the threads prepare (NULL:
	 * none; on thread th when async), counted when the next one is read */
	struct block blk[2], *fill, *busy;
	pthread_t th;
	int async;
	int njob;		/* threads preparing a block (at most jobs, records) */
	struct job job[MAXJOBS];
};

/* read.c */
int parse_line(struct tools *t, const char *line, size_t len, struct arxiv_stats_record *r,
    json_t **o, struct arxiv_error *err);
int count_record(const struct state *s, struct tools *t, struct arxiv_stats_record *r,
    int here, struct arxiv_error *err);
/* r takes what a thread prepared of it (p, its thread's keep buffer) */
void use_prep(const struct state *s, const struct prep *p, const struct arxiv_buf *keep,
    struct arxiv_stats_record *r);
int add_line(struct state *s, const char *line, size_t len, const struct prep *p,
    const struct arxiv_buf *keep, struct arxiv_error *err);

/* blocks.c */
struct block *settle(struct state *s);
int run_block(struct state *s, const char *name);
int drain(struct state *s, const char *name);

#endif

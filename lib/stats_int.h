/*
 * stats_int.h - the layout of the arxiv_stats accumulator, shared by
 * lib/stats.c (records, fields, categories, years, lengths, duplicates),
 * lib/stats_terms.c (the term table, the term splitters, the log-odds ranking)
 * and lib/stats_json.c (the JSON writer and --merge). Not installed.
 */
#ifndef ARXIV_STATS_INT_H
#define ARXIV_STATS_INT_H

#include <stdint.h>

#include "arxiv.h"
#include "internal.h"

#define MAXF ARXIV_STATS_MAX_FIELDS
#define TERMF 8		/* fields with term counts (one cache line per term) */
#define MAXCAT 4096		/* distinct primary categories kept */
#define YEAR0 1986
#define NYEAR 120
#define NBIN 512
#define HLL_P 14
#define HLL_M (1u << HLL_P)
#define TERM_MAX 32		/* longest term kept, bytes */

struct dist {
	uint64_t n, sum, sumsq, min, max;
	uint64_t hist[NBIN + 1];	/* last: overflow */
};

struct hset {
	struct arxiv_hset64 set;	/* the hashes, while exact */
	int exact;		/* 0: gave up, only the HLL counts */
	uint8_t hll[HLL_M];
	uint64_t records;
};

struct stop_word {
	uint64_t n;
	uint64_t q[TERM_MAX / 8];	/* zero-padded, as a term is looked up */
};

#define PRE 14			/* leading bytes kept in the entry itself */
struct term {			/* one cache line */
	uint64_t hash;
	uint32_t off;		/* the whole term in the string arena */
	uint8_t len;		/* 0: empty slot */
	uint8_t wp;		/* its WordPiece pieces as a whole word (0: not known yet) */
	char pre[PRE];		/* its first PRE bytes, compared without the arena */
	uint32_t total;
	uint32_t c[TERMF];
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct term) == 64, "a term is one cache line");
_Static_assert(TERM_MAX < 256, "a term's length is a byte");

struct cat {
	char *name;
	int field;
	uint64_t n;
};

struct arxiv_stats {
	struct arxiv_stats_params p;
	uint64_t n;
	size_t nf;
	char *fname[MAXF];
	uint64_t fpapers[MAXF], fcross[MAXF];
	uint64_t matrix[MAXF][MAXF];
	uint64_t ftokens[MAXF];	/* term tokens per field */
	uint64_t fields_over;	/* records with a field beyond MAXF */
	struct cat *cat;
	size_t ncat;
	size_t *catslot;	/* open addressing into cat, 2*MAXCAT; value idx+1 */
	uint64_t cat_over;
	uint64_t years[NYEAR], year_unknown;
	struct dist chars, words, tokens;
	uint64_t tok_over256, tok_over512;
	int have_tokens;
	uint64_t math, nonascii;
	struct hset ids, texts;
	/* terms */
	struct term *terms;	/* open addressing, tslots entries, len 0 = empty */
	size_t nterm;		/* entries in use, at most term_cap */
	size_t tslots;
	struct arxiv_buf arena;
	uint64_t pruned_terms, pruned_tokens;
	uint32_t prune_floor;
	/* fast term splitting */
	uint64_t *stop;		/* stop-word hashes | 1, open addressing; 0 empty */
	size_t nstop;		/* slots, a power of two, at most half used */
	size_t nstopw;		/* stop words */
	struct stop_word *stopw;	/* the words of the slots */
	uint64_t stopbits[64];	/* bit STOP_BIT(q[0]) set for each stop word q */
	/* WordPiece counts (arxiv_stats_set_vocab) */
	const struct arxiv_vocab *vocab;	/* NULL: records bring theirs */
	struct arxiv_tok_params tp;
	struct arxiv_tok_cache *tcache;
	size_t tok_cap;
};

/* bins: chars 32 wide (to 16384), words 4 (to 2048), tokens 8 (to 4096) */
extern const unsigned stats_bin_width[3];

static inline uint64_t
hash64(const char *p, size_t n)
{
	return arxiv_key_hash64(p, n);
}

/* What arxiv_stats_add counts of a text, found ahead by arxiv_stats_split
 * or in arxiv_stats_add (stats_text_facts): its hash, characters (UTF-8
 * sequences), words (runs of non-blanks), any non-ASCII byte, any LaTeX math. */
struct stats_facts {
	uint64_t htext;
	size_t chars, words;
	int nonascii, math;
};

/* stats.c */
void stats_text_facts(const char *t, size_t n, struct stats_facts *fx);
int stats_field_id(struct arxiv_stats *s, const char *name, size_t n);
int stats_cat_add(struct arxiv_stats *s, const char *name, size_t n, int field, uint64_t k);
void stats_dist_merge(struct dist *d, const struct dist *o);
void stats_hset_giveup(struct hset *s);
uint64_t stats_hset_distinct(const struct hset *s);

/* stats_terms.c */
int stats_stop_load(struct arxiv_stats *s, const char *path, struct arxiv_error *err);
struct term *stats_terms_alloc(size_t n);
int stats_term_add(struct arxiv_stats *s, const char *w, size_t n, int f, uint64_t k);
int stats_terms_fast(struct arxiv_stats *s, const char *t, size_t n, int f);
/* stats_terms_fast that counts the text's WordPiece tokens in the same pass
 * (s->vocab, lowercasing, an ASCII text): *ntok, [CLS] and [SEP] included,
 * and its words as stats_text_facts counts them. 1, 0 when the text is not
 * of the kind the pass counts (its terms counted, *ntok and *words not), or
 * -1 out of memory. */
int stats_terms_tokens(struct arxiv_stats *s, const char *t, size_t n, int f, size_t *ntok,
    size_t *words);
int stats_terms_clean(struct arxiv_stats *s, const char *t, size_t n, int f);
/* count the terms of split sp of text (the text it was split from) */
int stats_terms_split(struct arxiv_stats *s, const struct arxiv_stats_split *sp, const char *text,
    size_t n, int f);
const struct stats_facts *stats_split_facts(const struct arxiv_stats_split *sp);
/* the terms of a split (for the tests): how many, and where term i is in the text */
size_t stats_split_count(const struct arxiv_stats_split *sp);
size_t stats_split_term(const struct arxiv_stats_split *sp, size_t i, size_t *n);
int stats_put_terms(struct arxiv_buf *o, const struct arxiv_stats *s, const size_t *order);
/* the slots of the terms in use, sorted by term text, into idx (s->nterm entries) */
void stats_terms_sorted(const struct arxiv_stats *s, size_t *idx);

/* stats_json.c */
void stats_put_str(struct arxiv_buf *o, const char *s, size_t n);
void stats_put_num(struct arxiv_buf *o, double v);

#endif

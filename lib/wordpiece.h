/*
 * wordpiece.h - what the BERT tokeniser (wordpiece.c) shares with the WordPiece
 * vocabulary learner (wordpiece_learn.c). Not installed.
 */
#ifndef ARXIV_WORDPIECE_H
#define ARXIV_WORDPIECE_H

#include "internal.h"

#define MAX_WORD_CHARS 100	/* BertTokenizer's max_input_chars_per_word */

/* Receives the basic tokenizer's output. Return 1 to stop early, -1 on error. */
struct sink {
	int (*word)(void *ud, const char *p, size_t n, size_t nchars);
	int (*special)(void *ud, int which);
	void *ud;
};

/* "[PAD]" "[UNK]" "[CLS]" "[SEP]" "[MASK]" */
extern const char *const wp_sp_name[5];

/* BertTokenizer's basic tokenisation of text (steps 1-6 of wordpiece.c) into out. */
int wp_basic_run(const char *text, size_t n, int lower, const struct sink *out);

/* "[PAD]" .. "[MASK]": their lengths */
extern const size_t wp_sp_len[5];

/* ASCII byte classes: word, space (split), drop (control), punctuation. */
enum { C_WORD, C_SPACE, C_DROP, C_PUNCT };
extern const unsigned char wp_ascii_class[128];
/* wp_ascii_class for every byte value; 4: a byte of a non-ASCII character */
extern const unsigned char wp_byte_class[256];

/* which special token ([PAD] ..) begins s (left bytes), or -1 */
int wp_special_at(const char *s, size_t left);

/*
 * The word cache (struct arxiv_tok_cache): each word seen (at most
 * TC_KEY bytes) -> its WordPiece ids; arxiv_tok_count_cached's counts
 * (tokcount.c) beside them.
 */
#define TC_SLOTS 16384		/* a power of two */
#define TC_KEY 26
#define TC_IDS 8

struct tc_entry {
	uint32_t hash;
	uint8_t len;		/* 0: empty */
	uint8_t nids;
	char key[TC_KEY];
	uint32_t ids[TC_IDS];
};

struct tcount_table;		/* arxiv_tok_count_cached's word counts (tokcount.c) */

struct arxiv_tok_cache {
	uint64_t vocab_hash;	/* the vocabulary the entries were filled from */
	int used;
	struct tc_entry e[TC_SLOTS];
	struct tcount_table *count;	/* NULL until arxiv_tok_count_cached uses it */
	uint64_t count_vocab;	/* the vocabulary of its counts */
};

#endif

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

#endif

/*
 * answer.h - answers beyond the top k (answer.c, decision.c, explain.c):
 * the fields list, abstaining on out-of-domain or unsure input, and the
 * explanation of the fast model. Internal to libarxiv, not installed.
 */
#ifndef ARXIV_ANSWER_H
#define ARXIV_ANSWER_H

#include "fasttext.h"

/*
 * The decision settings of a model, from metadata/decision.json (written by
 * arxiv_train) and model/domain.safetensors (count-min sketches, two rows of
 * 8-bit log counts, of the raw words and adjacent word pairs of the training
 * texts). Artifacts without them get DEC_DEFAULT_FIELDS_THRESHOLD and no
 * domain check.
 */
#define DEC_DEFAULT_FIELDS_THRESHOLD 0.5
#define DEC_NFEAT 5		/* 1, known-word share, mean PMI, length, PMI x length */

struct dec {
	double fields_threshold;	/* a field is listed when its probability >= this */
	int have_domain;		/* the tables and the logistic model below */
	double ood_threshold;		/* abstain when P(in domain) < this */
	double coef[DEC_NFEAT];
	const uint8_t *wtab, *ptab;	/* 2 rows of wsize / psize slots, borrowed */
	size_t wsize, psize;		/* powers of two */
	double tokens;			/* words in the training texts */
	struct arxiv_st *st;
};

/* new; a missing decision.json gives the defaults. NULL with err when a file
 * is there but malformed. */
struct dec *dec_load(const char *dir, struct arxiv_error *err);
void dec_free(struct dec *d);

/* The raw words of a text (runs of letters and digits, lowercased) and their
 * adjacent pairs: how many, how many the training texts had at least twice,
 * and the sum of the pairs' smoothed pointwise mutual information (a shuffled
 * text keeps its words but loses the pairs that go together). */
struct dec_counts {
	size_t words, known_words, pairs, known_pairs;
	double pmi;
};
void dec_count(const struct dec *d, const char *raw, size_t n, struct dec_counts *c);
/* P(in domain) from the counts (the stored logistic model). */
double dec_in_domain(const struct dec *d, const struct dec_counts *c);

/*
 * At training time (train.c), after the model is trained: fit the fields
 * threshold on val_pred (every label, best first, calibrated) against val's
 * field sets; with raw texts in train and val (JSONL: "text", also beside
 * "clean"), count the words and pairs of train and fit the domain check on
 * val against seeded random-text and shuffled-word negatives. Writes
 * metadata/decision.json (and model/domain.safetensors) under tmp_dir.
 * 0 or -1 with err.
 */
int dec_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const struct arxiv_prediction *val_pred,
    const char *tmp_dir, struct arxiv_error *err);

/* model.c: what answer.c needs of a loaded model. */
const struct ft_model *model_ft(const struct arxiv_model *m);	/* NULL: not fast */
const struct dec *model_dec(const struct arxiv_model *m);
/* The cleaning of the model's text input, or NULL (raw text, or not a fast
 * text model). */
const struct arxiv_clean_params *model_clean_params(const struct arxiv_model *m);
int model_text_input(const struct arxiv_model *m);	/* fast model over cleaned text */
const struct bert_model *model_bert(const struct arxiv_model *m);	/* NULL: not bert */

/* bert_loader.c: the transformer's explanation (gradient x input on the word
 * embeddings, WordPiece merged into words; approximate), n terms at most. */
int bert_explain(const struct bert_model *b, const char *text, size_t len, int win, int run,
    size_t n, struct arxiv_term *out, size_t *n_out, struct arxiv_error *err);

/*
 * explain.c: the n terms that moved the score of label win furthest above that
 * of label run, for the fast model's features f of the cleaned text clean
 * (the surface words from raw, cleaned one word at a time with cl).
 */
int explain_fast(const struct ft_model *ft, const struct ft_feats *f, int win, int run,
    const char *clean, size_t clen, const char *raw, size_t rlen, struct arxiv_cleaner *cl,
    size_t n, struct arxiv_answer *a);

#endif

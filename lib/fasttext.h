/*
 * fasttext.h - the fast model (fasttext.c, its training fasttext_train.c, its
 * storage fasttext_io.c), shared with model.c and train.c.
 * Not installed. Everything here is internal to libarxiv.
 */
#ifndef ARXIV_FASTTEXT_H
#define ARXIV_FASTTEXT_H

#include "internal.h"

/* Training losses (arxiv_train_params.loss; "loss" in model/config.json). */
enum { FT_LOSS_SOFTMAX, FT_LOSS_HINGE };
#define FT_DEFAULT_LOSS FT_LOSS_HINGE
/* The fast model's learning rate when arxiv_train_params.lr is 0. */
#define FT_DEFAULT_LR_SOFTMAX 0.5
#define FT_DEFAULT_LR_HINGE 0.1
/* ... and its L2 penalty when arxiv_train_params.l2 is negative. */
#define FT_DEFAULT_L2_SOFTMAX 0.0
#define FT_DEFAULT_L2_HINGE 2e-6

/* The longest word n-gram (config.json's word_ngrams). */
#define FT_MAX_NGRAM 8

/* The shape of a fast model (stored as model/config.json). */
struct ft_config {
	int n_labels;
	int dim;		/* 0: direct hashed linear softmax; else embedding size */
	int word_ngrams;	/* 1: unigrams only, 2: + bigrams, ... */
	int char_minn, char_maxn;	/* char n-grams (0 0: none) */
	uint32_t buckets;	/* hashed feature rows */
	int ids;		/* 1: input is WordPiece ids, 0: cleaned text */
	int idf;		/* 1: rows weighted by their inverse document frequency (dim 0) */
	int loss;		/* FT_LOSS_*: what training minimised */
	float temperature;	/* probabilities = softmax(scores / temperature); 0 taken as 1 */
};

struct ft_model {
	struct ft_config c;
	float *in;		/* buckets x (dim ? dim : n_labels) */
	float *out;		/* dim ? n_labels x dim : NULL */
	float *bias;		/* n_labels */
	float *idf;		/* buckets, when c.idf */
};

/* A growable list of feature rows. */
struct ft_feats {
	uint32_t *v;
	size_t n, cap;
};

/* FT_LOSS_* of a loss name (NULL or "": the default), -1 if unknown. */
int ft_loss_of(const char *name);
/* The default learning rate of a loss name. */
double ft_default_lr(const char *loss);
double ft_default_l2(const char *loss);
struct ft_model *ft_new(const struct ft_config *c, uint64_t seed);
void ft_free(struct ft_model *m);
/* Features of a cleaned text, or of n token ids (c->ids). f cleared first. 0 / -1 ENOMEM. */
int ft_feats_text(const struct ft_config *c, const char *s, size_t n, struct ft_feats *f);
int ft_feats_ids(const struct ft_config *c, const uint32_t *ids, size_t n, struct ft_feats *f);
/* Class probabilities (n_labels) of one feature list; hidden: dim floats scratch. */
void ft_probs(const struct ft_model *m, const struct ft_feats *f, float *hidden, float *probs);
/* Top k of probs into p. */
void ft_topk(const float *probs, int n_labels, size_t k, struct arxiv_prediction *p);

/* Weights as safetensors (fp16 when half) + config.json into dir/. */
int ft_save(const struct ft_model *m, const char *dir, int half, struct arxiv_error *err);
struct ft_model *ft_load(const char *dir, struct arxiv_error *err);

/*
 * Train on train/val (JSONL texts already cleaned, or tensor ids), early
 * stopping on val loss; writes model/ into tmp_dir; fills val_out (val->n)
 * with the best epoch's predictions (top-k = all labels) and *best with that
 * epoch's statistics. -1 with err when stopped before an epoch completed.
 */
int ft_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp_dir, struct arxiv_prediction *val_out,
    struct arxiv_epoch_stats *best, struct ft_model **model_out, struct arxiv_error *err);
/* ft_train on soft targets (distillation): soft holds train->n rows of
 * n_labels probabilities (rows of unlabelled records too); softmax loss. */
int ft_train_soft(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const float *soft, const struct arxiv_dataset *val, const char *tmp_dir,
    struct arxiv_prediction *val_out, struct arxiv_epoch_stats *best,
    struct ft_model **model_out, struct arxiv_error *err);

/* Distillation (distill.c): set = the training set followed by the records of
 * p->unlabelled (label -1; strings borrowed), soft = set.n rows of n_labels
 * targets from the teacher p->teacher. Free with ds_distill_free. */
struct ds_distill {
	struct arxiv_dataset set;
	float *soft;
	size_t n_unlabelled;
	char teacher_type[16];
	struct arxiv_dataset *unl;
	int32_t *label;
	uint64_t *fields;
	char **id, **text;
};
int ds_distill(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    struct ds_distill *x, struct arxiv_error *err);
void ds_distill_free(struct ds_distill *x);

/*
 * What training (fasttext_train.c) shares with the model (fasttext.c): a
 * row's width (dim, or n_labels for the direct model); the raw scores of a
 * feature list (the direct model's rows read as scale * stored); scores to
 * probabilities in place (softmax(scores / temperature)); the example's loss
 * (the model's loss; with grad, its gradient, which may be s); the
 * cross-entropy against soft targets t; the weight initialiser's and the
 * shuffle's random stream; the fp16 rounding of stored weights; the features
 * of example i of a data set.
 */
size_t ft_row_width(const struct ft_config *c);
void ft_scores(const struct ft_model *m, const struct ft_feats *f, float *hidden, float *out,
    float scale);
void ft_to_probs(const struct ft_model *m, float *x);
float ft_softmax_xent(const float *s, int L, int y, float *grad);
float ft_soft_xent(const float *s, int L, const float *t, float *grad);
float ft_example_loss(const struct ft_model *m, const float *s, int y, float *grad);
uint64_t ft_rng_next(uint64_t *s);
uint16_t ft_f32_to_f16(float x);
float ft_f16_to_f32(uint16_t h);
int ft_example_feats(const struct ft_config *c, const struct arxiv_dataset *d, size_t i,
    struct ft_feats *f);

/* Predict a data set (texts or ids) with n_threads threads; out has d->n entries. */
int ft_predict_dataset(const struct ft_model *m, const struct arxiv_dataset *d, int n_threads,
    size_t k, struct arxiv_prediction *out, double *loss);

/*
 * dataset.c: d is a shallow copy of a data set. Clean its texts (prep "") with
 * the cleaner of signature sig using threads threads: d->text and d->prep are
 * replaced by new allocations (free them with ds_free_texts; the originals stay
 * with their owner) and 0 is returned. 1: nothing to do (already cleaned with
 * sig, or no texts); -1 with err: cleaned otherwise, or a cleaning error.
 */
int ds_clean(struct arxiv_dataset *d, const char *sig, int threads, struct arxiv_error *err);
void ds_free_texts(struct arxiv_dataset *d);

#endif

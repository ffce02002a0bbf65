/*
 * bert_plugin.h - the interface between libarxiv and its libtorch plugin,
 * libarxiv_torch.so.1 (bert.cpp), not installed.
 *
 * bert_loader.c dlopen()s the plugin on the first transformer call and asks
 * arxiv_torch_plugin() for this table; a plugin built against another ABI
 * version is refused. Every entry point catches its C++ exceptions and
 * returns an error in struct arxiv_error: nothing of C++ crosses this table.
 * The model handle is opaque to C.
 *
 * The plugin sees token ids only: libarxiv (prep.c) reads the model's
 * tokenizer/ (preprocess.json, vocab.txt) and cleans and WordPiece-tokenises
 * the texts; the plugin holds no cleaner, tokeniser or vocabulary for
 * inference. Training too gets ids only: the plugin's train_tok says which
 * vocabulary, lowercasing and sequence length a run uses (the checkpoint's,
 * the init folder's or the config's), and bert_loader.c checks the id data
 * sets against that vocabulary and tokenises JSONL text data sets with it
 * before calling train.
 */
#ifndef ARXIV_BERT_PLUGIN_H
#define ARXIV_BERT_PLUGIN_H

#include "internal.h"

#define ARXIV_TORCH_ABI 4	/* 2: explain; 3: token ids in, libarxiv tokenises;
				 * 4: training too (train_tok) */
#define ARXIV_TORCH_SONAME "libarxiv_torch.so.1"
#define ARXIV_TORCH_SYMBOL "arxiv_torch_plugin"

/* What load tells libarxiv about a model, for its tokenizer. */
struct arxiv_torch_info {
	int artifacts;		/* dir is an artifacts directory (model/ + tokenizer/) */
	size_t vocab_size;	/* config.json's vocab_size */
	size_t max_pos;		/* its max_position_embeddings */
	size_t seq_len;		/* a plain folder's limit: min(512, max_pos), or
				 * sentence_bert_config.json's max_seq_length */
};

/* What train_tok tells libarxiv: the tokenizer of a training run. */
struct arxiv_torch_tok {
	char vocab[4096];	/* vocab.txt of the checkpoint, init folder or config */
	size_t vocab_size;	/* config.json's vocab_size */
	size_t seq_len;		/* ids per sequence */
	int lowercase;
};

struct arxiv_torch_api {
	int abi;		/* ARXIV_TORCH_ABI */
	const char *torch_version;	/* libtorch the plugin was built with */
	/* train and val have token ids (ids, mask, seq_len, tok_flags), checked
	 * against train_tok's vocabulary (their vocab_hash is its hash). */
	int (*train)(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
	    const struct arxiv_dataset *val, const char *tmp_dir,
	    struct arxiv_prediction *val_out, struct arxiv_error *err);
	/* The tokenizer that train uses for p and this training set: the one of
	 * its tensor stream, else the checkpoint's (-i, resume) or lowercasing
	 * and min(256, max_pos) ids with the vocab.txt beside the config. */
	int (*train_tok)(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
	    struct arxiv_torch_tok *out, struct arxiv_error *err);
	void *(*load)(const char *dir, const struct arxiv_model_opts *o,
	    struct arxiv_torch_info *info, struct arxiv_error *err);
	void (*free)(void *m);
	size_t (*dim)(const void *m);
	/* n sequences of len ids as arxiv_tok_encode writes them (mask 1 for
	 * the tokens, then 0 for the padding): top k, or pooled embeddings
	 * (n * dim). Thread-safe. */
	int (*predict)(const void *m, const uint32_t *ids, const uint8_t *mask, size_t n,
	    size_t len, size_t k, struct arxiv_prediction *out, struct arxiv_error *err);
	int (*embed)(const void *m, const uint32_t *ids, const uint8_t *mask, size_t n,
	    size_t len, float *out, struct arxiv_error *err);
	/* Tests: forward n token sequences of len ids (mask 1/0) as given,
	 * unpadded; logits (n * nlabels) and pooled (n * dim) may be NULL. */
	int (*forward_ids)(const void *m, const uint32_t *ids, const uint8_t *mask, size_t n,
	    size_t len, float *logits, float *pooled, struct arxiv_error *err);
	size_t (*nlabels)(const void *m);
	/* Gradient x input of the logit margin of label win over label run, per
	 * token of one sequence of len ids (all counted): into attr[len]. */
	int (*explain)(const void *m, const uint32_t *ids, size_t len, int win, int run,
	    float *attr, struct arxiv_error *err);
};

typedef const struct arxiv_torch_api *(*arxiv_torch_plugin_fn)(void);

/* bert_loader.c: the plugin's table, loaded on first use (NULL with err when
 * the plugin is missing or incompatible). Thread-safe. */
const struct arxiv_torch_api *bert_plugin(struct arxiv_error *err);
/* For tests: see forward_ids above. */
int bert_forward_ids(const struct bert_model *b, const uint32_t *ids, const uint8_t *mask,
    size_t n, size_t len, float *logits, float *pooled, struct arxiv_error *err);
size_t bert_nlabels(const struct bert_model *b);

#endif

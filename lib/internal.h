/*
 * internal.h - declarations shared between libarxiv's modules, not installed.
 *
 * The contract between the generic model layer (model.c, train.c: owned by the
 * fast model) and the transformer plugin (bert.cpp behind bert_loader.c).
 */
#ifndef ARXIV_INTERNAL_H
#define ARXIV_INTERNAL_H

#include <string.h>
#include <sys/types.h>

#include "arxiv.h"

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80; no overlongs,
 * surrogates or code points above U+10FFFF), or 0. */
static inline size_t
arxiv_utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t len, k;
	unsigned long cp, min;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2; cp = c & 0x1f; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3; cp = c & 0x0f; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4; cp = c & 0x07; min = 0x10000;
	} else
		return 0;
	if ((size_t)(end - p) < len)
		return 0;
	for (k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A multiply-xorshift hash over 8-byte words, for short keys (vocabulary
 * pieces, words): it runs for every lookup, so it must be cheaper than a
 * byte-at-a-time FNV. Used by the vocabulary table and the word cache. */
static inline uint64_t
arxiv_key_mix(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL), x;

	while (n >= 8) {
		memcpy(&x, p, 8);
		h = (h ^ x) * 0xc4ceb9fe1a85ec53ULL;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		x = 0;
		memcpy(&x, p, n);
		h = (h ^ x) * 0xc4ceb9fe1a85ec53ULL;
	}
	return h;
}

static inline uint32_t
arxiv_key_hash(const char *p, size_t n)
{
	uint64_t h = arxiv_key_mix(p, n);

	h ^= h >> 32;
	return (uint32_t)h;
}

/* MurmurHash3's 64-bit finaliser (fmix64): bijective. Part of split.c's
 * stored assignment of papers to train/val/test: never change it. */
static inline uint64_t
arxiv_fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* The same mix with a full 64-bit finaliser (murmur3's), for hash sets and
 * counts where 32 bits would collide (stats.c). */
static inline uint64_t
arxiv_key_hash64(const char *p, size_t n)
{
	uint64_t h = arxiv_key_mix(p, n);

	return arxiv_fmix64(h);
}

/* An in-memory data set (see arxiv_dataset_load). */
struct arxiv_dataset {
	char name[64];
	size_t n;
	size_t n_labels;
	char **labels;		/* n_labels names */
	int32_t *label;		/* n label ids */
	uint64_t *fields;	/* n bitmasks of the paper's fields (0 unknown) */
	char **id;		/* n arXiv ids */
	char **text;		/* n texts as trained on (JSONL input), or NULL */
	char **raw;		/* n raw texts beside cleaned ones ("text" of records with
				 * "clean"; entries may be NULL), or NULL */
	char *prep;		/* preprocessing signature of text/ids ("" raw) */
	/* tensor stream input */
	size_t seq_len;
	uint32_t *ids;		/* n * seq_len, or NULL */
	uint8_t *mask;		/* n * seq_len */
	uint64_t vocab_hash;
	uint32_t tok_flags;
};

/*
 * Transformer hooks, implemented in bert_loader.c by dlopen()ing
 * libarxiv_torch.so.1 (bert.cpp) on first use; they fail with a clear error
 * when the plugin is missing (library built with TORCH=0).
 *
 * bert_train: train p on train/val (tensor streams, ids/mask set, or JSONL
 *   texts, tokenised here with the tokenizer the plugin names) and write the
 *   model/ and tokenizer/ parts of the artifacts into tmp_dir (metadata/ is
 *   written by the caller). Calls p->on_epoch each epoch; fills *val_out with the
 *   final val predictions (n_val entries, caller-allocated) for metrics.
 * bert_load: load model/ + tokenizer/ from an artifacts dir.
 * bert_predict / bert_embed: thread-safe; texts are raw (joined) texts, cleaned
 *   and tokenised here (prep.c), the plugin gets token ids.
 */
struct bert_model;
int bert_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp_dir, struct arxiv_prediction *val_out,
    struct arxiv_error *err);
struct bert_model *bert_load(const char *dir, const struct arxiv_model_opts *o,
    struct arxiv_error *err);
void bert_free(struct bert_model *b);
size_t bert_dim(const struct bert_model *b);
int bert_predict(const struct bert_model *b, const char *const *texts, const size_t *lens,
    size_t n, size_t k, struct arxiv_prediction *out, struct arxiv_error *err);
int bert_embed(const struct bert_model *b, const char *const *texts, const size_t *lens,
    size_t n, float *out, struct arxiv_error *err);

/*
 * Model kinds: one row per kind (the table is in model.c), so that the generic
 * layers (arxiv_train, arxiv_model_load/predict/embed, parameter checks) never
 * compare kind names. A new kind is one row and its functions.
 *   defaults     set the kind's own training parameters (arxiv_train_default_params)
 *   default_lr   the learning rate for p->lr == 0
 *   check        NULL or the error string of a bad kind-specific parameter
 *   train        train and write model/ and tokenizer/ into tmp_dir; val_out gets
 *                the val predictions; *test_metrics (a jansson object) when p->test
 *   load         fill the kind's part of m from an artifacts dir
 *   predict, embed, dim   as arxiv_model_predict/_embed/_dim
 *   threads_inside        1: one call uses all threads (call from one thread)
 */
struct json_t;
struct model_kind {
	const char *name;
	int threads_inside;
	void (*defaults)(struct arxiv_train_params *p);
	double (*default_lr)(const struct arxiv_train_params *p);
	const char *(*check)(const struct arxiv_train_params *p);
	/* test_metrics: the metrics of p->test, when the kind computes them;
	 * distill: how the model was distilled from a teacher (artifact.json) */
	int (*train)(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
	    const struct arxiv_dataset *val, const char *tmp_dir, struct arxiv_prediction *val_out,
	    struct json_t **test_metrics, struct json_t **distill, struct arxiv_error *err);
	int (*load)(struct arxiv_model *m, const char *dir, const struct arxiv_model_opts *o,
	    struct arxiv_error *err);
	int (*predict)(const struct arxiv_model *m, const char *const *texts, const size_t *lens,
	    size_t n, size_t k, struct arxiv_prediction *out, struct arxiv_error *err);
	int (*embed)(const struct arxiv_model *m, const char *const *texts, const size_t *lens,
	    size_t n, float *out, struct arxiv_error *err);
	size_t (*dim)(const struct arxiv_model *m);
};
/* The row of a kind name (NULL: the default, "fast"), or NULL if unknown. */
const struct model_kind *model_kind_find(const char *name);
/* Row i, or NULL past the end. */
const struct model_kind *model_kind_at(size_t i);
/* The kinds' training entry points (train.c) and parameter hooks. */
int fast_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp_dir, struct arxiv_prediction *val_out,
    struct json_t **test_metrics, struct json_t **distill, struct arxiv_error *err);
int bert_train_kind(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp_dir, struct arxiv_prediction *val_out,
    struct json_t **test_metrics, struct json_t **distill, struct arxiv_error *err);
void ft_default_params(struct arxiv_train_params *p);	/* fasttext.c */
double ft_params_lr(const struct arxiv_train_params *p);
const char *ft_check_params(const struct arxiv_train_params *p);
void bert_default_params(struct arxiv_train_params *p);	/* bert_loader.c */
double bert_params_lr(const struct arxiv_train_params *p);
const char *bert_check_params(const struct arxiv_train_params *p);

/*
 * A transformer model's tokenizer (prep.c): the cleaner of its stored
 * preprocessing and the WordPiece tokeniser over its vocab.txt, pooled (one
 * cleaner and word cache per concurrent caller); the plugin gets token ids.
 * prep_tok_open: dir is the model's directory; mi says what its config has
 * (an artifacts directory reads tokenizer/vocab.txt and preprocess.json, a
 * plain folder vocab.txt and tokenizer_config.json, raw text and mi->seq_len);
 * max_tokens >= 2 caps the sequence length. prep_tok_encode: thread-safe; n
 * texts (lens NULL: strlen) into ids/mask, n * prep_tok_seq_len entries, as
 * arxiv_tok_encode; the token counts into n_tokens (may be NULL).
 */
struct prep_tok_model {
	int artifacts;
	size_t vocab_size, max_pos, seq_len;
};
struct prep_tok;
struct prep_tok *prep_tok_open(const char *dir, const struct prep_tok_model *mi,
    size_t max_tokens, struct arxiv_error *err);
void prep_tok_free(struct prep_tok *t);
size_t prep_tok_seq_len(const struct prep_tok *t);
const struct arxiv_vocab *prep_tok_vocab(const struct prep_tok *t);
int prep_tok_encode(struct prep_tok *t, const char *const *texts, const size_t *lens, size_t n,
    uint32_t *ids, uint8_t *mask, size_t *n_tokens, struct arxiv_error *err);

/*
 * The parallel-for (parallel.c). arxiv_threads: the thread count for want
 * (<= 0: the online CPUs), at most 64 and at most items (when > 0).
 * arxiv_parallel_run: fn(&jobs[t]) for t < n, each job of size bytes, on n
 * threads (the caller runs job 0 and any whose thread could not start);
 * returns when all are done. Job t's share of n items: [n*t/nt, n*(t+1)/nt).
 */
int arxiv_threads(int want, size_t items);
void arxiv_parallel_run(void *(*fn)(void *), void *jobs, size_t size, int n);

/* LaTeX to words (latex.c), the cleaner's "latex" step: 0, or -1 ENOMEM. */
int text_latex(const char *s, size_t n, struct arxiv_buf *out);

/* ---------------------------------------------------- similar papers */

/*
 * Vector index backends (lib/index.c's table). A backend is one file and one
 * row: kind, whether a location is its own (e.g. starts with "postgresql://";
 * the file backend takes what no other claims), and the operations behind
 * arxiv_index_*(), with the same contracts. impl is the backend's handle.
 */
struct arxiv_index_backend {
	const char *kind;
	int (*claims)(const char *location);
	void *(*open)(const char *location, const struct arxiv_index_opts *o,
	    struct arxiv_error *err);
	int (*info)(void *impl, struct arxiv_index_info *out);
	int (*add)(void *impl, const struct arxiv_vecrec *recs, size_t n, struct arxiv_error *err);
	int (*commit)(void *impl, struct arxiv_error *err);
	int (*search)(void *impl, const float *q, size_t k, const char *field, const char *exclude,
	    struct arxiv_hit *hits, size_t *n, struct arxiv_error *err);
	int (*get)(void *impl, const char *id, float *v, struct arxiv_hit *meta,
	    struct arxiv_error *err);
	void (*close)(void *impl);
};
extern const struct arxiv_index_backend arxiv_index_file_backend;
extern const struct arxiv_index_backend arxiv_index_pgvector_backend;	/* pgstore.c */
/* Fill a hit with NUL-terminated copies of the sized strings (NULL: "");
 * 0 or -1 out of memory (then h holds nothing to free). */
int arxiv_hit_set(struct arxiv_hit *h, float score, const char *id, size_t id_len,
    const char *title, size_t title_len, const char *field, size_t field_len,
    const char *categories, size_t categories_len);

/*
 * Embedder kinds (lib/embedder.c's table): recognised from a directory's files
 * (claims), loaded into impl with its dimension and identity string.
 */
struct arxiv_embedder_kind {
	const char *kind;
	int (*claims)(const char *dir);
	void *(*load)(const char *dir, const struct arxiv_embedder_opts *o, size_t *dim,
	    char *id, size_t id_size, struct arxiv_error *err);
	int (*embed)(void *impl, const char *const *texts, const size_t *lens, size_t n,
	    float *out, struct arxiv_error *err);
	void (*free)(void *impl);
	/* the options an identity of this kind records, into o (NULL: none) */
	void (*id_opts)(const char *identity, struct arxiv_embedder_opts *o);
};
extern const struct arxiv_embedder_kind arxiv_embedder_lexical;
extern const struct arxiv_embedder_kind arxiv_embedder_encoder;	/* encoder.c */

/* The lexical embedder, shared by lexical.c (the kind) and lexical_learn.c. */
#define LEX_VERSION 2
/* SplitMix64's step: the golden-ratio increment, then its finaliser. */
uint64_t lex_mix64(uint64_t z);
/* The slots of a cleaned text (space-separated words) into *slots (grown),
 * sorted; returns how many, or -1 out of memory. */
long lex_text_slots(const struct arxiv_lexical_params *p, const char *s, size_t n,
    uint32_t **slots, size_t *cap);
int lex_check_params(const struct arxiv_lexical_params *p, struct arxiv_error *err);
/* "lexical-v1 dim=D h=HASH": the hash covers every parameter and the idf. */
void lex_identity(const struct arxiv_lexical_params *p, const char *prep, const float *idf,
    const float *mean, const float *proj, char *id, size_t n);
double lex_sketch_doc(const struct arxiv_lexical_params *p, const float *idf,
    const uint32_t *slots, long k, float *v, size_t n);

/* The process's umask, read without changing it (atomic.c). */
mode_t arxiv_umask(void);

/*
 * Words of a cleaned text (util.c): runs of bytes between blanks (space, tab,
 * CR, LF). arxiv_words: s[0..n)'s words into *t (grown as needed, capacity
 * *cap, free(*t) when done), *nt of them; 0, or -1 out of memory.
 */
struct arxiv_span {
	size_t st, len;		/* s + st, len bytes */
};
static inline int
arxiv_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
int arxiv_words(const char *s, size_t n, struct arxiv_span **t, size_t *nt, size_t *cap);

/* SplitMix64's finaliser (Stafford's Mix13): a 64-bit integer hash, bijective,
 * for hashed feature rows, sketches and seeded streams. Part of the stored
 * formats of fasttext.c and decision.c: never change it. */
static inline uint64_t
arxiv_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A set of 64-bit hashes: open addressing, at most half full, a hash of 0
 * kept as 1 (0 marks an empty slot). Zero-initialised is empty. */
struct arxiv_hset64 {
	uint64_t *slot;
	size_t cap, n;		/* cap a power of two */
};
/* 1 added, 0 already there, -1 out of memory */
int arxiv_hset64_add(struct arxiv_hset64 *s, uint64_t h);
/* its memory back; empty again */
void arxiv_hset64_free(struct arxiv_hset64 *s);
/* fetch the slot where h's lookup starts into the cache (for an add soon) */
static inline void
arxiv_hset64_prefetch(const struct arxiv_hset64 *s, uint64_t h)
{
	if (s->slot != NULL)
		__builtin_prefetch(&s->slot[(h ? h : 1) & (s->cap - 1)]);
}

#endif

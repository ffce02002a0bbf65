/*
 * arxiv.h - the public C API of libarxiv, the library behind the arxiv toolchain.
 *
 * One header, C11, usable from C and C++. Every export is arxiv_<noun>_<verb>().
 * Ownership is stated per function: "new" (caller frees with the named free
 * function, which accepts NULL), "borrowed" (valid while the owner lives), or
 * "takes ownership". The library never prints and never exits: errors come
 * back in a struct arxiv_error, diagnostics through arxiv_set_log().
 *
 * Binary tensor stream (full spec in arxiv-tensor(5)), all integers little-endian,
 * encoded field by field:
 *
 *   offset size  field
 *   0      8     magic "\x89AXT\r\n\x1a\n"
 *   8      4     version (1)
 *   12     4     header_size (bytes from offset 0 to the first record; readers skip extra bytes)
 *   16     4     seq_len (token ids per record)
 *   20     4     id_width (bytes of the NUL-padded arXiv id per record)
 *   24     4     n_labels
 *   28     4     flags (bit 0: lowercased vocabulary)
 *   32     8     n_records (0 = unknown, read to EOF)
 *   40     8     vocab_hash (FNV-1a 64 of vocab.txt bytes)
 *   48     4     labels_size (bytes of the label block that follows)
 *   52     ...   label block: n_labels NUL-terminated UTF-8 label names
 *   ...    4     prep_size, then prep_size bytes: the preprocessing signature of the
 *                tokenised text (arxiv_clean_params_str; "" = raw text)
 *   then records of fixed size 4 + 8 + id_width + 4*seq_len + seq_len:
 *          int32 label (-1 = unlabelled), uint64 source line, id[id_width],
 *          uint32 ids[seq_len], uint8 mask[seq_len]
 */
#ifndef ARXIV_H
#define ARXIV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ARXIV_BUILD)
#define ARXIV_API __attribute__((visibility("default")))
#else
#define ARXIV_API
#endif

#define ARXIV_VERSION "0.1.0"
#define ARXIV_MAX_LINE ((size_t)1 << 20)	/* longest JSONL line accepted: 1 MiB */

/* ------------------------------------------------------------------ core */

/* Error detail, filled by any call that can fail (like jansson's json_error_t). */
struct arxiv_error {
	char source[64];	/* input name ("<stdin>", a path) or "" */
	long line;		/* 1-based line or record number, 0 if none */
	char text[160];		/* the reason, no trailing newline */
};

/* Fill *e (may be NULL: then nothing happens). printf-style. */
ARXIV_API void arxiv_error_set(struct arxiv_error *e, const char *source, long line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Format an error as "source:line: text" (parts omitted when empty) into buf. */
ARXIV_API const char *arxiv_error_str(const struct arxiv_error *e, char *buf, size_t n);

enum arxiv_log_level { ARXIV_LOG_DEBUG, ARXIV_LOG_INFO, ARXIV_LOG_WARN };
/* Diagnostics from the library go to fn (NULL: dropped). Process-wide. */
ARXIV_API void arxiv_set_log(void (*fn)(int level, const char *msg, void *ud), void *ud);
ARXIV_API void arxiv_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A growable byte buffer; zero-initialise, free with arxiv_buf_free. */
struct arxiv_buf {
	char *data;		/* always NUL-terminated when len > 0 or after any append */
	size_t len, cap;
};
ARXIV_API int arxiv_buf_reserve(struct arxiv_buf *b, size_t extra);
ARXIV_API int arxiv_buf_append(struct arxiv_buf *b, const void *p, size_t n);
ARXIV_API int arxiv_buf_putc(struct arxiv_buf *b, int c);
ARXIV_API int arxiv_buf_printf(struct arxiv_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
ARXIV_API void arxiv_buf_clear(struct arxiv_buf *b);
ARXIV_API void arxiv_buf_free(struct arxiv_buf *b);
/* Its companion for an array of any type: room for need elements of size
 * bytes in the array at *arrayp (a T **) of *cap elements, the capacity
 * doubled from first (or *cap). 0, or -1 out of memory or on overflow, with
 * the array and *cap as they were. */
ARXIV_API int arxiv_grow(void *arrayp, size_t *cap, size_t need, size_t size, size_t first);

/* Path of a shipped data file: $ARXIV_DATADIR/name if set; else, for a program
 * run from its build tree (CHECKOUT/build/bin/prog, found through
 * /proc/self/exe), CHECKOUT/data/name; else the compiled-in DATADIR/name.
 * Returns buf. */
ARXIV_API const char *arxiv_data_path(const char *name, char *buf, size_t n);

/* 64-bit FNV-1a, and its seeded form (splitmix of seed folded in). */
ARXIV_API uint64_t arxiv_hash64(const void *p, size_t n, uint64_t seed);

/* ------------------------------------------------------- line reader */

/*
 * Reads lines of at most max_len bytes (0: ARXIV_MAX_LINE) from a stream with
 * constant memory. A line longer than max_len, or containing a NUL byte, is an
 * error for that line only: the reader skips to the next newline so a caller
 * that skips bad records (-k) can go on. The trailing "\n" (and "\r\n") is
 * removed. A final line without newline is returned as a line.
 */
struct arxiv_lines;
/* new; fp borrowed; name copied (used in errors, e.g. "<stdin>"). */
ARXIV_API struct arxiv_lines *arxiv_lines_new(FILE *fp, const char *name, size_t max_len);
/* 1: *line (borrowed until the next call) holds *len bytes, NUL-terminated;
 * 0: end of input; -1: error in this line (or I/O error: then arxiv_lines_ioerr()). */
ARXIV_API int arxiv_lines_next(struct arxiv_lines *r, const char **line, size_t *len,
    struct arxiv_error *err);
ARXIV_API long arxiv_lines_lineno(const struct arxiv_lines *r);
ARXIV_API const char *arxiv_lines_name(const struct arxiv_lines *r);
ARXIV_API int arxiv_lines_ioerr(const struct arxiv_lines *r);
ARXIV_API void arxiv_lines_free(struct arxiv_lines *r);

/* Check UTF-8 validity; returns the byte offset of the first bad byte or -1. */
ARXIV_API long arxiv_utf8_check(const char *s, size_t n);

/* --------------------------------------------------- field mapping (arxiv-map) */

/*
 * A category-to-label table: TSV lines "code<TAB>label", '#' comment lines,
 * blank lines ignored; a line "*<TAB>label" sets the default label.
 * Lookup of a code, first match wins:
 *   1. the whole code exactly               ("hep-th", "math-ph", "chao-dyn")
 *   2. the archive: the part before the first '.'
 *                                           ("q-fin.CP" -> "q-fin", "physics.optics"
 *                                            -> "physics", "cond-mat.str-el" -> "cond-mat")
 *   3. the archive's part before its first '-'  ("hep-xx" -> "hep", "nucl-ex" -> "nucl")
 *   4. the table's default label, else "Other".
 * So "q-fin.CP" can only reach "q" when neither "q-fin.CP" nor "q-fin" is listed
 * (the shipped tables list no "q").
 */
struct arxiv_domains;
/* new; loads a table. Errors name the file and line (bad line, duplicate code). */
ARXIV_API struct arxiv_domains *arxiv_domains_load(const char *path, struct arxiv_error *err);
ARXIV_API void arxiv_domains_free(struct arxiv_domains *d);
/* borrowed label for a category code (never NULL). */
ARXIV_API const char *arxiv_domains_lookup(const struct arxiv_domains *d, const char *code,
    size_t n);
/* labels in order of first appearance in the table, the default label last
 * (always present: "Other" when the table has no "*" line). Label i (borrowed)
 * is label id i of the tensor stream; NULL when i is out of range. */
ARXIV_API size_t arxiv_domains_nlabels(const struct arxiv_domains *d);
ARXIV_API const char *arxiv_domains_label(const struct arxiv_domains *d, size_t i);

struct arxiv_map_params {
	int abstract_only;	/* text = abstract instead of title + "\n" + abstract */
};
ARXIV_API struct arxiv_map_params arxiv_map_default_params(void);
/* Join title and abstract exactly as arxiv-map does (used by predict and serve too):
 * each trimmed of ASCII white space, then title "\n" abstract; a NULL or blank part
 * is left out with the "\n". out is cleared first. 0, or -1 out of memory. */
ARXIV_API int arxiv_text_join(const char *title, const char *abstract, struct arxiv_buf *out);
/*
 * The text to classify in an input record (a jansson JSON object; struct json_t
 * is jansson's json_t), the one rule of arxiv-predict, arxiv-eval, arxiv-embed
 * and arxiv-serve, so that eval measures what predict and serve answer:
 *   1. "text", when the record has it: used as it is (arxiv-map's output, the
 *      text the model was trained on);
 *   2. else "abstract", joined with "title" (a string, null or absent) by
 *      arxiv_text_join, as arxiv-map does;
 *   3. else an error.
 * A present key that is not a string (null included; "title" may be null) is an
 * error; so is a blank text or a blank abstract. out (cleared first) receives the
 * text. 0, or -1 with err->text one of: "not a JSON object", "\"KEY\" must be a
 * string", "\"KEY\" is empty", "\"abstract\" (or \"text\") is required",
 * "out of memory". rec is borrowed.
 */
struct json_t;
ARXIV_API int arxiv_record_text(const struct json_t *rec, struct arxiv_buf *out,
    struct arxiv_error *err);
/*
 * Map one Kaggle-schema JSON line to one output JSON line (no newline) in out,
 * which is cleared first:
 *   {"id":..,"text":..,"label":..,"categories":[..],"fields":[..]}
 * "id", "title", "abstract", "categories" must be strings, non-empty after
 * trimming; label is the field of the first (primary) code; fields the fields of
 * all codes, primary first, no duplicates. Other input keys are dropped.
 * *label (borrowed from d; label may be NULL) gets the primary field. p NULL:
 * defaults. Returns 0, or -1 with err (err->line/source left for the caller to
 * set): "invalid JSON: ...", "invalid UTF-8 at byte N" (0-based offset),
 * "NUL byte in line", "not a JSON object", "missing or non-string \"KEY\"",
 * "empty KEY".
 */
ARXIV_API int arxiv_map_line(const struct arxiv_domains *d, const struct arxiv_map_params *p,
    const char *line, size_t len, struct arxiv_buf *out, const char **label,
    struct arxiv_error *err);

/* ------------------------------------------------------- cleaning (arxiv-clean) */

enum {
	ARXIV_CLEAN_NFKC = 1 << 0,	/* Unicode NFKC (utf8proc) */
	ARXIV_CLEAN_LATEX = 1 << 1,	/* LaTeX markup to words */
	ARXIV_CLEAN_FILTER = 1 << 2,	/* keep letters, digits, whitespace only */
	ARXIV_CLEAN_SPACE = 1 << 3,	/* collapse whitespace */
	ARXIV_CLEAN_LOWER = 1 << 4,	/* Unicode case folding */
	ARXIV_CLEAN_STOP = 1 << 5,	/* remove stop words */
	ARXIV_CLEAN_STEM = 1 << 6,	/* Snowball stemming */
	ARXIV_CLEAN_DEFAULT = 0x7f
};

struct arxiv_clean_params {
	unsigned flags;		/* ARXIV_CLEAN_* */
	size_t truncate;	/* max bytes of output, cut at a word boundary; 0 = none */
	const char *stopwords;	/* path of the stop-word list; NULL = shipped default */
	const char *stem_lang;	/* Snowball language, "english" */
};
ARXIV_API struct arxiv_clean_params arxiv_clean_default_params(void);

/* A cleaner holds the stop-word set and a stemmer: one per thread. */
struct arxiv_cleaner;
ARXIV_API struct arxiv_cleaner *arxiv_cleaner_new(const struct arxiv_clean_params *p,
    struct arxiv_error *err);
ARXIV_API void arxiv_cleaner_free(struct arxiv_cleaner *c);
/* Clean text (UTF-8) into out (cleared first). 0 or -1 with err. */
ARXIV_API int arxiv_clean_text(struct arxiv_cleaner *c, const char *in, size_t n,
    struct arxiv_buf *out, struct arxiv_error *err);
/*
 * The preprocessing signature: a short one-line string that records every
 * setting of p, e.g. "v1 nfkc,latex,filter,space,lower,stop,stem trunc=0
 * stem=english stop=default" (stop=<16 hex digits of the list's hash> for a custom
 * list). arxiv-clean adds it to each record as "prep"; arxiv-tok copies it into the
 * tensor header; arxiv-train stores it in artifacts so predict/serve re-create the
 * exact cleaner. out is cleared first.
 */
ARXIV_API int arxiv_clean_params_str(const struct arxiv_clean_params *p, struct arxiv_buf *out);
/* Parse a signature back into *p (p->stopwords is set to stopwords_path, which
 * may be NULL for the default list; a custom list's hash is verified). */
ARXIV_API int arxiv_clean_params_parse(const char *sig, const char *stopwords_path,
    struct arxiv_clean_params *p, struct arxiv_error *err);

/* The individual pure steps (out cleared first; 0 or -1 on invalid UTF-8 / ENOMEM). */
ARXIV_API int arxiv_text_nfkc(const char *in, size_t n, struct arxiv_buf *out);
ARXIV_API int arxiv_text_latex(const char *in, size_t n, struct arxiv_buf *out);
ARXIV_API int arxiv_text_filter(const char *in, size_t n, struct arxiv_buf *out);
ARXIV_API int arxiv_text_space(const char *in, size_t n, struct arxiv_buf *out);
ARXIV_API int arxiv_text_casefold(const char *in, size_t n, struct arxiv_buf *out);

/* -------------------------------------------- vocabulary and WordPiece (arxiv-tok) */

struct arxiv_vocab;
/* new; vocab.txt: one piece per line, id = line number - 1 (read like Hugging
 * Face's load_vocab: UTF-8, universal newlines, a later duplicate wins). Needs
 * [PAD] [UNK] [CLS] [SEP]; [MASK] is optional. arxiv_vocab_hash() is
 * arxiv_hash64(bytes of the file, length, 0), the tensor header's vocab_hash. */
ARXIV_API struct arxiv_vocab *arxiv_vocab_load(const char *path, struct arxiv_error *err);
ARXIV_API void arxiv_vocab_free(struct arxiv_vocab *v);
ARXIV_API size_t arxiv_vocab_size(const struct arxiv_vocab *v);
ARXIV_API uint64_t arxiv_vocab_hash(const struct arxiv_vocab *v);
ARXIV_API long arxiv_vocab_id(const struct arxiv_vocab *v, const char *piece, size_t n);
ARXIV_API const char *arxiv_vocab_piece(const struct arxiv_vocab *v, size_t id);

struct arxiv_tok_params {
	size_t seq_len;		/* 256: ids per sequence incl. [CLS] and [SEP], padded */
	int lowercase;		/* 1: BasicTokenizer lowercasing + accent stripping */
};
ARXIV_API struct arxiv_tok_params arxiv_tok_default_params(void);
/*
 * BERT tokenisation exactly like Hugging Face BertTokenizer: [CLS] pieces [SEP],
 * truncated to seq_len, padded with [PAD]. ids and mask have seq_len entries.
 * *n_tokens gets the unpadded length. 0 or -1 with err.
 */
ARXIV_API int arxiv_tok_encode(const struct arxiv_vocab *v, const struct arxiv_tok_params *p,
    const char *text, size_t n, uint32_t *ids, uint8_t *mask, size_t *n_tokens,
    struct arxiv_error *err);
/*
 * A word cache for tokenising many texts with one vocabulary: basic-tokenised
 * words -> their WordPiece ids (16384 entries, about 1 MiB, bounded). NOT
 * thread-safe: give each thread its own cache. It remembers the vocabulary
 * (by arxiv_vocab_hash) and empties itself when used with another one.
 */
struct arxiv_tok_cache;
/* new (NULL when out of memory). */
ARXIV_API struct arxiv_tok_cache *arxiv_tok_cache_new(void);
ARXIV_API void arxiv_tok_cache_free(struct arxiv_tok_cache *c);
#define ARXIV_TOK_VALID_UTF8 1u	/* flag: the caller has checked that text is valid
				 * UTF-8 (e.g. arxiv_json_scan or jansson did); it
				 * is not checked again. Invalid text: undefined. */
/* arxiv_tok_encode with a word cache (borrowed, NULL: none) and flags;
 * exactly the same ids. */
ARXIV_API int arxiv_tok_encode_cached(struct arxiv_tok_cache *c, unsigned flags,
    const struct arxiv_vocab *v, const struct arxiv_tok_params *p, const char *text, size_t n,
    uint32_t *ids, uint8_t *mask, size_t *n_tokens, struct arxiv_error *err);
/* The BasicTokenizer step alone (split, lowercase, strip accents, punctuation,
 * CJK): the words joined by single spaces into out (cleared). 0 or -1 with err. */
ARXIV_API int arxiv_tok_basic(const char *text, size_t n, int lowercase, struct arxiv_buf *out,
    struct arxiv_error *err);

/*
 * Learning a WordPiece vocabulary (arxiv-tok --learn; algorithm in arxiv-tok(1)):
 * add texts, then learn writes a vocab.txt of at most n_pieces lines into out
 * (cleared): [PAD] [UNK] [CLS] [SEP] [MASK], the characters, then the merges.
 * Deterministic: the same texts in any order give the same vocabulary.
 */
struct arxiv_wordpiece_learner;
/* new. min_freq: pairs seen fewer times are never merged (0: 2). */
ARXIV_API struct arxiv_wordpiece_learner *arxiv_wordpiece_learner_new(size_t min_freq);
ARXIV_API void arxiv_wordpiece_learner_free(struct arxiv_wordpiece_learner *l);
/* Count the words of one text (basic tokenisation, lowercased). 0 or -1 with err. */
ARXIV_API int arxiv_wordpiece_add(struct arxiv_wordpiece_learner *l, const char *text, size_t n,
    struct arxiv_error *err);
ARXIV_API int arxiv_wordpiece_learn(struct arxiv_wordpiece_learner *l, size_t n_pieces,
    struct arxiv_buf *out, struct arxiv_error *err);

/* -------------------------------------------------------------- tensor stream */

#define ARXIV_TENSOR_MAGIC "\x89" "AXT\r\n\x1a\n"
#define ARXIV_TENSOR_VERSION 1
/* Header flags: bit 0 lowercased; ARXIV_TENSOR_EMPTY: the stream has no
 * records, so its prep is unknown (arxiv-tok on an input without a good
 * record). Such a header is a placeholder: a reader of concatenated streams
 * skips it, and takes the next stream's header as the first one. */
#define ARXIV_TENSOR_EMPTY 2u
/* Reader and writer bounds: 1 <= seq_len <= 65536, 1 <= id_width <= 63,
 * n_labels <= 4096, label block and prep at most 1 MiB each. */
#define ARXIV_TENSOR_MAX_SEQ 65536
#define ARXIV_TENSOR_MAX_ID 63
#define ARXIV_TENSOR_MAX_LABELS 4096

struct arxiv_tensor_header {
	uint32_t version, header_size, seq_len, id_width, n_labels, flags;
	uint64_t n_records, vocab_hash;
	char **labels;		/* n_labels names (owned by the reader/writer) */
	char *prep;		/* preprocessing signature, "" = raw text (owned likewise) */
};

struct arxiv_tensor_record {
	int32_t label;
	uint64_t line;
	char id[64];		/* NUL-terminated, at most id_width bytes */
	uint32_t *ids;		/* seq_len entries (owned by the reader) */
	uint8_t *mask;		/* seq_len entries */
};

struct arxiv_tensor_reader;
/* new; reads and validates the header (sequentially: works on pipes). fp borrowed.
 * Errors: "not an arxiv tensor stream (bad magic); did you forget arxiv-tok?",
 * unsupported version, truncated or inconsistent header. */
ARXIV_API struct arxiv_tensor_reader *arxiv_tensor_open(FILE *fp, const char *name,
    struct arxiv_error *err);
ARXIV_API const struct arxiv_tensor_header *arxiv_tensor_header(const struct arxiv_tensor_reader *r);
/* 1 record read into *rec (buffers borrowed until the next call), 0 EOF, -1 error
 * (truncated record, label out of range, I/O error; err->line = record number).
 * A repeat of the first header where a record should start is skipped (streams
 * of n_records 0 concatenated, e.g. by parallel --pipe -k arxiv-tok). */
ARXIV_API int arxiv_tensor_next(struct arxiv_tensor_reader *r, struct arxiv_tensor_record *rec,
    struct arxiv_error *err);
ARXIV_API void arxiv_tensor_close(struct arxiv_tensor_reader *r);
/* 0 when the stream was tokenised with this vocabulary (header vocab_hash ==
 * arxiv_vocab_hash(v)), else -1 with "vocab mismatch: ..." naming both hashes. */
ARXIV_API int arxiv_tensor_check_vocab(const struct arxiv_tensor_header *h,
    const struct arxiv_vocab *v, const char *name, struct arxiv_error *err);

struct arxiv_tensor_writer;
/* new; writes the header (h->labels and h->prep copied, NULL prep = ""; version
 * and header_size are computed). fp borrowed. */
ARXIV_API struct arxiv_tensor_writer *arxiv_tensor_create(FILE *fp,
    const struct arxiv_tensor_header *h, struct arxiv_error *err);
ARXIV_API int arxiv_tensor_write(struct arxiv_tensor_writer *w, const struct arxiv_tensor_record *rec,
    struct arxiv_error *err);
/* Flush, check for write errors (and, when h->n_records was not 0, that exactly
 * that many records were written); always frees w. 0 or -1 with err. */
ARXIV_API int arxiv_tensor_finish(struct arxiv_tensor_writer *w, struct arxiv_error *err);
/* Is this the start of a tensor stream (>= 8 bytes)? */
ARXIV_API int arxiv_tensor_sniff(const void *p, size_t n);

/* --------------------------------------------------------------- metrics */

/*
 * Classification metrics over a stream of predictions: accuracy, weighted and
 * macro precision/recall/F1, per-class P/R/F1/support, confusion matrix, top-k
 * accuracy, expected calibration error (15 bins), field-set accuracy (the
 * predicted label is one of the paper's fields), each also for single-field
 * and cross-listed papers.
 */
struct arxiv_metrics;
struct arxiv_prediction;	/* defined with the model API below */
/* new; labels copied. */
ARXIV_API struct arxiv_metrics *arxiv_metrics_new(size_t n_labels, const char *const *labels);
ARXIV_API void arxiv_metrics_free(struct arxiv_metrics *m);
/* truth: label id; p: the prediction (top-k, best first); fields: bit i set when
 * label i is one of the paper's fields (0 = unknown: treated as {truth}). */
ARXIV_API int arxiv_metrics_add(struct arxiv_metrics *m, int truth, const struct arxiv_prediction *p,
    uint64_t fields);
ARXIV_API size_t arxiv_metrics_count(const struct arxiv_metrics *m);
ARXIV_API double arxiv_metrics_accuracy(const struct arxiv_metrics *m);
ARXIV_API double arxiv_metrics_macro_f1(const struct arxiv_metrics *m);
ARXIV_API double arxiv_metrics_weighted_f1(const struct arxiv_metrics *m);
/* The full report as one compact JSON object into out (cleared). */
ARXIV_API int arxiv_metrics_json(const struct arxiv_metrics *m, struct arxiv_buf *out);
/* A human-readable table (arxiv-eval -t) into out (cleared). */
ARXIV_API int arxiv_metrics_table(const struct arxiv_metrics *m, struct arxiv_buf *out);

/* ------------------------------------------------------- experiment tracking */

/*
 * MLflow runs. uri NULL: $MLFLOW_TRACKING_URI, else "./mlruns" (MLflow's file
 * store layout, readable by `mlflow ui`). http(s) URIs log through the REST API
 * after a short TCP probe; an unreachable server gives a tracker that drops
 * everything, with one warning through arxiv_log. Never fails a training run.
 */
struct arxiv_mlflow;
/* new (never NULL unless out of memory). */
ARXIV_API struct arxiv_mlflow *arxiv_mlflow_start(const char *uri, const char *experiment,
    const char *run_name);
ARXIV_API int arxiv_mlflow_active(const struct arxiv_mlflow *t);
ARXIV_API const char *arxiv_mlflow_run_id(const struct arxiv_mlflow *t);
ARXIV_API int arxiv_mlflow_param(struct arxiv_mlflow *t, const char *key, const char *value);
ARXIV_API int arxiv_mlflow_metric(struct arxiv_mlflow *t, const char *key, double value, long step);
/* A run tag, e.g. "mlflow.parentRunId" (nests the run under another in the UI). */
ARXIV_API int arxiv_mlflow_tag(struct arxiv_mlflow *t, const char *key, const char *value);
/* Record a directory tree as the run's artifacts. */
ARXIV_API int arxiv_mlflow_artifacts(struct arxiv_mlflow *t, const char *dir);
/* status "FINISHED", "FAILED" or "KILLED"; frees t. */
ARXIV_API int arxiv_mlflow_end(struct arxiv_mlflow *t, const char *status);

/* ------------------------------------------------------------------ split */

/* Split of an id: 0 train, 1 val, 2 test, by a seeded hash: 0 when
 * arxiv_split_u < ratios[0], 1 when < ratios[0] + ratios[1], else 2. ratios are
 * divided by their sum (negative ones count as 0); NULL: 0.8, 0.1, 0.1. */
ARXIV_API int arxiv_split_of(const char *id, size_t n, uint64_t seed, const double ratios[3]);
/* The hash behind arxiv_split_of, mapped to [0,1) in steps of 2^-53
 * (arxiv_hash64 of the id bytes with seed, then a 64-bit finaliser). */
ARXIV_API double arxiv_split_u(const char *id, size_t n, uint64_t seed);

/* ------------------------------------------------ fast JSON record scanning */

/*
 * The fast path of the JSONL filters (lib/jsonscan.c). arxiv_json_scan() checks,
 * without allocating, that line is one JSON object (strict RFC 8259 grammar,
 * valid UTF-8, blanks ' ' '\t' '\n' '\r') and finds the string values of the
 * top-level keys asked for. It returns 1 only when it is sure that jansson's
 * json_loadb(line, len, flags, ...) accepts the line and yields the same values,
 * and every key is as wanted: an ARXIV_JSON_STRING key present once with a
 * string value, an ARXIV_JSON_ABSENT key absent, an ARXIV_JSON_OPTIONAL key
 * absent or present once with a string value. It returns 0 ("not plain")
 * for everything else: invalid JSON, and also valid lines it does not handle
 * (escaped keys at the top level, nesting deeper than 64, integers over 18
 * characters or numbers with an exponent, \u0000, an asked key missing,
 * repeated or not a string). On 0 the caller parses the line with jansson,
 * which also gives every error message, so both paths give the same bytes.
 */
#define ARXIV_JSON_STRING	0	/* key must be present once, a string */
#define ARXIV_JSON_ABSENT	1	/* key must not be present */
#define ARXIV_JSON_OPTIONAL	2	/* key absent, or present once, a string */
#define ARXIV_JSON_NODUP	1u	/* flag: as JSON_REJECT_DUPLICATES (any depth) */
struct arxiv_json_key {
	const char *name;	/* in: key (no escapes; names distinct), borrowed */
	int want;		/* in: ARXIV_JSON_STRING, _ABSENT or _OPTIONAL */
	const char *val;	/* out: the raw bytes between the quotes, borrowed
				 * from line; NULL when absent (and after 0) */
	size_t len;		/* out: bytes at val */
	int escaped;		/* out: val holds backslash escapes: decode it
				 * with arxiv_json_unescape() */
};
/* 1 plain (keys[].val set), 0 not plain. *compact (may be NULL) is set to 1
 * when the line has no blank outside strings. keys borrowed. */
ARXIV_API int arxiv_json_scan(const char *line, size_t len, struct arxiv_json_key *keys,
    size_t nkeys, unsigned flags, int *compact);
/* Append the decoded raw string value raw[0..n) found by arxiv_json_scan() to
 * out (NUL-terminated). 0, or -1 on a malformed escape (out then holds a
 * prefix) or out of memory. */
ARXIV_API int arxiv_json_unescape(const char *raw, size_t n, struct arxiv_buf *out);
/* Append s[0..n) escaped as jansson's compact dump writes a string (without
 * the quotes): \" \\ \b \f \n \r \t, other bytes below 0x20 as \u00XX,
 * the rest as is. 0, or -1 out of memory. */
ARXIV_API int arxiv_json_escape(const char *s, size_t n, struct arxiv_buf *out);

/* ------------------------------------------------------------- safetensors */

/*
 * Hugging Face safetensors: u64 header length, JSON header
 * {"name":{"dtype":"F32","shape":[..],"data_offsets":[a,b]},...,"__metadata__":{..}},
 * then raw little-endian data. Every offset and shape is validated on open.
 */
enum arxiv_dtype { ARXIV_F32, ARXIV_F16, ARXIV_BF16, ARXIV_I64, ARXIV_I32, ARXIV_U8 };
struct arxiv_st_tensor {
	const char *name;	/* borrowed */
	int dtype;		/* enum arxiv_dtype */
	int ndim;
	int64_t shape[8];
	const void *data;	/* borrowed, ndim-product * dtype size bytes */
	size_t nbytes;
};
struct arxiv_st;
/* new; maps or reads the whole file. */
ARXIV_API struct arxiv_st *arxiv_st_open(const char *path, struct arxiv_error *err);
ARXIV_API void arxiv_st_close(struct arxiv_st *st);
ARXIV_API size_t arxiv_st_count(const struct arxiv_st *st);
/* i-th tensor (in header order) or by name; 0 or -1 (not found). */
ARXIV_API int arxiv_st_get(const struct arxiv_st *st, size_t i, struct arxiv_st_tensor *t);
ARXIV_API int arxiv_st_find(const struct arxiv_st *st, const char *name, struct arxiv_st_tensor *t);
/* borrowed value of a "__metadata__" key or NULL. */
ARXIV_API const char *arxiv_st_meta(const struct arxiv_st *st, const char *key);
/* Write tensors (data read from t[i].data) to path via path.tmp + rename. */
ARXIV_API int arxiv_st_save(const char *path, const struct arxiv_st_tensor *t, size_t n,
    const char *const *meta_kv, size_t n_meta, struct arxiv_error *err);

/* -------------------------------------------------------------- models */

/*
 * Artifacts directory (the seed's layout):
 *   metadata/artifact.json   {"format":"arxiv-artifacts","version":2,"model_type":"fast"|"bert",...}
 *   metadata/label2id.json   {"Computer Science":0,...}
 *   metadata/metrics.json    final train/val/test metrics: {"best_epoch":..,"epochs":..,
 *                            "stopped":bool,"train":{"loss":..},"val":{<arxiv_metrics_json>,
 *                            "loss":..},"test":{..}} (test with arxiv-train -t)
 *   metadata/best_hyperparams.json   written by arxiv-hpo
 *   metadata/decision.json   fields threshold and domain check (lib/decision.c); absent
 *                            in older artifacts: threshold 0.5, no domain check
 *   model/domain.safetensors  word and word-pair counts of the domain check
 *   model/config.json        model config (Hugging Face config.json for bert)
 *   model/model.safetensors  weights
 *   tokenizer/preprocess.json  map/clean/tokenizer settings used in training
 *   tokenizer/vocab.txt      WordPiece vocabulary (bert, or fast models over tensor streams)
 */
#define ARXIV_ARTIFACT_VERSION 2
#define ARXIV_TOPK_MAX 64

struct arxiv_model;

struct arxiv_model_opts {
	const char *device;	/* "auto", "cpu", "cuda", "cuda:N", "mps" */
	int threads;		/* 0: library default */
	const char *precision;	/* transformer inference: "auto", "fp32", "fp16", "bf16" (NULL: auto) */
	size_t max_tokens;	/* transformers: truncate to this many tokens (0: the model's limit) */
};
ARXIV_API struct arxiv_model_opts arxiv_model_default_opts(void);
/* new; loads any model type from an artifacts directory. */
ARXIV_API struct arxiv_model *arxiv_model_load(const char *dir, const struct arxiv_model_opts *o,
    struct arxiv_error *err);
ARXIV_API void arxiv_model_free(struct arxiv_model *m);
ARXIV_API const char *arxiv_model_type(const struct arxiv_model *m);
ARXIV_API int arxiv_model_version(const struct arxiv_model *m);
ARXIV_API size_t arxiv_model_nlabels(const struct arxiv_model *m);
ARXIV_API const char *arxiv_model_label(const struct arxiv_model *m, size_t i);

struct arxiv_prediction {
	size_t k;			/* entries used in label/score */
	int32_t label[ARXIV_TOPK_MAX];	/* label ids, best first */
	float score[ARXIV_TOPK_MAX];	/* probabilities */
};
/*
 * Predict n raw texts (title and abstract joined by arxiv_text_join, not cleaned:
 * the stored preprocessing is applied here). k is capped at the label count and
 * ARXIV_TOPK_MAX. Thread-safe on one loaded model. 0 or -1 with err (err->line =
 * 1-based index of the offending text).
 */
ARXIV_API int arxiv_model_predict(const struct arxiv_model *m, const char *const *texts,
    const size_t *lens, size_t n, size_t k, struct arxiv_prediction *out,
    struct arxiv_error *err);
/* The seed response schema, one compact JSON object, no newline, into out (cleared):
 * {"predicted_category":..,"confidence":..,"top_k":[{"label":..,"score":..},..]} */
ARXIV_API int arxiv_prediction_json(const struct arxiv_model *m, const struct arxiv_prediction *p,
    struct arxiv_buf *out);
/* Pooled embedding size (0 when the model type has none). */
ARXIV_API size_t arxiv_model_dim(const struct arxiv_model *m);
/* n embeddings of arxiv_model_dim floats each into out (n * dim). Thread-safe. */
ARXIV_API int arxiv_model_embed(const struct arxiv_model *m, const char *const *texts,
    const size_t *lens, size_t n, float *out, struct arxiv_error *err);

/* ---------------------------------------------------------------- training */

/*
 * A labelled data set in memory, from JSONL (arxiv-map/arxiv-clean output: "id",
 * "label", "fields", "text", optional "clean" and "prep") or a tensor stream.
 */
struct arxiv_dataset;
/* new; labels: the label order to use (NULL: from the input: tensor header, or
 * first-seen order in JSONL). */
ARXIV_API struct arxiv_dataset *arxiv_dataset_load(const char *path, const char *const *labels,
    size_t n_labels, struct arxiv_error *err);
ARXIV_API void arxiv_dataset_free(struct arxiv_dataset *d);
ARXIV_API size_t arxiv_dataset_count(const struct arxiv_dataset *d);
/* The data set's label order (borrowed names), to load val/test sets with it. */
ARXIV_API size_t arxiv_dataset_nlabels(const struct arxiv_dataset *d);
ARXIV_API const char *arxiv_dataset_label(const struct arxiv_dataset *d, size_t i);

struct arxiv_epoch_stats {
	int epoch;		/* 1-based */
	double train_loss, val_loss, val_accuracy, val_macro_f1;
	double examples_per_s, seconds;
	int best;		/* 1 when this epoch is the best so far (kept) */
};

struct arxiv_train_params {
	const char *model_type;	/* "fast" (default) or "bert" */
	int epochs;		/* maximum epochs */
	int patience;		/* early stopping: epochs without val-loss improvement */
	int threads;		/* 0: all cores */
	uint64_t seed;
	double lr;		/* 0: the default (fast: hinge 0.1, softmax 0.5; bert 5e-5) */
	int verbose;
	/* fast model */
	int dim, word_ngrams, char_minn, char_maxn;
	size_t buckets;
	double class_weight;	/* 0: none; 1: inverse frequency; between: power */
	double l2;		/* L2 penalty per example (lambda / 2 ||w||^2) */
	const char *loss;	/* "hinge" (default: one-vs-rest squared hinge) or "softmax" */
	/* transformer */
	const char *init_dir;	/* Hugging Face checkpoint folder, or NULL */
	const char *config;	/* config.json for random init, or NULL */
	const char *device;	/* "auto", "cpu", "cuda[:N]", "mps" */
	const char *precision;	/* "auto" (bf16 on a GPU that has it, else fp16; fp32 on the CPU),
				 * "fp32", "fp16" (loss scaling) or "bf16" */
	int batch_size, grad_accum;
	double weight_decay, warmup_ratio, max_grad_norm, dropout;
	const char *resume_dir;	/* checkpoint directory to resume from, or NULL */
	/* inputs */
	const char *vocab;	/* vocab.txt of tensor-stream input (hash checked, stored in tokenizer/) */
	/* distillation (fast model): train on a teacher's probabilities softened by
	 * p^(1/distill_temperature), mixed with the true label as
	 * distill_alpha * teacher + (1 - distill_alpha) * one-hot (teacher only for
	 * the records of unlabelled); the loss is then softmax cross-entropy */
	const char *teacher;	/* artifacts directory of any model type, or NULL */
	const char *unlabelled;	/* JSONL of extra records (labels ignored), or NULL */
	double distill_alpha, distill_temperature;
	const struct arxiv_dataset *test;	/* optional: its metrics go into metrics.json */
	/* hooks */
	void (*on_epoch)(const struct arxiv_epoch_stats *s, void *ud);
	void *ud;
	volatile int *stop;	/* set non-zero (e.g. by a signal handler) to stop after the current step */
};
ARXIV_API struct arxiv_train_params arxiv_train_default_params(void);
/* Serialise every parameter as JSON (for config.json and MLflow params). */
ARXIV_API int arxiv_train_params_json(const struct arxiv_train_params *p, struct arxiv_buf *out);
/*
 * Train on train, early-stopping on val, and write complete artifacts to out_dir
 * (through a temporary directory renamed into place; an existing out_dir is
 * replaced only when overwrite is set). 0, or -1 with err. A stop request ends
 * training after the current epoch's evaluation with the best artifacts so far.
 */
ARXIV_API int arxiv_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *out_dir, int overwrite, struct arxiv_error *err);

/* ------------------------------------------- PostgreSQL + pgvector store */

/*
 * Paper embeddings in PostgreSQL with pgvector (schema: arxiv-pg(5)), through
 * libpq, which is loaded with dlopen on the first arxiv_pg_open: programs that
 * never connect never load it. A handle is one connection; not thread-safe
 * (open one per thread). Every call returns 0, or -1 with err ("postgresql: ..."
 * and the server's first line of message).
 */
#define ARXIV_PG_EMBEDDER_MAX 1032	/* > ARXIV_VEC_MAX_EMBEDDER */
struct arxiv_pg;
/* One row to load; strings are (pointer, length) and may hold any byte but NUL
 * (refused: PostgreSQL text cannot hold it). field, categories may be NULL. */
struct arxiv_pg_record {
	const char *id, *title, *field, *categories;
	size_t id_len, title_len, field_len, categories_len;
	const float *vec;	/* dim floats, finite */
};
struct arxiv_pg_stats {
	uint64_t committed;	/* rows in committed batches */
	uint64_t inserted, updated, unchanged;	/* of those: new ids, replaced, identical */
	uint64_t duplicates;	/* rows whose id came again later in the same batch */
	uint64_t rolled_back;	/* rows of a batch that failed */
	uint64_t batches;
};
struct arxiv_pg_info {
	char embedder[ARXIV_PG_EMBEDDER_MAX];
	uint32_t dim;
	uint64_t count;		/* the planner's estimate for a big table */
	int hnsw;		/* the HNSW index exists */
};
struct arxiv_pg_hit {
	char *id, *title, *field, *categories;	/* new; field, categories may be NULL */
	float score;		/* cosine similarity, 1 - pgvector's <=> */
};
/* new; dsn: a libpq connection string or postgresql:// URI; NULL or "" takes
 * everything from the PG* environment variables. */
ARXIV_API struct arxiv_pg *arxiv_pg_open(const char *dsn, struct arxiv_error *err);
ARXIV_API void arxiv_pg_close(struct arxiv_pg *pg);
/* HNSW search breadth each connection sets for its session unless its DSN or
 * PGOPTIONS set one (pgvector's own default is 40). */
#define ARXIV_PG_EF_SEARCH 100
/* The most maintenance_work_mem arxiv_pg_load_end raises its session to for the
 * first HNSW build (MB). */
#define ARXIV_PG_BUILD_MEM_MB 2048
/* The most parallel connections a load opens (arxiv_index_opts.threads, -j). */
#define ARXIV_PG_MAX_JOBS 32
/* Settings: "batch" (rows per transaction, default 10000), "hnsw.m" (16),
 * "hnsw.ef_construction" (64), "hnsw.ef_search" (ARXIV_PG_EF_SEARCH; set for
 * the session at once). */
ARXIV_API int arxiv_pg_set(struct arxiv_pg *pg, const char *key, long value,
    struct arxiv_error *err);
/* What the database holds (-1 with err when nothing was loaded yet). */
ARXIV_API int arxiv_pg_info(struct arxiv_pg *pg, struct arxiv_pg_info *info,
    struct arxiv_error *err);
/* Start a load: creates the extension, tables and meta row when missing;
 * refuses (-1) when the meta row names another embedder or dimension.
 * embedder_dir (may be NULL) is recorded for queries by text. */
ARXIV_API int arxiv_pg_load_begin(struct arxiv_pg *pg, const char *embedder,
    const char *embedder_dir, uint32_t dim, struct arxiv_error *err);
/* Add one row (recno: its record number, for messages). 0 ok; 1 the record is
 * refused (NUL byte, bad UTF-8, no id, non-finite vector; err->line = recno),
 * nothing sent, the load goes on if the caller wants; -1 the batch in flight
 * failed and was rolled back (committed batches stay): the load is over. */
ARXIV_API int arxiv_pg_load_add(struct arxiv_pg *pg, const struct arxiv_pg_record *rec,
    long recno, struct arxiv_error *err);
/* Commit the last batch, build the field and HNSW indexes when missing, ANALYZE. */
ARXIV_API int arxiv_pg_load_end(struct arxiv_pg *pg, struct arxiv_pg_stats *st,
    struct arxiv_error *err);
ARXIV_API void arxiv_pg_load_stats(const struct arxiv_pg *pg, struct arxiv_pg_stats *st);
/* After arxiv_pg_info, arxiv_pg_load_begin or a search: the table's dimension
 * and embedder (borrowed). */
ARXIV_API uint32_t arxiv_pg_dim(const struct arxiv_pg *pg);
ARXIV_API const char *arxiv_pg_embedder(const struct arxiv_pg *pg);
ARXIV_API const char *arxiv_pg_embedder_dir(const struct arxiv_pg *pg);
/* The k rows nearest to q by cosine distance, best first (*out new: free with
 * arxiv_pg_hits_free). field: only rows of that field (NULL: all). exact: a
 * sequential scan instead of the HNSW index (for recall checks). */
ARXIV_API int arxiv_pg_search(struct arxiv_pg *pg, const float *q, size_t k, const char *field,
    int exact, struct arxiv_pg_hit **out, size_t *n, struct arxiv_error *err);
/* The stored vector of id into vec (dim floats) and its row into *meta (new
 * strings; may be NULL). 0 found, 1 not indexed, -1 error. */
ARXIV_API int arxiv_pg_get(struct arxiv_pg *pg, const char *id, float *vec,
    struct arxiv_pg_hit *meta, struct arxiv_error *err);
ARXIV_API void arxiv_pg_hits_free(struct arxiv_pg_hit *h, size_t n);

/* ----------------------------------------------- similar papers: vectors */

/*
 * Vector stream (full spec in arxiv-vectors(5)): what arxiv-embed -e writes and
 * arxiv-index reads. All integers little-endian, encoded field by field:
 *   offset size  field
 *   0      8     magic "\x89AXV\r\n\x1a\n"
 *   8      4     version (1)
 *   12     4     header_size (bytes from offset 0 to the first record; readers skip extra bytes)
 *   16     4     dim (floats per vector, 1..ARXIV_VEC_MAX_DIM)
 *   20     4     flags (0)
 *   24     8     n_records (0 = unknown, read to EOF)
 *   32     4     embedder_size, then embedder_size bytes: the embedder identity
 *                (arxiv_embedder_id; 1..ARXIV_VEC_MAX_EMBEDDER bytes of UTF-8)
 *   ...    4     location_size, then location_size bytes: where the embedder was
 *                loaded from (an absolute directory; 0 bytes: unknown), so that
 *                queries can be embedded the same way
 *   then records, each: u16 id_size, id; u32 title_size, title; u16 field_size, field;
 *                u16 categories_size, categories (space-separated codes, primary first);
 *                dim IEEE-754 float32.
 * Strings are UTF-8 without terminator; a title may hold NUL bytes. A partial
 * record at the end is an error ("truncated record N"). The JSONL form has one
 * object per line: {"id":..,"title":..,"field":..,"categories":..,
 * "embedder":..,"embedder_dir":..,"embedding":[..]}.
 */
#define ARXIV_VEC_MAGIC "\x89" "AXV\r\n\x1a\n"
#define ARXIV_VEC_VERSION 1
#define ARXIV_VEC_MAX_DIM 16384
#define ARXIV_VEC_MAX_EMBEDDER 1024
#define ARXIV_VEC_MAX_ID 255
#define ARXIV_VEC_MAX_TITLE 65536
#define ARXIV_VEC_MAX_FIELD 255
#define ARXIV_VEC_MAX_CATEGORIES 4096

/* One paper and its vector. Every pointer borrowed (from the reader until its
 * next call, or from the caller); sizes in bytes, strings not NUL-terminated
 * by contract (readers do terminate them). */
struct arxiv_vecrec {
	const char *id, *title, *field, *categories;
	size_t id_len, title_len, field_len, categories_len;
	const float *v;		/* dim floats */
};

struct arxiv_vec_reader;
/* new; reads the header of a vector stream, or the first line of its JSONL
 * form (told apart by the first byte). fp borrowed, name copied. Errors:
 * "not an arxiv vector stream (bad magic); did you forget arxiv-embed -e?",
 * unsupported version, truncated header. */
ARXIV_API struct arxiv_vec_reader *arxiv_vec_open(FILE *fp, const char *name,
    struct arxiv_error *err);
ARXIV_API size_t arxiv_vec_dim(const struct arxiv_vec_reader *r);
/* borrowed identity of the embedder that made the vectors. */
ARXIV_API const char *arxiv_vec_embedder(const struct arxiv_vec_reader *r);
/* borrowed embedder directory recorded in the stream ("" unknown). */
ARXIV_API const char *arxiv_vec_embedder_dir(const struct arxiv_vec_reader *r);
/* 1 record into *rec (borrowed until the next call), 0 end, -1 error with
 * err->line = record number ("truncated record", a size over its limit, a
 * non-finite value, a JSONL line of another dimension or embedder). */
ARXIV_API int arxiv_vec_next(struct arxiv_vec_reader *r, struct arxiv_vecrec *rec,
    struct arxiv_error *err);
ARXIV_API void arxiv_vec_close(struct arxiv_vec_reader *r);
/* Is p[0..n) the start of a vector stream (n >= 8)? */
ARXIV_API int arxiv_vec_sniff(const void *p, size_t n);

struct arxiv_vec_writer;
/* new; writes the header (binary) or nothing yet (jsonl != 0). fp borrowed;
 * embedder_dir may be NULL. */
ARXIV_API struct arxiv_vec_writer *arxiv_vec_create(FILE *fp, size_t dim, const char *embedder,
    const char *embedder_dir, int jsonl, struct arxiv_error *err);
ARXIV_API int arxiv_vec_write(struct arxiv_vec_writer *w, const struct arxiv_vecrec *rec,
    struct arxiv_error *err);
/* Flush, fill in n_records when fp is seekable, check for write errors; frees w. */
ARXIV_API int arxiv_vec_finish(struct arxiv_vec_writer *w, struct arxiv_error *err);

/* ---------------------------------------------- similar papers: embedders */

/*
 * An embedder turns texts (title and abstract joined by arxiv_text_join) into
 * L2-normalised vectors. Its identity string names its kind, dimension and a
 * hash of everything that shapes its output, e.g.
 * "lexical-v1 dim=256 h=0123456789abcdef": an index refuses vectors of another
 * identity. Kinds: "lexical" (a directory made by arxiv_lexical_learn: no model
 * download needed) and whatever lib/embedder.c's table lists.
 */
struct arxiv_embedder;
struct arxiv_embedder_opts {
	const char *device;	/* "auto", "cpu", "cuda[:N]" (encoders) */
	int threads;		/* 0: library default */
	size_t max_tokens;	/* encoders: truncate to this many tokens (0: the model's limit) */
};
ARXIV_API struct arxiv_embedder_opts arxiv_embedder_default_opts(void);
/* new; the kind is recognised from the directory's files. o may be NULL. */
ARXIV_API struct arxiv_embedder *arxiv_embedder_load(const char *dir,
    const struct arxiv_embedder_opts *o, struct arxiv_error *err);
/* new: the embedder that made vectors of this identity (an index's), from dir,
 * with the options the identity records (an encoder's "max=N") and o's others
 * (o may be NULL); an error naming both when its identity still differs. */
ARXIV_API struct arxiv_embedder *arxiv_embedder_load_for(const char *dir, const char *identity,
    const struct arxiv_embedder_opts *o, struct arxiv_error *err);
ARXIV_API void arxiv_embedder_free(struct arxiv_embedder *e);
ARXIV_API const char *arxiv_embedder_kind(const struct arxiv_embedder *e);
ARXIV_API const char *arxiv_embedder_id(const struct arxiv_embedder *e);
ARXIV_API size_t arxiv_embedder_dim(const struct arxiv_embedder *e);
/* borrowed absolute path of the directory it was loaded from. */
ARXIV_API const char *arxiv_embedder_dir(const struct arxiv_embedder *e);
/* n vectors of dim floats into out. Thread-safe. 0 or -1 with err (err->line =
 * 1-based index of the offending text). An empty text gives a zero vector. */
ARXIV_API int arxiv_embedder_embed(const struct arxiv_embedder *e, const char *const *texts,
    const size_t *lens, size_t n, float *out, struct arxiv_error *err);

/*
 * The lexical embedder: the text cleaned by the library's cleaner (default
 * settings), its words and word bigrams hashed into `buckets` slots, each
 * weighted by its smoothed idf (log((1 + N) / (1 + df)) + 1, learnt from a
 * corpus) and by 1 + log(tf), projected to `sketch` dimensions by a fixed
 * signed random projection (each slot adds +-w to `nnz` dimensions chosen by
 * a seeded hash) and L2-normalised; then centred and projected onto the
 * corpus's `dim` principal axes (PCA of up to `sample` documents' sketches,
 * learnt with LAPACK's ssyevr: latent semantic analysis, in effect) and
 * L2-normalised again. sketch 0, or a corpus of fewer than 4 * dim documents:
 * no PCA, the random projection is to dim dimensions directly (cheaper, but
 * its noise swamps the neighbours in a large corpus).
 */
struct arxiv_lexical_params {
	size_t dim;		/* 256 */
	size_t sketch;		/* 4096 dimensions before the PCA; 0 none */
	size_t sample;		/* 50000 documents for the PCA */
	size_t buckets;		/* 1 << 20 hashed n-gram slots */
	int ngrams;		/* 2: words and word bigrams */
	int nnz;		/* 8: dimensions touched per slot */
	uint64_t seed;		/* projection seed */
	unsigned min_df;	/* slots seen in fewer documents weigh 0 (2) */
};
ARXIV_API struct arxiv_lexical_params arxiv_lexical_default_params(void);
struct arxiv_lexical_learner;
/* new */
ARXIV_API struct arxiv_lexical_learner *arxiv_lexical_learner_new(
    const struct arxiv_lexical_params *p, struct arxiv_error *err);
ARXIV_API void arxiv_lexical_learner_free(struct arxiv_lexical_learner *l);
/* Count one document's slots. Not thread-safe. 0 or -1 with err. */
ARXIV_API int arxiv_lexical_add(struct arxiv_lexical_learner *l, const char *text, size_t n,
    struct arxiv_error *err);
/* Write the embedder directory dir (embedder.json + idf.safetensors), through a
 * temporary directory renamed into place; an existing dir made by this function
 * is replaced. 0 or -1 with err. */
ARXIV_API int arxiv_lexical_save(const struct arxiv_lexical_learner *l, const char *dir,
    struct arxiv_error *err);

/* ------------------------------------------------- similar papers: indexes */

/*
 * A vector index: papers with their vectors, exact or approximate cosine
 * search. Backends (lib/index.c's table): "file", a local memory-mapped index
 * file (arxiv-index(1); exact search), and any other the table lists. The
 * location picks the backend: a backend's prefix (e.g. "postgresql://") or,
 * by default, a file path. Vectors are assumed L2-normalised, so cosine = dot.
 */
struct arxiv_index;
struct arxiv_index_opts {
	int write;		/* open to add (created when absent); 0: read only */
	const char *embedder;	/* write: the vectors' embedder identity (must match an existing index) */
	size_t dim;		/* write: their dimension (likewise) */
	const char *embedder_dir;	/* write: where the embedder lives (recorded; may be NULL) */
	int threads;		/* search threads (0: 1); write, pgvector: loading connections */
	const char *kind;	/* backend name, NULL: chosen by the location */
	size_t batch;		/* write, pgvector: rows per transaction (0: backend default) */
	int ef_search;		/* pgvector: HNSW search breadth, 1..1000 (0: ARXIV_PG_EF_SEARCH) */
	int hnsw_m;		/* write, pgvector: the HNSW index's m, 2..100 (0: 16) */
	int ef_construction;	/* write, pgvector: its ef_construction, 4..1000 (0: 64) */
};
ARXIV_API struct arxiv_index_opts arxiv_index_default_opts(void);
/* new; location: a path, or a backend's URI (a DSN). */
ARXIV_API struct arxiv_index *arxiv_index_open(const char *location,
    const struct arxiv_index_opts *o, struct arxiv_error *err);
/* Close (read-only or after commit) or abandon what was added; accepts NULL. */
ARXIV_API void arxiv_index_free(struct arxiv_index *ix);

struct arxiv_index_info {
	const char *kind;	/* "file", ... (borrowed, as the rest) */
	const char *location;	/* the path or DSN without password */
	const char *embedder;	/* identity of its vectors ("" when empty and new) */
	const char *embedder_dir;	/* the embedder's directory ("" unknown) */
	size_t dim;
	uint64_t size;		/* papers */
};
ARXIV_API int arxiv_index_info(const struct arxiv_index *ix, struct arxiv_index_info *out);

/* Add or replace (by id) n papers. A record whose id is already there replaces
 * it. 0 or -1 with err (err->line = 1-based index in recs). */
ARXIV_API int arxiv_index_add(struct arxiv_index *ix, const struct arxiv_vecrec *recs, size_t n,
    struct arxiv_error *err);
/* Make what was added durable (file: written to a temporary file and renamed). */
ARXIV_API int arxiv_index_commit(struct arxiv_index *ix, struct arxiv_error *err);

/* One search result; the strings are new (arxiv_hits_free). */
struct arxiv_hit {
	float score;		/* cosine similarity */
	char *id, *title, *field, *categories;
	size_t title_len;	/* the title may hold NUL bytes */
};
ARXIV_API void arxiv_hits_free(struct arxiv_hit *h, size_t n);	/* the strings, not h */
/*
 * The k papers most similar to q (dim floats, L2-normalised), best first, into
 * hits (room for k); *n gets how many. field: only papers of this field (NULL
 * any); exclude: leave this id out (NULL none). Thread-safe on one index.
 */
ARXIV_API int arxiv_index_search(const struct arxiv_index *ix, const float *q, size_t k,
    const char *field, const char *exclude, struct arxiv_hit *hits, size_t *n,
    struct arxiv_error *err);
/* A paper by id: 1 found (vector into v, dim floats; meta into *meta unless NULL,
 * score 1), 0 not indexed, -1 error. */
ARXIV_API int arxiv_index_get(const struct arxiv_index *ix, const char *id, float *v,
    struct arxiv_hit *meta, struct arxiv_error *err);

/* ---------------------------------------------------------------------------
 * Replacing a file atomically (atomic.c): every writer of a named output goes
 * through this, so a reader never sees a half-written file and a planted
 * symbolic link is never written through.
 *
 * arxiv_atomic_open: new; a temporary file created with mkstemp (O_EXCL) beside
 *   path ("<path>.XXXXXX.tmp"), or in tmpdir when not NULL (".<base>.XXXXXX.tmp";
 *   it must be on path's file system), mode 0666 & ~umask. Refuses (NULL, err)
 *   when path exists and is not a regular file: a symbolic link, FIFO, device,
 *   socket or directory is never replaced.
 * arxiv_atomic_file: borrowed stream to write to.
 * arxiv_atomic_tmpname: borrowed name of the temporary (for a signal handler's unlink).
 * arxiv_atomic_flush: flush and fsync without renaming (to check several outputs
 *   before committing any); 0 or -1 with err. commit does it when not done.
 * arxiv_atomic_commit: flush, fsync, close and rename over path; frees a. 0, or
 *   -1 with err (the temporary is removed, path untouched).
 * arxiv_atomic_abort: close and remove the temporary; frees a (NULL is fine).
 * arxiv_atomic_write: the whole cycle for data in memory.
 */
struct arxiv_atomic;
ARXIV_API struct arxiv_atomic *arxiv_atomic_open(const char *path, const char *tmpdir,
    struct arxiv_error *err);
ARXIV_API FILE *arxiv_atomic_file(struct arxiv_atomic *a);
ARXIV_API const char *arxiv_atomic_tmpname(const struct arxiv_atomic *a);
ARXIV_API int arxiv_atomic_flush(struct arxiv_atomic *a, struct arxiv_error *err);
ARXIV_API int arxiv_atomic_commit(struct arxiv_atomic *a, struct arxiv_error *err);
ARXIV_API void arxiv_atomic_abort(struct arxiv_atomic *a);
ARXIV_API int arxiv_atomic_write(const char *path, const char *tmpdir, const void *data,
    size_t n, struct arxiv_error *err);
/* ------------------------------------------------ training parameters by name */

/*
 * Set one training parameter by name (the keys of arxiv_train_params_json, e.g.
 * "lr", "l2", "word_ngrams", "loss", "batch_size", "warmup_ratio"; also
 * "learning_rate", "num_train_epochs"). Numbers are parsed and range-checked;
 * a string value is borrowed (it must outlive p). 0, or -1 with err (unknown
 * key, not a number, out of range).
 */
ARXIV_API int arxiv_train_params_set(struct arxiv_train_params *p, const char *key,
    const char *value, struct arxiv_error *err);
/* 1 when key names a training parameter (or an alias of one). */
ARXIV_API int arxiv_train_params_known(const char *key);
/* The i-th parameter name (borrowed), NULL past the end. */
ARXIV_API const char *arxiv_train_param_name(size_t i);
/* NULL when p is usable, else a static message saying what is wrong (liblinear's
 * check_parameter). Checks the fields the model type uses. */
ARXIV_API const char *arxiv_train_params_check(const struct arxiv_train_params *p);

/* ------------------------- hyperparameter search (tpe_space.c, tpe.c) */

/*
 * A search space: one parameter a line, "name kind args", kinds
 *   uniform lo hi | loguniform lo hi | int lo hi [step] | categorical a b c ...
 * ('#' starts a comment; blank lines are skipped). Values travel as doubles in
 * the "internal representation": the number itself, or the index of a choice.
 */
enum { ARXIV_PARAM_UNIFORM, ARXIV_PARAM_LOGUNIFORM, ARXIV_PARAM_INT, ARXIV_PARAM_CATEGORICAL };
struct arxiv_space;
/* new; src names the text in errors ("file:line: reason"). An empty space, an
 * unknown kind, lo >= hi, loguniform lo <= 0, a repeated name are refused. */
ARXIV_API struct arxiv_space *arxiv_space_parse(const char *text, const char *src,
    struct arxiv_error *err);
ARXIV_API struct arxiv_space *arxiv_space_load(const char *path, struct arxiv_error *err);
ARXIV_API void arxiv_space_free(struct arxiv_space *s);
ARXIV_API size_t arxiv_space_size(const struct arxiv_space *s);
/* borrowed */
ARXIV_API const char *arxiv_space_name(const struct arxiv_space *s, size_t i);
ARXIV_API int arxiv_space_kind(const struct arxiv_space *s, size_t i);
/* the line of the space text that defined parameter i */
ARXIV_API long arxiv_space_line(const struct arxiv_space *s, size_t i);
/* lo, hi (index range for categoricals) and step (0: continuous) */
ARXIV_API int arxiv_space_bounds(const struct arxiv_space *s, size_t i, double *lo, double *hi,
    double *step);
ARXIV_API size_t arxiv_space_nchoices(const struct arxiv_space *s, size_t i);
ARXIV_API const char *arxiv_space_choice(const struct arxiv_space *s, size_t i, size_t j);
/* The external form of a value ("0.01", "3", "softmax") into buf; -1 if invalid. */
ARXIV_API int arxiv_space_format(const struct arxiv_space *s, size_t i, double v, char *buf,
    size_t n);
/* The reverse of arxiv_space_format; -1 when str is not a value of parameter i. */
ARXIV_API int arxiv_space_parse_value(const struct arxiv_space *s, size_t i, const char *str,
    double *v);

enum { ARXIV_TRIAL_RUNNING, ARXIV_TRIAL_COMPLETE, ARXIV_TRIAL_PRUNED, ARXIV_TRIAL_FAILED };
/* One trial of the history a sampler proposes from (all borrowed). */
struct arxiv_trial {
	int state;
	const double *x;	/* arxiv_space_size values; NaN: not set */
	double value;		/* objective, minimised (COMPLETE) */
	const double *steps;	/* intermediate values, minimised, per step (1..n_steps) */
	int n_steps;
};
struct arxiv_sampler_params {
	int tpe;		/* 1: TPE (Optuna's TPESampler), 0: random */
	int n_startup;		/* random trials before TPE: 10 */
	int n_ei_candidates;	/* 24 */
	double prior_weight;	/* 1.0 */
	int constant_liar;	/* running trials count as the worst value */
	int multivariate;	/* 1 (Optuna 5's default): kernels over all parameters jointly;
				 * 0: each parameter on its own (independent TPE) */
	uint64_t seed;
};
ARXIV_API struct arxiv_sampler_params arxiv_sampler_default_params(void);
/*
 * Propose the parameters of trial `number` into x (arxiv_space_size values)
 * from the history. Deterministic in (seed, number, history). 0, or -1 when out
 * of memory.
 */
ARXIV_API int arxiv_sampler_suggest(const struct arxiv_space *s,
    const struct arxiv_sampler_params *p, const struct arxiv_trial *trials, size_t n_trials,
    uint64_t number, double *x);
/* TPE's acquisition at x: log l(x) - log g(x) from the history (0, or -1). */
ARXIV_API int arxiv_sampler_logratio(const struct arxiv_space *s,
    const struct arxiv_sampler_params *p, const struct arxiv_trial *trials, size_t n_trials,
    const double *x, double *out);
/*
 * Optuna's MedianPruner: 1 when a trial with intermediate values steps[0..n_steps-1]
 * (minimised) should stop: its best value so far is worse than the median of
 * the COMPLETE trials' values at step n_steps. Never before n_startup complete
 * trials or within the first n_warmup steps.
 */
ARXIV_API int arxiv_median_prune(const struct arxiv_trial *trials, size_t n_trials,
    const double *steps, int n_steps, int n_startup, int n_warmup);

/* ---------------------------------------------------------------------------
 * Model kinds (model.c: one table of name, train, load, predict, embed, dim).
 * arxiv_model_kind_name: the i-th kind's name ("fast", "bert"), NULL past the end.
 * arxiv_model_threads_inside: 1 when one predict/embed call of m uses every
 *   thread itself (call it from one thread), 0 when calls run in parallel.
 */
ARXIV_API const char *arxiv_model_kind_name(size_t i);
ARXIV_API int arxiv_model_threads_inside(const struct arxiv_model *m);

/* ---------------------------------------------------------------------------
 * An artifacts directory's preprocessing, tokenizer/preprocess.json (prep.c):
 * the one reader and writer for every model kind. Read accepts the current
 * schema and the transformer's older flat one; write writes the current one
 * (through arxiv_atomic_open).
 */
struct arxiv_prep {
	char input[16];		/* "text" (cleaned words) or "wordpiece" (token ids) */
	char prep[512];		/* the cleaning signature (arxiv_clean_params_str), "" none */
	int abstract_only;	/* the arxiv-map setting the model was trained with */
	size_t seq_len;		/* wordpiece: ids per sequence */
	int lowercase;		/* wordpiece: the tokenizer lowercases */
	uint64_t vocab_hash;	/* wordpiece: arxiv_vocab_hash of tokenizer/vocab.txt */
	int has_vocab_hash;
	size_t vocab_size;	/* 0 unknown */
};
ARXIV_API struct arxiv_prep arxiv_prep_default(void);
ARXIV_API int arxiv_prep_read(const char *path, struct arxiv_prep *p, struct arxiv_error *err);
ARXIV_API int arxiv_prep_write(const char *path, const struct arxiv_prep *p,
    struct arxiv_error *err);

/* ----------------------------------------------------- corpus statistics (arxiv-stats) */

/*
 * Mergeable statistics over arxiv-map records (lib/stats.c, arxiv-stats(1)):
 * papers per field, per primary category and per year, the cross-list matrix,
 * text length in characters, words and WordPiece tokens, LaTeX and non-ASCII
 * shares, duplicates, distinctive terms per field. Memory is bounded by the
 * parameters; arxiv_stats_json(with_state) output merges exactly (up to the
 * documented approximations) with arxiv_stats_merge_json.
 */
#define ARXIV_STATS_MAX_FIELDS 64
struct arxiv_stats_params {
	size_t term_cap;	/* terms kept in the count table (131072) */
	size_t exact_max;	/* distinct ids/texts counted exactly (1048576), then HyperLogLog */
	size_t top_terms;	/* distinctive terms printed per field (15); 0: terms not counted */
	double prior;		/* alpha_0 of the Dirichlet prior (10000) */
	size_t min_len;		/* shortest term, bytes (3) */
	const char *stopwords;	/* stop-word list for the built-in term splitter; NULL: shipped */
	int cleaner;		/* 1: records bring cleaned terms (rec.terms), no stop list loaded */
};
ARXIV_API struct arxiv_stats_params arxiv_stats_default_params(void);
struct arxiv_stats_str {
	const char *s;		/* borrowed; NULL with n 0 = absent */
	size_t n;
};
struct arxiv_stats_split;
struct arxiv_stats_record {
	struct arxiv_stats_str id, text, label, date;	/* text: valid UTF-8 */
	const struct arxiv_stats_str *categories;	/* primary first */
	size_t n_categories;
	const struct arxiv_stats_str *fields;
	size_t n_fields;
	long n_tokens;		/* WordPiece tokens incl. [CLS] [SEP]; -1 unknown;
				 * ARXIV_STATS_COUNT_TOKENS: arxiv_stats_add counts them */
	struct arxiv_stats_str terms;	/* cleaned text (space-separated terms); s NULL:
					 * split text with the built-in splitter */
	const struct arxiv_stats_split *split;	/* or text's terms split ahead of time
						 * (arxiv_stats_split); NULL: split here */
};
struct arxiv_stats;
/* new; p NULL: defaults. Loads the stop-word list unless p->cleaner. */
ARXIV_API struct arxiv_stats *arxiv_stats_new(const struct arxiv_stats_params *p,
    struct arxiv_error *err);
ARXIV_API void arxiv_stats_free(struct arxiv_stats *s);
/* Count one record (r and its strings borrowed for the call). 0 or -1 (out of
 * memory; n_tokens ARXIV_STATS_COUNT_TOKENS without arxiv_stats_set_vocab). */
ARXIV_API int arxiv_stats_add(struct arxiv_stats *s, const struct arxiv_stats_record *r,
    struct arxiv_error *err);
/* The WordPiece tokens of records that come with n_tokens
 * ARXIV_STATS_COUNT_TOKENS: what arxiv_tok_count_cached(c, 0, v, p) gives
 * (p NULL: defaults), capped at cap (0: none), counted in the pass that splits
 * the text's terms where it can (a lowercasing p, an ASCII text). v and c
 * are borrowed for s's life (c then used by s alone), p is copied. */
#define ARXIV_STATS_COUNT_TOKENS (-2)
ARXIV_API void arxiv_stats_set_vocab(struct arxiv_stats *s, const struct arxiv_vocab *v,
    const struct arxiv_tok_params *p, struct arxiv_tok_cache *c, size_t cap);
/* The statistics as one JSON object (schema in arxiv-stats(1)) into out (cleared);
 * with_state adds "state", what arxiv_stats_merge_json needs. 0 or -1. */
ARXIV_API int arxiv_stats_json(const struct arxiv_stats *s, int with_state, struct arxiv_buf *out);
/* Add a with_state JSON result into s. 0 or -1 with err (invalid JSON, no state). */
ARXIV_API int arxiv_stats_merge_json(struct arxiv_stats *s, const char *json, size_t len,
    struct arxiv_error *err);
/* What arxiv_stats_add reads of a text, ahead of it (on another thread: it
 * only reads s's parameters and stop words, which never change) into sp, for
 * rec.split with the same text in rec.text: its length, hash and math, and
 * where the built-in splitter's terms are (none when s takes cleaned terms or
 * counts none); counting it gives what arxiv_stats_add gives from the text.
 * 0 or -1 (out of memory, or a text of 4 GiB or more). */
ARXIV_API struct arxiv_stats_split *arxiv_stats_split_new(void);
ARXIV_API void arxiv_stats_split_free(struct arxiv_stats_split *sp);
ARXIV_API int arxiv_stats_split(const struct arxiv_stats *s, const char *text, size_t n,
    struct arxiv_stats_split *sp);

/* ------------------------------------------ answers: fields, abstaining, explanations */

/*
 * An answer is a prediction plus what a reader needs to trust it (lib/answer.c):
 *   fields     every label whose calibrated probability reaches the model's
 *              fields threshold (chosen on validation at training time to
 *              maximise the F1 of the paper's full field set), the primary
 *              answer always included;
 *   abstained  the input does not look like an abstract of the model's domain
 *              (too few of its words or word pairs were seen in training: the
 *              estimated probability of being in domain is below the OOD
 *              threshold), or the top probability is below min_confidence;
 *              then the answer is "Other" with a reason;
 *   terms      (fast models over text) the n-grams that moved the winning
 *              label's score furthest above the runner-up's, in the input's
 *              own words, with their share of that margin in logits.
 */
#define ARXIV_EXPLAIN_MAX 16
struct arxiv_answer_opts {
	size_t k;		/* top k (capped as in arxiv_model_predict) */
	size_t explain;		/* explanation terms wanted, 0..ARXIV_EXPLAIN_MAX */
	double min_confidence;	/* abstain when the top probability is below; 0: never */
	double ood_threshold;	/* abstain when P(in domain) is below; < 0: the model's
				 * own threshold (none in older artifacts), 0: never */
};
/* k 3, explain 0, min_confidence 0, ood_threshold -1 (the model's). */
ARXIV_API struct arxiv_answer_opts arxiv_answer_default_opts(void);

struct arxiv_term {
	char term[80];		/* UTF-8, the input's words ("spin chain") */
	float weight;		/* logits of the margin over the runner-up */
};
struct arxiv_answer {
	struct arxiv_prediction p;	/* the top k, as arxiv_model_predict gives it */
	uint64_t fields;		/* bit i: label i is listed */
	int abstained;
	char reason[160];		/* why, when abstained */
	double in_domain;		/* P(in domain), or -1 when the model has no check */
	size_t words, known_words;	/* cleaned words, and those seen in training */
	size_t pairs, known_pairs;	/* adjacent word pairs, likewise */
	size_t n_terms;
	struct arxiv_term terms[ARXIV_EXPLAIN_MAX];
};
/* Answer n raw texts (as arxiv_model_predict). Thread-safe. 0 or -1 with err. */
ARXIV_API int arxiv_model_answer(const struct arxiv_model *m, const char *const *texts,
    const size_t *lens, size_t n, const struct arxiv_answer_opts *o, struct arxiv_answer *out,
    struct arxiv_error *err);
/* One compact JSON object, no newline, into out (cleared):
 * {"predicted_category":..,"confidence":..,"fields":[..],"top_k":[..]
 *  [,"explanation":[{"term":..,"weight":..},..]]}, or when abstained
 * {"predicted_category":"Other","confidence":0.0,"abstained":true,"reason":..,
 *  "fields":[],"top_k":[..]} (top_k: the model's ranking all the same). */
ARXIV_API int arxiv_answer_json(const struct arxiv_model *m, const struct arxiv_answer *a,
    struct arxiv_buf *out);
/* The model's stored thresholds (defaults for older artifacts: fields 0.5,
 * OOD -1 = no domain check). */
ARXIV_API double arxiv_model_fields_threshold(const struct arxiv_model *m);
ARXIV_API double arxiv_model_ood_threshold(const struct arxiv_model *m);
/* Metrics of answers: arxiv_metrics_add of a->p plus the set-level metrics of
 * a->fields against the paper's fields (precision, recall, F1 averaged over
 * papers, exact-set accuracy) and the abstention count. */
ARXIV_API int arxiv_metrics_add_answer(struct arxiv_metrics *m, int truth,
    const struct arxiv_answer *a, uint64_t fields);

/* ------------------------- answering and embedding many texts (answer_many.c) */

/*
 * Answer n raw texts as arxiv_model_answer does, on jobs threads (<= 0: the
 * online CPUs; at most 64), in chunks of chunk texts per model call (0: 64).
 * Chunk j is always texts [j*chunk, (j+1)*chunk), so the answers do not depend
 * on jobs. out[i] answers texts[i] (lens NULL: strlen). A text the model
 * rejects does not stop the others: errs[i] (n entries, caller-allocated) says
 * why (text non-empty, line 0) and out[i] is undefined; errs[i] of an answered
 * text is cleared (text ""). Returns how many texts failed (0: all answered),
 * or -1 with errs[0] set when an argument is NULL. Thread-safe.
 */
ARXIV_API long arxiv_model_answer_many(const struct arxiv_model *m, const char *const *texts,
    const size_t *lens, size_t n, const struct arxiv_answer_opts *o, size_t chunk, int jobs,
    struct arxiv_answer *out, struct arxiv_error *errs);
/*
 * n vectors of arxiv_embedder_dim floats into out, as arxiv_embedder_embed,
 * on jobs threads (<= 0: the online CPUs; at most 64 and at most n), each
 * embedding one run of ceil(n / threads) texts. 0, or -1 with err of the first
 * text that failed (err->line = its 1-based index in texts).
 */
ARXIV_API int arxiv_embedder_embed_many(const struct arxiv_embedder *e, const char *const *texts,
    const size_t *lens, size_t n, int jobs, float *out, struct arxiv_error *err);

/* ------------------------------------------------------ parallel-for (parallel.c) */

/*
 * fn(ud, from, to) over [0, n) in chunks of chunk items (0: 1), chunk j
 * always [j*chunk, min((j+1)*chunk, n)), on jobs threads (<= 0: the online
 * CPUs; at most 64 and at most the number of chunks); the calling thread is
 * one of them. Chunks are taken in order by whichever thread is free, so fn
 * must only touch its own items. Returns when every chunk is done: 0, or -1
 * when fn is NULL.
 */
ARXIV_API int arxiv_parallel_for(size_t n, size_t chunk, int jobs,
    void (*fn)(void *ud, size_t from, size_t to), void *ud);

/* ------------------------------------------------------ directory trees */

/*
 * Remove dir and everything below it, depth first, never following a
 * symbolic link (a link is removed, not what it points to). Best effort: 0,
 * or -1 with errno when something could not be removed (a dir that does not
 * exist is -1 with ENOENT).
 */
ARXIV_API int arxiv_tree_remove(const char *dir);

/* --------------------------------------------- counting WordPiece tokens */

/*
 * The number of tokens arxiv_tok_encode would give the text ([CLS] pieces [SEP])
 * with a seq_len long enough for all of them: never truncated, no ids, no
 * padding (p->seq_len is not used). The same steps and the same count, faster:
 * lowercasing texts take a fast path over plain ASCII, and the word cache
 * (borrowed, NULL: none; it also keeps each word's piece count, about 16 MiB
 * more on first use) remembers words. flags: ARXIV_TOK_VALID_UTF8 or 0.
 * 0, or -1 with err (invalid UTF-8, out of memory).
 */
ARXIV_API int arxiv_tok_count_cached(struct arxiv_tok_cache *c, unsigned flags,
    const struct arxiv_vocab *v, const struct arxiv_tok_params *p, const char *text, size_t n,
    size_t *n_tokens, struct arxiv_error *err);
/* arxiv_tok_count_cached without a cache, text checked. */
ARXIV_API int arxiv_tok_count(const struct arxiv_vocab *v, const struct arxiv_tok_params *p,
    const char *text, size_t n, size_t *n_tokens, struct arxiv_error *err);

#ifdef __cplusplus
}
#endif
#endif

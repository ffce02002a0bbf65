/*
 * prep.c - tokenizer/preprocess.json of an artifacts directory: the one reader
 * and writer for every model kind (the fast model, train.c and model.c; the
 * transformer plugin, bert.cpp).
 *
 * Written (one schema):
 *   {"input":"text"|"wordpiece","prep":<cleaning signature, "" none>,
 *    "map":{"abstract_only":false},
 *    "tok":{"seq_len":N,"lowercase":true,"vocab_hash":"<16 hex>","vocab_size":N}}
 * with "tok" only for wordpiece input, its hash and size only when known.
 * Read: that, and the transformer's older flat schema
 *   {"model_type":"bert","seq_len":N,"lowercase":b,"prep":..,"vocab_hash":..,
 *    "vocab_size":N}
 * (wordpiece input; a missing "lowercase" is true, as before).
 *
 * It also holds a transformer model's tokenizer (prep_tok_*): the cleaner of
 * the stored preprocessing and the WordPiece tokeniser over tokenizer/vocab.txt,
 * one pool per model; the plugin (bert.cpp) gets token ids only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "arxiv.h"
#include "internal.h"

struct arxiv_prep
arxiv_prep_default(void)
{
	struct arxiv_prep p;

	memset(&p, 0, sizeof(p));
	snprintf(p.input, sizeof(p.input), "text");
	p.lowercase = 1;
	return p;
}

int
arxiv_prep_read(const char *path, struct arxiv_prep *p, struct arxiv_error *err)
{
	json_error_t je;
	json_t *o, *tok, *v;
	const char *s;
	int flat;

	*p = arxiv_prep_default();
	if ((o = json_load_file(path, 0, &je)) == NULL) {
		arxiv_error_set(err, path, je.line > 0 ? je.line : 0, "%s", je.text);
		return -1;
	}
	if (!json_is_object(o))
		goto bad;
	/* the flat schema of the transformer's artifacts before this module */
	flat = json_object_get(o, "input") == NULL && json_object_get(o, "seq_len") != NULL;
	tok = flat ? o : json_object_get(o, "tok");
	s = flat ? "wordpiece" : json_string_value(json_object_get(o, "input"));
	if (s == NULL || (strcmp(s, "text") != 0 && strcmp(s, "wordpiece") != 0))
		goto bad;
	snprintf(p->input, sizeof(p->input), "%s", s);
	v = json_object_get(o, "prep");
	if (v != NULL && !json_is_string(v))
		goto bad;
	if (!flat && v == NULL)
		goto bad;
	if (v && snprintf(p->prep, sizeof(p->prep), "%s", json_string_value(v)) >= (int)sizeof(p->prep))
		goto bad;
	p->abstract_only = json_is_true(json_object_get(json_object_get(o, "map"), "abstract_only"));
	if (strcmp(p->input, "wordpiece") == 0) {
		json_int_t sl = json_integer_value(json_object_get(tok, "seq_len"));

		if (!json_is_object(tok) || sl < 2 || sl > 65536) {
			arxiv_error_set(err, path, 0, "bad \"tok\" settings (seq_len)");
			json_decref(o);
			return -1;
		}
		p->seq_len = (size_t)sl;
		v = json_object_get(tok, "lowercase");
		p->lowercase = v == NULL || json_is_true(v);
		if ((s = json_string_value(json_object_get(tok, "vocab_hash"))) != NULL) {
			p->vocab_hash = strtoull(s, NULL, 16);
			p->has_vocab_hash = 1;
		}
		p->vocab_size = (size_t)json_integer_value(json_object_get(tok, "vocab_size"));
	}
	json_decref(o);
	return 0;
bad:
	arxiv_error_set(err, path, 0, "\"input\" and \"prep\" missing or malformed");
	json_decref(o);
	return -1;
}

int
arxiv_prep_write(const char *path, const struct arxiv_prep *p, struct arxiv_error *err)
{
	struct arxiv_atomic *a;
	json_t *o, *tok;
	char h[24];
	int wp = strcmp(p->input, "wordpiece") == 0;

	o = json_pack("{s:s,s:s,s:{s:b}}", "input", wp ? "wordpiece" : "text", "prep", p->prep,
	    "map", "abstract_only", p->abstract_only ? 1 : 0);
	if (o && wp) {
		tok = json_pack("{s:I,s:b}", "seq_len", (json_int_t)p->seq_len, "lowercase",
		    p->lowercase ? 1 : 0);
		if (tok && p->has_vocab_hash) {
			snprintf(h, sizeof(h), "%016llx", (unsigned long long)p->vocab_hash);
			json_object_set_new(tok, "vocab_hash", json_string(h));
		}
		if (tok && p->vocab_size)
			json_object_set_new(tok, "vocab_size", json_integer((json_int_t)p->vocab_size));
		if (tok == NULL || json_object_set_new(o, "tok", tok) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o == NULL) {
		arxiv_error_set(err, path, 0, "out of memory");
		return -1;
	}
	if ((a = arxiv_atomic_open(path, NULL, err)) == NULL) {
		json_decref(o);
		return -1;
	}
	if (json_dumpf(o, arxiv_atomic_file(a), JSON_INDENT(2)) < 0 ||
	    fputc('\n', arxiv_atomic_file(a)) == EOF) {
		arxiv_error_set(err, path, 0, "write error: %s", strerror(errno ? errno : EIO));
		arxiv_atomic_abort(a);
		json_decref(o);
		return -1;
	}
	json_decref(o);
	return arxiv_atomic_commit(a, err);
}

/* ------------------------------------------ a transformer model's tokenizer */

/* What one caller needs at a time: a cleaner, a word cache, a buffer. */
struct prep_worker {
	struct prep_worker *next;
	struct arxiv_cleaner *cl;	/* NULL: no cleaning */
	struct arxiv_tok_cache *cache;
	struct arxiv_buf buf;
};

struct prep_tok {
	struct arxiv_vocab *vocab;
	struct arxiv_tok_params tp;
	int clean;
	struct arxiv_clean_params cp;
	pthread_mutex_t lock;
	struct prep_worker *idle;	/* made on demand, kept for the model's life */
};

static void
worker_free(struct prep_worker *w)
{
	if (w == NULL)
		return;
	arxiv_cleaner_free(w->cl);
	arxiv_tok_cache_free(w->cache);
	arxiv_buf_free(&w->buf);
	free(w);
}

static struct prep_worker *
worker_get(struct prep_tok *t, struct arxiv_error *err)
{
	struct prep_worker *w;

	pthread_mutex_lock(&t->lock);
	if ((w = t->idle) != NULL)
		t->idle = w->next;
	pthread_mutex_unlock(&t->lock);
	if (w != NULL)
		return w;
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->cache = arxiv_tok_cache_new()) == NULL) {
		worker_free(w);
		arxiv_error_set(err, "", 0, "out of memory");
		return NULL;
	}
	if (t->clean && (w->cl = arxiv_cleaner_new(&t->cp, err)) == NULL) {
		worker_free(w);
		return NULL;
	}
	return w;
}

static void
worker_put(struct prep_tok *t, struct prep_worker *w)
{
	pthread_mutex_lock(&t->lock);
	w->next = t->idle;
	t->idle = w;
	pthread_mutex_unlock(&t->lock);
}

static char *
path_join(const char *dir, const char *name, struct arxiv_error *err)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p == NULL)
		arxiv_error_set(err, dir, 0, "out of memory");
	else
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* A plain folder's tokenizer_config.json: do_lower_case (default true, as
 * Hugging Face's BertTokenizer). 1, 0, or -1 with err. */
static int
plain_lowercase(const char *dir, struct arxiv_error *err)
{
	char *p = path_join(dir, "tokenizer_config.json", err);
	json_error_t je;
	json_t *o, *v;
	int lc;

	if (p == NULL)
		return -1;
	if (access(p, F_OK) != 0) {
		free(p);
		return 1;
	}
	if ((o = json_load_file(p, 0, &je)) == NULL) {
		arxiv_error_set(err, p, je.line > 0 ? je.line : 0, "%s", je.text);
		free(p);
		return -1;
	}
	v = json_object_get(o, "do_lower_case");
	lc = v == NULL || json_is_true(v);
	json_decref(o);
	free(p);
	return lc;
}

static int
tok_settings(struct prep_tok *t, const char *dir, const struct prep_tok_model *mi,
    const char *vocab_path, struct arxiv_error *err)
{
	struct arxiv_prep pr;
	char *pp;
	int lc;

	if (arxiv_vocab_size(t->vocab) != mi->vocab_size) {
		arxiv_error_set(err, vocab_path, 0, "%zu pieces, but config.json has vocab_size %lld",
		    arxiv_vocab_size(t->vocab), (long long)mi->vocab_size);
		return -1;
	}
	if (!mi->artifacts) {	/* a plain Hugging Face folder: raw text */
		if ((lc = plain_lowercase(dir, err)) < 0)
			return -1;
		t->tp.seq_len = mi->seq_len;
		t->tp.lowercase = lc;
		return 0;
	}
	if ((pp = path_join(dir, "preprocess.json", err)) == NULL)
		return -1;
	if (arxiv_prep_read(pp, &pr, err) < 0)
		goto fail;
	if (strcmp(pr.input, "wordpiece") != 0) {
		arxiv_error_set(err, pp, 0, "\"input\" must be \"wordpiece\" for a transformer");
		goto fail;
	}
	if (pr.seq_len > mi->max_pos) {
		arxiv_error_set(err, pp, 0, "'seq_len' missing or out of range [2, %lld]",
		    (long long)mi->max_pos);
		goto fail;
	}
	t->tp.seq_len = pr.seq_len;
	t->tp.lowercase = pr.lowercase != 0;
	if (pr.has_vocab_hash && pr.vocab_hash != arxiv_vocab_hash(t->vocab)) {
		arxiv_error_set(err, vocab_path, 0, "vocabulary hash differs from the one trained with");
		goto fail;
	}
	if (pr.prep[0] != '\0') {
		if (arxiv_clean_params_parse(pr.prep, NULL, &t->cp, err) < 0)
			goto fail;
		t->clean = 1;
	}
	free(pp);
	return 0;
fail:
	free(pp);
	return -1;
}

struct prep_tok *
prep_tok_open(const char *dir, const struct prep_tok_model *mi, size_t max_tokens,
    struct arxiv_error *err)
{
	struct prep_tok *t;
	char *tdir = NULL, *vp = NULL;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		arxiv_error_set(err, dir, 0, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->tp = arxiv_tok_default_params();
	tdir = mi->artifacts ? path_join(dir, "tokenizer", err) : strdup(dir);
	if (tdir == NULL || (vp = path_join(tdir, "vocab.txt", err)) == NULL)
		goto fail;
	if ((t->vocab = arxiv_vocab_load(vp, err)) == NULL)
		goto fail;
	if (tok_settings(t, tdir, mi, vp, err) < 0)
		goto fail;
	if (max_tokens >= 2 && max_tokens < t->tp.seq_len)
		t->tp.seq_len = max_tokens;
	free(tdir);
	free(vp);
	return t;
fail:
	if (tdir == NULL)
		arxiv_error_set(err, dir, 0, "out of memory");
	free(tdir);
	free(vp);
	prep_tok_free(t);
	return NULL;
}

void
prep_tok_free(struct prep_tok *t)
{
	struct prep_worker *w;

	if (t == NULL)
		return;
	while ((w = t->idle) != NULL) {
		t->idle = w->next;
		worker_free(w);
	}
	arxiv_vocab_free(t->vocab);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

size_t
prep_tok_seq_len(const struct prep_tok *t)
{
	return t->tp.seq_len;
}

const struct arxiv_vocab *
prep_tok_vocab(const struct prep_tok *t)
{
	return t->vocab;
}

int
prep_tok_encode(struct prep_tok *t, const char *const *texts, const size_t *lens, size_t n,
    uint32_t *ids, uint8_t *mask, size_t *n_tokens, struct arxiv_error *err)
{
	struct prep_worker *w;
	size_t i, S = t->tp.seq_len;
	int rc = 0;

	if (n == 0)
		return 0;
	if ((w = worker_get(t, err)) == NULL)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		const char *s = texts[i];
		size_t len = lens ? lens[i] : strlen(s), nt = 0;

		if (w->cl != NULL) {
			if (arxiv_clean_text(w->cl, s, len, &w->buf, err) != 0) {
				err->line = (long)i + 1;
				rc = -1;
				break;
			}
			s = w->buf.data ? w->buf.data : "";
			len = w->buf.len;
		}
		if (arxiv_tok_encode_cached(w->cache, 0, t->vocab, &t->tp, s, len, ids + i * S,
		    mask + i * S, &nt, err) != 0) {
			err->line = (long)i + 1;
			rc = -1;
		}
		if (n_tokens != NULL)
			n_tokens[i] = nt;
	}
	worker_put(t, w);
	return rc;
}

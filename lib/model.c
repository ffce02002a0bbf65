/*
 * model.c - the model API of arxiv.h over an artifacts directory: reads
 * metadata/artifact.json (format, version, model_type) and label2id.json, then
 * hands the rest to the fast model (fasttext.c, with the stored preprocessing
 * re-created from tokenizer/preprocess.json) or to the transformer hooks
 * (bert_load/bert_predict of internal.h).
 *
 * Thread safety: a loaded model is read-only. The fast model's per-call state
 * (a cleaner, which holds a stemmer, and scratch buffers) comes from a small
 * pool guarded by a mutex, so any number of threads can predict at once.
 */
#include <math.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "answer.h"

struct fast_ctx {
	struct fast_ctx *next;
	struct arxiv_cleaner *cleaner;
	struct arxiv_buf clean;
	struct ft_feats f;
	float *probs, *hidden;
	uint32_t *ids;
	uint8_t *mask;
};

struct arxiv_model {
	const struct model_kind *kind;
	char type[8];
	int version;
	size_t n_labels;
	char **labels;
	char **labels_json;	/* each label as a JSON string literal */
	/* fast */
	struct ft_model *ft;
	int do_clean;
	struct arxiv_clean_params cp;
	char stem_lang[32];
	struct arxiv_vocab *vocab;
	struct arxiv_tok_params tp;
	pthread_mutex_t lock;
	struct fast_ctx *pool;
	/* bert */
	struct bert_model *bert;
	/* fields threshold and domain check (decision.c) */
	struct dec *dec;
};

struct arxiv_model_opts
arxiv_model_default_opts(void)
{
	struct arxiv_model_opts o = { "auto", 0, "auto", 0 };

	return o;
}

static void
ctx_free(struct fast_ctx *c)
{
	if (c == NULL)
		return;
	arxiv_cleaner_free(c->cleaner);
	arxiv_buf_free(&c->clean);
	free(c->f.v);
	free(c->probs);
	free(c->ids);
	free(c->mask);
	free(c);
}

void
arxiv_model_free(struct arxiv_model *m)
{
	struct fast_ctx *c, *next;
	size_t i;

	if (m == NULL)
		return;
	for (c = m->pool; c; c = next) {
		next = c->next;
		ctx_free(c);
	}
	for (i = 0; i < m->n_labels; i++) {
		free(m->labels[i]);
		if (m->labels_json)
			free(m->labels_json[i]);
	}
	free(m->labels);
	free(m->labels_json);
	ft_free(m->ft);
	arxiv_vocab_free(m->vocab);
	bert_free(m->bert);
	dec_free(m->dec);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static json_t *
load_json(const char *dir, const char *name, struct arxiv_error *err)
{
	char path[4200];
	json_error_t je;
	json_t *o;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((o = json_load_file(path, 0, &je)) == NULL) {
		if (je.line < 0)	/* could not open */
			arxiv_error_set(err, path, 0, "%s", errno ? strerror(errno) : je.text);
		else
			arxiv_error_set(err, path, je.line, "invalid JSON: %s", je.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		arxiv_error_set(err, path, 0, "not a JSON object");
		json_decref(o);
		return NULL;
	}
	return o;
}

static int
load_labels(struct arxiv_model *m, const char *dir, struct arxiv_error *err)
{
	json_t *o, *v;
	const char *k;
	size_t n;
	json_int_t id;

	if ((o = load_json(dir, "metadata/label2id.json", err)) == NULL)
		return -1;
	n = json_object_size(o);
	if (n < 1 || n > 64) {
		arxiv_error_set(err, dir, 0, "metadata/label2id.json: need 1 to 64 labels");
		goto fail;
	}
	m->labels = calloc(n, sizeof(char *));
	m->labels_json = calloc(n, sizeof(char *));
	if (m->labels == NULL || m->labels_json == NULL)
		goto nomem;
	m->n_labels = n;
	json_object_foreach(o, k, v) {
		id = json_integer_value(v);
		if (!json_is_integer(v) || id < 0 || (size_t)id >= n || m->labels[id]) {
			arxiv_error_set(err, dir, 0, "metadata/label2id.json: bad or duplicate id "
			    "for '%.40s'", k);
			goto fail;
		}
		json_t *s = json_string(k);
		m->labels[id] = strdup(k);
		m->labels_json[id] = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
		json_decref(s);
		if (m->labels[id] == NULL || m->labels_json[id] == NULL)
			goto nomem;
	}
	json_decref(o);
	return 0;
nomem:
	arxiv_error_set(err, dir, 0, "out of memory");
fail:
	json_decref(o);
	return -1;
}

static int
load_fast(struct arxiv_model *m, const char *dir, const struct arxiv_model_opts *opts,
    struct arxiv_error *err)
{
	struct arxiv_prep pp;
	char path[4200];

	(void)opts;
	if ((m->ft = ft_load(dir, err)) == NULL)
		return -1;
	if ((size_t)m->ft->c.n_labels != m->n_labels) {
		arxiv_error_set(err, dir, 0, "model/config.json has %d labels, label2id.json %zu",
		    m->ft->c.n_labels, m->n_labels);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/tokenizer/preprocess.json", dir);
	if (arxiv_prep_read(path, &pp, err) < 0)
		return -1;
	if ((strcmp(pp.input, "wordpiece") == 0) != (m->ft->c.ids != 0)) {
		arxiv_error_set(err, dir, 0, "tokenizer/preprocess.json: \"input\" is not that of "
		    "model/config.json");
		return -1;
	}
	if (pp.prep[0]) {
		if (arxiv_clean_params_parse(pp.prep, NULL, &m->cp, err) < 0)
			return -1;
		/* the parsed params may point into the signature: keep our own copy */
		snprintf(m->stem_lang, sizeof(m->stem_lang), "%s",
		    m->cp.stem_lang ? m->cp.stem_lang : "english");
		m->cp.stem_lang = m->stem_lang;
		m->do_clean = 1;
	}
	if (m->ft->c.ids) {
		m->tp = arxiv_tok_default_params();
		m->tp.seq_len = pp.seq_len;
		m->tp.lowercase = pp.lowercase;
		snprintf(path, sizeof(path), "%s/tokenizer/vocab.txt", dir);
		if ((m->vocab = arxiv_vocab_load(path, err)) == NULL)
			return -1;
		if (pp.has_vocab_hash && arxiv_vocab_hash(m->vocab) != pp.vocab_hash) {
			arxiv_error_set(err, path, 0, "vocabulary hash differs from the one trained with");
			return -1;
		}
	}
	return 0;
}

struct arxiv_model *
arxiv_model_load(const char *dir, const struct arxiv_model_opts *o, struct arxiv_error *err)
{
	struct arxiv_model_opts def = arxiv_model_default_opts();
	struct arxiv_model *m;
	json_t *a;
	const char *fmt, *type;
	json_int_t ver;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		arxiv_error_set(err, dir, 0, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	if ((a = load_json(dir, "metadata/artifact.json", err)) == NULL) {
		if (err && strstr(err->text, "No such file")) {
			arxiv_error_set(err, dir, 0, "not an arxiv artifacts directory "
			    "(no metadata/artifact.json)");
		}
		goto fail;
	}
	fmt = json_string_value(json_object_get(a, "format"));
	ver = json_integer_value(json_object_get(a, "version"));
	type = json_string_value(json_object_get(a, "model_type"));
	if (fmt == NULL || strcmp(fmt, "arxiv-artifacts") != 0) {
		arxiv_error_set(err, dir, 0, "not an arxiv artifacts directory (format is not "
		    "\"arxiv-artifacts\")");
		goto fail;
	}
	if (!json_is_integer(json_object_get(a, "version")) || ver != ARXIV_ARTIFACT_VERSION) {
		arxiv_error_set(err, dir, 0, "unsupported artifact version %lld (this arxiv reads %d)",
		    (long long)ver, ARXIV_ARTIFACT_VERSION);
		goto fail;
	}
	if (type == NULL || (m->kind = model_kind_find(type)) == NULL) {
		arxiv_error_set(err, dir, 0, "unknown model_type '%s'", type ? type : "");
		goto fail;
	}
	snprintf(m->type, sizeof(m->type), "%s", m->kind->name);
	m->version = (int)ver;
	json_decref(a);
	a = NULL;
	if (load_labels(m, dir, err) < 0)
		goto fail;
	if (m->kind->load(m, dir, o ? o : &def, err) < 0)
		goto fail;
	if ((m->dec = dec_load(dir, err)) == NULL)
		goto fail;
	return m;
fail:
	json_decref(a);
	arxiv_model_free(m);
	return NULL;
}

const char *
arxiv_model_type(const struct arxiv_model *m)
{
	return m->type;
}

int
arxiv_model_version(const struct arxiv_model *m)
{
	return m->version;
}

size_t
arxiv_model_nlabels(const struct arxiv_model *m)
{
	return m->n_labels;
}

const char *
arxiv_model_label(const struct arxiv_model *m, size_t i)
{
	return i < m->n_labels ? m->labels[i] : NULL;
}

size_t
arxiv_model_dim(const struct arxiv_model *m)
{
	return m->kind->dim(m);
}

int
arxiv_model_threads_inside(const struct arxiv_model *m)
{
	return m->kind->threads_inside;
}

static size_t
fast_dim(const struct arxiv_model *m)
{
	return m->ft ? (size_t)m->ft->c.dim : 0;
}

/* --------------------------------------------------------------- predict */

static struct fast_ctx *
ctx_get(const struct arxiv_model *cm, struct arxiv_error *err)
{
	struct arxiv_model *m = (struct arxiv_model *)cm;	/* the pool is the mutable part */
	struct fast_ctx *c;

	pthread_mutex_lock(&m->lock);
	if ((c = m->pool) != NULL)
		m->pool = c->next;
	pthread_mutex_unlock(&m->lock);
	if (c)
		return c;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	if ((c->probs = malloc(sizeof(float) * ((size_t)m->ft->c.n_labels +
	    (size_t)m->ft->c.dim + 1))) == NULL)
		goto nomem;
	c->hidden = c->probs + m->ft->c.n_labels;
	if (m->do_clean && (c->cleaner = arxiv_cleaner_new(&m->cp, err)) == NULL) {
		ctx_free(c);
		return NULL;
	}
	if (m->vocab && ((c->ids = malloc(m->tp.seq_len * sizeof(*c->ids))) == NULL ||
	    (c->mask = malloc(m->tp.seq_len)) == NULL))
		goto nomem;
	return c;
nomem:
	ctx_free(c);
	arxiv_error_set(err, "", 0, "out of memory");
	return NULL;
}

static void
ctx_put(const struct arxiv_model *cm, struct fast_ctx *c)
{
	struct arxiv_model *m = (struct arxiv_model *)cm;

	pthread_mutex_lock(&m->lock);
	c->next = m->pool;
	m->pool = c;
	pthread_mutex_unlock(&m->lock);
}

/* Features of one raw text with the stored preprocessing. */
static int
fast_feats(const struct arxiv_model *m, struct fast_ctx *c, const char *text, size_t len,
    struct arxiv_error *err)
{
	size_t n_tok;

	if (m->do_clean) {
		if (arxiv_clean_text(c->cleaner, text, len, &c->clean, err) < 0)
			return -1;
		text = c->clean.data ? c->clean.data : "";
		len = c->clean.len;
	}
	if (m->vocab) {
		if (arxiv_tok_encode(m->vocab, &m->tp, text, len, c->ids, c->mask, &n_tok, err) < 0)
			return -1;
		if (ft_feats_ids(&m->ft->c, c->ids, n_tok, &c->f) < 0)
			goto nomem;
		return 0;
	}
	if (ft_feats_text(&m->ft->c, text, len, &c->f) < 0)
		goto nomem;
	return 0;
nomem:
	arxiv_error_set(err, "", 0, "out of memory");
	return -1;
}

int
arxiv_model_predict(const struct arxiv_model *m, const char *const *texts, const size_t *lens,
    size_t n, size_t k, struct arxiv_prediction *out, struct arxiv_error *err)
{
	if (k > m->n_labels)
		k = m->n_labels;
	if (k > ARXIV_TOPK_MAX)
		k = ARXIV_TOPK_MAX;
	if (k == 0)
		k = 1;
	return m->kind->predict(m, texts, lens, n, k, out, err);
}

static int
fast_predict(const struct arxiv_model *m, const char *const *texts, const size_t *lens,
    size_t n, size_t k, struct arxiv_prediction *out, struct arxiv_error *err)
{
	struct fast_ctx *c;
	size_t i;
	int rc = 0;

	if ((c = ctx_get(m, err)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		size_t len = lens ? lens[i] : strlen(texts[i]);
		if (fast_feats(m, c, texts[i], len, err) < 0) {
			if (err)
				err->line = (long)i + 1;
			rc = -1;
			break;
		}
		ft_probs(m->ft, &c->f, c->hidden, c->probs);
		ft_topk(c->probs, m->ft->c.n_labels, k, &out[i]);
	}
	ctx_put(m, c);
	return rc;
}

int
arxiv_model_embed(const struct arxiv_model *m, const char *const *texts, const size_t *lens,
    size_t n, float *out, struct arxiv_error *err)
{
	return m->kind->embed(m, texts, lens, n, out, err);
}

static int
fast_embed(const struct arxiv_model *m, const char *const *texts, const size_t *lens,
    size_t n, float *out, struct arxiv_error *err)
{
	struct fast_ctx *c;
	size_t i, d;
	int rc = 0;

	if ((d = (size_t)m->ft->c.dim) == 0) {
		arxiv_error_set(err, "", 0, "this fast model (dim 0) has no embeddings");
		return -1;
	}
	if ((c = ctx_get(m, err)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (fast_feats(m, c, texts[i], lens ? lens[i] : strlen(texts[i]), err) < 0) {
			if (err)
				err->line = (long)i + 1;
			rc = -1;
			break;
		}
		ft_probs(m->ft, &c->f, c->hidden, c->probs);
		memcpy(out + i * d, c->hidden, d * sizeof(float));
	}
	ctx_put(m, c);
	return rc;
}

/* A score as JSON: never NaN or Inf (null instead), though a loaded model's
 * weights are all finite. */
static int
put_score(struct arxiv_buf *out, double v)
{
	return isfinite(v) ? arxiv_buf_printf(out, "%.4f", v) : arxiv_buf_append(out, "null", 4);
}

int
arxiv_prediction_json(const struct arxiv_model *m, const struct arxiv_prediction *p,
    struct arxiv_buf *out)
{
	size_t i;
	int rc = 0;

	arxiv_buf_clear(out);
	if (p->k == 0 || p->label[0] < 0 || (size_t)p->label[0] >= m->n_labels)
		return -1;
	rc |= arxiv_buf_printf(out, "{\"predicted_category\":%s,\"confidence\":",
	    m->labels_json[p->label[0]]);
	rc |= put_score(out, (double)p->score[0]);
	rc |= arxiv_buf_append(out, ",\"top_k\":[", 10);
	for (i = 0; i < p->k && rc == 0; i++) {
		if (p->label[i] < 0 || (size_t)p->label[i] >= m->n_labels)
			return -1;
		rc |= arxiv_buf_printf(out, "%s{\"label\":%s,\"score\":", i ? "," : "",
		    m->labels_json[p->label[i]]);
		rc |= put_score(out, (double)p->score[i]);
		rc |= arxiv_buf_putc(out, '}');
	}
	rc |= arxiv_buf_append(out, "]}", 2);
	return rc ? -1 : 0;
}

/* ---------------------------------------------------------- model kinds */

static int
load_bert(struct arxiv_model *m, const char *dir, const struct arxiv_model_opts *o,
    struct arxiv_error *err)
{
	return (m->bert = bert_load(dir, o, err)) == NULL ? -1 : 0;
}

static int
predict_bert(const struct arxiv_model *m, const char *const *texts, const size_t *lens,
    size_t n, size_t k, struct arxiv_prediction *out, struct arxiv_error *err)
{
	return bert_predict(m->bert, texts, lens, n, k, out, err);
}

static int
embed_bert(const struct arxiv_model *m, const char *const *texts, const size_t *lens,
    size_t n, float *out, struct arxiv_error *err)
{
	return bert_embed(m->bert, texts, lens, n, out, err);
}

static size_t
dim_bert(const struct arxiv_model *m)
{
	return bert_dim(m->bert);
}

/* The model kinds; the first is the default. */
static const struct model_kind kinds[] = {
	{ "fast", 0, ft_default_params, ft_params_lr, ft_check_params, fast_train,
	    load_fast, fast_predict, fast_embed, fast_dim },
	{ "bert", 1, bert_default_params, bert_params_lr, bert_check_params, bert_train_kind,
	    load_bert, predict_bert, embed_bert, dim_bert },
};

const struct model_kind *
model_kind_at(size_t i)
{
	return i < sizeof(kinds) / sizeof(kinds[0]) ? &kinds[i] : NULL;
}

const struct model_kind *
model_kind_find(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return &kinds[0];
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	return NULL;
}

const char *
arxiv_model_kind_name(size_t i)
{
	const struct model_kind *k = model_kind_at(i);

	return k ? k->name : NULL;
}

/* ------------------------------------------------ for answer.c (answer.h) */

const struct ft_model *
model_ft(const struct arxiv_model *m)
{
	return m->ft;
}

const struct dec *
model_dec(const struct arxiv_model *m)
{
	return m->dec;
}

const struct arxiv_clean_params *
model_clean_params(const struct arxiv_model *m)
{
	return m->ft && m->do_clean ? &m->cp : NULL;
}

const struct bert_model *
model_bert(const struct arxiv_model *m)
{
	return m->bert;
}

int
model_text_input(const struct arxiv_model *m)
{
	return m->ft != NULL && !m->ft->c.ids && m->vocab == NULL;
}

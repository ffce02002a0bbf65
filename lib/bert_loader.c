/*
 * bert_loader.c - the transformer hooks of internal.h.
 *
 * libtorch is big (hundreds of MiB mapped, a second of start-up), and libarxiv
 * is also linked by the text filters that must start fast and stay small, so
 * the transformer code lives in a plugin, libarxiv_torch.so.1 (bert.cpp),
 * which is dlopen()ed on the first transformer call. It is looked for, in
 * order: $ARXIV_TORCH_PLUGIN (a path), next to the libarxiv.so that holds this
 * code (found with dladdr), in ../lib from the running program (static
 * builds), then by the dynamic linker's search path. A build without libtorch
 * (TORCH=0) has no plugin: every hook then fails with a clear error.
 *
 * The plugin sees token ids only: the model's tokenizer (cleaning and
 * WordPiece, prep.c) is held here, training's JSONL texts are tokenised here
 * (with the vocabulary the plugin's train_tok names), and an explanation's
 * per-token weights are summed into words here.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bert_plugin.h"
#include "answer.h"

struct bert_model {
	const struct arxiv_torch_api *api;
	void *impl;
	struct prep_tok *tok;	/* its tokenizer */
};

static pthread_once_t plugin_once = PTHREAD_ONCE_INIT;
static const struct arxiv_torch_api *plugin_api;	/* set once, read-only after */
static char plugin_err[160];

/* dir of path (which is modified) or "." */
static const char *
dir_of(char *path)
{
	char *s = strrchr(path, '/');

	if (s == NULL)
		return ".";
	*s = '\0';
	return path;
}

static void *
try_open(const char *path, char *why, size_t n)
{
	void *h;
	const char *e;

	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) != NULL)
		return h;
	e = dlerror();
	/* keep the first reason that is not "no such file": it says more */
	if (why[0] == '\0' || strstr(why, "No such file") != NULL)
		snprintf(why, n, "%s", e ? e : "dlopen failed");
	return NULL;
}

static void
plugin_init(void)
{
	char path[PATH_MAX + 32], self[PATH_MAX], why[sizeof(plugin_err) - 64] = "";
	const char *env = getenv("ARXIV_TORCH_PLUGIN");
	void *h = NULL;
	Dl_info info;
	ssize_t len;
	arxiv_torch_plugin_fn fn;
	const struct arxiv_torch_api *api;

	if (env != NULL && *env != '\0')
		h = try_open(env, why, sizeof(why));
	if (h == NULL && dladdr(&plugin_once, &info) && info.dli_fname != NULL &&
	    strlen(info.dli_fname) < sizeof(self)) {
		strcpy(self, info.dli_fname);
		snprintf(path, sizeof(path), "%s/%s", dir_of(self), ARXIV_TORCH_SONAME);
		if (access(path, F_OK) == 0)
			h = try_open(path, why, sizeof(why));
	}
	if (h == NULL && (len = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[len] = '\0';
		snprintf(path, sizeof(path), "%s/../lib/%s", dir_of(self), ARXIV_TORCH_SONAME);
		if (access(path, F_OK) == 0)
			h = try_open(path, why, sizeof(why));
	}
	if (h == NULL)
		h = try_open(ARXIV_TORCH_SONAME, why, sizeof(why));
	if (h == NULL) {
		if (strstr(why, "No such file") != NULL)
			snprintf(plugin_err, sizeof(plugin_err), "transformer models need %s, which "
			    "is not installed (a build without libtorch, TORCH=0?)", ARXIV_TORCH_SONAME);
		else
			snprintf(plugin_err, sizeof(plugin_err), "transformer models need %s: %s",
			    ARXIV_TORCH_SONAME, why);
		return;
	}
	*(void **)&fn = dlsym(h, ARXIV_TORCH_SYMBOL);
	if (fn == NULL || (api = fn()) == NULL) {
		snprintf(plugin_err, sizeof(plugin_err), "%s: no %s entry point",
		    ARXIV_TORCH_SONAME, ARXIV_TORCH_SYMBOL);
		dlclose(h);
		return;
	}
	if (api->abi != ARXIV_TORCH_ABI) {
		snprintf(plugin_err, sizeof(plugin_err),
		    "%s has plugin ABI %d, this libarxiv needs %d; reinstall both together",
		    ARXIV_TORCH_SONAME, api->abi, ARXIV_TORCH_ABI);
		dlclose(h);
		return;
	}
	arxiv_log(ARXIV_LOG_DEBUG, "loaded %s (libtorch %s)", ARXIV_TORCH_SONAME,
	    api->torch_version);
	plugin_api = api;	/* the handle stays open for the process's life */
}

const struct arxiv_torch_api *
bert_plugin(struct arxiv_error *err)
{
	pthread_once(&plugin_once, plugin_init);
	if (plugin_api == NULL)
		arxiv_error_set(err, "", 0, "%s", plugin_err);
	return plugin_api;
}

/*
 * A data set as the plugin's train takes it: d itself when it has token ids
 * (tokenised with vocabulary v, else refused), or a copy of d with its JSONL
 * texts tokenised as they are (no cleaning) by t's settings; the copy's
 * ids and mask are freed by the caller. 0 or -1 with err.
 */
static int
train_ids(const struct arxiv_dataset *d, const struct arxiv_vocab *v,
    const struct arxiv_torch_tok *t, struct arxiv_dataset *out, struct arxiv_error *err)
{
	struct arxiv_tok_params tp = arxiv_tok_default_params();
	uint64_t h = arxiv_vocab_hash(v);
	size_t i, S = t->seq_len;

	*out = *d;
	if (d->ids != NULL) {
		if (d->vocab_hash != h) {
			arxiv_error_set(err, d->name, 0, "tokenised with another vocabulary (hash "
			    "%016llx) than the checkpoint's vocab.txt (%016llx); run arxiv-tok with "
			    "that vocab.txt", (unsigned long long)d->vocab_hash, (unsigned long long)h);
			return -1;
		}
		return 0;
	}
	if (d->text == NULL) {
		arxiv_error_set(err, d->name, 0, "no token ids or text");
		return -1;
	}
	out->text = NULL;
	out->ids = NULL;
	out->mask = NULL;
	if (S == 0 || d->n > SIZE_MAX / sizeof(uint32_t) / S ||
	    (out->ids = malloc((d->n ? d->n : 1) * S * sizeof(uint32_t))) == NULL ||
	    (out->mask = malloc((d->n ? d->n : 1) * S)) == NULL) {
		free(out->ids);
		out->ids = NULL;
		arxiv_error_set(err, d->name, 0, "out of memory");
		return -1;
	}
	tp.seq_len = S;
	tp.lowercase = t->lowercase;
	for (i = 0; i < d->n; i++)
		if (arxiv_tok_encode(v, &tp, d->text[i], strlen(d->text[i]), out->ids + i * S,
		    out->mask + i * S, NULL, err) != 0) {
			err->line = (long)i + 1;
			free(out->ids);
			free(out->mask);
			out->ids = NULL;
			out->mask = NULL;
			return -1;
		}
	out->seq_len = S;
	out->vocab_hash = h;
	out->tok_flags = t->lowercase ? 1u : 0u;
	out->prep = (char *)"";	/* JSONL text is tokenised as it is */
	return 0;
}

/* The plugin trains on token ids: the vocabulary, lowercasing and sequence
 * length of the run are its train_tok's; the JSONL text data sets are
 * tokenised with them here. */
int
bert_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp_dir, struct arxiv_prediction *val_out,
    struct arxiv_error *err)
{
	const struct arxiv_torch_api *api = bert_plugin(err);
	struct arxiv_torch_tok t;
	struct arxiv_vocab *v = NULL;
	struct arxiv_dataset tr, va;
	int rc = -1;

	if (api == NULL)
		return -1;
	memset(&t, 0, sizeof(t));
	memset(&tr, 0, sizeof(tr));
	memset(&va, 0, sizeof(va));
	if (api->train_tok(p, train, &t, err) < 0)
		return -1;
	if ((v = arxiv_vocab_load(t.vocab, err)) == NULL)
		return -1;
	if (arxiv_vocab_size(v) != t.vocab_size) {
		arxiv_error_set(err, t.vocab, 0, "%zu pieces, but config.json has vocab_size %zu",
		    arxiv_vocab_size(v), t.vocab_size);
		goto out;
	}
	if (train_ids(train, v, &t, &tr, err) < 0 ||
	    (val != NULL && train_ids(val, v, &t, &va, err) < 0))
		goto out;
	rc = api->train(p, &tr, val ? &va : NULL, tmp_dir, val_out, err);
out:
	if (train->ids == NULL) {
		free(tr.ids);
		free(tr.mask);
	}
	if (val != NULL && val->ids == NULL) {
		free(va.ids);
		free(va.mask);
	}
	arxiv_vocab_free(v);
	return rc;
}

struct bert_model *
bert_load(const char *dir, const struct arxiv_model_opts *o, struct arxiv_error *err)
{
	const struct arxiv_torch_api *api = bert_plugin(err);
	struct bert_model *b;

	if (api == NULL)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		arxiv_error_set(err, dir, 0, "out of memory");
		return NULL;
	}
	struct arxiv_torch_info info;
	struct prep_tok_model mi;

	memset(&info, 0, sizeof(info));
	b->api = api;
	if ((b->impl = api->load(dir, o, &info, err)) == NULL) {
		free(b);
		return NULL;
	}
	mi.artifacts = info.artifacts;
	mi.vocab_size = info.vocab_size;
	mi.max_pos = info.max_pos;
	mi.seq_len = info.seq_len;
	if ((b->tok = prep_tok_open(dir, &mi, o ? o->max_tokens : 0, err)) == NULL) {
		bert_free(b);
		return NULL;
	}
	return b;
}

void
bert_free(struct bert_model *b)
{
	if (b == NULL)
		return;
	b->api->free(b->impl);
	prep_tok_free(b->tok);
	free(b);
}

size_t
bert_dim(const struct bert_model *b)
{
	return b ? b->api->dim(b->impl) : 0;
}

size_t
bert_nlabels(const struct bert_model *b)
{
	return b ? b->api->nlabels(b->impl) : 0;
}

/* The n texts as token ids (n * seq_len each, freed by the caller); 0 or -1. */
static int
encode(const struct bert_model *b, const char *const *texts, const size_t *lens, size_t n,
    uint32_t **ids, uint8_t **mask, size_t *n_tokens, struct arxiv_error *err)
{
	size_t S = prep_tok_seq_len(b->tok);

	*ids = NULL;
	*mask = NULL;
	if (n > SIZE_MAX / sizeof(uint32_t) / S || (*ids = malloc(n * S * sizeof(uint32_t))) == NULL ||
	    (*mask = malloc(n * S)) == NULL) {
		free(*ids);
		*ids = NULL;
		arxiv_error_set(err, "", 0, "out of memory");
		return -1;
	}
	if (prep_tok_encode(b->tok, texts, lens, n, *ids, *mask, n_tokens, err) < 0) {
		free(*ids);
		free(*mask);
		*ids = NULL;
		*mask = NULL;
		return -1;
	}
	return 0;
}

int
bert_predict(const struct bert_model *b, const char *const *texts, const size_t *lens,
    size_t n, size_t k, struct arxiv_prediction *out, struct arxiv_error *err)
{
	uint32_t *ids;
	uint8_t *mask;
	int rc;

	if (n == 0 || bert_nlabels(b) == 0)	/* the plugin says "no classification head" */
		return b->api->predict(b->impl, NULL, NULL, 0, prep_tok_seq_len(b->tok), k, out, err);
	if (encode(b, texts, lens, n, &ids, &mask, NULL, err) < 0)
		return -1;
	rc = b->api->predict(b->impl, ids, mask, n, prep_tok_seq_len(b->tok), k, out, err);
	free(ids);
	free(mask);
	return rc;
}

int
bert_embed(const struct bert_model *b, const char *const *texts, const size_t *lens,
    size_t n, float *out, struct arxiv_error *err)
{
	uint32_t *ids;
	uint8_t *mask;
	int rc;

	if (n == 0)
		return 0;
	if (encode(b, texts, lens, n, &ids, &mask, NULL, err) < 0)
		return -1;
	rc = b->api->embed(b->impl, ids, mask, n, prep_tok_seq_len(b->tok), out, err);
	free(ids);
	free(mask);
	return rc;
}

int
bert_forward_ids(const struct bert_model *b, const uint32_t *ids, const uint8_t *mask,
    size_t n, size_t len, float *logits, float *pooled, struct arxiv_error *err)
{
	return b->api->forward_ids(b->impl, ids, mask, n, len, logits, pooled, err);
}

/* ---------------------------------------------------------- explanations */

/* One WordPiece word of an explanation: its pieces joined, its spelling in
 * the raw text, its weight. */
struct xword {
	char *key, *shown;
	double w;
	size_t i;	/* position */
};

static int
xword_by_key(const void *a, const void *b)
{
	const struct xword *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

static int
xword_by_weight(const void *a, const void *b)
{
	const struct xword *x = a, *y = b;

	if (x->w != y->w)
		return x->w > y->w ? -1 : 1;
	return strcmp(x->shown, y->shown);
}

/*
 * Explanation of one answer (approximate): the plugin's gradient x input per
 * WordPiece token of the logit margin of label win over label run; here the
 * pieces of a word ("##" continuations) are summed into the word, and a
 * word's occurrences summed. The n words of the largest positive
 * attribution, best first; each shown as the raw text spells it when it is
 * found there (case-insensitively, in order), else as its pieces.
 */
static int
explain_words(const struct arxiv_vocab *v, const uint32_t *ids, const float *a, size_t L,
    const char *text, size_t len, size_t n, struct arxiv_term *out, size_t *n_out)
{
	struct xword *x, *best = NULL;
	size_t nw = 0, i, j, at = 0, nb;
	int rc = -1;

	if ((x = calloc(L, sizeof(*x))) == NULL)
		return -1;
	/* pieces -> words (skipping [CLS] and [SEP]) */
	for (j = 1; j + 1 < L; j++) {
		const char *pc = arxiv_vocab_piece(v, ids[j]);
		size_t pl = pc ? strlen(pc) : 0;

		if (pl > 2 && pc[0] == '#' && pc[1] == '#' && nw > 0) {
			size_t kl = strlen(x[nw - 1].key);
			char *k = realloc(x[nw - 1].key, kl + pl - 1);

			if (k == NULL)
				goto done;
			memcpy(k + kl, pc + 2, pl - 1);
			x[nw - 1].key = k;
			x[nw - 1].w += a[j];
		} else {
			if ((x[nw].key = strdup(pc ? pc : "")) == NULL)
				goto done;
			x[nw].w = a[j];
			x[nw].i = nw;
			nw++;
		}
	}
	/* the raw spelling, matched in order */
	for (i = 0; i < nw; i++) {
		const char *wd = x[i].key;
		size_t wl = strlen(wd), p, q;

		x[i].shown = NULL;
		if (wl > 0 && wd[0] != '[') {
			for (p = at; p + wl <= len; p++) {
				for (q = 0; q < wl && tolower((unsigned char)text[p + q]) ==
				    tolower((unsigned char)wd[q]); q++)
					;
				if (q == wl) {
					if ((x[i].shown = strndup(text + p, wl)) == NULL)
						goto done;
					at = p + wl;
					break;
				}
			}
		}
		if (x[i].shown == NULL && (x[i].shown = strdup(wd)) == NULL)
			goto done;
	}
	/* occurrences summed, in order, by the word's pieces; a word is shown
	 * as its first non-empty spelling */
	qsort(x, nw, sizeof(*x), xword_by_key);
	if ((best = calloc(nw + 1, sizeof(*best))) == NULL)
		goto done;
	for (i = 0, nb = 0; i < nw; i = j) {
		double sum = 0;
		const char *shown = NULL;

		for (j = i; j < nw && strcmp(x[j].key, x[i].key) == 0; j++) {
			sum += x[j].w;
			if (shown == NULL && x[j].shown[0] != '\0')
				shown = x[j].shown;
		}
		if (sum > 0 && isfinite(sum)) {
			best[nb].w = sum;
			best[nb].shown = (char *)(shown ? shown : x[i].shown);
			nb++;
		}
	}
	qsort(best, nb, sizeof(*best), xword_by_weight);
	for (i = 0; i < nb && i < n; i++) {
		snprintf(out[i].term, sizeof(out[i].term), "%s", best[i].shown);
		out[i].weight = (float)best[i].w;
		(*n_out)++;
	}
	rc = 0;
done:
	for (i = 0; i < nw; i++) {
		free(x[i].key);
		free(x[i].shown);
	}
	free(x);
	free(best);
	return rc;
}

int
bert_explain(const struct bert_model *b, const char *text, size_t len, int win, int run,
    size_t n, struct arxiv_term *out, size_t *n_out, struct arxiv_error *err)
{
	size_t nl = bert_nlabels(b), L;
	uint32_t *ids;
	uint8_t *mask;
	float *attr;
	int rc;

	*n_out = 0;
	if (b->api->explain == NULL)
		return 0;
	if (nl == 0) {
		arxiv_error_set(err, "", 0, "this model has no classification head");
		return -1;
	}
	if (win < 0 || run < 0 || (size_t)win >= nl || (size_t)run >= nl || n == 0)
		return 0;
	if (encode(b, &text, &len, 1, &ids, &mask, &L, err) < 0)
		return -1;
	rc = 0;
	if (L >= 3) {
		if ((attr = malloc(L * sizeof(float))) == NULL) {
			arxiv_error_set(err, "", 0, "out of memory");
			rc = -1;
		} else {
			rc = b->api->explain(b->impl, ids, L, win, run, attr, err);
			if (rc == 0 && explain_words(prep_tok_vocab(b->tok), ids, attr, L, text,
			    len, n, out, n_out) < 0) {
				arxiv_error_set(err, "", 0, "out of memory");
				rc = -1;
			}
			free(attr);
		}
	}
	free(ids);
	free(mask);
	return rc;
}

/* ------------------------------------------- the transformer's parameters */

void
bert_default_params(struct arxiv_train_params *p)
{
	p->device = "auto";
	p->precision = "auto";
	p->batch_size = 32;
	p->grad_accum = 1;
	p->weight_decay = 0.01;
	p->warmup_ratio = 0.1;
	p->max_grad_norm = 1.0;
	p->dropout = 0.1;
}

double
bert_params_lr(const struct arxiv_train_params *p)
{
	(void)p;
	return 5e-5;
}

const char *
bert_check_params(const struct arxiv_train_params *p)
{
	if (p->batch_size < 1 || p->grad_accum < 1)
		return "batch_size and grad_accum must be >= 1";
	if (!(p->weight_decay >= 0 && p->weight_decay <= 10))
		return "weight_decay must be in [0, 10]";
	if (!(p->warmup_ratio >= 0 && p->warmup_ratio <= 1))
		return "warmup_ratio must be in [0, 1]";
	if (!(p->max_grad_norm >= 0))
		return "max_grad_norm must be >= 0";
	if (!(p->dropout >= 0 && p->dropout <= 0.99))
		return "dropout must be in [0, 0.99]";
	if (p->precision && strcmp(p->precision, "auto") != 0 &&
	    strcmp(p->precision, "fp32") != 0 && strcmp(p->precision, "fp16") != 0 &&
	    strcmp(p->precision, "bf16") != 0)
		return "precision must be auto, fp32, fp16 or bf16";
	return NULL;
}

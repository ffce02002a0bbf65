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
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bert_plugin.h"
#include "answer.h"

struct bert_model {
	const struct arxiv_torch_api *api;
	void *impl;
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

int
bert_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp_dir, struct arxiv_prediction *val_out,
    struct arxiv_error *err)
{
	const struct arxiv_torch_api *api = bert_plugin(err);

	return api ? api->train(p, train, val, tmp_dir, val_out, err) : -1;
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
	b->api = api;
	if ((b->impl = api->load(dir, o, err)) == NULL) {
		free(b);
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

int
bert_predict(const struct bert_model *b, const char *const *texts, const size_t *lens,
    size_t n, size_t k, struct arxiv_prediction *out, struct arxiv_error *err)
{
	return b->api->predict(b->impl, texts, lens, n, k, out, err);
}

int
bert_embed(const struct bert_model *b, const char *const *texts, const size_t *lens,
    size_t n, float *out, struct arxiv_error *err)
{
	return b->api->embed(b->impl, texts, lens, n, out, err);
}

int
bert_forward_ids(const struct bert_model *b, const uint32_t *ids, const uint8_t *mask,
    size_t n, size_t len, float *logits, float *pooled, struct arxiv_error *err)
{
	return b->api->forward_ids(b->impl, ids, mask, n, len, logits, pooled, err);
}

int
bert_explain(const struct bert_model *b, const char *text, size_t len, int win, int run,
    size_t n, struct arxiv_term *out, size_t *n_out, struct arxiv_error *err)
{
	*n_out = 0;
	if (b->api->explain == NULL)
		return 0;
	return b->api->explain(b->impl, text, len, win, run, n, out, n_out, err);
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

/*
 * trainparams.c - training parameters by name (liblinear's check_parameter):
 * arxiv_train_params_set() sets one field of struct arxiv_train_params from a
 * "key" and a string value, arxiv_train_params_check() says what is wrong with
 * a whole set (or NULL), so a program or a search (arxiv-hpo) can set any
 * parameter that arxiv-train accepts, for either model kind.
 *
 * The names are those of arxiv_train_params_json() (and so of the MLflow
 * params and metadata/artifact.json), plus a few spellings of the original
 * (learning_rate, num_train_epochs, ...).
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "internal.h"

enum { P_INT, P_SIZE, P_U64, P_REAL, P_STR };

struct pdef {
	const char *name;
	int type;
	size_t off;
	double lo, hi;		/* range for numbers (check) */
};

#define OFF(f) offsetof(struct arxiv_train_params, f)
static const struct pdef pdefs[] = {
	{ "model_type", P_STR, OFF(model_type), 0, 0 },
	{ "epochs", P_INT, OFF(epochs), 1, 100000 },
	{ "patience", P_INT, OFF(patience), 0, 1000 },
	{ "threads", P_INT, OFF(threads), 0, 1024 },
	{ "seed", P_U64, OFF(seed), 0, 18446744073709551615.0 },
	{ "lr", P_REAL, OFF(lr), 0, 100 },
	{ "dim", P_INT, OFF(dim), 0, 1024 },
	{ "word_ngrams", P_INT, OFF(word_ngrams), 1, 8 },
	{ "char_minn", P_INT, OFF(char_minn), 0, 16 },
	{ "char_maxn", P_INT, OFF(char_maxn), 0, 16 },
	{ "buckets", P_SIZE, OFF(buckets), 1, 1073741824.0 },
	{ "class_weight", P_REAL, OFF(class_weight), 0, 2 },
	{ "l2", P_REAL, OFF(l2), -1, 1 },
	{ "loss", P_STR, OFF(loss), 0, 0 },
	{ "init_dir", P_STR, OFF(init_dir), 0, 0 },
	{ "config", P_STR, OFF(config), 0, 0 },
	{ "device", P_STR, OFF(device), 0, 0 },
	{ "precision", P_STR, OFF(precision), 0, 0 },
	{ "batch_size", P_INT, OFF(batch_size), 1, 65536 },
	{ "grad_accum", P_INT, OFF(grad_accum), 1, 65536 },
	{ "weight_decay", P_REAL, OFF(weight_decay), 0, 10 },
	{ "warmup_ratio", P_REAL, OFF(warmup_ratio), 0, 1 },
	{ "max_grad_norm", P_REAL, OFF(max_grad_norm), 0, 1e6 },
	{ "dropout", P_REAL, OFF(dropout), 0, 0.99 },
	{ "resume_dir", P_STR, OFF(resume_dir), 0, 0 },
	{ "vocab", P_STR, OFF(vocab), 0, 0 },
	{ "teacher", P_STR, OFF(teacher), 0, 0 },
	{ "unlabelled", P_STR, OFF(unlabelled), 0, 0 },
	{ "distill_alpha", P_REAL, OFF(distill_alpha), 0, 1 },
	{ "distill_temperature", P_REAL, OFF(distill_temperature), 0.01, 100 },
};
#undef OFF

/* The original's (Hugging Face / Optuna script) spellings. */
static const char *const aliases[][2] = {
	{ "learning_rate", "lr" },
	{ "num_train_epochs", "epochs" },
	{ "per_device_train_batch_size", "batch_size" },
	{ "gradient_accumulation_steps", "grad_accum" },
	{ "ngrams", "word_ngrams" },
	{ "model", "model_type" },
};

static const struct pdef *
find(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(key, aliases[i][0]) == 0) {
			key = aliases[i][1];
			break;
		}
	for (i = 0; i < sizeof(pdefs) / sizeof(pdefs[0]); i++)
		if (strcmp(key, pdefs[i].name) == 0)
			return &pdefs[i];
	return NULL;
}

const char *
arxiv_train_param_name(size_t i)
{
	return i < sizeof(pdefs) / sizeof(pdefs[0]) ? pdefs[i].name : NULL;
}

int
arxiv_train_params_known(const char *key)
{
	return key != NULL && find(key) != NULL;
}

int
arxiv_train_params_set(struct arxiv_train_params *p, const char *key, const char *value,
    struct arxiv_error *err)
{
	const struct pdef *d;
	char *end;
	double x;
	char *base = (char *)p;

	if (key == NULL || value == NULL || (d = find(key)) == NULL) {
		arxiv_error_set(err, "", 0, "unknown training parameter '%s'", key ? key : "");
		return -1;
	}
	if (d->type == P_STR) {
		*(const char **)(base + d->off) = value;
		return 0;
	}
	errno = 0;
	x = strtod(value, &end);
	if (end == value || *end != '\0' || errno == ERANGE || !isfinite(x)) {
		arxiv_error_set(err, "", 0, "%s: '%s' is not a number", d->name, value);
		return -1;
	}
	if (d->type != P_REAL && x != floor(x)) {
		arxiv_error_set(err, "", 0, "%s: '%s' is not an integer", d->name, value);
		return -1;
	}
	if (x < d->lo || x > d->hi) {
		arxiv_error_set(err, "", 0, "%s: %s is out of range [%g, %g]", d->name, value,
		    d->lo, d->hi);
		return -1;
	}
	switch (d->type) {
	case P_INT: *(int *)(base + d->off) = (int)x; break;
	case P_SIZE: *(size_t *)(base + d->off) = (size_t)x; break;
	case P_U64: *(uint64_t *)(base + d->off) = (uint64_t)strtoull(value, NULL, 10); break;
	default: *(double *)(base + d->off) = x; break;
	}
	return 0;
}

const char *
arxiv_train_params_check(const struct arxiv_train_params *p)
{
	const struct model_kind *k = model_kind_find(p->model_type);

	if (p->epochs < 1)
		return "epochs must be at least 1";
	if (p->patience < 0)
		return "patience must be >= 0";
	if (p->threads < 0)
		return "threads must be >= 0";
	if (!(p->lr >= 0) || p->lr > 100)
		return "learning rate must be >= 0 (0: the default)";
	if (k == NULL)
		return "model_type must be fast or bert";
	/* distillation (train.c, distill.c): the fast model learns from a teacher */
	if (!(p->distill_alpha >= 0 && p->distill_alpha <= 1))
		return "distill_alpha must be in [0, 1]";
	if (p->teacher && !(p->distill_temperature >= 0.01 && p->distill_temperature <= 100))
		return "distill_temperature must be in [0.01, 100]";
	if (p->teacher && strcmp(k->name, "fast") != 0)
		return "distillation (teacher) trains the fast model only";
	if (p->unlabelled && !p->teacher)
		return "unlabelled records need a teacher";
	return k->check ? k->check(p) : NULL;
}

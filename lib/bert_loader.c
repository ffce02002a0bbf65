/*
 * bert_loader.c - the transformer hooks of internal.h.
 * Placeholder until the libtorch plugin loader lands: every hook fails with a
 * clear message, so the fast model and the text tools build and run without it.
 */
#include "internal.h"

static int
nobert(struct arxiv_error *err)
{
	arxiv_error_set(err, "", 0, "transformer models are not available in this build");
	return -1;
}

int
bert_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp_dir, struct arxiv_prediction *val_out,
    struct arxiv_error *err)
{
	(void)p; (void)train; (void)val; (void)tmp_dir; (void)val_out;
	return nobert(err);
}

struct bert_model *
bert_load(const char *dir, const struct arxiv_model_opts *o, struct arxiv_error *err)
{
	(void)dir; (void)o;
	nobert(err);
	return NULL;
}

void
bert_free(struct bert_model *b)
{
	(void)b;
}

size_t
bert_dim(const struct bert_model *b)
{
	(void)b;
	return 0;
}

int
bert_predict(const struct bert_model *b, const char *const *texts, const size_t *lens,
    size_t n, size_t k, struct arxiv_prediction *out, struct arxiv_error *err)
{
	(void)b; (void)texts; (void)lens; (void)n; (void)k; (void)out;
	return nobert(err);
}

int
bert_embed(const struct bert_model *b, const char *const *texts, const size_t *lens,
    size_t n, float *out, struct arxiv_error *err)
{
	(void)b; (void)texts; (void)lens; (void)n; (void)out;
	return nobert(err);
}

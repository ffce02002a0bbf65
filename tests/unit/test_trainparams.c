/*
 * test_trainparams.c - arxiv_train_params_set / _check: every parameter of
 * arxiv_train_params_json can be set by its name, bad names and values are
 * refused with a message, and check names what is wrong.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "arxiv.h"
#include "tap.h"

int
main(void)
{
	struct arxiv_train_params p = arxiv_train_default_params();
	struct arxiv_error e;
	struct arxiv_buf b = {0};
	json_t *o;
	const char *k;
	size_t i;
	int all = 1;

	/* every name the JSON serialisation uses is settable */
	CHECK(arxiv_train_params_json(&p, &b) == 0, "params json");
	o = json_loadb(b.data, b.len, 0, NULL);
	for (k = NULL, i = 0; (k = arxiv_train_param_name(i)) != NULL; i++)
		if (!json_object_get(o, k)) {
			all = 0;
			printf("# %s not in params json\n", k);
		}
	CHECK(all && i == json_object_size(o) - 1, "names == JSON keys (but verbose): %zu", i);
	json_decref(o);
	arxiv_buf_free(&b);

	CHECK(arxiv_train_params_set(&p, "lr", "0.25", &e) == 0 && p.lr == 0.25, "lr");
	CHECK(arxiv_train_params_set(&p, "learning_rate", "3e-5", &e) == 0 && p.lr == 3e-5,
	    "alias learning_rate");
	CHECK(arxiv_train_params_set(&p, "word_ngrams", "3", &e) == 0 && p.word_ngrams == 3,
	    "word_ngrams");
	CHECK(arxiv_train_params_set(&p, "buckets", "1048576", &e) == 0 && p.buckets == 1048576,
	    "buckets (size_t)");
	CHECK(arxiv_train_params_set(&p, "seed", "12345678901", &e) == 0 &&
	    p.seed == 12345678901ULL, "seed (u64)");
	CHECK(arxiv_train_params_set(&p, "loss", "softmax", &e) == 0 &&
	    strcmp(p.loss, "softmax") == 0, "loss (string, borrowed)");
	CHECK(arxiv_train_params_set(&p, "num_train_epochs", "4", &e) == 0 && p.epochs == 4,
	    "alias num_train_epochs");
	CHECK(arxiv_train_params_set(&p, "warmup_ratio", "0.15", &e) == 0 &&
	    p.warmup_ratio == 0.15, "warmup_ratio");
	CHECK(arxiv_train_params_set(&p, "batch_size", "16", &e) == 0 && p.batch_size == 16,
	    "batch_size");
	CHECK(arxiv_train_params_check(&p) == NULL, "check accepts the set: %s",
	    arxiv_train_params_check(&p) ? arxiv_train_params_check(&p) : "");

	CHECK(arxiv_train_params_known("l2") && arxiv_train_params_known("learning_rate") &&
	    !arxiv_train_params_known("nosuch"), "known");
	CHECK(arxiv_train_params_set(&p, "nosuch", "1", &e) < 0, "unknown key refused");
	CHECK_STR(e.text, "unknown training parameter 'nosuch'", "its message");
	CHECK(arxiv_train_params_set(&p, "epochs", "x", &e) < 0, "not a number");
	CHECK_STR(e.text, "epochs: 'x' is not a number", "its message");
	CHECK(arxiv_train_params_set(&p, "epochs", "2.5", &e) < 0, "not an integer");
	CHECK(arxiv_train_params_set(&p, "epochs", "0", &e) < 0, "out of range");
	CHECK_STR(e.text, "epochs: 0 is out of range [1, 100000]", "its message");
	CHECK(arxiv_train_params_set(&p, "lr", "nan", &e) < 0, "nan refused");
	CHECK(p.epochs == 4, "a refused value leaves the field alone");

	p = arxiv_train_default_params();
	CHECK(arxiv_train_params_check(&p) == NULL, "defaults pass");
	p.loss = "svm";
	CHECK_STR(arxiv_train_params_check(&p), "loss must be hinge or softmax", "bad loss");
	p = arxiv_train_default_params();
	p.char_minn = 5;
	p.char_maxn = 3;
	CHECK(arxiv_train_params_check(&p) != NULL, "bad char range");
	p = arxiv_train_default_params();
	p.model_type = "gpt";
	CHECK_STR(arxiv_train_params_check(&p), "model_type must be fast or bert", "bad model");
	p = arxiv_train_default_params();
	p.model_type = "bert";
	p.warmup_ratio = 2;
	CHECK_STR(arxiv_train_params_check(&p), "warmup_ratio must be in [0, 1]", "bert warmup");
	p.model_type = "fast";
	CHECK(arxiv_train_params_check(&p) == NULL, "fast ignores the bert fields");

	/* distillation */
	p = arxiv_train_default_params();
	CHECK(p.distill_alpha == 0.5 && p.distill_temperature == 2, "distillation defaults");
	CHECK(arxiv_train_params_set(&p, "teacher", "teach/dir", &e) == 0 &&
	    strcmp(p.teacher, "teach/dir") == 0, "teacher");
	CHECK(arxiv_train_params_set(&p, "unlabelled", "u.jsonl", &e) == 0 &&
	    strcmp(p.unlabelled, "u.jsonl") == 0, "unlabelled");
	CHECK(arxiv_train_params_set(&p, "distill_alpha", "0.75", &e) == 0 &&
	    p.distill_alpha == 0.75, "distill_alpha");
	CHECK(arxiv_train_params_set(&p, "distill_temperature", "4", &e) == 0 &&
	    p.distill_temperature == 4, "distill_temperature");
	CHECK(arxiv_train_params_check(&p) == NULL, "a distillation set passes");
	CHECK(arxiv_train_params_set(&p, "distill_alpha", "1.5", &e) < 0, "alpha > 1 refused");
	CHECK_STR(e.text, "distill_alpha: 1.5 is out of range [0, 1]", "its message");
	CHECK(arxiv_train_params_set(&p, "distill_alpha", "x", &e) < 0, "alpha not a number");
	CHECK(arxiv_train_params_set(&p, "distill_temperature", "0", &e) < 0, "T 0 refused");
	p.distill_alpha = -0.5;
	CHECK_STR(arxiv_train_params_check(&p), "distill_alpha must be in [0, 1]", "check alpha");
	p.distill_alpha = 0.5;
	p.distill_temperature = 0;
	CHECK_STR(arxiv_train_params_check(&p), "distill_temperature must be in [0.01, 100]",
	    "check temperature");
	p.distill_temperature = 2;
	p.model_type = "bert";
	CHECK_STR(arxiv_train_params_check(&p), "distillation (teacher) trains the fast model only",
	    "teacher with bert");
	p.model_type = "fast";
	p.teacher = NULL;
	CHECK_STR(arxiv_train_params_check(&p), "unlabelled records need a teacher",
	    "unlabelled without a teacher");
	return tap_done();
}

/*
 * test_model.c - artifacts and the model API: arxiv_train writes a complete
 * directory (atomically, refusing to overwrite), arxiv_model_load reads it back
 * (refusing unknown versions), predictions from raw text, the JSON schema, and
 * concurrent predictions from many threads on one model.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arxiv.h"
#include "tap.h"

static const char *const words[3][6] = {
	{ "Theorem", "lemmas", "Banach", "manifolds", "proofs", "algebras" },
	{ "networks", "training", "neural", "compilers", "datasets", "GPUs" },
	{ "quarks", "bosons", "plasma", "galaxies", "spin", "lasers" },
};
static const char *const labels[3] = { "Mathematics", "Computer Science", "Physics" };

static char dir[] = "/tmp/test_model.XXXXXX";

/* Raw (uncleaned) arxiv-map style JSONL: label l's texts use its own words. */
static void
write_set(const char *path, size_t n, uint64_t seed)
{
	FILE *fp = fopen(path, "w");
	size_t i, j;

	for (i = 0; i < n; i++) {
		int l = (int)(i % 3);
		fprintf(fp, "{\"id\":\"%zu\",\"text\":\"Title %zu\\nWe", i, i);
		for (j = 0; j < 10; j++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			fprintf(fp, " %s", words[l][(seed >> 33) % 6]);
		}
		fprintf(fp, ".\",\"label\":\"%s\",\"fields\":[\"%s\"]}\n", labels[l], labels[l]);
	}
	fclose(fp);
}

#define NT 4
#define NPER 300

struct job {
	const struct arxiv_model *m;
	const char **texts;
	struct arxiv_prediction out[NPER];
	int rc;
};

static void *
run(void *arg)
{
	struct job *j = arg;
	struct arxiv_error e;
	size_t i;

	for (i = 0; i < NPER && j->rc == 0; i += 10)
		j->rc = arxiv_model_predict(j->m, j->texts + i, NULL, 10, 3, j->out + i, &e);
	return NULL;
}

static int
count_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;

	while (dp && (de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	if (dp)
		closedir(dp);
	return n;
}

int
main(void)
{
	struct arxiv_train_params p = arxiv_train_default_params();
	struct arxiv_dataset *tr, *va;
	struct arxiv_error e = {0};
	struct arxiv_model *m;
	struct arxiv_prediction pred[3], q;
	struct arxiv_buf b = {0};
	struct job jobs[NT];
	pthread_t th[NT];
	char path[800], art[300], art2[300], cmd[700], msg[400];
	const char *texts[3] = {
		"On Banach manifolds\nWe prove a theorem with lemmas.",
		"Neural networks\nWe train neural networks on GPUs and datasets.",
		"Quarks\nThe quarks and bosons in a plasma.",
	};
	const char *many[NPER];
	char *owned[NPER];
	size_t i, t, same;
	FILE *fp;

	setenv("ARXIV_DATADIR", "data", 0);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/train.jsonl", dir);
	write_set(path, 300, 1);
	tr = arxiv_dataset_load(path, NULL, 0, &e);
	CHECK(tr && arxiv_dataset_count(tr) == 300 && arxiv_dataset_nlabels(tr) == 3,
	    "load train JSONL: %s", e.text);
	CHECK_STR(arxiv_dataset_label(tr, 1), "Computer Science", "labels in first-seen order");
	snprintf(path, sizeof(path), "%s/val.jsonl", dir);
	write_set(path, 60, 2);
	va = arxiv_dataset_load(path, labels, 3, &e);
	CHECK(va && arxiv_dataset_count(va) == 60, "load val JSONL: %s", e.text);
	if (!tr || !va)
		return tap_done();

	p.threads = 1;
	p.buckets = 1 << 14;
	p.epochs = 4;
	snprintf(art, sizeof(art), "%s/artifacts", dir);
	CHECK(arxiv_train(&p, tr, va, art, 0, &e) == 0, "arxiv_train: %s", e.text);
	snprintf(path, sizeof(path), "%s/metadata/artifact.json", art);
	CHECK(access(path, F_OK) == 0, "metadata/artifact.json");
	snprintf(path, sizeof(path), "%s/metadata/metrics.json", art);
	CHECK(access(path, F_OK) == 0, "metadata/metrics.json");
	snprintf(path, sizeof(path), "%s/metadata/label2id.json", art);
	CHECK(access(path, F_OK) == 0, "metadata/label2id.json");
	snprintf(path, sizeof(path), "%s/tokenizer/preprocess.json", art);
	CHECK(access(path, F_OK) == 0, "tokenizer/preprocess.json");
	snprintf(path, sizeof(path), "%s/model/model.safetensors", art);
	CHECK(access(path, F_OK) == 0, "model/model.safetensors");
	CHECK(count_entries(dir) == 3, "no temporary directory left behind (%d entries)",
	    count_entries(dir));
	CHECK(arxiv_train(&p, tr, va, art, 0, &e) == -1 && strstr(e.text, "already exists"),
	    "refuses to overwrite: %s", e.text);
	snprintf(art2, sizeof(art2), "%s/again", dir);
	CHECK(arxiv_train(&p, tr, va, art2, 0, &e) == 0, "train again");
	snprintf(path, sizeof(path), "cmp -s %s/model/model.safetensors %s/model/model.safetensors",
	    art, art2);
	CHECK(system(path) == 0, "same seed, one thread: identical model.safetensors");
	CHECK(arxiv_train(&p, tr, va, art2, 1, &e) == 0 && count_entries(dir) == 4,
	    "overwrite replaces the directory: %s", e.text);

	m = arxiv_model_load(art, NULL, &e);
	CHECK(m != NULL, "load: %s", e.text);
	if (m == NULL)
		return tap_done();

	/* the kind table */
	CHECK_STR(arxiv_model_kind_name(0), "fast", "kind 0 is fast (the default)");
	CHECK_STR(arxiv_model_kind_name(1), "bert", "kind 1 is bert");
	CHECK(arxiv_model_kind_name(2) == NULL, "two kinds");
	CHECK(arxiv_model_threads_inside(m) == 0, "the fast model predicts in parallel across calls");
	{
		struct arxiv_train_params d = arxiv_train_default_params();

		CHECK_STR(d.model_type, "fast", "default kind");
		CHECK(d.word_ngrams == 2 && d.buckets == (size_t)1 << 21 && d.l2 == -1 &&
		    strcmp(d.loss, "hinge") == 0, "the fast model's defaults (fasttext.c)");
		CHECK(d.batch_size == 32 && d.dropout > 0.09 && d.dropout < 0.11,
		    "the transformer's defaults (bert_loader.c)");
		d.word_ngrams = 9;
		CHECK_STR(arxiv_train_params_check(&d), "word_ngrams must be in [1, 8]",
		    "the fast kind checks its parameters");
		d.model_type = "bert";
		CHECK(arxiv_train_params_check(&d) == NULL, "the bert kind does not check fast ones");
		d.batch_size = 0;
		CHECK_STR(arxiv_train_params_check(&d), "batch_size and grad_accum must be >= 1",
		    "the bert kind checks its parameters");
		d.model_type = "gpt";
		CHECK_STR(arxiv_train_params_check(&d), "model_type must be fast or bert", "unknown kind");
	}
	CHECK_STR(arxiv_model_type(m), "fast", "model type");
	CHECK(arxiv_model_version(m) == 2 && arxiv_model_nlabels(m) == 3, "version 2, 3 labels");
	CHECK_STR(arxiv_model_label(m, 2), "Physics", "label 2");
	CHECK(arxiv_model_dim(m) == 0, "direct model: no embedding dimension");
	CHECK(arxiv_model_predict(m, texts, NULL, 3, 5, pred, &e) == 0, "predict raw texts");
	CHECK(pred[0].label[0] == 0 && pred[1].label[0] == 1 && pred[2].label[0] == 2,
	    "raw text -> right field (%d %d %d)", pred[0].label[0], pred[1].label[0], pred[2].label[0]);
	CHECK(pred[0].k == 3 && pred[0].score[0] >= pred[0].score[1] &&
	    pred[0].score[1] >= pred[0].score[2], "k capped at 3 labels, best first");
	CHECK_NEAR(pred[0].score[0] + pred[0].score[1] + pred[0].score[2], 1.0, 1e-5,
	    "scores are probabilities");
	CHECK(arxiv_model_predict(m, (const char *[]){ "bad \xff utf8" }, NULL, 1, 3, &q, &e) == -1 &&
	    e.line == 1, "invalid UTF-8: error for text 1: %s", e.text);

	q.k = 2;
	q.label[0] = 1;
	q.score[0] = 0.91204f;
	q.label[1] = 0;
	q.score[1] = 0.05f;
	CHECK(arxiv_prediction_json(m, &q, &b) == 0, "prediction JSON");
	CHECK_STR(b.data, "{\"predicted_category\":\"Computer Science\",\"confidence\":0.9120,"
	    "\"top_k\":[{\"label\":\"Computer Science\",\"score\":0.9120},"
	    "{\"label\":\"Mathematics\",\"score\":0.0500}]}", "seed schema, 4 decimals");
	q.score[0] = NAN;
	q.score[1] = INFINITY;
	CHECK(arxiv_prediction_json(m, &q, &b) == 0, "prediction JSON of non-finite scores");
	CHECK_STR(b.data, "{\"predicted_category\":\"Computer Science\",\"confidence\":null,"
	    "\"top_k\":[{\"label\":\"Computer Science\",\"score\":null},"
	    "{\"label\":\"Mathematics\",\"score\":null}]}", "NaN and Inf become null, never nan/inf");
	q.label[0] = 7;
	CHECK(arxiv_prediction_json(m, &q, &b) == -1, "label out of range refused");

	/* many threads on one model: the same answers as one thread */
	for (i = 0; i < NPER; i++) {
		owned[i] = malloc(128);
		snprintf(owned[i], 128, "%s %s and %s #%zu", words[i % 3][i % 6],
		    words[(i / 3) % 3][(i / 2) % 6], words[i % 3][(i / 5) % 6], i);
		many[i] = owned[i];
	}
	for (t = 0; t < NT; t++) {
		jobs[t].m = m;
		jobs[t].texts = many;
		jobs[t].rc = 0;
		pthread_create(&th[t], NULL, run, &jobs[t]);
	}
	for (t = 0; t < NT; t++)
		pthread_join(th[t], NULL);
	for (same = 1, t = 1; t < NT; t++)
		for (i = 0; i < NPER; i++) {
			const struct arxiv_prediction *x = &jobs[t].out[i], *y = &jobs[0].out[i];
			same &= jobs[t].rc == 0 && x->k == 3 && y->k == 3 &&
			    memcmp(x->label, y->label, 3 * sizeof(x->label[0])) == 0 &&
			    memcmp(x->score, y->score, 3 * sizeof(x->score[0])) == 0;
		}
	CHECK(jobs[0].rc == 0 && same, "%d threads predict concurrently, identical results", NT);
	arxiv_model_free(m);
	arxiv_model_free(NULL);

	/* an unknown artifact version is refused with a clear message */
	snprintf(path, sizeof(path), "%s/metadata/artifact.json", art);
	fp = fopen(path, "w");
	fprintf(fp, "{\"format\":\"arxiv-artifacts\",\"version\":9,\"model_type\":\"fast\"}\n");
	fclose(fp);
	CHECK(arxiv_model_load(art, NULL, &e) == NULL, "version 9 refused");
	snprintf(msg, sizeof(msg), "%s: unsupported artifact version 9 (this arxiv reads 2)", art);
	CHECK_STR(arxiv_error_str(&e, cmd, sizeof(cmd)), msg, "version message");
	CHECK(arxiv_model_load(dir, NULL, &e) == NULL && strstr(e.text, "not an arxiv artifacts"),
	    "not an artifacts dir: %s", e.text);

	/* the stop flag set before training: nothing written */
	{
		volatile int stop = 1;
		p.stop = &stop;
		snprintf(art2, sizeof(art2), "%s/stopped", dir);
		CHECK(arxiv_train(&p, tr, va, art2, 0, &e) == -1 && access(art2, F_OK) != 0 &&
		    count_entries(dir) == 4, "stopped before an epoch: nothing written (%s)", e.text);
	}

	for (i = 0; i < NPER; i++)
		free(owned[i]);
	arxiv_buf_free(&b);
	arxiv_dataset_free(tr);
	arxiv_dataset_free(va);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}

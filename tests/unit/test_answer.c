/*
 * test_answer.c - answers (answer.c, decision.c, explain.c): arxiv_train
 * stores a fields threshold and a domain check, arxiv_model_answer lists
 * several fields for a mixed text, abstains on gibberish and on shuffled
 * words but not on in-domain text, explains in the input's own words, and the
 * JSON says so; artifacts without decision.json still load (defaults).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "arxiv.h"
#include "tap.h"

/* Phrases of each field; a text is a run of phrases, so its word pairs recur. */
static const char *const phrases[3][6] = {
	{ "Banach manifolds", "Hilbert spaces", "prove lemmas", "compact operators",
	  "Sobolev embeddings", "elliptic regularity" },
	{ "neural networks", "training datasets", "GPU kernels", "gradient descent",
	  "compiler passes", "transformer models" },
	{ "spin chains", "quark gluon plasma", "dark matter halos", "laser cooling",
	  "Hamiltonian dynamics", "neutrino oscillations" },
};
static const char *const labels[3] = { "Mathematics", "Computer Science", "Physics" };
/* function words between the phrases, as in an abstract */
static const char *const glue[8] = { "and", "on", "of the", "with", "about", "we prove", "on the",
	"and the" };

static char dir[] = "/tmp/test_answer.XXXXXX";

static uint64_t
next(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

/* Every fourth text mixes field l with field l+1 and lists both fields. */
static void
write_set(const char *path, size_t n, uint64_t seed)
{
	FILE *fp = fopen(path, "w");
	size_t i, j;

	for (i = 0; i < n; i++) {
		int l = (int)(i % 3), mix = i % 4 == 3, o = (l + 1) % 3;
		fprintf(fp, "{\"id\":\"%zu\",\"text\":\"Title %zu\\nWe study", i, i);
		for (j = 0; j < 8; j++) {
			int f = mix && (j & 1) ? o : l;
			if (j)
				fprintf(fp, " %s", glue[next(&seed) % 8]);
			fprintf(fp, " %s", phrases[f][next(&seed) % 6]);
		}
		fprintf(fp, ".\",\"label\":\"%s\",\"fields\":[\"%s\"", labels[l], labels[l]);
		if (mix)
			fprintf(fp, ",\"%s\"", labels[o]);
		fprintf(fp, "]}\n");
	}
	fclose(fp);
}

static int
has_term(const struct arxiv_answer *a, const char *t)
{
	size_t i;

	for (i = 0; i < a->n_terms; i++)
		if (strcmp(a->terms[i].term, t) == 0)
			return 1;
	return 0;
}

int
main(void)
{
	struct arxiv_train_params p = arxiv_train_default_params();
	struct arxiv_answer_opts o = arxiv_answer_default_opts();
	struct arxiv_dataset *tr, *va;
	struct arxiv_error e = {0};
	struct arxiv_model *m;
	struct arxiv_answer a[4];
	struct arxiv_buf b = {0};
	char path[800], art[300], cmd[900];
	json_t *j, *dec;
	const char *texts[4] = {
		"On Banach manifolds\nWe prove lemmas about compact operators on Hilbert spaces "
		    "and elliptic regularity of Sobolev embeddings.",
		"Neural networks\nWe study neural networks and gradient descent with GPU kernels, "
		    "Banach manifolds and Hilbert spaces, compact operators and training datasets.",
		"asdf qwer zxcv",
		"operators Hilbert regularity compact elliptic Sobolev spaces lemmas prove "
		    "embeddings manifolds Banach operators spaces compact",
	};
	FILE *fp;

	setenv("ARXIV_DATADIR", "data", 0);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/train.jsonl", dir);
	write_set(path, 1200, 1);
	tr = arxiv_dataset_load(path, NULL, 0, &e);
	snprintf(path, sizeof(path), "%s/val.jsonl", dir);
	write_set(path, 240, 2);
	va = arxiv_dataset_load(path, tr ? NULL : labels, 3, &e);
	CHECK(tr && va, "data sets load: %s", e.text);
	if (!tr || !va)
		return tap_done();
	p.threads = 1;
	p.buckets = 1 << 14;
	p.epochs = 5;
	p.loss = "softmax";	/* separable data: the hinge's temperature gives 1.0 everywhere */
	snprintf(art, sizeof(art), "%s/artifacts", dir);
	CHECK(arxiv_train(&p, tr, va, art, 0, &e) == 0, "arxiv_train: %s", e.text);

	/* the stored decision */
	snprintf(path, sizeof(path), "%s/metadata/decision.json", art);
	j = json_load_file(path, 0, NULL);
	dec = json_object_get(j, "domain");
	CHECK(json_is_number(json_object_get(j, "fields_threshold")) &&
	    json_number_value(json_object_get(j, "fields_threshold")) < 0.5,
	    "decision.json: a fields threshold below 0.5 (mixed papers list two fields)");
	CHECK(json_is_number(json_object_get(dec, "threshold")) &&
	    json_array_size(json_object_get(dec, "coef")) == 5, "decision.json: a domain check");
	CHECK(json_number_value(json_object_get(json_object_get(j, "val"), "false_abstain")) <= 0.005,
	    "validation abstracts are kept (false abstain <= 0.5%%)");
	CHECK(json_number_value(json_object_get(json_object_get(j, "val"),
	    "abstain_random_text")) >= 0.99, "random text is abstained on validation");
	json_decref(j);
	snprintf(path, sizeof(path), "%s/model/domain.safetensors", art);
	CHECK(access(path, F_OK) == 0, "model/domain.safetensors");

	m = arxiv_model_load(art, NULL, &e);
	CHECK(m != NULL, "load: %s", e.text);
	if (m == NULL)
		return tap_done();
	CHECK(arxiv_model_fields_threshold(m) < 0.5 && arxiv_model_ood_threshold(m) > 0,
	    "thresholds read back (%g, %g)", arxiv_model_fields_threshold(m),
	    arxiv_model_ood_threshold(m));
	o.k = 3;
	o.explain = 4;
	CHECK(arxiv_model_answer(m, texts, NULL, 4, &o, a, &e) == 0, "answer: %s", e.text);
	CHECK(!a[0].abstained && a[0].p.label[0] == 0 && a[0].fields == 1,
	    "in-domain maths text: Mathematics only (fields %#llx)",
	    (unsigned long long)a[0].fields);
	CHECK(a[0].words > 5 && a[0].known_words == a[0].words, "every word known (%zu of %zu)",
	    a[0].known_words, a[0].words);
	CHECK(a[0].n_terms == 4 && a[0].terms[0].weight >= a[0].terms[3].weight &&
	    a[0].terms[3].weight > 0, "4 explanation terms, best first, positive");
	CHECK(has_term(&a[0], "Banach") || has_term(&a[0], "Banach manifolds") ||
	    has_term(&a[0], "Sobolev") || has_term(&a[0], "Hilbert") ||
	    has_term(&a[0], "Hilbert spaces") || has_term(&a[0], "Sobolev embeddings"),
	    "terms in the input's words (capitalised, unstemmed): %s, %s, %s, %s",
	    a[0].terms[0].term, a[0].terms[1].term, a[0].terms[2].term, a[0].terms[3].term);
	CHECK(!has_term(&a[0], "banach") && !has_term(&a[0], "embed"), "no stems or case folding");
	CHECK(!a[1].abstained && a[1].fields == 3, "mixed text: two fields (%#llx)",
	    (unsigned long long)a[1].fields);
	CHECK(a[2].abstained && strcmp(a[2].reason, "out of domain: 0 of 3 words known to the "
	    "model") == 0, "gibberish abstained: %s", a[2].reason);
	CHECK(a[2].n_terms == 0 && a[2].fields == 0, "no terms or fields when abstaining");
	CHECK(a[3].abstained && strstr(a[3].reason, "word pairs"), "shuffled words abstained: %s",
	    a[3].reason);

	{
		static const char want[] = "{\"predicted_category\":\"Other\",\"confidence\":0.0,"
		    "\"abstained\":true,\"reason\":\"out of domain: 0 of 3 words known to the model\","
		    "\"fields\":[],\"top_k\":[";
		CHECK(arxiv_answer_json(m, &a[2], &b) == 0 && strncmp(b.data, want,
		    sizeof(want) - 1) == 0, "abstained JSON: %s", b.data);
	}
	CHECK(arxiv_answer_json(m, &a[1], &b) == 0 &&
	    strstr(b.data, "\"explanation\":[{\"term\":"), "answer JSON: %s", b.data);
	j = json_loads(b.data, 0, NULL);
	CHECK(json_is_object(j) && json_array_size(json_object_get(j, "top_k")) == 3 &&
	    json_array_size(json_object_get(j, "fields")) == 2 &&
	    json_equal(json_array_get(json_object_get(j, "fields"), 0),
	    json_object_get(j, "predicted_category")), "answer JSON: two fields, the primary first");
	json_decref(j);

	/* switches: no domain check, a minimum confidence */
	o.ood_threshold = 0;
	o.explain = 0;
	CHECK(arxiv_model_answer(m, texts + 2, NULL, 1, &o, a, &e) == 0 && !a[0].abstained &&
	    a[0].n_terms == 0, "--ood-threshold 0: no abstaining, no explanation");
	o.min_confidence = 0.999;
	CHECK(arxiv_model_answer(m, texts, NULL, 1, &o, a, &e) == 0 && a[0].abstained &&
	    strncmp(a[0].reason, "not confident: top probability ", 31) == 0,
	    "--min-confidence 0.999: %s", a[0].reason);
	arxiv_model_free(m);

	/* older artifacts: no decision.json -> fields threshold 0.5, no domain check */
	snprintf(path, sizeof(path), "%s/metadata/decision.json", art);
	snprintf(cmd, sizeof(cmd), "%s.bak", path);
	CHECK(rename(path, cmd) == 0, "decision.json moved away");
	m = arxiv_model_load(art, NULL, &e);
	CHECK(m && arxiv_model_fields_threshold(m) == 0.5 && arxiv_model_ood_threshold(m) == -1,
	    "older artifacts load with the defaults");
	o = arxiv_answer_default_opts();
	CHECK(m && arxiv_model_answer(m, texts + 2, NULL, 1, &o, a, &e) == 0 && !a[0].abstained &&
	    a[0].in_domain == -1, "older artifacts: no abstaining by default");
	arxiv_model_free(m);
	fp = fopen(path, "w");
	fputs("{\"fields_threshold\": 7}", fp);
	fclose(fp);
	m = arxiv_model_load(art, NULL, &e);
	CHECK(m == NULL && strstr(e.text, "fields_threshold"), "malformed decision.json refused: %s",
	    e.text);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	system(cmd);
	arxiv_buf_free(&b);
	arxiv_dataset_free(tr);
	arxiv_dataset_free(va);
	return tap_done();
}

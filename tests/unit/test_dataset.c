/* test_dataset.c - labelled data sets in memory (dataset.c): JSONL records,
 * label order, fields, the "clean"/"prep" pair, errors with line numbers, and
 * ds_clean (the fast model's cleaning of raw texts, in parallel). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"
#include "internal.h"
#include "fasttext.h"
#include "tap.h"

static char dir[] = "/tmp/test_dataset.XXXXXX";

static const char *
put(const char *name, const char *text)
{
	static char path[4][512];
	static int k;
	FILE *fp;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
	fp = fopen(path[k], "w");
	fputs(text, fp);
	fclose(fp);
	return path[k];
}

int
main(void)
{
	struct arxiv_dataset *d, *v;
	struct arxiv_error e;
	const char *p;
	char *sig;
	size_t i;

	setenv("ARXIV_DATADIR", "data", 0);	/* tests/run.sh runs from the top */
	if (mkdtemp(dir) == NULL)
		return 1;

	p = put("a.jsonl",
	    "{\"id\":\"1\",\"text\":\"Quantum Bosons\",\"label\":\"Physics\",\"fields\":[\"Physics\",\"Mathematics\"]}\n"
	    "{\"id\":\"2\",\"text\":\"Graphs and groups\",\"label\":\"Mathematics\",\"fields\":[\"Mathematics\"]}\n"
	    "{\"id\":\"3\",\"text\":\"no label\",\"label\":null}\n"
	    "{\"text\":\"Neural nets\",\"label\":\"Computer Science\",\"extra\":[1,2]}\n");
	d = arxiv_dataset_load(p, NULL, 0, &e);
	CHECK(d != NULL, "load JSONL: %s", d ? "" : e.text);
	if (d == NULL)
		return tap_done();
	CHECK(arxiv_dataset_count(d) == 4, "four records");
	CHECK(arxiv_dataset_nlabels(d) == 3, "three labels");
	CHECK_STR(arxiv_dataset_label(d, 0), "Physics", "labels in first-seen order (0)");
	CHECK_STR(arxiv_dataset_label(d, 1), "Mathematics", "labels in first-seen order (1)");
	CHECK_STR(arxiv_dataset_label(d, 2), "Computer Science", "labels in first-seen order (2)");
	CHECK(arxiv_dataset_label(d, 3) == NULL, "no label 3");
	CHECK(d->label[0] == 0 && d->label[1] == 1 && d->label[2] == -1 && d->label[3] == 2,
	    "label ids; null is unlabelled (-1)");
	CHECK(d->fields[0] == 3 && d->fields[1] == 2 && d->fields[3] == 0, "fields as bitmasks");
	CHECK_STR(d->text[0], "Quantum Bosons", "raw text kept");
	CHECK_STR(d->id[0], "1", "id");
	CHECK_STR(d->id[3], "", "missing id is empty");
	CHECK_STR(d->prep, "", "raw records: empty preprocessing signature");
	CHECK(d->ids == NULL, "not a tensor stream");

	/* a validation set with the training labels' order */
	p = put("v.jsonl", "{\"id\":\"9\",\"text\":\"x\",\"label\":\"Computer Science\"}\n");
	v = arxiv_dataset_load(p, (const char *const *)d->labels, d->n_labels, &e);
	CHECK(v && v->label[0] == 2 && arxiv_dataset_nlabels(v) == 3, "given label order is kept");
	arxiv_dataset_free(v);
	p = put("v2.jsonl", "{\"id\":\"9\",\"text\":\"x\",\"label\":\"Physics\"}\n"
	    "{\"id\":\"10\",\"text\":\"y\",\"label\":\"Chemistry\"}\n");
	v = arxiv_dataset_load(p, (const char *const *)d->labels, d->n_labels, &e);
	CHECK(v == NULL && e.line == 2 && strcmp(e.text, "unknown label \"Chemistry\"") == 0,
	    "a label outside the given ones: line 2: %s", e.text);

	/* ds_clean: the default cleaner, on every thread count the same */
	{
		struct arxiv_clean_params cp = arxiv_clean_default_params();
		struct arxiv_buf b = { 0 };
		struct arxiv_dataset c1 = *d, c4 = *d;

		arxiv_clean_params_str(&cp, &b);
		sig = b.data;
		CHECK(ds_clean(&c1, sig, 1, &e) == 0, "clean with 1 thread: %s", e.text);
		CHECK(ds_clean(&c4, sig, 4, &e) == 0, "clean with 4 threads: %s", e.text);
		CHECK_STR(c1.text[0], "quantum boson", "cleaned: case, plural");
		CHECK_STR(c1.text[1], "graph group", "cleaned: stop word, plurals");
		for (i = 0; i < c1.n; i++)
			if (strcmp(c1.text[i], c4.text[i]) != 0)
				break;
		CHECK(i == c1.n, "the same texts on 1 and 4 threads");
		CHECK_STR(d->text[0], "Quantum Bosons", "the loaded set is untouched");
		ds_free_texts(&c1);
		ds_free_texts(&c4);
		/* records cleaned with the same signature are not cleaned again */
		c1 = *d;
		c1.prep = sig;
		CHECK(ds_clean(&c1, sig, 2, &e) == 1 && c1.text == d->text, "same signature: kept as is");
		arxiv_buf_free(&b);
	}
	arxiv_dataset_free(d);

	/* arxiv-clean output: "clean" preferred over "text", one "prep" for all */
	p = put("c.jsonl",
	    "{\"id\":\"1\",\"text\":\"Raw\",\"clean\":\"raw\",\"prep\":\"v1 x\",\"label\":\"A\"}\n"
	    "{\"id\":\"2\",\"text\":\"Two\",\"clean\":\"two\",\"prep\":\"v1 x\",\"label\":\"B\"}\n");
	d = arxiv_dataset_load(p, NULL, 0, &e);
	CHECK(d && strcmp(d->text[0], "raw") == 0 && strcmp(d->prep, "v1 x") == 0,
	    "cleaned records: \"clean\" and its signature");
	arxiv_dataset_free(d);

	/* errors name the line */
	p = put("e1.jsonl", "{\"id\":\"1\",\"text\":\"a\",\"clean\":\"a\",\"prep\":\"v1 x\",\"label\":\"A\"}\n"
	    "{\"id\":\"2\",\"text\":\"b\",\"label\":\"A\"}\n");
	CHECK(arxiv_dataset_load(p, NULL, 0, &e) == NULL && e.line == 2 &&
	    strstr(e.text, "no \"clean\" key"), "mixed clean/raw records: %s", e.text);
	p = put("e2.jsonl", "{\"id\":\"1\",\"text\":\"a\",\"clean\":\"a\",\"prep\":\"v1 x\"}\n"
	    "{\"id\":\"2\",\"text\":\"b\",\"clean\":\"b\",\"prep\":\"v1 y\"}\n");
	CHECK(arxiv_dataset_load(p, NULL, 0, &e) == NULL && e.line == 2 &&
	    strstr(e.text, "differs from earlier records"), "two signatures: %s", e.text);
	p = put("e3.jsonl", "{\"id\":\"1\",\"text\":\"a\"}\n[1]\n");
	CHECK(arxiv_dataset_load(p, NULL, 0, &e) == NULL && e.line == 2 &&
	    strcmp(e.text, "not a JSON object") == 0, "not an object: %s", e.text);
	p = put("e4.jsonl", "{\"id\":\"1\",\"label\":\"A\"}\n");
	CHECK(arxiv_dataset_load(p, NULL, 0, &e) == NULL && e.line == 1 &&
	    strcmp(e.text, "missing string \"text\"") == 0, "no text: %s", e.text);
	p = put("e5.jsonl", "{\"id\":\"1\",\"text\":\"a\",\"label\":3}\n");
	CHECK(arxiv_dataset_load(p, NULL, 0, &e) == NULL && strcmp(e.text, "\"label\" is not a string") == 0,
	    "label not a string: %s", e.text);
	CHECK(arxiv_dataset_load("/nonexistent.jsonl", NULL, 0, &e) == NULL &&
	    strcmp(e.source, "/nonexistent.jsonl") == 0, "missing file: %s", e.text);
	p = put("empty.jsonl", "");
	d = arxiv_dataset_load(p, NULL, 0, &e);
	CHECK(d && arxiv_dataset_count(d) == 0 && arxiv_dataset_nlabels(d) == 0, "empty file: empty set");
	arxiv_dataset_free(d);
	arxiv_dataset_free(NULL);

	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}

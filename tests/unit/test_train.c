/* test_train.c - arxiv_train (train.c): what it writes (artifact.json,
 * label2id.json, metrics.json), its refusals, the atomic replacement of an
 * existing directory, the removal of dead runs' temporaries, the umask, and
 * divergence; arxiv_train_params_json. Uses the fixtures of
 * tests/cases/arxiv-train (tests/run.sh runs from the top). */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "arxiv.h"
#include "tap.h"

#define FIX "tests/cases/arxiv-train/"

static char dir[] = "/tmp/test_train.XXXXXX";

static json_t *
load(const char *art, const char *name)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", art, name);
	return json_load_file(path, 0, NULL);
}

static int
count_tmp(void)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	int n = 0;

	while ((de = readdir(dp)) != NULL)
		n += strstr(de->d_name, ".tmp.") != NULL;
	closedir(dp);
	return n;
}

int
main(void)
{
	struct arxiv_train_params p = arxiv_train_default_params();
	struct arxiv_dataset *tr, *va, *other;
	struct arxiv_error e = { "", 0, "" };
	struct arxiv_buf b = { 0 };
	struct stat st, st2;
	char art[300], stale[400], live[400], host[256] = "", path[600];
	json_t *o, *x;
	unsigned tag;
	pid_t pid;

	setenv("ARXIV_DATADIR", "data", 0);
	if (mkdtemp(dir) == NULL)
		return 1;
	tr = arxiv_dataset_load(FIX "train.jsonl", NULL, 0, &e);
	va = tr ? arxiv_dataset_load(FIX "val.jsonl", (const char *const[]){
	    arxiv_dataset_label(tr, 0), arxiv_dataset_label(tr, 1), arxiv_dataset_label(tr, 2) },
	    arxiv_dataset_nlabels(tr), &e) : NULL;
	CHECK(tr && va, "fixtures load: %s", e.text);
	if (!tr || !va)
		return tap_done();

	/* params JSON: every parameter, the learning rate resolved */
	CHECK(arxiv_train_params_json(&p, &b) == 0, "params JSON");
	o = json_loads(b.data, 0, NULL);
	CHECK(o && json_real_value(json_object_get(o, "lr")) > 0.09 &&
	    json_real_value(json_object_get(o, "lr")) < 0.11, "lr 0 resolves to the fast default 0.1");
	CHECK(o && strcmp(json_string_value(json_object_get(o, "model_type")), "fast") == 0 &&
	    json_integer_value(json_object_get(o, "buckets")) == 1 << 21, "defaults in the JSON");
	json_decref(o);

	p.threads = 1;
	p.buckets = 1 << 14;
	p.epochs = 3;
	snprintf(art, sizeof(art), "%s/art", dir);

	/* a dead run's temporary (this host, a pid that is gone) and a live one */
	gethostname(host, sizeof(host) - 1);
	tag = (unsigned)arxiv_hash64(host, strlen(host), 0x746d70);
	if ((pid = fork()) == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	snprintf(stale, sizeof(stale), "%s.tmp.%08x-%ld.AbCdEf", art, tag, (long)pid);
	snprintf(live, sizeof(live), "%s.tmp.%08x-%ld.AbCdEf", art, tag, (long)getppid());
	mkdir(stale, 0755);
	snprintf(path, sizeof(path), "%s/junk", stale);
	mkdir(path, 0755);
	mkdir(live, 0755);

	umask(027);
	CHECK(arxiv_train(&p, tr, va, art, 0, &e) == 0, "train: %s", e.text);
	umask(022);
	CHECK(access(stale, F_OK) != 0, "the dead run's temporary is removed");
	CHECK(access(live, F_OK) == 0, "a live run's temporary is kept");
	rmdir(live);
	CHECK(count_tmp() == 0, "no temporary left");
	CHECK(stat(art, &st) == 0 && (st.st_mode & 0777) == 0750, "umask 027: 0750 (%o)",
	    (unsigned)(st.st_mode & 0777));

	o = load(art, "metadata/artifact.json");
	CHECK(o && strcmp(json_string_value(json_object_get(o, "format")), "arxiv-artifacts") == 0 &&
	    json_integer_value(json_object_get(o, "version")) == ARXIV_ARTIFACT_VERSION &&
	    strcmp(json_string_value(json_object_get(o, "model_type")), "fast") == 0 &&
	    json_integer_value(json_object_get(o, "train_examples")) == (json_int_t)arxiv_dataset_count(tr) &&
	    json_integer_value(json_object_get(o, "val_examples")) == (json_int_t)arxiv_dataset_count(va),
	    "artifact.json: format, version, kind, example counts");
	x = json_object_get(json_object_get(o, "params"), "epochs");
	CHECK(json_integer_value(x) == 3, "artifact.json keeps the parameters");
	json_decref(o);
	o = load(art, "metadata/label2id.json");
	CHECK(o && json_object_size(o) == 3 &&
	    json_integer_value(json_object_get(o, arxiv_dataset_label(tr, 2))) == 2,
	    "label2id.json: the training label order");
	json_decref(o);
	o = load(art, "metadata/metrics.json");
	x = o ? json_object_get(o, "val") : NULL;
	CHECK(o && json_integer_value(json_object_get(o, "epochs")) == 3 &&
	    json_integer_value(json_object_get(o, "best_epoch")) >= 1 &&
	    json_real_value(json_object_get(x, "accuracy")) > 0.9,
	    "metrics.json: epochs, best epoch, val accuracy on separable fixtures");
	json_decref(o);

	/* refusals, and nothing written */
	CHECK(arxiv_train(&p, tr, va, art, 0, &e) < 0 && strstr(e.text, "already exists"),
	    "no overwrite without the flag: %s", e.text);
	other = arxiv_dataset_load(FIX "val.jsonl", NULL, 0, &e);
	if (other && arxiv_dataset_nlabels(other) == 3 &&
	    strcmp(arxiv_dataset_label(other, 0), arxiv_dataset_label(tr, 0)) != 0) {
		snprintf(path, sizeof(path), "%s/x", dir);
		CHECK(arxiv_train(&p, tr, other, path, 0, &e) < 0 && strstr(e.text, "labels differ"),
		    "a val set in another label order: %s", e.text);
	}
	arxiv_dataset_free(other);
	p.model_type = "gpt";
	snprintf(path, sizeof(path), "%s/x", dir);
	CHECK(arxiv_train(&p, tr, va, path, 0, &e) < 0 && strstr(e.text, "unknown model type 'gpt'"),
	    "unknown kind: %s", e.text);
	p.model_type = "fast";
	p.lr = 3;
	CHECK(arxiv_train(&p, tr, va, path, 0, &e) < 0 &&
	    strncmp(e.text, "training diverged at epoch 1 (loss is not finite); lower the learning "
	    "rate", 73) == 0, "divergence: %s", e.text);
	CHECK(access(path, F_OK) != 0 && count_tmp() == 0, "nothing written after the failures");
	p.lr = 0;

	/* overwrite: one exchange; the old tree is gone, the path is never empty */
	stat(art, &st);
	CHECK(arxiv_train(&p, tr, va, art, 1, &e) == 0, "overwrite: %s", e.text);
	CHECK(stat(art, &st2) == 0 && st2.st_ino != st.st_ino, "a new directory at the path");
	CHECK(count_tmp() == 0, "the old model is removed");
	snprintf(path, sizeof(path), "%s/file", dir);
	fclose(fopen(path, "w"));
	CHECK(arxiv_train(&p, tr, va, path, 1, &e) < 0 && strstr(e.text, "not an artifacts directory"),
	    "a file is not replaced: %s", e.text);

	arxiv_dataset_free(tr);
	arxiv_dataset_free(va);
	arxiv_buf_free(&b);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		return 1;
	return tap_done();
}

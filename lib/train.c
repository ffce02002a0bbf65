/*
 * train.c - arxiv_train: dispatch to the fast model (fasttext.c) or the
 * transformer plugin (bert_train), then write the artifacts directory:
 *
 *   metadata/artifact.json    {"format":"arxiv-artifacts","version":2,"model_type":..,..}
 *   metadata/label2id.json    {"label":id,..}
 *   metadata/metrics.json     {"best_epoch":..,"epochs":..,"train":{"loss":..},
 *                              "val":{<arxiv_metrics_json>,"loss":..},"test":{..}}
 *   model/                    config.json + model.safetensors
 *   tokenizer/preprocess.json {"input":"text"|"wordpiece","prep":<signature>,"map":{..},"tok":{..}}
 *   tokenizer/vocab.txt       (wordpiece input)
 *
 * Everything is written into "<out_dir>.tmp.<host>-<pid>.XXXXXX" next to out_dir
 * and renamed into place at the end, so a reader never sees a half-written
 * directory; an existing out_dir is only replaced when overwrite is set, and
 * then by one renameat2(RENAME_EXCHANGE), so that at every instant out_dir holds
 * a complete model (the old one, then the new one). On a file system without
 * RENAME_EXCHANGE (EINVAL: some network and FUSE file systems) the fallback is
 * two renames, out_dir -> <tmp>.old.XXXXXX then tmp -> out_dir, with a short
 * window where out_dir is absent. The temporary's name records the host and
 * the pid of its run: the next run removes those of dead runs on this host
 * (left by a kill -9 or a crash). Directories are created with 0777 & ~umask,
 * like mkdir(1), so a server running as another user can read them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "answer.h"

/* Defaults common to every kind, then each kind's own (the fast model's are
 * ft_default_params in fasttext.c, the transformer's bert_default_params). */
struct arxiv_train_params
arxiv_train_default_params(void)
{
	struct arxiv_train_params p;
	const struct model_kind *k;
	size_t i;

	memset(&p, 0, sizeof(p));
	p.model_type = model_kind_at(0)->name;	/* the default kind */
	p.epochs = 8;
	p.patience = 3;
	p.threads = 0;
	p.seed = 42;
	p.lr = 0;		/* the kind's default (model_kind.default_lr) */
	for (i = 0; (k = model_kind_at(i)) != NULL; i++)
		if (k->defaults)
			k->defaults(&p);
	p.distill_alpha = 0.5;	/* distillation, when a teacher is given */
	p.distill_temperature = 2;
	return p;
}

/* The learning rate to use: p->lr, or for 0 the model kind's default. */
static double
resolved_lr(const struct arxiv_train_params *p)
{
	const struct model_kind *k = model_kind_find(p->model_type);

	if (p->lr > 0)
		return p->lr;
	return k && k->default_lr ? k->default_lr(p) : 0;
}

int
arxiv_train_params_json(const struct arxiv_train_params *p, struct arxiv_buf *out)
{
	json_t *o;
	char *s;
	int rc;

#define S(x) ((x) ? json_string(x) : json_null())
	o = json_pack("{s:o,s:i,s:i,s:i,s:I,s:f,s:i,s:i,s:i,s:i,s:i,s:I,s:f,s:f,"
	    "s:o,s:o,s:o,s:o,s:o,s:i,s:i,s:f,s:f,s:f,s:f,s:o,s:o}",
	    "model_type", S(p->model_type ? p->model_type : model_kind_at(0)->name), "epochs", p->epochs,
	    "patience", p->patience, "threads", p->threads, "seed", (json_int_t)p->seed,
	    "lr", resolved_lr(p), "verbose", p->verbose, "dim", p->dim, "word_ngrams", p->word_ngrams,
	    "char_minn", p->char_minn, "char_maxn", p->char_maxn,
	    "buckets", (json_int_t)p->buckets, "class_weight", p->class_weight, "l2", p->l2 >= 0 ? p->l2 : ft_default_l2(p->loss),
	    "loss", S(p->loss ? p->loss : "hinge"),
	    "init_dir", S(p->init_dir), "config", S(p->config), "device", S(p->device),
	    "precision", S(p->precision ? p->precision : "auto"),
	    "batch_size", p->batch_size, "grad_accum", p->grad_accum,
	    "weight_decay", p->weight_decay, "warmup_ratio", p->warmup_ratio,
	    "max_grad_norm", p->max_grad_norm, "dropout", p->dropout,
	    "resume_dir", S(p->resume_dir), "vocab", S(p->vocab));
	if (o != NULL &&
	    (json_object_set_new(o, "teacher", S(p->teacher)) < 0 ||
	    json_object_set_new(o, "unlabelled", S(p->unlabelled)) < 0 ||
	    json_object_set_new(o, "distill_alpha", json_real(p->distill_alpha)) < 0 ||
	    json_object_set_new(o, "distill_temperature", json_real(p->distill_temperature)) < 0)) {
		json_decref(o);
		return -1;
	}
#undef S
	if (o == NULL)
		return -1;
	s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (s == NULL)
		return -1;
	arxiv_buf_clear(out);
	rc = arxiv_buf_append(out, s, strlen(s));
	free(s);
	return rc;
}

/* ------------------------------------------------------------ helpers */

static int
write_json(const char *dir, const char *name, json_t *o, struct arxiv_error *err)
{
	struct arxiv_atomic *a;
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (o == NULL) {
		arxiv_error_set(err, path, 0, "out of memory");
		return -1;
	}
	if ((a = arxiv_atomic_open(path, NULL, err)) == NULL) {
		json_decref(o);
		return -1;
	}
	if (json_dumpf(o, arxiv_atomic_file(a), JSON_INDENT(2) | JSON_REAL_PRECISION(10)) < 0) {
		arxiv_error_set(err, path, 0, "write error: %s", strerror(errno ? errno : EIO));
		arxiv_atomic_abort(a);
		json_decref(o);
		return -1;
	}
	json_decref(o);
	return arxiv_atomic_commit(a, err);
}

static int
copy_file(const char *from, const char *to, struct arxiv_error *err)
{
	struct arxiv_atomic *a;
	FILE *in, *out;
	char buf[65536];
	size_t n;

	if ((in = fopen(from, "rb")) == NULL) {
		arxiv_error_set(err, from, 0, "%s", strerror(errno));
		return -1;
	}
	if ((a = arxiv_atomic_open(to, NULL, err)) == NULL) {
		fclose(in);
		return -1;
	}
	out = arxiv_atomic_file(a);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			break;
	if (ferror(in) || ferror(out)) {
		arxiv_error_set(err, ferror(in) ? from : to, 0, "copy failed: %s",
		    strerror(errno ? errno : EIO));
		fclose(in);
		arxiv_atomic_abort(a);
		return -1;
	}
	fclose(in);
	return arxiv_atomic_commit(a, err);
}

static int
mkdir_in(const char *dir, const char *sub, struct arxiv_error *err)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (mkdir(path, 0777) < 0 && errno != EEXIST) {
		arxiv_error_set(err, path, 0, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ------------------------------------------- the temporary directory */

/* 8 hex digits naming this host in temporary names (a hash of its name). */
static unsigned
host_tag(void)
{
	char h[256] = "";

	gethostname(h, sizeof(h) - 1);
	return (unsigned)arxiv_hash64(h, strlen(h), 0x746d70);
}

/*
 * Remove "<base>.tmp.<host>-<pid>.XXXXXX" directories beside out_dir left by
 * runs on this host whose process is gone. Directories of live runs, of other
 * hosts, of other users, and anything else are left alone.
 */
static void
remove_stale(const char *out_dir, size_t len)
{
	char dir[4096], prefix[4200], path[8400];
	const char *base;
	size_t dlen, plen;
	struct dirent *de;
	struct stat st;
	unsigned tag = host_tag(), t;
	long pid;
	int n;
	DIR *dp;

	base = memrchr(out_dir, '/', len);
	if (base) {
		dlen = (size_t)(base - out_dir);
		snprintf(dir, sizeof(dir), "%.*s", (int)(dlen ? dlen : 1), out_dir);
		base++;
	} else {
		snprintf(dir, sizeof(dir), ".");
		base = out_dir;
	}
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%.*s.tmp.", (int)(len - (size_t)(base - out_dir)), base);
	if ((dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		n = 0;
		if (sscanf(de->d_name + plen, "%8x-%ld.%n", &t, &pid, &n) != 2 || n == 0 ||
		    strlen(de->d_name + plen + n) != 6 || t != tag || pid <= 0 ||
		    pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;	/* alive (or not ours to signal): in use */
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
			continue;
		arxiv_log(ARXIV_LOG_INFO, "%s: removing the temporary directory of a dead run", path);
		arxiv_tree_remove(path);
	}
	closedir(dp);
}

/*
 * 0 when out_dir may be replaced: a directory (not a symbolic link) that is
 * empty or holds artifacts (metadata/artifact.json), so -f cannot wipe a
 * home directory given by mistake.
 */
static int
check_replace(const char *out_dir, struct arxiv_error *err)
{
	char path[4200];
	struct stat st;
	DIR *dp;
	struct dirent *de;
	int empty = 1;

	if (lstat(out_dir, &st) < 0) {
		arxiv_error_set(err, out_dir, 0, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		arxiv_error_set(err, out_dir, 0, "is %s, not an artifacts directory; refusing to "
		    "replace it", S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/metadata/artifact.json", out_dir);
	if (access(path, F_OK) == 0)
		return 0;
	if ((dp = opendir(out_dir)) != NULL) {
		while ((de = readdir(dp)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				empty = 0;
		closedir(dp);
	}
	if (empty)
		return 0;
	arxiv_error_set(err, out_dir, 0, "not an artifacts directory (no metadata/artifact.json); "
	    "refusing to replace it");
	return -1;
}

/*
 * Put the finished tmp at out_dir. An existing out_dir is exchanged with tmp in
 * one step (tmp then holds the old model, which the caller removes).
 * *exchanged tells whether tmp now holds the old model.
 */
static int
install_dir(const char *tmp, const char *out_dir, int overwrite, int *exchanged,
    struct arxiv_error *err)
{
	char old[4200];
	struct stat sb;

	*exchanged = 0;
	if (lstat(out_dir, &sb) < 0) {
		if (rename(tmp, out_dir) < 0) {
			arxiv_error_set(err, out_dir, 0, "rename: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (!overwrite) {
		arxiv_error_set(err, out_dir, 0, "already exists (overwrite it with -f)");
		return -1;
	}
	if (check_replace(out_dir, err) < 0)
		return -1;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out_dir, RENAME_EXCHANGE) == 0) {
		*exchanged = 1;
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS) {
		arxiv_error_set(err, out_dir, 0, "rename: %s", strerror(errno));
		return -1;
	}
	/* fallback: two renames (see the top of this file) */
	snprintf(old, sizeof(old), "%s.old.XXXXXX", tmp);
	if (mkdtemp(old) == NULL || rename(out_dir, old) < 0) {
		arxiv_error_set(err, out_dir, 0, "cannot move the old artifacts aside: %s",
		    strerror(errno));
		return -1;
	}
	if (rename(tmp, out_dir) < 0) {
		arxiv_error_set(err, out_dir, 0, "rename: %s", strerror(errno));
		rename(old, out_dir);
		return -1;
	}
	arxiv_tree_remove(old);
	return 0;
}

/* Wraps the caller's on_epoch to remember the best epoch (for metrics.json). */
struct epoch_tap {
	const struct arxiv_train_params *p;
	struct arxiv_epoch_stats best;
	int epochs;
};

static void
tap_epoch(const struct arxiv_epoch_stats *s, void *ud)
{
	struct epoch_tap *t = ud;

	t->epochs = s->epoch;
	if (s->best)
		t->best = *s;
	if (t->p->on_epoch)
		t->p->on_epoch(s, t->p->ud);
}

/* metrics object of predictions over a data set, plus "loss" when >= 0. */
static json_t *
metrics_obj(const struct arxiv_dataset *d, char *const *labels, size_t n_labels,
    const struct arxiv_prediction *pred, double loss)
{
	struct arxiv_metrics *m;
	struct arxiv_buf b = {0};
	json_t *o = NULL;
	size_t i;

	if ((m = arxiv_metrics_new(n_labels, (const char *const *)labels)) == NULL)
		return NULL;
	for (i = 0; i < d->n; i++)
		if (d->label[i] >= 0)
			arxiv_metrics_add(m, d->label[i], &pred[i], d->fields ? d->fields[i] : 0);
	if (arxiv_metrics_json(m, &b) == 0)
		o = json_loadb(b.data, b.len, 0, NULL);
	if (o && loss >= 0)
		json_object_set_new(o, "loss", json_real(loss));
	arxiv_buf_free(&b);
	arxiv_metrics_free(m);
	return o;
}

static int
check_labels(const struct arxiv_dataset *a, const struct arxiv_dataset *b,
    struct arxiv_error *err)
{
	size_t i;

	if (b->n_labels > a->n_labels)
		goto bad;
	for (i = 0; i < b->n_labels; i++)
		if (strcmp(a->labels[i], b->labels[i]) != 0)
			goto bad;
	return 0;
bad:
	arxiv_error_set(err, b->name, 0, "labels differ from the training set's (load it with "
	    "the training labels)");
	return -1;
}

/* ------------------------------------------------------------- train */

int
fast_train(const struct arxiv_train_params *p, const struct arxiv_dataset *train0,
    const struct arxiv_dataset *val0, const char *tmp, struct arxiv_prediction *val_out,
    json_t **test_metrics, json_t **distill_info, struct arxiv_error *err)
{
	struct ds_distill dx;
	struct arxiv_dataset train = *train0, val = *val0, test;
	struct arxiv_clean_params cp;
	struct arxiv_buf sig = {0};
	struct arxiv_vocab *voc = NULL;
	struct arxiv_epoch_stats best;
	struct ft_model *m = NULL;
	struct arxiv_prediction *tp = NULL;
	int cl_train = 1, cl_val = 1, cl_test = 1, rc = -1, ids = train0->ids != NULL;
	char path[4200];
	struct arxiv_prep pre;
	double tloss;

	memset(&dx, 0, sizeof(dx));
	if (p->teacher) {	/* distillation: train + unlabelled, soft targets */
		if (ds_distill(p, train0, &dx, err) < 0)
			return -1;
		train = dx.set;
		*distill_info = json_pack("{s:s,s:s,s:o,s:I,s:f,s:f,s:s}", "teacher", p->teacher,
		    "teacher_model_type", dx.teacher_type, "unlabelled",
		    p->unlabelled ? json_string(p->unlabelled) : json_null(),
		    "unlabelled_examples", (json_int_t)dx.n_unlabelled,
		    "alpha", p->distill_alpha, "temperature", p->distill_temperature,
		    "loss", "softmax");
		arxiv_log(ARXIV_LOG_DEBUG, "distilling %s (%s) on %zu labelled and %zu unlabelled "
		    "records", p->teacher, dx.teacher_type, train0->n, dx.n_unlabelled);
	}
	if (ids) {
		if (val0->ids == NULL || val0->seq_len != train0->seq_len ||
		    val0->vocab_hash != train0->vocab_hash) {
			arxiv_error_set(err, val0->name, 0, "not a tensor stream of the training "
			    "set's vocabulary and sequence length");
			return -1;
		}
		if (p->vocab == NULL) {
			arxiv_error_set(err, train0->name, 0, "a tensor stream needs its vocabulary "
			    "(vocab.txt) to be stored with the model");
			return -1;
		}
		if ((voc = arxiv_vocab_load(p->vocab, err)) == NULL)
			return -1;
		if (arxiv_vocab_hash(voc) != train0->vocab_hash) {
			arxiv_error_set(err, p->vocab, 0, "vocabulary hash %016llx does not match "
			    "the tensor stream's %016llx", (unsigned long long)arxiv_vocab_hash(voc),
			    (unsigned long long)train0->vocab_hash);
			goto out;
		}
		if (arxiv_buf_append(&sig, train0->prep ? train0->prep : "",
		    train0->prep ? strlen(train0->prep) : 0) < 0)
			goto nomem;
	} else {
		if (train0->text == NULL || val0->text == NULL) {
			arxiv_error_set(err, val0->name, 0, "training and validation sets must "
			    "both be JSONL or both tensor streams");
			return -1;
		}
		/* "clean" records keep their signature, raw text gets the default cleaner */
		if (train0->prep && train0->prep[0])
			arxiv_buf_append(&sig, train0->prep, strlen(train0->prep));
		else {
			cp = arxiv_clean_default_params();
			if (arxiv_clean_params_str(&cp, &sig) < 0)
				goto nomem;
		}
		if ((cl_train = ds_clean(&train, sig.data, p->threads, err)) < 0 ||
		    (cl_val = ds_clean(&val, sig.data, p->threads, err)) < 0)
			goto out;
	}
	if (ft_train_soft(p, &train, dx.soft, &val, tmp, val_out, &best, &m, err) < 0)
		goto out;
	/* the fields threshold and the domain check (decision.c) */
	if (dec_train(p, ids ? NULL : train0, val0, val_out, tmp, err) < 0)
		goto out;

	/* tokenizer/ */
	if (mkdir_in(tmp, "tokenizer", err) < 0)
		goto out;
	pre = arxiv_prep_default();
	snprintf(pre.input, sizeof(pre.input), "%s", ids ? "wordpiece" : "text");
	if (snprintf(pre.prep, sizeof(pre.prep), "%s", sig.data ? sig.data : "") >=
	    (int)sizeof(pre.prep)) {
		arxiv_error_set(err, "", 0, "preprocessing signature too long");
		goto out;
	}
	if (ids) {
		pre.seq_len = train0->seq_len;
		pre.lowercase = (int)(train0->tok_flags & 1);
		pre.vocab_hash = train0->vocab_hash;
		pre.has_vocab_hash = 1;
		pre.vocab_size = arxiv_vocab_size(voc);
	}
	snprintf(path, sizeof(path), "%s/tokenizer/preprocess.json", tmp);
	if (arxiv_prep_write(path, &pre, err) < 0)
		goto out;
	if (ids) {
		snprintf(path, sizeof(path), "%s/tokenizer/vocab.txt", tmp);
		if (copy_file(p->vocab, path, err) < 0)
			goto out;
	}

	/* test set metrics from the model in memory */
	if (p->test) {
		test = *p->test;
		if (check_labels(train0, &test, err) < 0)
			goto out;
		if (ids != (test.ids != NULL) || (ids && (test.seq_len != train0->seq_len ||
		    test.vocab_hash != train0->vocab_hash))) {
			arxiv_error_set(err, test.name, 0, "test set is not of the training set's kind");
			goto out;
		}
		if (!ids && (cl_test = ds_clean(&test, sig.data, p->threads, err)) < 0)
			goto out;
		if ((tp = calloc(test.n ? test.n : 1, sizeof(*tp))) == NULL)
			goto nomem;
		if (ft_predict_dataset(m, &test, p->threads, train0->n_labels, tp, &tloss) < 0)
			goto nomem;
		*test_metrics = metrics_obj(&test, train0->labels, train0->n_labels, tp, tloss);
	}
	rc = 0;
	goto out;
nomem:
	arxiv_error_set(err, "", 0, "out of memory");
out:
	if (cl_train == 0)
		ds_free_texts(&train);
	if (cl_val == 0)
		ds_free_texts(&val);
	if (cl_test == 0)
		ds_free_texts(&test);
	ds_distill_free(&dx);
	free(tp);
	ft_free(m);
	arxiv_vocab_free(voc);
	arxiv_buf_free(&sig);
	return rc;
}

int
bert_train_kind(const struct arxiv_train_params *p, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *tmp, struct arxiv_prediction *val_out,
    json_t **test_metrics, json_t **distill, struct arxiv_error *err)
{
	(void)test_metrics;
	(void)distill;
	if (bert_train(p, train, val, tmp, val_out, err) < 0)
		return -1;
	if (dec_train(p, NULL, val, val_out, tmp, err) < 0)
		return -1;
	if (p->test)
		arxiv_log(ARXIV_LOG_WARN, "test metrics of transformer models: use arxiv-eval");
	return 0;
}

int
arxiv_train(const struct arxiv_train_params *p0, const struct arxiv_dataset *train,
    const struct arxiv_dataset *val, const char *out_dir, int overwrite, struct arxiv_error *err)
{
	struct arxiv_train_params p = *p0;
	struct epoch_tap tap = { p0, { 0 }, 0 };
	struct arxiv_prediction *vp = NULL;
	struct arxiv_buf pj = {0};
	struct stat sb;
	char tmp[4096];
	const struct model_kind *kind = model_kind_find(p.model_type);
	json_t *o, *test_m = NULL, *params, *distill = NULL;
	size_t i;
	int rc = -1, have_tmp = 0, exchanged = 0;

	if (kind == NULL) {
		arxiv_error_set(err, "", 0, "unknown model type '%s' (fast or bert)", p.model_type);
		return -1;
	}
	if (p.teacher) {
		if (strcmp(kind->name, "fast") != 0) {
			arxiv_error_set(err, "", 0, "distillation (teacher) trains the fast model only");
			return -1;
		}
		if (!(p.distill_alpha >= 0 && p.distill_alpha <= 1) ||
		    !(p.distill_temperature >= 0.01 && p.distill_temperature <= 100)) {
			arxiv_error_set(err, "", 0, "distill_alpha must be in [0, 1] and "
			    "distill_temperature in [0.01, 100]");
			return -1;
		}
		p.loss = "softmax";	/* soft targets: softmax cross-entropy */
	} else if (p.unlabelled) {
		arxiv_error_set(err, p.unlabelled, 0, "unlabelled records need a teacher");
		return -1;
	}
	p.lr = resolved_lr(&p);
	if (check_labels(train, val, err) < 0)
		return -1;
	if (val->n == 0) {
		arxiv_error_set(err, val->name, 0, "empty validation set");
		return -1;
	}
	if (stat(out_dir, &sb) == 0 && !overwrite) {
		arxiv_error_set(err, out_dir, 0, "already exists (overwrite it with -f)");
		return -1;
	}
	if (stat(out_dir, &sb) == 0 && check_replace(out_dir, err) < 0)
		return -1;
	i = strlen(out_dir);
	while (i > 1 && out_dir[i - 1] == '/')	/* "dir/" -> "dir.tmp.X", not "dir/.tmp.X" */
		i--;
	if (i + 64 > sizeof(tmp)) {
		arxiv_error_set(err, out_dir, 0, "path too long");
		return -1;
	}
	remove_stale(out_dir, i);
	snprintf(tmp, sizeof(tmp), "%.*s.tmp.%08x-%ld.XXXXXX", (int)i, out_dir, host_tag(),
	    (long)getpid());
	if (mkdtemp(tmp) == NULL) {
		arxiv_error_set(err, tmp, 0, "%s", strerror(errno));
		return -1;
	}
	if (chmod(tmp, 0777 & ~arxiv_umask()) < 0) {
		arxiv_error_set(err, tmp, 0, "%s", strerror(errno));
		arxiv_tree_remove(tmp);
		return -1;
	}
	have_tmp = 1;
	if (mkdir_in(tmp, "metadata", err) < 0)
		goto out;
	if ((vp = calloc(val->n, sizeof(*vp))) == NULL)
		goto nomem;
	p.on_epoch = tap_epoch;
	p.ud = &tap;
	if (kind->train(&p, train, val, tmp, vp, &test_m, &distill, err) < 0)
		goto out;
	if (tap.epochs == 0) {
		arxiv_error_set(err, "", 0, "interrupted before the first epoch completed");
		goto out;
	}

	/* metadata/ */
	if ((o = json_object()) == NULL)
		goto nomem;
	for (i = 0; i < train->n_labels; i++)
		json_object_set_new(o, train->labels[i], json_integer((json_int_t)i));
	if (write_json(tmp, "metadata/label2id.json", o, err) < 0)
		goto out;
	if (arxiv_train_params_json(&p, &pj) < 0 || (params = json_loads(pj.data, 0, NULL)) == NULL)
		goto nomem;
	o = json_pack("{s:s,s:i,s:s,s:s,s:I,s:o,s:I,s:I}", "format", "arxiv-artifacts",
	    "version", ARXIV_ARTIFACT_VERSION, "model_type", kind->name, "arxiv_version", ARXIV_VERSION,
	    "created", (json_int_t)time(NULL), "params", params,
	    "train_examples", (json_int_t)train->n, "val_examples", (json_int_t)val->n);
	if (o && distill) {
		json_object_set_new(o, "distillation", distill);
		distill = NULL;
	}
	if (write_json(tmp, "metadata/artifact.json", o, err) < 0)
		goto out;
	o = json_pack("{s:i,s:i,s:b,s:{s:f},s:o}", "best_epoch", tap.best.epoch,
	    "epochs", tap.epochs, "stopped", p.stop && *p.stop ? 1 : 0,
	    "train", "loss", tap.best.train_loss,
	    "val", metrics_obj(val, train->labels, train->n_labels, vp, tap.best.val_loss));
	if (o && test_m) {
		json_object_set_new(o, "test", test_m);
		test_m = NULL;
	}
	if (write_json(tmp, "metadata/metrics.json", o, err) < 0)
		goto out;

	/* into place */
	if (install_dir(tmp, out_dir, overwrite, &exchanged, err) < 0)
		goto out;
	if (exchanged)
		arxiv_tree_remove(tmp);	/* the old model */
	have_tmp = 0;
	rc = 0;
	goto out;
nomem:
	arxiv_error_set(err, "", 0, "out of memory");
out:
	if (have_tmp)
		arxiv_tree_remove(tmp);
	json_decref(test_m);
	json_decref(distill);
	arxiv_buf_free(&pj);
	free(vp);
	return rc;
}

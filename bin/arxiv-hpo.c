/*
 * arxiv-hpo - hyperparameter search: each trial is an arxiv-train process with
 * parameters proposed by a TPE (or random) sampler (lib/tpe.c); every trial is
 * recorded in an append-only journal and as an MLflow run nested under the
 * search's run; the best trial's model and metadata/best_hyperparams.json end
 * up in the output directory.
 *
 * Output directory:
 *   hpo/journal.jsonl           one JSON record a line, fsync'd: "study" (settings,
 *                               the space), "start", "step" (per-epoch value),
 *                               "end" (state, value, reason); the source of truth
 *   hpo/trial-NNNN/train.log    the trial's stdout and stderr
 *   hpo/trial-NNNN/model/       its artifacts (kept for the best trial only)
 *   metadata/ model/ tokenizer/ the best trial's artifacts (or the refit's)
 *   metadata/best_hyperparams.json
 *
 * Where trials run: locally (-j N at a time, fork/exec), on other hosts through
 * GNU parallel (--sshlogin), or as a Slurm job array (--slurm) whose tasks run
 * "arxiv-hpo --worker" against the shared journal.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "prog.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

#define MAX_TRIALS 100000
#define KILL_GRACE_S 5.0

/* the fast model's: ranges around arxiv-train's defaults, from the measured grid
 * of tests/bench/fast-grid.txt (unigrams lose 1.7 points; 1M-4M buckets and l2
 * within noise; lr per loss: hinge 0.1, softmax 0.5) */
static const char *const fast_space =
    "# the fast model's default space (arxiv-hpo(1))\n"
    "lr loguniform 0.03 1\n"
    "l2 loguniform 1e-7 1e-4\n"
    "class_weight uniform 0 1\n"
    "word_ngrams int 2 3\n"
    "buckets categorical 1048576 2097152 4194304\n"
    "epochs int 5 12\n"
    "loss categorical hinge softmax\n";

/* the original's (Optuna) space for the transformer; epochs' top from -e */
static const char *const bert_space_fmt =
    "# the transformer's default space (the original's)\n"
    "learning_rate loguniform 1e-5 5e-5\n"
    "batch_size categorical 8 16 32\n"
    "weight_decay uniform 0 0.3\n"
    "warmup_ratio uniform 0 0.2\n"
    "epochs int 2 %d\n";

enum {
	O_SPACE = 256, O_METRIC, O_SAMPLER, O_PRUNE, O_TIMEOUT, O_THREADS, O_SET, O_RESUME,
	O_REFIT, O_ASK, O_SSH, O_SLURM, O_VERBOSE, O_WORKER
};

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'M' },
	{ "init", required_argument, NULL, 'i' },
	{ "trials", required_argument, NULL, 'n' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "output", required_argument, NULL, 'o' },
	{ "seed", required_argument, NULL, 's' },
	{ "epochs", required_argument, NULL, 'e' },
	{ "force", no_argument, NULL, 'f' },
	{ "table", no_argument, NULL, 't' },
	{ "space", required_argument, NULL, O_SPACE },
	{ "metric", required_argument, NULL, O_METRIC },
	{ "sampler", required_argument, NULL, O_SAMPLER },
	{ "prune", no_argument, NULL, O_PRUNE },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "trial-jobs", required_argument, NULL, O_THREADS },
	{ "set", required_argument, NULL, O_SET },
	{ "resume", no_argument, NULL, O_RESUME },
	{ "refit", no_argument, NULL, O_REFIT },
	{ "ask", no_argument, NULL, O_ASK },
	{ "sshlogin", required_argument, NULL, O_SSH },
	{ "slurm", required_argument, NULL, O_SLURM },
	{ "worker", no_argument, NULL, O_WORKER },
	{ "verbose", no_argument, NULL, O_VERBOSE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "model", "fast|bert", "the model kind (default: fast)", 0 },
	{ "init", "init_dir", "transformer: the checkpoint every trial starts from", 0 },
	{ "trials", "trials", "trials in the study, a resumed journal's included (default: 20)", 0 },
	{ "jobs", "jobs", "trials at a time (default: 1)", 0 },
	{ "output", "dir", "the output directory (default: artifacts)", 0 },
	{ "seed", "seed", "the sampler's and every trial's seed (default: 42)", 0 },
	{ "epochs", "epochs", "the top of the transformer space's epochs (default: 4)", 0 },
	{ "force", NULL, "start a new search over an existing journal", 0 },
	{ "table", NULL, "print the trial table (alone: of -o's journal)", 0 },
	{ "space", "file", "the search space: lines \"name kind args\"", 0 },
	{ "metric", "accuracy|macro_f1|loss", "the objective (default: loss)", 0 },
	{ "sampler", "tpe|random", "the sampler (default: tpe)", 0 },
	{ "prune", NULL, "stop trials worse than the median at an epoch (MedianPruner)", 0 },
	{ "timeout", "seconds", "a trial's time limit (default: none)", 0 },
	{ "trial-jobs", "n", "threads of each trial, its -j (default: the cores / jobs)", 0 },
	{ "set", "key=value", "a training parameter fixed for every trial (repeatable)", 0 },
	{ "resume", NULL, "continue the journal's search; unfinished trials run again", 0 },
	{ "refit", NULL, "retrain the best parameters on train+val (JSONL)", 0 },
	{ "ask", NULL, "print the journal's next proposal and exit", 0 },
	{ "sshlogin", "logins", "run the trials on hosts through GNU parallel", 0 },
	{ "slurm", "options", "run the trials as a Slurm job array (key=value,...)", 0 },
	{ "worker", NULL, "one trial of a --slurm job array (used by its tasks)", 0 },
	{ "verbose", NULL, "report each trial on stderr", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog P = {
	"arxiv-hpo", "[train val]",
	"Search training hyperparameters with TPE; each trial an arxiv-train process.",
	"M:i:n:j:o:s:e:fthV", longopts, help, NULL
};

/* ------------------------------------------------------------- state */

enum { S_NONE = -1 };

struct trial {
	int used;		/* has a start record */
	int state;		/* ARXIV_TRIAL_* */
	double *x;
	double value;		/* metric as reported (not negated); NaN if none */
	double *steps;		/* intermediate values, minimised */
	int n_steps, cap_steps;
	double seconds;
	char reason[256];
	/* local execution */
	pid_t pid;
	double t0, deadline, kill_at;
	int prune_sent, timed_out;
	long log_off;
	char host[256];
	int hostidx;		/* --sshlogin: index into runcfg.hosts, else -1 */
};

struct study {
	/* settings (from the journal's study record when resuming) */
	char *space_text;
	struct arxiv_space *space;
	const char *model;
	char metric[16];
	int maximize;
	char sampler[16];
	uint64_t seed;
	int prune;
	char parent_run[64];	/* the search's MLflow run (journal) */
	/* run time */
	const char *out;
	char dir[4200];		/* out/hpo */
	char journal[4300];
	int jfd, locked;
	struct trial *t;
	size_t n_t, cap_t;
	int verbose;
};

static volatile sig_atomic_t stop_sig;

static void write_atomic(const char *path, const char *data);

/* snprintf for paths: a path that does not fit is an error, never cut short. */
static void __attribute__((format(printf, 3, 4)))
pathf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= n)
		errx(1, "%.60s...: path too long", buf);
}

static void
on_signal(int sig)
{
	stop_sig = sig;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
minimised(const struct study *st, double v)
{
	return st->maximize ? -v : v;
}

static struct trial *
trial_at(struct study *st, size_t n)
{
	struct trial *nt;
	size_t d = arxiv_space_size(st->space), i;

	if (n >= MAX_TRIALS)
		errx(1, "%s: trial number %zu out of range", st->journal, n);
	if (n >= st->cap_t) {
		size_t cap = st->cap_t ? st->cap_t : 64;

		while (cap <= n)
			cap *= 2;
		if ((nt = realloc(st->t, cap * sizeof(*nt))) == NULL)
			err(1, NULL);
		memset(nt + st->cap_t, 0, (cap - st->cap_t) * sizeof(*nt));
		st->t = nt;
		st->cap_t = cap;
	}
	if (st->t[n].x == NULL) {
		if ((st->t[n].x = malloc((d ? d : 1) * sizeof(double))) == NULL)
			err(1, NULL);
		for (i = 0; i < d; i++)
			st->t[n].x[i] = NAN;
		st->t[n].value = NAN;
		st->t[n].pid = 0;
	}
	if (n >= st->n_t)
		st->n_t = n + 1;
	return &st->t[n];
}

static void
add_step(struct trial *t, int step, double v)
{
	double *ns;
	int cap;

	if (step < 1 || step > 100000)
		return;
	if (step > t->cap_steps) {
		cap = t->cap_steps ? t->cap_steps : 16;
		while (cap < step)
			cap *= 2;
		if ((ns = realloc(t->steps, (size_t)cap * sizeof(double))) == NULL)
			err(1, NULL);
		t->steps = ns;
		t->cap_steps = cap;
	}
	while (t->n_steps < step - 1)
		t->steps[t->n_steps++] = NAN;
	t->steps[step - 1] = v;
	if (step > t->n_steps)
		t->n_steps = step;
}

static const char *
state_name(int s)
{
	switch (s) {
	case ARXIV_TRIAL_RUNNING: return "RUNNING";
	case ARXIV_TRIAL_COMPLETE: return "COMPLETE";
	case ARXIV_TRIAL_PRUNED: return "PRUNED";
	case ARXIV_TRIAL_FAILED: return "FAILED";
	}
	return "?";
}

static int
state_of(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "COMPLETE") == 0)
		return ARXIV_TRIAL_COMPLETE;
	if (strcmp(s, "PRUNED") == 0)
		return ARXIV_TRIAL_PRUNED;
	if (strcmp(s, "FAILED") == 0)
		return ARXIV_TRIAL_FAILED;
	return -1;
}

/* ----------------------------------------------------------- journal */

/* The journal's lock (flock) orders the records of several writers (Slurm
 * workers); nested calls count. */
static void
jlock(struct study *st)
{
	if (st->locked++ > 0)
		return;
	while (flock(st->jfd, LOCK_EX) < 0)
		if (errno != EINTR)
			err(1, "%s: flock", st->journal);
}

static void
junlock(struct study *st)
{
	if (--st->locked == 0)
		flock(st->jfd, LOCK_UN);
}

/* Append one record (steals o) and fsync it. The caller holds the lock or is
 * the only writer. */
static void
jappend(struct study *st, json_t *o)
{
	char *s;
	size_t n, off = 0;
	ssize_t w;

	if (o == NULL || (s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17))) == NULL)
		errx(1, "%s: out of memory", st->journal);
	json_decref(o);
	n = strlen(s);
	s[n++] = '\n';		/* json_dumps leaves room: it NUL-terminates */
	while (off < n) {
		if ((w = write(st->jfd, s + off, n - off)) < 0) {
			if (errno == EINTR)
				continue;
			err(1, "%s: write", st->journal);
		}
		off += (size_t)w;
	}
	if (fsync(st->jfd) < 0)
		err(1, "%s: fsync", st->journal);
	free(s);
}

static void
jappend_locked(struct study *st, json_t *o)
{
	jlock(st);
	jappend(st, o);
	junlock(st);
}

static json_t *
num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* One record into the in-memory study. */
static void
apply(struct study *st, json_t *o, long ln)
{
	const char *type = json_string_value(json_object_get(o, "type"));
	json_int_t n = json_integer_value(json_object_get(o, "trial"));
	struct trial *t;
	json_t *x;
	size_t i, d = arxiv_space_size(st->space);

	if (type == NULL || strcmp(type, "study") == 0)
		return;
	if (!json_is_integer(json_object_get(o, "trial")) || n < 0 || n >= MAX_TRIALS) {
		warnx("%s:%ld: record without a valid trial number; ignored", st->journal, ln);
		return;
	}
	t = trial_at(st, (size_t)n);
	if (strcmp(type, "start") == 0) {
		t->used = 1;
		t->state = ARXIV_TRIAL_RUNNING;
		t->n_steps = 0;
		t->reason[0] = '\0';
		t->value = NAN;
		x = json_object_get(o, "x");
		for (i = 0; i < d; i++) {
			json_t *v = json_array_get(x, i);

			t->x[i] = json_is_number(v) ? json_number_value(v) : NAN;
		}
		snprintf(t->host, sizeof(t->host), "%s",
		    json_string_value(json_object_get(o, "host")) ?
		    json_string_value(json_object_get(o, "host")) : "");
	} else if (strcmp(type, "step") == 0) {
		x = json_object_get(o, "value");
		add_step(t, (int)json_integer_value(json_object_get(o, "step")),
		    json_is_number(x) ? minimised(st, json_number_value(x)) : NAN);
	} else if (strcmp(type, "end") == 0) {
		int s = state_of(json_string_value(json_object_get(o, "state")));

		if (s < 0) {
			warnx("%s:%ld: unknown trial state; ignored", st->journal, ln);
			return;
		}
		t->used = 1;
		t->state = s;
		x = json_object_get(o, "value");
		t->value = json_is_number(x) ? json_number_value(x) : NAN;
		t->seconds = json_number_value(json_object_get(o, "seconds"));
		snprintf(t->reason, sizeof(t->reason), "%s",
		    json_string_value(json_object_get(o, "reason")) ?
		    json_string_value(json_object_get(o, "reason")) : "");
	}
}

static void
load_settings(struct study *st, json_t *o)
{
	struct arxiv_error e = {0};
	const char *s;

	s = json_string_value(json_object_get(o, "space"));
	if (s == NULL)
		errx(1, "%s:1: study record without a space", st->journal);
	free(st->space_text);
	if ((st->space_text = strdup(s)) == NULL)
		err(1, NULL);
	arxiv_space_free(st->space);
	if ((st->space = arxiv_space_parse(st->space_text, "journal space", &e)) == NULL) {
		prog_warnerr(&e);
		exit(1);
	}
	if ((s = json_string_value(json_object_get(o, "metric"))) != NULL)
		snprintf(st->metric, sizeof(st->metric), "%s", s);
	st->maximize = strcmp(st->metric, "loss") != 0;
	if ((s = json_string_value(json_object_get(o, "sampler"))) != NULL)
		snprintf(st->sampler, sizeof(st->sampler), "%s", s);
	if ((s = json_string_value(json_object_get(o, "model"))) != NULL)
		st->model = strcmp(s, "bert") == 0 ? "bert" : "fast";
	st->seed = (uint64_t)json_integer_value(json_object_get(o, "seed"));
	st->prune = json_is_true(json_object_get(o, "prune"));
	snprintf(st->parent_run, sizeof(st->parent_run), "%s",
	    json_string_value(json_object_get(o, "mlflow_run_id")) ?
	    json_string_value(json_object_get(o, "mlflow_run_id")) : "");
}

/*
 * Read the journal (the lock held). A last line without its newline (a write
 * cut by a crash) is cut off the file. Returns 0 when there was no study yet.
 */
static int
jread(struct study *st, int settings)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long ln = 0;
	off_t good = 0;
	int have = 0;
	json_t *o;
	size_t i;

	for (i = 0; i < st->n_t; i++) {
		st->t[i].used = 0;
		st->t[i].n_steps = 0;
	}
	if ((fp = fopen(st->journal, "r")) == NULL)
		err(1, "%s", st->journal);
	while ((len = getline(&line, &cap, fp)) > 0) {
		ln++;
		if (line[len - 1] != '\n') {
			warnx("%s:%ld: incomplete last record (a crash while writing); dropped",
			    st->journal, ln);
			if (ftruncate(st->jfd, good) < 0)
				err(1, "%s: truncate", st->journal);
			break;
		}
		good += len;
		if ((o = json_loadb(line, (size_t)len, 0, NULL)) == NULL) {
			warnx("%s:%ld: not a JSON record; ignored", st->journal, ln);
			continue;
		}
		if (!have) {
			const char *type = json_string_value(json_object_get(o, "type"));

			if (type == NULL || strcmp(type, "study") != 0)
				errx(1, "%s:%ld: the first record is not a study record",
				    st->journal, ln);
			if (settings)
				load_settings(st, o);
			have = 1;
		} else
			apply(st, o, ln);
		json_decref(o);
	}
	free(line);
	fclose(fp);
	return have;
}

static void
jstudy(struct study *st, const char *mlflow_id)
{
	jappend(st, json_pack("{s:s,s:i,s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:b,s:s,s:s}", "type", "study",
	    "version", 1, "arxiv_version", VERSION, "created", (json_int_t)time(NULL),
	    "model", st->model, "metric", st->metric,
	    "direction", st->maximize ? "maximize" : "minimize", "sampler", st->sampler,
	    "seed", (json_int_t)st->seed, "prune", st->prune, "space", st->space_text,
	    "mlflow_run_id", mlflow_id ? mlflow_id : ""));
}

static json_t *
params_obj(const struct study *st, const double *x)
{
	json_t *o = json_object();
	char buf[128], *end;
	size_t i;
	double v;

	for (i = 0; i < arxiv_space_size(st->space); i++) {
		if (arxiv_space_format(st->space, i, x[i], buf, sizeof(buf)) < 0)
			continue;
		v = strtod(buf, &end);
		json_object_set_new(o, arxiv_space_name(st->space, i),
		    end != buf && *end == '\0' && isfinite(v) ?
		    (arxiv_space_kind(st->space, i) == ARXIV_PARAM_INT ||
		    (v == floor(v) && fabs(v) < 9e15 && !strchr(buf, '.') && !strchr(buf, 'e')) ?
		    json_integer((json_int_t)v) : json_real(v)) : json_string(buf));
	}
	return o;
}

static void
jstart(struct study *st, size_t n, const char *host, pid_t pid)
{
	struct trial *t = &st->t[n];
	json_t *x = json_array();
	size_t i;

	for (i = 0; i < arxiv_space_size(st->space); i++)
		json_array_append_new(x, num_or_null(t->x[i]));
	jappend(st, json_pack("{s:s,s:I,s:o,s:o,s:I,s:s,s:I}", "type", "start",
	    "trial", (json_int_t)n, "params", params_obj(st, t->x), "x", x,
	    "time", (json_int_t)time(NULL), "host", host, "pid", (json_int_t)pid));
}

static void
jend(struct study *st, size_t n)
{
	struct trial *t = &st->t[n];
	json_t *o = json_pack("{s:s,s:I,s:s,s:o,s:f}", "type", "end", "trial", (json_int_t)n,
	    "state", state_name(t->state), "value", num_or_null(t->value), "seconds", t->seconds);

	if (t->reason[0])
		json_object_set_new(o, "reason", json_string(t->reason));
	jappend(st, o);
}

/* ---------------------------------------------------------- sampling */

/* The history as the sampler sees it: every trial with a start record. */
static struct arxiv_trial *
history(struct study *st, size_t *n)
{
	struct arxiv_trial *h = calloc(st->n_t + 1, sizeof(*h));
	size_t i, k = 0;

	if (h == NULL)
		err(1, NULL);
	for (i = 0; i < st->n_t; i++) {
		const struct trial *t = &st->t[i];

		if (!t->used)
			continue;
		h[k].state = t->state;
		h[k].x = t->x;
		h[k].value = minimised(st, t->value);
		h[k].steps = t->steps;
		h[k].n_steps = t->n_steps;
		k++;
	}
	*n = k;
	return h;
}

static size_t
next_number(const struct study *st)
{
	size_t i, n = 0;

	for (i = 0; i < st->n_t; i++)
		if (st->t[i].used)
			n = i + 1;
	return n;
}

static void
propose(struct study *st, size_t number, double *x)
{
	struct arxiv_sampler_params sp = arxiv_sampler_default_params();
	struct arxiv_trial *h;
	size_t nh, i;
	char buf[128];

	sp.tpe = strcmp(st->sampler, "random") != 0;
	sp.seed = st->seed;
	h = history(st, &nh);
	if (arxiv_sampler_suggest(st->space, &sp, h, nh, (uint64_t)number, x) < 0)
		errx(1, "sampler: out of memory");
	free(h);
	/* what the trial trains with is the printed value: keep exactly that */
	for (i = 0; i < arxiv_space_size(st->space); i++)
		if (arxiv_space_format(st->space, i, x[i], buf, sizeof(buf)) == 0)
			arxiv_space_parse_value(st->space, i, buf, &x[i]);
}

/* ------------------------------------------------------- trial processes */

struct host {
	char login[256];	/* GNU parallel's sshlogin, without "N/" */
	int slots, used, lost;	/* lost: trials that ended with ssh's 255 in a row */
};

struct runcfg {
	struct host *hosts;	/* --sshlogin */
	int n_hosts;
	const char *train_bin;
	const char *train, *val;
	const char *init;
	char **sets;
	size_t n_sets;
	int threads;
	double timeout;
	const char *parent_run;
};

static void
trial_dir(const struct study *st, size_t n, char *buf, size_t len)
{
	pathf(buf, len, "%s/trial-%04zu", st->dir, n);
}

/* argv of arxiv-train for trial n (strings in a static pool, rebuilt each call). */
static char **
train_argv(const struct study *st, const struct runcfg *rc, size_t n, const char *model_dir)
{
	static char pool[64][512];
	static char *argv[256];
	size_t i, a = 0, p = 0;
	char val[128];

#define ADD(s) do { if (a < 250) argv[a++] = (char *)(s); } while (0)
#define ADDF(...) do { if (p < 64) { snprintf(pool[p], sizeof(pool[p]), __VA_ARGS__); \
	ADD(pool[p]); p++; } } while (0)
	ADD(rc->train_bin);
	ADD("--verbose");
	ADD("-f");
	ADD("-M");
	ADD(st->model);
	if (rc->init) {
		ADD("-i");
		ADD(rc->init);
	}
	ADD("-o");
	ADD(model_dir);
	ADD("-j");
	ADDF("%d", rc->threads);
	ADD("-s");
	ADDF("%llu", (unsigned long long)st->seed);
	ADD("--run-name");
	ADDF("trial %zu", n);
	if (rc->parent_run && *rc->parent_run) {
		ADD("--mlflow-parent");
		ADD(rc->parent_run);
	}
	for (i = 0; i < rc->n_sets; i++) {
		ADD("--param");
		ADD(rc->sets[i]);
	}
	for (i = 0; i < arxiv_space_size(st->space); i++) {
		if (arxiv_space_format(st->space, i, st->t[n].x[i], val, sizeof(val)) < 0)
			continue;
		ADD("--param");
		ADDF("%s=%s", arxiv_space_name(st->space, i), val);
	}
	ADD(rc->train);
	ADD(rc->val);
	argv[a] = NULL;
#undef ADD
#undef ADDF
	return argv;
}

static pid_t
spawn(char **argv, const char *log_path, const char *cwd)
{
	pid_t pid, parent = getpid();
	int fd;

	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0)
		return pid;
	/* child: own process group (killed as a group), dies with the search */
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if ((fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		_exit(126);
	if (cwd && chdir(cwd) < 0)
		_exit(126);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if ((fd = open("/dev/null", O_RDONLY)) >= 0)
		dup2(fd, STDIN_FILENO);
	execvp(argv[0], argv);
	fprintf(stderr, "arxiv-hpo: %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static void
rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The last non-empty line of a log (the trainer's error message). */
static void
last_line(const char *path, char *buf, size_t n)
{
	FILE *fp = fopen(path, "r");
	char line[512];

	buf[0] = '\0';
	if (fp == NULL)
		return;
	if (fseek(fp, -4096, SEEK_END) < 0)
		rewind(fp);
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			snprintf(buf, n, "%.200s", line);
	}
	fclose(fp);
}

/* New per-epoch lines of a running trial's log: "epoch K/N ... val loss X val acc Y val macro-F1 Z". */
static void
read_progress(struct study *st, size_t n)
{
	struct trial *t = &st->t[n];
	char path[4400], line[1024];
	FILE *fp;
	int k, tot;
	double eps, tl, vl, va, vf, v;

	char tdir[4300];

	trial_dir(st, n, tdir, sizeof(tdir));
	pathf(path, sizeof(path), "%s/train.log", tdir);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	if (fseek(fp, t->log_off, SEEK_SET) < 0) {
		fclose(fp);
		return;
	}
	while (fgets(line, sizeof(line), fp)) {
		const char *p;

		if (line[strlen(line) - 1] != '\n')
			break;	/* partial line: read it next time */
		t->log_off = ftell(fp);
		if ((p = strstr(line, "epoch ")) == NULL ||
		    sscanf(p, "epoch %d/%d %lf ex/s train loss %lf val loss %lf val acc %lf "
		    "val macro-F1 %lf", &k, &tot, &eps, &tl, &vl, &va, &vf) != 7)
			continue;
		v = strcmp(st->metric, "accuracy") == 0 ? va :
		    strcmp(st->metric, "macro_f1") == 0 ? vf : vl;
		add_step(t, k, minimised(st, v));
		jappend_locked(st, json_pack("{s:s,s:I,s:i,s:o}", "type", "step", "trial",
		    (json_int_t)n, "step", k, "value", num_or_null(v)));
	}
	fclose(fp);
}

/* The objective from a finished trial's metadata/metrics.json. */
static int
read_objective(const struct study *st, const char *model_dir, double *v, char *why, size_t n)
{
	char path[4400];
	json_t *o, *x;
	json_error_t je;

	pathf(path, sizeof(path), "%s/metadata/metrics.json", model_dir);
	if ((o = json_load_file(path, 0, &je)) == NULL) {
		snprintf(why, n, "no metrics: %.150s: %.80s", path, je.text);
		return -1;
	}
	x = json_object_get(json_object_get(o, "val"), st->metric);
	if (!json_is_number(x) || !isfinite(json_number_value(x))) {
		snprintf(why, n, "objective val.%s is not a finite number", st->metric);
		json_decref(o);
		return -1;
	}
	*v = json_number_value(x);
	json_decref(o);
	return 0;
}

static int
best_trial(const struct study *st)
{
	size_t i;
	int b = -1;

	for (i = 0; i < st->n_t; i++)
		if (st->t[i].used && st->t[i].state == ARXIV_TRIAL_COMPLETE &&
		    isfinite(st->t[i].value) && (b < 0 ||
		    minimised(st, st->t[i].value) < minimised(st, st->t[b].value)))
			b = (int)i;
	return b;
}

/* Remove the models of finished trials that are not the best (disk). */
static void
drop_models(const struct study *st)
{
	int b = best_trial(st);
	char path[4400], tdir[4300];
	size_t i;

	for (i = 0; i < st->n_t; i++) {
		if (!st->t[i].used || st->t[i].state == ARXIV_TRIAL_RUNNING || (int)i == b)
			continue;
		trial_dir(st, i, tdir, sizeof(tdir));
		pathf(path, sizeof(path), "%s/model/model", tdir);
		rm_tree(path);
	}
}

static struct host *rc_hosts;	/* --sshlogin's hosts, for finish() */
static char worker_host[256];	/* --worker: "host (Slurm job J_T)" */

static void
finish(struct study *st, size_t n, int status)
{
	struct trial *t = &st->t[n];
	char dir[4300], model[4400], logp[4400], last[256];
	double v;

	trial_dir(st, n, dir, sizeof(dir));
	pathf(model, sizeof(model), "%s/model", dir);
	pathf(logp, sizeof(logp), "%s/train.log", dir);
	read_progress(st, n);
	t->seconds = now_s() - t->t0;
	t->pid = 0;
	t->reason[0] = '\0';
	if (t->timed_out) {
		t->state = ARXIV_TRIAL_FAILED;
		snprintf(t->reason, sizeof(t->reason), "timed out after %.0f s", t->deadline - t->t0);
	} else if (t->prune_sent) {
		t->state = ARXIV_TRIAL_PRUNED;
		t->value = t->n_steps ? minimised(st, t->steps[t->n_steps - 1]) : NAN;
		snprintf(t->reason, sizeof(t->reason), "pruned at epoch %d (worse than the median)",
		    t->n_steps);
	} else if (WIFSIGNALED(status)) {
		t->state = ARXIV_TRIAL_FAILED;
		snprintf(t->reason, sizeof(t->reason), "killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	} else if (WEXITSTATUS(status) != 0) {
		t->state = ARXIV_TRIAL_FAILED;
		last_line(logp, last, sizeof(last));
		snprintf(t->reason, sizeof(t->reason), "exit status %d: %.200s", WEXITSTATUS(status),
		    last);
	} else if (read_objective(st, model, &v, t->reason, sizeof(t->reason)) < 0) {
		t->state = ARXIV_TRIAL_FAILED;
	} else {
		t->state = ARXIV_TRIAL_COMPLETE;
		t->value = v;
	}
	if (t->state != ARXIV_TRIAL_COMPLETE && t->state != ARXIV_TRIAL_PRUNED)
		t->value = NAN;
	if (rc_hosts && t->hostidx >= 0) {
		struct host *h = &rc_hosts[t->hostidx];

		h->used--;
		if (t->state == ARXIV_TRIAL_FAILED && ((WIFEXITED(status) &&
		    WEXITSTATUS(status) == 255) || strstr(t->reason, ": ssh: ") != NULL)) {
			if (++h->lost == 2)
				warnx("%s: lost (ssh failed twice); no more trials there", h->login);
		} else
			h->lost = 0;
		t->hostidx = -1;
	}
	jlock(st);
	jend(st, n);
	junlock(st);
	if (st->verbose || t->state == ARXIV_TRIAL_FAILED)
		warnx("trial %zu: %s (%.1f s)%s%s", n, state_name(t->state), t->seconds,
		    t->reason[0] ? ": " : "", t->reason);
	if (st->verbose && isfinite(t->value))
		warnx("trial %zu: %s %.6g", n, st->metric, t->value);
	drop_models(st);
}

static int
start_local(struct study *st, const struct runcfg *rc, size_t n)
{
	struct trial *t = &st->t[n];
	char dir[4300], model[4400], logp[4400];
	char **argv;

	trial_dir(st, n, dir, sizeof(dir));
	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		err(1, "%s", dir);
	pathf(model, sizeof(model), "%s/model", dir);
	pathf(logp, sizeof(logp), "%s/train.log", dir);
	argv = train_argv(st, rc, n, model);
	t->t0 = now_s();
	t->deadline = rc->timeout > 0 ? t->t0 + rc->timeout : 0;
	t->kill_at = 0;
	t->prune_sent = t->timed_out = 0;
	t->log_off = 0;
	t->n_steps = 0;
	if ((t->pid = spawn(argv, logp, NULL)) < 0)
		err(1, "fork");
	setpgid(t->pid, t->pid);
	t->hostidx = -1;
	jstart(st, n, worker_host[0] ? worker_host : "local", t->pid);
	junlock(st);
	if (st->verbose)
		warnx("trial %zu: started (pid %d)", n, (int)t->pid);
	return 0;
}

/* A shell word: 'text' with every ' as '\''. */
static void
shquote(struct arxiv_buf *b, const char *s)
{
	arxiv_buf_append(b, "'", 1);
	for (; *s; s++)
		if (*s == '\'')
			arxiv_buf_append(b, "'\\''", 4);
		else
			arxiv_buf_append(b, s, 1);
	arxiv_buf_append(b, "'", 1);
}

/* "/abs/dir/./base" for parallel's --transferfile (lands as "base" remotely). */
static void
transfer_path(const char *path, char *out, size_t n, const char **base)
{
	char abs[PATH_MAX], *slash;

	if (realpath(path, abs) == NULL)
		err(1, "%s", path);
	slash = strrchr(abs, '/');
	*slash = '\0';
	pathf(out, n, "%s/./%s", abs[0] ? abs : "", slash + 1);
	*base = strrchr(out, '/') + 1;
}

/* One trial on a host through GNU parallel: inputs over, the model back. */
static int
start_ssh(struct study *st, struct runcfg *rc, size_t n, int hi)
{
	struct trial *t = &st->t[n];
	struct arxiv_buf cmd = {0};
	char dir[4300], logp[4400], tr[PATH_MAX + 8], va[PATH_MAX + 8], sl[300], ret[64];
	char *pargv[40], **targv, name[32];
	const char *tb, *vb;
	size_t i;
	int a = 0;

	trial_dir(st, n, dir, sizeof(dir));
	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		err(1, "%s", dir);
	pathf(logp, sizeof(logp), "%s/train.log", dir);
	transfer_path(rc->train, tr, sizeof(tr), &tb);
	transfer_path(rc->val, va, sizeof(va), &vb);
	if (strcmp(tb, vb) == 0)
		errx(1, "--sshlogin: %s and %s have the same name", rc->train, rc->val);
	snprintf(name, sizeof(name), "trial-%04zu", n);
	snprintf(ret, sizeof(ret), "%s/model", name);
	/* remote: ": N; mkdir -p trial-N && exec arxiv-train ... -o trial-N/model ... train val" */
	targv = train_argv(st, rc, n, ret);
	arxiv_buf_printf(&cmd, ": {}; mkdir -p %s && exec", name);
	for (i = 0; targv[i]; i++) {
		const char *w = targv[i];

		if (targv[i + 1] == NULL)
			w = vb;
		else if (targv[i + 2] == NULL)
			w = tb;
		arxiv_buf_append(&cmd, " ", 1);
		shquote(&cmd, w);
	}
	snprintf(sl, sizeof(sl), "1/%s", rc->hosts[hi].login);
	pargv[a++] = "parallel";
	pargv[a++] = "--will-cite";
	pargv[a++] = "-j1";
	pargv[a++] = "--lb";
	pargv[a++] = "-S";
	pargv[a++] = sl;
	pargv[a++] = "--workdir";
	pargv[a++] = "...";
	pargv[a++] = "--transferfile";
	pargv[a++] = tr;
	pargv[a++] = "--transferfile";
	pargv[a++] = va;
	pargv[a++] = "--return";
	pargv[a++] = ret;
	pargv[a++] = "--cleanup";
	if (getenv("MLFLOW_TRACKING_URI")) {
		pargv[a++] = "--env";
		pargv[a++] = "MLFLOW_TRACKING_URI";
	}
	if (getenv("ARXIV_DATADIR")) {
		pargv[a++] = "--env";
		pargv[a++] = "ARXIV_DATADIR";
	}
	pargv[a++] = cmd.data;
	pargv[a++] = ":::";
	pargv[a++] = name + 6;
	pargv[a] = NULL;
	t->t0 = now_s();
	t->deadline = rc->timeout > 0 ? t->t0 + rc->timeout : 0;
	t->kill_at = 0;
	t->prune_sent = t->timed_out = 0;
	t->log_off = 0;
	t->n_steps = 0;
	if ((t->pid = spawn(pargv, logp, st->dir)) < 0)
		err(1, "fork");
	setpgid(t->pid, t->pid);
	arxiv_buf_free(&cmd);
	t->hostidx = hi;
	rc->hosts[hi].used++;
	snprintf(t->host, sizeof(t->host), "%s", rc->hosts[hi].login);
	jstart(st, n, rc->hosts[hi].login, t->pid);
	junlock(st);
	if (st->verbose)
		warnx("trial %zu: started on %s", n, rc->hosts[hi].login);
	return 0;
}

/* A host with a free slot (least loaded first), or -1. */
static int
pick_host(const struct runcfg *rc)
{
	int i, b = -1;

	for (i = 0; i < rc->n_hosts; i++) {
		const struct host *h = &rc->hosts[i];

		if (h->lost >= 2 || h->used >= h->slots)
			continue;
		if (b < 0 || h->used * rc->hosts[b].slots < rc->hosts[b].used * h->slots)
			b = i;
	}
	return b;
}

static void
parse_hosts(struct runcfg *rc, const char *spec)
{
	char *copy = strdup(spec), *tok, *save = NULL, *sl, *end;
	long k;

	if (copy == NULL)
		err(1, NULL);
	if ((rc->hosts = calloc(strlen(spec) + 1, sizeof(*rc->hosts))) == NULL)
		err(1, NULL);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct host *h = &rc->hosts[rc->n_hosts];

		while (*tok == ' ')
			tok++;
		if (*tok == '\0')
			continue;
		h->slots = 1;
		if ((sl = strchr(tok, '/')) != NULL && sl > tok) {
			k = strtol(tok, &end, 10);
			if (end == sl && k >= 1 && k <= 10000) {
				h->slots = (int)k;
				tok = sl + 1;
			}
		}
		if (strlen(tok) >= sizeof(h->login))
			errx(2, "--sshlogin: %.40s...: too long", tok);
		snprintf(h->login, sizeof(h->login), "%s", tok);
		rc->n_hosts++;
	}
	free(copy);
	if (rc->n_hosts == 0)
		errx(2, "--sshlogin: no host in '%s'", spec);
}

static void
kill_trial(struct trial *t, int sig)
{
	if (t->pid > 0)
		kill(-t->pid, sig);
}

#define REQUEUE (-2)

/* Trials that ended (running 0) or are running (1). */
static size_t
count(const struct study *st, int running)
{
	size_t i, k = 0;

	for (i = 0; i < st->n_t; i++)
		if (st->t[i].used && (running ? st->t[i].state == ARXIV_TRIAL_RUNNING :
		    (st->t[i].state >= ARXIV_TRIAL_COMPLETE && st->t[i].state <= ARXIV_TRIAL_FAILED)))
			k++;
	return k;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Run trials locally until n_trials have ended. */
static int
run_local(struct study *st, struct runcfg *rc, size_t n_trials, int jobs)
{
	size_t i, n;
	int status;
	pid_t pid;
	struct arxiv_trial *h;
	size_t nh;

	/* trials left running by a killed search run again */
	for (i = 0; i < st->n_t; i++)
		if (st->t[i].used && st->t[i].state == ARXIV_TRIAL_RUNNING && st->t[i].pid == 0)
			st->t[i].state = REQUEUE;
	for (;;) {
		/* reap */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (i = 0; i < st->n_t; i++)
				if (st->t[i].pid == pid && st->t[i].state == ARXIV_TRIAL_RUNNING) {
					finish(st, i, status);
					break;
				}
		if (stop_sig) {
			for (i = 0; i < st->n_t; i++)
				if (st->t[i].pid > 0)
					kill_trial(&st->t[i], SIGKILL);
			while (waitpid(-1, &status, 0) > 0)
				;
			warnx("interrupted by %s: continue with --resume (running trials run again)",
			    stop_sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return -1;
		}
		/* progress, pruning, time limits */
		for (i = 0; i < st->n_t; i++) {
			struct trial *t = &st->t[i];
			double now;

			if (t->pid <= 0 || t->state != ARXIV_TRIAL_RUNNING)
				continue;
			read_progress(st, i);
			now = now_s();
			if (st->prune && !t->prune_sent && t->n_steps > 0) {
				h = history(st, &nh);
				if (arxiv_median_prune(h, nh, t->steps, t->n_steps, 5, 0)) {
					t->prune_sent = 1;
					kill_trial(t, SIGTERM);
					t->kill_at = now + 60;	/* a stop ends after the epoch */
				}
				free(h);
			}
			if (t->deadline > 0 && now > t->deadline && !t->timed_out) {
				t->timed_out = 1;
				kill_trial(t, SIGTERM);
				t->kill_at = now + KILL_GRACE_S;
			}
			if (t->kill_at > 0 && now > t->kill_at) {
				kill_trial(t, SIGKILL);
				t->kill_at = 0;
			}
		}
		n = count(st, 0);
		/* start */
		while (count(st, 1) < (size_t)jobs && n + count(st, 1) < n_trials && !stop_sig) {
			size_t k = SIZE_MAX;
			int hi = -1;

			if (rc->n_hosts && (hi = pick_host(rc)) < 0)
				break;
			jlock(st);
			for (i = 0; i < st->n_t; i++)
				if (st->t[i].used && st->t[i].state == REQUEUE) {
					k = i;
					break;
				}
			if (k == SIZE_MAX) {
				k = next_number(st);
				propose(st, k, trial_at(st, k)->x);
				st->t[k].used = 1;
			} else if (st->verbose)
				warnx("trial %zu: re-queued (was running when the search stopped)", k);
			st->t[k].state = ARXIV_TRIAL_RUNNING;
			if (rc->n_hosts)
				start_ssh(st, rc, k, hi);
			else
				start_local(st, rc, k);
		}
		if (count(st, 1) == 0 && (count(st, 0) >= n_trials))
			break;
		if (count(st, 1) == 0 && rc->n_hosts && pick_host(rc) < 0) {
			warnx("--sshlogin: every host is lost; stopping");
			return -1;
		}
		/* nothing left to start and nothing running (e.g. re-queued beyond -n) */
		if (count(st, 1) == 0) {
			int requeued = 0;

			for (i = 0; i < st->n_t; i++)
				if (st->t[i].used && st->t[i].state == REQUEUE)
					requeued = 1;
			if (!requeued)
				break;
		}
		sleep_ms(100);
	}
	return 0;
}

/*
 * --worker (a Slurm array task): take the next proposal of the shared journal
 * under its lock, train it here, append its end. Nothing to do when the study
 * has its trials.
 */
static int
run_worker(struct study *st, struct runcfg *rc, size_t n_trials)
{
	struct trial *t;
	struct arxiv_trial *h;
	size_t k, nh;
	int status;
	pid_t pid;
	char host[256];

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "worker");
	host[sizeof(host) - 1] = '\0';
	if (getenv("SLURM_ARRAY_JOB_ID"))
		snprintf(worker_host, sizeof(worker_host), "%.100s (Slurm job %.40s_%.20s)", host,
		    getenv("SLURM_ARRAY_JOB_ID"), getenv("SLURM_ARRAY_TASK_ID") ?
		    getenv("SLURM_ARRAY_TASK_ID") : "?");
	else
		snprintf(worker_host, sizeof(worker_host), "%.200s", host);
	jlock(st);
	if (count(st, 0) + count(st, 1) >= n_trials) {
		junlock(st);
		return 0;
	}
	k = next_number(st);
	propose(st, k, trial_at(st, k)->x);
	t = &st->t[k];
	t->used = 1;
	t->state = ARXIV_TRIAL_RUNNING;
	start_local(st, rc, k);		/* appends "start", unlocks */
	for (;;) {
		pid = waitpid(t->pid, &status, WNOHANG);
		if (pid == t->pid)
			break;
		if (pid < 0 && errno != EINTR)
			err(1, "waitpid");
		if (stop_sig && !t->kill_at) {
			kill_trial(t, SIGTERM);
			t->kill_at = now_s() + KILL_GRACE_S;
		}
		read_progress(st, k);
		if (st->prune && !t->prune_sent && t->n_steps > 0) {
			jlock(st);	/* the others' results so far */
			jread(st, 0);
			junlock(st);
			h = history(st, &nh);
			if (arxiv_median_prune(h, nh, t->steps, t->n_steps, 5, 0)) {
				t->prune_sent = 1;
				kill_trial(t, SIGTERM);
				t->kill_at = now_s() + 60;
			}
			free(h);
		}
		if (t->deadline > 0 && now_s() > t->deadline && !t->timed_out) {
			t->timed_out = 1;
			kill_trial(t, SIGTERM);
			t->kill_at = now_s() + KILL_GRACE_S;
		}
		if (t->kill_at > 0 && now_s() > t->kill_at) {
			kill_trial(t, SIGKILL);
			t->kill_at = 0;
		}
		sleep_ms(200);
	}
	jlock(st);
	jread(st, 0);		/* everyone's trials, for the best-model bookkeeping */
	t = &st->t[k];
	t->state = ARXIV_TRIAL_RUNNING;
	t->pid = pid;
	finish(st, k, status);
	junlock(st);
	return 0;
}

/* Absolute path of an existing file, or exit. */
static char *
abspath(const char *p)
{
	char *r = realpath(p, NULL);

	if (r == NULL)
		err(1, "%s", p);
	return r;
}

/*
 * --slurm: an sbatch job array of "arxiv-hpo --worker" tasks, one a trial,
 * jobs at a time; wait until the journal holds every trial (or the job is gone).
 */
static int
run_slurm(struct study *st, const struct runcfg *rc, const char *opts, size_t n_trials,
    int jobs, int verbose)
{
	struct arxiv_buf sc = {0}, cmd = {0};
	char self[PATH_MAX], script[4400], outp[4400], jobid[64] = "", line[256];
	char *copy, *tok, *save = NULL, *od;
	size_t left, i, last = (size_t)-1;
	ssize_t k;
	FILE *fp;
	double t_gone = 0;

	jlock(st);
	jread(st, 0);
	junlock(st);
	if (count(st, 0) >= n_trials)
		return 0;
	left = n_trials - count(st, 0) - count(st, 1);
	if ((k = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		err(1, "/proc/self/exe");
	self[k] = '\0';
	od = abspath(st->out);
	arxiv_buf_printf(&sc, "#!/bin/sh\n# arxiv-hpo --slurm: one trial a task\nexec ");
	shquote(&sc, self);
	arxiv_buf_append(&sc, " --worker -n ", 13);
	arxiv_buf_printf(&sc, "%zu --trial-jobs %d", n_trials, rc->threads);
	if (rc->timeout > 0)
		arxiv_buf_printf(&sc, " --timeout %g", rc->timeout);
	if (rc->init) {
		char *a = abspath(rc->init);

		arxiv_buf_append(&sc, " -i ", 4);
		shquote(&sc, a);
		free(a);
	}
	for (i = 0; i < rc->n_sets; i++) {
		arxiv_buf_append(&sc, " --set ", 7);
		shquote(&sc, rc->sets[i]);
	}
	arxiv_buf_append(&sc, " -o ", 4);
	shquote(&sc, od);
	{
		char *a = abspath(rc->train), *b = abspath(rc->val);

		arxiv_buf_append(&sc, " ", 1);
		shquote(&sc, a);
		arxiv_buf_append(&sc, " ", 1);
		shquote(&sc, b);
		free(a);
		free(b);
	}
	arxiv_buf_append(&sc, "\n", 2);
	pathf(script, sizeof(script), "%s/slurm-worker.sh", st->dir);
	write_atomic(script, sc.data);
	chmod(script, 0755);
	pathf(outp, sizeof(outp), "%s/hpo/slurm-%%A_%%a.out", od);

	/* sbatch --parsable --array=0-(left-1)%jobs [--key=value ...] script */
	arxiv_buf_printf(&cmd, "sbatch --parsable --job-name=arxiv-hpo --array=0-%zu%%%d --output=",
	    left - 1, jobs);
	shquote(&cmd, outp);
	if ((copy = strdup(opts)) == NULL)
		err(1, NULL);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*tok == '\0')
			continue;
		if (strchr(tok, '=') == NULL || tok[0] == '-')
			errx(2, "--slurm: '%s': expected key=value", tok);
		arxiv_buf_append(&cmd, " --", 3);
		shquote(&cmd, tok);
	}
	free(copy);
	arxiv_buf_append(&cmd, " ", 1);
	shquote(&cmd, script);
	if (verbose)
		warnx("%s", cmd.data);
	if ((fp = popen(cmd.data, "r")) == NULL)
		err(1, "sbatch");
	if (fgets(jobid, sizeof(jobid), fp) == NULL)
		jobid[0] = '\0';
	if (pclose(fp) != 0 || jobid[0] == '\0')
		errx(1, "sbatch failed (command: %s)", cmd.data);
	jobid[strcspn(jobid, ";\n")] = '\0';
	if (verbose)
		warnx("Slurm job array %s: %zu tasks, %d at a time", jobid, left, jobs);
	arxiv_buf_free(&sc);
	arxiv_buf_free(&cmd);
	free(od);

	/* wait: the journal is the record of the tasks' work */
	for (;;) {
		size_t done;

		sleep_ms(1000);
		jlock(st);
		jread(st, 0);
		junlock(st);
		done = count(st, 0);
		if (verbose && done != last)
			warnx("%zu of %zu trials ended", done, n_trials);
		last = done;
		if (done >= n_trials)
			return 0;
		if (stop_sig) {
			snprintf(line, sizeof(line), "scancel %s", jobid);
			if (system(line) != 0)
				warnx("scancel %s failed", jobid);
			return -1;
		}
		/*
		 * The job left the queue without finishing the study: squeue
		 * answered (exit 0) and listed no task for 10 s. A squeue that
		 * fails (a busy controller times out) says nothing about the job,
		 * unless it keeps failing for 2 minutes (the job was purged).
		 */
		snprintf(line, sizeof(line), "squeue -h -j %s 2>/dev/null", jobid);
		if ((fp = popen(line, "r")) != NULL) {
			int any = fgets(line, sizeof(line), fp) != NULL;
			int ok = pclose(fp) == 0;

			if (any)
				t_gone = 0;
			else if (t_gone == 0)
				t_gone = now_s();
			else if (now_s() - t_gone > (ok ? 10 : 120)) {
				warnx("Slurm job %s ended with %zu of %zu trials done", jobid, done,
				    n_trials);
				return 0;
			}
		}
	}
}

/* Concatenate a and b (JSONL) into path. */
static int
cat2(const char *a, const char *b, const char *path)
{
	const char *in[2] = { a, b };
	char buf[65536];
	FILE *fi, *fo;
	size_t n;
	int i, c = '\n', rc = 0;

	if ((fo = fopen(path, "w")) == NULL)
		return -1;
	for (i = 0; i < 2; i++) {
		if ((fi = fopen(in[i], "r")) == NULL) {
			fclose(fo);
			return -1;
		}
		if (i == 0 && (c = fgetc(fi)) == 0x89) {
			warnx("%s: --refit needs JSONL input (tensor streams cannot be concatenated)",
			    in[i]);
			fclose(fi);
			fclose(fo);
			return -1;
		}
		if (i == 0 && c != EOF)
			ungetc(c, fi);
		c = '\n';
		while ((n = fread(buf, 1, sizeof(buf), fi)) > 0) {
			if (fwrite(buf, 1, n, fo) != n)
				rc = -1;
			c = buf[n - 1];
		}
		if (c != '\n')
			fputc('\n', fo);
		fclose(fi);
	}
	if (fclose(fo) != 0)
		rc = -1;
	return rc;
}

/* Retrain the best trial's parameters on train + val (every epoch of the trial's
 * setting, no early stopping); its model dir into mdir. */
static int
do_refit(struct study *st, const struct runcfg *rc0, size_t b, char *mdir, size_t n)
{
	struct runcfg rc = *rc0;
	char dir[4300], data[4400], logp[4400], **argv, *patience = "patience=0";
	int status;
	pid_t pid;

	pathf(dir, sizeof(dir), "%s/refit", st->dir);
	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		err(1, "%s", dir);
	pathf(data, sizeof(data), "%s/train+val.jsonl", dir);
	pathf(logp, sizeof(logp), "%s/train.log", dir);
	pathf(mdir, n, "%s/model", dir);
	if (cat2(rc.train, rc.val, data) < 0) {
		warnx("%s: cannot write the refit's training set", data);
		return -1;
	}
	if ((rc.sets = calloc(rc0->n_sets + 1, sizeof(char *))) == NULL)
		err(1, NULL);
	memcpy(rc.sets, rc0->sets, rc0->n_sets * sizeof(char *));
	rc.sets[rc.n_sets++] = patience;
	rc.train = data;
	argv = train_argv(st, &rc, b, mdir);
	if ((pid = spawn(argv, logp, NULL)) < 0)
		err(1, "fork");
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			err(1, "waitpid");
	free(rc.sets);
	unlink(data);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		warnx("refit failed (see %s)", logp);
		return -1;
	}
	if (st->verbose)
		warnx("refit on train+val: %s", mdir);
	return 0;
}

/* --------------------------------------------------------------- output */

static int
link_or_copy(const char *from, const char *to)
{
	FILE *in, *out;
	char buf[65536];
	size_t n;
	int rc = 0;

	if (link(from, to) == 0)
		return 0;
	if ((in = fopen(from, "rb")) == NULL)
		return -1;
	if ((out = fopen(to, "wbx")) == NULL) {
		fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (ferror(in))
		rc = -1;
	if (fclose(out) != 0)
		rc = -1;
	fclose(in);
	return rc;
}

static int
copy_tree(const char *from, const char *to)
{
	DIR *d;
	struct dirent *de;
	struct stat sb;
	char a[4600], b[4600];
	int rc = 0;

	if (mkdir(to, 0777) < 0 && errno != EEXIST)
		return -1;
	if ((d = opendir(from)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		pathf(a, sizeof(a), "%s/%s", from, de->d_name);
		pathf(b, sizeof(b), "%s/%s", to, de->d_name);
		if (lstat(a, &sb) < 0)
			rc = -1;
		else if (S_ISDIR(sb.st_mode))
			rc |= copy_tree(a, b);
		else if (S_ISREG(sb.st_mode))
			rc |= link_or_copy(a, b);
	}
	closedir(d);
	return rc;
}

/* out/<sub> := a copy of src/<sub>, swapped in by renames. */
static void
install_sub(const char *src, const char *out, const char *sub)
{
	char from[4600], tmp[4600], dst[4600], old[4600];

	pathf(from, sizeof(from), "%s/%s", src, sub);
	pathf(dst, sizeof(dst), "%s/%s", out, sub);
	pathf(tmp, sizeof(tmp), "%s/.%s.new.XXXXXX", out, sub);
	if (mkdtemp(tmp) == NULL)
		err(1, "%s", tmp);
	if (copy_tree(from, tmp) < 0) {
		rm_tree(tmp);
		errx(1, "%s: cannot copy the best trial's artifacts", from);
	}
	pathf(old, sizeof(old), "%s/.%s.old.XXXXXX", out, sub);
	if (access(dst, F_OK) == 0) {
		if (mkdtemp(old) == NULL || rename(dst, old) < 0)
			err(1, "%s", dst);
	} else
		old[0] = '\0';
	if (rename(tmp, dst) < 0)
		err(1, "%s", dst);
	if (old[0])
		rm_tree(old);
}

/* Write a file through the library's temporary + rename (never through a symlink). */
static void
write_atomic(const char *path, const char *data)
{
	struct arxiv_error e = {0};

	if (arxiv_atomic_write(path, NULL, data, strlen(data), &e) < 0) {
		prog_warnerr(&e);
		exit(1);
	}
}

static json_t *
best_json(const struct study *st, int b, int refit)
{
	size_t i, complete = 0, failed = 0, pruned = 0;

	for (i = 0; i < st->n_t; i++)
		if (st->t[i].used) {
			complete += st->t[i].state == ARXIV_TRIAL_COMPLETE;
			failed += st->t[i].state == ARXIV_TRIAL_FAILED;
			pruned += st->t[i].state == ARXIV_TRIAL_PRUNED;
		}
	return json_pack("{s:o,s:f,s:s,s:s,s:i,s:I,s:I,s:I,s:I,s:s,s:I,s:s,s:b}",
	    "params", params_obj(st, st->t[b].x), "value", st->t[b].value, "metric", st->metric,
	    "direction", st->maximize ? "maximize" : "minimize", "trial", b,
	    "n_trials", (json_int_t)count(st, 0), "n_complete", (json_int_t)complete,
	    "n_pruned", (json_int_t)pruned, "n_failed", (json_int_t)failed,
	    "sampler", st->sampler, "seed", (json_int_t)st->seed, "model", st->model,
	    "refit", refit);
}

static void
print_table(const struct study *st)
{
	size_t i, j, d = arxiv_space_size(st->space);
	int b = best_trial(st);
	char buf[64];

	printf("%5s  %-8s  %10s  %8s", "trial", "state", st->metric, "seconds");
	for (j = 0; j < d; j++)
		printf("  %s", arxiv_space_name(st->space, j));
	printf("\n");
	for (i = 0; i < st->n_t; i++) {
		const struct trial *t = &st->t[i];

		if (!t->used)
			continue;
		if (isfinite(t->value))
			snprintf(buf, sizeof(buf), "%.6g", t->value);
		else
			snprintf(buf, sizeof(buf), "-");
		printf("%5zu%c %-8s  %10s  %8.1f", i, (int)i == b ? '*' : ' ',
		    state_name(t->state), buf, t->seconds);
		for (j = 0; j < d; j++) {
			if (arxiv_space_format(st->space, j, t->x[j], buf, sizeof(buf)) < 0)
				snprintf(buf, sizeof(buf), "-");
			printf("  %s", buf);
		}
		if (t->state == ARXIV_TRIAL_FAILED && t->reason[0])
			printf("  # %s", t->reason);
		printf("\n");
	}
}

/* ------------------------------------------------------------------ main */

static const char *
find_train(char *buf, size_t n)
{
	char self[PATH_MAX];
	ssize_t k;
	const char *e = getenv("ARXIV_TRAIN");

	if (e && *e)
		return e;
	if ((k = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[k] = '\0';
		pathf(buf, n, "%s/arxiv-train", dirname(self));
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return "arxiv-train";
}

static int
ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

static void
check_space(const struct arxiv_space *s, const char *src, char **sets, size_t n_sets)
{
	size_t i, j, k;

	for (i = 0; i < arxiv_space_size(s); i++) {
		const char *name = arxiv_space_name(s, i);

		if (!arxiv_train_params_known(name))
			errx(1, "%s:%ld: unknown training parameter '%s'", src,
			    arxiv_space_line(s, i), name);
		k = strlen(name);
		for (j = 0; j < n_sets; j++)
			if (strncmp(sets[j], name, k) == 0 && sets[j][k] == '=')
				errx(2, "--set %s: '%s' is in the search space (line %ld of %s)",
				    sets[j], name, arxiv_space_line(s, i), src);
	}
}

int
main(int argc, char *argv[])
{
	static struct study st;	/* static: reachable to the end (LeakSanitizer) */
	static struct runcfg rc;
	struct arxiv_error e = {0};
	struct arxiv_mlflow *ml = NULL;
	struct sigaction sa;
	struct stat sb;
	const char *space_path = NULL, *ssh = NULL, *slurm = NULL;
	char trainbuf[PATH_MAX], spacebuf[1024], path[4600], *s, *eq;
	size_t n_trials = 20;
	int c, jobs = 1, table = 0, force = 0, resume = 0, refit = 0, ask = 0, worker = 0;
	int epochs_top = 4, have, b, threads = 0, seed_set = 0, lockfd = -1;
	json_t *o;

	memset(&st, 0, sizeof(st));
	memset(&rc, 0, sizeof(rc));
	st.model = "fast";
	snprintf(st.metric, sizeof(st.metric), "loss");
	snprintf(st.sampler, sizeof(st.sampler), "tpe");
	st.seed = 42;
	st.out = "artifacts";
	if ((rc.sets = calloc((size_t)argc + 1, sizeof(char *))) == NULL)
		err(1, NULL);

	while ((c = prog_getopt(&P, argc, argv)) != -1) {
		switch (c) {
		case 'M':
			if (strcmp(optarg, "fast") && strcmp(optarg, "bert")) {
				warnx("%s: unknown model type (fast or bert)", optarg);
				prog_usage(&P, stderr);
				return 2;
			}
			st.model = optarg;
			break;
		case 'i': rc.init = optarg; break;
		case 'n': n_trials = (size_t)prog_num(optarg, 1, MAX_TRIALS - 1, "trial count"); break;
		case 'j': jobs = (int)prog_num(optarg, 1, 1024, "job count"); break;
		case 'o': st.out = optarg; break;
		case 's':
			st.seed = (uint64_t)prog_num(optarg, 0, 0x7fffffffL, "seed");
			seed_set = 1;
			break;
		case 'e': epochs_top = (int)prog_num(optarg, 2, 1000, "epoch count"); break;
		case 'f': force = 1; break;
		case 't': table = 1; break;
		case O_SPACE: space_path = optarg; break;
		case O_METRIC:
			if (strcmp(optarg, "loss") && strcmp(optarg, "accuracy") &&
			    strcmp(optarg, "macro_f1")) {
				warnx("%s: unknown metric (accuracy, macro_f1 or loss)", optarg);
				prog_usage(&P, stderr);
				return 2;
			}
			snprintf(st.metric, sizeof(st.metric), "%s", optarg);
			break;
		case O_SAMPLER:
			if (strcmp(optarg, "tpe") && strcmp(optarg, "random")) {
				warnx("%s: unknown sampler (tpe or random)", optarg);
				prog_usage(&P, stderr);
				return 2;
			}
			snprintf(st.sampler, sizeof(st.sampler), "%s", optarg);
			break;
		case O_PRUNE: st.prune = 1; break;
		case O_TIMEOUT: rc.timeout = prog_real(optarg, 0, 1e9, "timeout"); break;
		case O_THREADS: threads = (int)prog_num(optarg, 1, 1024, "thread count"); break;
		case O_SET: {
			struct arxiv_train_params p = arxiv_train_default_params();

			if ((eq = strchr(optarg, '=')) == NULL) {
				warnx("%s: expected key=value", optarg);
				prog_usage(&P, stderr);
				return 2;
			}
			*eq = '\0';
			if (arxiv_train_params_set(&p, optarg, eq + 1, &e) < 0) {
				warnx("--set: %s", e.text);
				return 2;
			}
			*eq = '=';
			rc.sets[rc.n_sets++] = optarg;
			break;
		}
		case O_RESUME: resume = 1; break;
		case O_REFIT: refit = 1; break;
		case O_ASK: ask = 1; break;
		case O_SSH: ssh = optarg; break;
		case O_SLURM: slurm = optarg; break;
		case O_WORKER: worker = 1; break;
		case O_VERBOSE: st.verbose = 1; break;
		default:
			prog_usage(&P, stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	arxiv_set_log(prog_log, &st.verbose);
	st.maximize = strcmp(st.metric, "loss") != 0;
	(void)seed_set;

	snprintf(st.dir, sizeof(st.dir), "%s/hpo", st.out);
	snprintf(st.journal, sizeof(st.journal), "%s/journal.jsonl", st.dir);

	/* a table or a proposal of an existing search */
	if (argc == 0 && (table || ask)) {
		if ((st.jfd = open(st.journal, O_RDWR | O_CLOEXEC)) < 0)
			err(1, "%s", st.journal);
		jlock(&st);
		if (!jread(&st, 1))
			errx(1, "%s: empty journal", st.journal);
		if (ask) {
			size_t k = next_number(&st);
			double *x = trial_at(&st, k)->x;

			propose(&st, k, x);
			o = json_pack("{s:I,s:o}", "trial", (json_int_t)k, "params", params_obj(&st, x));
			s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
			printf("%s\n", s);
			free(s);
			json_decref(o);
		} else
			print_table(&st);
		junlock(&st);
		return prog_fshut();
	}
	if (argc != 2) {
		prog_usage(&P, stderr);
		return 2;
	}
	rc.train = argv[0];
	rc.val = argv[1];
	if (access(rc.train, R_OK) < 0)
		err(1, "%s", rc.train);
	if (access(rc.val, R_OK) < 0)
		err(1, "%s", rc.val);
	if (strcmp(st.model, "bert") == 0 && rc.init == NULL) {
		size_t i;
		int cfg = 0;

		for (i = 0; i < rc.n_sets; i++)
			if (strncmp(rc.sets[i], "init_dir=", 9) == 0 ||
			    strncmp(rc.sets[i], "config=", 7) == 0)
				cfg = 1;
		if (!cfg)
			errx(2, "-M bert needs -i init_dir (or --set config=FILE)");
	}

	/* the space */
	if (space_path) {
		if ((st.space = arxiv_space_load(space_path, &e)) == NULL) {
			prog_warnerr(&e);
			return 1;
		}
		check_space(st.space, space_path, rc.sets, rc.n_sets);
		{
			FILE *fp = fopen(space_path, "r");
			struct arxiv_buf bb = {0};
			size_t k;

			if (fp == NULL)
				err(1, "%s", space_path);
			while ((k = fread(spacebuf, 1, sizeof(spacebuf), fp)) > 0)
				arxiv_buf_append(&bb, spacebuf, k);
			fclose(fp);
			arxiv_buf_append(&bb, "", 1);
			st.space_text = bb.data;
		}
	} else {
		if (strcmp(st.model, "bert") == 0) {
			snprintf(spacebuf, sizeof(spacebuf), bert_space_fmt, epochs_top);
			st.space_text = strdup(spacebuf);
		} else
			st.space_text = strdup(fast_space);
		if (st.space_text == NULL)
			err(1, NULL);
		if ((st.space = arxiv_space_parse(st.space_text, "default space", &e)) == NULL) {
			prog_warnerr(&e);
			return 1;
		}
		check_space(st.space, "default space", rc.sets, rc.n_sets);
	}

	/* the journal */
	if (mkdir(st.out, 0777) < 0 && errno != EEXIST)
		err(1, "%s", st.out);
	if (mkdir(st.dir, 0777) < 0 && errno != EEXIST)
		err(1, "%s", st.dir);
	if (lstat(st.journal, &sb) == 0 && !S_ISREG(sb.st_mode))
		errx(1, "%s: not a regular file", st.journal);
	if ((st.jfd = open(st.journal, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
	    0644)) < 0)
		err(1, "%s", st.journal);
	pathf(path, sizeof(path), "%s/lock", st.dir);
	if (!worker && ((lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0 ||
	    flock(lockfd, LOCK_EX | LOCK_NB) < 0)) {
		if (errno == EWOULDBLOCK)
			errx(1, "%s: another arxiv-hpo is running on this directory", st.out);
		err(1, "%s", path);
	}
	jlock(&st);
	{
		char *mine = strdup(st.space_text), want_metric[16];

		snprintf(want_metric, sizeof(want_metric), "%s", st.metric);
		have = jread(&st, resume || worker);
		if (have && resume && mine && space_path && strcmp(mine, st.space_text) != 0)
			warnx("--resume: %s differs from the journal's space; the journal's is used",
			    space_path);
		if (have && resume && strcmp(want_metric, st.metric) != 0)
			warnx("--resume: the journal's metric (%s) is used", st.metric);
		free(mine);
	}
	if (worker) {
		if (!have)
			errx(1, "%s: --worker needs the study's journal", st.journal);
		junlock(&st);
		rc.train_bin = find_train(trainbuf, sizeof(trainbuf));
		rc.threads = threads ? threads : 1;
		rc.parent_run = st.parent_run;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		return run_worker(&st, &rc, n_trials) < 0;
	}
	if (have && !resume && !worker && !force)
		errx(1, "%s: a search is there already: continue it with --resume, or start "
		    "over with -f", st.journal);
	if (have && force && !resume) {
		if (ftruncate(st.jfd, 0) < 0)
			err(1, "%s", st.journal);
		st.n_t = 0;
		have = 0;
	}
	if (resume && have && st.verbose)
		warnx("%s: resuming: %zu trials ended, %zu were running", st.journal,
		    count(&st, 0), count(&st, 1));

	(void)lockfd;
	if (ssh && slurm)
		errx(2, "--sshlogin and --slurm exclude each other");
	if (ssh) {
		int i;

		parse_hosts(&rc, ssh);
		rc_hosts = rc.hosts;
		for (jobs = 0, i = 0; i < rc.n_hosts; i++)
			jobs += rc.hosts[i].slots;
	}

	/* MLflow: the search's run, trials nested under it */
	pathf(path, sizeof(path), "hpo %s", st.out);
	ml = arxiv_mlflow_start(NULL, "arxiv", path);
	arxiv_mlflow_tag(ml, "arxiv.kind", "search");
	arxiv_mlflow_param(ml, "sampler", st.sampler);
	arxiv_mlflow_param(ml, "metric", st.metric);
	arxiv_mlflow_param(ml, "model_type", st.model);
	pathf(path, sizeof(path), "%zu", n_trials);
	arxiv_mlflow_param(ml, "n_trials", path);
	pathf(path, sizeof(path), "%llu", (unsigned long long)st.seed);
	arxiv_mlflow_param(ml, "seed", path);
	arxiv_mlflow_param(ml, "space", st.space_text);
	rc.parent_run = arxiv_mlflow_run_id(ml);
	if (!have)
		jstudy(&st, rc.parent_run);
	junlock(&st);

	rc.train_bin = find_train(trainbuf, sizeof(trainbuf));
	if (ssh && !getenv("ARXIV_TRAIN"))
		rc.train_bin = "arxiv-train";	/* the hosts' own */
	rc.threads = threads ? threads : ssh ? 1 : (ncpu() / jobs > 0 ? ncpu() / jobs : 1);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (slurm ? run_slurm(&st, &rc, slurm, n_trials, jobs, st.verbose) < 0 :
	    run_local(&st, &rc, n_trials, jobs) < 0) {
		arxiv_mlflow_end(ml, "KILLED");
		return 1;
	}

	/* results */
	{
		size_t i;

		for (i = 0; i < st.n_t; i++)
			if (st.t[i].used && st.t[i].state == ARXIV_TRIAL_COMPLETE)
				arxiv_mlflow_metric(ml, "trial_value", st.t[i].value, (long)i);
	}
	if ((b = best_trial(&st)) < 0) {
		arxiv_mlflow_end(ml, "FAILED");
		if (table)
			print_table(&st);
		errx(1, "no trial completed (see %s)", st.journal);
	}
	arxiv_mlflow_metric(ml, "best_value", st.t[b].value, 0);
	pathf(path, sizeof(path), "%d", b);
	arxiv_mlflow_tag(ml, "arxiv.best_trial", path);
	{
		char tdir[4300], mdir[4400];

		trial_dir(&st, (size_t)b, tdir, sizeof(tdir));
		pathf(mdir, sizeof(mdir), "%s/model", tdir);
		if (refit && do_refit(&st, &rc, (size_t)b, mdir, sizeof(mdir)) < 0) {
			arxiv_mlflow_end(ml, "FAILED");
			return 1;
		}
		install_sub(mdir, st.out, "model");
		install_sub(mdir, st.out, "tokenizer");
		install_sub(mdir, st.out, "metadata");
	}
	o = best_json(&st, b, refit);
	s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	pathf(path, sizeof(path), "%s/metadata/best_hyperparams.json", st.out);
	{
		size_t k = strlen(s);
		char *s2 = malloc(k + 2);

		if (s2 == NULL)
			err(1, NULL);
		memcpy(s2, s, k);
		s2[k] = '\n';
		s2[k + 1] = '\0';
		write_atomic(path, s2);
		free(s2);
	}
	free(s);
	arxiv_mlflow_artifacts(ml, st.out);
	arxiv_mlflow_end(ml, "FINISHED");
	if (table)
		print_table(&st);
	else {
		s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
		printf("%s\n", s);
		free(s);
	}
	json_decref(o);
	return prog_fshut();
}

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
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "hpo/hpo.h"

#ifndef VERSION
#define VERSION ARXIV_VERSION
#endif

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

volatile sig_atomic_t stop_sig;

static void
on_signal(int sig)
{
	stop_sig = sig;
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
		arxiv_tree_remove(tmp);
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
		arxiv_tree_remove(old);
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

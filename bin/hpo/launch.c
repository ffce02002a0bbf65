/*
 * arxiv-hpo's trial processes (see hpo.h): arxiv-train's command line for a
 * trial, a trial as a local process group (its log, its per-epoch progress,
 * pruning, time limits, its end in the journal), the local scheduler (-j N at
 * a time, re-queueing the trials of a killed search) and a Slurm task's one
 * trial (--worker).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "hpo.h"

void
trial_dir(const struct study *st, size_t n, char *buf, size_t len)
{
	pathf(buf, len, "%s/trial-%04zu", st->dir, n);
}

/* argv of arxiv-train for trial n (strings in a static pool, rebuilt each call). */
char **
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

pid_t
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

int
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
		arxiv_tree_remove(path);
	}
}

struct host *rc_hosts;
char worker_host[256];

void
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

/* Start trial t's process (argv, its output into log_path, in cwd; NULL: here),
 * its own process group, with its clock, time limit and progress reset. */
void
trial_spawn(struct trial *t, const struct runcfg *rc, char **argv, const char *log_path,
    const char *cwd)
{
	t->t0 = now_s();
	t->deadline = rc->timeout > 0 ? t->t0 + rc->timeout : 0;
	t->kill_at = 0;
	t->prune_sent = t->timed_out = 0;
	t->log_off = 0;
	t->n_steps = 0;
	if ((t->pid = spawn(argv, log_path, cwd)) < 0)
		err(1, "fork");
	setpgid(t->pid, t->pid);
}

int
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
	trial_spawn(t, rc, argv, logp, NULL);
	t->hostidx = -1;
	jstart(st, n, worker_host[0] ? worker_host : "local", t->pid);
	junlock(st);
	if (st->verbose)
		warnx("trial %zu: started (pid %d)", n, (int)t->pid);
	return 0;
}

void
kill_trial(struct trial *t, int sig)
{
	if (t->pid > 0)
		kill(-t->pid, sig);
}

/* Trials that ended (running 0) or are running (1). */
size_t
count(const struct study *st, int running)
{
	size_t i, k = 0;

	for (i = 0; i < st->n_t; i++)
		if (st->t[i].used && (running ? st->t[i].state == ARXIV_TRIAL_RUNNING :
		    (st->t[i].state >= ARXIV_TRIAL_COMPLETE && st->t[i].state <= ARXIV_TRIAL_FAILED)))
			k++;
	return k;
}

void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Run trials locally until n_trials have ended. */
int
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
int
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

/*
 * arxiv-hpo's trials elsewhere (see hpo.h): on other hosts through GNU
 * parallel --sshlogin (inputs transferred, the model returned), or as a Slurm
 * job array of "arxiv-hpo --worker" tasks (sbatch, squeue polling) whose
 * results arrive through the shared journal.
 */
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#include "hpo.h"

/* A shell word: 'text' with every ' as '\''. */
void
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
int
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
	trial_spawn(t, rc, pargv, logp, st->dir);
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
int
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

void
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
int
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

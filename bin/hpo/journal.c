/*
 * arxiv-hpo's study (see hpo.h): the trials in memory and the journal that is
 * their source of truth, hpo/journal.jsonl, one JSON record a line:
 * "study" (settings, the space), "start", "step" (a per-epoch value), "end".
 * Appended with O_APPEND under flock and fsync'd record by record, so several
 * writers (Slurm workers) interleave whole records and a crash loses at most
 * the record being written (cut off at the next read); a resumed search reads
 * it back. The sampler sees the trials through history().
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <sys/file.h>
#include <time.h>

#include "hpo.h"

/* snprintf for paths: a path that does not fit is an error, never cut short. */
void __attribute__((format(printf, 3, 4)))
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

double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double
minimised(const struct study *st, double v)
{
	return st->maximize ? -v : v;
}

struct trial *
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

void
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

const char *
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
void
jlock(struct study *st)
{
	if (st->locked++ > 0)
		return;
	while (flock(st->jfd, LOCK_EX) < 0)
		if (errno != EINTR)
			err(1, "%s: flock", st->journal);
}

void
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

void
jappend_locked(struct study *st, json_t *o)
{
	jlock(st);
	jappend(st, o);
	junlock(st);
}

json_t *
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
int
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

void
jstudy(struct study *st, const char *mlflow_id)
{
	jappend(st, json_pack("{s:s,s:i,s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:b,s:s,s:s}", "type", "study",
	    "version", 1, "arxiv_version", VERSION, "created", (json_int_t)time(NULL),
	    "model", st->model, "metric", st->metric,
	    "direction", st->maximize ? "maximize" : "minimize", "sampler", st->sampler,
	    "seed", (json_int_t)st->seed, "prune", st->prune, "space", st->space_text,
	    "mlflow_run_id", mlflow_id ? mlflow_id : ""));
}

json_t *
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

void
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

void
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
struct arxiv_trial *
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

size_t
next_number(const struct study *st)
{
	size_t i, n = 0;

	for (i = 0; i < st->n_t; i++)
		if (st->t[i].used)
			n = i + 1;
	return n;
}

void
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

/* Write a file through the library's temporary + rename (never through a symlink). */
void
write_atomic(const char *path, const char *data)
{
	struct arxiv_error e = {0};

	if (arxiv_atomic_write(path, NULL, data, strlen(data), &e) < 0) {
		prog_warnerr(&e);
		exit(1);
	}
}

/* test_mlflow.c - the MLflow file store written by arxiv_mlflow_* (layout of MLflow 3). */
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arxiv.h"
#include "tap.h"

static int n_warn;
static char last_warn[512];

static void
on_log(int level, const char *msg, void *ud)
{
	(void)ud;
	if (level == ARXIV_LOG_WARN) {
		n_warn++;
		snprintf(last_warn, sizeof(last_warn), "%s", msg);
	}
}

/* Whole file at printf-made path into a static buffer, or NULL. */
static const char *
slurp(const char *fmt, ...)
{
	static char buf[8192];
	char path[4096];
	va_list ap;
	FILE *fp;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

/* Number of directory entries of dir not starting with '.' */
static int
count_entries(const char *dir, char *first, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int c = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (c++ == 0 && first)
			snprintf(first, n, "%s", e->d_name);
	}
	closedir(d);
	return c;
}

static void
write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp) {
		fputs(text, fp);
		fclose(fp);
	}
}

int
main(void)
{
	char tmp[] = "/tmp/test_mlflow.XXXXXX", store[4200], run[4400], exp_id[64], art[4200];
	char path[4600], cmd[4400], first[256];
	const char *s;
	struct arxiv_mlflow *t, *t2;
	int n;

	arxiv_set_log(on_log, NULL);
	if (mkdtemp(tmp) == NULL)
		return 1;
	snprintf(store, sizeof(store), "%s/mlruns", tmp);

	/* a run in a fresh store: Default experiment 0, experiment "arxiv", the run */
	t = arxiv_mlflow_start(store, "arxiv", "tiny run");
	CHECK(t != NULL && arxiv_mlflow_active(t), "file store tracker is active");
	CHECK(n_warn == 0, "no warning on start (%s)", last_warn);
	s = arxiv_mlflow_run_id(t);
	CHECK(strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32, "run id is 32 hex digits");
	s = slurp("%s/0/meta.yaml", store);
	CHECK(s && has_line(s, "name: 'Default'") && has_line(s, "experiment_id: '0'") &&
	    has_line(s, "lifecycle_stage: active"), "Default experiment 0 exists");
	CHECK(count_entries(store, NULL, 0) == 2, "two experiments in the store");

	/* find the arxiv experiment: the directory that is not 0 */
	{
		DIR *d = opendir(store);
		struct dirent *e;

		exp_id[0] = '\0';
		while (d && (e = readdir(d)) != NULL)
			if (e->d_name[0] != '.' && strcmp(e->d_name, "0") != 0 &&
			    strlen(e->d_name) < sizeof(exp_id))
				memcpy(exp_id, e->d_name, strlen(e->d_name) + 1);
		if (d)
			closedir(d);
	}
	CHECK(strlen(exp_id) == 18 && strspn(exp_id, "0123456789") == 18 && exp_id[0] != '0',
	    "experiment id has 18 digits (%s)", exp_id);
	s = slurp("%s/%s/meta.yaml", store, exp_id);
	snprintf(path, sizeof(path), "artifact_location: 'file://%s/%s'", store, exp_id);
	CHECK(s && has_line(s, "name: 'arxiv'") && has_line(s, path) &&
	    has_line(s, "workspace: default"), "experiment meta.yaml");

	snprintf(run, sizeof(run), "%s/%s/%s", store, exp_id, arxiv_mlflow_run_id(t));
	s = slurp("%s/meta.yaml", run);
	CHECK(s && has_line(s, "status: 1") && has_line(s, "end_time: null") &&
	    has_line(s, "run_name: 'tiny run'") && has_line(s, "source_type: 4") &&
	    has_line(s, "lifecycle_stage: active"), "run meta.yaml while running");
	snprintf(path, sizeof(path), "run_id: '%s'", arxiv_mlflow_run_id(t));
	CHECK(s && has_line(s, path), "run meta.yaml has the run id");
	snprintf(path, sizeof(path), "experiment_id: '%s'", exp_id);
	CHECK(s && has_line(s, path), "run meta.yaml has the experiment id");
	CHECK_STR(slurp("%s/tags/mlflow.runName", run), "tiny run", "tag mlflow.runName");
	CHECK_STR(slurp("%s/tags/mlflow.source.type", run), "LOCAL", "tag mlflow.source.type");

	/* params, metrics, artifacts */
	arxiv_mlflow_param(t, "lr", "0.5");
	arxiv_mlflow_param(t, "model/dim", "100");
	arxiv_mlflow_metric(t, "val_loss", 0.3, 1);
	arxiv_mlflow_metric(t, "val_loss", 0.25, 2);
	arxiv_mlflow_metric(t, "val_accuracy", 0.1 + 0.2, 1);
	CHECK(n_warn == 0, "no warnings while logging (%s)", last_warn);
	CHECK_STR(slurp("%s/params/lr", run), "0.5", "param file holds the value, no newline");
	CHECK_STR(slurp("%s/params/model/dim", run), "100", "param with '/' in a sub-folder");
	s = slurp("%s/metrics/val_loss", run);
	{
		long long ts1, ts2;
		double v1, v2;
		long s1, s2;

		n = s ? sscanf(s, "%lld %lf %ld\n%lld %lf %ld", &ts1, &v1, &s1, &ts2, &v2, &s2) : 0;
		CHECK(n == 6 && v1 == 0.3 && s1 == 1 && v2 == 0.25 && s2 == 2 && ts2 >= ts1 &&
		    ts1 > 1600000000000LL, "metric history: two lines 'ts value step'");
	}
	s = slurp("%s/metrics/val_accuracy", run);
	CHECK(s && strstr(s, " 0.30000000000000004 1\n"),
	    "metric value round-trips as the shortest repr");

	arxiv_mlflow_param(t, "bad key!", "x");
	CHECK(n_warn == 1 && strstr(last_warn, "invalid parameter name"), "bad key: one warning");
	arxiv_mlflow_metric(t, "../escape", 1, 0);
	CHECK(n_warn == 2 && strstr(last_warn, "invalid metric name"), "path key: one warning");
	snprintf(path, sizeof(path), "%s/escape", store);
	CHECK(access(path, F_OK) < 0, "no file written outside the run");

	snprintf(art, sizeof(art), "%s/art", tmp);
	snprintf(path, sizeof(path), "%s/model", art);
	mkdir(art, 0755);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/model/config.json", art);
	write_text(path, "{\"dim\":100}\n");
	snprintf(path, sizeof(path), "%s/metrics.json", art);
	write_text(path, "{}\n");
	arxiv_mlflow_artifacts(t, art);
	CHECK_STR(slurp("%s/artifacts/model/config.json", run), "{\"dim\":100}\n",
	    "artifact tree copied");
	CHECK_STR(slurp("%s/artifacts/metrics.json", run), "{}\n", "top-level artifact copied");
	CHECK(count_entries(run, first, sizeof(first)) == 5,
	    "run folder: meta.yaml params metrics tags artifacts + no stray files");
	{
		char hidden[4500];
		DIR *d = opendir(run);
		struct dirent *e;
		int stray = 0;

		while (d && (e = readdir(d)) != NULL)
			if (strncmp(e->d_name, ".arxiv-tmp", 10) == 0)
				stray++;
		if (d)
			closedir(d);
		snprintf(hidden, sizeof(hidden), "%s/params", run);
		CHECK(stray == 0 && count_entries(hidden, NULL, 0) == 2, "no temporary files left");
	}
	arxiv_mlflow_artifacts(t, "/nonexistent/dir");
	CHECK(n_warn == 3 && strstr(last_warn, "not a directory"), "missing artifacts dir: warning");

	snprintf(path, sizeof(path), "%s", run);
	arxiv_mlflow_end(t, "FINISHED");
	s = slurp("%s/meta.yaml", path);
	CHECK(s && has_line(s, "status: 3") && !has_line(s, "end_time: null") &&
	    strstr(s, "end_time: 1"), "run meta.yaml finished with end_time");

	/* a second run reuses the experiment; a failed run gets status 4 */
	t2 = arxiv_mlflow_start(store, "arxiv", NULL);
	CHECK(arxiv_mlflow_active(t2), "second tracker active");
	CHECK(count_entries(store, NULL, 0) == 2, "experiment reused, not duplicated");
	snprintf(run, sizeof(run), "%s/%s", store, exp_id);
	CHECK(count_entries(run, NULL, 0) == 3, "experiment holds meta.yaml and two runs");
	snprintf(run, sizeof(run), "%s/%s/%s", store, exp_id, arxiv_mlflow_run_id(t2));
	s = slurp("%s/tags/mlflow.runName", run);
	CHECK(s && strncmp(s, "arxiv-", 6) == 0, "default run name (%s)", s ? s : "");
	arxiv_mlflow_end(t2, "FAILED");
	s = slurp("%s/meta.yaml", run);
	CHECK(s && has_line(s, "status: 4"), "FAILED run has status 4");

	/* file: URI and MLFLOW_TRACKING_URI */
	snprintf(path, sizeof(path), "file://%s/store2", tmp);
	setenv("MLFLOW_TRACKING_URI", path, 1);
	t = arxiv_mlflow_start(NULL, "other", "r");
	CHECK(arxiv_mlflow_active(t), "file:// URI from MLFLOW_TRACKING_URI");
	snprintf(path, sizeof(path), "%s/store2/0/meta.yaml", tmp);
	CHECK(access(path, F_OK) == 0, "store created at the URI's path");
	arxiv_mlflow_end(t, "KILLED");
	unsetenv("MLFLOW_TRACKING_URI");

	/* an unusable store: disabled tracker, exactly one warning, all calls 0 */
	n_warn = 0;
	snprintf(path, sizeof(path), "%s/art/metrics.json/sub", tmp);
	t = arxiv_mlflow_start(path, "arxiv", "x");
	CHECK(t != NULL && !arxiv_mlflow_active(t), "store under a file: disabled tracker");
	CHECK(n_warn == 1 && strstr(last_warn, "tracking disabled"), "one warning (%s)", last_warn);
	CHECK(arxiv_mlflow_param(t, "a", "b") == 0 && arxiv_mlflow_metric(t, "m", 1, 1) == 0 &&
	    arxiv_mlflow_artifacts(t, art) == 0 && arxiv_mlflow_end(t, "FINISHED") == 0 &&
	    n_warn == 1, "disabled tracker: calls return 0 silently");

	/* unsupported scheme */
	n_warn = 0;
	t = arxiv_mlflow_start("sqlite:///mlflow.db", "arxiv", "x");
	CHECK(!arxiv_mlflow_active(t) && n_warn == 1 && strstr(last_warn, "unsupported"),
	    "sqlite: URI: disabled with one warning");
	CHECK_STR(arxiv_mlflow_run_id(t), "", "disabled tracker has an empty run id");
	arxiv_mlflow_end(t, NULL);

	/* unreachable server: probe fails fast, one warning */
	n_warn = 0;
	t = arxiv_mlflow_start("http://127.0.0.1:9/", "arxiv", "x");
	CHECK(!arxiv_mlflow_active(t) && n_warn == 1 && strstr(last_warn, "unreachable"),
	    "closed port: disabled with one warning (%s)", last_warn);
	arxiv_mlflow_metric(t, "m", 1, 1);
	arxiv_mlflow_end(t, "FINISHED");
	CHECK(n_warn == 1, "nothing more after the warning");

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp);
	return tap_done();
}

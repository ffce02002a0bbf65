/*
 * mlflow.c - experiment tracking as MLflow runs.
 *
 * Two back ends behind one opaque tracker:
 *
 * - File store (default, "./mlruns", a plain path or a file: URI): MLflow's
 *   own layout, as MLflow 3.x's FileStore writes it, so `mlflow ui` and
 *   MlflowClient read the runs (MLflow 3 wants MLFLOW_ALLOW_FILE_STORE=true
 *   for a file store):
 *     mlruns/0/meta.yaml                        the Default experiment
 *     mlruns/<exp_id>/meta.yaml                 name, artifact_location, ...
 *     mlruns/<exp_id>/<run_id>/meta.yaml        run info (status 1 running, 3 finished)
 *     mlruns/<exp_id>/<run_id>/params/<key>     the value
 *     mlruns/<exp_id>/<run_id>/metrics/<key>    lines "<timestamp_ms> <value> <step>"
 *     mlruns/<exp_id>/<run_id>/tags/<key>       mlflow.runName, mlflow.user, ...
 *     mlruns/<exp_id>/<run_id>/artifacts/...    a copy of the artifacts tree
 *   Whole files appear by rename() of a temporary file written beside them
 *   (outside the folders MLflow lists), metric lines by one O_APPEND write, so
 *   a concurrent reader never sees a partial file. Experiment creation holds an
 *   flock on the store directory so two trainers share one "arxiv" experiment.
 *   The file store is in mlflow_file.c.
 *
 * - REST (http:// or https://): MLflow's REST API 2.0 through libcurl, after a
 *   TCP probe with a 1 s connect timeout. Artifacts go through the server's
 *   artifact proxy (mlflow-artifacts:/ artifact URIs, `mlflow server` with
 *   --serve-artifacts, the default since MLflow 2); other artifact stores are
 *   skipped with a warning.
 *
 * Tracking never fails a training run: every problem becomes one warning via
 * arxiv_log(ARXIV_LOG_WARN) and the call returns 0. An unreachable server or a
 * store that cannot be created gives a disabled tracker that drops everything.
 * A transport failure in the middle of a run disables the tracker too (one
 * warning), so a dead server costs one timeout, not one per metric.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arxiv.h"

#include "mlflow_int.h"

static const char *const status_names[] = { "", "RUNNING", "SCHEDULED", "FINISHED", "FAILED",
	"KILLED" };

static char *
user_name(void)
{
	const char *u = getenv("LOGNAME");
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (u == NULL || *u == '\0')
		u = getenv("USER");
	if ((u == NULL || *u == '\0') && getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 &&
	    res != NULL)
		u = res->pw_name;
	return strdup(u && *u ? u : "unknown");
}

/* MLflow's key rule: [A-Za-z0-9_\-. /], at most 250 bytes, and a normalised path. */
static int
key_ok(const char *k)
{
	size_t i, n = strlen(k);

	if (n == 0 || n > MAX_KEY || k[0] == '/' || k[n - 1] == '/')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)k[i]) && !strchr("_-. /", k[i]))
			return 0;
	if (strstr(k, "//") || strcmp(k, ".") == 0 || strncmp(k, "./", 2) == 0 ||
	    strncmp(k, "../", 3) == 0 || strcmp(k, "..") == 0 || strstr(k, "/./") ||
	    strstr(k, "/../"))
		return 0;
	if ((n >= 2 && strcmp(k + n - 2, "/.") == 0) || (n >= 3 && strcmp(k + n - 3, "/..") == 0))
		return 0;
	return 1;
}

/* ------------------------------------------------------ directory walk */

typedef int (*walk_fn)(struct arxiv_mlflow *t, const char *abs, const char *rel);

/* Call fn for each regular file under dir (following symlinks), rel = path below dir. */
static int
walk(struct arxiv_mlflow *t, const char *dir, const char *rel, walk_fn fn, int depth)
{
	char path[4096], sub[4096];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int r = 0;

	if (depth > 32)
		return -1;
	snprintf(path, sizeof(path), "%s%s%s", dir, *rel ? "/" : "", rel);
	if ((d = opendir(path)) == NULL)
		return -1;
	while (r == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
		    (int)sizeof(sub) - 1 || snprintf(path, sizeof(path), "%s/%s", dir, sub) >=
		    (int)sizeof(path) - 1) {
			r = -1;
			break;
		}
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			r = walk(t, dir, sub, fn, depth + 1);
		else if (S_ISREG(st.st_mode))
			r = fn(t, path, sub);
	}
	closedir(d);
	return r;
}

/* ------------------------------------------------------------------ API */

/* The store directory of a file: URI or plain path, or NULL for other schemes. */
static const char *
file_path(const char *uri)
{
	if (strncmp(uri, "file://localhost/", 17) == 0)
		return uri + 16;
	if (strncmp(uri, "file://", 7) == 0)
		return uri + 7;
	if (strncmp(uri, "file:", 5) == 0)
		return uri + 5;
	if (strstr(uri, "://") || strncmp(uri, "databricks", 10) == 0 ||
	    strncmp(uri, "sqlite:", 7) == 0)
		return NULL;
	return uri;
}

struct arxiv_mlflow *
arxiv_mlflow_start(const char *uri, const char *experiment, const char *run_name)
{
	struct arxiv_mlflow *t;
	char name[64];
	const char *dir;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	pthread_mutex_init(&t->mu, NULL);
	if (uri == NULL || *uri == '\0')
		uri = getenv("MLFLOW_TRACKING_URI");
	if (uri == NULL || *uri == '\0')
		uri = "./mlruns";
	if (experiment == NULL || *experiment == '\0')
		experiment = "arxiv";
	if (run_name == NULL || *run_name == '\0') {
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(name, sizeof(name), "arxiv-%Y%m%d-%H%M%S", &tm);
		run_name = name;
	}
	t->start_ms = now_ms();
	if ((t->run_name = strdup(run_name)) == NULL || (t->user = user_name()) == NULL)
		goto oom;
	if (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0) {
		t->kind = T_REST;
		if (mlflow_rest_start(t, uri, experiment) < 0)
			t->kind = T_OFF;
	} else if ((dir = file_path(uri)) != NULL && *dir) {
		t->kind = T_FILE;
		if (mlflow_file_start(t, dir, experiment) < 0)
			t->kind = T_OFF;
	} else {
		arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: unsupported tracking URI (use a folder, "
		    "file:, http: or https:); tracking disabled", uri);
	}
	if (t->kind == T_OFF)
		t->run_id[0] = '\0';
	return t;
oom:
	free(t->run_name);
	free(t->user);
	pthread_mutex_destroy(&t->mu);
	free(t);
	return NULL;
}

int
arxiv_mlflow_active(const struct arxiv_mlflow *t)
{
	return t != NULL && t->kind != T_OFF;
}

const char *
arxiv_mlflow_run_id(const struct arxiv_mlflow *t)
{
	return t != NULL && t->kind != T_OFF ? t->run_id : "";
}

int
arxiv_mlflow_param(struct arxiv_mlflow *t, const char *key, const char *value)
{
	char *v = NULL;

	if (t == NULL || key == NULL)
		return 0;
	pthread_mutex_lock(&t->mu);
	if (t->kind == T_OFF)
		goto out;
	if (!key_ok(key)) {
		arxiv_log(ARXIV_LOG_WARN, "mlflow: invalid parameter name \"%.60s\"; not logged", key);
		goto out;
	}
	if (value == NULL)
		value = "";
	if (strlen(value) > MAX_PARAM_VALUE) {
		arxiv_log(ARXIV_LOG_WARN, "mlflow: parameter %s: value cut to %d bytes", key,
		    MAX_PARAM_VALUE);
		if ((v = strndup(value, MAX_PARAM_VALUE)) == NULL)
			goto out;
		value = v;
	}
	if (t->kind == T_FILE) {
		if (mlflow_file_put(t, "params", key, value) < 0)
			arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot write parameter %s: %s",
			    t->run_dir, key, strerror(errno));
	} else {
		json_t *req = json_pack("{s:s,s:s,s:s}", "run_id", t->run_id, "key", key, "value",
		    value);

		if (req == NULL)
			arxiv_log(ARXIV_LOG_WARN, "mlflow: parameter %s: value is not valid UTF-8; "
			    "not logged", key);
		else
			json_decref(mlflow_rest_call(t, "POST", "runs/log-parameter", req, NULL, 0));
	}
out:
	pthread_mutex_unlock(&t->mu);
	free(v);
	return 0;
}

int
arxiv_mlflow_tag(struct arxiv_mlflow *t, const char *key, const char *value)
{
	if (t == NULL || key == NULL)
		return 0;
	pthread_mutex_lock(&t->mu);
	if (t->kind == T_OFF)
		goto out;
	if (!key_ok(key) || value == NULL || strlen(value) > MAX_PARAM_VALUE) {
		arxiv_log(ARXIV_LOG_WARN, "mlflow: invalid tag \"%.60s\"; not logged", key);
		goto out;
	}
	if (t->kind == T_FILE) {
		if (mlflow_file_put(t, "tags", key, value) < 0)
			arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot write tag %s: %s",
			    t->run_dir, key, strerror(errno));
	} else {
		json_t *req = json_pack("{s:s,s:s,s:s}", "run_id", t->run_id, "key", key, "value",
		    value);

		if (req != NULL)
			json_decref(mlflow_rest_call(t, "POST", "runs/set-tag", req, NULL, 0));
	}
out:
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int
arxiv_mlflow_metric(struct arxiv_mlflow *t, const char *key, double value, long step)
{
	if (t == NULL || key == NULL)
		return 0;
	pthread_mutex_lock(&t->mu);
	if (t->kind == T_OFF)
		goto out;
	if (!key_ok(key)) {
		arxiv_log(ARXIV_LOG_WARN, "mlflow: invalid metric name \"%.60s\"; not logged", key);
		goto out;
	}
	if (t->kind == T_FILE) {
		if (mlflow_file_metric(t, key, value, step) < 0)
			arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot write metric %s: %s",
			    t->run_dir, key, strerror(errno));
	} else {
		json_t *req, *r;

		if (!isfinite(value)) {
			arxiv_log(ARXIV_LOG_WARN, "mlflow: metric %s step %ld: %g cannot be sent; "
			    "not logged", key, step, value);
			goto out;
		}
		req = json_pack("{s:s,s:s,s:f,s:I,s:I}", "run_id", t->run_id, "key", key,
		    "value", value, "timestamp", (json_int_t)now_ms(), "step", (json_int_t)step);
		r = mlflow_rest_call(t, "POST", "runs/log-metric", req, NULL, 0);
		json_decref(r);
	}
out:
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int
arxiv_mlflow_artifacts(struct arxiv_mlflow *t, const char *dir)
{
	struct stat st;

	if (t == NULL || dir == NULL)
		return 0;
	pthread_mutex_lock(&t->mu);
	if (t->kind == T_OFF)
		goto out;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: not a directory; artifacts not logged", dir);
		goto out;
	}
	if (t->kind == T_FILE) {
		if (walk(t, dir, "", mlflow_file_copy_one, 0) < 0)
			arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot copy artifacts into %s/artifacts: %s",
			    dir, t->run_dir, strerror(errno));
	} else if (strncmp(t->artifact_uri, "mlflow-artifacts:", 17) != 0) {
		arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: the server does not proxy artifacts "
		    "(artifact URI %.100s; start it with --serve-artifacts); artifacts not uploaded",
		    t->base, t->artifact_uri);
	} else {
		walk(t, dir, "", mlflow_rest_put_one, 0);
	}
out:
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int
arxiv_mlflow_end(struct arxiv_mlflow *t, const char *status)
{
	int s = 3;
	size_t i;

	if (t == NULL)
		return 0;
	if (status != NULL)
		for (i = 1; i < sizeof(status_names) / sizeof(status_names[0]); i++)
			if (strcmp(status, status_names[i]) == 0)
				s = (int)i;
	if (t->kind == T_FILE) {
		if (mlflow_file_run_meta(t, s, now_ms()) < 0)
			arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot finish the run: %s", t->run_dir,
			    strerror(errno));
	} else if (t->kind == T_REST) {
		json_t *r = mlflow_rest_call(t, "POST", "runs/update", json_pack("{s:s,s:s,s:I}", "run_id",
		    t->run_id, "status", status_names[s], "end_time", (json_int_t)now_ms()), NULL, 0);

		json_decref(r);
	}
	mlflow_rest_free(t);
	free(t->base);
	free(t->artifact_uri);
	free(t->root);
	free(t->run_dir);
	free(t->run_name);
	free(t->user);
	pthread_mutex_destroy(&t->mu);
	free(t);
	return 0;
}

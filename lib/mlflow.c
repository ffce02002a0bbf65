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
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arxiv.h"

#include "mlflow_int.h"

static const char *const status_names[] = { "", "RUNNING", "SCHEDULED", "FINISHED", "FAILED",
	"KILLED" };

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
random_bytes(unsigned char *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = getrandom(p + got, n - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < n) {		/* no entropy source: time and address, good enough for ids */
		uint64_t h = arxiv_hash64(&p, sizeof(p), (uint64_t)now_ms());

		for (; got < n; got++, h = arxiv_hash64(&h, sizeof(h), got))
			p[got] = (unsigned char)h;
	}
}

/* A uuid4 in hex without dashes, as MLflow's run ids. */
static void
make_run_id(char out[33])
{
	unsigned char b[16];
	size_t i;

	random_bytes(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* An 18-digit experiment id without leading zero, as MLflow's FileStore makes. */
static void
make_exp_id(char out[19])
{
	unsigned char b[18];
	size_t i;

	random_bytes(b, sizeof(b));
	for (i = 0; i < 18; i++)
		out[i] = (char)('0' + b[i] % 10);
	if (out[0] == '0')
		out[0] = (char)('1' + b[0] % 9);
	out[18] = '\0';
}

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

/* Shortest "%g" that reads back to the same double, as Python's repr. */
static void
fmt_double(char *buf, size_t n, double v)
{
	int prec;

	if (isnan(v)) {
		snprintf(buf, n, "nan");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, n, v > 0 ? "inf" : "-inf");
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
}

/* ---------------------------------------------------------- file store */

static int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096], *p;
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, n + 1);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Write data to path atomically: a temporary file in tmpdir (same file
 * system, a folder MLflow does not list as entries), then rename().
 */
static int
write_file_atomic(const char *tmpdir, const char *path, const void *data, size_t n)
{
	return arxiv_atomic_write(path, tmpdir, data, n, NULL);
}

/* Append a YAML single-quoted scalar (control characters become spaces). */
static int
yaml_quote(struct arxiv_buf *b, const char *s)
{
	int r = arxiv_buf_putc(b, '\'');

	for (; *s; s++) {
		if (*s == '\'')
			r |= arxiv_buf_append(b, "''", 2);
		else
			r |= arxiv_buf_putc(b, (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
	}
	return r | arxiv_buf_putc(b, '\'');
}

/* file:///abs/path for an absolute path (percent-encoding what URIs need). */
static int
file_uri(struct arxiv_buf *b, const char *path)
{
	const unsigned char *p;
	int r = arxiv_buf_printf(b, "file://");

	for (p = (const unsigned char *)path; *p; p++) {
		if (isalnum(*p) || strchr("/-._~", *p))
			r |= arxiv_buf_putc(b, *p);
		else
			r |= arxiv_buf_printf(b, "%%%02X", *p);
	}
	return r;
}

static int
write_exp_meta(const char *root, const char *id, const char *name)
{
	struct arxiv_buf b = { 0 }, path = { 0 }, dir = { 0 }, u = { 0 };
	long long t = now_ms();
	int r = 0;

	r |= arxiv_buf_printf(&dir, "%s/%s", root, id);
	r |= arxiv_buf_printf(&path, "%s/meta.yaml", dir.data ? dir.data : "");
	r |= file_uri(&u, dir.data ? dir.data : "");
	r |= arxiv_buf_printf(&b, "artifact_location: ");
	r |= yaml_quote(&b, u.data ? u.data : "");
	r |= arxiv_buf_printf(&b, "\ncreation_time: %lld\neffective_trace_archival_retention: null\n"
	    "experiment_id: ", t);
	r |= yaml_quote(&b, id);
	r |= arxiv_buf_printf(&b, "\nlast_update_time: %lld\nlifecycle_stage: active\nname: ", t);
	r |= yaml_quote(&b, name);
	r |= arxiv_buf_printf(&b, "\ntrace_location: null\nworkspace: default\n");
	if (r == 0 && (mkdir(dir.data, 0755) < 0 && errno != EEXIST))
		r = -1;
	if (r == 0)
		r = write_file_atomic(dir.data, path.data, b.data, b.len);
	arxiv_buf_free(&b);
	arxiv_buf_free(&path);
	arxiv_buf_free(&dir);
	arxiv_buf_free(&u);
	return r;
}

/* Value of a top-level "key: value" line of a simple YAML file, unquoted. */
static char *
yaml_get(const char *path, const char *key)
{
	char line[2048], *v, *out = NULL;
	size_t kl = strlen(key);
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return NULL;
	while (fgets(line, sizeof(line), fp)) {
		size_t n;

		if (strncmp(line, key, kl) != 0 || line[kl] != ':')
			continue;
		v = line + kl + 1;
		while (*v == ' ')
			v++;
		n = strlen(v);
		while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == '\r' || v[n - 1] == ' '))
			v[--n] = '\0';
		if ((out = malloc(n + 1)) == NULL)
			break;
		if (v[0] == '\'' && n >= 2 && v[n - 1] == '\'') {
			size_t i, j = 0;

			for (i = 1; i + 1 < n; i++) {
				out[j++] = v[i];
				if (v[i] == '\'' && v[i + 1] == '\'')
					i++;
			}
			out[j] = '\0';
		} else if (v[0] == '"' && n >= 2 && v[n - 1] == '"') {
			size_t i, j = 0;

			for (i = 1; i + 1 < n; i++) {
				if (v[i] == '\\' && i + 2 < n)
					i++;
				out[j++] = v[i];
			}
			out[j] = '\0';
		} else {
			memcpy(out, v, n + 1);
		}
		break;
	}
	fclose(fp);
	return out;
}

/* Find the active experiment called name; its id into id. 1 found, 0 not. */
static int
find_experiment(const char *root, const char *name, char *id, size_t n)
{
	DIR *d = opendir(root);
	struct dirent *e;
	char path[4096 + 512];
	int found = 0;

	if (d == NULL)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		char *nm, *st;

		if (e->d_name[0] == '.')
			continue;
		if (strlen(e->d_name) >= n ||
		    snprintf(path, sizeof(path), "%s/%s/meta.yaml", root, e->d_name) >= (int)sizeof(path))
			continue;
		if ((nm = yaml_get(path, "name")) == NULL)
			continue;
		st = yaml_get(path, "lifecycle_stage");
		if (strcmp(nm, name) == 0 && (st == NULL || strcmp(st, "active") == 0)) {
			memcpy(id, e->d_name, strlen(e->d_name) + 1);
			found = 1;
		}
		free(nm);
		free(st);
	}
	closedir(d);
	return found;
}

static int
write_run_meta(struct arxiv_mlflow *t, int status, long long end_ms)
{
	struct arxiv_buf b = { 0 }, u = { 0 }, path = { 0 }, art = { 0 };
	int r = 0;

	r |= arxiv_buf_printf(&art, "%s/artifacts", t->run_dir);
	r |= file_uri(&u, art.data ? art.data : "");
	r |= arxiv_buf_printf(&b, "artifact_uri: ");
	r |= yaml_quote(&b, u.data ? u.data : "");
	if (end_ms > 0)
		r |= arxiv_buf_printf(&b, "\nend_time: %lld", end_ms);
	else
		r |= arxiv_buf_printf(&b, "\nend_time: null");
	r |= arxiv_buf_printf(&b, "\nentry_point_name: ''\nexperiment_id: ");
	r |= yaml_quote(&b, t->exp_id);
	r |= arxiv_buf_printf(&b, "\nlifecycle_stage: active\nrun_id: ");
	r |= yaml_quote(&b, t->run_id);
	r |= arxiv_buf_printf(&b, "\nrun_name: ");
	r |= yaml_quote(&b, t->run_name);
	r |= arxiv_buf_printf(&b, "\nsource_name: ''\nsource_type: 4\nsource_version: ''\n"
	    "start_time: %lld\nstatus: %d\ntags: []\nuser_id: ", t->start_ms, status);
	r |= yaml_quote(&b, t->user);
	r |= arxiv_buf_putc(&b, '\n');
	r |= arxiv_buf_printf(&path, "%s/meta.yaml", t->run_dir);
	if (r == 0)
		r = write_file_atomic(t->run_dir, path.data, b.data, b.len);
	arxiv_buf_free(&b);
	arxiv_buf_free(&u);
	arxiv_buf_free(&path);
	arxiv_buf_free(&art);
	return r;
}

/* Write run_dir/<sub>/<key> = value (key may contain '/': sub-folders). */
static int
file_put(struct arxiv_mlflow *t, const char *sub, const char *key, const char *value)
{
	char path[4096], *slash;
	int r;

	if (snprintf(path, sizeof(path), "%s/%s/%s", t->run_dir, sub, key) >= (int)sizeof(path))
		return -1;
	slash = strrchr(path, '/');
	*slash = '\0';
	r = mkdir_p(path, 0755);
	*slash = '/';
	if (r == 0)
		r = write_file_atomic(t->run_dir, path, value, strlen(value));
	return r;
}

static int
file_start(struct arxiv_mlflow *t, const char *dir, const char *experiment)
{
	char abs[4096], id[32], lockpath[4096 + 128];
	int lock, r = 0, found;

	if (mkdir_p(dir, 0755) < 0 || realpath(dir, abs) == NULL) {
		arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot create the tracking store: %s; "
		    "tracking disabled", dir, strerror(errno));
		return -1;
	}
	if ((t->root = strdup(abs)) == NULL)
		return -1;
	snprintf(lockpath, sizeof(lockpath), "%s/.trash", abs);
	if (mkdir(lockpath, 0755) < 0 && errno != EEXIST)
		goto fail;
	if ((lock = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto fail;
	while (flock(lock, LOCK_EX) < 0 && errno == EINTR)
		;
	snprintf(lockpath, sizeof(lockpath), "%s/0/meta.yaml", abs);
	if (access(lockpath, F_OK) < 0)
		r |= write_exp_meta(abs, "0", "Default");
	if (!(found = find_experiment(abs, experiment, id, sizeof(id)))) {
		do {
			make_exp_id(id);
			snprintf(lockpath, sizeof(lockpath), "%s/%s", abs, id);
		} while (access(lockpath, F_OK) == 0);
		r |= write_exp_meta(abs, id, experiment);
	}
	close(lock);
	if (r < 0)
		goto fail;
	snprintf(t->exp_id, sizeof(t->exp_id), "%s", id);
	make_run_id(t->run_id);
	if (snprintf(lockpath, sizeof(lockpath), "%s/%s/%s", abs, id, t->run_id) >=
	    (int)sizeof(lockpath) - 64 || (t->run_dir = strdup(lockpath)) == NULL)
		goto fail;
	if (mkdir(t->run_dir, 0755) < 0)
		goto fail;
	snprintf(lockpath, sizeof(lockpath), "%s/artifacts", t->run_dir);
	if (mkdir(lockpath, 0755) < 0)
		goto fail;
	if (write_run_meta(t, 1, 0) < 0 ||
	    file_put(t, "tags", "mlflow.runName", t->run_name) < 0 ||
	    file_put(t, "tags", "mlflow.user", t->user) < 0 ||
	    file_put(t, "tags", "mlflow.source.name", program_invocation_short_name) < 0 ||
	    file_put(t, "tags", "mlflow.source.type", "LOCAL") < 0)
		goto fail;
	return 0;
fail:
	arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot create the run: %s; tracking disabled",
	    abs, errno ? strerror(errno) : "write error");
	return -1;
}

static int
file_metric(struct arxiv_mlflow *t, const char *key, double value, long step)
{
	char path[4096], line[128], num[40], *slash;
	int fd, r, n;

	if (snprintf(path, sizeof(path), "%s/metrics/%s", t->run_dir, key) >= (int)sizeof(path))
		return -1;
	slash = strrchr(path, '/');
	*slash = '\0';
	r = mkdir_p(path, 0755);
	*slash = '/';
	if (r < 0)
		return -1;
	fmt_double(num, sizeof(num), value);
	n = snprintf(line, sizeof(line), "%lld %s %ld\n", now_ms(), num, step);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return -1;
	r = write_all(fd, line, (size_t)n);
	if (close(fd) < 0)
		r = -1;
	return r;
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

static int
file_copy_one(struct arxiv_mlflow *t, const char *src, const char *rel)
{
	struct arxiv_atomic *a;
	char dst[4096], buf[65536], *slash;
	int in, r = 0;
	ssize_t n;

	if (snprintf(dst, sizeof(dst), "%s/artifacts/%s", t->run_dir, rel) >= (int)sizeof(dst))
		return -1;
	slash = strrchr(dst, '/');
	*slash = '\0';
	r = mkdir_p(dst, 0755);
	*slash = '/';
	if (r < 0)
		return -1;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((a = arxiv_atomic_open(dst, t->run_dir, NULL)) == NULL) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || fwrite(buf, 1, (size_t)n, arxiv_atomic_file(a)) != (size_t)n) {
			r = -1;
			break;
		}
	}
	close(in);
	if (r < 0) {
		arxiv_atomic_abort(a);
		return -1;
	}
	return arxiv_atomic_commit(a, NULL);
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
		if (file_start(t, dir, experiment) < 0)
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
		if (file_put(t, "params", key, value) < 0)
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
		if (file_put(t, "tags", key, value) < 0)
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
		if (file_metric(t, key, value, step) < 0)
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
		if (walk(t, dir, "", file_copy_one, 0) < 0)
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
		if (write_run_meta(t, s, now_ms()) < 0)
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

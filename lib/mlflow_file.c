/*
 * mlflow_file.c - the MLflow file store back end of the tracker (mlflow.c has
 * the API and the layout it writes; mlflow_rest.c the REST back end): run and
 * experiment ids, meta.yaml files, the experiment lookup and creation under an
 * flock, params, tags and metric lines, and the copy of the artifacts tree.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arxiv.h"

#include "mlflow_int.h"

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

int
mlflow_file_run_meta(struct arxiv_mlflow *t, int status, long long end_ms)
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
int
mlflow_file_put(struct arxiv_mlflow *t, const char *sub, const char *key, const char *value)
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

int
mlflow_file_start(struct arxiv_mlflow *t, const char *dir, const char *experiment)
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
	if (mlflow_file_run_meta(t, 1, 0) < 0 ||
	    mlflow_file_put(t, "tags", "mlflow.runName", t->run_name) < 0 ||
	    mlflow_file_put(t, "tags", "mlflow.user", t->user) < 0 ||
	    mlflow_file_put(t, "tags", "mlflow.source.name", program_invocation_short_name) < 0 ||
	    mlflow_file_put(t, "tags", "mlflow.source.type", "LOCAL") < 0)
		goto fail;
	return 0;
fail:
	arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot create the run: %s; tracking disabled",
	    abs, errno ? strerror(errno) : "write error");
	return -1;
}

int
mlflow_file_metric(struct arxiv_mlflow *t, const char *key, double value, long step)
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

int
mlflow_file_copy_one(struct arxiv_mlflow *t, const char *src, const char *rel)
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

/*
 * mlflow_rest.c - the REST back end of the MLflow tracker (mlflow.c holds the
 * file store and the API): MLflow's REST API 2.0 and its artifact proxy
 * through libcurl.
 *
 * libcurl is loaded with dlopen("libcurl.so.4") the first time an http(s)
 * tracking URI is used, so the programs that never track to a server (the
 * text filters, a file store) neither link nor load it. Without libcurl the
 * tracker is disabled with one warning, like an unreachable server.
 */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mlflow_int.h"

struct mlflow_rest {
	CURL *curl;
	struct curl_slist *hdrs;	/* JSON requests: content type (+ token) */
	struct curl_slist *auth;	/* artifact uploads: the token only */
	char err[CURL_ERROR_SIZE];
};

/* The libcurl functions used, resolved at run time. */
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	void (*easy_reset)(CURL *);
	void (*easy_cleanup)(CURL *);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} C;
static int curl_ok;
static char curl_why[200];

static void
curl_load(void)
{
	static const char *const names[] = { "libcurl.so.4", "libcurl.so", "libcurl-gnutls.so.4" };
	void *h = NULL;
	size_t i;

	for (i = 0; h == NULL && i < sizeof(names) / sizeof(names[0]); i++)
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(curl_why, sizeof(curl_why), "%s", dlerror());
		return;
	}
#define SYM(f, name) do { \
	*(void **)(&C.f) = dlsym(h, name); \
	if (C.f == NULL) { \
		snprintf(curl_why, sizeof(curl_why), "libcurl lacks %s", name); \
		return; \
	} \
} while (0)
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(easy_reset, "curl_easy_reset");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_escape, "curl_easy_escape");
	SYM(free, "curl_free");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
#undef SYM
	if (C.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(curl_why, sizeof(curl_why), "curl_global_init failed");
		return;
	}
	curl_ok = 1;
}

void
mlflow_rest_free(struct arxiv_mlflow *t)
{
	if (t->rest == NULL)
		return;
	if (t->rest->curl)
		C.easy_cleanup(t->rest->curl);
	C.slist_free_all(t->rest->hdrs);
	C.slist_free_all(t->rest->auth);
	free(t->rest);
	t->rest = NULL;
}

struct resp {
	struct arxiv_buf body;
};

static size_t
on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct resp *r = ud;
	size_t n = size * nmemb;

	if (r->body.len < (1u << 20) && arxiv_buf_append(&r->body, p, n) < 0)
		return 0;
	return n;
}

/*
 * Reset the handle for one request to url, the reply body into rs. Honours
 * MLflow's client settings: MLFLOW_TRACKING_USERNAME/PASSWORD (basic auth),
 * MLFLOW_TRACKING_TOKEN (bearer, in t->rest->hdrs / t->rest->auth), MLFLOW_TRACKING_INSECURE_TLS.
 */
static void
curl_setup(struct arxiv_mlflow *t, const char *url, struct resp *rs, long timeout_s)
{
	const char *insecure = getenv("MLFLOW_TRACKING_INSECURE_TLS");
	const char *user = getenv("MLFLOW_TRACKING_USERNAME");
	const char *pass = getenv("MLFLOW_TRACKING_PASSWORD");

	C.easy_reset(t->rest->curl);
	C.easy_setopt(t->rest->curl, CURLOPT_URL, url);
	C.easy_setopt(t->rest->curl, CURLOPT_WRITEFUNCTION, on_body);
	C.easy_setopt(t->rest->curl, CURLOPT_WRITEDATA, rs);
	C.easy_setopt(t->rest->curl, CURLOPT_ERRORBUFFER, t->rest->err);
	C.easy_setopt(t->rest->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	C.easy_setopt(t->rest->curl, CURLOPT_TIMEOUT, timeout_s);
	C.easy_setopt(t->rest->curl, CURLOPT_NOSIGNAL, 1L);
	if (insecure && strcmp(insecure, "true") == 0) {
		C.easy_setopt(t->rest->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		C.easy_setopt(t->rest->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (user && pass) {
		C.easy_setopt(t->rest->curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		C.easy_setopt(t->rest->curl, CURLOPT_USERNAME, user);
		C.easy_setopt(t->rest->curl, CURLOPT_PASSWORD, pass);
	}
	t->rest->err[0] = '\0';
}

static void
rest_disable(struct arxiv_mlflow *t, const char *what, const char *why)
{
	arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: %s: %s; tracking disabled", t->base, what, why);
	t->kind = T_OFF;
}

/*
 * One API call: method "GET" (query already in path) or "POST" with a JSON
 * body (stolen). Returns the parsed reply (new) on HTTP 200; NULL with a
 * warning otherwise (and for transport failures the tracker is disabled).
 * *http gets the status code (0 for transport failures).
 */
json_t *
mlflow_rest_call(struct arxiv_mlflow *t, const char *method, const char *path, json_t *body,
    long *http, int quiet_404)
{
	struct resp rs = { { 0 } };
	struct arxiv_buf url = { 0 };
	char *data = NULL;
	json_t *reply = NULL;
	json_error_t je;
	CURLcode cc;
	long code = 0;

	if (body) {	/* NULL from a failed json_pack is caught by the callers */
		data = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		if (data == NULL) {
			arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot encode the request", path);
			return NULL;
		}
	}
	if (arxiv_buf_printf(&url, "%s/api/2.0/mlflow/%s", t->base, path) < 0) {
		free(data);
		return NULL;
	}
	curl_setup(t, url.data, &rs, 60);
	C.easy_setopt(t->rest->curl, CURLOPT_HTTPHEADER, t->rest->hdrs);
	if (strcmp(method, "POST") == 0) {
		C.easy_setopt(t->rest->curl, CURLOPT_POST, 1L);
		C.easy_setopt(t->rest->curl, CURLOPT_POSTFIELDS, data ? data : "{}");
	}
	cc = C.easy_perform(t->rest->curl);
	if (cc != CURLE_OK) {
		rest_disable(t, path, t->rest->err[0] ? t->rest->err : C.easy_strerror(cc));
		goto out;
	}
	C.easy_getinfo(t->rest->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		if (!(quiet_404 && code == 404)) {
			json_t *j = json_loadb(rs.body.data ? rs.body.data : "", rs.body.len, 0, &je);
			const char *msg = json_string_value(json_object_get(j, "message"));

			arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: %s: HTTP %ld%s%.200s", t->base, path, code,
			    msg ? ": " : "", msg ? msg : "");
			json_decref(j);
		}
		goto out;
	}
	reply = json_loadb(rs.body.data ? rs.body.data : "{}", rs.body.len ? rs.body.len : 2, 0,
	    &je);
	if (reply == NULL)
		arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: %s: invalid JSON reply: %s", t->base, path,
		    je.text);
out:
	if (http)
		*http = code;
	free(data);
	arxiv_buf_free(&url);
	arxiv_buf_free(&rs.body);
	return reply;
}

/* scheme://host[:port][/prefix] -> t->base; probe the TCP port. */
static int
rest_probe(struct arxiv_mlflow *t)
{
	CURLcode cc;

	C.easy_reset(t->rest->curl);
	C.easy_setopt(t->rest->curl, CURLOPT_URL, t->base);
	C.easy_setopt(t->rest->curl, CURLOPT_CONNECT_ONLY, 1L);
	C.easy_setopt(t->rest->curl, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	C.easy_setopt(t->rest->curl, CURLOPT_NOSIGNAL, 1L);
	C.easy_setopt(t->rest->curl, CURLOPT_ERRORBUFFER, t->rest->err);
	t->rest->err[0] = '\0';
	cc = C.easy_perform(t->rest->curl);
	if (cc != CURLE_OK) {
		arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: server unreachable (%s); tracking disabled",
		    t->base, t->rest->err[0] ? t->rest->err : C.easy_strerror(cc));
		return -1;
	}
	return 0;
}

static json_t *
tag(const char *k, const char *v)
{
	return json_pack("{s:s,s:s}", "key", k, "value", v);
}

int
mlflow_rest_start(struct arxiv_mlflow *t, const char *uri, const char *experiment)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct arxiv_buf path = { 0 };
	json_t *r, *req;
	const char *s;
	char *esc;
	long code = 0;
	size_t n;

	if ((t->base = strdup(uri)) == NULL)
		return -1;
	n = strlen(t->base);
	while (n > 0 && t->base[n - 1] == '/')
		t->base[--n] = '\0';
	pthread_once(&once, curl_load);
	if (!curl_ok) {
		arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot load libcurl (%s); tracking disabled",
		    t->base, curl_why);
		return -1;
	}
	if ((t->rest = calloc(1, sizeof(*t->rest))) == NULL ||
	    (t->rest->curl = C.easy_init()) == NULL)
		return -1;
	t->rest->hdrs = C.slist_append(NULL, "Content-Type: application/json");
	if (getenv("MLFLOW_TRACKING_TOKEN") && *getenv("MLFLOW_TRACKING_TOKEN")) {
		struct arxiv_buf h = { 0 };

		if (arxiv_buf_printf(&h, "Authorization: Bearer %s",
		    getenv("MLFLOW_TRACKING_TOKEN")) == 0) {
			t->rest->hdrs = C.slist_append(t->rest->hdrs, h.data);
			t->rest->auth = C.slist_append(NULL, h.data);
		}
		arxiv_buf_free(&h);
	}
	if (rest_probe(t) < 0)
		return -1;

	/* the experiment: look up by name, else create */
	esc = C.easy_escape(t->rest->curl, experiment, 0);
	arxiv_buf_printf(&path, "experiments/get-by-name?experiment_name=%s", esc ? esc : "");
	C.free(esc);
	r = mlflow_rest_call(t, "GET", path.data, NULL, &code, 1);
	arxiv_buf_free(&path);
	if (t->kind == T_OFF)
		return -1;
	s = json_string_value(json_object_get(json_object_get(r, "experiment"), "experiment_id"));
	if (s == NULL && code == 404) {
		json_decref(r);
		r = mlflow_rest_call(t, "POST", "experiments/create", json_pack("{s:s}", "name", experiment),
		    &code, 0);
		s = json_string_value(json_object_get(r, "experiment_id"));
	}
	if (s == NULL) {
		json_decref(r);
		if (t->kind != T_OFF)
			arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot get experiment \"%s\"; "
			    "tracking disabled", t->base, experiment);
		return -1;
	}
	snprintf(t->exp_id, sizeof(t->exp_id), "%s", s);
	json_decref(r);

	req = json_pack("{s:s,s:s,s:I,s:s,s:[o,o,o,o]}", "experiment_id", t->exp_id,
	    "run_name", t->run_name, "start_time", (json_int_t)t->start_ms, "user_id", t->user,
	    "tags", tag("mlflow.runName", t->run_name), tag("mlflow.user", t->user),
	    tag("mlflow.source.name", program_invocation_short_name),
	    tag("mlflow.source.type", "LOCAL"));
	r = mlflow_rest_call(t, "POST", "runs/create", req, &code, 0);
	s = json_string_value(json_object_get(json_object_get(json_object_get(r, "run"), "info"),
	    "run_id"));
	if (s == NULL || strlen(s) >= sizeof(t->run_id)) {
		json_decref(r);
		if (t->kind != T_OFF)
			arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot create a run; tracking disabled",
			    t->base);
		return -1;
	}
	snprintf(t->run_id, sizeof(t->run_id), "%s", s);
	s = json_string_value(json_object_get(json_object_get(json_object_get(r, "run"), "info"),
	    "artifact_uri"));
	t->artifact_uri = strdup(s ? s : "");
	json_decref(r);
	return 0;
}

int
mlflow_rest_put_one(struct arxiv_mlflow *t, const char *src, const char *rel)
{
	struct arxiv_buf url = { 0 };
	struct resp rs = { { 0 } };
	const char *ap = t->artifact_uri + strlen("mlflow-artifacts:");
	const char *seg, *end;
	struct stat st;
	CURLcode cc;
	long code = 0;
	FILE *fp;
	int r = 0;

	/* mlflow-artifacts:/<path> or mlflow-artifacts://host:port/<path> */
	if (strncmp(ap, "//", 2) == 0 && (ap = strchr(ap + 2, '/')) == NULL)
		ap = "";
	while (*ap == '/')
		ap++;
	r |= arxiv_buf_printf(&url, "%s/api/2.0/mlflow-artifacts/artifacts/%s", t->base, ap);
	for (seg = rel; r == 0 && *seg; seg = *end ? end + 1 : end) {
		char *e;

		end = strchr(seg, '/');
		if (end == NULL)
			end = seg + strlen(seg);
		e = C.easy_escape(t->rest->curl, seg, (int)(end - seg));
		r |= e ? arxiv_buf_printf(&url, "/%s", e) : -1;
		C.free(e);
	}
	if (r < 0 || (fp = fopen(src, "rb")) == NULL || fstat(fileno(fp), &st) < 0) {
		arxiv_buf_free(&url);
		arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: cannot read artifact: %s", src, strerror(errno));
		return 0;	/* skip this file, go on */
	}
	curl_setup(t, url.data, &rs, 600);
	if (t->rest->auth)	/* the bearer token; no JSON content type for the file */
		C.easy_setopt(t->rest->curl, CURLOPT_HTTPHEADER, t->rest->auth);
	C.easy_setopt(t->rest->curl, CURLOPT_UPLOAD, 1L);
	C.easy_setopt(t->rest->curl, CURLOPT_READDATA, fp);
	C.easy_setopt(t->rest->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
	cc = C.easy_perform(t->rest->curl);
	fclose(fp);
	if (cc != CURLE_OK) {
		rest_disable(t, "artifact upload", t->rest->err[0] ? t->rest->err :
		    C.easy_strerror(cc));
		r = -1;
	} else if (C.easy_getinfo(t->rest->curl, CURLINFO_RESPONSE_CODE, &code), code != 200) {
		arxiv_log(ARXIV_LOG_WARN, "mlflow: %s: artifact %s: HTTP %ld; artifacts not uploaded",
		    t->base, rel, code);
		r = -1;
	}
	arxiv_buf_free(&url);
	arxiv_buf_free(&rs.body);
	return r;
}


/*
 * arxiv-serve - answer predictions over HTTP from trained artifacts, and serve
 * the web page.
 *
 * lib/httpd.c runs the network side: a pool of threads, each with its own
 * epoll loop, strict HTTP/1.1 parsing, an idle timeout and a connection limit. The model sits behind a
 * reference-counted pointer: a request takes a reference for as long as it
 * predicts, SIGHUP swaps in a freshly loaded model (the old one is freed when
 * its last request lets go), and a failed reload keeps the old model. Signals
 * are taken synchronously with sigwait() in the main thread, so no work is
 * done in a signal handler. Predictions go through the same library calls as
 * arxiv-predict (arxiv_text_join, arxiv_model_predict, arxiv_prediction_json),
 * so the answers are byte-identical.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include "httpd.h"
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "prog.h"

#define DEFAULT_DIR	"artifacts"
#define DEFAULT_LISTEN	"127.0.0.1:8000"
#define DEFAULT_TOPK	3
#define MAX_PAGE	((size_t)4 << 20)
#define MAX_SLOTS	256	/* label names counted in arxiv_predictions_total */
#define SIMILAR_K	5	/* neighbours by default on /api/similar/ */
#define SIMILAR_MAX_K	100	/* and at most */

struct server;
struct req;

static int predict(struct server *, struct req *);
static int similar(struct server *, struct req *);
static int get_labels(struct server *, struct req *);
static int get_healthz(struct server *, struct req *);
static int get_readyz(struct server *, struct req *);
static int reply_metrics(struct server *, struct req *);
static int reply_page(struct server *, struct req *);

/*
 * The route table: a new endpoint is one handler and one row. A POST route
 * reads a JSON body (checked early for its type and size, limited by -b);
 * the others answer GET and HEAD. path is the name in /metrics and in
 * messages, alias a second spelling (or NULL).
 */
static int reply_report(struct server *, struct req *);

static const struct route {
	const char *path, *alias;
	int post;
	/* called once the whole request (and body) has arrived */
	int (*fn)(struct server *, struct req *);
} routes[] = {
	{ "/api/predict/", "/api/predict", 1, predict },
	{ "/api/similar/", "/api/similar", 1, similar },
	{ "/api/labels/", "/api/labels", 0, get_labels },
	{ "/healthz", NULL, 0, get_healthz },
	{ "/readyz", NULL, 0, get_readyz },
	{ "/metrics", NULL, 0, reply_metrics },
	{ "/", "/index.html", 0, reply_page },
	{ "/report/", "/report", 0, reply_report },	/* and /report/NAME: prefix */
};
#define NROUTES		(sizeof(routes) / sizeof(routes[0]) + 1)
#define R_OTHER		(NROUTES - 1)	/* no such path; counted in /metrics as "other" */

/* Status codes counted in /metrics; the last slot is "aborted" (no response). */
static const unsigned status_code[] = { 200, 204, 400, 404, 405, 408, 413, 414, 415, 431, 500, 503, 505 };
#define NSTATUS (sizeof(status_code) / sizeof(status_code[0]) + 1)

static const double bucket_le[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

/* The web page, shared by the responses that send it; freed with the last reference. */
struct page {
	atomic_int refs;
	char *data;
	size_t len;
};

/* A loaded model and what is precomputed from it; freed with the last reference. */
struct model_ref {
	atomic_int refs;
	struct arxiv_model *m;
	size_t nlabels;
	size_t *slot;		/* label id -> metrics slot (MAX_SLOTS: not counted) */
	char *labels_json;	/* {"labels":[...]}\n */
	char *ready_json;	/* the /readyz body */
	double load_seconds;
};

/* An open index and the embedder of its text queries; freed with the last reference. */
struct index_ref {
	atomic_int refs;
	struct arxiv_index *ix;
	struct arxiv_index_info info;
	struct arxiv_embedder *emb;	/* NULL: text queries get 503 with emb_why */
	char emb_why[600];
	json_t *ready;			/* the "index" object of /readyz */
};

struct slot {
	char *name;
	atomic_ulong n;
};

struct server {
	/* settings */
	const char *dir;
	const char *report_dir;	/* -R: arxiv-report's output, served at /report/ */
	char page_path[4096];
	size_t maxbody, maxbatch;
	unsigned timeout;
	int quiet;
	double min_confidence, ood_threshold;	/* defaults of the request fields */
	char route_list[512];	/* the paths, for the 404 message */

	/* the similar-paper index (-i or -d), swapped under lock like the model */
	const char *ix_loc, *ix_kind, *edir;
	struct index_ref *ixcur;
	char ix_why[600];	/* why there is no index (the 503 detail) */

	/* the model and the page, swapped under lock */
	pthread_mutex_t lock;
	struct model_ref *cur;
	char why[4600];		/* why there is no model (the 503 detail) */
	struct page *page;
	char page_why[4200];

	/* metrics */
	atomic_ulong requests[NROUTES][NSTATUS];
	atomic_ulong hist[NROUTES][NBUCKETS + 1];
	atomic_ulong lat_ns[NROUTES];
	pthread_mutex_t slot_lock;
	struct slot slots[MAX_SLOTS];
	atomic_size_t nslots;
	atomic_ulong reload_ok, reload_fail;
	atomic_long inflight;
	atomic_int draining;
};

/* One HTTP request, from its first handler call to its completion. */
struct req {
	struct timespec t0;
	size_t route;		/* index in routes[], R_OTHER for none */
	char method[16];
	char path[160];
	unsigned status;	/* 0 until a response is queued */
	int post, too_big;
	struct httpd_req *hr;	/* the request, and its body */
	struct arxiv_buf body;	/* the body: hr's (borrowed: never freed here) */
	struct httpd_resp *resp;	/* the response being filled in */
};

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "index", required_argument, NULL, 'i' },
	{ "dsn", required_argument, NULL, 'd' },
	{ "embedder", required_argument, NULL, 'e' },
	{ "listen", required_argument, NULL, 'l' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "max-batch", required_argument, NULL, 'B' },
	{ "max-body", required_argument, NULL, 'b' },
	{ "max-conn", required_argument, NULL, 'c' },
	{ "timeout", required_argument, NULL, 'T' },
	{ "web-dir", required_argument, NULL, 'w' },
	{ "report-dir", required_argument, NULL, 'R' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "min-confidence", required_argument, NULL, 256 },
	{ "ood-threshold", required_argument, NULL, 257 },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static const struct prog_help help[] = {
	{ "model", "dir", "the artifacts directory (default: " DEFAULT_DIR ")", 0 },
	{ "index", "index", "answer POST /api/similar/ from this local index file (arxiv-index -o)", 0 },
	{ "dsn", "dsn", "answer it from PostgreSQL + pgvector instead (arxiv-index -d)", 0 },
	{ "embedder", "dir", "embedder of abstracts (default: the one the index records)", 0 },
	{ "listen", "host:port", "address to listen on (default: " DEFAULT_LISTEN "; port 0: any free one)", 0 },
	{ "jobs", "threads", "worker threads (default: all cores)", 0 },
	{ "max-batch", "maxbatch", "most abstracts in one batch request (default: 64)", 0 },
	{ "max-body", "maxbody", "largest request body, k and M suffixes allowed (default: 1M)", 0 },
	{ "max-conn", "maxconn", "most open connections (default: 1024)", 0 },
	{ "timeout", "timeout", "seconds an idle or slow connection is kept (default: 10)", 0 },
	{ "web-dir", "webdir", "serve the page from webdir/index.html (default: the shipped one)", 0 },
	{ "report-dir", "reportdir", "serve arxiv-report's output at /report/ (default: none)", 0 },
	{ "quiet", NULL, "no access log on stderr", 0 },
	{ "min-confidence", "p", "default \"min_confidence\" of a request (default 0: never abstain for it)", 0 },
	{ "ood-threshold", "p", "default \"ood_threshold\" of a request (default: the model's; 0: off)", 0 },
	{ "help", NULL, "print this help and exit", 0 },
	{ "version", NULL, "print the version and exit", 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct prog_deprecated deprecated[] = {
	{ 't', 'j', "-t", "-j" },
	{ 0, 0, NULL, NULL }
};

static const struct prog P = {
	"arxiv-serve", NULL,
	"Serve artifacts over HTTP: POST /api/predict/, /api/similar/, GET /api/labels/, /healthz, /readyz, /metrics, /, /report/.",
	"hVm:i:d:e:l:j:B:b:c:T:w:R:qt:", longopts, help, deprecated
};

static double
elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Copy s into dst as printable ASCII (other bytes as \xHH), truncated. */
static void
copy_clean(char *dst, size_t n, const char *s)
{
	size_t o = 0;

	for (; s && *s && o + 5 < n; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch >= 0x21 && ch < 0x7f && ch != '\\' && ch != '"')
			dst[o++] = (char)ch;
		else
			o += (size_t)snprintf(dst + o, n - o, "\\x%02x", ch);
	}
	if (s && *s && o + 4 <= n) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

static size_t
route_of(const char *url)
{
	size_t i;

	for (i = 0; i < R_OTHER; i++)
		if (strcmp(url, routes[i].path) == 0 || (routes[i].alias && strcmp(url, routes[i].alias) == 0))
			return i;
	for (i = 0; i < R_OTHER; i++)	/* the report's files */
		if (routes[i].fn == reply_report && strncmp(url, routes[i].path, strlen(routes[i].path)) == 0)
			return i;
	return R_OTHER;
}

static const char *
route_name(size_t i)
{
	return i < R_OTHER ? routes[i].path : "other";
}

static const char *
route_allow(size_t i)
{
	return routes[i].post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS";
}

/* ------------------------------------------------------------------ model */

static struct model_ref *
ref_get(struct server *s)
{
	struct model_ref *r;

	pthread_mutex_lock(&s->lock);
	if ((r = s->cur) != NULL)
		atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void
ref_put(struct model_ref *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	arxiv_model_free(r->m);
	free(r->slot);
	free(r->labels_json);
	free(r->ready_json);
	free(r);
}

/* The metrics slot of a label name, added on first sight. */
static size_t
slot_of(struct server *s, const char *name)
{
	size_t i, n;

	pthread_mutex_lock(&s->slot_lock);
	n = atomic_load(&s->nslots);
	for (i = 0; i < n; i++)
		if (strcmp(s->slots[i].name, name) == 0)
			break;
	if (i == n && n < MAX_SLOTS && (s->slots[n].name = strdup(name)) != NULL)
		atomic_store(&s->nslots, n + 1);
	pthread_mutex_unlock(&s->slot_lock);
	return i < MAX_SLOTS && s->slots[i].name ? i : MAX_SLOTS;
}

static char *
dump_line(json_t *j)
{
	char *t, *u;
	size_t n;

	if (j == NULL || (t = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		return NULL;
	}
	json_decref(j);
	n = strlen(t);
	if ((u = realloc(t, n + 2)) == NULL) {
		free(t);
		return NULL;
	}
	u[n] = '\n';
	u[n + 1] = '\0';
	return u;
}

/*
 * Readiness: one real prediction through the loaded model (its preprocessing,
 * its data files, its weights). 0, or -1 with the reason in err.
 */
static int
probe(const struct arxiv_model *m, struct arxiv_error *err)
{
	static const char text[] = "Readiness probe: we prove a bound on the spectral gap "
	    "of a neural network trained on galaxy images.";
	const char *t = text;
	size_t len = sizeof(text) - 1;
	struct arxiv_prediction pred;

	if (arxiv_model_predict(m, &t, &len, 1, 1, &pred, err) < 0)
		return -1;
	if (pred.k < 1 || !(pred.score[0] >= 0 && pred.score[0] <= 1)) {
		arxiv_error_set(err, "", 0, "the probe prediction has no valid score");
		return -1;
	}
	return 0;
}

static struct model_ref *
ref_new(struct server *s, struct arxiv_model *m, double secs, struct arxiv_error *err)
{
	struct model_ref *r;
	json_t *labels, *ready;
	size_t i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto oom;
	atomic_init(&r->refs, 1);
	r->m = m;
	r->load_seconds = secs;
	r->nlabels = arxiv_model_nlabels(m);
	if (r->nlabels == 0) {
		arxiv_error_set(err, s->dir, 0, "the model has no labels");
		goto fail;
	}
	if ((r->slot = calloc(r->nlabels, sizeof(*r->slot))) == NULL || (labels = json_array()) == NULL)
		goto oom;
	for (i = 0; i < r->nlabels; i++) {
		const char *l = arxiv_model_label(m, i);

		if (l == NULL || json_array_append_new(labels, json_string(l)) < 0) {
			json_decref(labels);
			arxiv_error_set(err, s->dir, 0, "label %zu is missing or not UTF-8", i);
			goto fail;
		}
		r->slot[i] = slot_of(s, l);
	}
	if (probe(m, err) < 0) {
		char why[sizeof(err->text)];

		json_decref(labels);
		snprintf(why, sizeof(why), "%s", err->text);
		arxiv_error_set(err, "", 0, "the model cannot predict: %s", why);
		goto fail;
	}
	ready = json_pack("{s:b,s:s,s:i,s:O}", "ready", 1, "model_type", arxiv_model_type(m),
	    "artifact_version", arxiv_model_version(m), "labels", labels);
	r->ready_json = dump_line(ready);
	r->labels_json = dump_line(json_pack("{s:o}", "labels", labels));
	if (r->ready_json == NULL || r->labels_json == NULL)
		goto oom;
	return r;
oom:
	arxiv_error_set(err, s->dir, 0, "out of memory");
fail:
	if (r) {
		r->m = NULL;
		ref_put(r);
	}
	return NULL;
}

/* Load the artifacts; on success swap them in, else keep what is there. */
static void
load_model(struct server *s)
{
	struct arxiv_model_opts o = arxiv_model_default_opts();
	struct arxiv_error err = { "", 0, "" };
	struct model_ref *r = NULL, *old;
	struct arxiv_model *m;
	struct timespec t0;
	char ebuf[400];
	double secs;
	int had;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((m = arxiv_model_load(s->dir, &o, &err)) != NULL &&
	    (r = ref_new(s, m, elapsed(&t0), &err)) == NULL)
		arxiv_model_free(m);
	secs = elapsed(&t0);
	pthread_mutex_lock(&s->lock);
	had = s->cur != NULL;
	if (r == NULL) {
		arxiv_error_str(&err, ebuf, sizeof(ebuf));
		if (!had)
			snprintf(s->why, sizeof(s->why),
			    "no usable artifacts in %s: %s; train a model and send SIGHUP", s->dir, ebuf);
		pthread_mutex_unlock(&s->lock);
		atomic_fetch_add(&s->reload_fail, 1);
		if (had)
			warnx("reload failed, keeping the current model: %s", ebuf);
		else
			warnx("%s", s->why);
		return;
	}
	old = s->cur;
	s->cur = r;
	s->why[0] = '\0';
	pthread_mutex_unlock(&s->lock);
	ref_put(old);
	atomic_fetch_add(&s->reload_ok, 1);
	warnx("%s %s model (artifact version %d, %zu labels) from %s in %.3f s",
	    had ? "reloaded" : "loaded", arxiv_model_type(m), arxiv_model_version(m), r->nlabels,
	    s->dir, secs);
}

/* ------------------------------------------------------------------ index */

static struct index_ref *
ixref_get(struct server *s)
{
	struct index_ref *r;

	pthread_mutex_lock(&s->lock);
	if ((r = s->ixcur) != NULL)
		atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void
ixref_put(struct index_ref *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	arxiv_index_free(r->ix);
	arxiv_embedder_free(r->emb);
	json_decref(r->ready);
	free(r);
}

/* Open the index (-i/-d) and its embedder; on success swap them in, else keep
 * what is there. The embedder is optional: without it, queries by id work. */
static void
load_index(struct server *s)
{
	struct arxiv_index_opts o = arxiv_index_default_opts();
	struct arxiv_error err = { "", 0, "" };
	struct index_ref *r, *old;
	const char *edir;
	char ebuf[400];

	if (s->ix_loc == NULL)
		return;
	o.kind = s->ix_kind;
	o.threads = 2;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return;
	atomic_init(&r->refs, 1);
	if ((r->ix = arxiv_index_open(s->ix_loc, &o, &err)) == NULL) {
		arxiv_error_str(&err, ebuf, sizeof(ebuf));
		pthread_mutex_lock(&s->lock);
		if (s->ixcur == NULL)
			snprintf(s->ix_why, sizeof(s->ix_why), "cannot open the index: %s", ebuf);
		pthread_mutex_unlock(&s->lock);
		warnx("%s%s", ebuf, s->ixcur ? " (keeping the index already open)" : "");
		free(r);
		return;
	}
	arxiv_index_info(r->ix, &r->info);
	edir = s->edir ? s->edir : r->info.embedder_dir;
	if (edir == NULL || *edir == '\0')
		snprintf(r->emb_why, sizeof(r->emb_why), "the index records no embedder directory; "
		    "start arxiv-serve with -e DIR to answer abstracts");
	else if ((r->emb = arxiv_embedder_load(edir, NULL, &err)) == NULL)
		snprintf(r->emb_why, sizeof(r->emb_why), "cannot load the embedder: %s",
		    arxiv_error_str(&err, ebuf, sizeof(ebuf)));
	else if (strcmp(arxiv_embedder_id(r->emb), r->info.embedder) != 0) {
		snprintf(r->emb_why, sizeof(r->emb_why), "%s: embedder \"%s\" is not the index's \"%s\"",
		    edir, arxiv_embedder_id(r->emb), r->info.embedder);
		arxiv_embedder_free(r->emb);
		r->emb = NULL;
	}
	if (r->emb == NULL)
		warnx("%s: answering queries by id only: %s", s->ix_loc, r->emb_why);
	r->ready = json_pack("{s:s,s:s,s:I,s:s,s:I,s:b}", "kind", r->info.kind, "location",
	    r->info.location, "size", (json_int_t)r->info.size, "embedder", r->info.embedder,
	    "dim", (json_int_t)r->info.dim, "text_queries", r->emb != NULL);
	pthread_mutex_lock(&s->lock);
	old = s->ixcur;
	s->ixcur = r;
	s->ix_why[0] = '\0';
	pthread_mutex_unlock(&s->lock);
	ixref_put(old);
	warnx("%s %s index %s: %llu papers, %zu dimensions, embedder %s", old ? "reopened" : "opened",
	    r->info.kind, r->info.location, (unsigned long long)r->info.size, r->info.dim,
	    r->info.embedder);
}

static void
page_put(void *arg)
{
	struct page *p = arg;

	if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	free(p->data);
	free(p);
}

/* Read the web page; keep the old one on failure. */
static void
load_page(struct server *s)
{
	struct page *pg = NULL, *old;
	char *data = NULL, why[sizeof(s->page_why)] = "out of memory";
	struct stat st;
	size_t n = 0;
	int fd, had;

	if ((fd = open(s->page_path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		snprintf(why, sizeof(why), "web page not available: %s: %s", s->page_path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_PAGE) {
		snprintf(why, sizeof(why), "web page not available: %s: not a regular file under 4 MiB",
		    s->page_path);
		goto out;
	}
	if ((data = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	while (n < (size_t)st.st_size) {
		ssize_t k = read(fd, data + n, (size_t)st.st_size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	if ((pg = calloc(1, sizeof(*pg))) == NULL) {
		free(data);
		goto out;
	}
	atomic_init(&pg->refs, 1);
	pg->data = data;
	pg->len = n;
out:
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&s->lock);
	had = s->page != NULL;
	old = pg ? s->page : NULL;
	if (pg)
		s->page = pg;
	else if (!had)
		memcpy(s->page_why, why, sizeof(why));
	pthread_mutex_unlock(&s->lock);
	page_put(old);
	if (pg == NULL)
		warnx("%s%s", why, had ? "; keeping the current page" : "");
}

/* --------------------------------------------------------------- replies */

static void
release_free(void *p)
{
	free(p);
}

/* Queue body (malloc'd, ownership taken; NULL for an empty body). */
static int
reply(struct server *s, struct req *r, unsigned status, char *body,
    const char *ctype, const char *allow)
{
	struct httpd_resp *resp = r->resp;

	resp->status = status;
	resp->body = body ? body : "";
	resp->len = body ? strlen(body) : 0;
	resp->release = body ? release_free : NULL;
	resp->release_arg = body;
	if (ctype)
		arxiv_httpd_resp_header(resp, "Content-Type", ctype);
	arxiv_httpd_resp_header(resp, "Cache-Control", "no-store");
	arxiv_httpd_resp_header(resp, "X-Content-Type-Options", "nosniff");
	if (allow)
		arxiv_httpd_resp_header(resp, "Allow", allow);
	if (atomic_load(&s->draining))
		resp->close = 1;
	r->status = status;
	return 0;
}

static int
reply_json(struct server *s, struct req *r, unsigned status, char *body)
{
	if (body == NULL)
		return -1;
	return reply(s, r, status, body, "application/json", NULL);
}

/* {"error":...,"detail":...} with printf-style detail. */
static int __attribute__((format(printf, 5, 6)))
reply_err(struct server *s, struct req *r, unsigned status,
    const char *error, const char *fmt, ...)
{
	char detail[1024];
	char *body;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (arxiv_utf8_check(detail, strlen(detail)) >= 0) {
		char tmp[sizeof(detail)];

		copy_clean(tmp, sizeof(tmp), detail);
		memcpy(detail, tmp, sizeof(detail));
	}
	body = dump_line(json_pack("{s:s,s:s}", "error", error, "detail", detail));
	return reply(s, r, status, body, "application/json", NULL);
}

static int
reply_405(struct server *s, struct req *r, const char *allow)
{
	char *body = dump_line(json_pack("{s:s,s:s++++}", "error", "method not allowed", "detail",
	    r->method, " is not allowed on ", route_name(r->route), "; allowed: ", allow));

	if (body == NULL)
		return -1;
	return reply(s, r, HTTP_METHOD_NOT_ALLOWED, body, "application/json", allow);
}

static int
reply_503(struct server *s, struct req *r, int ready_field)
{
	char why[sizeof(s->why)];
	json_t *j;

	pthread_mutex_lock(&s->lock);
	memcpy(why, s->why, sizeof(why));
	pthread_mutex_unlock(&s->lock);
	if (ready_field)
		j = json_pack("{s:b,s:s,s:s}", "ready", 0, "error", "model not loaded", "detail", why);
	else
		j = json_pack("{s:s,s:s}", "error", "model not loaded", "detail", why);
	return reply_json(s, r, HTTP_SERVICE_UNAVAILABLE, dump_line(j));
}

static void
prom_escape(struct arxiv_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			arxiv_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			arxiv_buf_append(b, "\\n", 2);
		else
			arxiv_buf_putc(b, *v);
	}
}

static int
reply_metrics(struct server *s, struct req *r)
{
	struct arxiv_buf b = { 0 };
	struct model_ref *m;
	size_t i, j, n;

	arxiv_buf_printf(&b, "# HELP arxiv_http_requests_total HTTP requests by path and status "
	    "(status \"aborted\": the connection ended before a response).\n"
	    "# TYPE arxiv_http_requests_total counter\n");
	for (i = 0; i < NROUTES; i++)
		for (j = 0; j < NSTATUS; j++) {
			unsigned long v = atomic_load(&s->requests[i][j]);

			if (v == 0)
				continue;
			if (j + 1 < NSTATUS)
				arxiv_buf_printf(&b, "arxiv_http_requests_total{path=\"%s\",status=\"%u\"} %lu\n",
				    route_name(i), status_code[j], v);
			else
				arxiv_buf_printf(&b, "arxiv_http_requests_total{path=\"%s\",status=\"aborted\"} %lu\n",
				    route_name(i), v);
		}
	arxiv_buf_printf(&b, "# HELP arxiv_http_request_duration_seconds Time from the request headers "
	    "to the end of the response.\n# TYPE arxiv_http_request_duration_seconds histogram\n");
	for (i = 0; i < NROUTES; i++) {
		unsigned long cum = 0, total = 0;

		for (j = 0; j <= NBUCKETS; j++)
			total += atomic_load(&s->hist[i][j]);
		if (total == 0)
			continue;
		for (j = 0; j < NBUCKETS; j++) {
			cum += atomic_load(&s->hist[i][j]);
			arxiv_buf_printf(&b, "arxiv_http_request_duration_seconds_bucket{path=\"%s\",le=\"%g\"} %lu\n",
			    route_name(i), bucket_le[j], cum);
		}
		arxiv_buf_printf(&b, "arxiv_http_request_duration_seconds_bucket{path=\"%s\",le=\"+Inf\"} %lu\n"
		    "arxiv_http_request_duration_seconds_sum{path=\"%s\"} %.9f\n"
		    "arxiv_http_request_duration_seconds_count{path=\"%s\"} %lu\n",
		    route_name(i), total, route_name(i), (double)atomic_load(&s->lat_ns[i]) / 1e9,
		    route_name(i), total);
	}
	arxiv_buf_printf(&b, "# HELP arxiv_predictions_total Predictions by predicted label (top 1).\n"
	    "# TYPE arxiv_predictions_total counter\n");
	n = atomic_load(&s->nslots);
	for (i = 0; i < n; i++) {
		arxiv_buf_printf(&b, "arxiv_predictions_total{label=\"");
		prom_escape(&b, s->slots[i].name);
		arxiv_buf_printf(&b, "\"} %lu\n", atomic_load(&s->slots[i].n));
	}
	m = ref_get(s);
	arxiv_buf_printf(&b, "# HELP arxiv_model_loaded 1 when a model is loaded and predictions are answered.\n"
	    "# TYPE arxiv_model_loaded gauge\narxiv_model_loaded %d\n", m != NULL);
	arxiv_buf_printf(&b, "# HELP arxiv_model_load_seconds Time the current model took to load.\n"
	    "# TYPE arxiv_model_load_seconds gauge\narxiv_model_load_seconds %.6f\n",
	    m ? m->load_seconds : 0.0);
	if (m) {
		arxiv_buf_printf(&b, "# HELP arxiv_model_info The loaded model.\n# TYPE arxiv_model_info gauge\n"
		    "arxiv_model_info{model_type=\"");
		prom_escape(&b, arxiv_model_type(m->m));
		arxiv_buf_printf(&b, "\",artifact_version=\"%d\",labels=\"%zu\"} 1\n",
		    arxiv_model_version(m->m), m->nlabels);
	}
	ref_put(m);
	arxiv_buf_printf(&b, "# HELP arxiv_model_loads_total Model loads (start and SIGHUP) by result.\n"
	    "# TYPE arxiv_model_loads_total counter\n"
	    "arxiv_model_loads_total{result=\"ok\"} %lu\narxiv_model_loads_total{result=\"error\"} %lu\n",
	    atomic_load(&s->reload_ok), atomic_load(&s->reload_fail));
	arxiv_buf_printf(&b, "# HELP arxiv_http_requests_in_flight Requests being answered.\n"
	    "# TYPE arxiv_http_requests_in_flight gauge\narxiv_http_requests_in_flight %ld\n",
	    atomic_load(&s->inflight));
	if (b.data == NULL)
		return -1;
	return reply(s, r, HTTP_OK, b.data, "text/plain; version=0.0.4; charset=utf-8", NULL);
}

/* GET /report/ (index.html) and /report/NAME.svg|.html from -R's directory:
 * plain names only, regular files, no symbolic links. */
static int
reply_report(struct server *s, struct req *r)
{
	const char *name = r->path + strlen("/report");
	struct httpd_resp *resp;
	char path[4096], *data;
	struct stat st;
	size_t n, k, got = 0;
	int fd;

	if (s->report_dir == NULL)
		return reply_err(s, r, HTTP_NOT_FOUND, "not found",
		    "no report: start the server with -R DIR (arxiv-report -o DIR)");
	if (*name == '/')
		name++;
	if (*name == '\0')
		name = "index.html";
	n = strlen(name);
	k = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.");
	if (k != n || name[0] == '.' || n > 128 || (!(n > 4 && strcmp(name + n - 4, ".svg") == 0) &&
	    !(n > 5 && strcmp(name + n - 5, ".html") == 0)))
		return reply_err(s, r, HTTP_NOT_FOUND, "not found", "no such report file: %s",
		    r->path);
	snprintf(path, sizeof(path), "%s/%s", s->report_dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return reply_err(s, r, HTTP_NOT_FOUND, "not found", "no such report file: %s",
		    r->path);
	}
	if ((size_t)st.st_size > MAX_PAGE) {
		close(fd);
		return reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "internal error",
		    "report file over 4 MiB: %s", r->path);
	}
	if ((data = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t rd = read(fd, data + got, (size_t)st.st_size - got);

		if (rd < 0 && errno == EINTR)
			continue;
		if (rd <= 0)
			break;
		got += (size_t)rd;
	}
	close(fd);
	resp = r->resp;
	resp->status = HTTP_OK;
	resp->body = data;
	resp->len = got;
	resp->release = release_free;
	resp->release_arg = data;
	arxiv_httpd_resp_header(resp, "Content-Type", name[n - 1] == 'g' ? "image/svg+xml" :
	    "text/html; charset=utf-8");
	arxiv_httpd_resp_header(resp, "Cache-Control", "no-cache");
	arxiv_httpd_resp_header(resp, "X-Content-Type-Options", "nosniff");
	arxiv_httpd_resp_header(resp, "Content-Security-Policy",
	    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'");
	if (atomic_load(&s->draining))
		resp->close = 1;
	r->status = HTTP_OK;
	return 0;
}

static int
reply_page(struct server *s, struct req *r)
{
	struct httpd_resp *resp = r->resp;
	struct page *pg;
	char why[sizeof(s->page_why)];

	pthread_mutex_lock(&s->lock);
	if ((pg = s->page) != NULL)
		atomic_fetch_add(&pg->refs, 1);
	else
		memcpy(why, s->page_why, sizeof(why));
	pthread_mutex_unlock(&s->lock);
	if (pg == NULL)
		return reply_err(s, r, HTTP_NOT_FOUND, "not found", "%s", why);
	resp->status = HTTP_OK;
	resp->body = pg->data;
	resp->len = pg->len;
	resp->release = page_put;
	resp->release_arg = pg;
	arxiv_httpd_resp_header(resp, "Content-Type", "text/html; charset=utf-8");
	arxiv_httpd_resp_header(resp, "Cache-Control", "no-cache");
	arxiv_httpd_resp_header(resp, "X-Content-Type-Options", "nosniff");
	arxiv_httpd_resp_header(resp, "Referrer-Policy", "no-referrer");
	arxiv_httpd_resp_header(resp, "Content-Security-Policy",
	    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
	    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
	    "frame-ancestors 'none'");
	if (atomic_load(&s->draining))
		resp->close = 1;
	r->status = HTTP_OK;
	return 0;
}

/* ------------------------------------------------------------- predict */

static int
blank(const char *t)
{
	for (; *t; t++)
		if (!isspace((unsigned char)*t))
			return 0;
	return 1;
}

/*
 * One bare string of a batch into out: a string that is not blank. 0, or -1
 * with a detail naming the offending item ("what" is its name) in why. A record
 * (a JSON object) goes through arxiv_record_text instead.
 */
static int
item_text(json_t *abs, const char *what, struct arxiv_buf *out, char *why, size_t n)
{
	if (!json_is_string(abs))
		snprintf(why, n, "%s must be a string", what);
	else if (blank(json_string_value(abs)))
		snprintf(why, n, "%s is empty", what);
	else if (arxiv_text_join(NULL, json_string_value(abs), out) < 0)
		snprintf(why, n, "out of memory");
	else
		return 0;
	return -1;
}

/*
 * The answer options of a request: "explain" (0..16 terms), "min_confidence"
 * and "ood_threshold" (numbers in [0, 1]; absent or null: the server's -
 * --min-confidence, --ood-threshold - whose own default is the model's).
 */
static int
answer_opts(const struct server *s, json_t *root, struct arxiv_answer_opts *o, char *why,
    size_t n)
{
	json_t *ex = json_object_get(root, "explain"), *mc = json_object_get(root, "min_confidence"),
	    *ood = json_object_get(root, "ood_threshold");

	o->min_confidence = s->min_confidence;
	o->ood_threshold = s->ood_threshold;
	if (ex && !json_is_null(ex)) {
		if (!json_is_integer(ex) || json_integer_value(ex) < 0 ||
		    json_integer_value(ex) > ARXIV_EXPLAIN_MAX) {
			snprintf(why, n, "\"explain\" must be an integer between 0 and %d",
			    ARXIV_EXPLAIN_MAX);
			return -1;
		}
		o->explain = (size_t)json_integer_value(ex);
	}
	if (mc && !json_is_null(mc)) {
		if (!json_is_number(mc) || !(json_number_value(mc) >= 0 && json_number_value(mc) <= 1)) {
			snprintf(why, n, "\"min_confidence\" must be a number between 0 and 1");
			return -1;
		}
		o->min_confidence = json_number_value(mc);
	}
	if (ood && !json_is_null(ood)) {
		if (!json_is_number(ood) || !(json_number_value(ood) >= 0 && json_number_value(ood) <= 1)) {
			snprintf(why, n, "\"ood_threshold\" must be a number between 0 and 1");
			return -1;
		}
		o->ood_threshold = json_number_value(ood);
	}
	return 0;
}

static int
predict(struct server *s, struct req *r)
{
	struct arxiv_error err = { "", 0, "" };
	struct arxiv_answer *preds = NULL;
	struct arxiv_answer_opts ao = arxiv_answer_default_opts();
	struct arxiv_buf *texts = NULL, out = { 0 }, one = { 0 };
	const char **tp = NULL;
	size_t *lens = NULL, n = 0, i, k;
	struct model_ref *m = NULL;
	json_t *root, *abs, *batch, *tk;
	json_error_t je;
	int ret;
	char ebuf[400], why[256];	/* what (64) + ": " + an arxiv_error text (160) */

	if (r->body.len == 0)
		return reply_err(s, r, HTTP_BAD_REQUEST, "malformed JSON",
		    "the body is empty; send a JSON object such as {\"abstract\":\"...\"}");
	if ((root = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return reply_err(s, r, HTTP_BAD_REQUEST, "malformed JSON", "line %d column %d: %s",
		    je.line, je.column, je.text);
	if (!json_is_object(root)) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "the body must be a JSON object such as {\"abstract\":\"...\"}");
		goto done;
	}
	abs = json_object_get(root, "abstract");
	batch = json_object_get(root, "abstracts");
	tk = json_object_get(root, "top_k");
	if (tk && json_is_null(tk))
		tk = NULL;
	if (tk && !json_is_integer(tk)) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "\"top_k\" must be an integer");
		goto done;
	}
	if (abs && batch) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "give either \"abstract\" or \"abstracts\", not both");
		goto done;
	}
	if (answer_opts(s, root, &ao, why, sizeof(why)) < 0) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request", "%s", why);
		goto done;
	}
	if (batch) {
		if (!json_is_array(batch) || json_array_size(batch) == 0) {
			ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
			    "\"abstracts\" must be a non-empty array of strings");
			goto done;
		}
		n = json_array_size(batch);
		if (n > s->maxbatch) {
			ret = reply_err(s, r, HTTP_CONTENT_TOO_LARGE, "payload too large",
			    "a batch of %zu abstracts is over the limit of %zu (-B)", n, s->maxbatch);
			goto done;
		}
		if ((texts = calloc(n, sizeof(*texts))) == NULL)
			goto oom;
		for (i = 0; i < n; i++) {
			json_t *it = json_array_get(batch, i);
			char what[64];
			int bad;

			snprintf(what, sizeof(what), "\"abstracts\"[%zu]", i);
			if (json_is_object(it)) {
				/* a record: the rule of predict and eval (arxiv_record_text) */
				if ((bad = arxiv_record_text((const struct json_t *)it, &texts[i], &err) < 0))
					snprintf(why, sizeof(why), "%s: %s", what, err.text);
			} else
				bad = item_text(it, what, &texts[i], why, sizeof(why));
			if (bad) {
				ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request", "%s", why);
				goto done;
			}
		}
	} else {
		n = 1;
		/* the record's text by the rule of predict and eval (arxiv_record_text) */
		if (arxiv_record_text((const struct json_t *)root, &one, &err) < 0) {
			ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request", "%s", err.text);
			goto done;
		}
	}
	if ((m = ref_get(s)) == NULL) {
		ret = reply_503(s, r, 0);
		goto done;
	}
	k = m->nlabels < DEFAULT_TOPK ? m->nlabels : DEFAULT_TOPK;
	if (tk) {
		json_int_t v = json_integer_value(tk);
		size_t hi = m->nlabels < ARXIV_TOPK_MAX ? m->nlabels : ARXIV_TOPK_MAX;

		if (v < 1 || (uint64_t)v > hi) {
			ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
			    "\"top_k\" must be an integer between 1 and %zu", hi);
			goto done;
		}
		k = (size_t)v;
	}
	if ((preds = calloc(n, sizeof(*preds))) == NULL || (tp = calloc(n, sizeof(*tp))) == NULL ||
	    (lens = calloc(n, sizeof(*lens))) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		struct arxiv_buf *t = texts ? &texts[i] : &one;

		tp[i] = t->data ? t->data : "";
		lens[i] = t->len;
	}
	ao.k = k;
	if (arxiv_model_answer(m->m, tp, lens, n, &ao, preds, &err) < 0) {
		arxiv_error_str(&err, ebuf, sizeof(ebuf));
		warnx("prediction failed: %s", ebuf);
		ret = reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "prediction failed", "%s", ebuf);
		goto done;
	}
	if (texts && arxiv_buf_append(&out, "{\"predictions\":[", 16) < 0)
		goto oom;
	for (i = 0; i < n; i++) {
		const struct arxiv_prediction *pi = &preds[i].p;

		if (pi->k > 0 && pi->label[0] >= 0 && (size_t)pi->label[0] < m->nlabels &&
		    m->slot[pi->label[0]] < MAX_SLOTS)
			atomic_fetch_add(&s->slots[m->slot[pi->label[0]]].n, 1);
		if (arxiv_answer_json(m->m, &preds[i], &one) < 0 ||
		    (i > 0 && arxiv_buf_putc(&out, ',') < 0) ||
		    arxiv_buf_append(&out, one.data, one.len) < 0)
			goto oom;
	}
	if ((texts && arxiv_buf_append(&out, "]}", 2) < 0) || arxiv_buf_putc(&out, '\n') < 0)
		goto oom;
	ret = reply(s, r, HTTP_OK, out.data, "application/json", NULL);
	out.data = NULL;
	goto done;
oom:
	ret = reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "internal error", "out of memory");
done:
	ref_put(m);
	if (texts)
		for (i = 0; i < n; i++)
			arxiv_buf_free(&texts[i]);
	free(texts);
	free(preds);
	free(tp);
	free(lens);
	arxiv_buf_free(&one);
	arxiv_buf_free(&out);
	json_decref(root);
	return ret;
}

/* ------------------------------------------------------------- similar */

/*
 * POST /api/similar/ {"abstract":..,"title":..(optional),"k":5,"field":..(optional)}
 * or {"id":..,"k":5}: {"similar":[{"id":..,"title":..,"field":..,"score":..},..]},
 * best first; a query by id leaves the paper itself out.
 */
static int
similar(struct server *s, struct req *r)
{
	struct arxiv_error err = { "", 0, "" };
	struct arxiv_hit hits[SIMILAR_MAX_K];
	struct arxiv_buf text = { 0 }, out = { 0 };
	struct index_ref *ix = NULL;
	json_t *root, *abs, *id, *kj, *fj;
	json_error_t je;
	int ret;
	size_t k = SIMILAR_K, n = 0, i;
	float *q = NULL;
	char ebuf[400], ix_why[sizeof(s->ix_why)];
	int got;

	if (r->body.len == 0)
		return reply_err(s, r, HTTP_BAD_REQUEST, "malformed JSON",
		    "the body is empty; send a JSON object such as {\"abstract\":\"...\",\"k\":5}");
	if ((root = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return reply_err(s, r, HTTP_BAD_REQUEST, "malformed JSON", "line %d column %d: %s",
		    je.line, je.column, je.text);
	if (!json_is_object(root)) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "the body must be a JSON object such as {\"abstract\":\"...\",\"k\":5}");
		goto done;
	}
	abs = json_object_get(root, "abstract");
	id = json_object_get(root, "id");
	kj = json_object_get(root, "k");
	fj = json_object_get(root, "field");
	if (abs && id) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "give either \"abstract\" or \"id\", not both");
		goto done;
	}
	if (kj && !json_is_null(kj)) {
		if (!json_is_integer(kj) || json_integer_value(kj) < 1 ||
		    json_integer_value(kj) > SIMILAR_MAX_K) {
			ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
			    "\"k\" must be an integer between 1 and %d", SIMILAR_MAX_K);
			goto done;
		}
		k = (size_t)json_integer_value(kj);
	}
	if (fj && !json_is_null(fj) && !json_is_string(fj)) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request", "\"field\" must be a string");
		goto done;
	}
	if (id) {
		if (!json_is_string(id) || json_string_length(id) == 0) {
			ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
			    "\"id\" must be a non-empty string");
			goto done;
		}
	} else if (abs == NULL && json_object_get(root, "text") == NULL) {
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request",
		    "\"abstract\" (or \"id\") is required");
		goto done;
	} else if (arxiv_record_text((const struct json_t *)root, &text, &err) < 0) {
		/* the record's text by the rule of predict and eval */
		ret = reply_err(s, r, HTTP_BAD_REQUEST, "invalid request", "%s", err.text);
		goto done;
	}
	if ((ix = ixref_get(s)) == NULL) {
		pthread_mutex_lock(&s->lock);
		memcpy(ix_why, s->ix_why, sizeof(ix_why));
		pthread_mutex_unlock(&s->lock);
		ret = reply_err(s, r, HTTP_SERVICE_UNAVAILABLE, "no index", "%s", s->ix_loc ? ix_why :
		    "no similar-paper index is configured; start arxiv-serve with -i FILE (arxiv-index -o) "
		    "or -d DSN");
		goto done;
	}
	if ((q = calloc(ix->info.dim ? ix->info.dim : 1, sizeof(float))) == NULL)
		goto oom;
	if (id) {
		if ((got = arxiv_index_get(ix->ix, json_string_value(id), q, NULL, &err)) < 0)
			goto unavailable;
		if (got == 0) {
			ret = reply_err(s, r, HTTP_NOT_FOUND, "not found", "paper %s is not in the index",
			    json_string_value(id));
			goto done;
		}
	} else {
		const char *t = text.data ? text.data : "";

		if (ix->emb == NULL) {
			ret = reply_err(s, r, HTTP_SERVICE_UNAVAILABLE, "no embedder", "%s", ix->emb_why);
			goto done;
		}
		if (arxiv_embedder_embed(ix->emb, &t, &text.len, 1, q, &err) < 0)
			goto failed;
	}
	if (arxiv_index_search(ix->ix, q, k, json_is_string(fj) ? json_string_value(fj) : NULL,
	    id ? json_string_value(id) : NULL, hits, &n, &err) < 0)
		goto unavailable;
	if (arxiv_buf_append(&out, "{\"similar\":[", 12) < 0)
		goto oom;
	for (i = 0; i < n; i++) {
		double sc = hits[i].score > 1 ? 1 : hits[i].score < -1 ? -1 : hits[i].score;

		if ((i && arxiv_buf_putc(&out, ',') < 0) || arxiv_buf_append(&out, "{\"id\":\"", 7) < 0 ||
		    arxiv_json_escape(hits[i].id, strlen(hits[i].id), &out) < 0 ||
		    arxiv_buf_append(&out, "\",\"title\":\"", 11) < 0 ||
		    arxiv_json_escape(hits[i].title, hits[i].title_len, &out) < 0 ||
		    arxiv_buf_append(&out, "\",\"field\":\"", 11) < 0 ||
		    arxiv_json_escape(hits[i].field, strlen(hits[i].field), &out) < 0 ||
		    arxiv_buf_printf(&out, "\",\"score\":%.4f}", sc) < 0)
			goto oom;
	}
	if (arxiv_buf_append(&out, "]}\n", 3) < 0)
		goto oom;
	ret = reply(s, r, HTTP_OK, out.data, "application/json", NULL);
	out.data = NULL;
	goto done;
unavailable:
	/* the index did not answer (a database that is down or restarting): the
	 * client may retry; the backend reconnects on a later request */
	arxiv_error_str(&err, ebuf, sizeof(ebuf));
	warnx("similar-paper index unavailable: %s", ebuf);
	ret = reply_err(s, r, HTTP_SERVICE_UNAVAILABLE, "index unavailable", "%s", ebuf);
	goto done;
failed:
	arxiv_error_str(&err, ebuf, sizeof(ebuf));
	warnx("similar-paper search failed: %s", ebuf);
	ret = reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "search failed", "%s", ebuf);
	goto done;
oom:
	ret = reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "internal error", "out of memory");
done:
	arxiv_hits_free(hits, n);
	ixref_put(ix);
	free(q);
	arxiv_buf_free(&text);
	arxiv_buf_free(&out);
	json_decref(root);
	return ret;
}

/* ------------------------------------------------------------- handler */

/* Content types accepted on POST: JSON, and what curl -d sends by default. */
static int
json_ctype(const char *ct)
{
	static const char *const ok[] = { "application/json", "application/x-www-form-urlencoded" };
	size_t i, n;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (n == strlen(ok[i]) && strncasecmp(ct, ok[i], n) == 0)
			return 1;
	/* structured syntax suffix: application/something+json */
	return n > 17 && strncasecmp(ct, "application/", 12) == 0 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/*
 * After the header section of a POST to a route that takes a body: refuse a
 * body that cannot be taken before reading it (the server then closes the
 * connection, which is what a client that sent a 100 MB body deserves).
 * Message framing (RFC 9112 6.3: Content-Length with Transfer-Encoding,
 * Content-Lengths that differ, a Transfer-Encoding other than one "chunked",
 * a Content-Length that is not digits) is refused by lib/httpd.c before this,
 * with 400 and Connection: close.
 */
static int
early(struct server *s, struct req *r)
{
	const char *v;
	char ct[80];

	v = arxiv_httpd_header(r->hr, "Content-Type");
	if (v && !json_ctype(v)) {
		char type[80];

		while (*v == ' ' || *v == '\t')
			v++;
		snprintf(type, sizeof(type), "%.*s", (int)strcspn(v, "; \t"), v);
		copy_clean(ct, sizeof(ct), type);
		return reply_err(s, r, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported media type",
		    "Content-Type %s is not accepted; send a JSON object as application/json", ct);
	}
	if (r->hr->content_length >= 0 && (uint64_t)r->hr->content_length > s->maxbody)
		return reply_err(s, r, HTTP_CONTENT_TOO_LARGE, "payload too large",
		    "the body is larger than the limit of %zu bytes (-b)", s->maxbody);
	return 1;	/* read the body */
}

static int
get_healthz(struct server *s, struct req *r)
{
	return reply_json(s, r, HTTP_OK, strdup("{\"status\":\"ok\"}\n"));
}

static int
get_model_json(struct server *s, struct req *r, int ready)
{
	struct model_ref *m;
	char *body;

	if ((m = ref_get(s)) == NULL)
		return reply_503(s, r, ready);
	if (ready) {
		struct arxiv_error pe = { "", 0, "" };

		/* ready only if the loaded model really predicts (issue 10 point 6) */
		if (probe(m->m, &pe) < 0) {
			ref_put(m);
			return reply_json(s, r, HTTP_SERVICE_UNAVAILABLE,
			    dump_line(json_pack("{s:b,s:s,s:s}", "ready", 0, "error",
			    "the model cannot predict", "detail", pe.text)));
		}
	}
	body = strdup(ready ? m->ready_json : m->labels_json);
	ref_put(m);
	return reply_json(s, r, HTTP_OK, body);
}

/* /readyz: the model's readiness, and the index (kind, size, embedder) when one is configured. */
static int
get_readyz(struct server *s, struct req *r)
{
	struct model_ref *m;
	struct index_ref *ix;
	json_t *j, *o;
	char why[sizeof(s->ix_why)];

	if (s->ix_loc == NULL)
		return get_model_json(s, r, 1);
	if ((m = ref_get(s)) == NULL)
		return reply_503(s, r, 1);
	{
		struct arxiv_error pe = { "", 0, "" };

		if (probe(m->m, &pe) < 0) {	/* as get_model_json: ready only if it predicts */
			ref_put(m);
			return get_model_json(s, r, 1);
		}
	}
	j = json_loads(m->ready_json, 0, NULL);
	ref_put(m);
	if ((ix = ixref_get(s)) != NULL)
		o = json_copy(ix->ready);
	else {
		pthread_mutex_lock(&s->lock);
		memcpy(why, s->ix_why, sizeof(why));
		pthread_mutex_unlock(&s->lock);
		o = json_pack("{s:s,s:s}", "location", s->ix_loc, "error", why);
	}
	ixref_put(ix);
	if (j == NULL || o == NULL || json_object_set_new(j, "index", o) < 0) {
		json_decref(j);
		return reply_err(s, r, HTTP_INTERNAL_SERVER_ERROR, "internal error", "out of memory");
	}
	return reply_json(s, r, HTTP_OK, dump_line(j));
}

static int
get_labels(struct server *s, struct req *r)
{
	return get_model_json(s, r, 0);
}

/* "POST /api/predict/, GET /api/labels/, /healthz, ... or /", from the table. */
static void
route_list(char *dst, size_t n)
{
	size_t i, o = 0;

	dst[0] = '\0';
	for (i = 0; i < R_OTHER && o < n; i++)
		o += (size_t)snprintf(dst + o, n - o, "%s%s%s", i == 0 ? "" : i + 1 == R_OTHER ? " or " : ", ",
		    i > 0 && routes[i].post == routes[i - 1].post ? "" : routes[i].post ? "POST " : "GET ",
		    routes[i].path);
}

/* A request with its whole body read: the route, the method, the limits, the handler. */
static int
answer(struct server *s, struct req *r, const char *method)
{
	int get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;

	if (r->route == R_OTHER)
		return reply_err(s, r, HTTP_NOT_FOUND, "not found", "no such path: %s; try %s",
		    r->path, s->route_list);
	if (strcmp(method, "OPTIONS") == 0)
		return reply(s, r, HTTP_NO_CONTENT, NULL, NULL, route_allow(r->route));
	if (routes[r->route].post) {
		if (strcmp(method, "POST") != 0)
			return reply_405(s, r, route_allow(r->route));
		if (r->too_big)
			return reply_err(s, r, HTTP_CONTENT_TOO_LARGE, "payload too large",
			    "the body is larger than the limit of %zu bytes (-b)", s->maxbody);
	} else if (!get && !head)
		return reply_405(s, r, route_allow(r->route));
	return routes[r->route].fn(s, r);
}

/* After the header section: 0 to read the body, 1 when answered already. */
static int
app_head(void *ud, struct httpd_req *hr, struct httpd_resp *resp)
{
	struct server *s = ud;
	struct req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return 0;	/* handle() answers 500 */
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	r->hr = hr;
	r->resp = resp;
	r->route = route_of(hr->path);
	r->post = strcmp(hr->method, "POST") == 0;
	copy_clean(r->method, sizeof(r->method), hr->method);
	copy_clean(r->path, sizeof(r->path), hr->path);
	hr->data = r;
	atomic_fetch_add(&s->inflight, 1);
	if (r->route != R_OTHER && routes[r->route].post && r->post)
		return early(s, r) == 1 ? 0 : 1;
	return 0;
}

/* With the whole body. */
static void
app_handle(void *ud, struct httpd_req *hr, struct httpd_resp *resp)
{
	struct server *s = ud;
	struct req *r = hr->data;

	if (r == NULL)
		return;
	r->resp = resp;
	r->too_big = hr->too_big && r->route != R_OTHER && routes[r->route].post && r->post;
	/* the body is borrowed from the server; handlers only read it */
	r->body.data = (char *)hr->body;
	r->body.len = r->too_big ? 0 : hr->body_len;
	if (answer(s, r, hr->method) < 0 && resp->status == 0)
		r->status = 0;
}

static void
app_done(void *ud, struct httpd_req *hr, unsigned status, const char *why)
{
	struct server *s = ud;
	struct req *r = hr->data, other;
	double dt;
	size_t si, b;

	if (r == NULL) {
		/* refused by the server before the routes (malformed, not HTTP) */
		memset(&other, 0, sizeof(other));
		clock_gettime(CLOCK_MONOTONIC, &other.t0);
		other.route = R_OTHER;
		copy_clean(other.method, sizeof(other.method), hr->method ? hr->method : "-");
		copy_clean(other.path, sizeof(other.path), hr->method && hr->path ? hr->path : "-");
		r = &other;
	}
	hr->data = NULL;
	r->status = status;
	dt = elapsed(&r->t0);
	for (si = 0; si + 1 < NSTATUS && (r->status == 0 || status_code[si] != r->status); si++)
		;
	if (r->status == 0 || why != NULL)
		si = NSTATUS - 1;
	for (b = 0; b < NBUCKETS && dt > bucket_le[b]; b++)
		;
	atomic_fetch_add(&s->requests[r->route][si], 1);
	atomic_fetch_add(&s->hist[r->route][b], 1);
	atomic_fetch_add(&s->lat_ns[r->route], (unsigned long)(dt * 1e9));
	if (!s->quiet) {
		if (why == NULL)
			fprintf(stderr, "%s %s %u %.3fms\n", r->method, r->path, r->status, dt * 1e3);
		else
			fprintf(stderr, "%s %s %u %.3fms %s\n", r->method, r->path, r->status, dt * 1e3, why);
	}
	if (r != &other) {
		free(r);
		atomic_fetch_sub(&s->inflight, 1);
	}
}

/* -------------------------------------------------------------- startup */

/* Parse "host:port", "[v6]:port", ":port" or "port" and listen; returns the fd. */
static int
listen_on(const char *spec, char *shown, size_t n)
{
	char host[256] = "127.0.0.1", port[16];
	struct addrinfo hints, *ai, *a;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *colon;
	int fd = -1, one = 1, e, saved = 0;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host))
			errx(2, "%s: invalid address (expected host:port or [v6addr]:port)", spec);
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = '\0';
		colon = close + 1;
	} else if ((colon = strrchr(spec, ':')) != NULL) {
		if (colon > spec) {
			if ((size_t)(colon - spec) >= sizeof(host))
				errx(2, "%s: invalid address (host too long)", spec);
			memcpy(host, spec, (size_t)(colon - spec));
			host[colon - spec] = '\0';
		}
	} else {
		colon = spec - 1;	/* a bare port */
	}
	snprintf(port, sizeof(port), "%ld", prog_num(colon + 1, 0, 65535, "port"));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &ai)) != 0)
		errx(1, "%s: %s", spec, gai_strerror(e));
	for (a = ai; a; a = a->ai_next) {
		if ((fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    a->ai_protocol)) < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		errno = saved;
		err(1, "%s", spec);
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(shown, n, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
	else
		snprintf(shown, n, "%s", spec);
	return fd;
}

static size_t
parse_size(const char *arg, const char *what)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*end == 'k' || *end == 'K')
		shift = 10, end++;
	else if (*end == 'm' || *end == 'M')
		shift = 20, end++;
	if (errno || end == arg || *end || arg[0] == '-' || v == 0 || v > ((1ULL << 30) >> shift)) {
		warnx("%s: invalid %s (expected 1..1G bytes, k and M suffixes allowed)", arg, what);
		exit(2);
	}
	return (size_t)(v << shift);
}

int
main(int argc, char *argv[])
{
	struct server srv, *s = &srv;
	const char *laddr = DEFAULT_LISTEN, *webdir = NULL;
	long threads = sysconf(_SC_NPROCESSORS_ONLN), maxconn = 1024;
	struct httpd *d;
	struct httpd_opts ho;
	struct httpd_ops ops = { NULL, app_head, app_handle, app_done };
	char herr[200];
	char shown[300];
	struct timespec t0;
	sigset_t set;
	int ch, sig, lfd, verbose = 0;

	memset(s, 0, sizeof(*s));
	s->dir = DEFAULT_DIR;
	s->maxbody = (size_t)1 << 20;
	s->maxbatch = 64;
	s->timeout = 10;
	s->min_confidence = 0;
	s->ood_threshold = -1;	/* the model's own */
	if (threads < 1)
		threads = 1;
	while ((ch = prog_getopt(&P, argc, argv)) != -1) {
		switch (ch) {
		case 'B':
			s->maxbatch = (size_t)prog_num(optarg, 1, 100000, "batch size");
			break;
		case 'b':
			s->maxbody = parse_size(optarg, "body limit");
			break;
		case 'c':
			maxconn = prog_num(optarg, 1, 100000, "connection limit");
			break;
		case 'd':
			s->ix_loc = optarg;
			s->ix_kind = "pgvector";
			break;
		case 'e':
			s->edir = optarg;
			break;
		case 'i':
			s->ix_loc = optarg;
			s->ix_kind = NULL;
			break;
		case 'l':
			laddr = optarg;
			break;
		case 'm':
			s->dir = optarg;
			break;
		case 'q':
			s->quiet = 1;
			break;
		case 'T':
			s->timeout = (unsigned)prog_num(optarg, 1, 86400, "timeout");
			break;
		case 'j':
			threads = prog_num(optarg, 1, 1024, "thread count");
			break;
		case 'w':
			webdir = optarg;
			break;
		case 256:
			s->min_confidence = prog_real(optarg, 0, 1, "minimum confidence");
			break;
		case 257:
			s->ood_threshold = prog_real(optarg, 0, 1, "OOD threshold");
			break;
		case 'R':
			s->report_dir = optarg;
			break;
		}
	}
	if (optind != argc) {
		prog_usage(&P, stderr);
		return 2;
	}
	route_list(s->route_list, sizeof(s->route_list));
	if (webdir)
		snprintf(s->page_path, sizeof(s->page_path), "%s/index.html", webdir);
	else
		arxiv_data_path("web/index.html", s->page_path, sizeof(s->page_path));
	if (getenv("ARXIV_VERBOSE"))
		verbose = 1;
	arxiv_set_log(prog_log, &verbose);
	json_object_seed(0);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->slot_lock, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Block the signals in every thread (the workers inherit the mask); sigwait below. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	lfd = listen_on(laddr, shown, sizeof(shown));
	load_model(s);
	load_index(s);
	load_page(s);
	memset(&ho, 0, sizeof(ho));
	ho.listen_fd = lfd;
	ho.threads = (unsigned)threads;
	ho.max_conn = (unsigned)maxconn;
	ho.timeout = s->timeout;
	ho.max_body = s->maxbody;
	ops.ud = s;
	if ((d = arxiv_httpd_start(&ho, &ops, herr, sizeof(herr))) == NULL)
		errx(1, "%s: cannot start the HTTP server: %s", shown, herr);
	warnx("listening on http://%s/ (%ld threads, body limit %zu bytes, batch limit %zu)",
	    shown, threads, s->maxbody, s->maxbatch);

	for (;;) {
		if ((errno = sigwait(&set, &sig)) != 0)
			err(1, "sigwait");
		if (sig != SIGHUP)
			break;
		warnx("SIGHUP: reloading %s", s->dir);
		load_model(s);
		load_index(s);
		load_page(s);
	}

	/* Drain: stop accepting, let requests in flight finish (bounded), stop. */
	warnx("%s: draining %ld requests in flight", strsignal(sig), atomic_load(&s->inflight));
	atomic_store(&s->draining, 1);
	arxiv_httpd_quiesce(d);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (atomic_load(&s->inflight) > 0 && elapsed(&t0) < s->timeout) {
		struct timespec nap = { 0, 10 * 1000 * 1000 };

		nanosleep(&nap, NULL);
	}
	arxiv_httpd_stop(d);
	close(lfd);
	page_put(s->page);
	ref_put(s->cur);
	ixref_put(s->ixcur);
	for (size_t i = 0; i < atomic_load(&s->nslots); i++)
		free(s->slots[i].name);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->slot_lock);
	warnx("stopped");
	return 0;
}

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
 *
 * This file keeps the command line, the route table and the HTTP callbacks;
 * the handlers and the loading are its parts in bin/serve/ (see serve.h).
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>

#include "serve/serve.h"

#define DEFAULT_DIR	"artifacts"
#define DEFAULT_LISTEN	"127.0.0.1:8000"

/*
 * The route table: a new endpoint is one handler and one row. A POST route
 * reads a JSON body (checked early for its type and size, limited by -b);
 * the others answer GET and HEAD. path is the name in /metrics and in
 * messages, alias a second spelling (or NULL).
 */
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
_Static_assert(sizeof(routes) / sizeof(routes[0]) == NROUTE_ROWS,
    "NROUTE_ROWS in serve.h counts routes[]");

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

double
elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
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

const char *
route_name(size_t i)
{
	return i < R_OTHER ? routes[i].path : "other";
}

static const char *
route_allow(size_t i)
{
	return routes[i].post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS";
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

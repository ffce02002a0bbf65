/* test_httpd.c - arxiv-serve's HTTP server (lib/httpd.c): the head scanner and
 * parser, the chunked decoder, and a live server on loopback (keep-alive,
 * pipelining, errors as JSON, the idle timeout). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "httpd.h"
#include "tap.h"

static long
scan(const char *s, const char **why)
{
	*why = NULL;
	return arxiv_httpd_scan_head(s, strlen(s), why);
}

/* parse a copy of s; the status (0 ok), req filled, why set on error */
static char pbuf[65536];
static int
parse(const char *s, struct httpd_req *r, const char **why)
{
	size_t n = strlen(s);

	memcpy(pbuf, s, n + 1);
	*why = NULL;
	return arxiv_httpd_parse_head(pbuf, n, r, why);
}

static int
append(void *arg, const char *p, size_t n)
{
	struct arxiv_buf *b = arg;

	return arxiv_buf_append(b, p, n);
}

/* decode s fed in pieces of k bytes: 1 done, 0 more, -1 bad; out gets the data */
static int
chunked(const char *s, size_t k, struct arxiv_buf *out, size_t *rest)
{
	struct httpd_chunked c;
	size_t n = strlen(s), i = 0;
	const char *why;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	out->len = 0;
	while (i < n) {
		size_t piece = n - i < k ? n - i : k, used = 0;

		rc = arxiv_httpd_chunked_feed(&c, s + i, piece, &used, append, out, &why);
		i += used;
		if (rc != 0)
			break;
	}
	*rest = n - i;
	return rc;
}

/* ------------------------------------------------------------ live */

static int
t_head(void *ud, struct httpd_req *req, struct httpd_resp *resp)
{
	(void)ud;
	if (strcmp(req->path, "/early") == 0) {
		resp->status = 415;
		resp->body = "early\n";
		resp->len = 6;
		return 1;
	}
	return 0;
}

static void
t_handle(void *ud, struct httpd_req *req, struct httpd_resp *resp)
{
	static __thread char out[256];
	int n;

	(void)ud;
	if (strcmp(req->path, "/thread") == 0)	/* which worker answers */
		n = snprintf(out, sizeof(out), "thread %lu", (unsigned long)pthread_self());
	else
		n = snprintf(out, sizeof(out), "%s %s %zu %s", req->method, req->path, req->body_len,
		    req->too_big ? "big" : req->body);
	resp->status = 200;
	resp->body = out;
	resp->len = (size_t)n;
	arxiv_httpd_resp_header(resp, "Content-Type", "text/plain");
}

static int ndone;

static void
t_done(void *ud, struct httpd_req *req, unsigned status, const char *why)
{
	(void)ud;
	(void)req;
	(void)status;
	(void)why;
	__atomic_add_fetch(&ndone, 1, __ATOMIC_SEQ_CST);
}

static int
dial(int port)
{
	struct sockaddr_in a;
	struct timeval tv = { 3, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* send raw, read until close or timeout into out; 1 when the server closed */
static int
exchange(int port, const char *raw, size_t n, char *out, size_t cap)
{
	int fd = dial(port), closed = 0;
	size_t got = 0;

	out[0] = '\0';
	if (fd < 0)
		return -1;
	if (write(fd, raw, n) < 0)
		(void)0;
	for (;;) {
		ssize_t k = read(fd, out + got, cap - 1 - got);

		if (k == 0) {
			closed = 1;
			break;
		}
		if (k < 0)
			break;
		got += (size_t)k;
		if (got + 1 >= cap)
			break;
	}
	out[got] = '\0';
	close(fd);
	return closed;
}

static int
count(const char *s, const char *w)
{
	int n = 0;

	for (; (s = strstr(s, w)) != NULL; s++)
		n++;
	return n;
}

#define EX(s) exchange(port, s, sizeof(s) - 1, out, sizeof(out))

static void
live(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	struct httpd_opts o = { 0, 2, 16, 1, 64 };
	struct httpd_ops ops = { NULL, t_head, t_handle, t_done };
	struct httpd *h;
	char err[200], out[8192];
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), port, closed;
	static const char pipelined[] =
	    "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
	    "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
	    "POST /c%20d HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
	    "GET /e HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
		CHECK(0, "listen on loopback");
		return;
	}
	port = ntohs(a.sin_port);
	o.listen_fd = lfd;
	ops.ud = NULL;
	h = arxiv_httpd_start(&o, &ops, err, sizeof(err));
	CHECK(h != NULL, "arxiv_httpd_start (%s)", h ? "ok" : err);
	if (h == NULL)
		return;

	closed = exchange(port, pipelined, sizeof(pipelined) - 1, out, sizeof(out));
	CHECK(closed == 1 && count(out, "HTTP/1.1 200 OK\r\n") == 4, "4 pipelined requests, 4 answers, then close");
	{
		const char *p1 = strstr(out, "GET /a 0 "), *p2 = strstr(out, "POST /b 5 hello"),
		    *p3 = strstr(out, "POST /c d 5 abcde"), *p4 = strstr(out, "GET /e 0 ");

		CHECK(p1 && p2 && p3 && p4 && p1 < p2 && p2 < p3 && p3 < p4,
		    "answered in order; Content-Length and chunked bodies; the path decoded, the query cut");
	}
	CHECK(count(out, "Connection: close\r\n") == 1, "only the last answer says Connection: close");

	closed = EX("POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n");
	CHECK(closed == 1 && count(out, "HTTP/1.1 ") == 1 && strncmp(out, "HTTP/1.1 400 Bad Request\r\n", 26) == 0 &&
	    strstr(out, "\r\n\r\n{\"error\":\"bad request\",\"detail\":\"Content-Length is not a number") != NULL,
	    "negative Content-Length: one 400 with JSON, closed");
	closed = EX("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
	CHECK(closed == 1 && strncmp(out, "HTTP/1.1 400 ", 13) == 0 && strstr(out, "TLS handshake") != NULL,
	    "TLS ClientHello: 400 with JSON at once, closed");
	{
		char raw[200];
		int n = sprintf(raw, "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n");

		memset(raw + n, 'z', 100);
		closed = exchange(port, raw, (size_t)n + 100, out, sizeof(out));
	}
	CHECK(closed == 1 && strncmp(out, "HTTP/1.1 200 ", 13) == 0 && strstr(out, "POST /b 0 big") != NULL,
	    "Content-Length over max_body: the handler is told (too_big), the connection closes");
	closed = EX("POST /early HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
	CHECK(closed == 1 && strncmp(out, "HTTP/1.1 415 ", 13) == 0 && strstr(out, "\r\n\r\nearly\n") != NULL,
	    "an answer from head(): sent, then close");
	closed = EX("HEAD /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
	CHECK(closed == 1 && strstr(out, "Content-Length: 10\r\n") != NULL && strstr(out, "\r\n\r\n")[4] == '\0',
	    "HEAD: Content-Length of the body, no body");
	if (!(closed == 1 && strstr(out, "Content-Length: 10\r\n")))
		printf("# %d [%s]\n", closed, out);
	/* an idle connection is closed after the timeout (1 s) */
	{
		int fd = dial(port);
		char c;
		ssize_t k;

		k = fd >= 0 ? read(fd, &c, 1) : -1;
		CHECK(k == 0, "an idle connection is closed after the timeout");
		if (fd >= 0)
			close(fd);
	}
	/* connections spread evenly over the 2 workers: made one after another,
	 * each answered before the next (the kernel then tends to wake the same
	 * worker for every one: 8 and 0, 7 and 1, 6 and 2 were seen) */
	{
		int fds[8], i, j, nt = 0, per[2] = { 0, 0 }, ok = 1;
		unsigned long tid[2] = { 0, 0 };

		for (i = 0; i < 8; i++) {
			static const char get[] = "GET /thread HTTP/1.1\r\nHost: h\r\n\r\n";
			size_t got = 0;
			unsigned long t;
			char *b;

			fds[i] = dial(port);
			if (fds[i] < 0 || write(fds[i], get, sizeof(get) - 1) < 0) {
				ok = 0;
				continue;
			}
			for (;;) {	/* the head, then Content-Length bytes of body */
				ssize_t k = read(fds[i], out + got, sizeof(out) - 1 - got);
				const char *cl;

				if (k <= 0)
					break;
				got += (size_t)k;
				out[got] = '\0';
				if ((b = strstr(out, "\r\n\r\n")) != NULL &&
				    (cl = strstr(out, "Content-Length: ")) != NULL && cl < b &&
				    got >= (size_t)(b + 4 - out) + strtoul(cl + 16, NULL, 10))
					break;
			}
			b = strstr(out, "\r\n\r\nthread ");
			if (b == NULL) {
				ok = 0;
				continue;
			}
			t = strtoul(b + 11, NULL, 10);
			for (j = 0; j < nt && tid[j] != t; j++)
				;
			if (j == nt && nt < 2)
				tid[nt++] = t;
			if (j < 2)
				per[j]++;
			out[0] = '\0';
		}
		/* 4 and 4; 3 and 5 where an earlier connection still lingers */
		CHECK(ok && nt == 2 && abs(per[0] - per[1]) <= 2,
		    "8 keep-alive connections: spread over the 2 workers (%d and %d)", per[0], per[1]);
		for (i = 0; i < 8; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	arxiv_httpd_quiesce(h);
	arxiv_httpd_stop(h);
	close(lfd);
	CHECK(ndone == 17, "done() once for each of the 17 requests (%d)", ndone);
}

int
main(void)
{
	struct httpd_req r;
	struct arxiv_buf b = { 0 };
	const char *why;
	size_t rest;
	char big[20000];

	/* the scanner: complete, incomplete, not HTTP at once */
	CHECK(scan("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &why) == 27, "scan: a complete head");
	CHECK(scan("GET / HTTP/1.1\nHost: x\n\nrest", &why) == 24, "scan: LF line ends");
	CHECK(scan("\r\nGET / HTTP/1.1\r\n\r\n", &why) == 20, "scan: an empty line before is skipped");
	CHECK(scan("GET / HTTP/1.1\r\nHost: x\r\n", &why) == 0, "scan: incomplete");
	CHECK(scan("GET / HT", &why) == 0, "scan: a request line under way");
	CHECK(scan("\x16\x03\x01", &why) == -400 && strstr(why, "TLS"), "scan: TLS at the first byte");
	CHECK(scan("GET /x HTTQ", &why) == -400, "scan: a bad version prefix at once");
	CHECK(scan("hello there", &why) == -400, "scan: prose at the first space");
	CHECK(scan("{\"json\":1}", &why) == -400, "scan: JSON is no method");
	CHECK(scan("GARBAGE\r\n", &why) == -400, "scan: a line with one word");
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	big[sizeof(big) - 1] = '\0';
	CHECK(scan(big, &why) == -414, "scan: a request line over 8192 bytes is 414 before its end");
	{
		static char hs[40000];

		strcpy(hs, "GET / HTTP/1.1\r\nX: ");
		memset(hs + 19, 'b', sizeof(hs) - 20);
		hs[sizeof(hs) - 1] = '\0';
		CHECK(scan(hs, &why) == -431, "scan: a header section over 32768 bytes is 431");
	}

	/* the parser */
	CHECK(parse("POST /api/predict/?a=%20 HTTP/1.1\r\nHost: x\r\ncontent-length: 12\r\n"
	    "X-Sp:   v  a  \r\n\r\n", &r, &why) == 0, "parse: a POST");
	CHECK_STR(r.method, "POST", "method");
	CHECK_STR(r.path, "/api/predict/", "path");
	CHECK_STR(r.query, "a=%20", "query (raw)");
	CHECK(r.content_length == 12 && !r.chunked && r.keep_alive && r.minor == 1, "length, keep-alive, 1.1");
	CHECK_STR(arxiv_httpd_header(&r, "CONTENT-LENGTH"), "12", "header lookup is case-insensitive");
	CHECK_STR(arxiv_httpd_header(&r, "x-sp"), "v  a", "a value loses its outer white space only");
	CHECK(arxiv_httpd_header(&r, "nope") == NULL, "a missing header is NULL");
	CHECK(parse("GET /%41b%2 HTTP/1.0\r\n\r\n", &r, &why) == 0 && strcmp(r.path, "/Ab%2") == 0 &&
	    !r.keep_alive, "parse: %%XX decoded, a bad escape kept; 1.0 without Host, closes");
	CHECK(parse("GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n", &r, &why) == 400, "parse: %%00 refused");
	CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", &r, &why) == 0 &&
	    r.chunked && r.content_length == -1, "parse: chunked");
	CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n", &r, &why) == 0 &&
	    !r.keep_alive, "parse: Connection: close in a list");
	CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", &r, &why) == 0 &&
	    r.expect_continue, "parse: Expect: 100-continue");
	CHECK(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &r, &why) == 0 &&
	    r.content_length == 5, "parse: two equal Content-Lengths are one");
	{
		static const struct {
			const char *head;
			int status;
			const char *why;
		} bad[] = {
			{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400, "digits only" },
			{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, "too large" },
			{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400, "empty" },
			{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n", 400, "digits only" },
			{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", 400, "different" },
			{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both" },
			{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400, "Transfer-Encoding" },
			{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Transfer-Encoding" },
			{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "1.0" },
			{ "GET / HTTP/1.1\r\n\r\n", 400, "Host" },
			{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Host" },
			{ "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400, "obs-fold" },
			{ "GET / HTTP/1.1\r\nHost: x\r\nX a\r\n\r\n", 400, "colon" },
			{ "GET / HTTP/1.1\r\nHost: x\r\nX : a\r\n\r\n", 400, "header name" },
			{ "GET / HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n", 400, "without a name" },
			{ "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01\r\n\r\n", 400, "control" },
			{ "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400, "control" },
			{ "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "origin-form" },
			{ "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, "OPTIONS only" },
			{ "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/1.1" },
			{ "GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", 400, "version" },
			{ "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "not an HTTP request" },
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int st = parse(bad[i].head, &r, &why);

			CHECK(st == bad[i].status && why && strstr(why, bad[i].why), "parse refuses %zu: %d %s", i, st,
			    why ? why : "(accepted)");
		}
	}
	{
		static char many[8000];
		int i, o = sprintf(many, "GET / HTTP/1.1\r\nHost: x\r\n");

		for (i = 0; i < 120; i++)
			o += sprintf(many + o, "X%d: y\r\n", i);
		strcpy(many + o, "\r\n");
		CHECK(parse(many, &r, &why) == 431, "parse: more than 100 header fields is 431");
	}

	/* chunked */
	CHECK(chunked("3\r\nabc\r\n2;x=\"y\"\r\nde\r\n0\r\nT: v\r\n\r\nNEXT", 1000, &b, &rest) == 1 && b.len == 5 &&
	    memcmp(b.data, "abcde", 5) == 0 && rest == 4, "chunked: data, an extension, a trailer; the rest left");
	CHECK(chunked("3\r\nabc\r\n2;x=\"y\"\r\nde\r\n0\r\nT: v\r\n\r\n", 1, &b, &rest) == 1 && b.len == 5 &&
	    memcmp(b.data, "abcde", 5) == 0, "chunked: one byte at a time");
	CHECK(chunked("A\r\n0123456789\r\n0\r\n\r\n", 3, &b, &rest) == 1 && b.len == 10, "chunked: hex size");
	CHECK(chunked("3\r\nabc\r\n", 100, &b, &rest) == 0, "chunked: incomplete");
	CHECK(chunked("zz\r\n", 100, &b, &rest) == -1, "chunked: a size that is not hex");
	CHECK(chunked("3\nabc\r\n", 100, &b, &rest) == -1, "chunked: a bare LF after the size");
	CHECK(chunked("3\r\nabcX\r\n", 100, &b, &rest) == -1, "chunked: data longer than its size");
	CHECK(chunked("1000000000000000\r\n", 100, &b, &rest) == -1, "chunked: a size of 16 hex digits");
	CHECK(chunked("-1\r\n", 100, &b, &rest) == -1, "chunked: a negative size");
	CHECK(chunked("0\r\n X: folded\r\n\r\n", 100, &b, &rest) == -1, "chunked: a folded trailer");
	arxiv_buf_free(&b);

	live();
	return tap_done();
}

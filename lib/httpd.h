/*
 * httpd.h - arxiv-serve's strict HTTP/1.1 server (lib/httpd.c). Internal: not
 * part of arxiv.h's API; exported from libarxiv for arxiv-serve only.
 *
 * One epoll loop per worker thread on a shared listening socket; requests are
 * parsed strictly (RFC 9112: token method, origin-form target, HTTP/1.0 or
 * 1.1, no obs-fold, Content-Length digits only, no Content-Length with
 * Transfer-Encoding, Transfer-Encoding only one "chunked", Host required for
 * 1.1); keep-alive and pipelining (answered in order); an idle timeout; a
 * connection limit. Every error the server makes itself is a JSON body
 * {"error":...,"detail":...} with Connection: close. The application sees a
 * parsed request and fills in a response; handlers run on the worker thread.
 */
#ifndef ARXIV_HTTPD_H
#define ARXIV_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include "arxiv.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTTP_OK				200
#define HTTP_NO_CONTENT			204
#define HTTP_BAD_REQUEST		400
#define HTTP_NOT_FOUND			404
#define HTTP_METHOD_NOT_ALLOWED		405
#define HTTP_CONTENT_TOO_LARGE		413
#define HTTP_URI_TOO_LONG		414
#define HTTP_UNSUPPORTED_MEDIA_TYPE	415
#define HTTP_HEADERS_TOO_LARGE		431
#define HTTP_INTERNAL_SERVER_ERROR	500
#define HTTP_NOT_IMPLEMENTED		501
#define HTTP_SERVICE_UNAVAILABLE	503
#define HTTP_VERSION_NOT_SUPPORTED	505

#define HTTPD_HEAD_MAX		32768	/* request line and header fields together */
#define HTTPD_LINE_MAX		8192	/* the request line (414 beyond) */
#define HTTPD_MAX_HEADERS	100
#define HTTPD_METHOD_MAX	32

/* A parsed request. Strings point into the connection's copy of the head. */
struct httpd_req {
	const char *method;	/* a token; NULL when the request line was not understood */
	const char *target;	/* the target; after parsing, the same as path */
	const char *path;	/* the target before '?', percent-decoded (no NUL inside) */
	const char *query;	/* after '?', raw, or NULL */
	int minor;		/* HTTP/1.minor */
	int head;		/* HEAD: the response body is not sent */
	int chunked;		/* Transfer-Encoding: chunked */
	int64_t content_length;	/* -1: none */
	int keep_alive;		/* the client lets the connection stay open */
	int expect_continue;	/* Expect: 100-continue */
	size_t nheaders;
	const char *name[HTTPD_MAX_HEADERS], *value[HTTPD_MAX_HEADERS];
	const char *body;	/* NUL-terminated; "" when none */
	size_t body_len;
	int too_big;		/* the body was over max_body and was discarded */
	void *data;		/* the application's, from head() to done() */
};

/* A response. The body is borrowed until release(release_arg) is called. */
struct httpd_resp {
	unsigned status;	/* 0: none yet */
	int close;		/* close the connection after it */
	const char *body;
	size_t len;
	void (*release)(void *);
	void *release_arg;
	size_t hlen;
	char hdr[1536];		/* "Name: value\r\n" lines */
};

struct httpd_ops {
	void *ud;
	/* After the header section. Return 0 to read the body and call handle(),
	 * or fill resp in (the body is then not read and the connection closes). */
	int (*head)(void *ud, struct httpd_req *req, struct httpd_resp *resp);
	/* With the whole body: fill resp in (status 0 left: a 500 is sent). */
	void (*handle)(void *ud, struct httpd_req *req, struct httpd_resp *resp);
	/* The request is over: status sent (0: none), why NULL when it completed,
	 * else "timeout", "client-abort", "write-error" or "shutdown". Called for
	 * every request whose head was parsed or that the server refused. */
	void (*done)(void *ud, struct httpd_req *req, unsigned status, const char *why);
};

struct httpd_opts {
	int listen_fd;		/* bound, listening, non-blocking */
	unsigned threads;
	unsigned max_conn;
	unsigned timeout;	/* seconds a connection may stay idle or slow */
	size_t max_body;
};

struct httpd;

ARXIV_API struct httpd *httpd_start(const struct httpd_opts *o, const struct httpd_ops *ops,
    char *err, size_t errlen);
/* Stop accepting new connections; those open are served on. */
ARXIV_API void httpd_quiesce(struct httpd *h);
/* Close every connection (requests in flight: done(..., "shutdown")), join, free. */
ARXIV_API void httpd_stop(struct httpd *h);

/* The value of a header field (case-insensitive name; the first), or NULL. */
ARXIV_API const char *httpd_header(const struct httpd_req *req, const char *name);
/* Add "name: value" to the response; -1 when it does not fit. */
ARXIV_API int httpd_resp_header(struct httpd_resp *resp, const char *name, const char *value);

/*
 * The parser, for tests and the fuzzer. httpd_scan_head: how much of buf[0..n)
 * is one request head: its length (> 0), 0 when more bytes are needed, or
 * -status with *why set when the bytes cannot become a valid head (checked
 * as they arrive: bytes that are not HTTP fail at once). httpd_parse_head:
 * parse the head buf[0..len) (modified: NULs written) into req; 0, or the
 * error status with *why.
 */
ARXIV_API long httpd_scan_head(const char *buf, size_t n, const char **why);
ARXIV_API int httpd_parse_head(char *buf, size_t len, struct httpd_req *req, const char **why);

/* Incremental chunked decoder: feed bytes, decoded data is appended via out(). */
struct httpd_chunked {
	int state;
	uint64_t left;		/* data bytes left in this chunk */
	size_t line;		/* length of the size or trailer line so far */
	size_t trailer;		/* bytes of trailer section so far */
	int ndig;
};
/* Consume in[0..n): *used bytes taken; returns 1 when the body ended, 0 when
 * more is needed, -1 with *why on bad framing (or -2 when out() failed). */
ARXIV_API int httpd_chunked_feed(struct httpd_chunked *c, const char *in, size_t n, size_t *used,
    int (*out)(void *, const char *, size_t), void *arg, const char **why);

#ifdef __cplusplus
}
#endif
#endif

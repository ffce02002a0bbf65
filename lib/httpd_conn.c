/*
 * httpd_conn.c - one connection of arxiv-serve's HTTP/1.1 server (httpd.c has
 * the workers and the design, httpd_parse.c the parser): its state machine
 * (HEAD, BODY, WRITE, LINGER), reading and parsing requests, the body by
 * Content-Length or chunked, dispatch to the handler, queueing and writing
 * responses (and the server's own JSON errors), and closing.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "httpd_int.h"

/* ---------------------------------------------------------- connections */

static const char *
reason(unsigned st)
{
	switch (st) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static const char *
error_name(unsigned st)
{
	switch (st) {
	case 400: return "bad request";
	case 408: return "request timeout";
	case 413: return "payload too large";
	case 414: return "URI too long";
	case 431: return "request header fields too large";
	case 505: return "HTTP version not supported";
	default: return "internal error";
	}
}

static void
list_unlink(struct worker *w, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->first = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		w->last = c->prev;
	c->prev = c->next = NULL;
}

/* c at the end of w's list (the newest activity) */
static void
list_append(struct worker *w, struct conn *c)
{
	c->prev = w->last;
	c->next = NULL;
	if (w->last)
		w->last->next = c;
	else
		w->first = c;
	w->last = c;
}

void
httpd_conn_touch(struct conn *c)
{
	struct worker *w = c->w;

	c->last = now_s();
	if (w->last == c)
		return;
	list_unlink(w, c);
	list_append(w, c);
}

static void
resp_release(struct httpd_resp *r)
{
	if (r->release)
		r->release(r->release_arg);
	memset(r, 0, offsetof(struct httpd_resp, hdr));
	r->hdr[0] = '\0';
}

/* The request is over (done() if owed); ready for the next. */
static void
req_end(struct conn *c, unsigned status, const char *why)
{
	struct httpd *h = c->w->h;

	if (c->started || status)
		h->ops.done(h->ops.ud, &c->req, status, why);
	c->started = 0;
	c->expect_sent = 0;
	free(c->head);
	c->head = NULL;
	free(c->body);
	c->body = NULL;
	c->blen = c->bcap = c->discarded = 0;
	c->left = 0;
	memset(&c->ch, 0, sizeof(c->ch));
	memset(&c->req, 0, sizeof(c->req));
}

void
httpd_conn_close(struct conn *c, const char *why)
{
	struct worker *w = c->w;

	if (c->state == ST_WRITE)
		req_end(c, c->resp.status, why ? why : "write-error");
	else if (c->started)
		req_end(c, 0, why);
	resp_release(&c->resp);
	req_end(c, 0, NULL);
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	list_unlink(w, c);
	atomic_fetch_sub(&w->held, 1);
	atomic_fetch_sub(&w->h->nconn, 1);
	free(c->rbuf);
	free(c);
}

static void
set_events(struct conn *c, uint32_t ev)
{
	struct epoll_event e;

	if (c->events == ev)
		return;
	c->events = ev;
	e.events = ev;
	e.data.ptr = c;
	epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &e);
}

static const char *
http_date(struct worker *w)
{
	time_t t = time(NULL);
	struct tm tm;

	if (t != w->date_t) {
		gmtime_r(&t, &tm);
		strftime(w->date, sizeof(w->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		w->date_t = t;
	}
	return w->date;
}

/* Write what is pending; 1 when all of it is out, 0 when the socket is full, -1 on error. */
int
httpd_conn_flush(struct conn *c)
{
	while (c->woff < c->wlen || (!c->req.head && c->boff < c->resp.len)) {
		struct iovec iov[2];
		int n = 0;
		ssize_t k;

		if (c->woff < c->wlen) {
			iov[n].iov_base = c->wbuf + c->woff;
			iov[n++].iov_len = c->wlen - c->woff;
		}
		if (!c->req.head && c->boff < c->resp.len) {
			iov[n].iov_base = (char *)c->resp.body + c->boff;
			iov[n++].iov_len = c->resp.len - c->boff;
		}
		k = writev(c->fd, iov, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (c->woff < c->wlen) {
			size_t a = c->wlen - c->woff < (size_t)k ? c->wlen - c->woff : (size_t)k;

			c->woff += a;
			k -= (ssize_t)a;
		}
		c->boff += (size_t)k;
	}
	return 1;
}

static void
linger(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->state = ST_LINGER;
	c->discarded = 0;
	httpd_conn_touch(c);
	set_events(c, EPOLLIN | EPOLLRDHUP);
}

/* The response is out: end the request, then close or go on with the next. */
void
httpd_conn_sent(struct conn *c)
{
	unsigned st = c->resp.status;
	int closing = c->closing;

	resp_release(&c->resp);
	req_end(c, st, NULL);
	c->wlen = c->woff = c->boff = 0;
	if (closing) {
		linger(c);
		return;
	}
	c->state = ST_HEAD;
	set_events(c, EPOLLIN | EPOLLRDHUP);
}

/* Queue c->resp (status set) and start writing it; -1 when c is gone. */
static int
respond(struct conn *c)
{
	struct httpd_resp *r = &c->resp;
	struct httpd *h = c->w->h;
	int k, nobody = r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200);

	if (r->close || !c->req.keep_alive || atomic_load(&h->quiesce))
		c->closing = 1;
	if (r->close)
		c->closing = 1;
	k = snprintf(c->wbuf, sizeof(c->wbuf), "HTTP/1.1 %u %s\r\nDate: %s\r\n%s", r->status,
	    reason(r->status), http_date(c->w), r->hdr);
	if (!nobody)
		k += snprintf(c->wbuf + k, sizeof(c->wbuf) - (size_t)k, "Content-Length: %zu\r\n", r->len);
	k += snprintf(c->wbuf + k, sizeof(c->wbuf) - (size_t)k, "%s\r\n",
	    c->closing ? "Connection: close\r\n" : c->req.minor == 0 ? "Connection: keep-alive\r\n" : "");
	c->wlen = (size_t)k < sizeof(c->wbuf) ? (size_t)k : sizeof(c->wbuf) - 1;
	c->woff = c->boff = 0;
	if (nobody)
		r->len = 0;
	c->state = ST_WRITE;
	switch (httpd_conn_flush(c)) {
	case 1:
		httpd_conn_sent(c);
		return 0;
	case 0:
		set_events(c, EPOLLOUT);
		return 0;
	default:
		httpd_conn_close(c, "write-error");
		return -1;
	}
}

static void
release_free(void *p)
{
	free(p);
}

/* An error the server answers itself: JSON, and the connection closes; -1 when c is gone. */
static int
fail(struct conn *c, unsigned status, const char *detail)
{
	struct httpd_resp *r = &c->resp;
	char *body;
	int n;

	resp_release(r);
	if ((body = malloc(strlen(detail) + 128)) == NULL) {
		httpd_conn_close(c, "aborted");
		return -1;
	}
	n = sprintf(body, "{\"error\":\"%s\",\"detail\":\"%s\"}\n", error_name(status), detail);
	r->status = status;
	r->body = body;
	r->len = (size_t)n;
	r->release = release_free;
	r->release_arg = body;
	r->close = 1;
	arxiv_httpd_resp_header(r, "Content-Type", "application/json");
	arxiv_httpd_resp_header(r, "Cache-Control", "no-store");
	arxiv_httpd_resp_header(r, "X-Content-Type-Options", "nosniff");
	return respond(c);
}

static int
dispatch(struct conn *c)
{
	struct httpd *h = c->w->h;

	if (c->body == NULL) {
		c->req.body = "";
		c->req.body_len = 0;
	} else {
		c->body[c->blen] = '\0';
		c->req.body = c->body;
		c->req.body_len = c->blen;
	}
	h->ops.handle(h->ops.ud, &c->req, &c->resp);
	if (c->resp.status == 0)
		return fail(c, HTTP_INTERNAL_SERVER_ERROR, "no answer (out of memory?)");
	if (c->req.too_big)
		c->resp.close = 1;
	return respond(c);
}

static int
body_add(void *arg, const char *p, size_t n)
{
	struct conn *c = arg;
	size_t max = c->w->h->o.max_body;

	if (c->req.too_big || c->blen + n > max) {
		c->req.too_big = 1;
		free(c->body);
		c->body = NULL;
		c->blen = c->bcap = 0;
		c->discarded += n;
		return c->discarded > 4 * max + ((size_t)1 << 20) ? -1 : 0;
	}
	if (c->blen + n + 1 > c->bcap) {
		size_t cap = c->bcap ? c->bcap : 4096;
		char *nb;

		while (cap < c->blen + n + 1)
			cap *= 2;
		if ((nb = realloc(c->body, cap)) == NULL)
			return -1;
		c->body = nb;
		c->bcap = cap;
	}
	memcpy(c->body + c->blen, p, n);
	c->blen += n;
	return 0;
}

static void
consume(struct conn *c, size_t n)
{
	memmove(c->rbuf, c->rbuf + n, c->rlen - n);
	c->rlen -= n;
}

/* Parse and answer what the read buffer holds, request after request. */
void
httpd_conn_process(struct conn *c)
{
	struct httpd *h = c->w->h;

	while (c->state == ST_HEAD || c->state == ST_BODY) {
		if (c->state == ST_HEAD) {
			const char *why = NULL;
			long hl;
			int st;

			if (c->rlen == 0)
				return;
			if (c->head_t == 0)
				c->head_t = now_s();
			hl = arxiv_httpd_scan_head(c->rbuf, c->rlen, &why);
			if (hl == 0) {
				/* the whole head within the timeout: a client that drips
				 * a byte at a time cannot hold the connection (slowloris) */
				if (now_s() - c->head_t > (double)h->o.timeout)
					fail(c, 408, "the request head did not arrive within the timeout (-T)");
				return;
			}
			c->head_t = 0;
			if (hl < 0) {
				fail(c, (unsigned)-hl, why);
				return;
			}
			if ((c->head = malloc((size_t)hl + 1)) == NULL) {
				httpd_conn_close(c, "aborted");
				return;
			}
			memcpy(c->head, c->rbuf, (size_t)hl);
			c->head[hl] = '\0';
			consume(c, (size_t)hl);
			if ((st = arxiv_httpd_parse_head(c->head, (size_t)hl, &c->req, &why)) != 0) {
				c->req.keep_alive = 0;
				if (c->req.path == NULL)
					c->req.method = NULL;
				fail(c, (unsigned)st, why);	/* done() with the status */
				return;
			}
			c->started = 1;
			if (h->ops.head(h->ops.ud, &c->req, &c->resp)) {
				c->resp.close = 1;	/* the body (if any) is left unread */
				if (respond(c) < 0)
					return;
				continue;
			}
			c->left = c->req.content_length > 0 ? (uint64_t)c->req.content_length : 0;
			if (!c->req.chunked && c->left == 0) {
				if (dispatch(c) < 0)
					return;
				continue;
			}
			if (c->req.content_length > 0 && (uint64_t)c->req.content_length > h->o.max_body) {
				c->req.too_big = 1;
				if (c->left > 4 * (uint64_t)h->o.max_body + (1 << 20)) {
					dispatch(c);	/* not worth reading: answer now, close */
					return;
				}
			}
			c->state = ST_BODY;
		}
		/* ST_BODY */
		if (c->req.expect_continue && !c->expect_sent && c->rlen == 0 && c->req.minor == 1) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

			c->expect_sent = 1;
			if (write(c->fd, cont, sizeof(cont) - 1) < 0 && errno != EAGAIN) {
				httpd_conn_close(c, "write-error");
				return;
			}
		}
		if (c->rlen == 0)
			return;
		if (c->req.chunked) {
			const char *why = NULL;
			size_t used = 0;
			int rc = arxiv_httpd_chunked_feed(&c->ch, c->rbuf, c->rlen, &used, body_add, c, &why);

			consume(c, used);
			if (rc == -2) {
				httpd_conn_close(c, "client-abort");	/* sends on and on past the limit */
				return;
			}
			if (rc < 0) {
				fail(c, HTTP_BAD_REQUEST, why);
				return;
			}
			if (rc == 0)
				return;
		} else {
			size_t k = c->rlen < c->left ? c->rlen : (size_t)c->left;

			if (body_add(c, c->rbuf, k) < 0) {
				httpd_conn_close(c, "client-abort");
				return;
			}
			consume(c, k);
			c->left -= k;
			if (c->left > 0)
				return;
		}
		c->state = ST_HEAD;
		if (dispatch(c) < 0)
			return;
	}
}

void
httpd_conn_read(struct conn *c)
{
	ssize_t k;

	if (c->state == ST_LINGER) {
		char junk[16384];

		k = read(c->fd, junk, sizeof(junk));
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR) ||
		    (c->discarded += (size_t)(k > 0 ? k : 0)) > ((size_t)1 << 20))
			httpd_conn_close(c, NULL);
		return;
	}
	if (c->rbuf == NULL) {
		c->rcap = HTTPD_HEAD_MAX;
		if ((c->rbuf = malloc(c->rcap)) == NULL) {
			httpd_conn_close(c, "aborted");
			return;
		}
	}
	if (c->rlen == c->rcap)
		return;	/* cannot happen: a full buffer is an error in HEAD and drained in BODY */
	k = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
	if (k < 0) {
		if (errno != EAGAIN && errno != EINTR)
			httpd_conn_close(c, "read-error");
		return;
	}
	if (k == 0) {
		httpd_conn_close(c, "client-abort");
		return;
	}
	c->rlen += (size_t)k;
	httpd_conn_touch(c);
	httpd_conn_process(c);
}

/* Serve the accepted connection fd in w (w->held already counts it). */
void
httpd_conn_adopt(struct worker *w, int fd)
{
	struct epoll_event e;
	struct conn *c;
	int one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->w = w;
	c->state = ST_HEAD;
	e.events = c->events = EPOLLIN | EPOLLRDHUP;
	e.data.ptr = c;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
		free(c);
		goto fail;
	}
	list_append(w, c);
	c->last = now_s();
	return;
fail:
	atomic_fetch_sub(&w->held, 1);
	atomic_fetch_sub(&w->h->nconn, 1);
	close(fd);
}

/*
 * httpd.c - a small strict HTTP/1.1 server for arxiv-serve (see httpd.h).
 *
 * Written by hand rather than on libmicrohttpd: Debian bookworm's 0.9.75
 * answers a negative or overflowing Content-Length with its status line and
 * headers twice, answers bytes that are not HTTP with silence or HTML, and
 * offers no hook to do otherwise. This one parses every request strictly,
 * answers every error with JSON, and closes a connection whose framing it
 * cannot trust.
 *
 * Each worker thread runs one level-triggered epoll loop over its own
 * connections; all share the listening socket (EPOLLEXCLUSIVE: one worker is
 * woken per new connection). The worker that accepts a connection gives it to
 * the worker that holds the fewest (through that worker's inbox, a pipe of
 * descriptors): the kernel tends to wake the same worker for a burst of
 * connections, and one worker serving most of them while another idles
 * costs latency (with 16 connections on 2 workers, a 1:3 split was seen). A connection is a small state machine: HEAD
 * (reading the request line and header fields), BODY (by Content-Length or
 * chunked), WRITE (a response being sent; reading pauses, so pipelined
 * requests are answered in order), LINGER (after a response that closes: our
 * side is shut, what the client still sends is read and dropped for a while,
 * so that the response is not lost to a reset).
 *
 * The request parser and the chunked framing are httpd_parse.c, a
 * connection's state machine httpd_conn.c (shared: httpd_int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd_int.h"

static char listen_tag, wake_tag, inbox_tag;	/* epoll data of the listening socket and the eventfd */

/* The worker that holds the fewest connections, w itself on a tie. */
static struct worker *
least_held(struct worker *w)
{
	struct httpd *h = w->h;
	struct worker *best = w;
	unsigned i, min = atomic_load(&w->held);

	for (i = 0; i < h->o.threads; i++) {
		unsigned k = atomic_load(&h->w[i].held);

		if (k < min) {
			min = k;
			best = &h->w[i];
		}
	}
	return best;
}

static void
accept_some(struct worker *w)
{
	struct httpd *h = w->h;
	struct worker *to;
	int fd;

	/* one connection per wake-up: the listening socket stays readable while
	 * more wait, and EPOLLEXCLUSIVE wakes another worker for them */
	if ((fd = accept4(h->o.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	if (atomic_fetch_add(&h->nconn, 1) >= h->o.max_conn) {
		atomic_fetch_sub(&h->nconn, 1);
		close(fd);
		return;
	}
	to = least_held(w);
	atomic_fetch_add(&to->held, 1);
	/* a write of an int to a pipe is atomic; a full inbox: served here */
	if (to != w && write(to->inbox[1], &fd, sizeof(fd)) != (ssize_t)sizeof(fd)) {
		atomic_fetch_sub(&to->held, 1);
		atomic_fetch_add(&w->held, 1);
		to = w;
	}
	if (to == w)
		httpd_conn_adopt(w, fd);
}

/* The connections other workers gave to w (close: at shutdown). */
static void
take_inbox(struct worker *w, int close_them)
{
	int fds[64];
	ssize_t k;
	size_t i;

	while ((k = read(w->inbox[0], fds, sizeof(fds))) > 0)
		for (i = 0; i < (size_t)k / sizeof(fds[0]); i++) {
			if (!close_them) {
				httpd_conn_adopt(w, fds[i]);
				continue;
			}
			atomic_fetch_sub(&w->held, 1);
			atomic_fetch_sub(&w->h->nconn, 1);
			close(fds[i]);
		}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct httpd *h = w->h;
	struct epoll_event ev[64];

	while (!atomic_load(&h->stop)) {
		int n = epoll_wait(w->ep, ev, 64, 250), i;
		double t;

		for (i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;

			if (p == &listen_tag) {
				if (!w->quiesced)
					accept_some(w);
			} else if (p == &inbox_tag) {
				take_inbox(w, 0);
			} else if (p == &wake_tag) {
				uint64_t v;

				if (read(w->wake, &v, sizeof(v)) < 0)
					(void)0;
			} else {
				struct conn *c = p;

				if (c->state == ST_WRITE) {
					if (ev[i].events & (EPOLLERR | EPOLLHUP)) {
						httpd_conn_close(c, "write-error");
						continue;
					}
					switch (httpd_conn_flush(c)) {
					case 1:
						httpd_conn_touch(c);
						httpd_conn_sent(c);
						if (c->state == ST_HEAD)
							httpd_conn_process(c);
						break;
					case 0:
						httpd_conn_touch(c);
						break;
					default:
						httpd_conn_close(c, "write-error");
					}
				} else if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
					httpd_conn_read(c);
			}
		}
		if (atomic_load(&h->quiesce) && !w->quiesced) {
			epoll_ctl(w->ep, EPOLL_CTL_DEL, h->o.listen_fd, NULL);
			w->quiesced = 1;
		}
		/* idle and slow connections: the oldest activity first */
		t = now_s();
		while (w->first && t - w->first->last > (double)h->o.timeout)
			httpd_conn_close(w->first, "timeout");
	}
	while (w->first)
		httpd_conn_close(w->first, "shutdown");
	return NULL;
}

struct httpd *
arxiv_httpd_start(const struct httpd_opts *o, const struct httpd_ops *ops, char *err, size_t errlen)
{
	struct httpd *h;
	unsigned i;

	if ((h = calloc(1, sizeof(*h))) == NULL || (h->w = calloc(o->threads, sizeof(*h->w))) == NULL) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->o = *o;
	h->ops = *ops;
	for (i = 0; i < o->threads; i++)
		h->w[i].inbox[0] = h->w[i].inbox[1] = -1;
	for (i = 0; i < o->threads; i++) {
		struct worker *w = &h->w[i];
		struct epoll_event e;

		w->h = h;
		if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
		    (w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
		    pipe2(w->inbox, O_NONBLOCK | O_CLOEXEC) < 0) {
			snprintf(err, errlen, "epoll: %s", strerror(errno));
			goto fail;
		}
		e.events = EPOLLIN | EPOLLEXCLUSIVE;
		e.data.ptr = &listen_tag;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, o->listen_fd, &e) < 0) {
			snprintf(err, errlen, "epoll: %s", strerror(errno));
			goto fail;
		}
		e.events = EPOLLIN;
		e.data.ptr = &wake_tag;
		epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake, &e);
		e.data.ptr = &inbox_tag;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->inbox[0], &e) < 0) {
			snprintf(err, errlen, "epoll: %s", strerror(errno));
			goto fail;
		}
	}
	/* every worker's inbox exists before any worker can give to it */
	for (i = 0; i < o->threads; i++) {
		struct worker *w = &h->w[i];

		if ((errno = pthread_create(&w->tid, NULL, worker_main, w)) != 0) {
			snprintf(err, errlen, "cannot start a thread: %s", strerror(errno));
			goto fail;
		}
		h->nw++;
	}
	return h;
fail:
	arxiv_httpd_stop(h);
	return NULL;
}

static void
wake_all(struct httpd *h)
{
	unsigned i;
	uint64_t one = 1;

	for (i = 0; i < h->nw; i++)
		if (write(h->w[i].wake, &one, sizeof(one)) < 0)
			(void)0;
}

void
arxiv_httpd_quiesce(struct httpd *h)
{
	atomic_store(&h->quiesce, 1);
	wake_all(h);
}

void
arxiv_httpd_stop(struct httpd *h)
{
	unsigned i;

	if (h == NULL)
		return;
	atomic_store(&h->stop, 1);
	wake_all(h);
	for (i = 0; i < h->nw; i++)
		pthread_join(h->w[i].tid, NULL);
	for (i = 0; i < h->o.threads; i++) {
		if (h->w[i].inbox[0] >= 0) {
			take_inbox(&h->w[i], 1);	/* given after the worker ended */
			close(h->w[i].inbox[0]);
			close(h->w[i].inbox[1]);
		}
		if (h->w[i].ep > 0)
			close(h->w[i].ep);
		if (h->w[i].wake > 0)
			close(h->w[i].wake);
	}
	free(h->w);
	free(h);
}

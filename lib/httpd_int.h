/*
 * httpd_int.h - what the HTTP/1.1 server's files share (not installed):
 * lib/httpd.c (the workers, their epoll loops, start and stop) and
 * lib/httpd_conn.c (a connection's state machine). The request parser
 * (httpd_parse.c) needs only httpd.h.
 */
#ifndef ARXIV_HTTPD_INT_H
#define ARXIV_HTTPD_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "httpd.h"

enum { ST_HEAD, ST_BODY, ST_WRITE, ST_LINGER };

struct worker;

struct conn {
	int fd, state;
	struct worker *w;
	struct conn *prev, *next;	/* the worker's list, oldest activity first */
	double last;			/* monotonic seconds of the last activity */
	char *rbuf;
	size_t rlen, rcap;
	/* the request */
	char *head;
	struct httpd_req req;
	int started;			/* req.head parsed: done() is owed */
	double head_t;			/* when the head under way began (0: none) */
	int expect_sent;
	uint64_t left;			/* Content-Length bytes to come */
	struct httpd_chunked ch;
	char *body;
	size_t blen, bcap, discarded;
	/* the response */
	struct httpd_resp resp;
	char wbuf[2048];
	size_t wlen, woff, boff;
	int closing;
	uint32_t events;	/* registered with epoll */
};

struct worker {
	struct httpd *h;
	pthread_t tid;
	int ep, wake;
	int inbox[2];			/* pipe: descriptors given to this worker */
	atomic_uint held;		/* connections it holds or is being given */
	int quiesced;
	struct conn *first, *last;
	char date[40];
	time_t date_t;
};

struct httpd {
	struct httpd_opts o;
	struct httpd_ops ops;
	struct worker *w;
	unsigned nw;
	atomic_uint nconn;
	atomic_int quiesce, stop;
};

static inline double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* httpd_conn.c */
/* Serve the accepted connection fd in w (w->held already counts it). */
void httpd_conn_adopt(struct worker *w, int fd);
void httpd_conn_close(struct conn *c, const char *why);
/* c's activity now: at the end of its worker's list */
void httpd_conn_touch(struct conn *c);
/* Write what is pending; 1 when all of it is out, 0 when the socket is full, -1 on error. */
int httpd_conn_flush(struct conn *c);
/* The response is out: end the request, then close or go on with the next. */
void httpd_conn_sent(struct conn *c);
/* Parse and answer what the read buffer holds, request after request. */
void httpd_conn_process(struct conn *c);
/* the connection is readable */
void httpd_conn_read(struct conn *c);

#endif

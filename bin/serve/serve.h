/*
 * serve.h - arxiv-serve's parts (bin/serve/), one program in several files:
 *   load.c     the model and the similar-paper index: reference-counted,
 *              (re)loaded at start and on SIGHUP, a failed reload keeps the old
 *   web.c      the web page (GET /) and arxiv-report's files (GET /report/)
 *   reply.c    queueing a response: JSON bodies, errors, 405 and 503
 *   api.c      POST /api/predict/ and POST /api/similar/
 *   metrics.c  /healthz, /readyz, /api/labels/, /metrics, and each finished
 *              request's count, latency and access-log line
 *   ../arxiv-serve.c  the command line, the route table, the HTTP callbacks
 * Not installed; nothing here is part of libarxiv.
 */
#ifndef ARXIV_SERVE_H
#define ARXIV_SERVE_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "httpd.h"
#include "../prog.h"

#define DEFAULT_TOPK	3
#define MAX_PAGE	((size_t)4 << 20)
#define MAX_SLOTS	256	/* label names counted in arxiv_predictions_total */
#define SIMILAR_K	5	/* neighbours by default on /api/similar/ */
#define SIMILAR_MAX_K	100	/* and at most */

/* rows of the route table, routes[] in arxiv-serve.c (checked there) */
#define NROUTE_ROWS	8
#define NROUTES		((size_t)NROUTE_ROWS + 1)
#define R_OTHER		(NROUTES - 1)	/* no such path; counted in /metrics as "other" */
/* status codes and latency buckets counted, status_code[] and bucket_le[] in
 * metrics.c (checked there); the last status slot is "aborted" */
#define NSTATUS_CODES	13
#define NSTATUS		((size_t)NSTATUS_CODES + 1)
#define NBUCKETS	((size_t)16)

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

/* arxiv-serve.c */
double elapsed(const struct timespec *);
const char *route_name(size_t);

/* load.c */
struct model_ref *ref_get(struct server *);
void ref_put(struct model_ref *);
int probe(const struct arxiv_model *, struct arxiv_error *);
void load_model(struct server *);
struct index_ref *ixref_get(struct server *);
void ixref_put(struct index_ref *);
void load_index(struct server *);

/* web.c */
void page_put(void *);
void load_page(struct server *);
int reply_report(struct server *, struct req *);
int reply_page(struct server *, struct req *);

/* reply.c */
void copy_clean(char *, size_t, const char *);
char *dump_line(json_t *);
void release_free(void *);
int reply(struct server *, struct req *, unsigned, char *, const char *, const char *);
int reply_json(struct server *, struct req *, unsigned, char *);
int __attribute__((format(printf, 5, 6)))
    reply_err(struct server *, struct req *, unsigned, const char *, const char *, ...);
int reply_405(struct server *, struct req *, const char *);
int reply_503(struct server *, struct req *, int);

/* api.c */
int predict(struct server *, struct req *);
int similar(struct server *, struct req *);

/* metrics.c */
int get_healthz(struct server *, struct req *);
int get_readyz(struct server *, struct req *);
int get_labels(struct server *, struct req *);
int reply_metrics(struct server *, struct req *);
void app_done(void *, struct httpd_req *, unsigned, const char *);

#endif

/*
 * mlflow_int.h - the tracker shared by its API (mlflow.c), the MLflow file
 * store (mlflow_file.c) and its REST client (mlflow_rest.c). Internal: not
 * installed.
 */
#ifndef ARXIV_MLFLOW_INT_H
#define ARXIV_MLFLOW_INT_H

#include <jansson.h>
#include <pthread.h>
#include <time.h>

#include "arxiv.h"

#define MAX_KEY 250
#define MAX_PARAM_VALUE 6000

enum { T_OFF, T_FILE, T_REST };

struct arxiv_mlflow {
	int kind;
	pthread_mutex_t mu;
	char run_id[33];
	char exp_id[32];
	char *run_name;
	char *user;
	long long start_ms;
	/* file store */
	char *root;		/* absolute store directory */
	char *run_dir;		/* root/exp_id/run_id */
	/* REST (mlflow_rest.c) */
	char *base;		/* scheme://host:port[/prefix] without trailing '/' */
	char *artifact_uri;
	struct mlflow_rest *rest;	/* libcurl handle and headers */
};

struct mlflow_rest;

/* milliseconds since the epoch, MLflow's timestamps */
static inline long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mlflow_file.c: the file store back end */
int mlflow_file_start(struct arxiv_mlflow *t, const char *dir, const char *experiment);
/* Write run_dir/<sub>/<key> = value (key may contain '/': sub-folders). */
int mlflow_file_put(struct arxiv_mlflow *t, const char *sub, const char *key, const char *value);
int mlflow_file_metric(struct arxiv_mlflow *t, const char *key, double value, long step);
/* run_dir/meta.yaml with status (1 running, 3 finished, ...) and end_ms (0: null) */
int mlflow_file_run_meta(struct arxiv_mlflow *t, int status, long long end_ms);
/* one artifact (a walk callback): src into run_dir/artifacts/rel */
int mlflow_file_copy_one(struct arxiv_mlflow *t, const char *src, const char *rel);

/* mlflow_rest.c: the REST back end (libcurl, loaded on first use) */
int mlflow_rest_start(struct arxiv_mlflow *t, const char *uri, const char *experiment);
json_t *mlflow_rest_call(struct arxiv_mlflow *t, const char *method, const char *path,
    json_t *body, long *http, int quiet_404);
int mlflow_rest_put_one(struct arxiv_mlflow *t, const char *src, const char *rel);
void mlflow_rest_free(struct arxiv_mlflow *t);

#endif

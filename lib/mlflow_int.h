/*
 * mlflow_int.h - the tracker shared by the MLflow file store (mlflow.c) and
 * its REST client (mlflow_rest.c). Internal: not installed.
 */
#ifndef ARXIV_MLFLOW_INT_H
#define ARXIV_MLFLOW_INT_H

#include <jansson.h>
#include <pthread.h>

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

/* mlflow_rest.c: the REST back end (libcurl, loaded on first use) */
int mlflow_rest_start(struct arxiv_mlflow *t, const char *uri, const char *experiment);
json_t *mlflow_rest_call(struct arxiv_mlflow *t, const char *method, const char *path,
    json_t *body, long *http, int quiet_404);
int mlflow_rest_put_one(struct arxiv_mlflow *t, const char *src, const char *rel);
void mlflow_rest_free(struct arxiv_mlflow *t);

#endif

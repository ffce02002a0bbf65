/*
 * tpe.h - what the search space (tpe_space.c: the space file, its parameters
 * and their values) shares with the samplers and the pruner (tpe.c).
 * Not installed.
 */
#ifndef ARXIV_TPE_H
#define ARXIV_TPE_H

#include <stddef.h>

#include "arxiv.h"

#define MAX_NAME 64

struct param {
	char name[MAX_NAME];
	int kind;
	double lo, hi, step;	/* step: ints (>= 1) */
	char **choices;
	size_t n_choices;
	long line;
};

struct arxiv_space {
	struct param *p;
	size_t n;
};

#endif

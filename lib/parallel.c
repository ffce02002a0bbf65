/*
 * parallel.c - the one parallel-for of libarxiv: n jobs, one thread each (the
 * caller runs job 0); a thread that cannot be started has its job run by the
 * caller after the others, so the result never depends on thread creation.
 */
#include <pthread.h>
#include <unistd.h>

#include "internal.h"

#define MAX_THREADS 64

int
arxiv_threads(int want, size_t items)
{
	long n = want > 0 ? want : sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if (n > MAX_THREADS)
		n = MAX_THREADS;
	if (items > 0 && (size_t)n > items)
		n = (long)items;
	return (int)n;
}

void
arxiv_parallel_run(void *(*fn)(void *), void *jobs, size_t size, int n)
{
	pthread_t th[MAX_THREADS];
	int started[MAX_THREADS];
	char *j = jobs;
	int t;

	if (n > MAX_THREADS)
		n = MAX_THREADS;
	for (t = 1; t < n; t++)
		started[t] = pthread_create(&th[t], NULL, fn, j + (size_t)t * size) == 0;
	if (n > 0)
		fn(j);
	for (t = 1; t < n; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		else
			fn(j + (size_t)t * size);
	}
}

/*
 * parallel.c - the one parallel-for of libarxiv: n jobs, one thread each (the
 * caller runs job 0); a thread that cannot be started has its job run by the
 * caller after the others, so the result never depends on thread creation.
 */
#include <pthread.h>
#include <stdatomic.h>
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

/* ------------------------------------------------------ the public parallel-for */

struct pfor {
	size_t n, chunk;
	void (*fn)(void *ud, size_t from, size_t to);
	void *ud;
	atomic_size_t next;	/* the next chunk to take */
};

static void *
pfor_worker(void *arg)
{
	struct pfor *c = *(struct pfor **)arg;
	size_t j, nchunks = (c->n + c->chunk - 1) / c->chunk;

	while ((j = atomic_fetch_add(&c->next, 1)) < nchunks)
		c->fn(c->ud, j * c->chunk, j * c->chunk + c->chunk < c->n ? j * c->chunk + c->chunk :
		    c->n);
	return NULL;
}

int
arxiv_parallel_for(size_t n, size_t chunk, int jobs, void (*fn)(void *ud, size_t from, size_t to),
    void *ud)
{
	struct pfor c;
	struct pfor *cp[MAX_THREADS];
	int t, nt;

	if (fn == NULL)
		return -1;
	if (n == 0)
		return 0;
	c.n = n;
	c.chunk = chunk ? chunk : 1;
	c.fn = fn;
	c.ud = ud;
	atomic_init(&c.next, 0);
	nt = arxiv_threads(jobs, (n + c.chunk - 1) / c.chunk);
	for (t = 0; t < nt; t++)
		cp[t] = &c;
	arxiv_parallel_run(pfor_worker, cp, sizeof(cp[0]), nt);
	return 0;
}

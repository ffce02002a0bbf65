/* test_parallel.c - the parallel-for (parallel.c): every job runs once, on
 * distinct threads, and the thread count rules. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"
#include "internal.h"
#include "tap.h"

struct job {
	size_t begin, end;
	long sum;
	int runs;
	pthread_t self;
};

static void *
work(void *arg)
{
	struct job *j = arg;
	size_t i;

	for (i = j->begin; i < j->end; i++)
		j->sum += (long)i;
	j->runs++;
	j->self = pthread_self();
	return NULL;
}

/* arxiv_parallel_for's fn: each item counted once, chunks as promised */
static int hits[1000];
static _Atomic int bad_chunk;

static void
count_items(void *ud, size_t from, size_t to)
{
	size_t chunk = *(size_t *)ud, i;

	if (from % chunk != 0 || (to - from != chunk && to != 1000))
		bad_chunk = 1;
	for (i = from; i < to; i++)
		hits[i]++;
}

static int
each_once(size_t chunk, int jobs)
{
	size_t i;

	memset(hits, 0, sizeof(hits));
	bad_chunk = 0;
	if (arxiv_parallel_for(1000, chunk, jobs, count_items, &chunk) != 0)
		return 0;
	for (i = 0; i < 1000; i++)
		if (hits[i] != 1)
			return 0;
	return !bad_chunk;
}

int
main(void)
{
	struct job job[8];
	long total = 0;
	size_t n = 1000, t;
	int nt = 8, distinct = 1, once = 1;

	for (t = 0; t < (size_t)nt; t++)
		job[t] = (struct job){ n * t / (size_t)nt, n * (t + 1) / (size_t)nt, 0, 0, 0 };
	arxiv_parallel_run(work, job, sizeof(job[0]), nt);
	for (t = 0; t < (size_t)nt; t++) {
		total += job[t].sum;
		once &= job[t].runs == 1;
		if (t > 0 && pthread_equal(job[t].self, job[0].self))
			distinct = 0;
	}
	CHECK(once, "every job runs exactly once");
	CHECK(total == (long)(n * (n - 1) / 2), "the shares cover the range: %ld", total);
	CHECK(pthread_equal(job[0].self, pthread_self()), "the caller runs job 0");
	CHECK(distinct, "the other jobs run on other threads");
	arxiv_parallel_run(work, job, sizeof(job[0]), 1);
	CHECK(job[0].runs == 2 && job[1].runs == 1, "one job: just the caller");
	arxiv_parallel_run(work, job, sizeof(job[0]), 0);
	CHECK(job[0].runs == 2, "no jobs: nothing runs");

	CHECK(arxiv_threads(3, 0) == 3, "explicit count");
	CHECK(arxiv_threads(1000, 0) == 64, "at most 64");
	CHECK(arxiv_threads(8, 5) == 5, "at most one per item");
	CHECK(arxiv_threads(0, 0) == (sysconf(_SC_NPROCESSORS_ONLN) > 64 ? 64 :
	    (int)sysconf(_SC_NPROCESSORS_ONLN)), "0: the online CPUs");
	CHECK(each_once(64, 2) && each_once(7, 8) && each_once(1, 3) && each_once(1000, 4) &&
	    each_once(5000, 2) && each_once(64, 1) && each_once(64, 0),
	    "arxiv_parallel_for: every item once, in chunks of the size asked (any -j)");
	{
		size_t one = 1;

		CHECK(arxiv_parallel_for(0, 8, 2, count_items, &one) == 0, "n 0: nothing to do");
		CHECK(arxiv_parallel_for(10, 8, 2, NULL, NULL) == -1, "a NULL fn is refused");
	}
	return tap_done();
}

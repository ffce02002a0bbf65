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
	return tap_done();
}

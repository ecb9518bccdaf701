/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: a thread that blocks ~70% of its time in wait_here (nanosleep) and spins the rest. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "wait_line.h"

#define NS_PER_MS 1000000ull
/* The worker thread's name: the tracer's --comm filter selects it alone. */
#define WORKER_COMM "offcpu_wait"

struct run {
	unsigned long seconds, block_ms, spin_ms, long_ms, long_every, over_ms;
	uint64_t blocked_ns, blocks, cpu_ns, wall_ns;
	uint64_t over_ns;     /* in sleeps that lasted at least over_ms, from the call to the return */
	uint64_t long_blocks; /* sleeps of long_ms asked for */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: offcpu_workload [--seconds N] [--block-ms N] [--spin-ms N] [--long-ms N --long-every K]\n"
		   "                       [--over-ms N] [--timeout-seconds N]\n"
		   "  Prints \"ready PID\", waits for a line on stdin, then runs a thread named " WORKER_COMM "\n"
		   "  for N seconds (default 3): wait_here sleeps --block-ms (default 10) in nanosleep,\n"
		   "  then it spins --spin-ms of its own CPU time (default 4), over and over.\n"
		   "  Prints \"done blocked_ns NS blocks N cpu_ns NS wall_ns NS\": the wall time of its\n"
		   "  sleeps (its time off CPU, from the call to the return), how many, its CPU time and\n"
		   "  its run's wall time; then waits for a line (or EOF) on stdin before exiting.\n"
		   "  --long-ms: every K-th sleep lasts N ms instead. --over-ms: \"done\" adds\n"
		   "  \"over_ns NS long_blocks N\": the time of its sleeps that lasted at least N ms\n"
		   "  (call to return: scheduling delays around a sleep included) and the number of\n"
		   "  long sleeps (each is at least --long-ms off CPU in the kernel's view).\n");
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Sleeps in libc's nanosleep. libc is built without frame pointers: unwinding from the
 * syscall, the frame-pointer chain starts at the frame of the function that called into
 * libc (this one), whose own place in its caller is on that frame, so this function is
 * the frame the unwinder cannot name; wait_here, its caller, is on the chain.
 */
__attribute__((noinline)) static void nap(unsigned long ms)
{
	struct timespec left = { (time_t)(ms / 1000), (long)((ms % 1000) * NS_PER_MS) };

	while (nanosleep(&left, &left) && errno == EINTR)
		;
}

/* The known function the off-CPU time must be found in. */
__attribute__((noinline)) static uint64_t wait_here(unsigned long ms)
{
	uint64_t from = now_ns(CLOCK_MONOTONIC);

	nap(ms);
	return now_ns(CLOCK_MONOTONIC) - from;
}

__attribute__((noinline)) static void spin_here(unsigned long ms)
{
	uint64_t from = now_ns(CLOCK_THREAD_CPUTIME_ID);
	volatile uint64_t acc = 1;

	while (now_ns(CLOCK_THREAD_CPUTIME_ID) - from < ms * NS_PER_MS)
		for (int i = 0; i < 1000; i++)
			acc = acc * 6364136223846793005ull + 1;
}

static void *worker(void *arg)
{
	struct run *r = arg;
	uint64_t start, cpu_start;

	/* Named before anything is measured: its blocks count under this name only. */
	pthread_setname_np(pthread_self(), WORKER_COMM);
	start = now_ns(CLOCK_MONOTONIC);
	cpu_start = now_ns(CLOCK_THREAD_CPUTIME_ID);
	while (now_ns(CLOCK_MONOTONIC) - start < r->seconds * 1000 * NS_PER_MS) {
		bool long_one = r->long_every && (r->blocks + 1) % r->long_every == 0;
		uint64_t ns = wait_here(long_one ? r->long_ms : r->block_ms);

		r->blocked_ns += ns;
		r->blocks++;
		if (r->over_ms && ns >= r->over_ms * NS_PER_MS)
			r->over_ns += ns;
		r->long_blocks += long_one;
		spin_here(r->spin_ms);
	}
	r->cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
	r->wall_ns = now_ns(CLOCK_MONOTONIC) - start;
	return NULL;
}

static int parse_ul(const char *text, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	return (errno || *end || end == text || !*out) ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "block-ms", required_argument, NULL, 'b' },
		{ "spin-ms", required_argument, NULL, 'p' },
		{ "long-ms", required_argument, NULL, 'l' },
		{ "long-every", required_argument, NULL, 'e' },
		{ "over-ms", required_argument, NULL, 'o' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run r = { .seconds = 3, .block_ms = 10, .spin_ms = 4 };
	unsigned long timeout_s = 60;
	pthread_t thread;
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'b':
		case 'p':
		case 'l':
		case 'e':
		case 'o':
		case 't':
			if (parse_ul(optarg, c == 's' ? &r.seconds : c == 'b' ? &r.block_ms : c == 'p' ? &r.spin_ms
					     : c == 'l' ? &r.long_ms : c == 'e' ? &r.long_every : c == 'o' ? &r.over_ms
					     : &timeout_s)) {
				fprintf(stderr, "offcpu_workload: bad number %s\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	alarm((unsigned int)timeout_s);
	printf("ready %ld\n", (long)getpid());
	fflush(stdout);
	if (!wait_line()) {
		fprintf(stderr, "offcpu_workload: stdin closed before go\n");
		return 1;
	}
	err = pthread_create(&thread, NULL, worker, &r);
	if (err || (err = pthread_join(thread, NULL))) {
		fprintf(stderr, "offcpu_workload: thread: error %d\n", err);
		return 1;
	}
	printf("done blocked_ns %llu blocks %llu cpu_ns %llu wall_ns %llu", (unsigned long long)r.blocked_ns,
	       (unsigned long long)r.blocks, (unsigned long long)r.cpu_ns, (unsigned long long)r.wall_ns);
	if (r.over_ms)
		printf(" over_ns %llu long_blocks %llu", (unsigned long long)r.over_ns,
		       (unsigned long long)r.long_blocks);
	putchar('\n');
	fflush(stdout);
	(void)wait_line();
	return 0;
}

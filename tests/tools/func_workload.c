/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: calls work_unit (2 ms each) an exact number of times, for the user-space function probes. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ull
/* The sleep wakes this early and spins the rest, so a call lasts the asked time to a few us. */
#define SPIN_TAIL_NS 150000ull

static void usage(FILE *f)
{
	fprintf(f, "usage: func_workload [--calls N] [--sleep-us N] [--wait-go] [--timeout-seconds N]\n"
		   "  Calls work_unit N times (default 1000); each call lasts --sleep-us (default\n"
		   "  2000 us): a sleep, then a short spin to the exact deadline. It also calls\n"
		   "  work_helper N/10 times (a glob \"work_*\" finds both). Prints \"done N MEDIAN_NS\"\n"
		   "  (the median call time it measured itself). --wait-go prints \"ready PID\" and\n"
		   "  waits for a line on stdin first. SIGALRM ends it after --timeout-seconds (120).\n");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Not static and not inlined: it must be a function of its own in .symtab. */
__attribute__((noinline)) int work_helper(int x)
{
	return x * 3 + 1;
}

/* The probed function: lasts duration_ns from entry to return. */
__attribute__((noinline)) void work_unit(uint64_t duration_ns)
{
	uint64_t deadline = now_ns() + duration_ns;

	if (duration_ns > SPIN_TAIL_NS) {
		uint64_t wake = deadline - SPIN_TAIL_NS;
		struct timespec ts = { (time_t)(wake / NS_PER_S), (long)(wake % NS_PER_S) };

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	while (now_ns() < deadline)
		;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool parse_ulong(const char *text, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	return !errno && !*end && end != text && *out > 0 && *out <= max;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "calls", required_argument, NULL, 'n' },
		{ "sleep-us", required_argument, NULL, 's' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long calls = 1000, sleep_us = 2000, timeout_s = 120;
	bool wait_go = false;
	uint64_t *took;
	volatile int sink = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
		case 's':
		case 't': {
			unsigned long v;

			if (!parse_ulong(optarg, 10000000ul, &v)) {
				fprintf(stderr, "func_workload: bad number '%s'\n", optarg);
				return 2;
			}
			if (c == 'n')
				calls = v;
			else if (c == 's')
				sleep_us = v;
			else
				timeout_s = v;
			break;
		}
		case 'g':
			wait_go = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Never hang a test: the default SIGALRM action ends the process. */
	alarm((unsigned int)timeout_s);
	/* The default 50 us timer slack would make each sleep late by up to that much. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	took = calloc(calls, sizeof(*took));
	if (!took) {
		fprintf(stderr, "func_workload: out of memory\n");
		return 1;
	}

	if (wait_go) {
		char line[64];

		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "func_workload: stdin closed before go\n");
			free(took);
			return 1;
		}
	}

	for (unsigned long i = 0; i < calls; i++) {
		uint64_t t0 = now_ns();

		work_unit((uint64_t)sleep_us * 1000);
		took[i] = now_ns() - t0;
		if (i % 10 == 0)
			sink += work_helper((int)i);
	}
	qsort(took, calls, sizeof(*took), cmp_u64);
	printf("done %lu %llu\n", calls, (unsigned long long)took[calls / 2]);
	fflush(stdout);
	free(took);
	return sink == -1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers of the bench workloads: argument parsing, clocks and the result line. */
#ifndef TRACECTL_BENCH_COMMON_H
#define TRACECTL_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The run length in seconds from argv[1] (default 5); exits 2 on a bad value. */
static inline double bench_duration(int argc, char **argv, const char *usage)
{
	double d = 5.0;
	char *end;

	if (argc > 1) {
		d = strtod(argv[1], &end);
		if (*end || d <= 0) {
			fprintf(stderr, "usage: %s\n", usage);
			exit(2);
		}
	}
	return d;
}

/* The one line the scripts parse: "NAME ops_per_s=X ops=N seconds=S". */
static inline void bench_report(const char *name, unsigned long long ops, double seconds)
{
	printf("%s ops_per_s=%.0f ops=%llu seconds=%.3f\n", name, (double)ops / seconds, ops, seconds);
	fflush(stdout);
}

#endif

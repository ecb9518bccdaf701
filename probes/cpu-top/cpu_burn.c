/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: spins for an exact amount of its own CPU time, or sleeps in short naps. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "wait_line.h"

#define NS_PER_MS 1000000ull

static void usage(FILE *f)
{
	fprintf(f, "usage: cpu_burn (--cpu-ms N | --sleep-ms N [--nap-ms N]) [--wait-go] [--timeout-seconds N]\n"
		   "  --cpu-ms: spins until the process has used N ms more CPU time (CLOCK_PROCESS_CPUTIME_ID).\n"
		   "  --sleep-ms: sleeps N ms in naps of --nap-ms (default 10, below 1000).\n"
		   "  Prints \"done CPU_NS NAPS\": its CPU time over the spin or the sleep, naps taken; then\n"
		   "  waits for a line (or EOF) on stdin before exiting.\n"
		   "  --wait-go prints \"ready PID\" and waits for a line on stdin first, and after\n"
		   "  \"done\" prints \"cpu CPU_NS\": its CPU time since \"ready\", all it ran while traced.\n");
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_ul(const char *text, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	return (errno || *end || end == text) ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cpu-ms", required_argument, NULL, 'c' },
		{ "sleep-ms", required_argument, NULL, 's' },
		{ "nap-ms", required_argument, NULL, 'n' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long cpu_ms = 0, sleep_ms = 0, nap_ms = 10, timeout_s = 60, naps = 0;
	volatile uint64_t acc = 1;
	uint64_t start, used, idle_from = 0;
	bool wait_go = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'g': wait_go = true; break;
		case 'c':
		case 's':
		case 'n':
		case 't':
			if (parse_ul(optarg, c == 'c' ? &cpu_ms : c == 's' ? &sleep_ms : c == 'n' ? &nap_ms : &timeout_s)) {
				fprintf(stderr, "cpu_burn: bad number %s\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if ((!cpu_ms) == (!sleep_ms) || nap_ms == 0 || nap_ms >= 1000 || timeout_s == 0) {
		usage(stderr);
		return 2;
	}
	alarm((unsigned int)timeout_s);
	if (wait_go) {
		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		/* From here on every CPU nanosecond is this run's: the tracer attaches while we
		 * wait for go, and "cpu" below covers all of it up to the final wait. */
		idle_from = cpu_ns();
		if (!wait_line()) {
			fprintf(stderr, "cpu_burn: stdin closed before go\n");
			return 1;
		}
	}
	start = cpu_ns();
	if (cpu_ms) {
		while (cpu_ns() - start < cpu_ms * NS_PER_MS)
			for (int i = 0; i < 10000; i++)
				acc = acc * 6364136223846793005ull + 1;
	} else {
		for (; naps < sleep_ms / nap_ms; naps++) {
			struct timespec nap = { 0, (long)(nap_ms * NS_PER_MS) };

			while (nanosleep(&nap, &nap) && errno == EINTR)
				;
		}
	}
	used = cpu_ns() - start;
	printf("done %llu %lu\n", (unsigned long long)used, naps);
	fflush(stdout);
	if (wait_go) {
		/* Since "ready", the wakeup for go and the printing included (warm by now). */
		printf("cpu %llu\n", (unsigned long long)(cpu_ns() - idle_from));
		fflush(stdout);
	}
	(void)wait_line();
	return 0;
}

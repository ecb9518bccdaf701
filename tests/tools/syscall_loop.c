/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: calls getppid() through syscall(2) exactly N times (no libc caching), then
 * nanosleep() of a set length M times, timing both with its own clock. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: syscall_loop [--count N] [--sleeps M --sleep-us U] [--wait-go] [--timeout-seconds N]\n"
		   "  Calls syscall(SYS_getppid) exactly N (default 10000) times, then\n"
		   "  syscall(SYS_nanosleep) of U microseconds M (default 0) times, and prints\n"
		   "  \"done N LOOP_NS M SLEEPS_NS MAX_SLEEP_NS\": the CLOCK_MONOTONIC time around the\n"
		   "  whole getppid loop, around all the sleeps, and around the longest one.\n"
		   "  --wait-go prints \"ready PID\" and waits for a line on stdin first.\n"
		   "  SIGALRM ends it after --timeout-seconds (default 60).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "sleeps", required_argument, NULL, 's' },
		{ "sleep-us", required_argument, NULL, 'u' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long count = 10000, timeout_s = 60, sleeps = 0, sleep_us = 0, v;
	uint64_t t0, loop_ns, sleeps_ns, max_sleep_ns = 0;
	bool wait_go = false;
	unsigned long failed = 0;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
		case 't':
		case 's':
		case 'u':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || v > 100000000ul) {
				fprintf(stderr, "syscall_loop: bad number '%s'\n", optarg);
				return 2;
			}
			*(c == 'n' ? &count : c == 't' ? &timeout_s : c == 's' ? &sleeps : &sleep_us) = v;
			break;
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
	if (optind != argc || (sleeps > 0) != (sleep_us > 0)) {
		usage(stderr);
		return 2;
	}
	/* Sleeps end when asked, not up to the default 50 us of timer slack later. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	/* Never hang a test: the default SIGALRM action ends the process. */
	alarm((unsigned int)timeout_s);

	if (wait_go) {
		char line[64];

		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "syscall_loop: stdin closed before go\n");
			return 1;
		}
	}

	t0 = now_ns();
	for (unsigned long i = 0; i < count; i++)
		if (syscall(SYS_getppid) < 0)
			failed++;
	loop_ns = now_ns() - t0;
	t0 = now_ns();
	for (unsigned long i = 0; i < sleeps; i++) {
		struct timespec req = { .tv_sec = (time_t)(sleep_us / 1000000),
					.tv_nsec = (long)(sleep_us % 1000000) * 1000 };
		uint64_t start = now_ns(), took;

		/* One call each: an interrupted sleep would split the set length in two calls. */
		if (syscall(SYS_nanosleep, &req, NULL) < 0)
			failed++;
		took = now_ns() - start;
		if (took > max_sleep_ns)
			max_sleep_ns = took;
	}
	sleeps_ns = now_ns() - t0;
	printf("done %lu %llu %lu %llu %llu\n", count, (unsigned long long)loop_ns, sleeps,
	       (unsigned long long)sleeps_ns, (unsigned long long)max_sleep_ns);
	fflush(stdout);
	return failed ? 1 : 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: burns CPU in spin_here for a few seconds, for the stack-sampling profile probe. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ull
/* Iterations between clock reads: the time spent in clock_gettime (vDSO) stays negligible. */
#define SPIN_BATCH 2000000ul

static void usage(FILE *f)
{
	fprintf(f, "usage: spin_workload [--seconds N] [--wait-go] [--timeout-seconds N]\n"
		   "  Spins in the function spin_here (called from spin_outer) for N seconds\n"
		   "  (default 3), prints \"done ITERATIONS cpu_ns T switches K\" (its CPU time and\n"
		   "  context switches over the spin), then waits for a line (or EOF) on\n"
		   "  stdin before exiting, so its memory maps can still be read by a profiler.\n"
		   "  --wait-go prints \"ready PID\" and waits for a line on stdin first.\n"
		   "  SIGALRM ends it after --timeout-seconds (default 120).\n");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Not static, not inlined: the frame the profile test looks for by name. */
__attribute__((noinline)) uint64_t spin_here(uint64_t seconds)
{
	uint64_t deadline = now_ns() + seconds * NS_PER_S, iterations = 0;
	volatile uint64_t acc = 1;

	while (now_ns() < deadline) {
		for (unsigned long i = 0; i < SPIN_BATCH; i++)
			acc = acc * 6364136223846793005ull + 1442695040888963407ull;
		iterations += SPIN_BATCH;
	}
	return iterations + (acc & 1);
}

/* A caller of our own, so the sampled user stack is more than one frame deep. */
__attribute__((noinline)) uint64_t spin_outer(uint64_t seconds)
{
	return spin_here(seconds);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long seconds = 3, timeout_s = 120;
	bool wait_go = false;
	char line[64];
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
		case 't': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || v > 3600) {
				fprintf(stderr, "spin_workload: bad number '%s'\n", optarg);
				return 2;
			}
			if (c == 's')
				seconds = v;
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

	if (wait_go) {
		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "spin_workload: stdin closed before go\n");
			return 1;
		}
	}
	{
		struct rusage r0, r1;
		struct timespec c0, c1;
		uint64_t iterations;

		/* The CPU time and the times it left the CPU, as the kernel counts them for this
		 * thread: what a sampler at F Hz per CPU should see, and how many run stretches
		 * (each sampled once more or less than its length says) that time came in. */
		getrusage(RUSAGE_THREAD, &r0);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
		iterations = spin_outer(seconds);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		getrusage(RUSAGE_THREAD, &r1);
		printf("done %llu cpu_ns %lld switches %ld\n", (unsigned long long)iterations,
		       (long long)(c1.tv_sec - c0.tv_sec) * NS_PER_S + (c1.tv_nsec - c0.tv_nsec),
		       (r1.ru_nvcsw - r0.ru_nvcsw) + (r1.ru_nivcsw - r0.ru_nivcsw));
	}
	fflush(stdout);
	/* stay mapped until told (or stdin closes) */
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return 0;
}

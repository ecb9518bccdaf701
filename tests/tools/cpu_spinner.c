/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: N CPU-bound threads for S seconds, so threads wait on the run queues. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: cpu_spinner [--threads N] [--seconds S] [--wait-go] [--timeout-seconds N]\n"
		   "  Runs N (default: 2 per online CPU) threads that spin for S (default 3) seconds,\n"
		   "  then prints \"done N LOOPS\". With more threads than CPUs every thread keeps\n"
		   "  being preempted and waits on a run queue. --wait-go prints \"ready PID\" and\n"
		   "  waits for a line on stdin first. SIGALRM ends it after --timeout-seconds\n"
		   "  (default 60).\n");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t spin_until_ns;

static void *spin(void *arg)
{
	volatile uint64_t loops = 0;

	(void)arg;
	while (now_ns() < spin_until_ns)
		for (int i = 0; i < 10000; i++)
			loops++;
	return (void *)(uintptr_t)loops;
}

static int parse_ulong(const char *name, const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || end == text || v == 0 || v > max) {
		fprintf(stderr, "cpu_spinner: bad --%s '%s' (1..%lu)\n", name, text, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long threads = 0, seconds = 3, timeout_s = 60;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	bool wait_go = false;
	pthread_t tids[256];
	uint64_t total = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_ulong("threads", optarg, 256, &threads))
				return 2;
			break;
		case 's':
			if (parse_ulong("seconds", optarg, 3600, &seconds))
				return 2;
			break;
		case 't':
			if (parse_ulong("timeout-seconds", optarg, 86400, &timeout_s))
				return 2;
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
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!threads)
		threads = cpus > 0 && cpus <= 128 ? 2 * (unsigned long)cpus : 4;
	/* Never hang a test: the default SIGALRM action ends the process. */
	alarm((unsigned int)timeout_s);

	if (wait_go) {
		char line[64];

		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "cpu_spinner: stdin closed before go\n");
			return 1;
		}
	}

	spin_until_ns = now_ns() + (uint64_t)seconds * 1000000000ull;
	for (unsigned long i = 0; i < threads; i++) {
		int err = pthread_create(&tids[i], NULL, spin, NULL);

		if (err) {
			fprintf(stderr, "cpu_spinner: thread %lu: %s\n", i, strerror(err));
			return 1;
		}
	}
	for (unsigned long i = 0; i < threads; i++) {
		void *loops;

		pthread_join(tids[i], &loops);
		total += (uint64_t)(uintptr_t)loops;
	}
	printf("done %lu %llu\n", threads, (unsigned long long)total);
	fflush(stdout);
	return 0;
}

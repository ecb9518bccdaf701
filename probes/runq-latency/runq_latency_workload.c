/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ground-truth workload for runq-latency: run-queue waits whose length the test sets.
 *
 * Two processes share one CPU. The "waiter" (this process, SCHED_OTHER, the one the test
 * traces) blocks reading a pipe. The "holder" (a child, SCHED_FIFO) writes a timestamp
 * into the pipe, which wakes the waiter onto that CPU's run queue, then spins for
 * exactly --wait-ms. A real-time task always runs before a fair one, so every wakeup
 * waits on the run queue for the whole spin, whatever the fair scheduler's slice: N waits
 * of about D ms each. The waiter measures each wait itself (write time to the time its
 * read returns) and acknowledges it. Before the next round the holder sleeps --gap-ms at
 * a time until it has the acknowledgement and sees the waiter asleep again (state S in
 * /proc), so no two rounds can merge into one wait however loaded the machine is: every
 * round is one wakeup. (The holder polls rather than blocks on the acknowledgement: a
 * wakeup would preempt the waiter and give it a second, short wait in every round.)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 100000

static void usage(FILE *f)
{
	fprintf(f, "usage: runq_latency_workload [--cpu N] [--wait-ms D] [--gap-ms G] [--rounds N]\n"
		   "                             [--wait-go] [--timeout-seconds S]\n"
		   "  On CPU N (default: the last online one), a SCHED_FIFO child wakes this\n"
		   "  process N times (default 200) and holds the CPU D ms (default 5) after each\n"
		   "  wakeup, then sleeps G ms (default 3) until this process acknowledged. Prints \"ready PID\" (with --wait-go, then\n"
		   "  waits for a line on stdin), and at the end\n"
		   "  \"done ROUNDS P50_NS MIN_NS MAX_NS LONG\": the waits this process measured\n"
		   "  itself, LONG = how many lasted at least D. Exit 77 when SCHED_FIFO or the CPU\n"
		   "  pinning is refused (the reason goes to stderr). SIGALRM ends it after S\n"
		   "  seconds (default 60).\n");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_ulong(const char *name, const char *text, unsigned long min, unsigned long max,
		       unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || end == text || v < min || v > max) {
		fprintf(stderr, "runq_latency_workload: bad --%s '%s' (%lu..%lu)\n", name, text, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int pin_to_cpu(unsigned long cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* This task's run-queue wait (ns) and switch-ins so far, as the scheduler counts them. */
static int read_schedstat(unsigned long long *wait_ns, unsigned long long *slices)
{
	unsigned long long on_cpu;
	FILE *f = fopen("/proc/thread-self/schedstat", "re");
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "%llu %llu %llu", &on_cpu, wait_ns, slices);
	fclose(f);
	return n == 3 ? 0 : -EINVAL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool write_full(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len) == (ssize_t)len;
}

static bool read_full(int fd, void *buf, size_t len)
{
	return read(fd, buf, len) == (ssize_t)len;
}

/* Whether the task whose /proc/PID/stat is open on stat_fd sleeps (state S), or -1. */
static int task_sleeps(int stat_fd)
{
	char buf[512];
	ssize_t n = pread(stat_fd, buf, sizeof(buf) - 1, 0);
	char *paren;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold spaces and parentheses, the last ')' ends it. */
	paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ')
		return -1;
	return paren[2] == 'S';
}

/* The child: real-time on the shared CPU; wakes the waiter and holds the CPU. Never returns. */
static void run_holder(int go_fd, int wake_fd, int ack_fd, unsigned long rounds, uint64_t hold_ns, uint64_t gap_ns)
{
	struct sched_param sp = { .sched_priority = 1 };
	struct timespec gap = { .tv_sec = (time_t)(gap_ns / 1000000000ull),
				.tv_nsec = (long)(gap_ns % 1000000000ull) };
	int32_t setup_err = 0;
	char go;

	char stat_path[64];
	int stat_fd;

	snprintf(stat_path, sizeof(stat_path), "/proc/%ld/stat", (long)getppid());
	stat_fd = open(stat_path, O_RDONLY | O_CLOEXEC);
	if (stat_fd < 0)
		setup_err = errno;
	else if (sched_setscheduler(0, SCHED_FIFO, &sp))
		setup_err = errno;
	/* The first message says whether we hold a real-time priority. */
	if (!write_full(wake_fd, &setup_err, sizeof(setup_err)) || setup_err)
		_exit(setup_err ? 77 : 1);
	if (!read_full(go_fd, &go, 1))
		_exit(1);
	for (unsigned long i = 0; i < rounds; i++) {
		/* The gap first: the waiter must be asleep in read() before it is woken. */
		nanosleep(&gap, NULL);
		uint64_t woke = now_ns();

		if (!write_full(wake_fd, &woke, sizeof(woke)))
			_exit(1);
		while (now_ns() - woke < hold_ns)
			;
		while (read(ack_fd, &go, 1) != 1) {
			if (errno != EAGAIN)
				_exit(1);
			nanosleep(&gap, NULL);
		}
		/* Acknowledged: now wait until it blocks in read() again. */
		for (int sleeps; (sleeps = task_sleeps(stat_fd)) != 1;) {
			if (sleeps < 0)
				_exit(1);
			nanosleep(&gap, NULL);
		}
	}
	nanosleep(&gap, NULL);
	uint64_t end = 0;

	_exit(write_full(wake_fd, &end, sizeof(end)) ? 0 : 1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cpu", required_argument, NULL, 'c' },
		{ "wait-ms", required_argument, NULL, 'd' },
		{ "gap-ms", required_argument, NULL, 'g' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "wait-go", no_argument, NULL, 'w' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned long cpu = ncpus > 0 ? (unsigned long)ncpus - 1 : 0;
	unsigned long wait_ms = 5, gap_ms = 3, rounds = 200, timeout_s = 60;
	int go_pipe[2] = { -1, -1 }, wake_pipe[2] = { -1, -1 }, ack_pipe[2] = { -1, -1 };
	uint64_t *waits = NULL;
	unsigned long got = 0, long_waits = 0;
	bool wait_go = false;
	int32_t setup_err;
	int c, ret = 1, status, holder_status = 0;
	pid_t holder = -1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_ulong("cpu", optarg, 0, CPU_SETSIZE - 1, &cpu))
				return 2;
			break;
		case 'd':
			if (parse_ulong("wait-ms", optarg, 1, 1000, &wait_ms))
				return 2;
			break;
		case 'g':
			if (parse_ulong("gap-ms", optarg, 1, 1000, &gap_ms))
				return 2;
			break;
		case 'n':
			if (parse_ulong("rounds", optarg, 1, MAX_ROUNDS, &rounds))
				return 2;
			break;
		case 'w':
			wait_go = true;
			break;
		case 't':
			if (parse_ulong("timeout-seconds", optarg, 1, 86400, &timeout_s))
				return 2;
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
	/* Never hang a test: the default SIGALRM action ends the process (the child too, below). */
	alarm((unsigned int)timeout_s);

	int err = pin_to_cpu(cpu);

	if (err) {
		fprintf(stderr, "runq_latency_workload: cannot pin to CPU %lu: %s\n", cpu, strerror(-err));
		return 77;
	}
	waits = calloc(rounds, sizeof(*waits));
	if (!waits || pipe2(go_pipe, O_CLOEXEC) || pipe2(wake_pipe, O_CLOEXEC) ||
	    pipe2(ack_pipe, O_CLOEXEC | O_NONBLOCK)) {
		perror("runq_latency_workload: setup");
		goto cleanup;
	}
	holder = fork();
	if (holder < 0) {
		perror("runq_latency_workload: fork");
		goto cleanup;
	}
	if (holder == 0) {
		alarm((unsigned int)timeout_s);
		run_holder(go_pipe[0], wake_pipe[1], ack_pipe[0], rounds, (uint64_t)wait_ms * 1000000ull,
			   (uint64_t)gap_ms * 1000000ull);
	}
	if (!read_full(wake_pipe[0], &setup_err, sizeof(setup_err))) {
		fprintf(stderr, "runq_latency_workload: the holder process died during setup\n");
		goto cleanup;
	}
	if (setup_err) {
		fprintf(stderr, "runq_latency_workload: SCHED_FIFO refused: %s\n", strerror(setup_err));
		ret = 77;
		goto cleanup;
	}

	printf("ready %ld\n", (long)getpid());
	fflush(stdout);
	if (wait_go) {
		char line[64];

		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "runq_latency_workload: stdin closed before go\n");
			goto cleanup;
		}
	}
	unsigned long long wait0 = 0, slices0 = 0, wait1 = 0, slices1 = 0;
	bool schedstat = read_schedstat(&wait0, &slices0) == 0;

	if (!write_full(go_pipe[1], "g", 1))
		goto cleanup;
	for (;;) {
		uint64_t woke;

		if (!read_full(wake_pipe[0], &woke, sizeof(woke))) {
			fprintf(stderr, "runq_latency_workload: the holder process died after %lu rounds\n", got);
			goto cleanup;
		}
		uint64_t ran = now_ns();

		if (woke == 0)
			break;
		if (got < rounds)
			waits[got++] = ran - woke;
		if (!write_full(ack_pipe[1], "a", 1))
			goto cleanup;
	}
	if (got == 0) {
		fprintf(stderr, "runq_latency_workload: the holder ended before any round\n");
		goto cleanup;
	}
	/* The holder's exit wakes this process too: reap it before the last schedstat read. */
	if (waitpid(holder, &status, 0) == holder) {
		holder_status = status;
		holder = -1;
	}
	if (schedstat)
		schedstat = read_schedstat(&wait1, &slices1) == 0;
	for (unsigned long i = 0; i < got; i++)
		long_waits += waits[i] >= (uint64_t)wait_ms * 1000000ull;
	qsort(waits, got, sizeof(*waits), cmp_u64);
	printf("done %lu %llu %llu %llu %lu\n", got, (unsigned long long)waits[got / 2],
	       (unsigned long long)waits[0], (unsigned long long)waits[got - 1], long_waits);
	if (schedstat)
		printf("schedstat %llu %llu\n", wait1 - wait0, slices1 - slices0);
	fflush(stdout);
	ret = got == rounds ? 0 : 1;

cleanup:
	if (holder > 0) {
		if (ret != 0)
			kill(holder, SIGKILL);
		if (waitpid(holder, &status, 0) == holder)
			holder_status = status;
	}
	if (ret == 0 && !(WIFEXITED(holder_status) && WEXITSTATUS(holder_status) == 0))
		ret = 1;
	for (int i = 0; i < 2; i++) {
		if (go_pipe[i] >= 0)
			close(go_pipe[i]);
		if (wake_pipe[i] >= 0)
			close(wake_pipe[i]);
		if (ack_pipe[i] >= 0)
			close(ack_pipe[i]);
	}
	free(waits);
	return ret;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Workload: two processes pinned to one CPU bounce a byte over pipes, prints round trips per second. */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("sched_setaffinity");
}

int main(int argc, char **argv)
{
	double secs = bench_duration(argc, argv, "bench-pipe-pingpong [SECONDS] [CPU]");
	int cpu = argc > 2 ? atoi(argv[2]) : 0;
	int ping[2], pong[2];
	unsigned long long ops = 0;
	double t0, t;
	char c = 'x';
	pid_t child;

	if (pipe(ping) || pipe(pong)) {
		perror("pipe");
		return 1;
	}
	pin(cpu);
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		/* echo until the parent closes its end */
		close(ping[1]);
		close(pong[0]);
		while (read(ping[0], &c, 1) == 1)
			if (write(pong[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	close(ping[0]);
	close(pong[1]);
	t0 = bench_now();
	do {
		for (int i = 0; i < 256; i++) {
			if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1) {
				perror("ping-pong");
				return 1;
			}
		}
		ops += 256;
		t = bench_now();
	} while (t - t0 < secs);
	close(ping[1]);
	waitpid(child, NULL, 0);
	bench_report("pipe_pingpong", ops, t - t0);
	return 0;
}

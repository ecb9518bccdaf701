/* SPDX-License-Identifier: Apache-2.0 */
/* Workload: fork + exec of /bin/true in a loop, prints execs per second. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"

int main(int argc, char **argv)
{
	double secs = bench_duration(argc, argv, "bench-fork-exec [SECONDS]");
	double t0 = bench_now(), t;
	unsigned long long ops = 0;

	do {
		pid_t pid = fork();
		int status;

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "bench-fork-exec: /bin/true failed\n");
			return 1;
		}
		ops++;
		t = bench_now();
	} while (t - t0 < secs);
	bench_report("fork_exec", ops, t - t0);
	return 0;
}

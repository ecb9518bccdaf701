/* SPDX-License-Identifier: Apache-2.0 */
/* Workload: a getpid(2) loop (the cheapest system call), prints calls per second. */
#include <sys/syscall.h>
#include <unistd.h>

#include "bench_common.h"

int main(int argc, char **argv)
{
	double secs = bench_duration(argc, argv, "bench-getpid [SECONDS]");
	double t0 = bench_now(), t;
	unsigned long long ops = 0;

	/* print the pid first so a script can filter on it before the loop matters */
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	do {
		for (int i = 0; i < 4096; i++)
			syscall(SYS_getpid);
		ops += 4096;
		t = bench_now();
	} while (t - t0 < secs);
	bench_report("getpid", ops, t - t0);
	return 0;
}

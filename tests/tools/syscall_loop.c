/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: calls getppid() through syscall(2) exactly N times (no libc caching). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: syscall_loop [--count N] [--wait-go] [--timeout-seconds N]\n"
		   "  Calls syscall(SYS_getppid) exactly N (default 10000) times, then prints\n"
		   "  \"done N\". --wait-go prints \"ready PID\" and waits for a line on stdin first.\n"
		   "  SIGALRM ends it after --timeout-seconds (default 60).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long count = 10000, timeout_s = 60, v;
	bool wait_go = false;
	unsigned long failed = 0;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
		case 't':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || v > 100000000ul) {
				fprintf(stderr, "syscall_loop: bad --%s '%s'\n", c == 'n' ? "count" : "timeout-seconds",
					optarg);
				return 2;
			}
			if (c == 'n')
				count = v;
			else
				timeout_s = v;
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

	for (unsigned long i = 0; i < count; i++)
		if (syscall(SYS_getppid) < 0)
			failed++;
	printf("done %lu\n", count);
	fflush(stdout);
	return failed ? 1 : 0;
}

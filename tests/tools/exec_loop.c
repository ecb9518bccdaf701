/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: fork+execs a program a known number of times, with known arguments. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 64
#define LONG_ARGS 25   /* more than the exec probe's 20 */
#define LONG_ARG_LEN 300 /* more than the exec probe's 199 bytes per argument */

/* In .rodata: a forked child has not mapped these pages when it calls execve (fork
 * copies no page tables of file mappings without private pages), which is the case
 * where a probe reading argv at syscall entry cannot read it. */
static const char literal_a1[] = "a1";
static const char literal_b2[] = "b2";

static void usage(FILE *f)
{
	fprintf(f, "usage: exec_loop --program PATH [--count N] [--literal-count N] [--missing-path PATH]\n"
		   "                 [--missing-count N] [--long-program PATH] [--long-count N]\n"
		   "                 [--wait-go] [--timeout-seconds N] [-- ARG...]\n"
		   "  Forks and execs, one at a time, waiting for each child:\n"
		   "  PATH with argv {PATH, ARG...} --count times (arguments on the stack);\n"
		   "  PATH with argv {PATH, \"a1\", \"b2\"} --literal-count times (arguments in .rodata);\n"
		   "  --missing-path (which must not exist; execve fails with ENOENT) --missing-count times,\n"
		   "  with argv {PATH, \"a1\", \"b2\"} from .rodata;\n"
		   "  --long-program with 25 arguments of 300 'x' --long-count times.\n"
		   "  Prints \"done OK FAILED\": children that exited 0, execs that failed.\n"
		   "  --wait-go prints \"ready PID\" and waits for a line on stdin first.\n");
}

static int parse_count(const char *text, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	return (errno || *end || end == text) ? -EINVAL : 0;
}

/* Runs one child; returns its exit status (127 when the exec failed) or -errno. */
static int run_child(const char *path, char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execv(path, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "program", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "literal-count", required_argument, NULL, 'l' },
		{ "missing-path", required_argument, NULL, 'm' },
		{ "missing-count", required_argument, NULL, 'M' },
		{ "long-program", required_argument, NULL, 'L' },
		{ "long-count", required_argument, NULL, 'N' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *program = NULL, *missing = NULL, *long_program = NULL;
	unsigned long count = 0, literal_count = 0, missing_count = 0, long_count = 0, timeout_s = 120;
	char *args[MAX_ARGS + 2], *literal[4], *long_args[LONG_ARGS + 2];
	static char long_text[LONG_ARGS][LONG_ARG_LEN + 1];
	unsigned long ok = 0, failed = 0, i;
	bool wait_go = false;
	int c, nargs, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': program = optarg; break;
		case 'm': missing = optarg; break;
		case 'L': long_program = optarg; break;
		case 'g': wait_go = true; break;
		case 'n':
		case 'l':
		case 'M':
		case 'N':
		case 't': {
			unsigned long *dst = c == 'n' ? &count : c == 'l' ? &literal_count :
					     c == 'M' ? &missing_count : c == 'N' ? &long_count : &timeout_s;

			if (parse_count(optarg, dst)) {
				fprintf(stderr, "exec_loop: bad number %s\n", optarg);
				return 2;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	nargs = argc - optind;
	if (!program || nargs > MAX_ARGS || timeout_s == 0) {
		usage(stderr);
		return 2;
	}
	alarm((unsigned int)timeout_s);

	args[0] = (char *)program;
	for (int k = 0; k < nargs; k++)
		args[k + 1] = argv[optind + k];
	args[nargs + 1] = NULL;
	literal[0] = (char *)program;
	literal[1] = (char *)literal_a1;
	literal[2] = (char *)literal_b2;
	literal[3] = NULL;
	long_args[0] = (char *)long_program;
	for (int k = 0; k < LONG_ARGS; k++) {
		memset(long_text[k], 'x', LONG_ARG_LEN);
		long_args[k + 1] = long_text[k];
	}
	long_args[LONG_ARGS + 1] = NULL;

	if (wait_go) {
		char line[64];

		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "exec_loop: stdin closed before go\n");
			return 1;
		}
	}

	for (i = 0; i < count + literal_count + missing_count + long_count; i++) {
		if (i < count)
			rc = run_child(program, args);
		else if (i < count + literal_count)
			rc = run_child(program, literal);
		else if (i < count + literal_count + missing_count)
			rc = run_child(missing ? missing : "/nonexistent/exec_loop", literal);
		else
			rc = run_child(long_program ? long_program : program, long_args);
		if (rc < 0) {
			fprintf(stderr, "exec_loop: fork/wait: %s\n", strerror(-rc));
			return 1;
		}
		if (rc == 0)
			ok++;
		else if (rc == 127)
			failed++;
		else
			fprintf(stderr, "exec_loop: child exited %d\n", rc);
	}
	printf("done %lu %lu\n", ok, failed);
	fflush(stdout);
	return 0;
}

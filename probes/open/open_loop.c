/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: opens known paths a known number of times through open, openat and openat2. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC)

/* struct open_how of linux/openat2.h, spelled out: the header is not everywhere. */
struct how {
	uint64_t flags, mode, resolve;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: open_loop --path PATH [--count N] [--missing-path PATH] [--missing-count N]\n"
		   "                 [--open-path PATH] [--open-count N] [--openat2-path PATH]\n"
		   "                 [--openat2-count N] [--wait-go] [--timeout-seconds N]\n"
		   "  Opens and closes, with O_RDONLY|O_CLOEXEC: --path --count times with openat(2);\n"
		   "  --missing-path (which must not exist) --missing-count times with openat(2);\n"
		   "  --open-path --open-count times with open(2) (where the architecture has it);\n"
		   "  --openat2-path --openat2-count times with openat2(2) (where the kernel has it).\n"
		   "  Prints \"done OPENAT MISSING OPEN OPENAT2\": the calls that went as intended\n"
		   "  (succeeded, or failed with ENOENT for the missing path); a call that the\n"
		   "  architecture or kernel lacks is not counted.\n"
		   "  --wait-go prints \"ready PID\" and waits for a line on stdin first.\n");
}

static int parse_count(const char *text, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	return (errno || *end || end == text) ? -EINVAL : 0;
}

/* 1 when fd is an open file (closed here), 0 otherwise (errno kept). */
static int took(long fd)
{
	if (fd < 0)
		return 0;
	close((int)fd);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "missing-path", required_argument, NULL, 'm' },
		{ "missing-count", required_argument, NULL, 'M' },
		{ "open-path", required_argument, NULL, 'o' },
		{ "open-count", required_argument, NULL, 'O' },
		{ "openat2-path", required_argument, NULL, 'a' },
		{ "openat2-count", required_argument, NULL, 'A' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *missing = NULL, *open_path = NULL, *openat2_path = NULL;
	unsigned long count = 0, missing_count = 0, open_count = 0, openat2_count = 0, timeout_s = 120;
	unsigned long n_openat = 0, n_missing = 0, n_open = 0, n_openat2 = 0, i;
	struct how how = { .flags = OPEN_FLAGS };
	bool wait_go = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		unsigned long *num = NULL;

		switch (c) {
		case 'p': path = optarg; break;
		case 'm': missing = optarg; break;
		case 'o': open_path = optarg; break;
		case 'a': openat2_path = optarg; break;
		case 'g': wait_go = true; break;
		case 'n': num = &count; break;
		case 'M': num = &missing_count; break;
		case 'O': num = &open_count; break;
		case 'A': num = &openat2_count; break;
		case 't': num = &timeout_s; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (num && parse_count(optarg, num)) {
			fprintf(stderr, "open_loop: bad number %s\n", optarg);
			return 2;
		}
	}
	if (!path || (missing_count && !missing) || (open_count && !open_path) ||
	    (openat2_count && !openat2_path) || timeout_s == 0) {
		usage(stderr);
		return 2;
	}
	alarm((unsigned int)timeout_s);

	if (wait_go) {
		char line[64];

		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "open_loop: stdin closed before go\n");
			return 1;
		}
	}

	/* The system calls themselves, not libc wrappers that may pick another one. */
	for (i = 0; i < count; i++)
		n_openat += took(syscall(SYS_openat, AT_FDCWD, path, OPEN_FLAGS));
	for (i = 0; i < missing_count; i++)
		n_missing += !took(syscall(SYS_openat, AT_FDCWD, missing, OPEN_FLAGS)) && errno == ENOENT;
#ifdef SYS_open
	for (i = 0; i < open_count; i++)
		n_open += took(syscall(SYS_open, open_path, OPEN_FLAGS));
#endif
#ifdef SYS_openat2
	for (i = 0; i < openat2_count; i++)
		n_openat2 += took(syscall(SYS_openat2, AT_FDCWD, openat2_path, &how, sizeof(how)));
#endif
	printf("done %lu %lu %lu %lu\n", n_openat, n_missing, n_open, n_openat2);
	fflush(stdout);
	return 0;
}

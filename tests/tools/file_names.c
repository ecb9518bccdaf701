/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: writes one block to each of many distinctly named files, under a chosen comm. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: file_names --dir DIR [--files N] [--prefix P] [--bytes B] [--comm NAME] [--per-ms N]\n"
		   "                  [--wait-go]\n"
		   "  Writes B bytes (default 100) with one write() to each of N files (default 1) named\n"
		   "  DIR/P0, DIR/P1, ... (or DIR/P alone when N is 1), at most --per-ms files per\n"
		   "  millisecond (default 20), then exits 0 without writing anything else: the test\n"
		   "  knows every write. --comm sets the process name first (bytes as given).\n"
		   "  --wait-go prints \"ready PID\" and waits for a line before starting.\n");
}

static int parse_ul(const char *text, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	return (errno || *end || end == text) ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },   { "files", required_argument, NULL, 'n' },
		{ "prefix", required_argument, NULL, 'p' }, { "bytes", required_argument, NULL, 'b' },
		{ "comm", required_argument, NULL, 'c' },  { "per-ms", required_argument, NULL, 'r' },
		{ "wait-go", no_argument, NULL, 'w' },     { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long files = 1, bytes = 100, per_ms = 20;
	const char *dir = NULL, *prefix = "f", *comm = NULL;
	int wait_go = 0, opt;
	char path[4096], *buf;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'p': prefix = optarg; break;
		case 'c': comm = optarg; break;
		case 'w': wait_go = 1; break;
		case 'n':
			if (parse_ul(optarg, &files) || !files)
				goto bad;
			break;
		case 'b':
			if (parse_ul(optarg, &bytes) || !bytes || bytes > 1 << 20)
				goto bad;
			break;
		case 'r':
			if (parse_ul(optarg, &per_ms) || !per_ms)
				goto bad;
			break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (!dir || optind != argc)
		goto bad;
	if (comm && prctl(PR_SET_NAME, comm, 0, 0, 0)) {
		perror("file_names: prctl(PR_SET_NAME)");
		return 1;
	}
	buf = malloc(bytes);
	if (!buf)
		return 1;
	memset(buf, 'x', bytes);
	if (wait_go) {
		char line[16];

		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	for (unsigned long i = 0; i < files; i++) {
		int fd;

		if (files == 1)
			snprintf(path, sizeof(path), "%s/%s", dir, prefix);
		else
			snprintf(path, sizeof(path), "%s/%s%lu", dir, prefix, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, buf, bytes) != (ssize_t)bytes) {
			fprintf(stderr, "file_names: %s: %s\n", path, strerror(errno));
			return 1;
		}
		close(fd);
		if ((i + 1) % per_ms == 0)
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	free(buf);
	return 0;
bad:
	usage(stderr);
	return 2;
}

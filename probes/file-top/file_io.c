/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: writes and reads back a known number of fixed-size blocks of one file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: file_io --path PATH [--block BYTES] [--writes N] [--reads N] [--wait-go]\n"
		   "                [--timeout-seconds N]\n"
		   "  Creates PATH, writes --writes blocks of --block bytes (default 5000 of 4096), then\n"
		   "  reads the first --reads blocks back (default 2000), each call moving one whole block.\n"
		   "  Calls rotate through write, pwrite64 and writev (read, pread64, readv).\n"
		   "  Prints \"done WRITES READS\". --wait-go prints \"ready PID\" and waits for a line first.\n");
}

static int parse_ul(const char *text, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	return (errno || *end || end == text) ? -EINVAL : 0;
}

/* One block at offset off, by the i-th of the three calls; 0 or -errno. */
static int io_block(int fd, bool write_it, unsigned long i, char *buf, size_t block)
{
	off_t off = (off_t)(i * block);
	struct iovec iov[2] = { { buf, block / 2 }, { buf + block / 2, block - block / 2 } };
	ssize_t n;

	switch (i % 3) {
	case 0:
		if (lseek(fd, off, SEEK_SET) != off)
			return -errno;
		n = write_it ? write(fd, buf, block) : read(fd, buf, block);
		break;
	case 1:
		n = write_it ? pwrite(fd, buf, block, off) : pread(fd, buf, block, off);
		break;
	default:
		if (lseek(fd, off, SEEK_SET) != off)
			return -errno;
		n = write_it ? writev(fd, iov, 2) : readv(fd, iov, 2);
		break;
	}
	if (n < 0)
		return -errno;
	return (size_t)n == block ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ "block", required_argument, NULL, 'b' },
		{ "writes", required_argument, NULL, 'w' },
		{ "reads", required_argument, NULL, 'r' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long block = 4096, writes = 5000, reads = 2000, timeout_s = 60, i;
	const char *path = NULL;
	bool wait_go = false;
	char *buf = NULL;
	int fd = -1, c, rc = 1, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': path = optarg; break;
		case 'g': wait_go = true; break;
		case 'b':
		case 'w':
		case 'r':
		case 't': {
			unsigned long *dst = c == 'b' ? &block : c == 'w' ? &writes : c == 'r' ? &reads : &timeout_s;

			if (parse_ul(optarg, dst)) {
				fprintf(stderr, "file_io: bad number %s\n", optarg);
				return 2;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || block == 0 || reads > writes || timeout_s == 0) {
		usage(stderr);
		return 2;
	}
	alarm((unsigned int)timeout_s);
	buf = malloc(block);
	if (!buf) {
		fprintf(stderr, "file_io: out of memory\n");
		goto cleanup;
	}
	memset(buf, 'f', block);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "file_io: open %s: %s\n", path, strerror(errno));
		goto cleanup;
	}

	if (wait_go) {
		char line[64];

		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "file_io: stdin closed before go\n");
			goto cleanup;
		}
	}
	for (i = 0; i < writes; i++) {
		err = io_block(fd, true, i, buf, block);
		if (err) {
			fprintf(stderr, "file_io: write of block %lu: %s\n", i, strerror(-err));
			goto cleanup;
		}
	}
	for (i = 0; i < reads; i++) {
		err = io_block(fd, false, i, buf, block);
		if (err) {
			fprintf(stderr, "file_io: read of block %lu: %s\n", i, strerror(-err));
			goto cleanup;
		}
	}
	printf("done %lu %lu\n", writes, reads);
	fflush(stdout);
	rc = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* For workloads that a test tells when to start and end through stdin. */
#ifndef TRACECTL_WAIT_LINE_H
#define TRACECTL_WAIT_LINE_H

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

/* Waits for a line (or EOF) on stdin with read(2) itself: stdio's first fgets allocates its
 * buffer and, in a TCG guest, runs libc code that is translated on first use: tens of ms
 * of CPU between a workload's clock read and its block, which a tracer attached meanwhile
 * never sees (cpu-top on 6.1: 47.9 ms "since ready" against 7.2 ms of naps). Returns false
 * on EOF. */
static inline bool wait_line(void)
{
	char c;
	ssize_t n;

	while ((n = read(STDIN_FILENO, &c, 1)) == 1 || (n < 0 && errno == EINTR))
		if (n == 1 && c == '\n')
			return true;
	return false;
}

#endif

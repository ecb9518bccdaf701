/* SPDX-License-Identifier: Apache-2.0 */
/* What a session costs: its BPF programs' run-time statistics and the agent's own CPU time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cost.h"

size_t cost_object_prog_fds(const struct bpf_object *obj, int *out, size_t max)
{
	struct bpf_program *prog;
	size_t n = 0;

	bpf_object__for_each_program(prog, obj) {
		int fd = bpf_program__fd(prog);

		if (fd >= 0 && n < max)
			out[n++] = fd;
	}
	return n;
}

int cost_read(const int *fds, size_t n, uint64_t *run_cnt, uint64_t *run_time_ns)
{
	*run_cnt = *run_time_ns = 0;
	for (size_t i = 0; i < n; i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int err;

		memset(&info, 0, sizeof(info));
		err = bpf_obj_get_info_by_fd(fds[i], &info, &len);
		if (err)
			return err;
		*run_cnt += info.run_cnt;
		*run_time_ns += info.run_time_ns;
	}
	return 0;
}

uint64_t cost_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int cost_enable_stats(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	return fd < 0 ? -errno : fd;
}

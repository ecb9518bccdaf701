/* SPDX-License-Identifier: Apache-2.0 */
/* What a session costs: its BPF programs' run-time statistics and the agent's own CPU time. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cost.h"

int cost_list_fds(struct fd_list *out)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t cap = 0;

	out->fds = NULL;
	out->n = 0;
	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end || e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (out->n == cap) {
			int *bigger = realloc(out->fds, (cap ? cap * 2 : 64) * sizeof(int));

			if (!bigger) {
				closedir(d);
				cost_fd_list_free(out);
				return -ENOMEM;
			}
			out->fds = bigger;
			cap = cap ? cap * 2 : 64;
		}
		out->fds[out->n++] = (int)fd;
	}
	closedir(d);
	return 0;
}

void cost_fd_list_free(struct fd_list *l)
{
	free(l->fds);
	l->fds = NULL;
	l->n = 0;
}

static int contains(const struct fd_list *l, int fd)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->fds[i] == fd)
			return 1;
	return 0;
}

/* A BPF program's fdinfo has a prog_type line; maps, links and sockets do not. */
static int is_bpf_prog(int fd)
{
	char path[64], line[128];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strncmp(line, "prog_type:", 10) == 0;
	fclose(f);
	return found;
}

size_t cost_new_prog_fds(const struct fd_list *before, const struct fd_list *after, int *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < after->n && n < max; i++)
		if (!contains(before, after->fds[i]) && is_bpf_prog(after->fds[i]))
			out[n++] = after->fds[i];
	return n;
}

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

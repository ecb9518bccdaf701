/* SPDX-License-Identifier: Apache-2.0 */
/* file-top user side: drains the per-file read/write counters every interval into a sorted table. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "file_top.h"
#include "file_top.skel.h"
#include "kernel_env.h"
#include "log.h"
#include "map_drain.h"
#include "map_percpu.h"

_Static_assert(FILE_TOP_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");

#define NCOUNTS 4 /* struct file_top_counts: reads, writes, read_bytes, write_bytes */

struct file_top_state {
	struct file_top *skel;
	struct file_top_key *keys; /* drain buffer: FILE_TOP_MAX_FILES keys, allocated at open */
	uint64_t *percpu;          /* overflow read buffer, NCOUNTS per possible CPU */
	int ncpus;
	uint64_t overflow_before[NCOUNTS]; /* the overflow slot is cumulative */
};

static const char *const tracepoints[] = {
	"syscalls/sys_enter_read",     "syscalls/sys_exit_read",     "syscalls/sys_enter_pread64",
	"syscalls/sys_exit_pread64",   "syscalls/sys_enter_readv",   "syscalls/sys_exit_readv",
	"syscalls/sys_enter_write",    "syscalls/sys_exit_write",    "syscalls/sys_enter_pwrite64",
	"syscalls/sys_exit_pwrite64",  "syscalls/sys_enter_writev",  "syscalls/sys_exit_writev",
};
#define NTRACEPOINTS (sizeof(tracepoints) / sizeof(tracepoints[0]))

static int file_top_supported(char *reason, size_t len)
{
	/* the syscalls' records have no type of their own in BTF: tracefs only */
	static const char *const types[NTRACEPOINTS];

	return kernel_env_check_tracepoints(tracepoints, types, NTRACEPOINTS, reason, len);
}

static void file_top_close(void **state)
{
	struct file_top_state *st;

	if (!state || !*state)
		return;
	st = *state;
	file_top__destroy(st->skel);
	free(st->keys);
	free(st->percpu);
	free(st);
	*state = NULL;
}

static int file_top_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct file_top_state *st = NULL;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating file-top state: %s", strerror(-err));
		goto cleanup;
	}
	/* Read buffers for the life of the probe: read() runs every interval. */
	st->ncpus = libbpf_num_possible_cpus();
	if (st->ncpus <= 0) {
		err = st->ncpus < 0 ? st->ncpus : -EINVAL;
		snprintf(errbuf, errlen, "counting possible CPUs: %s", strerror(-err));
		goto cleanup;
	}
	st->keys = calloc(FILE_TOP_MAX_FILES, sizeof(*st->keys));
	st->percpu = calloc((size_t)st->ncpus * NCOUNTS, sizeof(*st->percpu));
	if (!st->keys || !st->percpu) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating file-top read buffers: %s", strerror(-err));
		goto cleanup;
	}

	/* Open and configure: the filters are read-only data, fixed at load. */
	st->skel = file_top__open();
	if (!st->skel) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "opening file-top BPF object: %s", strerror(-err));
		goto cleanup;
	}
	st->skel->rodata->targ_tgid = params->pid;
	memset((char *)st->skel->rodata->targ_comm, 0, FILE_TOP_COMM_LEN);
	memcpy((char *)st->skel->rodata->targ_comm, params->comm, strnlen(params->comm, PROBE_COMM_LEN - 1));

	err = file_top__load(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "loading file-top BPF program: %s", strerror(-err));
		goto cleanup;
	}
	err = file_top__attach(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "attaching file-top tracepoints (syscalls:sys_enter/exit of read, pread64, "
			 "readv, write, pwrite64, writev): %s", strerror(-err));
		goto cleanup;
	}

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		file_top_close(&partial);
	}
	return err;
}

static int add_row(const void *key, const void *value, void *ctx)
{
	const struct file_top_key *k = key;
	const struct file_top_value *v = value;
	char pid[16], comm[FILE_TOP_COMM_LEN + 1], name[FILE_TOP_NAME_LEN + 1], type[2] = { (char)v->type, 0 };
	const char *keys[4] = { pid, comm, name, type };
	uint64_t values[NCOUNTS] = { v->counts.reads, v->counts.writes, v->counts.read_bytes, v->counts.write_bytes };

	snprintf(pid, sizeof(pid), "%u", k->tgid);
	memcpy(comm, v->comm, FILE_TOP_COMM_LEN);
	comm[FILE_TOP_COMM_LEN] = '\0';
	memcpy(name, v->name, FILE_TOP_NAME_LEN);
	name[FILE_TOP_NAME_LEN] = '\0';
	/* pipes and some anonymous files have an empty dentry name */
	if (!name[0])
		snprintf(name, sizeof(name), "[unnamed]");
	return count_table_add(ctx, keys, values);
}

static int file_top_read(void *state, struct count_table *out)
{
	struct file_top_state *st = state;
	struct file_top_value drained;
	uint64_t now[NCOUNTS], delta[NCOUNTS];
	int err;

	err = map_drain(st->skel->maps.files, st->keys, FILE_TOP_MAX_FILES, &drained, sizeof(drained), add_row, out);
	if (err < 0)
		return err;

	/* Files that found the map full: one row, so no call goes missing silently. */
	err = map_sum_percpu(st->skel->maps.overflow, 0, st->percpu, st->ncpus, NCOUNTS, now);
	if (err)
		return err;
	for (int i = 0; i < NCOUNTS; i++) {
		delta[i] = now[i] - st->overflow_before[i];
		st->overflow_before[i] = now[i];
	}
	if (delta[0] || delta[1]) {
		const char *keys[4] = { "-", "-", "[map full]", "-" };

		log_warn("file-top: more than %d files in one interval: %" PRIu64 " reads and %" PRIu64
			 " writes not attributed to a file (row \"[map full]\")",
			 FILE_TOP_MAX_FILES, delta[0], delta[1]);
		err = count_table_add(out, keys, delta);
	}
	return err;
}

const struct probe_desc probe_file_top = {
	.name = "file-top",
	.description = "read and write calls and bytes per process and file (read, pread64, readv, write, pwrite64, "
		       "writev), per interval, most reads first; file is the dentry's name (a basename, not a path; "
		       "\"[unnamed]\" for pipes), type R regular, S socket, O other; at most 10240 files per interval, "
		       "the counts of more go to a row \"[map full]\"",
	.kind = PROBE_COUNTS,
	.hook = "tracepoint syscalls:sys_enter/exit_{read,pread64,readv,write,pwrite64,writev}, fd to file through "
		"task->files->fdt (CO-RE)",
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_TOP,
	.default_top = 20,
	.nkeys = 4,
	.key_names = { "pid", "comm", "file", "type" },
	.nvalues = NCOUNTS,
	.value_names = { "reads", "writes", "read_bytes", "write_bytes" },
	.supported = file_top_supported,
	.open = file_top_open,
	.read_counts = file_top_read,
	.close = file_top_close,
};

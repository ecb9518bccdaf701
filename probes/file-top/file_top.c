/* SPDX-License-Identifier: Apache-2.0 */
/* file-top user side: drains the per-file read/write counters every interval into a sorted table. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "file_top.h"
#include "file_top.skel.h"
#include "kernel_env.h"
#include "log.h"

extern const struct probe_desc probe_file_top; /* its key names, for probe_row_keys */

#define NCOUNTS 4 /* struct file_top_counts: reads, writes, read_bytes, write_bytes */

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

static int add_row(const void *key, const void *value, void *ctx)
{
	const struct file_top_key *k = key;
	const struct file_top_value *v = value;
	char pid[16], comm[FILE_TOP_COMM_LEN + 1], name[FILE_TOP_NAME_LEN + 1], type[2] = { (char)v->type, 0 };
	const char *keys[4] = { pid, comm, name, type }, *row[4];
	char workload[PROBE_TARGET_LEN];
	uint64_t values[NCOUNTS] = { v->counts.reads, v->counts.writes, v->counts.read_bytes, v->counts.write_bytes };

	snprintf(pid, sizeof(pid), "%u", k->tgid);
	memcpy(comm, v->comm, FILE_TOP_COMM_LEN);
	comm[FILE_TOP_COMM_LEN] = '\0';
	memcpy(name, v->name, FILE_TOP_NAME_LEN);
	name[FILE_TOP_NAME_LEN] = '\0';
	/* pipes and some anonymous files have an empty dentry name */
	if (!name[0])
		snprintf(name, sizeof(name), "[unnamed]");
	return count_table_add(ctx, probe_row_keys(&probe_file_top, ctx, k->cgroup_id, keys, row, workload,
						   sizeof(workload)), values);
}

/* Files that found the map full: one row, so no call goes missing silently. */
static int file_top_overflow(void *state, const uint64_t *window, struct count_table *out)
{
	const char *keys[4] = { "-", "-", "[map full]", "-" }, *row[4];
	char workload[PROBE_TARGET_LEN];

	(void)state;
	log_warn("file-top: more than %d files in one interval: %" PRIu64 " reads and %" PRIu64
		 " writes not attributed to a file (row \"[map full]\")", FILE_TOP_MAX_FILES, window[0], window[1]);
	/* cgroup id 0 names no workload: "-" */
	return count_table_add(out, probe_row_keys(&probe_file_top, out, 0, keys, row, workload, sizeof(workload)),
			       window);
}

#define FILE_TOP_HOOK "tracepoint syscalls:sys_enter/exit_{read,pread64,readv,write,pwrite64,writev}, fd to file " \
		      "through task->files->fdt (CO-RE)"
static const struct hook_variant variant_rows[] = { { "tracepoint", FILE_TOP_HOOK, NULL, NULL } };
HOOK_VARIANTS(variants, file_top, "file-top", variant_rows);

static const struct probe_runtime runtime = {
	.count_map = "files",
	.count_max_keys = FILE_TOP_MAX_FILES,
	.count_row = add_row,
	.overflow_map = "overflow",
	.overflow_fields = NCOUNTS,
	.overflow_row = file_top_overflow,
};

const struct probe_desc probe_file_top = {
	.name = "file-top",
	.description = "read and write calls and bytes per process (or per container, pod or systemd service with --by) "
		       "and file (read, pread64, readv, write, pwrite64, "
		       "writev), per interval, most reads first; file is the dentry's name (a basename, not a path; "
		       "\"[unnamed]\" for pipes), type R regular, S socket, O other; at most 10240 files per interval, "
		       "the counts of more go to a row \"[map full]\"",
	.kind = PROBE_COUNTS,
	.hook = FILE_TOP_HOOK,
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_TOP | PROBE_PARAM_CGROUP | PROBE_PARAM_BY,
	/* pid: the (pid, comm, file, type) rows, the default */
	.by_choices = "pid|container|pod|service",
	.default_top = 20,
	.nkeys = 4,
	.key_names = { "pid", "comm", "file", "type" },
	.nvalues = NCOUNTS,
	.value_names = { "reads", "writes", "read_bytes", "write_bytes" },
	.supported = file_top_supported,
	.runtime = &runtime,
	.read_counts = probe_runtime_read_counts,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* syscalls user side: sets the filters, drains the (process, syscall) table, names syscalls. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "catalog.h"
#include "kernel_env.h"
#include "map_drain.h"
#include "syscalls.h"
#include "syscalls.skel.h"
#if defined(__x86_64__)
#include "syscall_names_x86_64.h"
#endif

_Static_assert(SYSCALLS_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");

struct syscalls_state {
	struct syscalls *skel;
	struct syscalls_key keys[SYSCALLS_MAX_ROWS]; /* map_drain's key list */
	int ncpus;
	struct syscalls_slot *percpu;          /* SYSCALLS_NR_MAX x ncpus, one batch read */
	__u32 slot_keys[SYSCALLS_NR_MAX];
	struct syscalls_slot seen[SYSCALLS_NR_MAX]; /* totals at the previous read */
};

static const char *const tracepoints[] = { "raw_syscalls/sys_enter", "raw_syscalls/sys_exit" };
static const char *const tracepoint_types[] = { "sys_enter", "sys_exit" };

static int syscalls_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 2, reason, len);
}

static bool count_only(const struct probe_params *params)
{
	return params && strcmp(params->measure, "count") == 0;
}

static const char *syscalls_hook_here(const struct probe_params *params)
{
	return count_only(params) ? "raw_tracepoint sys_enter (raw_syscalls; measure=count)"
				  : "raw_tracepoint sys_enter + sys_exit (raw_syscalls)";
}

/* Keeps 1 in one_in syscalls (a power of two), decided in the kernel at entry. */
static int syscalls_set_sampling(void *state, uint32_t one_in)
{
	struct syscalls_state *st = state;

	if (!one_in || (one_in & (one_in - 1)))
		return -EINVAL;
	st->skel->bss->sample_mask = one_in - 1;
	return 0;
}

static void syscalls_close(void **state)
{
	struct syscalls_state *st;

	if (!state || !*state)
		return;
	st = *state;
	syscalls__destroy(st->skel);
	free(st->percpu);
	free(st);
	*state = NULL;
}

static int syscalls_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct syscalls_state *st = NULL;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating syscalls state: %s", strerror(-err));
		goto cleanup;
	}

	st->ncpus = libbpf_num_possible_cpus();
	st->percpu = st->ncpus > 0 ? calloc((size_t)SYSCALLS_NR_MAX * (size_t)st->ncpus, sizeof(*st->percpu)) : NULL;
	if (!st->percpu) {
		err = st->ncpus < 0 ? st->ncpus : -ENOMEM;
		snprintf(errbuf, errlen, "allocating syscalls per-CPU buffer: %s", strerror(-err));
		goto cleanup;
	}

	/* Open: parse the embedded object. */
	st->skel = syscalls__open();
	if (!st->skel) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "opening syscalls BPF object: %s", strerror(-err));
		goto cleanup;
	}

	/* Configure: the filters are read-only data, fixed at load. */
	if (params) {
		size_t n = strnlen(params->comm, PROBE_COMM_LEN - 1);

		st->skel->rodata->targ_tgid = params->pid;
		memset((char *)st->skel->rodata->targ_comm, 0, SYSCALLS_COMM_LEN);
		memcpy((char *)st->skel->rodata->targ_comm, params->comm, n);
		st->skel->rodata->targ_per_pid = strcmp(params->by, "pid") == 0;
		st->skel->rodata->targ_count_only = count_only(params);
	}
	/* one hook instead of two: the syscall-heavy case's cost is per program run */
	if (st->skel->rodata->targ_count_only)
		bpf_program__set_autoload(st->skel->progs.syscalls_exit, false);
	st->skel->rodata->self_tgid = params && params->pid == (uint32_t)getpid() ? 0 : (uint32_t)getpid();

	/* Load: the verifier runs here. */
	err = syscalls__load(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "loading syscalls BPF program: %s", strerror(-err));
		goto cleanup;
	}

	/* Attach the raw_syscalls tracepoints (sys_exit only when measuring latency). */
	err = syscalls__attach(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "attaching syscalls tracepoints (%s, %s): %s", tracepoints[0],
			 tracepoints[1], strerror(-err));
		goto cleanup;
	}

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		syscalls_close(&partial);
	}
	return err;
}

/* The syscall's name, or "nr_N" where this build has no table or the number is newer. */
static const char *syscall_name(__u32 nr, char *buf, size_t len)
{
#if defined(__x86_64__)
	if (nr < sizeof(syscall_names_x86_64) / sizeof(syscall_names_x86_64[0]) && syscall_names_x86_64[nr])
		return syscall_names_x86_64[nr];
#endif
	if (nr == (__u32)-1)
		return "none"; /* entered with id -1: skipped by seccomp or ptrace */
	snprintf(buf, len, "nr_%u", nr);
	return buf;
}

static int syscalls_add(const void *key_ptr, const void *value, void *ctx)
{
	const struct syscalls_key *key = key_ptr;
	const struct syscalls_value *v = value;
	struct count_table *out = ctx;
	char name[32], pid[16], comm[SYSCALLS_COMM_LEN];
	const char *keys[3];
	uint64_t values[2];

	keys[0] = syscall_name(key->nr, name, sizeof(name));
	if (key->tgid) {
		snprintf(pid, sizeof(pid), "%u", key->tgid);
		memcpy(comm, v->comm, sizeof(comm));
		comm[sizeof(comm) - 1] = '\0';
		keys[1] = pid;
		keys[2] = comm;
	} else {
		/* The schema is fixed per probe: "*" stands for all processes. */
		keys[1] = "*";
		keys[2] = "*";
	}
	values[0] = v->count;
	values[1] = v->total_ns;
	return count_table_add(out, keys, values);
}

/* Adds what the per-CPU array counted since the previous read (one batch lookup). */
static int syscalls_read_totals(struct syscalls_state *st, struct count_table *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = SYSCALLS_NR_MAX, out_batch;
	int err;

	err = bpf_map_lookup_batch(bpf_map__fd(st->skel->maps.totals), NULL, &out_batch, st->slot_keys, st->percpu,
				   &count, &opts);
	if (err && errno != ENOENT)
		return -errno;
	for (__u32 i = 0; i < count; i++) {
		__u32 nr = st->slot_keys[i];
		struct syscalls_key key = { .tgid = 0, .nr = nr };
		struct syscalls_value v = { 0 };
		struct syscalls_slot sum = { 0 };

		if (nr >= SYSCALLS_NR_MAX)
			continue;
		for (int c = 0; c < st->ncpus; c++) {
			sum.count += st->percpu[(size_t)i * (size_t)st->ncpus + (size_t)c].count;
			sum.total_ns += st->percpu[(size_t)i * (size_t)st->ncpus + (size_t)c].total_ns;
		}
		v.count = sum.count - st->seen[nr].count;
		v.total_ns = sum.total_ns - st->seen[nr].total_ns;
		st->seen[nr] = sum;
		if (v.count && (err = syscalls_add(&key, &v, out)))
			return err;
	}
	return 0;
}

/* Adds the rows counted since the last read to out: the per-CPU array, then the table. */
static int syscalls_read(void *state, struct count_table *out)
{
	struct syscalls_state *st = state;
	struct syscalls_value v;
	int n;

	n = syscalls_read_totals(st, out);
	if (n < 0)
		return n;
	n = map_drain(st->skel->maps.counts, st->keys, SYSCALLS_MAX_ROWS, &v, sizeof(v), syscalls_add, out);
	return n < 0 ? n : 0;
}

const struct probe_desc probe_syscalls = {
	.name = "syscalls",
	.description = "system calls: count and total latency (entry to return, ns) per syscall, "
		       "per process with --by pid; top N by count; the agent's own calls are left out "
		       "unless asked for with --pid; --param measure=count counts at entry alone "
		       "(total_ns 0), about half the cost on a syscall-heavy host",
	.kind = PROBE_COUNTS,
	.hook = "raw_tracepoint sys_enter + sys_exit (raw_syscalls)",
	.hook_here = syscalls_hook_here,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_TOP | PROBE_PARAM_BY | PROBE_PARAM_MEASURE,
	.by_choices = "syscall|pid",
	.measure_choices = "latency|count",
	.default_top = 20,
	.nkeys = 3,
	.key_names = { "syscall", "pid", "comm" },
	.nvalues = 2,
	.value_names = { "count", "total_ns" },
	.supported = syscalls_supported,
	.open = syscalls_open,
	.read_counts = syscalls_read,
	.set_sampling = syscalls_set_sampling,
	.close = syscalls_close,
};

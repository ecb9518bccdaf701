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

#include "runtime.h"
#include "kernel_env.h"
#include "syscalls.h"
#include "syscalls.skel.h"
#if defined(__x86_64__)
#include "syscall_names_x86_64.h"
#endif

struct syscalls_state {
	struct probe_instance in; /* in.percpu: SYSCALLS_NR_MAX x ncpus slots, one batch read */
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

/* Entry times in task local storage (5.11+), else in a hash keyed by thread id. */
static const char *const storage_programs[] = { "syscalls_enter", "syscalls_exit", NULL };
static const char *const storage_maps[] = { "start", NULL };
static const char *const hash_programs[] = { "syscalls_enter_hash", "syscalls_exit_hash", NULL };
static const char *const hash_maps[] = { "start_tid", NULL };
static const struct hook_variant variant_rows[] = {
	{ "task storage", "raw_tracepoint sys_enter + sys_exit (raw_syscalls)", storage_programs, storage_maps },
	{ "hash", "raw_tracepoint sys_enter + sys_exit (raw_syscalls; entry times by thread id: no task storage "
		  "here)", hash_programs, hash_maps },
};
HOOK_VARIANTS(variants, syscalls, "syscalls", variant_rows);

static const char *syscalls_hook_here(const struct probe_params *params)
{
	return count_only(params) ? "raw_tracepoint sys_enter (raw_syscalls; measure=count)"
				  : hook_variants_here(&variants);
}

/* The split is read-only data, fixed at load; measure=count loads no exit program. */
static int syscalls_configure(void *state, void *skel, const struct hook_variant *variant,
			      const struct probe_params *params, char *err, size_t errlen)
{
	struct syscalls *obj = skel;

	(void)state, (void)err, (void)errlen;
	obj->rodata->targ_per_pid = strcmp(params->by, "pid") == 0;
	obj->rodata->targ_count_only = count_only(params);
	/* one hook instead of two: the syscall-heavy case's cost is per program run */
	if (obj->rodata->targ_count_only)
		bpf_program__set_autoload(variant == &variant_rows[0] ? obj->progs.syscalls_exit
								      : obj->progs.syscalls_exit_hash,
					  false);
	obj->rodata->self_tgid = params->pid == (uint32_t)getpid() ? 0 : (uint32_t)getpid();
	return 0;
}

/* Keeps 1 in one_in syscalls (a power of two), decided in the kernel at entry. */
static int syscalls_set_sampling(void *state, uint32_t one_in)
{
	struct syscalls_state *st = state;

	if (!one_in || (one_in & (one_in - 1)))
		return -EINVAL;
	((struct syscalls *)st->in.skel)->bss->sample_mask = one_in - 1;
	return 0;
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
	/* the table's schema says whether its second key is a workload (catalog_results_init) */
	enum cgroup_workload by = cgroup_workload_by(out->key_names[1]);
	char name[32], pid[16], comm[SYSCALLS_COMM_LEN], workload[PROBE_TARGET_LEN];
	const char *keys[3];
	uint64_t values[2];

	keys[0] = syscall_name(key->nr, name, sizeof(name));
	if (by != CGROUP_WORKLOAD_NONE) {
		keys[1] = cgroup_workload_of_id(key->cgroup_id, by, workload, sizeof(workload));
	} else if (key->tgid) {
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

/* Learned once: the kernel refused a batch lookup of the per-CPU array (5.10 does). */
static bool no_array_batch;

/* Every slot of the per-CPU array into st->percpu, one lookup each: where the kernel
 * has no batch lookup for it. Returns the number of slots read or -errno. */
static int read_slots_one_by_one(struct syscalls_state *st, __u32 *count)
{
	struct syscalls_slot *percpu = st->in.percpu;
	size_t one = (size_t)st->in.ncpus * sizeof(*percpu);

	for (__u32 nr = 0; nr < SYSCALLS_NR_MAX; nr++) {
		int err = bpf_map__lookup_elem(((struct syscalls *)st->in.skel)->maps.totals, &nr, sizeof(nr),
					       percpu + (size_t)nr * (size_t)st->in.ncpus, one, 0);

		if (err)
			return err;
		st->slot_keys[nr] = nr;
	}
	*count = SYSCALLS_NR_MAX;
	return 0;
}

/* Adds what the per-CPU array counted since the previous read (one batch lookup). */
static int syscalls_read_totals(struct syscalls_state *st, struct count_table *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	const struct syscalls_slot *percpu = st->in.percpu;
	size_t ncpus = (size_t)st->in.ncpus;
	__u32 count = SYSCALLS_NR_MAX, out_batch;
	int err = -KERNEL_ENOTSUPP;

	if (!no_array_batch)
		err = bpf_map_lookup_batch(bpf_map__fd(((struct syscalls *)st->in.skel)->maps.totals), NULL, &out_batch,
					   st->slot_keys, st->in.percpu, &count, &opts);
	if (err == -KERNEL_ENOTSUPP || err == -EINVAL) {
		no_array_batch = true;
		err = read_slots_one_by_one(st, &count);
		if (err)
			return err;
	}
	if (err && err != -ENOENT)
		return err;
	for (__u32 i = 0; i < count; i++) {
		__u32 nr = st->slot_keys[i];
		struct syscalls_key key = { .tgid = 0, .nr = nr };
		struct syscalls_value v = { 0 };
		struct syscalls_slot sum = { 0 };

		if (nr >= SYSCALLS_NR_MAX)
			continue;
		for (size_t c = 0; c < ncpus; c++) {
			sum.count += percpu[(size_t)i * ncpus + c].count;
			sum.total_ns += percpu[(size_t)i * ncpus + c].total_ns;
		}
		v.count = sum.count - st->seen[nr].count;
		v.total_ns = sum.total_ns - st->seen[nr].total_ns;
		st->seen[nr] = sum;
		if (v.count && (err = syscalls_add(&key, &v, out)))
			return err;
	}
	return 0;
}

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct syscalls_state),
	.configure = syscalls_configure,
	.percpu_value_size = SYSCALLS_NR_MAX * sizeof(struct syscalls_slot),
	.count_map = "counts",
	.count_max_keys = SYSCALLS_MAX_ROWS,
	.count_row = syscalls_add,
};

/* Adds the rows counted since the last read to out: the per-CPU array, then the table. */
static int syscalls_read(void *state, struct count_table *out)
{
	int err = syscalls_read_totals(state, out);

	return err < 0 ? err : probe_runtime_read_counts(state, out);
}

const struct probe_desc probe_syscalls = {
	.name = "syscalls",
	.description = "system calls: count and total latency (entry to return, ns) per syscall, "
		       "per process with --by pid (or per container, pod, service); top N by count; the agent's own calls are left out "
		       "unless asked for with --pid; --param measure=count counts at entry alone "
		       "(total_ns 0), about half the cost on a syscall-heavy host",
	.kind = PROBE_COUNTS,
	.hook = "raw_tracepoint sys_enter + sys_exit (raw_syscalls)",
	.hook_here = syscalls_hook_here,
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_TOP | PROBE_PARAM_BY | PROBE_PARAM_MEASURE |
		  PROBE_PARAM_CGROUP,
	.by_choices = "syscall|pid|container|pod|service",
	.measure_choices = "latency|count",
	.default_top = 20,
	.nkeys = 3,
	.key_names = { "syscall", "pid", "comm" },
	.nvalues = 2,
	.value_names = { "count", "total_ns" },
	.supported = syscalls_supported,
	.runtime = &runtime,
	.read_counts = syscalls_read,
	.set_sampling = syscalls_set_sampling,
};

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
#include "hook_variant.h"
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

/* The filters are read-only data, fixed at load; measure=count loads no exit program. */
static int syscalls_configure(void *skel, const struct hook_variant *variant, void *ctx, char *err, size_t errlen)
{
	struct syscalls *obj = skel;
	const struct probe_params *params = ctx;

	(void)err, (void)errlen;
	if (params) {
		size_t n = strnlen(params->comm, PROBE_COMM_LEN - 1);

		obj->rodata->targ_tgid = params->pid;
		memset((char *)obj->rodata->targ_comm, 0, SYSCALLS_COMM_LEN);
		memcpy((char *)obj->rodata->targ_comm, params->comm, n);
		obj->rodata->targ_per_pid = strcmp(params->by, "pid") == 0;
		obj->rodata->targ_count_only = count_only(params);
	}
	/* one hook instead of two: the syscall-heavy case's cost is per program run */
	if (obj->rodata->targ_count_only)
		bpf_program__set_autoload(variant == &variant_rows[0] ? obj->progs.syscalls_exit
								      : obj->progs.syscalls_exit_hash,
					  false);
	obj->rodata->self_tgid = params && params->pid == (uint32_t)getpid() ? 0 : (uint32_t)getpid();
	return 0;
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
	void *skel;
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

	err = hook_variants_open(&variants, syscalls_configure, (void *)params, &skel, NULL, errbuf, errlen);
	if (err)
		goto cleanup;
	st->skel = skel;

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

/* Learned once: the kernel refused a batch lookup of the per-CPU array (5.10 does). */
static bool no_array_batch;

/* Every slot of the per-CPU array into st->percpu, one lookup each: where the kernel
 * has no batch lookup for it. Returns the number of slots read or -errno. */
static int read_slots_one_by_one(struct syscalls_state *st, __u32 *count)
{
	size_t one = (size_t)st->ncpus * sizeof(*st->percpu);

	for (__u32 nr = 0; nr < SYSCALLS_NR_MAX; nr++) {
		int err = bpf_map__lookup_elem(st->skel->maps.totals, &nr, sizeof(nr),
					       st->percpu + (size_t)nr * (size_t)st->ncpus, one, 0);

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
	__u32 count = SYSCALLS_NR_MAX, out_batch;
	int err = -KERNEL_ENOTSUPP;

	if (!no_array_batch)
		err = bpf_map_lookup_batch(bpf_map__fd(st->skel->maps.totals), NULL, &out_batch, st->slot_keys,
					   st->percpu, &count, &opts);
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
	.variants = &variants,
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

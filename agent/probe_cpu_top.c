/* SPDX-License-Identifier: Apache-2.0 */
/* cpu-top user side: drains the per-process CPU counters every interval into a sorted table. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "cpu_top.h"
#include "cpu_top.skel.h"
#include "hook_variant.h"
#include "kernel_env.h"
#include "log.h"
#include "map_drain.h"
#include "map_percpu.h"

_Static_assert(CPU_TOP_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");

#define NCOUNTS 4 /* struct cpu_top_counts: on_cpu_ns, voluntary, involuntary, runq_ns */

struct cpu_top_state {
	struct cpu_top *skel;
	__u32 *keys;              /* drain buffer: CPU_TOP_MAX_PROCS keys, allocated at open */
	uint64_t *percpu;          /* overflow read buffer, NCOUNTS per possible CPU */
	int ncpus;
	uint64_t overflow_before[NCOUNTS]; /* the overflow slot is cumulative */
};

static const char *const tracepoints[] = { "sched/sched_switch", "sched/sched_wakeup", "sched/sched_wakeup_new",
					    "sched/sched_stat_runtime" };
static const char *const tracepoint_types[] = { "sched_switch", "sched_wakeup_template", "sched_wakeup_template",
						"sched_stat_runtime" };

static int cpu_top_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 4, reason, len);
}

static void cpu_top_close(void **state)
{
	struct cpu_top_state *st;

	if (!state || !*state)
		return;
	st = *state;
	cpu_top__destroy(st->skel);
	free(st->keys);
	free(st->percpu);
	free(st);
	*state = NULL;
}

/* sched_switch's prev_state argument (5.18+), else the task's state read at the switch. */
static const char *const arg_programs[] = { "cpu_top_switch", NULL };
static const char *const task_programs[] = { "cpu_top_switch_task_state", NULL };
#define CPU_TOP_HOOK "raw_tp sched_switch + sched_wakeup + sched_wakeup_new + sched_stat_runtime (CO-RE task reads)"
static const struct hook_variant variant_rows[] = {
	{ "prev_state argument", CPU_TOP_HOOK, arg_programs, NULL },
	{ "task state", CPU_TOP_HOOK ", switch state read from the task (sched_switch has no prev_state here)",
	  task_programs, NULL },
};
HOOK_VARIANTS(variants, cpu_top, "cpu-top", variant_rows);

/* The filters are read-only data, fixed at load. */
static int cpu_top_configure(void *skel, const struct hook_variant *variant, void *ctx, char *err, size_t errlen)
{
	struct cpu_top *obj = skel;
	const struct probe_params *params = ctx;

	(void)variant, (void)err, (void)errlen;
	obj->rodata->targ_tgid = params->pid;
	memset((char *)obj->rodata->targ_comm, 0, CPU_TOP_COMM_LEN);
	memcpy((char *)obj->rodata->targ_comm, params->comm, strnlen(params->comm, PROBE_COMM_LEN - 1));
	return 0;
}

static int cpu_top_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct cpu_top_state *st = NULL;
	void *skel;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating cpu-top state: %s", strerror(-err));
		goto cleanup;
	}
	/* Read buffers for the life of the probe: read() runs every interval. */
	st->ncpus = libbpf_num_possible_cpus();
	if (st->ncpus <= 0) {
		err = st->ncpus < 0 ? st->ncpus : -EINVAL;
		snprintf(errbuf, errlen, "counting possible CPUs: %s", strerror(-err));
		goto cleanup;
	}
	st->keys = calloc(CPU_TOP_MAX_PROCS, sizeof(*st->keys));
	st->percpu = calloc((size_t)st->ncpus * NCOUNTS, sizeof(*st->percpu));
	if (!st->keys || !st->percpu) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating cpu-top read buffers: %s", strerror(-err));
		goto cleanup;
	}

	err = hook_variants_open(&variants, cpu_top_configure, (void *)params, &skel, NULL, errbuf, errlen);
	if (err)
		goto cleanup;
	st->skel = skel;

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		cpu_top_close(&partial);
	}
	return err;
}

static int add_row(const void *key, const void *value, void *ctx)
{
	const __u32 *tgid = key;
	const struct cpu_top_value *v = value;
	char pid[16], comm[CPU_TOP_COMM_LEN + 1];
	const char *keys[2] = { pid, comm };
	uint64_t values[NCOUNTS] = { v->counts.on_cpu_ns, v->counts.voluntary, v->counts.involuntary,
				     v->counts.runq_ns };

	snprintf(pid, sizeof(pid), "%u", *tgid);
	memcpy(comm, v->comm, CPU_TOP_COMM_LEN);
	comm[CPU_TOP_COMM_LEN] = '\0';
	return count_table_add(ctx, keys, values);
}

static int cpu_top_read(void *state, struct count_table *out)
{
	struct cpu_top_state *st = state;
	struct cpu_top_value drained;
	uint64_t now[NCOUNTS], delta[NCOUNTS];
	int err;

	err = map_drain(st->skel->maps.procs, st->keys, CPU_TOP_MAX_PROCS, &drained, sizeof(drained), add_row, out);
	if (err < 0)
		return err;

	/* Processes that found the map full: one row, so no time goes missing silently. */
	err = map_sum_percpu(st->skel->maps.overflow, 0, st->percpu, st->ncpus, NCOUNTS, now);
	if (err)
		return err;
	for (int i = 0; i < NCOUNTS; i++) {
		delta[i] = now[i] - st->overflow_before[i];
		st->overflow_before[i] = now[i];
	}
	if (delta[0] || delta[1] || delta[2] || delta[3]) {
		const char *keys[2] = { "-", "[map full]" };

		log_warn("cpu-top: more than %d processes in one interval: %" PRIu64 " ns on CPU not attributed "
			 "to a process (row \"[map full]\")", CPU_TOP_MAX_PROCS, delta[0]);
		err = count_table_add(out, keys, delta);
	}
	return err;
}

const struct probe_desc probe_cpu_top = {
	.name = "cpu-top",
	.description = "per process (like pidstat): on-CPU time in ns from the scheduler's runtime accounting "
		       "(user + system, to a tick), voluntary and involuntary context switches, run-queue wait in ns "
		       "(woken or preempted until switched in), per interval, most CPU first; at most 10240 processes "
		       "per interval, the counts of more go to a row \"[map full]\"",
	.kind = PROBE_COUNTS,
	.hook = CPU_TOP_HOOK,
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_TOP,
	.default_top = 20,
	.nkeys = 2,
	.key_names = { "pid", "comm" },
	.nvalues = NCOUNTS,
	.value_names = { "on_cpu_ns", "voluntary", "involuntary", "runq_wait_ns" },
	.supported = cpu_top_supported,
	.open = cpu_top_open,
	.read_counts = cpu_top_read,
	.close = cpu_top_close,
};

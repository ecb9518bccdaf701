/* SPDX-License-Identifier: Apache-2.0 */
/* cpu-top user side: drains the per-process CPU counters every interval into a sorted table. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "cpu_top.h"
#include "cpu_top.skel.h"
#include "kernel_env.h"
#include "log.h"

#define NCOUNTS 4 /* struct cpu_top_counts: on_cpu_ns, voluntary, involuntary, runq_ns */

static const char *const tracepoints[] = { "sched/sched_switch", "sched/sched_wakeup", "sched/sched_wakeup_new",
					    "sched/sched_stat_runtime" };
static const char *const tracepoint_types[] = { "sched_switch", "sched_wakeup_template", "sched_wakeup_template",
						"sched_stat_runtime" };

static int cpu_top_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 4, reason, len);
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

static int add_row(const void *key, const void *value, void *ctx)
{
	const __u64 *id = key;
	const struct cpu_top_value *v = value;
	struct count_table *out = ctx;
	/* the table's schema says whether its key is a workload (catalog_results_init) */
	enum cgroup_workload by = cgroup_workload_by(out->key_names[0]);
	char pid[PROBE_TARGET_LEN], comm[CPU_TOP_COMM_LEN + 1];
	const char *keys[2] = { pid, comm };
	uint64_t values[NCOUNTS] = { v->counts.on_cpu_ns, v->counts.voluntary, v->counts.involuntary,
				     v->counts.runq_ns };

	if (by != CGROUP_WORKLOAD_NONE)
		return count_table_add(out, (const char *const[]){ cgroup_workload_of_id(*id, by, pid, sizeof(pid)) },
				       values);
	snprintf(pid, sizeof(pid), "%llu", (unsigned long long)*id);
	memcpy(comm, v->comm, CPU_TOP_COMM_LEN);
	comm[CPU_TOP_COMM_LEN] = '\0';
	return count_table_add(ctx, keys, values);
}

/* Processes that found the map full: one row, so no time goes missing silently. */
static int cpu_top_overflow(void *state, const uint64_t *window, struct count_table *out)
{
	/* with --by container|pod|service the one key (catalog_results_init) */
	const char *keys[2] = { cgroup_workload_by(out->key_names[0]) != CGROUP_WORKLOAD_NONE ? "[map full]" : "-",
				"[map full]" };

	(void)state;
	log_warn("cpu-top: more than %d processes in one interval: %" PRIu64 " ns on CPU not attributed "
		 "to a process (row \"[map full]\")", CPU_TOP_MAX_PROCS, window[0]);
	return count_table_add(out, keys, window);
}

static const struct probe_runtime runtime = {
	.count_map = "procs",
	.count_max_keys = CPU_TOP_MAX_PROCS,
	.count_row = add_row,
	.overflow_map = "overflow",
	.overflow_fields = NCOUNTS,
	.overflow_row = cpu_top_overflow,
};

const struct probe_desc probe_cpu_top = {
	.name = "cpu-top",
	.description = "per process (like pidstat; or per container, pod, service with --by): on-CPU time in ns from the scheduler's runtime accounting "
		       "(user + system, to a tick), voluntary and involuntary context switches, run-queue wait in ns "
		       "(woken or preempted until switched in), per interval, most CPU first; at most 10240 processes "
		       "per interval, the counts of more go to a row \"[map full]\"",
	.kind = PROBE_COUNTS,
	.hook = CPU_TOP_HOOK,
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_TOP | PROBE_PARAM_BY | PROBE_PARAM_CGROUP,
	/* pid: the (pid, comm) rows, the default */
	.by_choices = "pid|container|pod|service",
	.default_top = 20,
	.nkeys = 2,
	.key_names = { "pid", "comm" },
	.nvalues = NCOUNTS,
	.value_names = { "on_cpu_ns", "voluntary", "involuntary", "runq_wait_ns" },
	.supported = cpu_top_supported,
	.runtime = &runtime,
	.read_counts = probe_runtime_read_counts,
};

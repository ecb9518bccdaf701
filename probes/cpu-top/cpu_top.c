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

/* Processes that found the map full: one row, so no time goes missing silently. */
static int cpu_top_overflow(void *state, const uint64_t *window, struct count_table *out)
{
	const char *keys[2] = { "-", "[map full]" };

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
	.runtime = &runtime,
	.read_counts = probe_runtime_read_counts,
};

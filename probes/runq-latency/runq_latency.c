/* SPDX-License-Identifier: Apache-2.0 */
/* runq-latency user side: tp_btf or raw_tp (hook variants), the filters, per-series histograms. */
#include <stdio.h>
#include <string.h>

#include "kernel_env.h"
#include "runq_latency.h"
#include "runq_latency.skel.h"
#include "runtime.h"

static const char *const tracepoints[] = { "sched/sched_wakeup", "sched/sched_wakeup_new", "sched/sched_switch" };
static const char *const tracepoint_types[] = { "sched_wakeup_template", "sched_wakeup_template", "sched_switch" };

static int runq_latency_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 3, reason, len);
}

/* tp_btf keeps start times in task local storage (5.11+); raw_tp in an LRU hash. */
static const char *const btf_programs[] = { "runq_wakeup_btf", "runq_wakeup_new_btf", "runq_switch_btf", NULL };
static const char *const btf_maps[] = { "start_task", NULL };
static const char *const raw_programs[] = { "runq_wakeup_raw", "runq_wakeup_new_raw", "runq_switch_raw", NULL };
static const char *const raw_maps[] = { "start", NULL };
static const struct hook_variant variant_rows[] = {
	{ "tp_btf", "tp_btf sched_wakeup + sched_wakeup_new + sched_switch", btf_programs, btf_maps },
	{ "raw_tp", "raw_tp sched_wakeup + sched_wakeup_new + sched_switch", raw_programs, raw_maps },
};
HOOK_VARIANTS(variants, runq_latency, "runq-latency", variant_rows);

/* The split is read-only data, fixed at load. */
static int runq_latency_configure(void *state, void *skel, const struct hook_variant *variant,
				  const struct probe_params *params, char *err, size_t errlen)
{
	(void)state, (void)variant, (void)err, (void)errlen;
	((struct runq_latency *)skel)->rodata->targ_per_pid = strcmp(params->by, "pid") == 0;
	return 0;
}

static void runq_latency_label(void *state, const void *key, char *label, size_t len)
{
	const struct probe_instance *in = state;
	__u64 series = *(const __u64 *)key;

	if (series == RUNQ_LATENCY_ALL)
		snprintf(label, len, "all");
	else if (in->by_workload != CGROUP_WORKLOAD_NONE)
		cgroup_workload_label(series, in->by_workload, label, len);
	else
		snprintf(label, len, "pid=%llu", (unsigned long long)series);
}

static const struct probe_runtime runtime = {
	.configure = runq_latency_configure,
	.hist_map = "hists",
	.hist_max_series = RUNQ_LATENCY_MAX_SERIES,
	.hist_label = runq_latency_label,
	.hist_prealloc = true,
};

const struct probe_desc probe_runq_latency = {
	.name = "runq-latency",
	.description = "scheduler run-queue latency in ns: from a task becoming runnable (wakeup, "
		       "or preemption) to running on a CPU; all tasks, or per process, container, pod or systemd service "
		       "with --by",
	.kind = PROBE_HISTOGRAM,
	.hook = "tp_btf sched_wakeup + sched_wakeup_new + sched_switch (raw_tp where tp_btf "
		"cannot load)",
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_CGROUP | PROBE_PARAM_BY,
	.by_choices = "pid|none|container|pod|service",
	.supported = runq_latency_supported,
	.runtime = &runtime,
	.read_hist = probe_runtime_read_hist,
};

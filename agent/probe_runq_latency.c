/* SPDX-License-Identifier: Apache-2.0 */
/* runq-latency user side: tp_btf or raw_tp (hook variants), the filters, per-series histograms. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "hook_variant.h"
#include "kernel_env.h"
#include "log.h"
#include "map_drain.h"
#include "map_percpu.h"
#include "runq_latency.h"
#include "runq_latency.skel.h"

_Static_assert(RUNQ_LATENCY_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");

struct runq_latency_state {
	struct runq_latency *skel;
	bool per_pid;
	struct hist_counts *percpu; /* one value per possible CPU, reused by every read */
	size_t percpu_size;
	int ncpus;
	struct hist scratch;        /* one drained series, summed over CPUs */
	__u32 keys[RUNQ_LATENCY_MAX_SERIES]; /* map_drain's key list */
};

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

static void runq_latency_close(void **state)
{
	struct runq_latency_state *st;

	if (!state || !*state)
		return;
	st = *state;
	runq_latency__destroy(st->skel);
	free(st->percpu);
	free(st);
	*state = NULL;
}

/* The filters are read-only data, fixed at load. */
static int runq_latency_configure(void *skel, const struct hook_variant *variant, void *ctx, char *err,
				  size_t errlen)
{
	struct runq_latency *obj = skel;
	const struct probe_params *params = ctx;
	size_t n;

	(void)variant, (void)err, (void)errlen;
	if (params) {
		n = strnlen(params->comm, PROBE_COMM_LEN - 1);
		obj->rodata->targ_tgid = params->pid;
		memset((char *)obj->rodata->targ_comm, 0, RUNQ_LATENCY_COMM_LEN);
		memcpy((char *)obj->rodata->targ_comm, params->comm, n);
		obj->rodata->targ_cgroup = params->cgroup_id;
		obj->rodata->targ_per_pid = strcmp(params->by, "pid") == 0;
	}
	return map_prealloc_where_needed(obj->maps.hists, "runq-latency", MAP_PREALLOC_MAX_BYTES);
}

static int runq_latency_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct runq_latency_state *st = NULL;
	void *skel;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating runq-latency state: %s", strerror(-err));
		goto cleanup;
	}

	st->percpu = percpu_buffer_new(sizeof(struct hist_counts), &st->ncpus, &st->percpu_size, "runq-latency", errbuf,
				       errlen);
	if (!st->percpu) {
		err = -ENOMEM;
		goto cleanup;
	}

	err = hook_variants_open(&variants, runq_latency_configure, (void *)params, &skel, NULL, errbuf, errlen);
	if (err)
		goto cleanup;
	st->skel = skel;
	st->per_pid = params && strcmp(params->by, "pid") == 0;

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		runq_latency_close(&partial);
	}
	return err;
}

struct runq_drain {
	struct runq_latency_state *st;
	struct hist_set *out;
	uint64_t dropped;
};

static int runq_latency_add(const void *key, const void *value, void *ctx)
{
	struct runq_drain *d = ctx;
	__u32 series = *(const __u32 *)key;
	char label[32];
	struct hist *h;

	hist_from_percpu(&d->st->scratch, value, d->st->ncpus);
	if (series == RUNQ_LATENCY_ALL)
		snprintf(label, sizeof(label), "all");
	else
		snprintf(label, sizeof(label), "pid=%u", series);
	h = hist_set_get(d->out, label);
	if (!h) {
		d->dropped++;
		return 0;
	}
	hist_merge(h, &d->st->scratch);
	return 0;
}

/* Drains every series the kernel accumulated since the last read into out. */
static int runq_latency_read(void *state, struct hist_set *out)
{
	struct runq_latency_state *st = state;
	struct runq_drain d = { .st = st, .out = out };
	int n;

	n = map_drain(st->skel->maps.hists, st->keys, RUNQ_LATENCY_MAX_SERIES, st->percpu, st->percpu_size,
		      runq_latency_add, &d);
	if (n < 0)
		return n;
	if (d.dropped)
		log_warn("runq-latency: %llu series left out of this window (more than %d processes)",
			 (unsigned long long)d.dropped, HIST_SET_MAX);
	return 0;
}

const struct probe_desc probe_runq_latency = {
	.name = "runq-latency",
	.description = "scheduler run-queue latency in ns: from a task becoming runnable (wakeup, "
		       "or preemption) to running on a CPU; all tasks, or per process with --by pid",
	.kind = PROBE_HISTOGRAM,
	.hook = "tp_btf sched_wakeup + sched_wakeup_new + sched_switch (raw_tp where tp_btf "
		"cannot load)",
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_CGROUP | PROBE_PARAM_BY,
	.by_choices = "pid|none",
	.supported = runq_latency_supported,
	.open = runq_latency_open,
	.read_hist = runq_latency_read,
	.close = runq_latency_close,
};

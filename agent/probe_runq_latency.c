/* SPDX-License-Identifier: Apache-2.0 */
/* runq-latency user side: picks tp_btf or raw_tp, sets the filters, drains per-series histograms. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "map_percpu.h"
#include "kernel_env.h"
#include "log.h"
#include "map_drain.h"
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
static const char *const raw_names[] = { "sched_wakeup", "sched_wakeup_new", "sched_switch" };

static int runq_latency_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 3, reason, len);
}

/* tp_btf when the kernel loads tracing programs for all three tracepoints, else raw_tp. */
static bool use_tp_btf(void)
{
	for (size_t i = 0; i < sizeof(raw_names) / sizeof(raw_names[0]); i++)
		if (!kernel_env_tp_btf_usable(raw_names[i]))
			return false;
	return true;
}

static const char *runq_latency_hook_here(const struct probe_params *params)
{
	(void)params;
	return use_tp_btf() ? "tp_btf sched_wakeup + sched_wakeup_new + sched_switch"
			    : "raw_tp sched_wakeup + sched_wakeup_new + sched_switch (tp_btf not used here)";
}

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

static int runq_latency_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct runq_latency_state *st = NULL;
	bool btf;
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

	/* Open: parse the embedded object. */
	st->skel = runq_latency__open();
	if (!st->skel) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "opening runq-latency BPF object: %s", strerror(-err));
		goto cleanup;
	}

	/* Choose the hook: both variants are compiled in, the unused one is not loaded. */
	btf = use_tp_btf();
	kernel_env_pick_tp_btf(st->skel->obj, btf);
	/* tp_btf keeps start times in task storage: the fallback's LRU table need not be
	 * preallocated (a map cannot be left out, but it can be one entry) */
	if (btf)
		bpf_map__set_max_entries(st->skel->maps.start, 1);

	/* Configure: the filters are read-only data, fixed at load. */
	if (params) {
		size_t n = strnlen(params->comm, PROBE_COMM_LEN - 1);

		st->skel->rodata->targ_tgid = params->pid;
		memset((char *)st->skel->rodata->targ_comm, 0, RUNQ_LATENCY_COMM_LEN);
		memcpy((char *)st->skel->rodata->targ_comm, params->comm, n);
		st->skel->rodata->targ_cgroup = params->cgroup_id;
		st->per_pid = strcmp(params->by, "pid") == 0;
		st->skel->rodata->targ_per_pid = st->per_pid;
	}

	/* Load: the verifier runs here. */
	err = runq_latency__load(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "loading runq-latency BPF program (%s): %s", btf ? "tp_btf" : "raw_tp",
			 strerror(-err));
		goto cleanup;
	}

	/* Attach the three scheduler tracepoints (only loaded programs are attached). */
	err = runq_latency__attach(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "attaching runq-latency to %s sched_wakeup, sched_wakeup_new, sched_switch: %s",
			 btf ? "tp_btf" : "raw_tp", strerror(-err));
		goto cleanup;
	}
	log_info("runq-latency: attached through %s", btf ? "tp_btf" : "raw_tp");

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
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_CGROUP | PROBE_PARAM_BY,
	.by_choices = "pid|none",
	.hook_here = runq_latency_hook_here,
	.supported = runq_latency_supported,
	.open = runq_latency_open,
	.read_hist = runq_latency_read,
	.close = runq_latency_close,
};

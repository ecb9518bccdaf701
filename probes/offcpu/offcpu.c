/* SPDX-License-Identifier: Apache-2.0 */
/* offcpu user side: time blocked per process and stack, symbolized and folded like profile's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kernel_env.h"
#include "log.h"
#include "runtime.h"
#include "offcpu.h"
#include "offcpu.skel.h"
#include "stack_counts.h"

static const char *const tracepoints[] = { "sched/sched_switch" };
static const char *const tracepoint_types[] = { "sched_switch" };

static int offcpu_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 1, reason, len);
}

struct offcpu_state {
	struct probe_instance in;
	struct stack_counts sc;
	/* blocks in progress, read each interval (buffers allocated once) */
	__u32 *tids;
	struct offcpu_start *starts;
	__s32 *keep; /* their stack ids, sorted */
	bool batch_refused;
};

static struct offcpu *offcpu_skel(const struct offcpu_state *st)
{
	return st->in.skel;
}

static void offcpu_stopping(void *state)
{
	struct offcpu_state *st = state;

	stack_counts_free(&st->sc);
	free(st->tids);
	free(st->starts);
	free(st->keep);
}

static int offcpu_prepare(void *state, const struct probe_params *params, char *err, size_t errlen)
{
	struct offcpu_state *st = state;

	(void)params;
	st->tids = calloc(OFFCPU_MAX_TASKS, sizeof(*st->tids));
	st->starts = calloc(OFFCPU_MAX_TASKS, sizeof(*st->starts));
	st->keep = calloc(2 * OFFCPU_MAX_TASKS, sizeof(*st->keep));
	if (!st->tids || !st->starts || !st->keep) {
		snprintf(err, errlen, "allocating offcpu buffers: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return stack_counts_init(&st->sc, st->in.by_workload, err, errlen);
}

static int offcpu_configure(void *state, void *skel, const struct hook_variant *variant,
			    const struct probe_params *params, char *err, size_t errlen)
{
	struct offcpu *o = skel;

	(void)state, (void)variant, (void)err, (void)errlen;
	o->rodata->min_block_ns = params->min_block_ns;
	return 0;
}

static int cmp_s32(const void *a, const void *b)
{
	__s32 x = *(const __s32 *)a, y = *(const __s32 *)b;

	return x < y ? -1 : x > y;
}

/* The stack ids of the blocks in progress, sorted: their time is added at switch-in,
 * after this read, so their stacks must outlive it (a task waiting in epoll for
 * seconds, the block that matters most, would otherwise lose its stack). */
static size_t blocks_in_progress(struct offcpu_state *st)
{
	int fd = bpf_map__fd(offcpu_skel(st)->maps.start), err = 0;
	__u32 total = 0, count, next;
	void *in = NULL;
	size_t n = 0;

	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	while (!st->batch_refused && total < OFFCPU_MAX_TASKS && !err) {
		count = OFFCPU_MAX_TASKS - total;
		err = bpf_map_lookup_batch(fd, in, &next, st->tids + total, st->starts + total, &count, &opts);
		err = err ? -errno : 0;
		total += count;
		in = &next;
		if (err && err != -ENOENT) {
			/* before 5.6, or a bucket larger than the room left: stacks may go early */
			log_warn("offcpu: reading the blocks in progress: %s", strerror(-err));
			st->batch_refused = err != -ENOSPC;
		}
	}
	for (__u32 i = 0; i < total; i++) {
		if (st->starts[i].key.user_stack_id >= 0)
			st->keep[n++] = st->starts[i].key.user_stack_id;
		if (st->starts[i].key.kern_stack_id >= 0)
			st->keep[n++] = st->starts[i].key.kern_stack_id;
	}
	qsort(st->keep, n, sizeof(*st->keep), cmp_s32);
	return n;
}

static int offcpu_read(void *state, struct count_table *out)
{
	struct offcpu_state *st = state;
	struct offcpu *skel = offcpu_skel(st);
	const struct stack_counts_maps maps = {
		.counts = skel->maps.blocked,
		.stacks = skel->maps.stacks,
		.lost = skel->maps.lost,
		.probe = "offcpu",
		.unit = "blocks",
	};
	size_t nkeep = blocks_in_progress(st);

	return stack_counts_read(&st->sc, &maps, st->keep, nkeep, out);
}

#define OFFCPU_HOOK "tp_btf sched_switch + stack trace map"
static const char *const btf_programs[] = { "offcpu_switch_btf", NULL };
static const char *const raw_programs[] = { "offcpu_switch_raw", NULL };
static const struct hook_variant variant_rows[] = {
	{ "tp_btf", OFFCPU_HOOK, btf_programs, NULL },
	{ "raw_tp", "raw_tp sched_switch + stack trace map", raw_programs, NULL },
};
HOOK_VARIANTS(variants, offcpu, "offcpu", variant_rows);

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct offcpu_state),
	.prepare = offcpu_prepare,
	.configure = offcpu_configure,
	.stopping = offcpu_stopping,
};

const struct probe_desc probe_offcpu = {
	.name = "offcpu",
	.description = "time tasks spend blocked (switched out not runnable, until they run again), by the "
		       "stacks they blocked in, folded as comm;outermost;...;innermost (kernel frames end in _[k]; with "
		       "--by container|pod|service the root frame is the workload, container:ID, pod:UID or "
		       "service:NAME, instead of comm); "
		       "--min-block DUR leaves shorter blocks out; use --output folded (or svg) for off-CPU flame graphs",
	.kind = PROBE_COUNTS,
	.hook = OFFCPU_HOOK " (raw_tp where tp_btf cannot load)",
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_CGROUP | PROBE_PARAM_MIN_BLOCK | PROBE_PARAM_TOP |
		  PROBE_PARAM_BY,
	/* comm: the stacks' root frame is the process's name, the default */
	.by_choices = "comm|container|pod|service",
	.default_top = 1000,
	.nkeys = 1,
	.key_names = { "stack" },
	.nvalues = 1,
	.value_names = { "off_cpu_ns" },
	.supported = offcpu_supported,
	.runtime = &runtime,
	.read_counts = offcpu_read,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* tp-count user side: tracepoints matching CATEGORY:PATTERN from tracefs, one link each, hits per interval. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "runtime.h"
#include "each_index.h"
#include "kernel_env.h"
#include "log.h"
#include "map_percpu.h"
#include "tp_count.h"
#include "tp_count.skel.h"

struct tp_count_state {
	struct probe_instance in; /* in.percpu: one u64 per possible CPU, reused by every read */
	struct tracepoint_list list; /* sorted: index i is cookie i */
	struct bpf_link **links; /* one per tracepoint */
	struct tp_count_key *keys; /* --by pid drain buffer, TP_COUNT_MAX_PAIRS keys */
	uint64_t *before;          /* cumulative hits (or overflow hits) at the previous read */
	bool by_pid;               /* or by workload (in.by_workload): the pairs map */
};

/* The target's tracepoints, at most TP_COUNT_MAX: errors name the parameter. */
static int tp_count_resolve(const char *target, struct tracepoint_list *out, char *err, size_t errlen)
{
	return tracepoint_list_resolve(target, TP_COUNT_MAX, "parameter 'target'", out, err, errlen);
}

static int tp_count_supported(char *reason, size_t len)
{
	/* the agent mounts tracefs at startup; without it there is nothing to list */
	if (!kernel_env_tracefs_mounted()) {
		snprintf(reason, len, "no tracepoint list at %s (tracefs not mounted)", KERNEL_ENV_TRACEFS_EVENTS);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int tp_count_validate(struct probe_params *params, char *err, size_t errlen)
{
	struct tracepoint_list l;
	int ret;

	if (!params->target[0]) {
		snprintf(err, errlen, "parameter 'target' is required (CATEGORY:PATTERN, e.g. sched:sched_process_*)");
		return -EINVAL;
	}
	ret = tp_count_resolve(params->target, &l, err, errlen);
	tracepoint_list_free(&l);
	return ret;
}

/* links first: they hold the program the skeleton frees */
static void tp_count_detach(void *state)
{
	struct tp_count_state *st = state;

	for (size_t i = 0; st->links && i < st->list.n; i++)
		bpf_link__destroy(st->links[i]);
	tracepoint_list_free(&st->list);
	free(st->links);
	free(st->keys);
	free(st->before);
}

/* List again: tracepoints come and go with modules since validate(). */
static int tp_count_prepare(void *state, const struct probe_params *params, char *err, size_t errlen)
{
	struct tp_count_state *st = state;
	int rc;

	st->by_pid = strcmp(params->by, "pid") == 0 || cgroup_workload_by(params->by) != CGROUP_WORKLOAD_NONE;
	rc = tp_count_resolve(params->target, &st->list, err, errlen);
	if (rc)
		return rc;
	st->before = calloc(TP_COUNT_MAX, sizeof(*st->before));
	st->links = calloc(st->list.n, sizeof(*st->links));
	st->keys = st->by_pid ? calloc(TP_COUNT_MAX_PAIRS, sizeof(*st->keys)) : NULL;
	if (!st->before || !st->links || (st->by_pid && !st->keys)) {
		snprintf(err, errlen, "allocating tp-count buffers: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

/* One program for all tracepoints, told apart by the BPF cookie (5.15+); else one
 * program per tracepoint (its record carries no usable id: the first 8 bytes are
 * overwritten for BPF), at most EACH_INDEX_COUNT. */
static const char *const cookie_programs[] = { "tp_count_hit", NULL };
#define TP_COUNT_NAME(i) "tp_count_hit_" #i,
static const char *const per_tracepoint[] = { EACH_INDEX(TP_COUNT_NAME) NULL };
static const struct hook_variant variant_rows[] = {
	{ "cookie", "tracepoint (one perf link per tracepoint, BPF cookie = its index)", cookie_programs, NULL },
	{ "program per tracepoint", "tracepoint (one perf link per tracepoint, a program each: no BPF cookies here)",
	  per_tracepoint, NULL },
};
HOOK_VARIANTS(variants, tp_count, "tp-count", variant_rows);

/* The split is read-only data, fixed at load. */
static int tp_count_configure(void *state, void *skel, const struct hook_variant *variant,
			      const struct probe_params *params, char *err, size_t errlen)
{
	struct tp_count *obj = skel;
	const struct tp_count_state *st = state;

	obj->rodata->by_pid = st->by_pid;
	if (variant != &variant_rows[1])
		return 0;
	return hook_variant_keep_first_n(obj->obj, per_tracepoint, EACH_INDEX_COUNT, st->list.n, "tracepoints",
					 params->target, err, errlen);
}

/* One link per tracepoint; the cookie (or the program) says which counter it bumps. */
static int tp_count_attach(void *state, const struct probe_params *params, char *err, size_t errlen)
{
	struct tp_count_state *st = state;
	struct tp_count *skel = st->in.skel;
	bool cookie = st->in.variant == &variant_rows[0];

	(void)params;
	for (size_t i = 0; i < st->list.n; i++) {
		/* a cookie where the kernel has none fails the attach, even one nobody reads */
		LIBBPF_OPTS(bpf_tracepoint_opts, opts, .bpf_cookie = cookie ? i : 0);
		char *name = st->list.names[i], *colon = strchr(name, ':');
		struct bpf_program *prog = cookie ? skel->progs.tp_count_hit
						  : bpf_object__find_program_by_name(skel->obj, per_tracepoint[i]);
		int rc;

		*colon = '\0';
		st->links[i] = bpf_program__attach_tracepoint_opts(prog, name, colon + 1, &opts);
		*colon = ':';
		if (!st->links[i]) {
			rc = errno ? -errno : -EINVAL;
			snprintf(err, errlen, "attaching to tracepoint %s (parameter 'target'): %s", name,
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct tp_count_state),
	.prepare = tp_count_prepare,
	.configure = tp_count_configure,
	.started = tp_count_attach,
	.stopping = tp_count_detach,
	.percpu_value_size = sizeof(uint64_t),
};

struct drain_ctx {
	struct tp_count_state *st;
	struct count_table *out;
};

static int add_pair(const void *key, const void *value, void *ctx)
{
	struct drain_ctx *d = ctx;
	const struct tp_count_key *k = key;
	const struct tp_count_value *v = value;
	char pid[PROBE_TARGET_LEN], comm[TP_COUNT_COMM_LEN + 1];
	const char *keys[3] = { pid, comm, NULL };
	uint64_t hits;

	if (k->index >= d->st->list.n)
		return 0;
	keys[0] = d->st->list.names[k->index];
	keys[1] = pid;
	keys[2] = comm;
	if (d->st->in.by_workload != CGROUP_WORKLOAD_NONE) /* (tracepoint, workload) */
		cgroup_workload_of_id(k->cgroup_id, d->st->in.by_workload, pid, sizeof(pid));
	else
		snprintf(pid, sizeof(pid), "%u", k->tgid);
	memcpy(comm, v->comm, TP_COUNT_COMM_LEN);
	comm[TP_COUNT_COMM_LEN] = '\0';
	hits = v->hits;
	return count_table_add(d->out, keys, &hits);
}

static int tp_count_read(void *state, struct count_table *out)
{
	struct tp_count_state *st = state;
	struct tp_count *skel = st->in.skel;
	struct drain_ctx ctx = { st, out };
	struct tp_count_value drained;
	uint64_t delta;
	int err;

	if (st->by_pid) {
		err = map_drain(skel->maps.by_proc, st->keys, TP_COUNT_MAX_PAIRS, &drained, sizeof(drained), add_pair,
				&ctx);
		if (err < 0)
			return err;
	}
	for (__u32 i = 0; i < st->list.n; i++) {
		/* by tracepoint: the counters; by pid: what found the pair map full */
		err = map_percpu_window(st->by_pid ? skel->maps.overflow : skel->maps.hits, i, st->in.percpu,
					st->in.ncpus, &st->before[i], &delta);
		if (err)
			return err;
		if (!delta)
			continue;
		if (st->by_pid)
			log_warn("tp-count: more than %d (tracepoint, process) pairs in one interval: %" PRIu64
				 " hits of %s not attributed to a process (row \"[map full]\")",
				 TP_COUNT_MAX_PAIRS, delta, st->list.names[i]);
		/* by workload the table's second key is the last one (catalog_results_init) */
		err = count_table_add(out, (const char *const[]){ st->list.names[i],
								  st->in.by_workload ? "[map full]" : "-",
								  st->by_pid ? "[map full]" : "-" }, &delta);
		if (err)
			return err;
	}
	return 0;
}

const struct probe_desc probe_tp_count = {
	.name = "tp-count",
	.description = "hits of the kernel tracepoints matching --target CATEGORY:PATTERN (fnmatch globs on both, "
		       "e.g. sched:sched_process_*, tcp:*; at most 200, listed from tracefs), per tracepoint, or per "
		       "tracepoint and process with --by pid (or container, pod, service); --pid and --comm filter on the task current at the hit "
		       "(for events in interrupt context, whoever was running)",
	.kind = PROBE_COUNTS,
	.target_kind = PROBE_TARGET_TRACEPOINT,
	.hook = "tracepoint (one perf link per tracepoint, BPF cookie = its index; without cookies a program per "
		"tracepoint, at most 64)",
	.variants = &variants,
	.params = PROBE_PARAM_TARGET | PROBE_PARAM_BY | PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_TOP |
		  PROBE_PARAM_CGROUP,
	.by_choices = "tracepoint|pid|container|pod|service",
	.target_form = "CATEGORY:PATTERN",
	.default_top = 50,
	.nkeys = 3,
	.key_names = { "tracepoint", "pid", "comm" },
	.nvalues = 1,
	.value_names = { "hits" },
	.supported = tp_count_supported,
	.validate = tp_count_validate,
	.runtime = &runtime,
	.read_counts = tp_count_read,
};

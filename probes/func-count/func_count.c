/* SPDX-License-Identifier: Apache-2.0 */
/* func-count user side: one uprobe per function matching BINARY:PATTERN, calls summed per function. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "runtime.h"
#include "func_probes.h"
#include "func_target.h"
#include "func_count.skel.h"
#include "hook_variant.h"
#include "map_drain.h"
#include "map_percpu.h"

_Static_assert(FUNC_COUNT_MAX == FUNC_TARGET_MAX, "func-count limits differ");
_Static_assert(FUNC_COUNT_MAX_NO_COOKIE <= FUNC_COUNT_MAX, "more programs than counters");

struct func_count_state {
	struct probe_instance in;
	const struct func_target *target; /* the params' (validate), never opened again */
	struct bpf_link **links;  /* one per function, attached by hand (cookie = index) */
	__u64 *before;            /* cumulative calls at the previous read, per function */
	struct func_count_key *keys; /* --by container|pod|service: the drain's buffer */
	uint64_t overflow_before; /* and the overflow counter at the previous read */
};

extern const struct probe_desc probe_func_count; /* its key names, for probe_row_keys */

static int func_count_validate(struct probe_params *params, char *err, size_t errlen)
{
	if (!params->target[0]) {
		snprintf(err, errlen, "parameter 'target' is required (ABSOLUTE_PATH:PATTERN)");
		return -EINVAL;
	}
	func_target_free(&params->func);
	return func_target_resolve_in(params->pid, params->target, FUNC_TARGET_MAX, &params->func, err, errlen);
}

/* One program for all functions, told apart by the BPF cookie (5.15+); else one program
 * per function, at most FUNC_COUNT_MAX_NO_COOKIE. */
static const char *const cookie_programs[] = { "func_count_entry", NULL };
#define FUNC_COUNT_NAME(i) "func_count_entry_" #i,
static const char *const per_function[] = { EACH_INDEX(FUNC_COUNT_NAME) NULL };
static const struct hook_variant variant_rows[] = {
	{ "cookie", "uprobe (one per function, BPF cookie)", cookie_programs, NULL },
	{ "program per function", "uprobe (one per function, a program each: no BPF cookies here)", per_function,
	  NULL },
};
HOOK_VARIANTS(variants, func_count, "func-count", variant_rows);

/* Without cookies, one program per function is loaded, and more functions than
 * programs are refused. */
static int func_count_configure(void *state, void *skel, const struct hook_variant *variant,
				const struct probe_params *params, char *err, size_t errlen)
{
	struct func_count_state *st = state;

	/* the binary validate() opened: checked against the policy, and what the uprobes name */
	st->target = params->func;
	if (!st->target) {
		snprintf(err, errlen, "target not validated");
		return -EINVAL;
	}
	/* the (workload, function) hash only where --by asks for it */
	if (st->in.by_workload == CGROUP_WORKLOAD_NONE)
		bpf_map__set_max_entries(((struct func_count *)skel)->maps.by_workload, 1);
	if (variant != &variant_rows[1])
		return 0;
	return hook_variant_keep_first_n(((struct func_count *)skel)->obj, per_function, FUNC_COUNT_MAX_NO_COOKIE,
					 st->target->nfuncs, "functions", params->target, err, errlen);
}

/* One uprobe per function; the cookie (or the program) says which counter it bumps. The
 * pid, when given, also goes to the uprobe so other processes never trap. */
static int func_count_attach(void *state, const struct probe_params *params, char *err, size_t errlen)
{
	struct func_count_state *st = state;
	struct func_count *skel = st->in.skel;
	bool cookie = st->in.variant == &variant_rows[0];

	st->before = calloc(st->target->nfuncs, sizeof(*st->before));
	st->links = calloc(st->target->nfuncs, sizeof(*st->links));
	if (st->in.by_workload != CGROUP_WORKLOAD_NONE)
		st->keys = calloc(FUNC_COUNT_MAX_PAIRS, sizeof(*st->keys));
	if (!st->before || !st->links || (st->in.by_workload != CGROUP_WORKLOAD_NONE && !st->keys)) {
		snprintf(err, errlen, "allocating func-count buffers: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (size_t i = 0; i < st->target->nfuncs; i++) {
		const struct elf_func *f = st->target->funcs[i];
		/* a cookie where the kernel has none fails the attach, even one nobody reads */
		LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookie ? i : 0);
		struct bpf_program *prog = cookie ? skel->progs.func_count_entry
						  : bpf_object__find_program_by_name(skel->obj, per_function[i]);
		int rc;

		st->links[i] = bpf_program__attach_uprobe_opts(prog, params->pid ? (pid_t)params->pid : -1,
							       st->target->attach_path, f->file_offset, &opts);
		if (!st->links[i]) {
			rc = errno ? -errno : -EINVAL;
			snprintf(err, errlen, "attaching a uprobe to %s in %s (offset 0x%llx%s%u): %s", f->name,
				 st->target->path, (unsigned long long)f->file_offset, params->pid ? ", pid " : "",
				 params->pid, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* links first: they hold the programs the skeleton frees */
static void func_count_detach(void *state)
{
	struct func_count_state *st = state;

	for (size_t i = 0; st->links && i < st->target->nfuncs; i++)
		bpf_link__destroy(st->links[i]);
	free(st->links);
	free(st->before);
	free(st->keys);
}

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct func_count_state),
	.configure = func_count_configure,
	.started = func_count_attach,
	.stopping = func_count_detach,
	.percpu_value_size = sizeof(__u64),
};

struct drain_ctx {
	struct func_count_state *st;
	struct count_table *out;
};

/* One (workload, function) count of the interval. */
static int add_pair(const void *key, const void *value, void *ctx)
{
	const struct drain_ctx *d = ctx;
	const struct func_count_key *k = key;
	const char *keys[1], *row[2];
	char workload[PROBE_TARGET_LEN];

	if (k->index >= d->st->target->nfuncs)
		return 0;
	keys[0] = d->st->target->funcs[k->index]->name;
	return count_table_add(d->out, probe_row_keys(&probe_func_count, d->out, k->cgroup_id, keys, row, workload,
						      sizeof(workload)), value);
}

/* --by container|pod|service: the drained pairs, and a row for calls that found the map full. */
static int read_by_workload(struct func_count_state *st, struct count_table *out)
{
	struct func_count *skel = st->in.skel;
	struct drain_ctx ctx = { st, out };
	const char *const keys[2] = { "-", "[map full]" };
	uint64_t calls, delta;
	int err;

	err = map_drain(skel->maps.by_workload, st->keys, FUNC_COUNT_MAX_PAIRS, &calls, sizeof(calls), add_pair, &ctx);
	if (err < 0)
		return err;
	err = map_percpu_window(skel->maps.overflow, 0, st->in.percpu, st->in.ncpus, &st->overflow_before, &delta);
	if (err)
		return err;
	return delta ? count_table_add(out, keys, &delta) : 0;
}

static int func_count_read(void *state, struct count_table *out)
{
	struct func_count_state *st = state;

	if (st->in.by_workload != CGROUP_WORKLOAD_NONE)
		return read_by_workload(st, out);

	for (__u32 i = 0; i < st->target->nfuncs; i++) {
		const char *keys[1] = { st->target->funcs[i]->name };
		uint64_t sum = 0, delta;
		int err;

		err = bpf_map__lookup_elem(((struct func_count *)st->in.skel)->maps.calls, &i, sizeof(i), st->in.percpu,
					   st->in.percpu_size, 0);
		if (err)
			return err;
		for (int c = 0; c < st->in.ncpus; c++)
			sum += ((const __u64 *)st->in.percpu)[c];
		delta = sum - st->before[i];
		st->before[i] = sum;
		if (!delta)
			continue;
		err = count_table_add(out, keys, &delta);
		if (err)
			return err;
	}
	return 0;
}

const struct probe_desc probe_func_count = {
	.name = "func-count",
	.description = "calls of user-space functions matching --target ABSOLUTE_PATH:PATTERN (fnmatch glob, "
		       "at most 500 functions), per function, or per container, pod or systemd service and function "
		       "with --by (at most 10240 pairs per interval, the calls of more go to a row \"[map full]\")",
	.kind = PROBE_COUNTS,
	.target_kind = PROBE_TARGET_BINARY,
	.target_form = "BINARY:PATTERN",
	.hook = "uprobe (one per function, BPF cookie; without cookies a program per function, at most 64)",
	.variants = &variants,
	.params = PROBE_PARAM_TARGET | PROBE_PARAM_PID | PROBE_PARAM_TOP | PROBE_PARAM_CGROUP | PROBE_PARAM_BY,
	/* function: per function alone, the default */
	.by_choices = "function|container|pod|service",
	.nkeys = 1,
	.key_names = { "function" },
	.nvalues = 1,
	.value_names = { "calls" },
	.supported = func_target_uprobes_supported,
	.validate = func_count_validate,
	.runtime = &runtime,
	.read_counts = func_count_read,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* func-latency user side: uprobe + uretprobe on one user-space function, one histogram. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "runtime.h"
#include "func_probes.h"
#include "func_target.h"
#include "func_latency.skel.h"
#include "hist_set.h"
#include "map_percpu.h"

struct func_latency_state {
	struct probe_instance in;
	const struct func_target *target; /* the params' (validate), never opened again */
	struct bpf_link *entry, *ret;
	char label[HIST_LABEL_LEN]; /* "function=NAME" */
	/* the kernel histogram is cumulative, never reset: a window is now - before */
	struct hist before, now;
};

/* Resolves the target to exactly one function; the error lists a few matches when there are more. */
static int resolve_one(uint32_t pid, const char *target, struct func_target **out, char *err, size_t errlen)
{
	struct func_target *t = NULL;
	char names[256] = "";
	size_t len = 0;
	int ret;

	*out = NULL;
	if (!target[0]) {
		snprintf(err, errlen, "parameter 'target' is required (ABSOLUTE_PATH:FUNCTION)");
		return -EINVAL;
	}
	ret = func_target_resolve_in(pid, target, FUNC_TARGET_MAX, &t, err, errlen);
	if (ret)
		return ret;
	if (t->nfuncs != 1) {
		for (size_t i = 0; i < t->nfuncs && i < 5; i++)
			len += (size_t)snprintf(names + len, len < sizeof(names) ? sizeof(names) - len : 0, "%s%s",
						i ? ", " : "", t->funcs[i]->name);
		snprintf(err, errlen, "parameter 'target': pattern '%.100s' matches %zu functions (%s%s); "
			 "func-latency times exactly one", t->pattern, t->nfuncs, names, t->nfuncs > 5 ? ", ..." : "");
		func_target_free(&t);
		return -EINVAL;
	}
	*out = t;
	return 0;
}

static int func_latency_validate(struct probe_params *params, char *err, size_t errlen)
{
	func_target_free(&params->func);
	return resolve_one(params->pid, params->target, &params->func, err, errlen);
}

/* the binary validate() opened: checked against the policy, and what the uprobes name */
static int func_latency_configure(void *state, void *skel, const struct hook_variant *variant,
				  const struct probe_params *params, char *err, size_t errlen)
{
	struct func_latency_state *st = state;

	(void)skel, (void)variant;
	st->target = params->func;
	if (!st->target) {
		snprintf(err, errlen, "target not validated");
		return -EINVAL;
	}
	snprintf(st->label, sizeof(st->label), "function=%s", st->target->funcs[0]->name);
	return 0;
}

/* Return probe first: an entry without its return would only leave stale starts. */
static int func_latency_attach(void *state, const struct probe_params *params, char *err, size_t errlen)
{
	struct func_latency_state *st = state;
	struct func_latency *skel = st->in.skel;
	const struct elf_func *f = st->target->funcs[0];
	pid_t pid = params->pid ? (pid_t)params->pid : -1;
	int rc;

	st->ret = bpf_program__attach_uprobe(skel->progs.func_latency_return, true, pid, st->target->attach_path,
					     f->file_offset);
	if (st->ret)
		st->entry = bpf_program__attach_uprobe(skel->progs.func_latency_entry, false, pid,
						       st->target->attach_path, f->file_offset);
	if (st->ret && st->entry)
		return 0;
	rc = errno ? -errno : -EINVAL;
	snprintf(err, errlen, "attaching a %s to %s in %s (offset 0x%llx): %s", st->ret ? "uprobe" : "uretprobe",
		 f->name, st->target->path, (unsigned long long)f->file_offset, strerror(-rc));
	return rc;
}

/* links first: they hold the programs the skeleton frees */
static void func_latency_detach(void *state)
{
	struct func_latency_state *st = state;

	bpf_link__destroy(st->entry);
	bpf_link__destroy(st->ret);
}

static const struct hook_variant variant_rows[] = { { "uprobe", "uprobe + uretprobe", NULL, NULL } };
HOOK_VARIANTS(variants, func_latency, "func-latency", variant_rows);

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct func_latency_state),
	.configure = func_latency_configure,
	.started = func_latency_attach,
	.stopping = func_latency_detach,
	.percpu_value_size = sizeof(struct hist_counts),
	.cgroup_series = true,
};

static int func_latency_read(void *state, struct hist_set *out)
{
	struct func_latency_state *st = state;
	struct hist *window;

	if (st->in.hist_map) /* --by container|pod|service */
		return probe_runtime_read_hist(state, out);
	window = hist_set_get(out, st->label);
	if (!window)
		return -ENOMEM;
	return map_hist_window(((struct func_latency *)st->in.skel)->maps.hists, 0, st->in.percpu, st->in.percpu_size,
			       st->in.ncpus, &st->now, &st->before, window);
}

const struct probe_desc probe_func_latency = {
	.name = "func-latency",
	.description = "latency in ns of one user-space function, --target ABSOLUTE_PATH:FUNCTION "
		       "(entry to return, per thread); one histogram, or per container, pod or systemd service with --by",
	.kind = PROBE_HISTOGRAM,
	.target_kind = PROBE_TARGET_BINARY,
	.hook = "uprobe + uretprobe",
	.variants = &variants,
	.params = PROBE_PARAM_TARGET | PROBE_PARAM_PID | PROBE_PARAM_CGROUP | PROBE_PARAM_BY,
	.by_choices = "none|container|pod|service",
	.target_form = "BINARY:FUNCTION",
	.supported = func_target_uprobes_supported,
	.validate = func_latency_validate,
	.runtime = &runtime,
	.read_hist = func_latency_read,
};

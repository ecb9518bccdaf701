/* SPDX-License-Identifier: Apache-2.0 */
/* kfunc-latency user side: entry and return probes on one kernel function, one histogram. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "runtime.h"
#include "hist_set.h"
#include "hook_variant.h"
#include "kfunc_latency.skel.h"
#include "kfunc_list.h"
#include "map_percpu.h"

struct kfunc_latency_state {
	struct probe_instance in;
	struct kfunc_list list; /* exactly one function */
	struct bpf_link *entry, *ret;
	char label[HIST_LABEL_LEN]; /* "function=NAME" */
	/* the kernel histogram is cumulative, never reset: a window is now - before */
	struct hist before, now;
};

static int kfunc_latency_validate(struct probe_params *params, char *err, size_t errlen)
{
	return kfunc_target_validate(params->target, 1, "one kernel function, e.g. hrtimer_nanosleep", err, errlen);
}

/* links first: they hold the programs the skeleton frees */
static void detach(struct kfunc_latency_state *st)
{
	bpf_link__destroy(st->entry);
	bpf_link__destroy(st->ret);
	st->entry = st->ret = NULL;
}

/* Return probe first: an entry without its return would only leave stale starts. */
static int attach_pair(struct kfunc_latency_state *st, bool multi, struct bpf_program *entry,
		       struct bpf_program *ret, char *err, size_t errlen)
{
	const char *name = st->list.names[0];
	int rc;

	if (multi) {
		LIBBPF_OPTS(bpf_kprobe_multi_opts, opts, .syms = &name, .cnt = 1, .retprobe = true);

		st->ret = bpf_program__attach_kprobe_multi_opts(ret, NULL, &opts);
		opts.retprobe = false;
		if (st->ret)
			st->entry = bpf_program__attach_kprobe_multi_opts(entry, NULL, &opts);
	} else {
		st->ret = bpf_program__attach_kprobe(ret, true, name);
		if (st->ret)
			st->entry = bpf_program__attach_kprobe(entry, false, name);
	}
	if (st->ret && st->entry)
		return 0;
	rc = errno ? -errno : -EINVAL;
	snprintf(err, errlen, "attaching a %s%s to %s: %s", st->ret ? "kprobe" : "kretprobe", multi ? ".multi" : "",
		 name, strerror(-rc));
	detach(st);
	return rc;
}

static const char *const multi_programs[] = { "kfunc_latency_entry_multi", "kfunc_latency_return_multi", NULL };
static const char *const kprobe_programs[] = { "kfunc_latency_entry", "kfunc_latency_return", NULL };
static const struct hook_variant variant_rows[] = {
	{ "kprobe.multi", "kprobe.multi + kretprobe.multi", multi_programs, NULL },
	{ "kprobe", "kprobe + kretprobe (no kprobe.multi here)", kprobe_programs, NULL },
};

/* The row's attach step, inside its trial: 6.1 loads kprobe.multi programs but refuses their attach. */
static int kfunc_latency_attach(void *skel, const struct hook_variant *variant, void *state, char *err,
				size_t errlen)
{
	struct kfunc_latency *obj = skel;

	if (variant == &variant_rows[0])
		return attach_pair(state, true, obj->progs.kfunc_latency_entry_multi,
				   obj->progs.kfunc_latency_return_multi, err, errlen);
	return attach_pair(state, false, obj->progs.kfunc_latency_entry, obj->progs.kfunc_latency_return, err,
			   errlen);
}
HOOK_VARIANTS_ATTACH(variants, kfunc_latency, "kfunc-latency", variant_rows, kfunc_latency_attach);

/* List again: functions come and go with modules since validate(). */
static int kfunc_latency_prepare(void *state, const struct probe_params *params, char *err, size_t errlen)
{
	struct kfunc_latency_state *st = state;
	int rc = kfunc_list_resolve(params->target, 1, &st->list, err, errlen);

	if (!rc)
		snprintf(st->label, sizeof(st->label), "function=%s", st->list.names[0]);
	return rc;
}

static void kfunc_latency_stopping(void *state)
{
	struct kfunc_latency_state *st = state;

	detach(st);
	kfunc_list_free(&st->list);
}

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct kfunc_latency_state),
	.prepare = kfunc_latency_prepare,
	.stopping = kfunc_latency_stopping,
	.percpu_value_size = sizeof(struct hist_counts),
	.cgroup_series = true,
};

static int kfunc_latency_read(void *state, struct hist_set *out)
{
	struct kfunc_latency_state *st = state;
	struct hist *window;

	if (st->in.hist_map) /* --by container|pod|service */
		return probe_runtime_read_hist(state, out);
	window = hist_set_get(out, st->label);
	if (!window)
		return -ENOMEM;
	return map_hist_window(((struct kfunc_latency *)st->in.skel)->maps.hists, 0, st->in.percpu, st->in.percpu_size,
			       st->in.ncpus, &st->now, &st->before, window);
}

const struct probe_desc probe_kfunc_latency = {
	.name = "kfunc-latency",
	.description = "latency in ns of one kernel function, --target NAME (entry to return, per thread; "
		       "BCC funclatency); one histogram, or per container, pod or systemd service with --by",
	.kind = PROBE_HISTOGRAM,
	.target_kind = PROBE_TARGET_KERNEL_FUNCTION,
	.target_form = "FUNCTION",
	.hook = "kprobe.multi + kretprobe.multi; without kprobe.multi a kprobe + kretprobe",
	.variants = &variants,
	.params = PROBE_PARAM_TARGET | PROBE_PARAM_PID | PROBE_PARAM_CGROUP | PROBE_PARAM_BY,
	.by_choices = "none|container|pod|service",
	.supported = kfunc_supported,
	.trial_target = KFUNC_TRIAL_FUNCTION,
	.validate = kfunc_latency_validate,
	.runtime = &runtime,
	.read_hist = kfunc_latency_read,
};

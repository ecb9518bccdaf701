/* SPDX-License-Identifier: Apache-2.0 */
/* kfunc-latency user side: entry and return probes on one kernel function, one histogram. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "hist_set.h"
#include "hook_variant.h"
#include "kfunc_latency.skel.h"
#include "kfunc_list.h"
#include "map_percpu.h"

struct kfunc_latency_state {
	struct kfunc_latency *skel;
	struct kfunc_list list; /* exactly one function */
	struct bpf_link *entry, *ret;
	struct hist_counts *percpu; /* one value per possible CPU, reused by every read */
	size_t percpu_size;
	int ncpus;
	char label[HIST_LABEL_LEN]; /* "function=NAME" */
	/* the kernel histogram is cumulative, never reset: a window is now - before */
	struct hist before, now;
	const struct probe_params *params; /* during open */
};

static int kfunc_latency_validate(struct probe_params *params, char *err, size_t errlen)
{
	return kfunc_target_validate(params->target, 1, "one kernel function, e.g. hrtimer_nanosleep", err, errlen);
}

static void detach(struct kfunc_latency_state *st)
{
	bpf_link__destroy(st->entry);
	bpf_link__destroy(st->ret);
	st->entry = st->ret = NULL;
}

static void kfunc_latency_close(void **state)
{
	struct kfunc_latency_state *st;

	if (!state || !*state)
		return;
	st = *state;
	detach(st);
	kfunc_latency__destroy(st->skel);
	kfunc_list_free(&st->list);
	free(st->percpu);
	free(st);
	*state = NULL;
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

static int kfunc_latency_attach(void *skel, const struct hook_variant *variant, void *ctx, char *err,
				size_t errlen)
{
	struct kfunc_latency *obj = skel;

	if (variant == &variant_rows[0])
		return attach_pair(ctx, true, obj->progs.kfunc_latency_entry_multi,
				   obj->progs.kfunc_latency_return_multi, err, errlen);
	return attach_pair(ctx, false, obj->progs.kfunc_latency_entry, obj->progs.kfunc_latency_return, err,
			   errlen);
}
HOOK_VARIANTS_ATTACH(variants, kfunc_latency, "kfunc-latency", variant_rows, kfunc_latency_attach);

static int kfunc_latency_configure(void *skel, const struct hook_variant *variant, void *ctx, char *err,
				   size_t errlen)
{
	const struct kfunc_latency_state *st = ctx;

	(void)variant;
	(void)err;
	(void)errlen;
	((struct kfunc_latency *)skel)->rodata->targ_tgid = st->params->pid;
	return 0;
}

static int kfunc_latency_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct kfunc_latency_state *st = NULL;
	void *skel;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating kfunc-latency state: %s", strerror(-err));
		goto cleanup;
	}
	st->params = params;
	err = kfunc_list_resolve(params->target, 1, &st->list, errbuf, errlen);
	if (err)
		goto cleanup;
	snprintf(st->label, sizeof(st->label), "function=%s", st->list.names[0]);
	st->percpu = percpu_buffer_new(sizeof(struct hist_counts), &st->ncpus, &st->percpu_size, "kfunc-latency",
				       errbuf, errlen);
	if (!st->percpu) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = hook_variants_open(&variants, kfunc_latency_configure, st, &skel, NULL, errbuf, errlen);
	st->params = NULL;
	if (err)
		goto cleanup;
	st->skel = skel;

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		kfunc_latency_close(&partial);
	}
	return err;
}

static int kfunc_latency_read(void *state, struct hist_set *out)
{
	struct kfunc_latency_state *st = state;
	struct hist *window = hist_set_get(out, st->label);

	if (!window)
		return -ENOMEM;
	return map_hist_window(st->skel->maps.hists, 0, st->percpu, st->percpu_size, st->ncpus, &st->now, &st->before,
			       window);
}

extern const struct probe_desc probe_kfunc_latency;

/* A trial attach (kfunc_trial_supported): the hook variant that loads is what `tracectl probes` names. */
static int kfunc_latency_supported(char *reason, size_t len)
{
	static struct kfunc_trial trial;

	return kfunc_trial_supported(&trial, &probe_kfunc_latency, reason, len);
}

const struct probe_desc probe_kfunc_latency = {
	.name = "kfunc-latency",
	.description = "latency in ns of one kernel function, --target NAME (entry to return, per thread; "
		       "BCC funclatency)",
	.kind = PROBE_HISTOGRAM,
	.target_kind = PROBE_TARGET_KERNEL_FUNCTION,
	.hook = "kprobe.multi + kretprobe.multi; without kprobe.multi a kprobe + kretprobe",
	.variants = &variants,
	.params = PROBE_PARAM_TARGET | PROBE_PARAM_PID,
	.supported = kfunc_latency_supported,
	.validate = kfunc_latency_validate,
	.open = kfunc_latency_open,
	.read_hist = kfunc_latency_read,
	.close = kfunc_latency_close,
};

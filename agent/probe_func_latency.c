/* SPDX-License-Identifier: Apache-2.0 */
/* func-latency user side: uprobe + uretprobe on one user-space function, one histogram. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "map_percpu.h"
#include "func_probes.h"
#include "func_target.h"
#include "func_latency.skel.h"
#include "hist_set.h"

struct func_latency_state {
	struct func_latency *skel;
	const struct func_target *target; /* the params' (validate), never opened again */
	struct bpf_link *entry, *ret;
	struct hist_counts *percpu; /* one value per possible CPU, reused by every read */
	size_t percpu_size;
	int ncpus;
	char label[HIST_LABEL_LEN]; /* "function=NAME" */
	/* the kernel histogram is cumulative, never reset: a window is now - before */
	struct hist before, now;
};

/* Resolves the target to exactly one function; the error lists a few matches when there are more. */
static int resolve_one(const char *target, struct func_target **out, char *err, size_t errlen)
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
	ret = func_target_resolve(target, FUNC_TARGET_MAX, &t, err, errlen);
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
	return resolve_one(params->target, &params->func, err, errlen);
}

static void func_latency_close(void **state)
{
	struct func_latency_state *st;

	if (!state || !*state)
		return;
	st = *state;
	bpf_link__destroy(st->entry);
	bpf_link__destroy(st->ret);
	func_latency__destroy(st->skel);
	free(st->percpu);
	free(st);
	*state = NULL;
}

static int func_latency_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct func_latency_state *st = NULL;
	const struct elf_func *f;
	pid_t pid = params->pid ? (pid_t)params->pid : -1;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating func-latency state: %s", strerror(-err));
		goto cleanup;
	}
	/* the binary validate() opened: checked against the policy, and what the uprobes name */
	st->target = params->func;
	if (!st->target) {
		err = -EINVAL;
		snprintf(errbuf, errlen, "func-latency: target not validated");
		goto cleanup;
	}
	f = st->target->funcs[0];
	snprintf(st->label, sizeof(st->label), "function=%s", f->name);

	st->percpu = percpu_buffer_new(sizeof(struct hist_counts), &st->ncpus, &st->percpu_size, "func-latency", errbuf,
				       errlen);
	if (!st->percpu) {
		err = -ENOMEM;
		goto cleanup;
	}

	st->skel = func_latency__open();
	if (!st->skel) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "opening func-latency BPF object: %s", strerror(-err));
		goto cleanup;
	}
	st->skel->rodata->targ_tgid = params->pid;

	err = func_latency__load(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "loading func-latency BPF program: %s", strerror(-err));
		goto cleanup;
	}

	/* Return probe first: an entry without its return would only leave stale starts. */
	st->ret = bpf_program__attach_uprobe(st->skel->progs.func_latency_return, true, pid, st->target->attach_path,
					     f->file_offset);
	if (st->ret)
		st->entry = bpf_program__attach_uprobe(st->skel->progs.func_latency_entry, false, pid,
						       st->target->attach_path, f->file_offset);
	if (!st->ret || !st->entry) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "attaching a %s to %s in %s (offset 0x%llx): %s",
			 st->ret ? "uprobe" : "uretprobe", f->name, st->target->path,
			 (unsigned long long)f->file_offset, strerror(-err));
		goto cleanup;
	}

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		func_latency_close(&partial);
	}
	return err;
}

static int func_latency_read(void *state, struct hist_set *out)
{
	struct func_latency_state *st = state;
	struct hist *window = hist_set_get(out, st->label);

	if (!window)
		return -ENOMEM;
	return map_hist_window(st->skel->maps.hists, 0, st->percpu, st->percpu_size, st->ncpus, &st->now, &st->before,
			       window);
}

const struct probe_desc probe_func_latency = {
	.name = "func-latency",
	.description = "latency in ns of one user-space function, --target ABSOLUTE_PATH:FUNCTION "
		       "(entry to return, per thread)",
	.kind = PROBE_HISTOGRAM,
	.target_kind = PROBE_TARGET_BINARY,
	.hook = "uprobe + uretprobe",
	.params = PROBE_PARAM_TARGET | PROBE_PARAM_PID,
	.supported = func_target_uprobes_supported,
	.validate = func_latency_validate,
	.open = func_latency_open,
	.read_hist = func_latency_read,
	.close = func_latency_close,
};

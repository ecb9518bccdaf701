/* SPDX-License-Identifier: Apache-2.0 */
/* kfunc-count user side: calls of the kernel functions matching a glob, per function (or per function and process). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "runtime.h"
#include "hook_variant.h"
#include "kfunc.h"
#include "kfunc_count.skel.h"
#include "kfunc_list.h"
#include "log.h"
#include "map_drain.h"
#include "map_percpu.h"

_Static_assert(KFUNC_COMM_LEN == PROBE_COMM_LEN, "comm sizes differ");

struct kfunc_count_state {
	struct probe_instance in;
	struct kfunc_list list;
	struct bpf_link **links; /* kprobe.multi: links[0] for all; else one per function */
	size_t nlinks;
	struct kfunc_count_key *keys; /* drain buffer, KFUNC_COUNT_MAX_PAIRS keys */
	uint64_t *percpu;             /* one overflow value per possible CPU, reused by every read */
	uint64_t overflow_before;
	int ncpus;
	bool by_pid;
	bool by_ip; /* keys are the probe's IP (no cookies), not the function's index */
};

static int kfunc_count_validate(struct probe_params *params, char *err, size_t errlen)
{
	return kfunc_target_validate(params->target, KFUNC_COUNT_MAX, "a kernel function name or glob, e.g. tcp_send*", err, errlen);
}

static void detach_all(struct kfunc_count_state *st)
{
	for (size_t i = 0; st->links && i < st->nlinks; i++)
		bpf_link__destroy(st->links[i]);
	st->nlinks = 0;
}

/* One link for every function, the cookie its index (kprobe.multi: 5.18+ with fprobe). */
static int attach_multi(struct kfunc_count_state *st, struct bpf_program *prog, char *err, size_t errlen)
{
	__u64 *cookies = calloc(st->list.n, sizeof(*cookies));
	LIBBPF_OPTS(bpf_kprobe_multi_opts, opts, .syms = (const char **)st->list.names, .cnt = st->list.n);
	int ret = 0;

	if (!cookies) {
		snprintf(err, errlen, "allocating cookies: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (size_t i = 0; i < st->list.n; i++)
		cookies[i] = i;
	opts.cookies = cookies;
	st->links[0] = bpf_program__attach_kprobe_multi_opts(prog, NULL, &opts);
	if (!st->links[0]) {
		ret = errno ? -errno : -EINVAL;
		snprintf(err, errlen, "attaching kprobe.multi to %zu functions: %s", st->list.n, strerror(-ret));
	} else {
		st->nlinks = 1;
	}
	free(cookies);
	return ret;
}

/* One kprobe per function, all running prog; with_cookie: its index as the cookie. */
static int attach_each(struct kfunc_count_state *st, struct bpf_program *prog, bool with_cookie, char *err,
		       size_t errlen)
{
	for (size_t i = 0; i < st->list.n; i++) {
		/* a cookie where the kernel has none fails the attach, even one nobody reads */
		LIBBPF_OPTS(bpf_kprobe_opts, opts, .bpf_cookie = with_cookie ? i : 0);

		st->links[i] = bpf_program__attach_kprobe_opts(prog, st->list.names[i], &opts);
		if (!st->links[i]) {
			int ret = errno ? -errno : -EINVAL;

			snprintf(err, errlen, "attaching a kprobe to %s: %s", st->list.names[i], strerror(-ret));
			detach_all(st);
			return ret;
		}
		st->nlinks = i + 1;
	}
	return 0;
}

static const char *const multi_programs[] = { "kfunc_count_multi", NULL };
static const char *const cookie_programs[] = { "kfunc_count_cookie", NULL };
static const char *const ip_programs[] = { "kfunc_count_ip", NULL };
static const struct hook_variant variant_rows[] = {
	{ "kprobe.multi", "kprobe.multi (one link for all the functions, BPF cookie = the function's index)",
	  multi_programs, NULL },
	{ "kprobe", "kprobe (one per function, BPF cookie = the function's index: no kprobe.multi here)",
	  cookie_programs, NULL },
	{ "kprobe by IP", "kprobe (one per function, the function found from the probe's IP in /proc/kallsyms: "
	  "no BPF cookies here)", ip_programs, NULL },
};

/* The row's attach: without cookies, the IP each kprobe reports is mapped back through
 * the functions' addresses. */
static int kfunc_count_attach(void *skel, const struct hook_variant *variant, void *state, char *err,
			      size_t errlen)
{
	struct kfunc_count *obj = skel;
	struct kfunc_count_state *st = state;
	int ret;

	if (variant == &variant_rows[0])
		return attach_multi(st, obj->progs.kfunc_count_multi, err, errlen);
	if (variant == &variant_rows[1])
		return attach_each(st, obj->progs.kfunc_count_cookie, true, err, errlen);
	ret = kfunc_list_addresses(&st->list, err, errlen);
	if (ret)
		return ret;
	st->by_ip = true;
	return attach_each(st, obj->progs.kfunc_count_ip, false, err, errlen);
}
HOOK_VARIANTS_ATTACH(variants, kfunc_count, "kfunc-count", variant_rows, kfunc_count_attach);

/* by_pid is read-only data, fixed at load (--pid is the runtime's shared filter). */
static int kfunc_count_configure(void *state, void *skel, const struct hook_variant *variant,
				 const struct probe_params *params, char *err, size_t errlen)
{
	struct kfunc_count_state *st = state;

	(void)variant, (void)params, (void)err, (void)errlen;
	((struct kfunc_count *)skel)->rodata->by_pid = st->by_pid;
	st->by_ip = false;
	return 0;
}

static int kfunc_count_prepare(void *state, const struct probe_params *params, char *err, size_t errlen)
{
	struct kfunc_count_state *st = state;
	int rc;

	st->by_pid = strcmp(params->by, "pid") == 0;
	/* List again: functions come and go with modules since validate(). */
	rc = kfunc_list_resolve(params->target, KFUNC_COUNT_MAX, &st->list, err, errlen);
	if (rc)
		return rc;
	st->percpu = percpu_buffer_new(sizeof(*st->percpu), &st->ncpus, &(size_t){ 0 }, "kfunc-count", err, errlen);
	if (!st->percpu)
		return -ENOMEM;
	st->links = calloc(st->list.n, sizeof(*st->links));
	st->keys = calloc(KFUNC_COUNT_MAX_PAIRS, sizeof(*st->keys));
	if (!st->links || !st->keys) {
		snprintf(err, errlen, "allocating kfunc-count buffers: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

/* links first: they hold the programs the skeleton frees */
static void kfunc_count_stopping(void *state)
{
	struct kfunc_count_state *st = state;

	detach_all(st);
	kfunc_list_free(&st->list);
	free(st->links);
	free(st->keys);
	free(st->percpu);
}

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct kfunc_count_state),
	.prepare = kfunc_count_prepare,
	.configure = kfunc_count_configure,
	.stopping = kfunc_count_stopping,
};

extern const struct probe_desc probe_kfunc_count; /* its key names, for probe_row_keys */

struct drain_ctx {
	struct kfunc_count_state *st;
	struct count_table *out;
};

static int add_row(const void *key, const void *value, void *ctx)
{
	const struct drain_ctx *d = ctx;
	const struct kfunc_count_key *k = key;
	const struct kfunc_count_value *v = value;
	long i = d->st->by_ip ? kfunc_list_index_of_ip(&d->st->list, k->func)
			      : (k->func < d->st->list.n ? (long)k->func : -1);
	char pid[16] = "-", comm[KFUNC_COMM_LEN + 1] = "-", unknown[32];
	const char *keys[3] = { unknown, pid, comm }, *row[3];
	char workload[PROBE_TARGET_LEN];
	uint64_t calls = v->calls;

	if (i >= 0)
		keys[0] = d->st->list.names[i];
	else
		snprintf(unknown, sizeof(unknown), "0x%" PRIx64, (uint64_t)k->func);
	if (d->st->by_pid) {
		snprintf(pid, sizeof(pid), "%u", k->tgid);
		memcpy(comm, v->comm, KFUNC_COMM_LEN);
		comm[KFUNC_COMM_LEN] = '\0';
	}
	return count_table_add(d->out, probe_row_keys(&probe_kfunc_count, d->out, k->cgroup_id, keys, row, workload,
						      sizeof(workload)), &calls);
}

static int kfunc_count_read(void *state, struct count_table *out)
{
	struct kfunc_count_state *st = state;
	struct drain_ctx ctx = { st, out };
	struct kfunc_count_value drained;
	uint64_t delta;
	int err;

	err = map_drain(((struct kfunc_count *)st->in.skel)->maps.calls, st->keys, KFUNC_COUNT_MAX_PAIRS, &drained, sizeof(drained), add_row,
			&ctx);
	if (err < 0)
		return err;
	err = map_percpu_window(((struct kfunc_count *)st->in.skel)->maps.overflow, 0, st->percpu, st->ncpus,
				&st->overflow_before, &delta);
	if (err)
		return err;
	if (!delta)
		return 0;
	log_warn("kfunc-count: more than %d (function, process) pairs in one interval: %" PRIu64
		 " calls not attributed (row \"[map full]\")", KFUNC_COUNT_MAX_PAIRS, delta);
	/* "-" for every key but the function's, whichever --by */
	return count_table_add(out, (const char *const[]){ "[map full]", "-", "-" }, &delta);
}

const struct probe_desc probe_kfunc_count = {
	.name = "kfunc-count",
	.description = "calls of the kernel functions matching --target GLOB (fnmatch * ?, e.g. tcp_send*; at most "
		       "200, listed from tracefs available_filter_functions), per function, or per function and "
		       "process with --by pid, or per function and container, pod or systemd service with --by "
		       "container|pod|service (BCC funccount)",
	.kind = PROBE_COUNTS,
	.target_kind = PROBE_TARGET_KERNEL_FUNCTION,
	.target_form = "GLOB",
	.hook = "kprobe.multi (BPF cookie); without kprobe.multi a kprobe per function (BPF cookie, or without "
		"cookies the function found from the probe's IP)",
	.variants = &variants,
	.params = PROBE_PARAM_TARGET | PROBE_PARAM_BY | PROBE_PARAM_PID | PROBE_PARAM_TOP | PROBE_PARAM_CGROUP,
	.by_choices = "function|pid|container|pod|service",
	.default_top = 50,
	.nkeys = 3,
	.key_names = { "function", "pid", "comm" },
	.nvalues = 1,
	.value_names = { "calls" },
	.supported = kfunc_supported,
	.trial_target = KFUNC_TRIAL_FUNCTION,
	.validate = kfunc_count_validate,
	.runtime = &runtime,
	.read_counts = kfunc_count_read,
};

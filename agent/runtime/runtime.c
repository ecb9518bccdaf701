/* SPDX-License-Identifier: Apache-2.0 */
/* The probe lifecycle, written once (runtime.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "map_drain.h"
#include "map_percpu.h"
#include "runtime.h"

static const struct probe_params no_params;

/* Where the rodata variable name lives in the opened object's .rodata, and its size. */
static void *rodata_var(struct bpf_object *obj, const char *name, size_t *size)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	struct bpf_map *map, *rodata = NULL;
	size_t total;
	char *data;
	int id;

	bpf_object__for_each_map(map, obj) {
		const char *dot = strrchr(bpf_map__name(map), '.');

		if (bpf_map__is_internal(map) && dot && strcmp(dot, ".rodata") == 0)
			rodata = map;
	}
	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -ENOENT;
	if (!rodata || id < 0)
		return NULL;
	/* the skeleton's rodata itself (libbpf 1.1 hands it out as const): writable until load */
	data = (char *)(uintptr_t)bpf_map__initial_value(rodata, &total);
	sec = btf__type_by_id(btf, (__u32)id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; data && i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name) == 0 && vs->offset + vs->size <= total) {
			*size = vs->size;
			return data + vs->offset;
		}
	}
	return NULL;
}

/* One shared filter: len bytes of value, zero-padded, into the variable of that size. */
static int set_filter(struct bpf_object *obj, const char *name, const void *value, size_t len, size_t size,
		      char *err, size_t errlen)
{
	size_t have = 0;
	void *var = rodata_var(obj, name, &have);

	if (!var || have != size) {
		snprintf(err, errlen, "its BPF object has no %zu-byte rodata variable %s for the filter", size, name);
		return -EINVAL;
	}
	memset(var, 0, size);
	memcpy(var, value, len);
	return 0;
}

/* Whether tracing programs may call bpf_get_current_ancestor_cgroup_id (5.14+; the helper is
 * older, but was for cgroup programs only): asked of the kernel once. */
static bool cgroup_ancestor_helper(void)
{
	static int allowed = -1;

	if (allowed < 0)
		allowed = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_ancestor_cgroup_id,
						  NULL) == 1;
	return allowed;
}

bool probe_by_workload_choices(const struct probe_desc *probe)
{
	return (probe->params & PROBE_PARAM_BY) && probe->by_choices && strstr(probe->by_choices, "container");
}

const char *const *probe_row_keys(const struct probe_desc *probe, const struct count_table *t, uint64_t cgroup_id,
				  const char *const *keys, const char **out, char *workload, size_t len)
{
	for (size_t j = 0; j < t->nkeys; j++) {
		enum cgroup_workload kind = cgroup_workload_by(t->key_names[j]);

		out[j] = "-";
		if (kind != CGROUP_WORKLOAD_NONE) {
			/* 0 is no cgroup's id: a row of no workload ("[map full]") */
			out[j] = cgroup_id ? cgroup_workload_of_id(cgroup_id, kind, workload, len) : "-";
			continue;
		}
		for (size_t i = 0; i < probe->nkeys; i++)
			if (strcmp(probe->key_names[i], t->key_names[j]) == 0)
				out[j] = keys[i];
	}
	return out;
}

/* The filters every probe that accepts them applies in the kernel, fixed at load. */
static int set_shared_filters(const struct probe_desc *probe, struct bpf_object *obj,
			      const struct probe_params *p, char *err, size_t errlen)
{
	int rc = 0;

	if (probe->params & PROBE_PARAM_PID)
		rc = set_filter(obj, "targ_tgid", &p->pid, sizeof(p->pid), sizeof(p->pid), err, errlen);
	if (!rc && (probe->params & PROBE_PARAM_COMM))
		rc = set_filter(obj, "targ_comm", p->comm, strnlen(p->comm, PROBE_COMM_LEN - 1),
				PROBE_COMM_LEN, err, errlen);
	if (!rc && (probe->params & PROBE_PARAM_CGROUP))
		rc = set_filter(obj, "targ_cgroups", p->cgroups, sizeof(p->cgroups), sizeof(p->cgroups), err,
				errlen);
	if (!rc && (probe->params & PROBE_PARAM_CGROUP) && p->cgroups[0].id) {
		bool helper = cgroup_ancestor_helper();

		rc = set_filter(obj, "targ_cgroup_helper", &helper, sizeof(helper), sizeof(helper), err, errlen);
	}
	if (!rc && probe_by_workload_choices(probe)) {
		bool per_cgroup = cgroup_workload_by(p->by) != CGROUP_WORKLOAD_NONE;

		rc = set_filter(obj, "targ_per_cgroup", &per_cgroup, sizeof(per_cgroup), sizeof(per_cgroup), err,
				errlen);
	}
	if (!rc && (probe->params & PROBE_PARAM_PORT))
		rc = set_filter(obj, "targ_port", &p->port, sizeof(p->port), sizeof(p->port), err,
				errlen);
	return rc;
}

/* A split of the results chosen by --by: read-only data (flag); the hash of its series sized where needed. */
static int split_configure(struct bpf_object *obj, const char *probe, const char *flag, bool split,
			   const char *series_map, char *err, size_t errlen)
{
	int rc = set_filter(obj, flag, &split, sizeof(split), sizeof(split), err, errlen);

	if (rc || !split)
		return rc;
	return map_prealloc_where_needed(bpf_object__find_map_by_name(obj, series_map), probe, MAP_PREALLOC_MAX_BYTES);
}

/* Which of hist_cgroup.bpf.h's series maps a probe with it uses (split: --by container|pod|
 * service): the per-CPU one where it fits preallocated (map_prealloc_where_needed: no atomics),
 * else the shared one, preallocated whatever the CPU count, so that no series or sample is
 * lost to an empty allocator cache (6.1+) or a shrunk map (5.10). The other is shrunk to one
 * entry: the shared map would otherwise cost its 5 MB in every load. */
static int hist_cgroup_choose(struct probe_instance *in, struct bpf_object *obj, bool split, char *err,
			      size_t errlen)
{
	struct bpf_map *percpu = bpf_object__find_map_by_name(obj, "hist_cgroup");
	struct bpf_map *shared = bpf_object__find_map_by_name(obj, "hist_cgroup_shared");
	bool use_shared = false;
	size_t fit = 0;
	int rc;

	if (!percpu)
		return -EINVAL;
	if (split) {
		fit = map_prealloc_fit(percpu, MAP_PREALLOC_MAX_BYTES);
		if (!fit)
			return -EINVAL;
		use_shared = fit < HIST_CGROUP_MAX_SERIES;
	}
	rc = set_filter(obj, "targ_cgroup_shared", &use_shared, sizeof(use_shared), sizeof(use_shared), err,
			errlen);
	if (!rc)
		rc = bpf_map__set_max_entries(use_shared ? percpu : shared, 1);
	if (rc)
		return rc;
	if (use_shared && !in->hist_cgroup_shared)
		log_info("%s: --by %s series in one map for all CPUs (hist_cgroup_shared, atomic adds, %d "
			 "preallocated): per CPU, only %zu of them would fit %u MB on %d CPUs",
			 in->probe->name, cgroup_workload_name(in->by_workload), HIST_CGROUP_MAX_SERIES, fit,
			 MAP_PREALLOC_MAX_BYTES >> 20, libbpf_num_possible_cpus());
	in->hist_cgroup_shared = use_shared;
	return 0;
}

/* ctx: the probe's state, whose params are set while it opens (a variant's attach step,
 * hook_variants.attach, gets the same state) */
static int configure(void *skel, const struct hook_variant *variant, void *ctx, char *err, size_t errlen)
{
	struct probe_instance *in = ctx;
	const struct probe_desc *probe = in->probe;
	const struct probe_runtime *rt = probe->runtime;
	struct bpf_object *obj = in->skeleton->object(skel);
	const struct probe_params *params = in->params;
	int rc;

	rc = set_shared_filters(probe, obj, params, err, errlen);
	if (!rc && rt->configure)
		rc = rt->configure(in, skel, variant, params, err, errlen);
	if (!rc && rt->hist_map && rt->hist_prealloc)
		rc = map_prealloc_where_needed(bpf_object__find_map_by_name(obj, rt->hist_map), probe->name,
					       MAP_PREALLOC_MAX_BYTES);
	if (!rc && rt->net_hist)
		rc = split_configure(obj, probe->name, "by_remote", strcmp(params->by, "remote") == 0, "hist_remote",
				     err, errlen);
	if (!rc && rt->cgroup_series)
		rc = split_configure(obj, probe->name, "targ_per_cgroup", in->by_workload != CGROUP_WORKLOAD_NONE,
				     "hist_cgroup", err, errlen);
	if (!rc && bpf_object__find_map_by_name(obj, "hist_cgroup_shared"))
		rc = hist_cgroup_choose(in, obj, rt->cgroup_series && in->by_workload != CGROUP_WORKLOAD_NONE, err,
					errlen);
	return rc;
}

static size_t map_key_size(struct bpf_object *obj, const char *map)
{
	return bpf_map__key_size(bpf_object__find_map_by_name(obj, map));
}

/* A series of hist_cgroup: the workload its cgroup id is in, after the probe's own series
 * name ("role=client container=ID") where it has several. */
static void cgroup_series_label(void *state, const void *key, char *label, size_t len)
{
	const struct probe_instance *in = state;
	const struct probe_runtime *rt = in->probe->runtime;
	const struct hist_cgroup_key *k = key;
	char workload[HIST_LABEL_LEN];

	cgroup_workload_label(k->cgroup_id, in->by_workload, workload, sizeof(workload));
	if (!rt->series_names)
		snprintf(label, len, "%s", workload);
	else if (k->series < rt->nseries)
		snprintf(label, len, "%s %s", rt->series_names[k->series], workload);
}

/* The hash probe_runtime_read_hist drains, if any (see probe_instance.hist_map). */
static void choose_hist_map(struct probe_instance *in)
{
	const struct probe_runtime *rt = in->probe->runtime;

	if (rt->cgroup_series && in->by_workload != CGROUP_WORKLOAD_NONE) {
		in->hist_map = bpf_object__find_map_by_name(in->obj, in->hist_cgroup_shared ? "hist_cgroup_shared"
												  : "hist_cgroup");
		in->hist_max_series = HIST_CGROUP_MAX_SERIES;
		in->hist_label = cgroup_series_label;
	} else if (rt->hist_map) {
		in->hist_map = bpf_object__find_map_by_name(in->obj, rt->hist_map);
		in->hist_max_series = rt->hist_max_series;
		in->hist_label = rt->hist_label;
	}
}

/* The readers the runtime keeps for the probe: read buffers of its maps, the ring. */
static int open_readers(struct probe_instance *in, const struct probe_params *params, char *err, size_t errlen)
{
	const struct probe_runtime *rt = in->probe->runtime;
	const char *name = in->probe->name;
	size_t percpu_value = in->hist_map ? sizeof(struct hist_counts)
			      : rt->overflow_map ? rt->overflow_fields * sizeof(uint64_t)
						 : rt->percpu_value_size;

	if (percpu_value) {
		in->percpu = percpu_buffer_new(percpu_value, &in->ncpus, &in->percpu_size, name, err, errlen);
		if (!in->percpu)
			return -ENOMEM;
	}
	in->hist_ncpus = in->ncpus;
	if (in->hist_map && in->hist_cgroup_shared) {
		/* one histogram for all CPUs: read as one "CPU" */
		in->hist_ncpus = 1;
		in->percpu_size = sizeof(struct hist_counts);
	}
	if (in->hist_map) {
		in->keys = calloc(in->hist_max_series, bpf_map__key_size(in->hist_map));
		if (!in->keys)
			goto nomem;
	}
	if (rt->count_map) {
		in->value_size = bpf_map__value_size(bpf_object__find_map_by_name(in->obj, rt->count_map));
		in->value = malloc(in->value_size);
		in->keys = calloc(rt->count_max_keys, map_key_size(in->obj, rt->count_map));
		if (!in->value || !in->keys)
			goto nomem;
	}
	if (rt->net_hist) {
		int rc = net_hist_reader_init(&in->net, bpf_object__find_map_by_name(in->obj, "hist_all"),
					      bpf_object__find_map_by_name(in->obj, "hist_remote"),
					      strcmp(params->by, "remote") == 0, err, errlen);
		if (rc)
			return rc;
	}
	if (rt->event_map)
		/* the ring's epoll fd joins the session's event loop: no thread of ours */
		return event_ring_open(&in->ring, bpf_object__find_map_by_name(in->obj, rt->event_map),
				       bpf_object__find_map_by_name(in->obj, rt->lost_map), rt->on_record, in, name,
				       err, errlen);
	return 0;
nomem:
	snprintf(err, errlen, "allocating %s read buffers: %s", name, strerror(ENOMEM));
	return -ENOMEM;
}

int probe_runtime_open(const struct probe_desc *probe, const struct probe_params *params, void **state, char *err,
		       size_t errlen)
{
	const struct probe_runtime *rt = probe->runtime;
	const struct hook_variants *hv;
	struct probe_instance *in;
	int rc;

	*state = NULL;
	if (!params)
		params = &no_params;
	in = calloc(1, rt->state_size > sizeof(*in) ? rt->state_size : sizeof(*in));
	if (!in) {
		snprintf(err, errlen, "allocating %s state: %s", probe->name, strerror(ENOMEM));
		return -ENOMEM;
	}
	in->probe = probe;
	in->params = params;
	in->by_workload = cgroup_workload_by(params->by);
	hv = rt->variants_for ? rt->variants_for(params) : probe->variants;
	in->skeleton = hv->skeleton;
	rc = rt->prepare ? rt->prepare(in, params, err, errlen) : 0;
	if (!rc)
		rc = hook_variants_open(hv, configure, in, &in->skel, &in->variant, err, errlen);
	if (!rc) {
		in->obj = in->skeleton->object(in->skel);
		choose_hist_map(in);
		rc = open_readers(in, params, err, errlen);
	}
	if (!rc && rt->started)
		rc = rt->started(in, params, err, errlen);
	in->params = NULL; /* the caller's: not kept past the open */
	if (rc) {
		void *partial = in;

		probe_runtime_close(&partial);
		return rc;
	}
	*state = in;
	return 0;
}

void probe_runtime_close(void **state)
{
	struct probe_instance *in;
	const struct probe_runtime *rt;

	if (!state || !*state)
		return;
	in = *state;
	rt = in->probe->runtime;
	if (rt->stopping)
		rt->stopping(in);
	event_ring_close(&in->ring);
	if (in->skel)
		in->skeleton->destroy(in->skel);
	net_hist_reader_free(&in->net);
	free(in->percpu);
	free(in->keys);
	free(in->value);
	free(in);
	*state = NULL;
}

static int add_series(const void *key, const void *value, void *ctx)
{
	struct probe_instance *in = ctx;
	char label[HIST_LABEL_LEN] = "";
	struct hist *h;

	in->hist_label(in, key, label, sizeof(label));
	if (!label[0])
		return 0;
	hist_from_percpu(&in->scratch, value, in->hist_ncpus);
	if (!in->scratch.count) /* made ahead of its samples (tcp-connect), none came */
		return 0;
	h = hist_set_get(in->out, label);
	if (!h) {
		in->dropped++;
		return 0;
	}
	hist_merge(h, &in->scratch);
	return 0;
}

int probe_runtime_read_hist(void *state, struct hist_set *out)
{
	struct probe_instance *in = state;
	const struct probe_runtime *rt = in->probe->runtime;
	int n;

	if (!in->hist_map)
		return rt->net_hist ? net_hist_read(&in->net, out) : -EINVAL;
	in->out = out;
	in->dropped = 0;
	n = map_drain(in->hist_map, in->keys, in->hist_max_series, in->percpu, in->percpu_size, add_series, in);
	if (n < 0)
		return n;
	if (in->dropped)
		log_warn("%s: %llu series left out of this window (more than %d)", in->probe->name,
			 (unsigned long long)in->dropped, HIST_SET_MAX);
	return 0;
}

int probe_runtime_read_counts(void *state, struct count_table *out)
{
	struct probe_instance *in = state;
	const struct probe_runtime *rt = in->probe->runtime;
	uint64_t now[PROBE_OVERFLOW_MAX], window[PROBE_OVERFLOW_MAX];
	bool any = false;
	int err;

	err = map_drain(bpf_object__find_map_by_name(in->obj, rt->count_map), in->keys, rt->count_max_keys, in->value,
			in->value_size, rt->count_row, out);
	if (err < 0 || !rt->overflow_map)
		return err < 0 ? err : 0;
	err = map_sum_percpu(bpf_object__find_map_by_name(in->obj, rt->overflow_map), 0, in->percpu, in->ncpus,
			     rt->overflow_fields, now);
	if (err)
		return err;
	for (size_t i = 0; i < rt->overflow_fields; i++) {
		window[i] = now[i] - in->overflow_before[i];
		in->overflow_before[i] = now[i];
		any |= window[i] != 0;
	}
	return any ? rt->overflow_row(in, window, out) : 0;
}

struct bpf_object *probe_runtime_object(void *state)
{
	return state ? ((struct probe_instance *)state)->obj : NULL;
}

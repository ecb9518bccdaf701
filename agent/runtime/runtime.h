/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The probe lifecycle, written once: a probe declares its skeleton and hook variants
 * (probe_desc.variants), the maps the runtime reads for it and its own steps (struct
 * probe_runtime); the runtime allocates its state, opens the skeleton, sets the shared
 * filters, loads and attaches the first variant the kernel takes, opens its readers,
 * hands the bpf_object to the session and tears all of it down on one path.
 */
#ifndef TRACECTL_PROBE_RUNTIME_H
#define TRACECTL_PROBE_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "event_ring.h"
#include "cgroup_identity.h"
#include "hist.h"
#include "hook_variant.h"
#include "map_drain.h"
#include "net_probe.h"

#define PROBE_OVERFLOW_MAX COUNT_MAX_VALUES

/*
 * A probe's state starts with this (the runtime allocates probe_runtime.state_size
 * bytes, zeroed). The ring comes first so that event_ring_probe_* take the state.
 */
struct probe_instance {
	struct event_ring ring;              /* with event_map */
	const struct probe_desc *probe;
	const struct hook_skeleton *skeleton;
	void *skel;                          /* the skeleton, struct NAME * */
	struct bpf_object *obj;
	const struct hook_variant *variant;  /* the row that loaded */
	const struct probe_params *params;   /* while opening only (configure, variant attach steps) */
	/* --by container|pod|service: what the cgroup ids in the keys are named by (else NONE) */
	enum cgroup_workload by_workload;
	/* what probe_runtime_read_hist drains: the probe's hist_map, or hist_cgroup with
	 * cgroup_series and --by container|pod|service; NULL: neither */
	struct bpf_map *hist_map;
	size_t hist_max_series;
	void (*hist_label)(void *state, const void *key, char *label, size_t len);
	/* hist_map is hist_cgroup_shared (one value for all CPUs): read with hist_ncpus 1 */
	bool hist_cgroup_shared;
	int hist_ncpus;
	/* with hist_map or count_map: read buffers allocated once (reads run every interval) */
	void *percpu, *keys, *value;
	size_t percpu_size, value_size;
	int ncpus;
	struct hist scratch;                 /* one drained series, summed over CPUs */
	struct hist_set *out;                /* of the read in progress */
	uint64_t dropped;
	struct net_hist_reader net;          /* with net_hist */
	uint64_t overflow_before[PROBE_OVERFLOW_MAX]; /* with overflow_map: its slot is cumulative */
};

/*
 * The shared filters are set by the runtime for every one the probe accepts
 * (probe_desc.params): --pid in the rodata variable targ_tgid, --comm in targ_comm,
 * --cgroup, --container, --pod, --service (the cgroups they resolve to) in
 * targ_cgroups (bpf/cgroup_filter.bpf.h), --port in targ_port.
 */
struct probe_runtime {
	size_t state_size; /* sizeof the probe's state, which starts with struct probe_instance */
	/* Optional: the variants for these parameters, when not probe_desc.variants. */
	const struct hook_variants *(*variants_for)(const struct probe_params *params);
	/* Optional, once, before the skeleton opens: what configure() needs (a target's list). */
	int (*prepare)(void *state, const struct probe_params *params, char *err, size_t errlen);
	/* Optional, before the load of each variant tried, after the shared filters: the
	 * probe's own rodata, programs and map sizes. 0 or -errno with a reason. */
	int (*configure)(void *state, void *skel, const struct hook_variant *variant,
			 const struct probe_params *params, char *err, size_t errlen);
	/* Optional, once loaded, attached and its readers open: the probe's own setup. */
	int (*started)(void *state, const struct probe_params *params, char *err, size_t errlen);
	/* Optional: frees what prepare(), configure() and started() left in the state,
	 * before the skeleton goes; runs on a state that may be partly set up. */
	void (*stopping)(void *state);

	/* PROBE_HISTOGRAM from a hash of per-CPU struct hist_counts keyed by series,
	 * drained by probe_runtime_read_hist: its name, key size, keys per read, and the
	 * label of a key (empty: left out). */
	const char *hist_map;
	size_t hist_max_series;
	void (*hist_label)(void *state, const void *key, char *label, size_t len);
	/* hist_map sized with map_prealloc_where_needed (kernels without BPF's allocator) */
	bool hist_prealloc;
	/* PROBE_HISTOGRAM of the NET_HIST_MAPS shape (hist_all, hist_remote; --by remote):
	 * read by probe_runtime_read_hist. */
	bool net_hist;
	/* PROBE_HISTOGRAM that takes --by container|pod|service (bpf/hist_cgroup.bpf.h): with it,
	 * targ_per_cgroup is set and probe_runtime_read_hist drains hist_cgroup (in place of
	 * hist_map or net_hist), a series per workload; a probe with its own read_hist calls
	 * probe_runtime_read_hist when in->hist_map is set. */
	bool cgroup_series;
	/* ... and the probe's own series, when it has several: hist_cgroup_key.series names */
	const char *const *series_names;
	size_t nseries;

	/* PROBE_COUNTS from a hash drained by probe_runtime_read_counts, at most
	 * count_max_keys elements a read, each made a row by count_row (ctx: the table) ... */
	const char *count_map;
	size_t count_max_keys;
	map_drain_fn count_row;
	/* ... then, optional, the window of slot 0 of a per-CPU array of overflow_fields
	 * cumulative u64s (what found the hash full), handed to overflow_row when not zero. */
	const char *overflow_map;
	size_t overflow_fields;
	int (*overflow_row)(void *state, const uint64_t *window, struct count_table *out);

	/* For a probe's own read of a per-CPU map: one value's size (in->percpu gets room for
	 * every CPU's, in->ncpus is set); implied by hist_map and overflow_map. */
	size_t percpu_value_size;

	/* PROBE_EVENTS: the ring buffer and its per-CPU lost counter, and what turns one
	 * record into an event (ctx: the state). */
	const char *event_map, *lost_map;
	ring_buffer_sample_fn on_record;
};

/* Whether probe's --by takes container|pod|service: its BPF object then has the rodata
 * targ_per_cgroup (bpf/workload_key.bpf.h), which the runtime sets from --by. */
bool probe_by_workload_choices(const struct probe_desc *probe);

/*
 * A row's keys for table t (catalog_results_init made its columns): keys follow the probe's
 * key_names; a workload column (--by container|pod|service) gets the name of cgroup_id,
 * written to workload ("-" for id 0), and the probe's pid and comm are left out. Fills and returns out
 * (t->nkeys entries).
 */
const char *const *probe_row_keys(const struct probe_desc *probe, const struct count_table *t, uint64_t cgroup_id,
				  const char *const *keys, const char **out, char *workload, size_t len);

/* The lifecycle (catalog_open, catalog_close) and the runtime's reads (probe_desc.read_*). */
int probe_runtime_open(const struct probe_desc *probe, const struct probe_params *params, void **state, char *err,
		       size_t errlen);
void probe_runtime_close(void **state);
int probe_runtime_read_hist(void *state, struct hist_set *out);
int probe_runtime_read_counts(void *state, struct count_table *out);

/* The loaded object, for the session's cost accounting. */
struct bpf_object *probe_runtime_object(void *state);

#endif

/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* --by container|pod|service on a histogram probe: one series per cgroup id, which the agent
 * names (runtime.h, probe_runtime.cgroup_series). Only where the measured task is known. */
#ifndef TRACECTL_HIST_CGROUP_BPF_H
#define TRACECTL_HIST_CGROUP_BPF_H

#include "cgroup_filter.h"
#include "hist_update.bpf.h"

/* Set by the agent before load (by name). */
const volatile bool targ_per_cgroup = false;
/* With targ_per_cgroup: the series are in hist_cgroup_shared, not hist_cgroup (the agent's
 * choice, hist_cgroup_choose: where the per-CPU map does not fit preallocated). */
const volatile bool targ_cgroup_shared = false;

/* (cgroup id, series) -> histogram, per CPU, drained every window. Not preallocated here: the agent
 * sizes it where the kernel needs that (map_prealloc_where_needed). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, HIST_CGROUP_MAX_SERIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hist_cgroup_key);
	__type(value, struct hist_counts);
} hist_cgroup SEC(".maps");

/* The same series in one histogram for all CPUs, updated with atomic adds: always
 * preallocated (HIST_CGROUP_MAX_SERIES x 16.6 KB, whatever the CPU count), so a burst of
 * new series finds its elements where the per-CPU map would be left to BPF's allocator
 * (6.1+) or shrunk (5.10). The map not chosen is shrunk to one entry by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HIST_CGROUP_MAX_SERIES);
	__type(key, struct hist_cgroup_key);
	__type(value, struct hist_counts);
} hist_cgroup_shared SEC(".maps");

static struct hist_counts hist_cgroup_zero;

/* The histogram of this cgroup id's series (hist_series_get). */
static __always_inline struct hist_counts *hist_cgroup_series(__u64 cgroup_id, __u32 series)
{
	struct hist_cgroup_key key = { .cgroup_id = cgroup_id, .series = series };

	if (targ_cgroup_shared)
		return hist_series_get(&hist_cgroup_shared, &key, &hist_cgroup_zero);
	return hist_series_get(&hist_cgroup, &key, &hist_cgroup_zero);
}

/* v into h, from hist_cgroup_series or from the probe's own per-CPU map: the program's one
 * add (hist_series_get says why), atomic only when the series map is the shared one. */
static __always_inline void hist_cgroup_counts_add(struct hist_counts *h, __u64 v)
{
	hist_counts_add_maybe_shared(h, v, targ_per_cgroup && targ_cgroup_shared);
}

#endif

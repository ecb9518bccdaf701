/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* --by container|pod|service on a histogram probe: one series per cgroup id, which the agent
 * names (runtime.h, probe_runtime.cgroup_series). Only where the measured task is known. */
#ifndef TRACECTL_HIST_CGROUP_BPF_H
#define TRACECTL_HIST_CGROUP_BPF_H

#include "cgroup_filter.h"
#include "hist_update.bpf.h"

/* Set by the agent before load (by name). */
const volatile bool targ_per_cgroup = false;

/* (cgroup id, series) -> histogram, per CPU, drained every window. Not preallocated here: the agent
 * sizes it where the kernel needs that (map_prealloc_where_needed). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, HIST_CGROUP_MAX_SERIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hist_cgroup_key);
	__type(value, struct hist_counts);
} hist_cgroup SEC(".maps");

static struct hist_counts hist_cgroup_zero;

/* The histogram of this cgroup id's series (hist_series_get). */
static __always_inline struct hist_counts *hist_cgroup_series(__u64 cgroup_id, __u32 series)
{
	struct hist_cgroup_key key = { .cgroup_id = cgroup_id, .series = series };

	return hist_series_get(&hist_cgroup, &key, &hist_cgroup_zero);
}

#endif

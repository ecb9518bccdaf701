/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* func-latency and kfunc-latency: entry-to-return time of one function per thread, into
 * one histogram; the probes' programs (uprobe, kprobe, kprobe.multi) call these. */
#ifndef TRACECTL_FUNC_LATENCY_BPF_H
#define TRACECTL_FUNC_LATENCY_BPF_H

#include "cgroup_filter.bpf.h"
#include "hist_cgroup.bpf.h"
#include "func_probes.h"

/* Filter, set through the skeleton's rodata before load; zero means any process. */
const volatile __u32 targ_tgid = 0;

/* pid_tgid -> entry time (ns). LRU: a thread that leaves by longjmp or dies inside the
 * function never reaches the return probe, and must not fill the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FUNC_LATENCY_MAX_THREADS);
	__type(key, __u64);
	__type(value, __u64);
} starts SEC(".maps");

/* One cumulative histogram, per CPU; user space never resets it (without --by). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist_counts);
} hists SEC(".maps");

static __always_inline int latency_entry(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 now;

	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	if (!current_cgroup_allowed()) /* --cgroup, --container, --pod, --service */
		return 0;
	/* a recursive call restarts the clock: only the innermost call is timed */
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&starts, &id, &now, BPF_ANY);
	return 0;
}

static __always_inline int latency_return(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 *start, delta;
	struct hist_counts *h;
	__u32 zero = 0;

	start = bpf_map_lookup_elem(&starts, &id);
	if (!start)
		return 0;
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&starts, &id);
	/* the return runs in the thread that entered: its cgroup is the caller's */
	if (targ_per_cgroup)
		h = hist_cgroup_series(bpf_get_current_cgroup_id(), 0);
	else
		h = bpf_map_lookup_elem(&hists, &zero);
	/* one call for either map (hist_series_get says why) */
	if (!h)
		return 0;
	hist_cgroup_counts_add(h, delta);
	return 0;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The cgroup filter shared by the BPF programs and the agent: cgroups a task must be in or below. */
#ifndef TRACECTL_CGROUP_FILTER_H
#define TRACECTL_CGROUP_FILTER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* --cgroup, --container, --pod, --service: each given one adds an entry (all must hold). */
#define CGROUP_FILTER_MAX 4
/* Levels below the cgroup2 root a filtered cgroup may be at (the kernel's own limit is higher). */
#define CGROUP_FILTER_MAX_LEVEL 64
/* Levels a task's cgroup may be below a filtered one where the kernel has no helper for the
 * current task's ancestors, or the task is not the current one (each level is a step the
 * verifier walks through): runtimes nest a container's cgroups 1 or 2 deep. */
#define CGROUP_FILTER_MAX_WALK 16

/* Series a histogram probe keeps per window with --by container|pod|service (hist_cgroup.bpf.h):
 * more than the agent keeps (HIST_SET_MAX, 256), so overflow is seen there, and few enough that
 * the map is preallocated where it fits (map_prealloc_where_needed: up to 3 CPUs). Where BPF's
 * allocator gives its elements instead, a burst of new series can find its per-CPU cache empty
 * (6.12: all 13 samples of a new pod's connects lost with 1024 unallocated). */
#define HIST_CGROUP_MAX_SERIES 300

/* Their key: the workload's cgroup and, for a probe with several series of its own
 * (tcp-latency's roles), which one (probe_runtime.series_names); else 0. */
struct hist_cgroup_key {
	__u64 cgroup_id;
	__u32 series;
	__u32 pad; /* zero: keys are compared bytewise */
};

/* A cgroup v2 directory: its id (the kernfs node id, its inode number) and its depth
 * below the root (root = 0). A task is in it or below it when its cgroup's ancestor
 * at that level has that id: one comparison, however deep the task's own cgroup. */
struct cgroup_filter_entry {
	__u64 id; /* 0: unused (the entries in use come first) */
	__u32 level;
	__u32 pad;
};

#endif

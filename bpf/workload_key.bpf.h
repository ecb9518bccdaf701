/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* --by container|pod|service: count keys that carry the task's cgroup id, which the agent
 * names (cgroup_workload_of_id), in place of the process. */
#ifndef TRACECTL_WORKLOAD_KEY_BPF_H
#define TRACECTL_WORKLOAD_KEY_BPF_H

#include <bpf/bpf_helpers.h>

/* Set by the agent from --by for every probe whose --by takes a workload (runtime.c). */
const volatile bool targ_per_cgroup = false;

/* The cgroup id of the current task for a key, or 0 (keyed by process, not by workload).
 * bpf_get_current_cgroup_id: tracing programs have it on every kernel of the matrix (4.18+). */
static __always_inline __u64 key_cgroup_id(void)
{
	return targ_per_cgroup ? bpf_get_current_cgroup_id() : 0;
}

/* The tgid for a key: 0 with --by container|pod|service (one row per workload, not per process). */
static __always_inline __u32 key_tgid(__u64 pid_tgid)
{
	return targ_per_cgroup ? 0 : (__u32)(pid_tgid >> 32);
}

#endif

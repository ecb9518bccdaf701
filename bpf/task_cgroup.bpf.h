/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* The --cgroup filter: whether a task is in a cgroup v2 or below it, on kernels before and after 5.18. */
#ifndef TRACECTL_TASK_CGROUP_BPF_H
#define TRACECTL_TASK_CGROUP_BPF_H

#include <bpf/bpf_core_read.h>

/* Ancestor levels looked at: deeper cgroups than this under the filter's are not matched. */
#define TASK_CGROUP_DEPTH 16

/* Before cgroup::ancestors[] (up to 5.18) the cgroup kept its ancestors' ids instead,
 * indexed the same way (by level, itself last). */
struct cgroup___ancestor_ids {
	u64 ancestor_ids[0];
} __attribute__((preserve_access_index));

/*
 * Whether t is in the cgroup whose id is target or below it: the task's own cgroup, not
 * the current task's (a wakeup runs in the waker). On cgroup v2 a cgroup's id is its
 * kernfs node id, the directory's inode number. Ancestors come from
 * cgroup::ancestors[] (5.18+) or, on older kernels, cgroup::ancestor_ids[]; the
 * field that exists is chosen at load time, so one program serves both.
 */
static __always_inline bool task_in_cgroup(struct task_struct *t, u64 target)
{
	struct cgroup *cgrp = BPF_CORE_READ(t, cgroups, dfl_cgrp), *anc;
	struct cgroup___ancestor_ids *old = (void *)cgrp;
	bool by_pointer = bpf_core_field_exists(cgrp->ancestors);
	int level, i;
	u64 id;

	if (!cgrp)
		return false;
	if (BPF_CORE_READ(cgrp, kn, id) == target)
		return true;
	if (!by_pointer && !bpf_core_field_exists(old->ancestor_ids))
		return false;
	level = BPF_CORE_READ(cgrp, level);
	for (i = 0; i < TASK_CGROUP_DEPTH; i++) {
		if (i >= level)
			break;
		if (by_pointer) {
			if (bpf_core_read(&anc, sizeof(anc), &cgrp->ancestors[i]) || !anc)
				return false;
			id = BPF_CORE_READ(anc, kn, id);
		} else if (bpf_core_read(&id, sizeof(id), &old->ancestor_ids[i])) {
			return false;
		}
		if (id == target)
			return true;
	}
	return false;
}

#endif

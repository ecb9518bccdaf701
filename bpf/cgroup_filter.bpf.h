/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* The cgroup filter in the kernel, and the cgroup id that keys results by workload. */
#ifndef TRACECTL_CGROUP_FILTER_BPF_H
#define TRACECTL_CGROUP_FILTER_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "cgroup_filter.h"

/* Set by the agent (runtime.c, by name) before load; a child cgroup created later is below
 * the same ancestor, so it is in the filter without the agent doing anything. */
const volatile struct cgroup_filter_entry targ_cgroups[CGROUP_FILTER_MAX] = {};

/*
 * The ancestor id of cgrp at level (cgrp's own id at its own level), 0 when it has none.
 * Up through the parents: cgroup::ancestors[] (5.18+) and cgroup::ancestor_ids[] (before)
 * would need one CO-RE field each, and clang hoists the absent one's (invalid) offset out
 * of the branch that checks for it.
 */
static __always_inline __u64 cgroup_ancestor_id(struct cgroup *cgrp, __u32 level)
{
	int own = BPF_CORE_READ(cgrp, level), i;

	if (level >= CGROUP_FILTER_MAX_LEVEL || (int)level > own || own - (int)level > CGROUP_FILTER_MAX_WALK)
		return 0;
	for (i = 0; i < CGROUP_FILTER_MAX_WALK && own > (int)level && cgrp; i++, own--)
		cgrp = BPF_CORE_READ(cgrp, self.parent, cgroup);
	return cgrp ? BPF_CORE_READ(cgrp, kn, id) : 0;
}

/* A task other than the current one (a wakee, a task switched in): from its css_set. */
static __always_inline bool task_cgroup_allowed(struct task_struct *t)
{
	struct cgroup *cgrp;
	int i;

	if (!targ_cgroups[0].id)
		return true;
	cgrp = BPF_CORE_READ(t, cgroups, dfl_cgrp);
	if (!cgrp)
		return false;
	for (i = 0; i < CGROUP_FILTER_MAX; i++) {
		if (!targ_cgroups[i].id)
			break;
		if (cgroup_ancestor_id(cgrp, targ_cgroups[i].level) != targ_cgroups[i].id)
			return false;
	}
	return true;
}

/* Whether bpf_get_current_ancestor_cgroup_id may be called: tracing programs may since 5.14
 * (the agent asks the kernel); before, the current task's cgroup is walked like any task's. */
const volatile bool targ_cgroup_helper = false;

/* The current task (process context): its cgroup's ancestor at each entry's level. */
static __always_inline bool current_cgroup_allowed(void)
{
	int i;

	if (!targ_cgroups[0].id)
		return true;
	if (!targ_cgroup_helper)
		return task_cgroup_allowed((struct task_struct *)bpf_get_current_task());
	for (i = 0; i < CGROUP_FILTER_MAX; i++) {
		if (!targ_cgroups[i].id)
			break;
		if (bpf_get_current_ancestor_cgroup_id((int)targ_cgroups[i].level) != targ_cgroups[i].id)
			return false;
	}
	return true;
}

/* The id results are keyed by with --by container|pod|service (the agent names it). */
static __always_inline __u64 task_cgroup_id(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

#endif

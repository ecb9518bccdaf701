/* SPDX-License-Identifier: Apache-2.0 */
/* func-count and func-latency: the limits shared by the BPF programs and the agent. */
#ifndef TRACECTL_FUNC_PROBES_H
#define TRACECTL_FUNC_PROBES_H

#include "cgroup_filter.h"

#include "each_index.h"

/* Functions one func-count attach may probe; the uprobe's cookie indexes the counters. */
#define FUNC_COUNT_MAX 500
/* Where the kernel has no BPF cookies (before 5.15): one program per function, each
 * with its index built in (each_index.h), so fewer functions. */
#define FUNC_COUNT_MAX_NO_COOKIE EACH_INDEX_COUNT

/* --by container|pod|service: (workload, function) pairs counted per interval; calls of
 * more go to one overflow counter. */
#define FUNC_COUNT_MAX_PAIRS 10240

struct func_count_key {
	__u64 cgroup_id;
	__u32 index; /* the function's, as the cookie */
	__u32 pad;
};

/* Threads inside the probed function at once (func-latency); LRU beyond that. */
#define FUNC_LATENCY_MAX_THREADS 10240

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* kfunc-count and kfunc-latency: the limits and the counter key shared by the BPF programs and the agent. */
#ifndef TRACECTL_KFUNC_H
#define TRACECTL_KFUNC_H

#include "cgroup_filter.h"

/* Kernel functions one kfunc-count attach may probe: each is a kprobe (or an fprobe
 * entry) hit on every call, system-wide. */
#define KFUNC_COUNT_MAX 200
/* (function, process) pairs counted per interval; beyond that, the overflow slot. */
#define KFUNC_COUNT_MAX_PAIRS 10240
#define KFUNC_COMM_LEN 16

struct kfunc_count_key {
	__u64 func; /* the attach cookie (index in the agent's list), or the probe's IP without cookies */
	__u64 cgroup_id; /* --by container|pod|service, else 0 */
	__u32 tgid; /* 0 unless counting per process */
	__u32 pad;
};

struct kfunc_count_value {
	__u64 calls;
	char comm[KFUNC_COMM_LEN]; /* of the first thread that called it this interval (per process only) */
};

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* tp-count: the limits and the per-process key shared by the BPF program and the agent. */
#ifndef TRACECTL_TP_COUNT_H
#define TRACECTL_TP_COUNT_H

#include "cgroup_filter.h"

/* Tracepoints one attach may count; the attach cookie indexes the counters. */
#define TP_COUNT_MAX 200
/* (tracepoint, process) pairs counted per interval with --by pid; beyond that, the overflow slot. */
#define TP_COUNT_MAX_PAIRS 10240
#define TP_COUNT_COMM_LEN 16

struct tp_count_key {
	__u32 index; /* the tracepoint: the attach cookie */
	__u32 tgid;  /* --by pid, else 0 */
	__u64 cgroup_id; /* --by container|pod|service, else 0 */
};

struct tp_count_value {
	__u64 hits;
	char comm[TP_COUNT_COMM_LEN]; /* of the first thread that hit it this interval */
};

#endif

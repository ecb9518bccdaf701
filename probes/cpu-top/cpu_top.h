/* SPDX-License-Identifier: Apache-2.0 */
/* cpu-top: the per-process counters and limits shared by the BPF program and the agent. */
#ifndef TRACECTL_CPU_TOP_H
#define TRACECTL_CPU_TOP_H

#include "cgroup_filter.h"

/* Processes counted per interval; beyond that counts go to the overflow slot. */
#define CPU_TOP_MAX_PROCS 10240
/* Threads waiting on a run queue at once (wakeup or preemption -> switch in); LRU beyond. */
#define CPU_TOP_MAX_QUEUED 65536
#define CPU_TOP_COMM_LEN 16

struct cpu_top_counts {
	__u64 on_cpu_ns;   /* scheduler runtime accounting (sched_stat_runtime) */
	__u64 voluntary;   /* switched out blocking */
	__u64 involuntary; /* switched out still runnable (preempted, yielded) */
	__u64 runq_ns;     /* runnable but waiting for a CPU */
};

/* Key: the process (tgid, as a u64), or with --by container|pod|service its cgroup id. */
struct cpu_top_value {
	struct cpu_top_counts counts;
	char comm[CPU_TOP_COMM_LEN]; /* the thread group leader's */
};

#endif

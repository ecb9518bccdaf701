/* SPDX-License-Identifier: Apache-2.0 */
/* runq-latency: the limits and series keys shared by the BPF program and the agent. */
#ifndef TRACECTL_RUNQ_LATENCY_H
#define TRACECTL_RUNQ_LATENCY_H

#include "cgroup_filter.h"

#define RUNQ_LATENCY_COMM_LEN 16

/* Tasks waiting on a run queue at once (LRU beyond that: a sample is lost, not the map). */
#define RUNQ_LATENCY_MAX_TASKS 65536
/* Series per window; more than the agent keeps (HIST_SET_MAX), so overflow is seen there. */
#define RUNQ_LATENCY_MAX_SERIES 1024

/* The series key when results are not split by process. */
#define RUNQ_LATENCY_ALL 0xffffffffffffffffull

#endif

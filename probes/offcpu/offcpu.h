/* SPDX-License-Identifier: Apache-2.0 */
/* offcpu: what the BPF program keeps per blocked task; its counts are keyed like profile's. */
#ifndef TRACECTL_OFFCPU_H
#define TRACECTL_OFFCPU_H

#include "stack_key.h"

/* Tasks blocked at once whose block is remembered (an LRU: the oldest go first). */
#define OFFCPU_MAX_TASKS 16384

/* Kernel frames of the tracer itself at the innermost end of the stack at sched_switch
 * (tp_btf and raw_tp alike): the BPF program and bpf_trace_run4. */
#define OFFCPU_SKIP_FRAMES 2

/* A task switched out blocked: since when, and who and where it blocked. */
struct offcpu_start {
	__u64 since_ns;
	struct profile_key key;
};

#endif

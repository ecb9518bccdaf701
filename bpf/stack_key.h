/* SPDX-License-Identifier: Apache-2.0 */
/* The stack-counting probes (profile, offcpu): the sample key and limits their BPF programs and the agent share. */
#ifndef TRACECTL_STACK_KEY_H
#define TRACECTL_STACK_KEY_H

#include "cgroup_filter.h"

#define PROFILE_COMM_LEN 16
/* Frames kept per stack: the kernel's default perf_event_max_stack. */
#define PROFILE_MAX_DEPTH 127
/* Distinct stacks (user and kernel share the map) between two reads; ids are freed each read. */
#define PROFILE_MAX_STACKS 8192
/* Distinct (process, stacks) keys between two reads. */
#define PROFILE_MAX_KEYS 10240

/* A stack id < 0 is the error of bpf_get_stackid: -EFAULT (no user stack: a kernel
 * thread; no kernel stack: the sample hit user mode), -EEXIST (hash collision), ... */
struct profile_key {
	__u64 cgroup_id; /* --by container|pod|service: the stacks' root frame names its workload; else 0 */
	__u32 tgid;      /* kept with --by too: user frames are named from the process's mappings */
	__s32 user_stack_id;
	__s32 kern_stack_id;
	char comm[PROFILE_COMM_LEN];
	__u32 pad; /* zeroed: the key is hashed whole */
};

#endif

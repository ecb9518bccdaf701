/* SPDX-License-Identifier: Apache-2.0 */
/* syscalls: the keys, values and limits shared by the BPF program and the agent. */
#ifndef TRACECTL_SYSCALLS_H
#define TRACECTL_SYSCALLS_H

#include "cgroup_filter.h"

#define SYSCALLS_COMM_LEN 16
/* Syscall numbers below this are counted in a per-CPU array when not split by process
 * (no hashing, no atomics on the hot path); others (x32, (u32)-1) go to the table. */
#define SYSCALLS_NR_MAX 1024
/* (process, syscall) rows per window; rows beyond are not counted. */
#define SYSCALLS_MAX_ROWS 16384
/* Threads inside a syscall at once, where entry times are kept in a hash (no task storage). */
#define SYSCALLS_MAX_THREADS 32768

struct syscalls_key {
	__u64 cgroup_id; /* with --by container|pod|service, else 0 */
	__u32 tgid; /* 0 when not split by process */
	__u32 nr;   /* syscall number as the kernel saw it ((u32)-1: none, e.g. skipped by seccomp) */
};

/* One slot of the per-CPU array: cumulative, never reset (the agent reads differences). */
struct syscalls_slot {
	__u64 count;
	__u64 total_ns;
};

struct syscalls_value {
	__u64 count;    /* completed calls (exit and exit_group: entered, they never return) */
	__u64 total_ns; /* summed entry -> return time */
	char comm[SYSCALLS_COMM_LEN]; /* of the thread that made the row, when split by process */
};

#endif

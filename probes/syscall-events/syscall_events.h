/* SPDX-License-Identifier: Apache-2.0 */
/* syscall-events (benchmark probe): the event record and ring buffer sizing shared with the agent. */
#ifndef TRACECTL_SYSCALL_EVENTS_H
#define TRACECTL_SYSCALL_EVENTS_H

#include "cgroup_filter.h"

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Ring buffer size in bytes (a power of two of pages): ~0.5 s of events at 1M/s. */
#define SYSCALL_EVENTS_RINGBUF_BYTES (16u << 20)
/* The producer wakes the agent only when this much is waiting (crossing it, once); the
 * agent also drains on a short timer, which bounds the latency of a trickle. */
#define SYSCALL_EVENTS_WAKEUP_BYTES (256u << 10)

/* One record: 32 bytes (24 before the cgroup id), +8 of ring buffer header. */
struct syscall_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() at syscall entry */
	__u32 pid;   /* tgid */
	__u32 tid;
	__u32 nr;    /* syscall number */
	__u32 pad;
	__u64 cgroup_id; /* bpf_get_current_cgroup_id(): the agent adds the task's identity */
};

#endif

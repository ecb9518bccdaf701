/* SPDX-License-Identifier: Apache-2.0 */
/* open: the event record and limits shared by the BPF program and the agent. */
#ifndef TRACECTL_OPEN_H
#define TRACECTL_OPEN_H

#include "cgroup_filter.h"

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define OPEN_COMM_LEN 16
/* PATH_MAX, with the NUL: a path also fits one event string (EVENT_STRING_MAX). */
#define OPEN_PATH_LEN 4096
/* opens in flight at once (enter seen, exit not yet). */
#define OPEN_MAX_INFLIGHT 10240
/* Ring buffer size in bytes (a power of two of pages). */
#define OPEN_RINGBUF_BYTES (2u << 20)

/* Which system call opened. */
enum open_syscall {
	OPEN_SYSCALL_OPEN = 0,
	OPEN_SYSCALL_OPENAT = 1,
	OPEN_SYSCALL_OPENAT2 = 2,
};

/* Flag bits of open_event.status. */
#define OPEN_PATH_MISSING (1u << 0)  /* the path could not be read */
#define OPEN_FLAGS_MISSING (1u << 1) /* openat2: struct open_how could not be read */

/* One record in the ring buffer: the header, then path_size bytes of path (with
 * its NUL; the record is cut after it). */
struct open_event {
	__u64 ts_ns;  /* bpf_ktime_get_ns() at syscall exit */
	__u64 flags;  /* O_* flags as passed (openat2: open_how.flags) */
	__u32 pid;    /* tgid */
	__u32 uid;
	__s32 ret;    /* the new fd, or -errno */
	__s32 dfd;    /* directory fd for relative paths (AT_FDCWD = -100; open: AT_FDCWD) */
	__u32 syscall; /* enum open_syscall */
	__u32 status; /* OPEN_PATH_MISSING / OPEN_FLAGS_MISSING */
	__u32 path_size;
	__u32 pad;
	__u64 cgroup_id; /* bpf_get_current_cgroup_id(): the agent adds the task's identity */
	char comm[OPEN_COMM_LEN];
	char path[OPEN_PATH_LEN];
};

#endif

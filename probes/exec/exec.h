/* SPDX-License-Identifier: Apache-2.0 */
/* exec: the event record and limits shared by the BPF program and the agent. */
#ifndef TRACECTL_EXEC_H
#define TRACECTL_EXEC_H

#include "cgroup_filter.h"

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define EXEC_COMM_LEN 16
#define EXEC_FILENAME_LEN 512
/* argv bounds: at most EXEC_MAX_ARGS arguments of EXEC_ARG_LEN bytes (with the NUL) each. */
#define EXEC_MAX_ARGS 20
#define EXEC_ARG_LEN 200
/* Room for the bounded argv, NUL-separated. Joined with spaces, the bounded argv
 * also fits one event string (EVENT_STRING_MAX, 4096), so it is never cut again. */
#define EXEC_ARGS_BUF 4096
/* execs in flight at once (enter seen, exit not yet). */
#define EXEC_MAX_INFLIGHT 4096

/* Which system call made the exec. */
enum exec_syscall {
	EXEC_SYSCALL_EXECVE = 0,
	EXEC_SYSCALL_EXECVEAT = 1,
};

/* Flag bits of exec_event.flags. */
#define EXEC_ARGV_TRUNCATED (1u << 0) /* more than EXEC_MAX_ARGS, or an argument cut */
#define EXEC_ARGV_MISSING (1u << 1)   /* argv could not be read (pages not faulted in) */
#define EXEC_FILENAME_MISSING (1u << 2)
#define EXEC_ARGV_FROM_IMAGE (1u << 3) /* read back from the new image (mm->arg_start) */
/* Ring buffer size in bytes (a power of two of pages). */
#define EXEC_RINGBUF_BYTES (2u << 20)

/* One record in the ring buffer: the header, then args_size bytes of NUL-separated
 * arguments (the record is cut after them). */
struct exec_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() at syscall exit */
	__u32 pid;   /* tgid of the process that exec'd (unchanged by exec) */
	__u32 ppid;  /* its parent's tgid */
	__u32 uid;
	__s32 ret;   /* the syscall's return value: 0 or -errno */
	__u32 args_size;
	__u32 flags; /* EXEC_ARGV_* / EXEC_FILENAME_MISSING */
	__u32 syscall; /* enum exec_syscall */
	__u32 pad;
	__u64 cgroup_id; /* bpf_get_current_cgroup_id(): the agent adds the task's identity */
	char comm[EXEC_COMM_LEN]; /* after a successful exec: the new program's */
	char filename[EXEC_FILENAME_LEN];
	char args[EXEC_ARGS_BUF];
};

#endif

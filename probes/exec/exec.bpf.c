// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* exec: one ring-buffer event per execve/execveat with filename, bounded argv and result. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "cgroup_filter.bpf.h"
#include "ringbuf_wakeup.bpf.h"
#include <bpf/bpf_core_read.h>

#include "exec.h"

/* Internal flag: the caller's comm matched the --comm filter at enter. Never emitted. */
#define EXEC_COMM_MATCHED (1u << 31)

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0; /* the exec'ing process or its parent */
const volatile char targ_comm[EXEC_COMM_LEN] = {};

/* tid -> the record being built between enter and exit. Not preallocated: records
 * are 9 KiB and most of the table is empty most of the time. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EXEC_MAX_INFLIGHT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct exec_event);
} inflight SEC(".maps");

/* Where enter builds the record: too large for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EXEC_RINGBUF_BYTES);
} events SEC(".maps");

/* Events that could not be delivered (ring full, in-flight table full), cumulative. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);

	if (n)
		(*n)++;
}

static __always_inline bool comm_is_target(const char *comm)
{
	for (int i = 0; i < EXEC_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

/* What one step of the argv walk needs; lives on the caller's stack. */
struct argv_walk {
	struct exec_event *e;
	const char *const *argv;
	__u32 off;  /* bytes of e->args used */
	bool ended; /* a NULL argv entry or a failed read ended the walk */
};

/* One argument per bpf_loop step: the verifier checks this body once, where an
 * unrolled or bounded loop was re-verified per iteration (300k instructions and
 * ~250 ms per program at load). A failed read means the page is not present
 * (e.g. a string literal in a child right after fork, whose file-backed pages
 * fork did not map): BPF cannot fault it in, so argv is marked missing instead of
 * being reported as an empty list. Returns 1 to stop. */
static long read_one_arg(__u32 i, void *data)
{
	struct argv_walk *w = data;
	struct exec_event *e = w->e;
	const char *arg;
	__u32 off = w->off;
	long n;

	if (bpf_probe_read_user(&arg, sizeof(arg), &w->argv[i])) {
		e->flags |= EXEC_ARGV_MISSING;
		w->ended = true;
		return 1;
	}
	if (!arg) {
		w->ended = true;
		return 1;
	}
	if (off > EXEC_ARGS_BUF - EXEC_ARG_LEN) {
		e->flags |= EXEC_ARGV_TRUNCATED;
		w->ended = true;
		return 1;
	}
	n = bpf_probe_read_user_str(&e->args[off], EXEC_ARG_LEN, arg);
	if (n <= 0) {
		e->flags |= EXEC_ARGV_MISSING;
		w->ended = true;
		return 1;
	}
	/* n counts the NUL: EXEC_ARG_LEN means the argument was (likely) cut. */
	if (n == EXEC_ARG_LEN)
		e->flags |= EXEC_ARGV_TRUNCATED;
	w->off = off + (__u32)n;
	return 0;
}

/* Copies up to EXEC_MAX_ARGS arguments, NUL-separated: through bpf_loop (5.17+), or
 * where the kernel lacks it (with_bpf_loop false: the other programs) a bounded loop,
 * slower to verify, same result. */
static __always_inline void read_argv(struct exec_event *e, const char *const *argv, const bool with_bpf_loop)
{
	struct argv_walk w = { .e = e, .argv = argv };
	const char *arg;

	if (with_bpf_loop) {
		bpf_loop(EXEC_MAX_ARGS, read_one_arg, &w, 0);
	} else {
		for (__u32 i = 0; i < EXEC_MAX_ARGS; i++)
			if (read_one_arg(i, &w))
				break;
	}
	/* all EXEC_MAX_ARGS read and still more: say the list was cut */
	if (!w.ended && !bpf_probe_read_user(&arg, sizeof(arg), &argv[EXEC_MAX_ARGS]) && arg)
		e->flags |= EXEC_ARGV_TRUNCATED;
	e->args_size = w.off;
}

static __always_inline int exec_enter(const char *filename, const char *const *argv, __u32 syscall,
				      const bool with_bpf_loop)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id, zero = 0;
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	struct exec_event *e;
	char comm[EXEC_COMM_LEN];

	/* The exec'ing process, or its parent: a fork+exec'd child has a new pid. */
	if (targ_tgid && tgid != targ_tgid && ppid != targ_tgid)
		return 0;
	if (!current_cgroup_allowed()) /* --cgroup, --container, --pod, --service */
		return 0;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	e->pid = tgid;
	e->ppid = ppid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = 0;
	e->flags = 0;
	e->syscall = syscall;
	if (targ_comm[0] != '\0') {
		bpf_get_current_comm(comm, sizeof(comm));
		if (comm_is_target(comm))
			e->flags |= EXEC_COMM_MATCHED;
	}
	if (bpf_probe_read_user_str(e->filename, sizeof(e->filename), filename) <= 0) {
		e->filename[0] = '\0';
		e->flags |= EXEC_FILENAME_MISSING;
	}
	read_argv(e, argv, with_bpf_loop);
	if (bpf_map_update_elem(&inflight, &tid, e, BPF_ANY))
		count_lost();
	return 0;
}

static __always_inline int exec_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_event *e;
	__u64 len;

	e = bpf_map_lookup_elem(&inflight, &tid);
	if (!e)
		return 0;
	e->ret = (__s32)ret;
	/* After a successful exec this is the new program's comm. */
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (targ_comm[0] != '\0' && !(e->flags & EXEC_COMM_MATCHED) && !comm_is_target(e->comm))
		goto done;
	e->flags &= ~EXEC_COMM_MATCHED;
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	len = e->args_size;
	barrier_var(len);
	if (len > EXEC_ARGS_BUF)
		len = EXEC_ARGS_BUF;
	if (bpf_ringbuf_output(&events, e, __builtin_offsetof(struct exec_event, args) + len,
			       ringbuf_wakeup_flags(&events, EXEC_RINGBUF_BYTES)))
		count_lost();
done:
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

SEC("tp/syscalls/sys_enter_execve")
int exec_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[0], (const char *const *)ctx->args[1], EXEC_SYSCALL_EXECVE, true);
}

SEC("tp/syscalls/sys_enter_execveat")
int exec_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[1], (const char *const *)ctx->args[2], EXEC_SYSCALL_EXECVEAT,
			  true);
}

/* The same without bpf_loop, for kernels before 5.17 (the agent's hook variants). */
SEC("tp/syscalls/sys_enter_execve")
int exec_enter_execve_bounded(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[0], (const char *const *)ctx->args[1], EXEC_SYSCALL_EXECVE, false);
}

SEC("tp/syscalls/sys_enter_execveat")
int exec_enter_execveat_bounded(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[1], (const char *const *)ctx->args[2], EXEC_SYSCALL_EXECVEAT,
			  false);
}

SEC("tp/syscalls/sys_exit_execve")
int exec_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_execveat")
int exec_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret);
}

/*
 * A successful exec passed its point of no return: the kernel has copied filename
 * and argv, so what enter could not read is recovered here from the kernel's copy
 * (filename) and the new image's argument area (mm->arg_start..arg_end, just
 * written, so present). A non-leader thread's exec also takes over the tgid here
 * (de_thread), so the record moves from old_pid to pid.
 */
SEC("tp/sched/sched_process_exec")
int exec_image(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 old = ctx->old_pid, pid = ctx->pid;
	struct task_struct *task;
	struct exec_event *e;
	__u64 start, end, len;

	e = bpf_map_lookup_elem(&inflight, &old);
	if (!e)
		return 0;
	if (old != pid) {
		if (bpf_map_update_elem(&inflight, &pid, e, BPF_ANY)) {
			count_lost();
			bpf_map_delete_elem(&inflight, &old);
			return 0;
		}
		bpf_map_delete_elem(&inflight, &old);
		e = bpf_map_lookup_elem(&inflight, &pid);
		if (!e)
			return 0;
	}
	if (e->flags & EXEC_FILENAME_MISSING) {
		unsigned int off = ctx->__data_loc_filename & 0xffff;

		if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + off) > 0)
			e->flags &= ~EXEC_FILENAME_MISSING;
	}
	if (e->flags & EXEC_ARGV_MISSING) {
		task = (struct task_struct *)bpf_get_current_task();
		start = BPF_CORE_READ(task, mm, arg_start);
		end = BPF_CORE_READ(task, mm, arg_end);
		if (end <= start)
			return 0;
		len = end - start;
		e->flags &= ~EXEC_ARGV_TRUNCATED; /* enter's partial read is replaced */
		if (len > EXEC_ARGS_BUF) {
			len = EXEC_ARGS_BUF;
			e->flags |= EXEC_ARGV_TRUNCATED;
		}
		barrier_var(len);
		if (len > EXEC_ARGS_BUF)
			return 0;
		if (bpf_probe_read_user(e->args, len, (const void *)start) == 0) {
			e->args_size = len;
			e->flags &= ~EXEC_ARGV_MISSING;
			e->flags |= EXEC_ARGV_FROM_IMAGE;
		}
	}
	return 0;
}

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

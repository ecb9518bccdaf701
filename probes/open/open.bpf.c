// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* open: one ring-buffer event per open/openat/openat2 with path, flags and result. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "cgroup_filter.bpf.h"
#include "ringbuf_wakeup.bpf.h"
#include <bpf/bpf_core_read.h>

#include "open.h"

#define AT_FDCWD_VALUE -100

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[OPEN_COMM_LEN] = {};

/* What enter saw, kept by tid until exit. User pointers only: the path is read at
 * exit, when the kernel's own copy (getname) has faulted its pages in; at entry a
 * path in a page the process never touched (e.g. a string literal) cannot be read. */
struct open_args {
	__u64 path;  /* const char __user * */
	__u64 how;   /* openat2: struct open_how __user * */
	__u64 flags; /* open/openat */
	__s32 dfd;
	__u32 syscall;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OPEN_MAX_INFLIGHT);
	__type(key, __u32);
	__type(value, struct open_args);
} inflight SEC(".maps");

/* Where exit builds the record: too large for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct open_event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, OPEN_RINGBUF_BYTES);
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

static __always_inline bool comm_allowed(void)
{
	char comm[OPEN_COMM_LEN];

	if (targ_comm[0] == '\0')
		return true;
	if (bpf_get_current_comm(comm, sizeof(comm)))
		return false;
	for (int i = 0; i < OPEN_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

static __always_inline int open_enter(__s32 dfd, __u64 path, __u64 flags, __u64 how, __u32 syscall)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct open_args args = {
		.path = path, .how = how, .flags = flags, .dfd = dfd, .syscall = syscall,
	};

	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	if (!current_cgroup_allowed()) /* --cgroup, --container, --pod, --service */
		return 0;
	if (!comm_allowed())
		return 0;
	if (bpf_map_update_elem(&inflight, &tid, &args, BPF_ANY))
		count_lost();
	return 0;
}

static __always_inline int open_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, zero = 0;
	struct open_args *args;
	struct open_event *e;
	long n;

	args = bpf_map_lookup_elem(&inflight, &tid);
	if (!args)
		return 0;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		goto done;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = (__s32)ret;
	e->dfd = args->dfd;
	e->syscall = args->syscall;
	e->status = 0;
	e->flags = args->flags;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (args->syscall == OPEN_SYSCALL_OPENAT2) {
		/* open_how.flags is its first member; the kernel has copied the struct. */
		if (bpf_probe_read_user(&e->flags, sizeof(e->flags), (const void *)args->how)) {
			e->flags = 0;
			e->status |= OPEN_FLAGS_MISSING;
		}
	}
	n = bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)args->path);
	if (n <= 0) {
		e->path[0] = '\0';
		n = 1;
		e->status |= OPEN_PATH_MISSING;
	}
	barrier_var(n);
	if (n > OPEN_PATH_LEN)
		n = OPEN_PATH_LEN;
	e->path_size = n;
	if (bpf_ringbuf_output(&events, e, __builtin_offsetof(struct open_event, path) + n,
			       ringbuf_wakeup_flags(&events, OPEN_RINGBUF_BYTES)))
		count_lost();
done:
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

SEC("tp/syscalls/sys_enter_open")
int open_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(AT_FDCWD_VALUE, ctx->args[0], ctx->args[1], 0, OPEN_SYSCALL_OPEN);
}

SEC("tp/syscalls/sys_enter_openat")
int open_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter((__s32)ctx->args[0], ctx->args[1], ctx->args[2], 0, OPEN_SYSCALL_OPENAT);
}

SEC("tp/syscalls/sys_enter_openat2")
int open_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter((__s32)ctx->args[0], ctx->args[1], 0, ctx->args[2], OPEN_SYSCALL_OPENAT2);
}

SEC("tp/syscalls/sys_exit_open")
int open_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat")
int open_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tp/syscalls/sys_exit_openat2")
int open_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

/* The kernel offers bpf_probe_read_kernel (used by CO-RE reads) to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

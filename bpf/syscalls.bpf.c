// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* syscalls: per-syscall (and per-process) call counts and total latency, entry to return. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "syscalls.h"

/* exit and exit_group never return: they are counted when entered. */
#if defined(__TARGET_ARCH_x86)
#define NR_EXIT 60
#define NR_EXIT_GROUP 231
#elif defined(__TARGET_ARCH_arm64)
#define NR_EXIT 93
#define NR_EXIT_GROUP 94
#else
#define NR_EXIT -1
#define NR_EXIT_GROUP -1
#endif

/* Filters and the split, set through the skeleton's rodata before load; zero means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[SYSCALLS_COMM_LEN] = {};
const volatile bool targ_per_pid = false;
/* The agent itself (unless asked for by --pid): its bpf() calls that drain this table
 * would otherwise top it. */
const volatile __u32 self_tgid = 0;

/* tid -> syscall entry time (ns). LRU: a thread killed inside a syscall cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SYSCALLS_MAX_THREADS);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

/* (tgid, nr) -> count and time; drained by user space every interval. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SYSCALLS_MAX_ROWS);
	__type(key, struct syscalls_key);
	__type(value, struct syscalls_value);
} counts SEC(".maps");

static __always_inline bool comm_allowed(void)
{
	char comm[SYSCALLS_COMM_LEN];
	int i;

	if (targ_comm[0] == '\0')
		return true;
	if (bpf_get_current_comm(comm, sizeof(comm)))
		return false;
	for (i = 0; i < SYSCALLS_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

static __always_inline void record(__u32 tgid, long nr, __u64 delta)
{
	struct syscalls_key key = { .tgid = targ_per_pid ? tgid : 0, .nr = (__u32)nr };
	struct syscalls_value *v;

	v = bpf_map_lookup_elem(&counts, &key);
	if (!v) {
		struct syscalls_value init = {};

		if (targ_per_pid)
			bpf_get_current_comm(init.comm, sizeof(init.comm));
		bpf_map_update_elem(&counts, &key, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&counts, &key);
		if (!v)
			return;
	}
	/* One map for all CPUs: the adds must be atomic. */
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->total_ns, delta);
}

SEC("tp/raw_syscalls/sys_enter")
int syscalls_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), now;
	__u32 tgid = id >> 32, tid = (__u32)id;

	/* Filters apply here only: no entry time, no sample at exit. */
	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (self_tgid && tgid == self_tgid)
		return 0;
	if (!comm_allowed())
		return 0;
	if (ctx->id == NR_EXIT || ctx->id == NR_EXIT_GROUP) {
		record(tgid, ctx->id, 0);
		return 0;
	}
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
	return 0;
}

SEC("tp/raw_syscalls/sys_exit")
int syscalls_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), *ts, delta;
	__u32 tid = (__u32)id;

	ts = bpf_map_lookup_elem(&start, &tid);
	if (!ts)
		return 0;
	delta = bpf_ktime_get_ns() - *ts;
	bpf_map_delete_elem(&start, &tid);
	record(id >> 32, ctx->id, delta);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

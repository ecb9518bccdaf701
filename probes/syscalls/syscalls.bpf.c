// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* syscalls: per-syscall (and per-process) call counts and total latency, entry to return;
 * or, with measure=count, counts alone from one hook. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "cgroup_filter.bpf.h"
#include "workload_key.bpf.h"
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
/* measure=count: count at entry only; the exit program is not even loaded. */
const volatile bool targ_count_only = false;
/* The agent itself (unless asked for by --pid): its bpf() calls that drain this table
 * would otherwise top it. */
const volatile __u32 self_tgid = 0;
/* Over its overhead budget the agent samples: keep a syscall when the random
 * number has these bits clear (1 in mask+1). Writable while attached (.bss). */
__u32 sample_mask = 0;

/* The syscall a thread is in, kept from entry to return. */
struct syscalls_pending {
	__u64 ts_ns; /* entry time; 0 = none pending */
	__u32 nr;
	__u32 pad;
};

/* Per thread, in task local storage: no hash lookup and no LRU bookkeeping per call,
 * and it goes away with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct syscalls_pending);
} start SEC(".maps");

/* The same keyed by thread id, for kernels without task storage (before 5.11). LRU: a
 * thread that never returns (killed in a syscall) cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SYSCALLS_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct syscalls_pending);
} start_tid SEC(".maps");

/* nr -> cumulative count and time, per CPU: the default (not split by process) path. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYSCALLS_NR_MAX);
	__type(key, __u32);
	__type(value, struct syscalls_slot);
} totals SEC(".maps");

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

	if (targ_per_cgroup)
		key.cgroup_id = bpf_get_current_cgroup_id();
	if (!targ_per_pid && !targ_per_cgroup && (__u32)nr < SYSCALLS_NR_MAX) {
		__u32 idx = (__u32)nr;
		struct syscalls_slot *slot = bpf_map_lookup_elem(&totals, &idx);

		/* this CPU's slot: plain adds (a tracepoint program is not re-entered on a CPU) */
		if (slot) {
			slot->count++;
			slot->total_ns += delta;
		}
		return;
	}

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
	/* One map for all CPUs: the adds must be atomic. Adding 0 is left out: clang makes
	 * it an atomic OR, which kernels before 5.12 refuse to load. */
	__sync_fetch_and_add(&v->count, 1);
	if (delta)
		__sync_fetch_and_add(&v->total_ns, delta);
}

/* Where a thread's pending syscall is kept: its task storage, or (task_storage false:
 * the other programs) start_tid. A constant at every call: each program keeps one. */
static __always_inline struct syscalls_pending *pending(__u32 tid, const bool task_storage, const bool create)
{
	if (task_storage)
		return bpf_task_storage_get(&start, bpf_get_current_task_btf(), 0,
					    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	return bpf_map_lookup_elem(&start_tid, &tid);
}

static __always_inline int on_enter(long nr, const bool task_storage)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct syscalls_pending *p;

	/* Filters apply here only: no entry time, no sample at exit. */
	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (self_tgid && tgid == self_tgid)
		return 0;
	if (!comm_allowed() || !current_cgroup_allowed())
		return 0;
	if (sample_mask && (bpf_get_prandom_u32() & sample_mask))
		return 0;
	if (targ_count_only || nr == NR_EXIT || nr == NR_EXIT_GROUP) {
		record(tgid, nr, 0);
		return 0;
	}
	if (!task_storage) {
		/* The hash variant: one update per entry, not an update, a lookup and a write. */
		struct syscalls_pending v = { .ts_ns = bpf_ktime_get_ns(), .nr = (__u32)nr };
		__u32 tid = (__u32)id;

		bpf_map_update_elem(&start_tid, &tid, &v, BPF_ANY);
		return 0;
	}
	p = pending((__u32)id, task_storage, true);
	if (p) {
		p->nr = (__u32)nr;
		p->ts_ns = bpf_ktime_get_ns();
	}
	return 0;
}

/* The number comes from what enter kept. */
static __always_inline int on_exit(const bool task_storage)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct syscalls_pending *p;
	__u64 delta;

	p = pending((__u32)id, task_storage, false);
	if (!p || !p->ts_ns)
		return 0;
	delta = bpf_ktime_get_ns() - p->ts_ns;
	p->ts_ns = 0;
	record(id >> 32, (long)(__s32)p->nr, delta);
	return 0;
}

/* raw_tp: the program gets the tracepoint's arguments directly, without the perf
 * trace buffer a tp/ program's record is first copied into. sys_enter(regs, id). */
SEC("raw_tp/sys_enter")
int syscalls_enter(struct bpf_raw_tracepoint_args *ctx)
{
	return on_enter((long)ctx->args[1], true);
}

/* sys_exit(regs, ret) */
SEC("raw_tp/sys_exit")
int syscalls_exit(struct bpf_raw_tracepoint_args *ctx)
{
	(void)ctx;
	return on_exit(true);
}

/* The same without task storage (the agent's hook variants). */
SEC("raw_tp/sys_enter")
int syscalls_enter_hash(struct bpf_raw_tracepoint_args *ctx)
{
	return on_enter((long)ctx->args[1], false);
}

SEC("raw_tp/sys_exit")
int syscalls_exit_hash(struct bpf_raw_tracepoint_args *ctx)
{
	(void)ctx;
	return on_exit(false);
}

char LICENSE[] SEC("license") = "GPL";

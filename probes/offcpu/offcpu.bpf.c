// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* offcpu: time tasks spend blocked, per process and the stacks they blocked in (sched_switch). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "offcpu.h"
#include "stack_counts.bpf.h"
#include "cgroup_filter.bpf.h"
#include "task_state.bpf.h"

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[PROFILE_COMM_LEN] = {};
/* Shorter blocks are not counted. */
const volatile __u64 min_block_ns = 0;

/* Thread id -> its block in progress. LRU: a task that exits blocked (it never comes
 * back) must not hold a slot. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, OFFCPU_MAX_TASKS);
	__type(key, __u32);
	__type(value, struct offcpu_start);
} start SEC(".maps");

/* Nanoseconds off CPU per key since the last read; user space drains it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROFILE_MAX_KEYS);
	__type(key, struct profile_key);
	__type(value, __u64);
} blocked SEC(".maps");

/* prev is the current task at sched_switch: its ids, comm and stacks are current's. */
static __always_inline bool current_allowed(struct task_struct *prev, __u32 tgid, const char *comm)
{
	if (targ_tgid && tgid != targ_tgid)
		return false;
	if (!comm_allowed(comm, targ_comm))
		return false;
	return current_cgroup_allowed(); /* --cgroup, --container, --pod, --service */
}

static __always_inline int on_switch(void *ctx, bool preempt, struct task_struct *prev, struct task_struct *next,
				     const bool btf)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = (__u32)id, next_tid;
	struct offcpu_start *s, fresh = {};

	/*
	 * Switched out blocked (not preempted, not still runnable: the low byte of the state
	 * is 0 for a runnable task, whatever flag bits sit above it): from now on it waits.
	 * Preemption is waiting for a CPU, which runq-latency measures. tid 0: idle.
	 */
	if (tid && !preempt && (task_state(prev, btf) & 0xff) != 0) {
		fresh.key.tgid = id >> 32;
		fresh.key.cgroup_id = key_cgroup_id();
		bpf_get_current_comm(fresh.key.comm, sizeof(fresh.key.comm));
		if (current_allowed(prev, fresh.key.tgid, fresh.key.comm)) {
			fresh.since_ns = now;
			fresh.key.user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
			/* not the tracer's own innermost frames: this program and bpf_trace_run4 */
			fresh.key.kern_stack_id = bpf_get_stackid(ctx, &stacks, OFFCPU_SKIP_FRAMES & BPF_F_SKIP_FIELD_MASK);
			bpf_map_update_elem(&start, &tid, &fresh, BPF_ANY);
		}
	}

	next_tid = btf ? (__u32)next->pid : (__u32)BPF_CORE_READ(next, pid);
	s = bpf_map_lookup_elem(&start, &next_tid);
	if (!s)
		return 0;
	if (now - s->since_ns >= min_block_ns)
		stack_counts_add(&blocked, &s->key, now - s->since_ns);
	bpf_map_delete_elem(&start, &next_tid);
	return 0;
}

/* Preferred: BTF-typed raw tracepoint. */
SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, preempt, prev, next, true);
}

/* Fallback: plain raw tracepoint, the same arguments, read through bpf_probe_read_kernel. */
SEC("raw_tp/sched_switch")
int BPF_PROG(offcpu_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(ctx, preempt, prev, next, false);
}

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

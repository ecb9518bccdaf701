// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* cpu-top: per process on-CPU time, voluntary/involuntary switches and run-queue wait (like pidstat). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "cgroup_filter.bpf.h"
#include "cpu_top.h"
#include "task_state.bpf.h"
#include "workload_key.bpf.h"

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[CPU_TOP_COMM_LEN] = {};

/* Per interval: user space moves every entry out, so the bound is on processes
 * that ran within one interval. Key: the tgid, or the cgroup id (targ_per_cgroup). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CPU_TOP_MAX_PROCS);
	__type(key, __u64);
	__type(value, struct cpu_top_value);
} procs SEC(".maps");

/* Counts of processes that found the map full, cumulative per CPU: one row of their own. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_top_counts);
} overflow SEC(".maps");

/* Thread id -> when it became runnable (woken or preempted). LRU: a task that
 * dies or is never switched in again must not hold a slot. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CPU_TOP_MAX_QUEUED);
	__type(key, __u32);
	__type(value, __u64);
} queued SEC(".maps");

/* When this run's first event fired. A runtime update reports the CPU time since the
 * task's previous update, which for its first one after the attach may reach back
 * before it (a process's whole startup when no tick came between: 9.7 ms once in a
 * 5.10 guest): only the part since the first event is this run's. (No cmpxchg: 5.10's
 * BPF has none; CPUs racing here store nearly the same time.) */
__u64 first_event_ns = 0;

static __always_inline __u64 run_age(__u64 now)
{
	if (!first_event_ns)
		first_event_ns = now;
	return now - first_event_ns;
}

static __always_inline bool task_allowed(struct task_struct *p, __u32 tgid)
{
	char comm[CPU_TOP_COMM_LEN];
	int i;

	if (!tgid) /* the idle tasks */
		return false;
	if (targ_tgid && tgid != targ_tgid)
		return false;
	if (!task_cgroup_allowed(p))
		return false;
	if (targ_comm[0] == '\0')
		return true;
	if (BPF_CORE_READ_STR_INTO(&comm, p, comm) < 0)
		return false;
	for (i = 0; i < CPU_TOP_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

static __always_inline struct cpu_top_counts *counts_of(struct task_struct *p, __u32 tgid)
{
	struct cpu_top_value *v, fresh = {};
	__u64 key = targ_per_cgroup ? task_cgroup_id(p) : tgid;
	__u32 zero = 0;

	v = bpf_map_lookup_elem(&procs, &key);
	if (v)
		return &v->counts;
	if (!targ_per_cgroup)
		BPF_CORE_READ_STR_INTO(&fresh.comm, p, group_leader, comm);
	/* NOEXIST: another CPU may have added it since the lookup (-EEXIST, fine) */
	bpf_map_update_elem(&procs, &key, &fresh, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&procs, &key);
	if (v)
		return &v->counts;
	/* full (-E2BIG), or drained between the update and the lookup */
	return bpf_map_lookup_elem(&overflow, &zero);
}

static __always_inline void mark_queued(struct task_struct *p)
{
	__u32 tid = BPF_CORE_READ(p, pid);
	__u64 now = bpf_ktime_get_ns();

	run_age(now);
	if (task_allowed(p, BPF_CORE_READ(p, tgid)))
		bpf_map_update_elem(&queued, &tid, &now, BPF_ANY);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(cpu_top_wakeup, struct task_struct *p)
{
	mark_queued(p);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(cpu_top_wakeup_new, struct task_struct *p)
{
	mark_queued(p);
	return 0;
}

static __always_inline int on_switch(bool preempt, struct task_struct *prev, struct task_struct *next,
				     unsigned int prev_state)
{
	__u32 prev_tgid = BPF_CORE_READ(prev, tgid), next_tgid = BPF_CORE_READ(next, tgid);
	struct cpu_top_counts *c;
	__u64 now = bpf_ktime_get_ns(), *since;
	__u32 tid;

	run_age(now);
	if (task_allowed(prev, prev_tgid)) {
		c = counts_of(prev, prev_tgid);
		/* Still runnable (preempted or yielding) is involuntary, as the kernel's
		 * nivcsw counts it. The tracepoint's record reports a preempted task's
		 * state as TASK_REPORT_MAX (0x100): only the low bits are task states. */
		if (preempt || (prev_state & 0xff) == 0) {
			tid = BPF_CORE_READ(prev, pid);
			bpf_map_update_elem(&queued, &tid, &now, BPF_ANY);
			if (c)
				__sync_fetch_and_add(&c->involuntary, 1);
		} else if (c) {
			__sync_fetch_and_add(&c->voluntary, 1);
		}
	}
	tid = BPF_CORE_READ(next, pid);
	since = bpf_map_lookup_elem(&queued, &tid);
	if (since) {
		__u64 wait = now - *since;

		bpf_map_delete_elem(&queued, &tid);
		if (task_allowed(next, next_tgid)) {
			c = counts_of(next, next_tgid);
			if (c)
				__sync_fetch_and_add(&c->runq_ns, wait);
		}
	}
	return 0;
}

/* sched_switch has passed prev_state since 5.18; a raw_tp program that reads it does
 * not attach before (the agent's hook variants then use the next program). */
SEC("raw_tp/sched_switch")
int BPF_PROG(cpu_top_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	return on_switch(preempt, prev, next, prev_state);
}

/* Before: the state the tracepoint's own record reported then, read from the task. */
SEC("raw_tp/sched_switch")
int BPF_PROG(cpu_top_switch_task_state, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next, task_state(prev, false));
}

/* Every scheduler runtime update (ticks, switches, wakeups): a task that never
 * leaves its CPU is still accounted in the interval it ran, to a tick. */
SEC("raw_tp/sched_stat_runtime")
int BPF_PROG(cpu_top_runtime, struct task_struct *p, __u64 runtime)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	__u64 age = run_age(bpf_ktime_get_ns());
	struct cpu_top_counts *c;

	if (!task_allowed(p, tgid))
		return 0;
	if (runtime > age)
		runtime = age;
	c = counts_of(p, tgid);
	if (c)
		__sync_fetch_and_add(&c->on_cpu_ns, runtime);
	return 0;
}

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

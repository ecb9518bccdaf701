// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* runq-latency: time from a task becoming runnable (wakeup, or preempted) to running on a CPU. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "cgroup_filter.bpf.h"
#include "hist_update.bpf.h"
#include "runq_latency.h"
#include "task_state.bpf.h"
#include "workload_key.bpf.h"

/* Filters and the split, set through the skeleton's rodata before load; zero means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[RUNQ_LATENCY_COMM_LEN] = {};
const volatile bool targ_per_pid = false;

/* tid -> when it was put on a run queue (ns), for the raw_tp fallback. LRU: a task
 * that never runs again cannot fill the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RUNQ_LATENCY_MAX_TASKS);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

/* The same for tp_btf, where the task pointers are typed: in task local storage, so
 * the scheduler's hottest tracepoint does no hashing and no LRU bookkeeping, and the
 * slot goes away with the task. 0 = not waiting. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} start_task SEC(".maps");

/* series (tgid, cgroup id or RUNQ_LATENCY_ALL) -> histogram, per CPU; user space drains it every
 * interval. Not preallocated: a value is 15 KiB per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, RUNQ_LATENCY_MAX_SERIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct hist_counts);
} hists SEC(".maps");

/* The initial value of a new series (too big for the BPF stack). */
static struct hist_counts zero_hist;

static __always_inline __u32 task_tid(struct task_struct *t, const bool btf)
{
	return btf ? (__u32)t->pid : (__u32)BPF_CORE_READ(t, pid);
}

static __always_inline bool task_allowed(struct task_struct *t)
{
	if (targ_tgid && (__u32)BPF_CORE_READ(t, tgid) != targ_tgid)
		return false;
	if (targ_comm[0] != '\0') {
		char comm[RUNQ_LATENCY_COMM_LEN];
		int i;

		BPF_CORE_READ_STR_INTO(&comm, t, comm);
		for (i = 0; i < RUNQ_LATENCY_COMM_LEN; i++) {
			if (comm[i] != targ_comm[i])
				return false;
			if (comm[i] == '\0')
				break;
		}
	}
	return task_cgroup_allowed(t);
}

/* The task is on a run queue from now. Filters apply here only: no start, no sample. */
static __always_inline void enqueued(struct task_struct *t, const bool btf)
{
	__u32 tid = task_tid(t, btf);
	__u64 now, *ts;

	if (tid == 0 || !task_allowed(t))
		return;
	now = bpf_ktime_get_ns();
	if (btf) {
		ts = bpf_task_storage_get(&start_task, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (ts)
			*ts = now;
		return;
	}
	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
}

static __always_inline int on_switch(bool preempt, struct task_struct *prev, struct task_struct *next,
				     const bool btf)
{
	__u64 series;
	__u32 tid;
	__u64 *ts, delta;

	/*
	 * A task switched out while still runnable (preempted, or it yielded) stays on the
	 * run queue: its wait starts now. The sched_switch trace event reports a preempted
	 * task's state as TASK_REPORT_MAX (0x100) on recent kernels, and the raw state may
	 * carry flag bits above the report mask, so only the low byte says "runnable".
	 */
	if (preempt || (task_state(prev, btf) & 0xff) == 0)
		enqueued(prev, btf);

	if (btf) {
		ts = bpf_task_storage_get(&start_task, next, 0, 0);
		if (!ts || !*ts)
			return 0;
		delta = bpf_ktime_get_ns() - *ts;
		*ts = 0;
	} else {
		tid = BPF_CORE_READ(next, pid);
		ts = bpf_map_lookup_elem(&start, &tid);
		if (!ts)
			return 0;
		delta = bpf_ktime_get_ns() - *ts;
		bpf_map_delete_elem(&start, &tid);
	}
	if (targ_per_cgroup)
		series = task_cgroup_id(next);
	else
		series = targ_per_pid ? (__u32)BPF_CORE_READ(next, tgid) : RUNQ_LATENCY_ALL;
	hist_series_add(&hists, &series, &zero_hist, delta);
	return 0;
}

/* Preferred: BTF-typed raw tracepoints (tp_btf). */
SEC("tp_btf/sched_wakeup")
int BPF_PROG(runq_wakeup_btf, struct task_struct *p)
{
	enqueued(p, true);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(runq_wakeup_new_btf, struct task_struct *p)
{
	enqueued(p, true);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(runq_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next, true);
}

/* Fallback: plain raw tracepoints, same arguments, read through bpf_probe_read_kernel. */
SEC("raw_tp/sched_wakeup")
int BPF_PROG(runq_wakeup_raw, struct task_struct *p)
{
	enqueued(p, false);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(runq_wakeup_new_raw, struct task_struct *p)
{
	enqueued(p, false);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(runq_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next, false);
}

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

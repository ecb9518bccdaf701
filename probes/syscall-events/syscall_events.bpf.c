// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* syscall-events: one small ring-buffer event per entry of one syscall (getpid), for streaming benchmarks. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "cgroup_filter.bpf.h"
#include "syscall_events.h"

/* Set through the skeleton's rodata before load; targ_tgid 0 means any process. */
const volatile __u32 targ_tgid = 0;
const volatile __s64 targ_nr = 39; /* x86_64 getpid */
/* 0: wake the consumer per event (libbpf's default); else wake when the waiting bytes
 * cross SYSCALL_EVENTS_WAKEUP_BYTES, and leave the rest to the agent's drain timer. */
const volatile bool batch_wakeup = true;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SYSCALL_EVENTS_RINGBUF_BYTES);
} events SEC(".maps");

/* Events that did not fit in the ring buffer, per CPU, cumulative. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

SEC("raw_tp/sys_enter")
int syscall_events_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id, flags = 0;
	struct syscall_event *e;

	if ((long)ctx->args[1] != targ_nr)
		return 0;
	id = bpf_get_current_pid_tgid();
	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	if (!current_cgroup_allowed()) /* --cgroup, --container, --pod, --service */
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);

		if (n)
			(*n)++;
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->nr = (__u32)targ_nr;
	e->pad = 0;
	e->cgroup_id = bpf_get_current_cgroup_id();
	if (batch_wakeup) {
		/* wake once, when this record makes the backlog cross the threshold */
		__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

		flags = avail >= SYSCALL_EVENTS_WAKEUP_BYTES &&
				avail < SYSCALL_EVENTS_WAKEUP_BYTES + 2 * (sizeof(*e) + 8)
			? BPF_RB_FORCE_WAKEUP
			: BPF_RB_NO_WAKEUP;
	}
	bpf_ringbuf_submit(e, flags);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

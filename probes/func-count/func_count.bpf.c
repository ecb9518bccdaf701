// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* func-count: calls of user-space functions, one uprobe per function, told apart by the attach cookie
 * (or, without cookies, by the program). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "cgroup_filter.bpf.h"
#include "count_slot.bpf.h"
#include "func_probes.h"
#include "workload_key.bpf.h"

/* Filter, set through the skeleton's rodata before load; zero means any process. */
const volatile __u32 targ_tgid = 0;

/* Cumulative calls per function (index = cookie), per CPU; user space never resets it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FUNC_COUNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

/* --by container|pod|service: calls per (cgroup, function) of this interval; user space
 * drains it. One entry where not keyed so (the agent shrinks it before load). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FUNC_COUNT_MAX_PAIRS);
	__type(key, struct func_count_key);
	__type(value, __u64);
} by_workload SEC(".maps");

/* Calls that found by_workload full, cumulative per CPU. */
COUNT_OVERFLOW_MAP(overflow, __u64);

static __always_inline int count_call(__u32 idx)
{
	__u64 *count, zero = 0;

	if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return 0;
	if (!current_cgroup_allowed()) /* --cgroup, --container, --pod, --service */
		return 0;
	if (targ_per_cgroup) {
		struct func_count_key key = { .cgroup_id = bpf_get_current_cgroup_id(), .index = idx };

		count = count_slot(&by_workload, &key, &zero, &overflow);
		if (count)
			__sync_fetch_and_add(count, 1);
		return 0;
	}
	count = bpf_map_lookup_elem(&calls, &idx);
	if (count)
		(*count)++;
	return 0;
}

/* Attached by the agent (bpf_program__attach_uprobe_opts) once per function: no auto-attach. */
SEC("uprobe")
int func_count_entry(struct pt_regs *ctx)
{
	return count_call((__u32)bpf_get_attach_cookie(ctx));
}

/* Without cookies (before 5.15), function i gets program func_count_entry_i. */
#define FUNC_COUNT_ENTRY(i)                          \
	SEC("uprobe")                                \
	int func_count_entry_##i(struct pt_regs *ctx) \
	{                                            \
		(void)ctx;                           \
		return count_call(i);                \
	}
EACH_INDEX(FUNC_COUNT_ENTRY)

char LICENSE[] SEC("license") = "GPL";

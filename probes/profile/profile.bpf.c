// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* profile: on-CPU stack samples from a per-CPU cpu-clock perf event, counted per process and stacks. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "cgroup_filter.bpf.h"
#include "stack_counts.bpf.h"

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[PROFILE_COMM_LEN] = {};

/* Samples per key since the last read; user space drains it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROFILE_MAX_KEYS);
	__type(key, struct profile_key);
	__type(value, __u64);
} samples SEC(".maps");

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct profile_key key = {};

	/* pid 0 is the idle task: not on-CPU work */
	if ((__u32)id == 0)
		return 0;
	key.tgid = id >> 32;
	key.cgroup_id = key_cgroup_id();
	if (targ_tgid && key.tgid != targ_tgid)
		return 0;
	if (!current_cgroup_allowed()) /* --cgroup, --container, --pod, --service */
		return 0;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	if (!comm_allowed(key.comm, targ_comm))
		return 0;
	key.user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	key.kern_stack_id = bpf_get_stackid(ctx, &stacks, 0);

	stack_counts_add(&samples, &key, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

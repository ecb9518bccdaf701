// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* profile: on-CPU stack samples from a per-CPU cpu-clock perf event, counted per process and stacks. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "cgroup_filter.bpf.h"
#include "profile.h"

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[PROFILE_COMM_LEN] = {};

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, PROFILE_MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PROFILE_MAX_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* Samples per key since the last read; user space drains it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROFILE_MAX_KEYS);
	__type(key, struct profile_key);
	__type(value, __u64);
} samples SEC(".maps");

/* Samples lost because the samples map was full, per CPU, cumulative. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline bool comm_allowed(const char *comm)
{
	int i;

	if (targ_comm[0] == '\0')
		return true;
	for (i = 0; i < PROFILE_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct profile_key key = {};
	__u64 one = 1, *count;
	__u32 zero = 0;

	/* pid 0 is the idle task: not on-CPU work */
	if ((__u32)id == 0)
		return 0;
	key.tgid = id >> 32;
	if (targ_tgid && key.tgid != targ_tgid)
		return 0;
	if (!current_cgroup_allowed()) /* --cgroup, --container, --pod, --service */
		return 0;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	if (!comm_allowed(key.comm))
		return 0;
	key.user_stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	key.kern_stack_id = bpf_get_stackid(ctx, &stacks, 0);

	count = bpf_map_lookup_elem(&samples, &key);
	if (count) {
		__sync_fetch_and_add(count, 1);
		return 0;
	}
	/* another CPU may have created it in between: then add to that one */
	if (bpf_map_update_elem(&samples, &key, &one, BPF_NOEXIST)) {
		count = bpf_map_lookup_elem(&samples, &key);
		if (count) {
			__sync_fetch_and_add(count, 1);
		} else {
			count = bpf_map_lookup_elem(&lost, &zero);
			if (count)
				(*count)++;
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";

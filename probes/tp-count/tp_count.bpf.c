// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* tp-count: hits of any kernel tracepoints, one generic program attached to each, told apart by cookie
 * (or, without cookies, one program each). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "cgroup_filter.bpf.h"
#include "workload_key.bpf.h"
#include "each_index.h"
#include "tp_count.h"

/* Settings, through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[TP_COUNT_COMM_LEN] = {};
/* --by pid, or (with targ_per_cgroup) --by container|pod|service: the pairs map, not the counters */
const volatile bool by_pid = false;

/* Cumulative hits per tracepoint (index = cookie), per CPU; user space never resets it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TP_COUNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

/* --by pid: per interval, drained by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TP_COUNT_MAX_PAIRS);
	__type(key, struct tp_count_key);
	__type(value, struct tp_count_value);
} by_proc SEC(".maps");

/* --by pid hits that found by_proc full, per tracepoint, cumulative per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TP_COUNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} overflow SEC(".maps");

/* One hit of tracepoint index. The filters see the current task, which for events in
 * interrupt context is whoever ran. */
static __always_inline int count_hit(__u32 index)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tp_count_key key = {};
	struct tp_count_value fresh = {}, *v;
	char comm[TP_COUNT_COMM_LEN];
	__u64 *count;
	int i;

	key.index = index;
	key.tgid = id >> 32;
	if (targ_tgid && key.tgid != targ_tgid)
		return 0;
	if (!current_cgroup_allowed()) /* --cgroup, --container, --pod, --service */
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	if (targ_comm[0] != '\0') {
		for (i = 0; i < TP_COUNT_COMM_LEN; i++) {
			if (comm[i] != targ_comm[i])
				return 0;
			if (comm[i] == '\0')
				break;
		}
	}
	if (!by_pid) {
		count = bpf_map_lookup_elem(&hits, &key.index);
		if (count)
			(*count)++;
		return 0;
	}
	if (targ_per_cgroup) {
		key.tgid = 0;
		key.cgroup_id = bpf_get_current_cgroup_id();
	}
	v = bpf_map_lookup_elem(&by_proc, &key);
	if (!v) {
		__builtin_memcpy(fresh.comm, comm, sizeof(comm));
		/* NOEXIST: another CPU may have added it since the lookup (-EEXIST, fine) */
		bpf_map_update_elem(&by_proc, &key, &fresh, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&by_proc, &key);
		if (!v) {
			/* full (-E2BIG), or drained between the update and the lookup */
			count = bpf_map_lookup_elem(&overflow, &key.index);
			if (count)
				(*count)++;
			return 0;
		}
	}
	__sync_fetch_and_add(&v->hits, 1);
	return 0;
}

/* Attached by the agent (bpf_program__attach_tracepoint_opts) once per tracepoint, with
 * its index as the cookie: the record's layout does not matter, it is never read. */
SEC("tp")
int tp_count_hit(void *ctx)
{
	return count_hit((__u32)bpf_get_attach_cookie(ctx));
}

/* Without cookies (before 5.15), tracepoint i gets program tp_count_hit_i. */
#define TP_COUNT_HIT(i)                         \
	SEC("tp")                               \
	int tp_count_hit_##i(void *ctx)          \
	{                                       \
		(void)ctx;                      \
		return count_hit(i);            \
	}
EACH_INDEX(TP_COUNT_HIT)

char LICENSE[] SEC("license") = "GPL";

// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* kfunc-count: calls of kernel functions. One program attached to every function: through
 * kprobe.multi or one kprobe per function, told apart by the attach cookie or, on kernels
 * without cookies (before 5.15), by the probe's instruction pointer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "cgroup_filter.bpf.h"
#include "count_slot.bpf.h"
#include "kfunc.h"
#include "workload_key.bpf.h"

/* Settings, through the skeleton's rodata before load; zero means any process. */
const volatile __u32 targ_tgid = 0;
const volatile bool by_pid = false;

/* Calls per (function, process), drained by user space every interval. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KFUNC_COUNT_MAX_PAIRS);
	__type(key, struct kfunc_count_key);
	__type(value, struct kfunc_count_value);
} calls SEC(".maps");

/* Calls that found the map full, cumulative per CPU. */
COUNT_OVERFLOW_MAP(overflow, __u64);

static __always_inline int count_call(__u64 func)
{
	struct kfunc_count_key key = { .func = func, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct kfunc_count_value fresh = {}, *v;
	__u32 zero = 0;
	__u64 *lost;

	if (targ_tgid && key.tgid != targ_tgid)
		return 0;
	if (!current_cgroup_allowed()) /* --cgroup, --container, --pod, --service */
		return 0;
	if (!by_pid)
		key.tgid = 0;
	key.cgroup_id = key_cgroup_id(); /* --by container|pod|service */
	v = bpf_map_lookup_elem(&calls, &key);
	if (!v) {
		if (by_pid)
			bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
		/* NOEXIST: another CPU may have added it since the lookup (-EEXIST, fine) */
		bpf_map_update_elem(&calls, &key, &fresh, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&calls, &key);
		if (!v) {
			/* full (-E2BIG), or drained between the update and the lookup */
			lost = bpf_map_lookup_elem(&overflow, &zero);
			if (lost)
				(*lost)++;
			return 0;
		}
	}
	__sync_fetch_and_add(&v->calls, 1);
	return 0;
}

/* The programs are attached by the agent, to the functions the target names: no auto-attach. */
SEC("kprobe.multi")
int kfunc_count_multi(struct pt_regs *ctx)
{
	return count_call(bpf_get_attach_cookie(ctx));
}

SEC("kprobe")
int kfunc_count_cookie(struct pt_regs *ctx)
{
	return count_call(bpf_get_attach_cookie(ctx));
}

/* Without cookies: the IP the kprobe saw, which user space maps back to the function
 * through /proc/kallsyms (the function's address, or just past its first instruction). */
SEC("kprobe")
int kfunc_count_ip(struct pt_regs *ctx)
{
	return count_call(PT_REGS_IP(ctx));
}

char LICENSE[] SEC("license") = "GPL";

/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* TCP probes: the pid/comm filters (process context only), remote keys, histogram recording. */
#ifndef TRACECTL_NET_FILTER_BPF_H
#define TRACECTL_NET_FILTER_BPF_H

#include "cgroup_filter.bpf.h"
#include "hist_update.bpf.h"
#include "net_common.h"

/* Each program including this defines the filters as rodata:
 *   const volatile __u32 targ_tgid; const volatile char targ_comm[NET_COMM_LEN]; */

static __always_inline bool net_comm_allowed(void)
{
	char comm[NET_COMM_LEN];
	int i;

	if (targ_comm[0] == '\0')
		return true;
	if (bpf_get_current_comm(comm, sizeof(comm)))
		return false;
	for (i = 0; i < NET_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

/* Only in process context: in softirq the current task is whoever was interrupted. */
static __always_inline bool net_task_allowed(void)
{
	if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return false;
	return net_comm_allowed() && current_cgroup_allowed();
}

/* The remote end from inet_sock_set_state's fields (daddr for IPv4, daddr_v6 otherwise). */
static __always_inline void net_remote_from_state(struct net_remote *r,
						  const struct trace_event_raw_inet_sock_set_state *ctx)
{
	__builtin_memset(r, 0, sizeof(*r));
	r->family = ctx->family;
	r->port = ctx->dport;
	/* A helper copies: clang may fold the field offset into a modified ctx
	 * pointer, which the verifier refuses to dereference. */
	if (ctx->family == NET_AF_INET)
		bpf_probe_read_kernel(r->addr, 4, ctx->daddr);
	else
		bpf_probe_read_kernel(r->addr, 16, ctx->daddr_v6);
}

/*
 * The histogram of the series "all" (index 0 of a cumulative PERCPU_ARRAY) or, by
 * remote, a PERCPU_HASH entry that user space drains each window (hist_series_get; a
 * new one is created from zero_map's all-zero value). NULL: not recorded (map full).
 */
static __always_inline struct hist_counts *net_hist_series(void *all_map, void *remote_map, void *zero_map,
							   bool by_remote, const struct net_remote *remote)
{
	struct hist_counts *init;
	__u32 zero = 0;

	if (!by_remote)
		return bpf_map_lookup_elem(all_map, &zero);
	init = bpf_map_lookup_elem(zero_map, &zero);
	return init ? hist_series_get(remote_map, remote, init) : NULL;
}

/* Records v in net_hist_series(). */
static __always_inline void net_hist_record(void *all_map, void *remote_map, void *zero_map, bool by_remote,
					    const struct net_remote *remote, __u64 v)
{
	struct hist_counts *h = net_hist_series(all_map, remote_map, zero_map, by_remote, remote);

	if (h)
		hist_counts_add(h, v);
}

/* The maps net_hist_record() expects, declared once per program. */
#define NET_HIST_MAPS                                                   \
	struct {                                                        \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                \
		__uint(max_entries, 1);                                 \
		__type(key, __u32);                                     \
		__type(value, struct hist_counts);                      \
	} hist_all SEC(".maps");                                        \
	struct {                                                        \
		__uint(type, BPF_MAP_TYPE_PERCPU_HASH);                 \
		__uint(max_entries, NET_MAX_REMOTES);                   \
		__uint(map_flags, BPF_F_NO_PREALLOC);                   \
		__type(key, struct net_remote);                         \
		__type(value, struct hist_counts);                      \
	} hist_remote SEC(".maps");                                     \
	struct {                                                        \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                \
		__uint(max_entries, 1);                                 \
		__type(key, __u32);                                     \
		__type(value, struct hist_counts);                      \
	} hist_zero SEC(".maps")

#endif

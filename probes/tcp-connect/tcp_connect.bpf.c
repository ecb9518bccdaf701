// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* tcp-connect: active TCP connect latency (SYN_SENT -> ESTABLISHED) histogram, all, per remote or per workload. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "net_common.h"

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[NET_COMM_LEN] = {};
const volatile __u16 targ_port = 0;
const volatile bool by_remote = false;

#include "net_filter.bpf.h"
#include "hist_cgroup.bpf.h"

NET_HIST_MAPS;

/* What connect() left for the handshake's end, which runs in softirq: when, and (with
 * --by container|pod|service) the connecting task's cgroup, only known inside connect(). */
struct connect_start {
	__u64 ns;
	__u64 cgroup_id;
};

/* sk -> its connect() start, only for sockets that passed the pid/comm filters. LRU
 * so connects we never see finish (a lost event) cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NET_MAX_SOCKETS);
	__type(key, __u64);
	__type(value, struct connect_start);
} starts SEC(".maps");

SEC("tp/sock/inet_sock_set_state")
int tcp_connect_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 key = (__u64)(unsigned long)ctx->skaddr;
	struct net_remote remote = {};
	struct connect_start *start;
	struct hist_counts *h;
	__u64 delta, cgroup_id;

	if (ctx->protocol != NET_IPPROTO_TCP)
		return 0;
	if (ctx->newstate == NET_TCP_SYN_SENT) {
		/* tcp_v4_connect / tcp_v6_connect, inside connect(): the caller's context,
		 * the only point where the pid and comm filters mean the connecting task. */
		struct connect_start now = { .ns = bpf_ktime_get_ns() };

		if (!net_task_allowed())
			return 0;
		if (targ_per_cgroup) {
			now.cgroup_id = bpf_get_current_cgroup_id();
			/* The series made here too, not only in softirq: where BPF's allocator
			 * gives the map's elements (6.1+) its per-CPU cache can be empty for a
			 * moment, and a second try later (the handshake's end) finds it refilled
			 * (map_prealloc_where_needed). A failed connect leaves an empty series. */
			hist_cgroup_series(now.cgroup_id, 0);
		}
		bpf_map_update_elem(&starts, &key, &now, BPF_ANY);
		return 0;
	}
	if (ctx->oldstate != NET_TCP_SYN_SENT)
		return 0;
	start = bpf_map_lookup_elem(&starts, &key);
	if (!start)
		return 0;
	delta = bpf_ktime_get_ns() - start->ns;
	cgroup_id = start->cgroup_id;
	bpf_map_delete_elem(&starts, &key);
	/* SYN_SENT -> CLOSE is a failed connect (refused, timed out): no latency. */
	if (ctx->newstate != NET_TCP_ESTABLISHED)
		return 0;
	/* The local port is only bound after SYN_SENT (inet_hash_connect): filter here,
	 * in softirq, on the ports the tracepoint carries. */
	if (targ_port && ctx->sport != targ_port && ctx->dport != targ_port)
		return 0;
	if (targ_per_cgroup) {
		h = hist_cgroup_series(cgroup_id, 0);
	} else {
		if (by_remote)
			net_remote_from_state(&remote, ctx);
		h = net_hist_series(&hist_all, &hist_remote, &hist_zero, by_remote, &remote);
	}
	/* one call for every series map (hist_series_get says why) */
	if (h)
		hist_cgroup_counts_add(h, delta);
	return 0;
}

/* bpf_probe_read_kernel is offered to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* TCP probes: the pid/comm filters (process context only) and remote keys from tracepoint fields. */
#ifndef TRACECTL_NET_FILTER_BPF_H
#define TRACECTL_NET_FILTER_BPF_H

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
	return net_comm_allowed();
}

/* The remote end from inet_sock_set_state's fields (daddr for IPv4, daddr_v6 otherwise). */
static __always_inline void net_remote_from_state(struct net_remote *r,
						  const struct trace_event_raw_inet_sock_set_state *ctx)
{
	__builtin_memset(r, 0, sizeof(*r));
	r->family = ctx->family;
	r->port = ctx->dport;
	if (ctx->family == NET_AF_INET)
		__builtin_memcpy(r->addr, ctx->daddr, 4);
	else
		__builtin_memcpy(r->addr, ctx->daddr_v6, 16);
}

#endif

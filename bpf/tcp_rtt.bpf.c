// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* tcp-rtt: histogram of TCP smoothed RTT (ns), for all sockets or per remote address:port. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "net_common.h"

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0; /* unused: tcp_probe runs in softirq, no task to filter on */
const volatile char targ_comm[NET_COMM_LEN] = {};
const volatile __u16 targ_port = 0;
const volatile bool by_remote = false;

#include "net_filter.bpf.h"

NET_HIST_MAPS;

/* struct sockaddr_in / sockaddr_in6 offsets of the address inside tcp_probe's saddr/daddr. */
#define SIN_ADDR_OFF 4
#define SIN6_ADDR_OFF 8

/*
 * tcp_probe fires for each segment tcp_rcv_established() takes on a connected
 * socket. Its srtt is tp->srtt_us >> 3 (include/trace/events/tcp.h): the kernel
 * keeps srtt_us as 8 times the smoothed RTT in microseconds, so srtt is in us.
 * Ports are in host order (ntohs in TP_fast_assign), addresses are sockaddrs.
 */
SEC("tp/tcp/tcp_probe")
int tcp_rtt_probe(struct trace_event_raw_tcp_probe *ctx)
{
	struct net_remote remote = {};
	__u64 srtt_ns;

	if (targ_port && ctx->sport != targ_port && ctx->dport != targ_port)
		return 0;
	/* 0: no RTT sample yet on this socket, not a measurement of 0 */
	if (ctx->srtt == 0)
		return 0;
	srtt_ns = (__u64)ctx->srtt * 1000;
	if (by_remote) {
		remote.family = ctx->family;
		remote.port = ctx->dport;
		/* A helper copies: clang folds the array offset into a modified ctx
		 * pointer, which the verifier refuses to dereference. */
		if (ctx->family == NET_AF_INET)
			bpf_probe_read_kernel(remote.addr, 4, &ctx->daddr[SIN_ADDR_OFF]);
		else
			bpf_probe_read_kernel(remote.addr, 16, &ctx->daddr[SIN6_ADDR_OFF]);
	}
	net_hist_record(&hist_all, &hist_remote, &hist_zero, by_remote, &remote, srtt_ns);
	return 0;
}

/* bpf_probe_read_kernel is offered to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

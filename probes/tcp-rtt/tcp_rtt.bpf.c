// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* tcp-rtt: histogram of TCP smoothed RTT (ns), for all sockets or per remote address:port. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

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
/* The address family from the sockaddr itself (sa_family is its first member): the
 * record's own family field is 5.14+ only. */
static __always_inline __u16 record_family(struct trace_event_raw_tcp_probe *ctx)
{
	__u16 family = 0;

	bpf_probe_read_kernel(&family, sizeof(family), &ctx->daddr[0]);
	return family;
}

SEC("tp/tcp/tcp_probe")
int tcp_rtt_tp(struct trace_event_raw_tcp_probe *ctx)
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
		remote.family = record_family(ctx);
		remote.port = ctx->dport;
		/* A helper copies: clang folds the array offset into a modified ctx
		 * pointer, which the verifier refuses to dereference. */
		if (remote.family == NET_AF_INET)
			bpf_probe_read_kernel(remote.addr, 4, &ctx->daddr[SIN_ADDR_OFF]);
		else
			bpf_probe_read_kernel(remote.addr, 16, &ctx->daddr[SIN6_ADDR_OFF]);
	}
	net_hist_record(&hist_all, &hist_remote, &hist_zero, by_remote, &remote, srtt_ns);
	return 0;
}

/*
 * The same through tp_btf, the default where it loads: the program reads the
 * socket directly, and the kernel no longer fills the tracepoint's record
 * (sockaddrs, ports, cwnd...) for every segment before the program runs.
 */
SEC("tp_btf/tcp_probe")
int BPF_PROG(tcp_rtt_btf, struct sock *sk, const struct sk_buff *skb)
{
	struct net_remote remote = {};
	struct tcp_sock *tp;
	__u16 sport, dport;
	__u32 srtt_us;

	(void)skb;
	sport = sk->__sk_common.skc_num;
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (targ_port && sport != targ_port && dport != targ_port)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	/* as the tracepoint reports it: srtt_us holds 8 times the smoothed RTT */
	srtt_us = tp->srtt_us >> 3;
	if (srtt_us == 0)
		return 0;
	if (by_remote) {
		remote.family = sk->__sk_common.skc_family;
		remote.port = dport;
		if (remote.family == NET_AF_INET)
			__builtin_memcpy(remote.addr, &sk->__sk_common.skc_daddr, 4);
		else
			bpf_probe_read_kernel(remote.addr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	net_hist_record(&hist_all, &hist_remote, &hist_zero, by_remote, &remote, (__u64)srtt_us * 1000);
	return 0;
}

/* bpf_probe_read_kernel is offered to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

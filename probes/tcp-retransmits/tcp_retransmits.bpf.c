// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* tcp-retransmits: segments the kernel retransmitted, per TCP connection, drained every interval. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "tcp_retransmits.h"
#include "count_slot.bpf.h"
#include "sock_ends.bpf.h"

/* Filter, set through the skeleton's rodata before load; zero means any. Retransmissions
 * run from timers and softirqs, where the current task is whoever was interrupted: the
 * probe takes no pid or comm filter. */
const volatile __u16 targ_port = 0;

/* Per interval: user space moves every entry out, so the bound is on connections that
 * retransmitted within one interval. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCP_RETRANSMITS_MAX_CONNS);
	__type(key, struct tcp_retransmits_key);
	__type(value, __u64);
} conns SEC(".maps");

/* Retransmissions of connections that found the map full, cumulative per CPU. */
COUNT_OVERFLOW_MAP(overflow, __u64);

static __always_inline void count_retransmit(const struct sock *sk)
{
	struct tcp_retransmits_key key;
	__u64 zero = 0, *v;

	__builtin_memset(&key, 0, sizeof(key));
	if (!sock_ends(sk, targ_port, &key.family, &key.lport, &key.rport, key.laddr, key.raddr))
		return;
	v = count_slot(&conns, &key, &zero, &overflow);
	if (v)
		__sync_fetch_and_add(v, 1);
}

/* Recent kernels (6.18 here) also trace a retransmission that failed (err: -EBUSY while
 * the first copy is still in a host queue, -ENOMEM): only those that left count.
 * Where tp_btf has no err argument the program does not load and the tracepoint runs. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmits_btf, const struct sock *sk, const struct sk_buff *skb, int err)
{
	if (!err)
		count_retransmit(sk);
	return 0;
}

/* The record's first fields, the same in every kernel's version of this tracepoint. */
/* Before the tracepoint had err (older kernels), it fired only for retransmissions sent;
 * a program reading a third argument there does not load. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmits_btf_sent, const struct sock *sk, const struct sk_buff *skb)
{
	count_retransmit(sk);
	return 0;
}

struct tcp_retransmit_record {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
};

/* The record with err, for CO-RE: older kernels' records have none. */
struct trace_event_raw_tcp_retransmit_skb___err {
	int err;
} __attribute__((preserve_access_index));

SEC("tp/tcp/tcp_retransmit_skb")
int tcp_retransmits_tp(struct tcp_retransmit_record *ctx)
{
	struct trace_event_raw_tcp_retransmit_skb___err *rec = (void *)ctx;

	if (bpf_core_field_exists(rec->err) && BPF_CORE_READ(rec, err))
		return 0;
	count_retransmit(ctx->skaddr);
	return 0;
}

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

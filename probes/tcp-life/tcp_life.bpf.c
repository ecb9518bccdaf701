// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* tcp-life: one event per closed TCP connection with its owner, endpoints, bytes and lifetime. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ringbuf_wakeup.bpf.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "tcp_life.h"

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[NET_COMM_LEN] = {};
const volatile __u16 targ_port = 0;

#include "net_filter.bpf.h"
#include "tcp_io_hooks.bpf.h"

#define TCP_FIN_WAIT1_STATE 4
#define TCP_LAST_ACK_STATE 9

/* sk -> birth and owner. LRU so sockets we never see close cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NET_MAX_SOCKETS);
	__type(key, __u64);
	__type(value, struct tcp_life_sock);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TCP_LIFE_RINGBUF_BYTES);
} events SEC(".maps");

/* Events the ring had no room for, per CPU, cumulative. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline bool filtering_tasks(void)
{
	return targ_tgid || targ_comm[0];
}

/*
 * Process context only: names the owner of a socket not named yet (a passive one,
 * born in softirq), or forgets the socket when the owner fails the filters.
 */
static __always_inline struct tcp_life_sock *claim(__u64 key)
{
	struct tcp_life_sock *s = bpf_map_lookup_elem(&socks, &key);

	if (!s || s->tgid)
		return s;
	if (!net_task_allowed()) {
		bpf_map_delete_elem(&socks, &key);
		return NULL;
	}
	s->tgid = bpf_get_current_pid_tgid() >> 32;
	s->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	return s;
}

/*
 * Payload bytes from the socket's own counters, read at close: exact even for data
 * the application reads after the close transition (a client whose peer's FIN
 * arrives first reaches CLOSE, via TIME_WAIT, before it has read the last bytes),
 * for data moved before the probe saw the socket, and for sendfile/splice, at no
 * cost per send. But bytes_acked and bytes_received count sequence space, so the
 * SYN and FIN are in them (measured here: +2 sent, +1 received for a client that
 * connects, sends, half-closes and reads to EOF); take them out:
 *  - bytes_acked holds our SYN on an active socket (snd_una starts at the ISS; a
 *    passive child starts at ISS+1, tcp_create_openreq_child), and our FIN once
 *    acknowledged: a FIN was sent (FIN_WAIT1/LAST_ACK seen) and snd_una == write_seq.
 *  - bytes_received holds the peer's FIN once taken in sequence, which is exactly
 *    when tcp_fin() sets SOCK_DONE.
 * Left out: data carried on a SYN (TCP Fast Open), counted as payload here.
 */
static __always_inline void payload_bytes(const struct trace_event_raw_inet_sock_set_state *ctx,
					  const struct tcp_life_sock *s, __u64 *tx, __u64 *rx)
{
	const struct tcp_sock *tp = ctx->skaddr;
	const struct sock *sk = ctx->skaddr;
	__u64 acked = BPF_CORE_READ(tp, bytes_acked);
	__u64 received = BPF_CORE_READ(tp, bytes_received);
	__u64 ctl = 0;
	unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);

	if (s->active)
		ctl++;
	if (s->fin_sent && BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		ctl++;
	*tx = acked > ctl ? acked - ctl : 0;
	if (flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE)))
		received = received ? received - 1 : 0;
	*rx = received;
}

static __always_inline void emit(struct trace_event_raw_inet_sock_set_state *ctx, const struct tcp_life_sock *s)
{
	struct tcp_life_event *e;
	__u64 now = bpf_ktime_get_ns();
	__u32 zero = 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);

		if (n)
			(*n)++;
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->duration_ns = now - s->start_ns;
	payload_bytes(ctx, s, &e->tx_bytes, &e->rx_bytes);
	e->tgid = s->tgid;
	e->cgroup_id = s->cgroup_id;
	__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
	e->family = ctx->family;
	e->lport = ctx->sport;
	e->rport = ctx->dport;
	/* A helper copies: clang may fold the field offset into a modified ctx pointer,
	 * which the verifier refuses to dereference. */
	if (ctx->family == NET_AF_INET) {
		bpf_probe_read_kernel(e->laddr, 4, ctx->saddr);
		bpf_probe_read_kernel(e->raddr, 4, ctx->daddr);
	} else {
		bpf_probe_read_kernel(e->laddr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(e->raddr, 16, ctx->daddr_v6);
	}
	bpf_ringbuf_submit(e, ringbuf_wakeup_flags(&events, TCP_LIFE_RINGBUF_BYTES));
}

SEC("tp/sock/inet_sock_set_state")
int tcp_life_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 key = (__u64)(unsigned long)ctx->skaddr;
	struct tcp_life_sock *s, init = {};

	if (ctx->protocol != NET_IPPROTO_TCP)
		return 0;
	switch (ctx->newstate) {
	case NET_TCP_SYN_SENT:
		/* connect(): the caller's context, so the owner is known right away. */
		if (!net_task_allowed())
			return 0;
		init.start_ns = bpf_ktime_get_ns();
		init.active = 1;
		init.tgid = bpf_get_current_pid_tgid() >> 32;
		init.cgroup_id = bpf_get_current_cgroup_id();
		bpf_get_current_comm(init.comm, sizeof(init.comm));
		bpf_map_update_elem(&socks, &key, &init, BPF_ANY);
		return 0;
	case NET_TCP_SYN_RECV:
		/* A passive child is born in softirq: whoever runs is not its owner.
		 * The owner is named later, in process context (claim()). */
		init.start_ns = bpf_ktime_get_ns();
		bpf_map_update_elem(&socks, &key, &init, BPF_NOEXIST);
		return 0;
	case NET_TCP_ESTABLISHED:
		s = bpf_map_lookup_elem(&socks, &key);
		if (s)
			s->established = 1;
		return 0;
	case TCP_FIN_WAIT1_STATE:
	case TCP_LAST_ACK_STATE:
		/* Entered from close()/shutdown(): process context. */
		s = claim(key);
		if (s)
			s->fin_sent = 1;
		return 0;
	case NET_TCP_CLOSE:
		break;
	default:
		return 0;
	}

	s = bpf_map_lookup_elem(&socks, &key);
	if (!s)
		return 0; /* born before the probe, or its owner failed the filters */
	/* A connect that never completed (SYN_SENT -> CLOSE) was no connection. */
	if (s->established && (!filtering_tasks() || s->tgid) &&
	    (!targ_port || ctx->sport == targ_port || ctx->dport == targ_port))
		emit(ctx, s);
	bpf_map_delete_elem(&socks, &key);
	return 0;
}

/* measure=io only. sock_sendmsg / sock_recvmsg run in the caller's context: the
 * first call on a passive socket names its owner, even if the peer resets it before
 * its process closes it. Failed calls count too: they still say who owns it. These
 * run on every send and receive, so they come as tp_btf (the socket as the program's
 * argument, no tracepoint record filled first) where this kernel loads it. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(tcp_life_send_btf, struct sock *sk, int ret, int flags)
{
	if (sk->sk_protocol == NET_IPPROTO_TCP)
		claim((__u64)(unsigned long)sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tcp_life_recv_btf, struct sock *sk, int ret, int flags)
{
	if (sk->sk_protocol == NET_IPPROTO_TCP)
		claim((__u64)(unsigned long)sk);
	return 0;
}

SEC("tp/sock/sock_send_length")
int tcp_life_send(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == NET_IPPROTO_TCP)
		claim((__u64)(unsigned long)ctx->sk);
	return 0;
}

SEC("tp/sock/sock_recv_length")
int tcp_life_recv(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == NET_IPPROTO_TCP)
		claim((__u64)(unsigned long)ctx->sk);
	return 0;
}

/* Before 6.3 (no sock_*_length tracepoints): fexit, else kprobes, on inet_sendmsg/recvmsg. */
static __always_inline void tcp_io_sent(struct sock *sk, long ret)
{
	claim((__u64)(unsigned long)sk);
}

static __always_inline void tcp_io_received(struct sock *sk, long ret, int flags)
{
	claim((__u64)(unsigned long)sk);
}

TCP_IO_SEND_HOOKS
TCP_IO_RECV_HOOKS

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

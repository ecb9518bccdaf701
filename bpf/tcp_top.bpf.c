// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* tcp-top: bytes sent and received per process and TCP connection, drained every interval. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "tcp_top.h"

#define IPPROTO_TCP_NUM 6
#define AF_INET_NUM 2
#define AF_INET6_NUM 10
#define MSG_PEEK_FLAG 2

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[TCP_TOP_COMM_LEN] = {};
const volatile __u16 targ_port = 0;

/* Per interval: user space moves every entry out (lookup_and_delete), so the bound
 * is on connections active within one interval, not on all connections ever seen. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCP_TOP_MAX_CONNS);
	__type(key, struct tcp_top_key);
	__type(value, struct tcp_top_value);
} conns SEC(".maps");

/* Bytes of connections that found the map full, cumulative per CPU: reported as a
 * row of their own so the totals stay whole and the loss is visible. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcp_top_value);
} overflow SEC(".maps");

static __always_inline bool comm_allowed(const char *comm)
{
	int i;

	if (targ_comm[0] == '\0')
		return true;
	for (i = 0; i < TCP_TOP_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

static __always_inline void add_bytes(struct tcp_top_value *v, bool send, __u64 bytes)
{
	if (send)
		__sync_fetch_and_add(&v->sent, bytes);
	else
		__sync_fetch_and_add(&v->received, bytes);
}

static __always_inline int account(struct trace_event_raw_sock_msg_length *ctx, bool send)
{
	const struct sock *sk = ctx->sk;
	struct tcp_top_value zero = {}, *v;
	struct tcp_top_key key;
	__u32 slot = 0;

	__builtin_memset(&key, 0, sizeof(key));
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	if (targ_tgid && key.tgid != targ_tgid)
		return 0;
	if (bpf_get_current_comm(key.comm, sizeof(key.comm)) || !comm_allowed(key.comm))
		return 0;
	key.family = ctx->family;
	key.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	key.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (targ_port && key.lport != targ_port && key.rport != targ_port)
		return 0;
	if (key.family == AF_INET_NUM) {
		BPF_CORE_READ_INTO((__u32 *)key.laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)key.raddr, sk, __sk_common.skc_daddr);
	} else if (key.family == AF_INET6_NUM) {
		BPF_CORE_READ_INTO(&key.laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&key.raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return 0;
	}

	v = bpf_map_lookup_elem(&conns, &key);
	if (!v) {
		/* NOEXIST: another CPU may have added it since the lookup (-EEXIST, fine) */
		bpf_map_update_elem(&conns, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&conns, &key);
		if (!v) {
			/* full (-E2BIG), or drained between the update and the lookup */
			v = bpf_map_lookup_elem(&overflow, &slot);
			if (!v)
				return 0;
		}
	}
	add_bytes(v, send, (__u64)ctx->ret);
	return 0;
}

SEC("tp/sock/sock_send_length")
int tcp_top_send(struct trace_event_raw_sock_msg_length *ctx)
{
	/* failed or empty sends (-EAGAIN) moved no data */
	if (ctx->protocol != IPPROTO_TCP_NUM || ctx->ret <= 0)
		return 0;
	return account(ctx, true);
}

SEC("tp/sock/sock_recv_length")
int tcp_top_recv(struct trace_event_raw_sock_msg_length *ctx)
{
	/* Fires for failed receives (-EAGAIN under epoll) and MSG_PEEK too: only data
	 * actually consumed counts, or peeked bytes are counted twice. */
	if (ctx->protocol != IPPROTO_TCP_NUM || ctx->ret <= 0 || (ctx->flags & MSG_PEEK_FLAG))
		return 0;
	return account(ctx, false);
}

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

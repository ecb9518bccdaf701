// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* tcp-top: bytes sent and received per process and TCP connection, drained every interval. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "tcp_top.h"
#include "count_slot.bpf.h"
#include "sock_ends.bpf.h"
#include "tcp_io_hooks.bpf.h"
#include "workload_key.bpf.h"

#define IPPROTO_TCP_NUM 6
#define MSG_PEEK_FLAG 2

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[TCP_TOP_COMM_LEN] = {};
const volatile __u16 targ_port = 0;

#include "net_filter.bpf.h"

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
COUNT_OVERFLOW_MAP(overflow, struct tcp_top_value);

static __always_inline void add_bytes(struct tcp_top_value *v, bool send, __u64 bytes)
{
	if (send)
		__sync_fetch_and_add(&v->sent, bytes);
	else
		__sync_fetch_and_add(&v->received, bytes);
}

static __always_inline void account(const struct sock *sk, bool send, __u64 bytes)
{
	struct tcp_top_value zero = {}, *v;
	struct tcp_top_key key;

	/* sends and receives run in the caller's context: the pid, comm and cgroup filters hold */
	if (!net_task_allowed())
		return;
	__builtin_memset(&key, 0, sizeof(key));
	if (targ_per_cgroup) { /* one row per workload and connection */
		key.cgroup_id = bpf_get_current_cgroup_id();
	} else {
		key.tgid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(key.comm, sizeof(key.comm));
	}
	if (!sock_ends(sk, targ_port, &key.family, &key.lport, &key.rport, key.laddr, key.raddr))
		return;
	v = count_slot(&conns, &key, &zero, &overflow);
	if (!v)
		return;
	add_bytes(v, send, bytes);
}

/* A send or receive on a TCP socket, from whichever hook this kernel has. */
static __always_inline void tcp_io_sent(struct sock *sk, long ret)
{
	/* failed or empty sends (-EAGAIN) moved no data */
	if (ret > 0)
		account(sk, true, (__u64)ret);
}

static __always_inline void tcp_io_received(struct sock *sk, long ret, int flags)
{
	/* Receives fail (-EAGAIN under epoll) and peek (MSG_PEEK) too: only data
	 * actually consumed counts, or peeked bytes are counted twice. */
	if (ret > 0 && !(flags & MSG_PEEK_FLAG))
		account(sk, false, (__u64)ret);
}

SEC("tp/sock/sock_send_length")
int tcp_top_send(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == IPPROTO_TCP_NUM)
		tcp_io_sent(ctx->sk, ctx->ret);
	return 0;
}

SEC("tp/sock/sock_recv_length")
int tcp_top_recv(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == IPPROTO_TCP_NUM)
		tcp_io_received(ctx->sk, ctx->ret, ctx->flags);
	return 0;
}

/* Before 6.3 (no sock_*_length tracepoints): fexit, else kprobes, on inet_sendmsg/recvmsg. */
TCP_IO_SEND_HOOKS
TCP_IO_RECV_HOOKS

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * TCP send / receive hooks for kernels without sock:sock_send_length and
 * sock:sock_recv_length (before 6.3). Those tracepoints fire in sock_sendmsg() and
 * sock_recvmsg() right after the protocol's sendmsg / recvmsg returns; for TCP that
 * is inet_sendmsg / inet_recvmsg (inet6_* for AF_INET6 sockets), whose signatures
 * are the same from 5.x to today. Hooking their return gives the tracepoints'
 * socket, return value and receive flags unchanged, so the probes keep their
 * semantics (failed calls, MSG_PEEK) whatever the hook.
 *
 * Two variants, the agent keeps the first that loads (agent/runtime/tcp_io_variants.h):
 *  - fexit: the arguments and the return value in one program;
 *  - kprobe + kretprobe: the entry keeps the socket (and flags) per thread for the
 *    return. A kretprobe has a bounded number of calls in flight (the kernel's
 *    maxactive, the number of CPUs on non-preemptible kernels): a call beyond that,
 *    e.g. more threads blocked in recv() than CPUs, returns unseen and is not
 *    counted. fexit has no such bound, which is one reason it comes first.
 *
 * The includer defines, before expanding TCP_IO_SEND_HOOKS / TCP_IO_RECV_HOOKS:
 *   static __always_inline void tcp_io_sent(struct sock *sk, long ret);
 *   static __always_inline void tcp_io_received(struct sock *sk, long ret, int flags);
 * Both are called for TCP sockets only, in the caller's process context, exactly as
 * the tracepoint programs would be (ret < 0 for failed calls).
 */
#ifndef TRACECTL_TCP_IO_HOOKS_BPF_H
#define TRACECTL_TCP_IO_HOOKS_BPF_H

#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "net_common.h"

/* Calls between kprobe and kretprobe at once, per thread; more than the kernel
 * tracks in flight anyway. */
#define TCP_IO_MAX_INFLIGHT 4096

struct tcp_io_call {
	struct sock *sk;
	int flags;
};

static __always_inline bool tcp_io_is_tcp(const struct sock *sk)
{
	return sk && BPF_CORE_READ(sk, sk_protocol) == NET_IPPROTO_TCP;
}

/* kprobe side: the thread's call in progress, keyed by pid_tgid, deleted at its return. */
#define TCP_IO_CALLS_MAP(name)                                  \
	struct {                                                \
		__uint(type, BPF_MAP_TYPE_HASH);                \
		__uint(max_entries, TCP_IO_MAX_INFLIGHT);       \
		__type(key, __u64);                             \
		__type(value, struct tcp_io_call);              \
	} name SEC(".maps")

static __always_inline void tcp_io_call_enter(void *calls, struct socket *sock, int flags)
{
	struct tcp_io_call call = { .sk = BPF_CORE_READ(sock, sk), .flags = flags };
	__u64 id = bpf_get_current_pid_tgid();

	if (tcp_io_is_tcp(call.sk))
		bpf_map_update_elem(calls, &id, &call, BPF_ANY);
}

/* Copies out and forgets the thread's call; false when its entry was not seen. */
static __always_inline bool tcp_io_call_exit(void *calls, struct tcp_io_call *out)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tcp_io_call *call = bpf_map_lookup_elem(calls, &id);

	if (!call)
		return false;
	*out = *call;
	bpf_map_delete_elem(calls, &id);
	return true;
}

#define TCP_IO_SEND_HOOKS                                                                              \
	TCP_IO_CALLS_MAP(tcp_io_sends);                                                                \
	static __always_inline int tcp_io_send_done(struct socket *sock, int ret)                     \
	{                                                                                              \
		struct sock *sk = BPF_CORE_READ(sock, sk);                                             \
		if (tcp_io_is_tcp(sk))                                                                 \
			tcp_io_sent(sk, ret);                                                          \
		return 0;                                                                              \
	}                                                                                              \
	SEC("fexit/inet_sendmsg")                                                                      \
	int BPF_PROG(tcp_io_send_fexit, struct socket *sock, struct msghdr *msg, size_t size, int ret) \
	{                                                                                              \
		return tcp_io_send_done(sock, ret);                                                    \
	}                                                                                              \
	SEC("fexit/inet6_sendmsg")                                                                     \
	int BPF_PROG(tcp_io_send6_fexit, struct socket *sock, struct msghdr *msg, size_t size, int ret) \
	{                                                                                              \
		return tcp_io_send_done(sock, ret);                                                    \
	}                                                                                              \
	static __always_inline int tcp_io_send_return(int ret)                                         \
	{                                                                                              \
		struct tcp_io_call call;                                                               \
		if (tcp_io_call_exit(&tcp_io_sends, &call))                                            \
			tcp_io_sent(call.sk, ret);                                                     \
		return 0;                                                                              \
	}                                                                                              \
	SEC("kprobe/inet_sendmsg")                                                                     \
	int BPF_KPROBE(tcp_io_send_kprobe, struct socket *sock)                                        \
	{                                                                                              \
		tcp_io_call_enter(&tcp_io_sends, sock, 0);                                             \
		return 0;                                                                              \
	}                                                                                              \
	SEC("kretprobe/inet_sendmsg")                                                                  \
	int BPF_KRETPROBE(tcp_io_send_kretprobe, int ret)                                              \
	{                                                                                              \
		return tcp_io_send_return(ret);                                                        \
	}                                                                                              \
	SEC("kprobe/inet6_sendmsg")                                                                    \
	int BPF_KPROBE(tcp_io_send6_kprobe, struct socket *sock)                                       \
	{                                                                                              \
		tcp_io_call_enter(&tcp_io_sends, sock, 0);                                             \
		return 0;                                                                              \
	}                                                                                              \
	SEC("kretprobe/inet6_sendmsg")                                                                 \
	int BPF_KRETPROBE(tcp_io_send6_kretprobe, int ret)                                             \
	{                                                                                              \
		return tcp_io_send_return(ret);                                                        \
	}

#define TCP_IO_RECV_HOOKS                                                                              \
	TCP_IO_CALLS_MAP(tcp_io_recvs);                                                                \
	static __always_inline int tcp_io_recv_done(struct socket *sock, int flags, int ret)          \
	{                                                                                              \
		struct sock *sk = BPF_CORE_READ(sock, sk);                                             \
		if (tcp_io_is_tcp(sk))                                                                 \
			tcp_io_received(sk, ret, flags);                                               \
		return 0;                                                                              \
	}                                                                                              \
	SEC("fexit/inet_recvmsg")                                                                      \
	int BPF_PROG(tcp_io_recv_fexit, struct socket *sock, struct msghdr *msg, size_t size, int flags, \
		     int ret)                                                                          \
	{                                                                                              \
		return tcp_io_recv_done(sock, flags, ret);                                             \
	}                                                                                              \
	SEC("fexit/inet6_recvmsg")                                                                     \
	int BPF_PROG(tcp_io_recv6_fexit, struct socket *sock, struct msghdr *msg, size_t size, int flags, \
		     int ret)                                                                          \
	{                                                                                              \
		return tcp_io_recv_done(sock, flags, ret);                                             \
	}                                                                                              \
	static __always_inline int tcp_io_recv_return(int ret)                                         \
	{                                                                                              \
		struct tcp_io_call call;                                                               \
		if (tcp_io_call_exit(&tcp_io_recvs, &call))                                            \
			tcp_io_received(call.sk, ret, call.flags);                                     \
		return 0;                                                                              \
	}                                                                                              \
	SEC("kprobe/inet_recvmsg")                                                                     \
	int BPF_KPROBE(tcp_io_recv_kprobe, struct socket *sock, struct msghdr *msg, size_t size,       \
		       int flags)                                                                      \
	{                                                                                              \
		tcp_io_call_enter(&tcp_io_recvs, sock, flags);                                         \
		return 0;                                                                              \
	}                                                                                              \
	SEC("kretprobe/inet_recvmsg")                                                                  \
	int BPF_KRETPROBE(tcp_io_recv_kretprobe, int ret)                                              \
	{                                                                                              \
		return tcp_io_recv_return(ret);                                                        \
	}                                                                                              \
	SEC("kprobe/inet6_recvmsg")                                                                    \
	int BPF_KPROBE(tcp_io_recv6_kprobe, struct socket *sock, struct msghdr *msg, size_t size,      \
		       int flags)                                                                      \
	{                                                                                              \
		tcp_io_call_enter(&tcp_io_recvs, sock, flags);                                         \
		return 0;                                                                              \
	}                                                                                              \
	SEC("kretprobe/inet6_recvmsg")                                                                 \
	int BPF_KRETPROBE(tcp_io_recv6_kretprobe, int ret)                                             \
	{                                                                                              \
		return tcp_io_recv_return(ret);                                                        \
	}

#endif

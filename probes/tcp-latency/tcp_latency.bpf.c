// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* tcp-latency: per-socket send->receive (client) and receive->send (server) latency histograms. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "cgroup_filter.bpf.h"
#include "hist_cgroup.bpf.h"
#include "tcp_latency.h"
#include "tcp_io_hooks.bpf.h"

#define IPPROTO_TCP_NUM 6
#define TCP_ESTABLISHED_STATE 1
#define TCP_SYN_SENT_STATE 2
#define TCP_SYN_RECV_STATE 3
#define TCP_CLOSE_STATE 7
#define MSG_PEEK_FLAG 2

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[TCP_LATENCY_COMM_LEN] = {};
const volatile __u16 targ_port = 0;
/* The agent itself: its control connections (TLS to the CLI) are never measured. */
const volatile __u32 self_tgid = 0;

/* sk -> start of the pending sample (ns); deleted when the sample completes or the
 * socket closes. LRU so sockets we never see close cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCP_LATENCY_MAX_SOCKETS);
	__type(key, __u64);
	__type(value, __u64);
} pending SEC(".maps");

/* sk -> TCP_LATENCY_ROLE_*, decided at the handshake when the probe saw it, else
 * from the socket at its first send or receive. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCP_LATENCY_MAX_SOCKETS);
	__type(key, __u64);
	__type(value, __u8);
} roles SEC(".maps");

/* The far end of each agent control connection as seen from there: (local port << 16 |
 * remote port) of the CLI's socket when the CLI runs on this host. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCP_LATENCY_MAX_SELF);
	__type(key, __u32);
	__type(value, __u8);
} self_peers SEC(".maps");

/* One cumulative histogram per series, per CPU; user space never resets it (without --by). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCP_LATENCY_NSERIES);
	__type(key, __u32);
	__type(value, struct hist_counts);
} hists SEC(".maps");

static __always_inline bool comm_allowed(void)
{
	char comm[TCP_LATENCY_COMM_LEN];
	int i;

	if (targ_comm[0] == '\0')
		return true;
	if (bpf_get_current_comm(comm, sizeof(comm)))
		return false;
	for (i = 0; i < TCP_LATENCY_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

/* The common filters; only meaningful in process context (send/recv), where the current
 * task is the one doing the I/O (its cgroup: --cgroup, --container, --pod, --service). */
static __always_inline bool event_allowed(const struct sock *sk)
{
	if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return false;
	if (!comm_allowed() || !current_cgroup_allowed())
		return false;
	if (targ_port) {
		__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));

		if (lport != targ_port && rport != targ_port)
			return false;
	}
	return true;
}

/* Only from send and receive, in the task doing the I/O: with --by container|pod|service
 * the sample is its workload's. */
static __always_inline void hist_record(__u32 series, __u64 delta)
{
	struct hist_counts *h;

	if (targ_per_cgroup)
		h = hist_cgroup_series(bpf_get_current_cgroup_id(), series);
	else
		h = bpf_map_lookup_elem(&hists, &series);
	/* one call for either map (hist_series_get says why) */
	if (!h)
		return;
	hist_cgroup_counts_add(h, delta);
}

/* A sample starts only if none is pending: later chunks of a request keep the start. */
static __always_inline void sample_start(__u64 key)
{
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&pending, &key, &now, BPF_NOEXIST);
}

static __always_inline void sample_end(__u64 key, __u32 series)
{
	__u64 *start, delta;

	start = bpf_map_lookup_elem(&pending, &key);
	if (!start)
		return;
	delta = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&pending, &key);
	hist_record(series, delta);
}

static __always_inline __u32 port_pair(__u16 local, __u16 remote)
{
	return (__u32)local << 16 | remote;
}

/* Remembers an agent socket, and its peer's view of it, so the CLI's end is left out too. */
static __always_inline void remember_self(const struct sock *sk, __u64 key)
{
	__u8 self = TCP_LATENCY_ROLE_SELF, *known = bpf_map_lookup_elem(&roles, &key);
	__u16 lport, rport;
	__u32 peer;

	if (known && *known == TCP_LATENCY_ROLE_SELF)
		return;
	bpf_map_update_elem(&roles, &key, &self, BPF_ANY);
	lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	peer = port_pair(rport, lport);
	bpf_map_update_elem(&self_peers, &peer, &self, BPF_ANY);
}

static __always_inline bool is_self_peer(const struct sock *sk)
{
	__u32 pair = port_pair(BPF_CORE_READ(sk, __sk_common.skc_num),
			       bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)));

	return bpf_map_lookup_elem(&self_peers, &pair) != NULL;
}

/*
 * A socket whose handshake the probe did not see (it predates the attach) tells its
 * origin itself: an accepted socket is a clone of its listener and keeps the listener's
 * accept backlog (connect()ed sockets never listened: 0); a port that connect() chose
 * lives in a bind bucket marked fastreuse -1 (ports bound by bind() or listen() are 0
 * or 1). Anything else (an accepted child of listen(fd, 0), a client that bound its
 * port) cannot be told apart, and is left out rather than guessed.
 */
static __always_inline __u8 role_from_socket(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = (const struct inet_connection_sock *)sk;
	const struct inet_bind_bucket *bucket;

	if (BPF_CORE_READ(sk, sk_max_ack_backlog) > 0)
		return TCP_LATENCY_ROLE_SERVER;
	bucket = BPF_CORE_READ(icsk, icsk_bind_hash);
	if (bucket && BPF_CORE_READ(bucket, fastreuse) == -1)
		return TCP_LATENCY_ROLE_CLIENT;
	return TCP_LATENCY_ROLE_UNKNOWN;
}

/* The socket's role, decided once and kept; the CLI's end of a control connection can
 * only be recognised once the agent used its end, so that is checked every time. */
static __always_inline __u8 socket_role(const struct sock *sk, __u64 key)
{
	__u8 role, *known = bpf_map_lookup_elem(&roles, &key);

	if (known && *known == TCP_LATENCY_ROLE_SELF)
		return TCP_LATENCY_ROLE_SELF;
	if (is_self_peer(sk)) {
		role = TCP_LATENCY_ROLE_SELF;
		bpf_map_delete_elem(&pending, &key);
	} else if (known) {
		return *known;
	} else {
		role = role_from_socket(sk);
	}
	bpf_map_update_elem(&roles, &key, &role, BPF_ANY);
	return role;
}

/* The agent's own traffic is never measured, whatever the filters ask for. */
static __always_inline bool from_agent(const struct sock *sk, __u64 key)
{
	if (!self_tgid || (bpf_get_current_pid_tgid() >> 32) != self_tgid)
		return false;
	remember_self(sk, key);
	return true;
}

/* The series of a socket's samples; TCP_LATENCY_NSERIES: left out (control or unknown). */
static __always_inline __u32 socket_series(const struct sock *sk, __u64 key)
{
	switch (socket_role(sk, key)) {
	case TCP_LATENCY_ROLE_SERVER:
		return TCP_LATENCY_SERVER;
	case TCP_LATENCY_ROLE_CLIENT:
		return TCP_LATENCY_CLIENT;
	default:
		return TCP_LATENCY_NSERIES;
	}
}

/* A send on a TCP socket, from whichever hook this kernel has (ret: the call's result). */
static __always_inline void tcp_io_sent(struct sock *sk, long ret)
{
	__u64 key = (__u64)(unsigned long)sk;
	__u32 series;

	/* A failed or empty send (e.g. -EAGAIN) neither starts nor answers a request. */
	if (ret <= 0)
		return;
	if (from_agent(sk, key) || !event_allowed(sk))
		return;
	series = socket_series(sk, key);
	if (series == TCP_LATENCY_NSERIES)
		return;
	if (series == TCP_LATENCY_SERVER)
		sample_end(key, TCP_LATENCY_SERVER);
	else
		sample_start(key);
}

static __always_inline void tcp_io_received(struct sock *sk, long ret, int flags)
{
	__u64 key = (__u64)(unsigned long)sk;
	__u32 series;

	/* Receives fail (-EAGAIN under epoll) and peek (MSG_PEEK) too: only data
	 * actually consumed counts, or epoll clients report latencies that never were. */
	if (ret <= 0 || (flags & MSG_PEEK_FLAG))
		return;
	if (from_agent(sk, key) || !event_allowed(sk))
		return;
	series = socket_series(sk, key);
	if (series == TCP_LATENCY_NSERIES)
		return;
	if (series == TCP_LATENCY_SERVER)
		sample_start(key);
	else
		sample_end(key, TCP_LATENCY_CLIENT);
}

SEC("tp/sock/sock_send_length")
int tcp_latency_send(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == IPPROTO_TCP_NUM)
		tcp_io_sent(ctx->sk, ctx->ret);
	return 0;
}

SEC("tp/sock/sock_recv_length")
int tcp_latency_recv(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ctx->protocol == IPPROTO_TCP_NUM)
		tcp_io_received(ctx->sk, ctx->ret, ctx->flags);
	return 0;
}

/* Before 6.3 (no sock_*_length tracepoints): fexit, else kprobes, on inet_sendmsg/recvmsg. */
TCP_IO_SEND_HOOKS
TCP_IO_RECV_HOOKS

/* Softirq context for ESTABLISHED: no filters here, the current task is arbitrary. */
SEC("tp/sock/inet_sock_set_state")
int tcp_latency_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 key = (__u64)(unsigned long)ctx->skaddr;
	__u8 role;

	if (ctx->protocol != IPPROTO_TCP_NUM)
		return 0;
	if (ctx->newstate == TCP_CLOSE_STATE) {
		__u8 *known = bpf_map_lookup_elem(&roles, &key);

		if (known && *known == TCP_LATENCY_ROLE_SELF) {
			__u32 peer = port_pair(ctx->dport, ctx->sport);

			bpf_map_delete_elem(&self_peers, &peer);
		}
		bpf_map_delete_elem(&pending, &key);
		bpf_map_delete_elem(&roles, &key);
		return 0;
	}
	if (ctx->newstate != TCP_ESTABLISHED_STATE)
		return 0;
	if (ctx->oldstate == TCP_SYN_RECV_STATE)
		role = TCP_LATENCY_ROLE_SERVER;
	else if (ctx->oldstate == TCP_SYN_SENT_STATE)
		role = TCP_LATENCY_ROLE_CLIENT;
	else
		return 0;
	bpf_map_update_elem(&roles, &key, &role, BPF_ANY);
	return 0;
}

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

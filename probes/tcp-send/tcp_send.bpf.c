// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* tcp-send: counts successful TCP sends and their bytes per process (tgid, comm). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#include "tcp_send.h"

/* Filters, set through the skeleton's rodata before load; zero / empty means any. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[NET_COMM_LEN] = {};
const volatile __u16 targ_port = 0;

#include "net_filter.bpf.h"
#include "tcp_io_hooks.bpf.h"
#include "workload_key.bpf.h"

/* (tgid, comm) -> counts of this window, one copy per CPU (plain adds: no atomics,
 * no cache line bouncing between CPUs sending for the same process); user space
 * drains it with lookup-and-delete and sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, TCP_SEND_MAX_PROCS);
	__type(key, struct tcp_send_key);
	__type(value, struct tcp_send_val);
} counts SEC(".maps");

static __always_inline int count_send(const struct sock *sk, __u16 protocol, long ret)
{
	struct tcp_send_key key;
	struct tcp_send_val *val, init = { .sends = 1 };

	/* A failed send (-EAGAIN, -EPIPE) sent nothing; ret is the bytes the call queued. */
	if (protocol != NET_IPPROTO_TCP || ret <= 0)
		return 0;
	/* sock_sendmsg runs in the sender's context: the pid, comm and cgroup filters hold here. */
	if (!net_task_allowed())
		return 0;
	if (targ_port) {
		__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));

		if (lport != targ_port && rport != targ_port)
			return 0;
	}
	__builtin_memset(&key, 0, sizeof(key));
	if (targ_per_cgroup) {
		key.cgroup_id = bpf_get_current_cgroup_id();
	} else {
		key.tgid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(key.comm, sizeof(key.comm));
	}
	init.bytes = (__u64)ret;
	val = bpf_map_lookup_elem(&counts, &key);
	if (!val) {
		/* A new entry: this CPU's copy starts at init, the others at zero. Another
		 * CPU may insert the same key first: then add to this CPU's copy of it. */
		if (!bpf_map_update_elem(&counts, &key, &init, BPF_NOEXIST))
			return 0;
		val = bpf_map_lookup_elem(&counts, &key);
		if (!val)
			return 0;
	}
	/* this CPU's copy: a tracepoint program is not re-entered on its CPU */
	val->sends++;
	val->bytes += (__u64)ret;
	return 0;
}

/* The default where this kernel loads it: the socket is the program's argument,
 * and no tracepoint record is filled for every send before the program runs. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(tcp_send_count_btf, struct sock *sk, int ret, int flags)
{
	return count_send(sk, sk->sk_protocol, ret);
}

SEC("tp/sock/sock_send_length")
int tcp_send_count(struct trace_event_raw_sock_msg_length *ctx)
{
	return count_send(ctx->sk, ctx->protocol, ctx->ret);
}

static __always_inline void tcp_io_sent(struct sock *sk, long ret)
{
	count_send(sk, NET_IPPROTO_TCP, ret);
}

/* Before 6.3 (no sock_send_length tracepoint): fexit, else kprobes, on inet_sendmsg. */
TCP_IO_SEND_HOOKS

/* BPF_CORE_READ uses bpf_probe_read_kernel, which the kernel offers to GPL programs only. */
char LICENSE[] SEC("license") = "GPL";

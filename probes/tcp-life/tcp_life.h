/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-life: the per-socket record and the close event shared by the BPF program and the agent. */
#ifndef TRACECTL_TCP_LIFE_H
#define TRACECTL_TCP_LIFE_H

#include "net_common.h"

/* Ring buffer for close events (bytes, a power of two); overflow is counted, not blocked. */
#define TCP_LIFE_RINGBUF_BYTES (256 * 1024)

/* What the program keeps per socket between its birth and its close. */
struct tcp_life_sock {
	__u64 start_ns; /* SYN_SENT (connect()) or SYN_RECV (passive child created) */
	__u32 tgid;     /* 0 until seen in process context (passive sockets) */
	__u8 active;    /* born in connect(): the SYN we sent is in bytes_acked */
	__u8 established;
	__u8 fin_sent;  /* went through FIN_WAIT1 or LAST_ACK: a FIN of ours is in flight or acked */
	__u8 pad;
	char comm[NET_COMM_LEN];
	__u64 cgroup_id; /* the owner's, named with tgid */
};

/* One closed connection. */
struct tcp_life_event {
	__u64 ts_ns;       /* bpf_ktime_get_ns() at the close */
	__u64 duration_ns;
	__u64 tx_bytes;    /* payload bytes the peer acknowledged */
	__u64 rx_bytes;    /* payload bytes received in sequence */
	__u32 tgid;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u16 pad[3];
	__u64 cgroup_id; /* the owner's (with tgid): the agent adds its identity */
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[NET_COMM_LEN];
};

#endif

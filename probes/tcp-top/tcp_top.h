/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-top: the connection key, counters and limits shared by the BPF program and the agent. */
#ifndef TRACECTL_TCP_TOP_H
#define TRACECTL_TCP_TOP_H

/* Connections counted per interval; beyond that bytes go to the overflow slot. */
#define TCP_TOP_MAX_CONNS 10240
#define TCP_TOP_COMM_LEN 16

/* One row: a process's (or with --by container|pod|service a workload's: tgid 0, comm
 * empty) view of one connection. Addresses in network order, IPv4 in the first 4 bytes;
 * ports in host order. No implicit padding. */
struct tcp_top_key {
	__u64 cgroup_id; /* --by container|pod|service, else 0 */
	__u32 tgid;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[TCP_TOP_COMM_LEN];
	__u32 pad2;
};

struct tcp_top_value {
	__u64 sent;
	__u64 received;
};

#endif

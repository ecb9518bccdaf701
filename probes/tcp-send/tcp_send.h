/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-send: the per-process counter key and value shared by the BPF program and the agent. */
#ifndef TRACECTL_TCP_SEND_H
#define TRACECTL_TCP_SEND_H

#include "net_common.h"

/* Processes (tgid + comm) counted per window; new ones beyond that are not counted. */
#define TCP_SEND_MAX_PROCS 10240

/* (tgid, comm), or with --by container|pod|service the cgroup id alone */
struct tcp_send_key {
	__u64 cgroup_id;
	__u32 tgid;
	char comm[NET_COMM_LEN];
};

struct tcp_send_val {
	__u64 sends;
	__u64 bytes;
};

#endif

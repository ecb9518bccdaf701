/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-retransmits: the connection key and limits shared by the BPF program and the agent. */
#ifndef TRACECTL_TCP_RETRANSMITS_H
#define TRACECTL_TCP_RETRANSMITS_H

#include "net_common.h"

/* Connections counted per interval; retransmissions of more go to the overflow slot. */
#define TCP_RETRANSMITS_MAX_CONNS 10240

/* One connection: addresses in network order, IPv4 in the first 4 bytes; ports in
 * host order. No implicit padding: keys are compared bytewise. */
struct tcp_retransmits_key {
	__u16 family; /* NET_AF_INET or NET_AF_INET6 */
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* TCP probes (tcp-send, tcp-rtt, tcp-connect, tcp-life): constants and the remote-endpoint key both sides share. */
#ifndef TRACECTL_NET_COMMON_H
#define TRACECTL_NET_COMMON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "cgroup_filter.h" /* the filter every TCP program has (net_filter.bpf.h) */

#define NET_COMM_LEN 16

/* Values of the tracepoint fields (uapi / include/net/tcp_states.h); vmlinux.h has no macros. */
#define NET_AF_INET 2
#define NET_AF_INET6 10
#define NET_IPPROTO_TCP 6
#define NET_TCP_ESTABLISHED 1
#define NET_TCP_SYN_SENT 2
#define NET_TCP_SYN_RECV 3
#define NET_TCP_CLOSE 7

/* Sockets tracked at once by the probes that carry state per socket; LRU beyond that. */
#define NET_MAX_SOCKETS 65536
/* Remote endpoints kept per window with --by remote (HIST_SET_MAX labels); new ones beyond
 * that are not recorded until the next read drains the map. */
#define NET_MAX_REMOTES 256

/* A remote endpoint as a map key: IPv4 in the first 4 bytes of addr, the rest zero. */
struct net_remote {
	__u8 addr[16];
	__u16 port;   /* host order */
	__u16 family; /* NET_AF_INET or NET_AF_INET6 */
	__u32 pad;    /* zero: keys are compared bytewise */
};

#endif

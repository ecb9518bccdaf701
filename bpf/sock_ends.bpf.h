/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* TCP probes keyed by connection: both ends of a socket's connection. */
#ifndef TRACECTL_SOCK_ENDS_BPF_H
#define TRACECTL_SOCK_ENDS_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "net_common.h"

/*
 * Both ends of sk's connection: ports in host order, addresses in network order (IPv4 in
 * the first 4 bytes of 16). False when port (the --port filter; 0: any) is neither end's
 * port, or for a family other than IPv4 and IPv6: the caller counts nothing then.
 */
static __always_inline bool sock_ends(const struct sock *sk, __u16 port, __u16 *family, __u16 *lport,
				      __u16 *rport, __u8 *laddr, __u8 *raddr)
{
	*lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	*rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (port && *lport != port && *rport != port)
		return false;
	*family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (*family == NET_AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)raddr, sk, __sk_common.skc_daddr);
		return true;
	}
	if (*family == NET_AF_INET6) {
		BPF_CORE_READ_INTO((__u8(*)[16])laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO((__u8(*)[16])raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		return true;
	}
	return false;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* TCP probes, user side: formats the kernel's address bytes as "ADDR" and "ADDR:PORT" labels. */
#ifndef TRACECTL_NET_ADDR_H
#define TRACECTL_NET_ADDR_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* 16 address bytes (IPv4 in the first 4) of family AF_INET or AF_INET6; "?" otherwise. */
static inline void net_addr_format(char *buf, size_t len, uint16_t family, const uint8_t addr[16])
{
	int af = family == AF_INET ? AF_INET : family == AF_INET6 ? AF_INET6 : -1;

	if (af < 0 || !inet_ntop(af, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* "10.0.0.1:443" or "[::1]:443" (the bracket form users type, see common/hostport.h). */
static inline void net_endpoint_format(char *buf, size_t len, uint16_t family, const uint8_t addr[16],
				       uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	net_addr_format(a, sizeof(a), family, addr);
	if (family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
}

#endif

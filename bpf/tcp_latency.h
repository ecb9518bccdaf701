/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-latency: the limits and series indices shared by the BPF program and the agent. */
#ifndef TRACECTL_TCP_LATENCY_H
#define TRACECTL_TCP_LATENCY_H

/* Sockets tracked at once (pending samples, known roles); LRU beyond that. */
#define TCP_LATENCY_MAX_SOCKETS 65536

#define TCP_LATENCY_COMM_LEN 16

/* Series: the index into the per-CPU histogram array and into the catalog labels. */
enum tcp_latency_series {
	TCP_LATENCY_CLIENT = 0, /* send -> next receive, connected or unknown sockets */
	TCP_LATENCY_SERVER = 1, /* receive -> next send, accepted sockets */
	TCP_LATENCY_NSERIES = 2,
};

/* Values in the role map (absent means unknown, which is the client view). */
#define TCP_LATENCY_ROLE_SERVER 1

#endif

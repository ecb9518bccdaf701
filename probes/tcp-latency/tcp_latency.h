/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-latency: the limits and series indices shared by the BPF program and the agent. */
#ifndef TRACECTL_TCP_LATENCY_H
#define TRACECTL_TCP_LATENCY_H

/* Sockets tracked at once (pending samples, known roles); LRU beyond that. */
#define TCP_LATENCY_MAX_SOCKETS 65536

#define TCP_LATENCY_COMM_LEN 16

/* Series: the index into the per-CPU histogram array and into the catalog labels. */
enum tcp_latency_series {
	TCP_LATENCY_CLIENT = 0, /* send -> next receive, connected sockets */
	TCP_LATENCY_SERVER = 1, /* receive -> next send, accepted sockets */
	TCP_LATENCY_NSERIES = 2,
};

/* Values in the role map, decided once per socket (see socket_role in the BPF program). */
#define TCP_LATENCY_ROLE_SERVER 1  /* accepted: receive -> next send */
#define TCP_LATENCY_ROLE_CLIENT 2  /* connected: send -> next receive */
#define TCP_LATENCY_ROLE_UNKNOWN 3 /* neither can be told: left out, never guessed */
#define TCP_LATENCY_ROLE_SELF 4    /* tracectl's own control connection: left out */

/* Control connections of the agent remembered at once (their ports, for the CLI's side). */
#define TCP_LATENCY_MAX_SELF 1024

#endif

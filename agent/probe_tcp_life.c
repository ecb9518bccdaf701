/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-life user side: loads the skeleton with the filters and turns its ring buffer into close events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "kernel_env.h"
#include "net_probe.h"
#include "tcp_life.h"
#include "tcp_life.skel.h"

_Static_assert(NET_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");

struct tcp_life_state {
	struct tcp_life *skel;
	struct ring_buffer *ring;
	struct event_sink *sink; /* set only while drain() runs */
	__u64 *lost_percpu;      /* one counter per possible CPU, reused by every read */
	int ncpus;
};

static const char *const tracepoints[] = {
	"sock/inet_sock_set_state",
	"sock/sock_send_length",
	"sock/sock_recv_length",
};
static const char *const tracepoint_types[] = { "inet_sock_set_state", "sock_msg_length", "sock_msg_length" };

static int tcp_life_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 3, reason, len);
}

static void tcp_life_close(void **state)
{
	struct tcp_life_state *st;

	if (!state || !*state)
		return;
	st = *state;
	ring_buffer__free(st->ring);
	tcp_life__destroy(st->skel);
	free(st->lost_percpu);
	free(st);
	*state = NULL;
}

static int tcp_life_on_event(void *ctx, void *data, size_t size)
{
	struct tcp_life_state *st = ctx;
	const struct tcp_life_event *e = data;
	char comm[NET_COMM_LEN + 1], laddr[INET6_ADDRSTRLEN], raddr[INET6_ADDRSTRLEN];
	struct event_field fields[9];

	if (size < sizeof(*e) || !st->sink)
		return 0;
	memcpy(comm, e->comm, NET_COMM_LEN);
	comm[NET_COMM_LEN] = '\0';
	net_addr_format(laddr, sizeof(laddr), e->family, e->laddr);
	net_addr_format(raddr, sizeof(raddr), e->family, e->raddr);
	/* pid 0 / empty comm: a passive socket never used in process context while traced */
	fields[0] = (struct event_field){ .name = "pid", .num = e->tgid };
	fields[1] = (struct event_field){ .name = "comm", .str = comm };
	fields[2] = (struct event_field){ .name = "laddr", .str = laddr };
	fields[3] = (struct event_field){ .name = "lport", .num = e->lport };
	fields[4] = (struct event_field){ .name = "raddr", .str = raddr };
	fields[5] = (struct event_field){ .name = "rport", .num = e->rport };
	fields[6] = (struct event_field){ .name = "tx_bytes", .num = (int64_t)e->tx_bytes };
	fields[7] = (struct event_field){ .name = "rx_bytes", .num = (int64_t)e->rx_bytes };
	fields[8] = (struct event_field){ .name = "duration_ns", .num = (int64_t)e->duration_ns };
	event_sink_emit(st->sink, kernel_env_mono_to_unix_ns(e->ts_ns), fields, 9);
	return 0;
}

static int tcp_life_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct tcp_life_state *st = NULL;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating tcp-life state: %s", strerror(-err));
		goto cleanup;
	}
	st->ncpus = libbpf_num_possible_cpus();
	if (st->ncpus <= 0) {
		err = st->ncpus < 0 ? st->ncpus : -EINVAL;
		snprintf(errbuf, errlen, "counting possible CPUs: %s", strerror(-err));
		goto cleanup;
	}
	st->lost_percpu = calloc((size_t)st->ncpus, sizeof(*st->lost_percpu));
	if (!st->lost_percpu) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating tcp-life drop counters: %s", strerror(-err));
		goto cleanup;
	}

	/* Open: parse the embedded object. */
	st->skel = tcp_life__open();
	if (!st->skel) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "opening tcp-life BPF object: %s", strerror(-err));
		goto cleanup;
	}

	/* Configure: the filters are read-only data, fixed at load. */
	if (params) {
		size_t n = strnlen(params->comm, PROBE_COMM_LEN - 1);

		st->skel->rodata->targ_tgid = params->pid;
		memset((char *)st->skel->rodata->targ_comm, 0, NET_COMM_LEN);
		memcpy((char *)st->skel->rodata->targ_comm, params->comm, n);
		st->skel->rodata->targ_port = params->port;
	}

	/* Load: the verifier runs here. */
	err = tcp_life__load(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "loading tcp-life BPF program: %s", strerror(-err));
		goto cleanup;
	}

	/* The ring's epoll fd goes into the session's event loop: no thread of ours. */
	st->ring = ring_buffer__new(bpf_map__fd(st->skel->maps.events), tcp_life_on_event, st, NULL);
	if (!st->ring) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "opening the tcp-life ring buffer: %s", strerror(-err));
		goto cleanup;
	}

	err = tcp_life__attach(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "attaching tcp-life tracepoints (%s, %s, %s): %s", tracepoints[0],
			 tracepoints[1], tracepoints[2], strerror(-err));
		goto cleanup;
	}

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		tcp_life_close(&partial);
	}
	return err;
}

static int tcp_life_event_fd(void *state)
{
	struct tcp_life_state *st = state;

	return ring_buffer__epoll_fd(st->ring);
}

static int tcp_life_drain(void *state, struct event_sink *sink)
{
	struct tcp_life_state *st = state;
	int n;

	st->sink = sink;
	n = ring_buffer__consume(st->ring);
	st->sink = NULL;
	return n;
}

static uint64_t tcp_life_lost(void *state)
{
	struct tcp_life_state *st = state;
	uint64_t total = 0;
	__u32 zero = 0;

	if (bpf_map__lookup_elem(st->skel->maps.lost, &zero, sizeof(zero), st->lost_percpu,
				 (size_t)st->ncpus * sizeof(*st->lost_percpu), 0))
		return 0;
	for (int i = 0; i < st->ncpus; i++)
		total += st->lost_percpu[i];
	return total;
}

const struct probe_desc probe_tcp_life = {
	.name = "tcp-life",
	.description = "one event per closed TCP connection: pid, comm, local and remote address and "
		       "port, payload bytes sent (acknowledged) and received, lifetime in ns from the handshake",
	.kind = PROBE_EVENTS,
	.hook = "tracepoint sock:inet_sock_set_state + sock:sock_send_length + sock:sock_recv_length "
		"(owner of accepted sockets); bytes from struct tcp_sock (CO-RE)",
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_PORT,
	.supported = tcp_life_supported,
	.open = tcp_life_open,
	.event_fd = tcp_life_event_fd,
	.drain_events = tcp_life_drain,
	.events_lost = tcp_life_lost,
	.close = tcp_life_close,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-top user side: drains the per-connection byte counters every interval into a sorted table. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "hook_variant.h"
#include "kernel_env.h"
#include "log.h"
#include "map_drain.h"
#include "map_percpu.h"
#include "tcp_top.h"
#include "tcp_io_variants.h"
#include "tcp_top.skel.h"

_Static_assert(TCP_TOP_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");

#define ADDR_LEN (INET6_ADDRSTRLEN + 8) /* "[v6]:65535" */

struct tcp_top_state {
	struct tcp_top *skel;
	struct tcp_top_key *keys;     /* drain buffer: TCP_TOP_MAX_CONNS keys, allocated at open */
	struct tcp_top_value *percpu; /* overflow read buffer, one value per possible CPU */
	int ncpus;
	uint64_t overflow_before[2]; /* sent, received: the overflow slot is cumulative */
};

static const char *const tracepoints[] = { "sock/sock_send_length", "sock/sock_recv_length" };
static const char *const tracepoint_types[] = { "sock_msg_length", "sock_msg_length" };

static const char *const tp_programs[] = { "tcp_top_send", "tcp_top_recv", NULL };
static const struct hook_variant variant_rows[] = {
	{ "tracepoint", "tracepoint sock:sock_send_length + sock:sock_recv_length", tp_programs, NULL },
	{ "fexit", TCP_IO_FEXIT_HOOK, tcp_io_fexit_programs, NULL },
	{ "kprobe", TCP_IO_KPROBE_HOOK, tcp_io_kprobe_programs, tcp_io_kprobe_maps },
};
HOOK_VARIANTS(variants, tcp_top, "tcp-top", variant_rows);

/* Whether a variant loads is found by loading it (hook_variant.h). */
static int tcp_top_supported(char *reason, size_t len)
{
	(void)reason, (void)len;
	return 0;
}

static void tcp_top_close(void **state)
{
	struct tcp_top_state *st;

	if (!state || !*state)
		return;
	st = *state;
	tcp_top__destroy(st->skel);
	free(st->keys);
	free(st->percpu);
	free(st);
	*state = NULL;
}

/* The filters are read-only data, fixed at load. */
static int tcp_top_configure(void *skel, const struct hook_variant *variant, void *ctx, char *err, size_t errlen)
{
	struct tcp_top *obj = skel;
	const struct probe_params *params = ctx;

	TCP_IO_SET_FILTERS(obj->rodata, params);
	return tcp_io_check_row(variant, tracepoints, tracepoint_types, 2, err, errlen);
}

static int tcp_top_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct tcp_top_state *st = NULL;
	void *skel;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating tcp-top state: %s", strerror(-err));
		goto cleanup;
	}
	/* Read buffers for the life of the probe: read() runs every interval. */
	st->ncpus = libbpf_num_possible_cpus();
	if (st->ncpus <= 0) {
		err = st->ncpus < 0 ? st->ncpus : -EINVAL;
		snprintf(errbuf, errlen, "counting possible CPUs: %s", strerror(-err));
		goto cleanup;
	}
	st->keys = calloc(TCP_TOP_MAX_CONNS, sizeof(*st->keys));
	st->percpu = calloc((size_t)st->ncpus, sizeof(*st->percpu));
	if (!st->keys || !st->percpu) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating tcp-top read buffers: %s", strerror(-err));
		goto cleanup;
	}

	/* Open, configure, load and attach the first variant this kernel takes. */
	err = hook_variants_open(&variants, tcp_top_configure, (void *)params, &skel, NULL, errbuf, errlen);
	if (err)
		goto cleanup;
	st->skel = skel;

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		tcp_top_close(&partial);
	}
	return err;
}

/* "a.b.c.d:port" or "[v6]:port" */
static void format_addr(char *out, size_t len, __u16 family, const __u8 *addr, __u16 port)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == AF_INET ? AF_INET : AF_INET6, addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	if (family == AF_INET)
		snprintf(out, len, "%s:%u", ip, port);
	else
		snprintf(out, len, "[%s]:%u", ip, port);
}

static int add_row(const void *key, const void *value, void *ctx)
{
	const struct tcp_top_key *k = key;
	const struct tcp_top_value *v = value;
	char pid[16], comm[TCP_TOP_COMM_LEN + 1], laddr[ADDR_LEN], raddr[ADDR_LEN];
	const char *keys[4] = { pid, comm, laddr, raddr };
	uint64_t values[3] = { v->sent + v->received, v->sent, v->received };

	snprintf(pid, sizeof(pid), "%u", k->tgid);
	memcpy(comm, k->comm, TCP_TOP_COMM_LEN);
	comm[TCP_TOP_COMM_LEN] = '\0';
	format_addr(laddr, sizeof(laddr), k->family, k->laddr, k->lport);
	format_addr(raddr, sizeof(raddr), k->family, k->raddr, k->rport);
	return count_table_add(ctx, keys, values);
}

static int tcp_top_read(void *state, struct count_table *out)
{
	struct tcp_top_state *st = state;
	struct tcp_top_value drained;
	uint64_t now[2], delta[2];
	int err;

	err = map_drain(st->skel->maps.conns, st->keys, TCP_TOP_MAX_CONNS, &drained, sizeof(drained), add_row, out);
	if (err < 0)
		return err;

	/* Connections that found the map full: one row, so no byte goes missing silently. */
	err = map_sum_percpu(st->skel->maps.overflow, 0, (uint64_t *)st->percpu, st->ncpus, 2, now);
	if (err)
		return err;
	for (int i = 0; i < 2; i++) {
		delta[i] = now[i] - st->overflow_before[i];
		st->overflow_before[i] = now[i];
	}
	if (delta[0] || delta[1]) {
		const char *keys[4] = { "-", "[map full]", "-", "-" };
		uint64_t values[3] = { delta[0] + delta[1], delta[0], delta[1] };

		log_warn("tcp-top: more than %d connections in one interval: %" PRIu64 " bytes sent and %" PRIu64
			 " received not attributed to a connection (row \"[map full]\")",
			 TCP_TOP_MAX_CONNS, delta[0], delta[1]);
		err = count_table_add(out, keys, values);
	}
	return err;
}

const struct probe_desc probe_tcp_top = {
	.name = "tcp-top",
	.description = "bytes sent and received per process and TCP connection (local and remote address:port, "
		       "IPv4 a.b.c.d:port, IPv6 [addr]:port), per interval, largest total first; at most 10240 "
		       "connections per interval, the bytes of more go to a row \"[map full]\"",
	.kind = PROBE_COUNTS,
	.hook = "tracepoint sock:sock_send_length + sock:sock_recv_length (before 6.3: " TCP_IO_FEXIT_HOOK
		", else kprobes there)",
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_PORT | PROBE_PARAM_TOP,
	.default_top = 20,
	.nkeys = 4,
	.key_names = { "pid", "comm", "laddr", "raddr" },
	.nvalues = 3,
	.value_names = { "bytes", "sent_bytes", "received_bytes" },
	.supported = tcp_top_supported,
	.open = tcp_top_open,
	.read_counts = tcp_top_read,
	.close = tcp_top_close,
};

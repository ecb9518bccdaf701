/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-top user side: drains the per-connection byte counters every interval into a sorted table. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "runtime.h"
#include "kernel_env.h"
#include "log.h"
#include "tcp_top.h"
#include "tcp_io_variants.h"
#include "tcp_top.skel.h"

extern const struct probe_desc probe_tcp_top; /* its key names, for probe_row_keys */

#define ADDR_LEN (INET6_ADDRSTRLEN + 8) /* "[v6]:65535" */

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

static int tcp_top_configure(void *state, void *skel, const struct hook_variant *variant,
			     const struct probe_params *params, char *err, size_t errlen)
{
	(void)state, (void)skel, (void)params;
	return tcp_io_check_row(variant, tracepoints, tracepoint_types, 2, err, errlen);
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
	const char *keys[4] = { pid, comm, laddr, raddr }, *row[4];
	char workload[PROBE_TARGET_LEN];
	uint64_t values[3] = { v->sent + v->received, v->sent, v->received };

	snprintf(pid, sizeof(pid), "%u", k->tgid);
	memcpy(comm, k->comm, TCP_TOP_COMM_LEN);
	comm[TCP_TOP_COMM_LEN] = '\0';
	format_addr(laddr, sizeof(laddr), k->family, k->laddr, k->lport);
	format_addr(raddr, sizeof(raddr), k->family, k->raddr, k->rport);
	return count_table_add(ctx, probe_row_keys(&probe_tcp_top, ctx, k->cgroup_id, keys, row, workload,
						   sizeof(workload)), values);
}

/* Connections that found the map full: one row, so no byte goes missing silently. */
static int tcp_top_overflow(void *state, const uint64_t *window, struct count_table *out)
{
	const char *keys[4] = { "-", "[map full]", "-", "-" }, *row[4];
	char workload[PROBE_TARGET_LEN];
	uint64_t values[3] = { window[0] + window[1], window[0], window[1] };

	(void)state;
	log_warn("tcp-top: more than %d connections in one interval: %" PRIu64 " bytes sent and %" PRIu64
		 " received not attributed to a connection (row \"[map full]\")", TCP_TOP_MAX_CONNS, window[0],
		 window[1]);
	probe_row_keys(&probe_tcp_top, out, 0, keys, row, workload, sizeof(workload));
	/* by workload the comm column is left out: the mark goes in the workload's */
	if (cgroup_workload_by(out->key_names[0]) != CGROUP_WORKLOAD_NONE)
		row[0] = "[map full]";
	return count_table_add(out, row, values);
}

static const struct probe_runtime runtime = {
	.configure = tcp_top_configure,
	.count_map = "conns",
	.count_max_keys = TCP_TOP_MAX_CONNS,
	.count_row = add_row,
	.overflow_map = "overflow",
	.overflow_fields = 2,
	.overflow_row = tcp_top_overflow,
};

const struct probe_desc probe_tcp_top = {
	.name = "tcp-top",
	.description = "bytes sent and received per process (or per container, pod or systemd service with --by) "
		       "and TCP connection (local and remote address:port, "
		       "IPv4 a.b.c.d:port, IPv6 [addr]:port), per interval, largest total first; at most 10240 "
		       "connections per interval, the bytes of more go to a row \"[map full]\"",
	.kind = PROBE_COUNTS,
	.hook = "tracepoint sock:sock_send_length + sock:sock_recv_length (before 6.3: " TCP_IO_FEXIT_HOOK
		", else kprobes there)",
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_PORT | PROBE_PARAM_TOP | PROBE_PARAM_BY |
		  PROBE_PARAM_CGROUP,
	/* pid: the (pid, comm, laddr, raddr) rows, the default */
	.by_choices = "pid|container|pod|service",
	.default_top = 20,
	.nkeys = 4,
	.key_names = { "pid", "comm", "laddr", "raddr" },
	.nvalues = 3,
	.value_names = { "bytes", "sent_bytes", "received_bytes" },
	.supported = tcp_top_supported,
	.runtime = &runtime,
	.read_counts = probe_runtime_read_counts,
};

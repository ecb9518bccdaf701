/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-life user side: loads the skeleton with the filters and turns its ring buffer into close events. */
#include <string.h>

#include "kernel_env.h"
#include "runtime.h"
#include "tcp_life.h"
#include "tcp_io_variants.h"
#include "tcp_life.skel.h"

static const char *const tracepoints[] = {
	"sock/inet_sock_set_state",
	"sock/sock_send_length",
	"sock/sock_recv_length",
};
static const char *const tracepoint_types[] = { "inet_sock_set_state", "sock_msg_length", "sock_msg_length" };

/* measure=io: also every send and receive, to name the owner of an accepted socket
 * that is reset before its process closes it (the default names owners at connect
 * and close, which costs nothing per I/O). */
static bool io_hooks(const struct probe_params *params)
{
	return params && strcmp(params->measure, "io") == 0;
}

#define BYTES_HOOK "bytes from struct tcp_sock (CO-RE)"
#define STATE_HOOK "tracepoint sock:inet_sock_set_state"

/* measure=io: the send / receive hooks this kernel takes, cheapest first. */
static const char *const btf_programs[] = { "tcp_life_send_btf", "tcp_life_recv_btf", NULL };
static const char *const tp_programs[] = { "tcp_life_send", "tcp_life_recv", NULL };
static const struct hook_variant io_rows[] = {
	{ "tp_btf", STATE_HOOK " + tp_btf sock_send_length + sock_recv_length (owner of accepted sockets); " BYTES_HOOK,
	  btf_programs, NULL },
	{ "tracepoint",
	  STATE_HOOK " + sock:sock_send_length + sock:sock_recv_length (owner of accepted sockets); " BYTES_HOOK,
	  tp_programs, NULL },
	{ "fexit", STATE_HOOK " + " TCP_IO_FEXIT_HOOK " (owner of accepted sockets); " BYTES_HOOK,
	  tcp_io_fexit_programs, NULL },
	{ "kprobe", STATE_HOOK " + " TCP_IO_KPROBE_HOOK " (owner of accepted sockets); " BYTES_HOOK,
	  tcp_io_kprobe_programs, tcp_io_kprobe_maps },
};
HOOK_VARIANTS(io_variants, tcp_life, "tcp-life", io_rows);

/* The default: the state tracepoint alone; tcp_life_configure() leaves out the rest. */
static const struct hook_variant close_rows[] = {
	{ "tracepoint", STATE_HOOK "; owners at connect and close; " BYTES_HOOK, NULL, NULL },
};
static struct hook_choice close_choice;
static const struct hook_variants close_variants = {
	"tcp-life", &tcp_life_skeleton, close_rows, 1, &close_choice, NULL,
};

static const char *tcp_life_hook_here(const struct probe_params *params)
{
	return hook_variants_here(io_hooks(params) ? &io_variants : &close_variants);
}

static int tcp_life_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 1, reason, len);
}

static int tcp_life_on_event(void *ctx, void *data, size_t size)
{
	struct probe_instance *in = ctx;
	const struct tcp_life_event *e = data;
	char comm[NET_COMM_LEN + 1], laddr[INET6_ADDRSTRLEN], raddr[INET6_ADDRSTRLEN];
	struct event_field fields[9];

	if (size < sizeof(*e) || !in->ring.sink)
		return 0;
	memcpy(comm, e->comm, NET_COMM_LEN);
	comm[NET_COMM_LEN] = '\0';
	net_addr_format(laddr, sizeof(laddr), e->family, e->laddr);
	net_addr_format(raddr, sizeof(raddr), e->family, e->raddr);
	/* pid 0 / empty comm: an accepted socket reset before its process closed it
	 * (with measure=io: one never used in process context while traced) */
	fields[0] = (struct event_field){ .name = "pid", .num = e->tgid };
	fields[1] = (struct event_field){ .name = "comm", .str = comm };
	fields[2] = (struct event_field){ .name = "laddr", .str = laddr };
	fields[3] = (struct event_field){ .name = "lport", .num = e->lport };
	fields[4] = (struct event_field){ .name = "raddr", .str = raddr };
	fields[5] = (struct event_field){ .name = "rport", .num = e->rport };
	fields[6] = (struct event_field){ .name = "tx_bytes", .num = (int64_t)e->tx_bytes };
	fields[7] = (struct event_field){ .name = "rx_bytes", .num = (int64_t)e->rx_bytes };
	fields[8] = (struct event_field){ .name = "duration_ns", .num = (int64_t)e->duration_ns };
	event_ring_emit(&in->ring, e->ts_ns, e->cgroup_id, fields, 9);
	return 0;
}

/* By default only the state tracepoint loads: every other program and the kprobe rows'
 * maps are left out. */
static int tcp_life_configure(void *state, void *skel, const struct hook_variant *variant,
			      const struct probe_params *params, char *err, size_t errlen)
{
	struct tcp_life *obj = skel;
	struct bpf_program *prog;

	(void)state;
	if (!io_hooks(params)) {
		bpf_object__for_each_program(prog, obj->obj)
			if (prog != obj->progs.tcp_life_state)
				bpf_program__set_autoload(prog, false);
		for (size_t i = 0; tcp_io_kprobe_maps[i]; i++)
			bpf_map__set_autocreate(bpf_object__find_map_by_name(obj->obj, tcp_io_kprobe_maps[i]), false);
		return 0;
	}
	return tcp_io_check_row(variant, tracepoints, tracepoint_types, 3, err, errlen);
}

static const struct hook_variants *tcp_life_variants(const struct probe_params *params)
{
	return io_hooks(params) ? &io_variants : &close_variants;
}

static const struct probe_runtime runtime = {
	.variants_for = tcp_life_variants,
	.configure = tcp_life_configure,
	.event_map = "events",
	.lost_map = "lost",
	.on_record = tcp_life_on_event,
};

const struct probe_desc probe_tcp_life = {
	.name = "tcp-life",
	.description = "one event per closed TCP connection: pid, comm, local and remote address and "
		       "port, payload bytes sent (acknowledged) and received, lifetime in ns from the handshake; "
		       "an accepted socket's owner is named when its process closes it (pid 0 when the peer "
		       "reset it first), or with --param measure=io at its first send or receive (a hook per I/O); "
		       "with the owner's identity (cgroup, container, pod, QoS class, service)",
	.kind = PROBE_EVENTS,
	.hook = "tracepoint sock:inet_sock_set_state; with measure=io also sock_send_length + sock_recv_length "
		"(tp_btf where it loads; before 6.3: " TCP_IO_FEXIT_HOOK ", else kprobes there); " BYTES_HOOK,
	.hook_here = tcp_life_hook_here,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_PORT | PROBE_PARAM_MEASURE | PROBE_PARAM_CGROUP,
	.measure_choices = "close|io",
	.supported = tcp_life_supported,
	.runtime = &runtime,
	.event_fd = event_ring_probe_fd,
	.drain_events = event_ring_probe_drain,
	.events_lost = event_ring_probe_lost,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-latency user side: loads the skeleton with the filters and sums its per-CPU histograms. */
#include <errno.h>

#include "runtime.h"
#include "kernel_env.h"
#include "tcp_latency.h"
#include "tcp_io_variants.h"
#include "tcp_latency.skel.h"

struct tcp_latency_state {
	struct probe_instance in;
	/* the kernel histograms are cumulative, never reset: a window is now - before */
	struct hist before[TCP_LATENCY_NSERIES], now;
};

static const char *const tracepoints[] = {
	"sock/sock_send_length",
	"sock/sock_recv_length",
	"sock/inet_sock_set_state",
};
static const char *const tracepoint_types[] = { "sock_msg_length", "sock_msg_length", "inet_sock_set_state" };

static const char *const series_labels[TCP_LATENCY_NSERIES] = {
	[TCP_LATENCY_CLIENT] = "role=client",
	[TCP_LATENCY_SERVER] = "role=server",
};

/* The socket states are a tracepoint on every kernel we run (4.16+); sends and
 * receives are hooked where this kernel allows (tcp_io_variants.h). */
static int tcp_latency_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints + 2, tracepoint_types + 2, 1, reason, len);
}

static const char *const tp_programs[] = { "tcp_latency_send", "tcp_latency_recv", NULL };
static const struct hook_variant variant_rows[] = {
	{ "tracepoint", "tracepoint sock:sock_send_length + sock:sock_recv_length + sock:inet_sock_set_state",
	  tp_programs, NULL },
	{ "fexit", TCP_IO_FEXIT_HOOK " + tracepoint sock:inet_sock_set_state", tcp_io_fexit_programs, NULL },
	{ "kprobe", TCP_IO_KPROBE_HOOK " + tracepoint sock:inet_sock_set_state", tcp_io_kprobe_programs,
	  tcp_io_kprobe_maps },
};
HOOK_VARIANTS(variants, tcp_latency, "tcp-latency", variant_rows);

static int tcp_latency_configure(void *state, void *skel, const struct hook_variant *variant,
				 const struct probe_params *params, char *err, size_t errlen)
{
	(void)state;
	/* even with --pid or --comm of the agent: its samples would be its own TLS link */
	((struct tcp_latency *)skel)->rodata->self_tgid = params->agent_tgid;
	return tcp_io_check_row(variant, tracepoints, tracepoint_types, 3, err, errlen);
}

static const struct probe_runtime runtime = {
	.state_size = sizeof(struct tcp_latency_state),
	.configure = tcp_latency_configure,
	.percpu_value_size = sizeof(struct hist_counts),
	.cgroup_series = true,
	.series_names = series_labels,
	.nseries = TCP_LATENCY_NSERIES,
};

static int tcp_latency_read(void *state, struct hist_set *out)
{
	struct tcp_latency_state *st = state;

	if (st->in.hist_map) /* --by container|pod|service */
		return probe_runtime_read_hist(state, out);
	for (__u32 series = 0; series < TCP_LATENCY_NSERIES; series++) {
		struct hist *window = hist_set_get(out, series_labels[series]);
		int err;

		if (!window)
			return -ENOMEM;
		err = bpf_map__lookup_elem(((struct tcp_latency *)st->in.skel)->maps.hists, &series, sizeof(series),
					   st->in.percpu, st->in.percpu_size, 0);
		if (err)
			return err;
		hist_from_percpu(&st->now, st->in.percpu, st->in.ncpus);
		if (hist_delta(window, &st->now, &st->before[series]))
			return -EIO;
		st->before[series] = st->now;
	}
	return 0;
}

const struct probe_desc probe_tcp_latency = {
	.name = "tcp-latency",
	.description = "TCP request->response latency per socket in ns: send to next receive "
		       "on connected sockets (client view), receive to next send on accepted "
		       "sockets (server view, service time); sockets whose side cannot be told "
		       "and tracectl's own connections are left out; per container, pod or systemd service of the "
		       "task that sends and receives with --by, and only its tasks with --cgroup, --container, --pod, --service",
	.kind = PROBE_HISTOGRAM,
	.hook = "tracepoint sock:sock_send_length + sock:sock_recv_length + sock:inet_sock_set_state "
		"(before 6.3: " TCP_IO_FEXIT_HOOK ", else kprobes there)",
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_PORT | PROBE_PARAM_BY | PROBE_PARAM_CGROUP,
	.by_choices = "none|container|pod|service",
	.supported = tcp_latency_supported,
	.runtime = &runtime,
	.read_hist = tcp_latency_read,
};

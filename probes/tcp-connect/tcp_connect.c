/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-connect user side: loads the skeleton with the filters and reads the connect latency histograms. */
#include "kernel_env.h"
#include "runtime.h"
#include "tcp_connect.skel.h"

static const char *const tracepoints[] = { "sock/inet_sock_set_state" };
static const char *const tracepoint_types[] = { "inet_sock_set_state" };

static int tcp_connect_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 1, reason, len);
}

#define TCP_CONNECT_HOOK "tracepoint sock:inet_sock_set_state (SYN_SENT -> ESTABLISHED)"
static const struct hook_variant variant_rows[] = { { "tracepoint", TCP_CONNECT_HOOK, NULL, NULL } };
HOOK_VARIANTS(variants, tcp_connect, "tcp-connect", variant_rows);

static const struct probe_runtime runtime = {
	.net_hist = true,
	.cgroup_series = true,
};

const struct probe_desc probe_tcp_connect = {
	.name = "tcp-connect",
	.description = "active TCP connect latency in ns: connect() sending the SYN to the connection "
		       "established, for all connects, --by remote address:port, or by the "
		       "connecting task's container, pod or systemd service",
	.kind = PROBE_HISTOGRAM,
	.hook = TCP_CONNECT_HOOK,
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_PORT | PROBE_PARAM_BY | PROBE_PARAM_CGROUP,
	.by_choices = "none|remote|container|pod|service",
	.supported = tcp_connect_supported,
	.runtime = &runtime,
	.read_hist = probe_runtime_read_hist,
};

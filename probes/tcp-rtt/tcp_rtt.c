/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-rtt user side: loads the skeleton with the port filter and reads the smoothed-RTT histograms. */
#include "kernel_env.h"
#include "runtime.h"
#include "tcp_rtt.skel.h"

static const char *const tracepoints[] = { "tcp/tcp_probe" };
static const char *const tracepoint_types[] = { "tcp_probe" };

static int tcp_rtt_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 1, reason, len);
}

static const char *const btf_programs[] = { "tcp_rtt_btf", NULL };
static const char *const tp_programs[] = { "tcp_rtt_tp", NULL };
static const struct hook_variant variant_rows[] = {
	{ "tp_btf", "tp_btf tcp_probe", btf_programs, NULL },
	{ "tracepoint", "tracepoint tcp:tcp_probe", tp_programs, NULL },
};
HOOK_VARIANTS(variants, tcp_rtt, "tcp-rtt", variant_rows);

static const struct probe_runtime runtime = {
	.net_hist = true,
};

const struct probe_desc probe_tcp_rtt = {
	.name = "tcp-rtt",
	.description = "TCP smoothed RTT in ns (the kernel's srtt, sampled on each received segment), "
		       "for all connections or --by remote address:port; not by container, pod or service: segments "
		       "arrive in softirq, where no task of the connection is known",
	.kind = PROBE_HISTOGRAM,
	.hook = "tp_btf tcp_probe (tracepoint tcp:tcp_probe where tp_btf cannot load)",
	.variants = &variants,
	.params = PROBE_PARAM_PORT | PROBE_PARAM_BY,
	.by_choices = "none|remote",
	.supported = tcp_rtt_supported,
	.runtime = &runtime,
	.read_hist = probe_runtime_read_hist,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-rtt user side: loads the skeleton with the port filter and reads the smoothed-RTT histograms. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "kernel_env.h"
#include "net_probe.h"
#include "tcp_rtt.skel.h"

struct tcp_rtt_state {
	struct tcp_rtt *skel;
	struct net_hist_reader reader;
};

static const char *const tracepoints[] = { "tcp/tcp_probe" };
static const char *const tracepoint_types[] = { "tcp_probe" };

static int tcp_rtt_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 1, reason, len);
}

static bool use_tp_btf(void)
{
	return kernel_env_tp_btf_usable("tcp_probe");
}

static const char *tcp_rtt_hook_here(const struct probe_params *params)
{
	(void)params;
	return use_tp_btf() ? "tp_btf tcp_probe" : "tracepoint tcp:tcp_probe (tp_btf not used here)";
}

static void tcp_rtt_close(void **state)
{
	struct tcp_rtt_state *st;

	if (!state || !*state)
		return;
	st = *state;
	tcp_rtt__destroy(st->skel);
	net_hist_reader_free(&st->reader);
	free(st);
	*state = NULL;
}

static int tcp_rtt_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct tcp_rtt_state *st = NULL;
	bool by_remote = params && strcmp(params->by, "remote") == 0;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating tcp-rtt state: %s", strerror(-err));
		goto cleanup;
	}

	/* Open: parse the embedded object. */
	st->skel = tcp_rtt__open();
	if (!st->skel) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "opening tcp-rtt BPF object: %s", strerror(-err));
		goto cleanup;
	}

	/* Configure: the filter and the split are read-only data, fixed at load. */
	st->skel->rodata->targ_port = params ? params->port : 0;
	st->skel->rodata->by_remote = by_remote;
	/* one of the two programs: tp_btf where this kernel loads it */
	kernel_env_pick_tp_btf(st->skel->obj, use_tp_btf());

	/* Load: the verifier runs here. */
	err = tcp_rtt__load(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "loading tcp-rtt BPF program: %s", strerror(-err));
		goto cleanup;
	}
	err = net_hist_reader_init(&st->reader, st->skel->maps.hist_all, st->skel->maps.hist_remote, by_remote,
				   errbuf, errlen);
	if (err)
		goto cleanup;

	err = tcp_rtt__attach(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "attaching tcp-rtt tracepoint %s: %s", tracepoints[0], strerror(-err));
		goto cleanup;
	}

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		tcp_rtt_close(&partial);
	}
	return err;
}

static int tcp_rtt_read(void *state, struct hist_set *out)
{
	struct tcp_rtt_state *st = state;

	return net_hist_read(&st->reader, out);
}

const struct probe_desc probe_tcp_rtt = {
	.name = "tcp-rtt",
	.description = "TCP smoothed RTT in ns (the kernel's srtt, sampled on each received segment), "
		       "for all connections or --by remote address:port",
	.kind = PROBE_HISTOGRAM,
	.hook = "tp_btf tcp_probe (tracepoint tcp:tcp_probe where tp_btf cannot load)",
	.hook_here = tcp_rtt_hook_here,
	.params = PROBE_PARAM_PORT | PROBE_PARAM_BY,
	.by_choices = "none|remote",
	.supported = tcp_rtt_supported,
	.open = tcp_rtt_open,
	.read_hist = tcp_rtt_read,
	.close = tcp_rtt_close,
};

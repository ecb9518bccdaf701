/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-rtt user side: loads the skeleton with the port filter and reads the smoothed-RTT histograms. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "hook_variant.h"
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

static const char *const btf_programs[] = { "tcp_rtt_btf", NULL };
static const char *const tp_programs[] = { "tcp_rtt_tp", NULL };
static const struct hook_variant variant_rows[] = {
	{ "tp_btf", "tp_btf tcp_probe", btf_programs, NULL },
	{ "tracepoint", "tracepoint tcp:tcp_probe", tp_programs, NULL },
};
HOOK_VARIANTS(variants, tcp_rtt, "tcp-rtt", variant_rows);

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

/* The filter and the split are read-only data, fixed at load. */
static int tcp_rtt_configure(void *skel, const struct hook_variant *variant, void *ctx, char *err, size_t errlen)
{
	struct tcp_rtt *obj = skel;
	const struct probe_params *params = ctx;

	(void)variant, (void)err, (void)errlen;
	obj->rodata->targ_port = params ? params->port : 0;
	obj->rodata->by_remote = params && strcmp(params->by, "remote") == 0;
	if (!obj->rodata->by_remote)
		return 0;
	return map_prealloc_where_needed(obj->maps.hist_remote, "tcp-rtt", MAP_PREALLOC_MAX_BYTES);
}

static int tcp_rtt_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct tcp_rtt_state *st = NULL;
	void *skel;
	bool by_remote = params && strcmp(params->by, "remote") == 0;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating tcp-rtt state: %s", strerror(-err));
		goto cleanup;
	}

	err = hook_variants_open(&variants, tcp_rtt_configure, (void *)params, &skel, NULL, errbuf, errlen);
	if (err)
		goto cleanup;
	st->skel = skel;
	err = net_hist_reader_init(&st->reader, st->skel->maps.hist_all, st->skel->maps.hist_remote, by_remote,
				   errbuf, errlen);
	if (err)
		goto cleanup;

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
	.variants = &variants,
	.params = PROBE_PARAM_PORT | PROBE_PARAM_BY,
	.by_choices = "none|remote",
	.supported = tcp_rtt_supported,
	.open = tcp_rtt_open,
	.read_hist = tcp_rtt_read,
	.close = tcp_rtt_close,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-latency user side: loads the skeleton with the filters and sums its per-CPU histograms. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "catalog.h"
#include "hook_variant.h"
#include "kernel_env.h"
#include "map_percpu.h"
#include "tcp_latency.h"
#include "tcp_io_variants.h"
#include "tcp_latency.skel.h"

_Static_assert(TCP_LATENCY_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");

struct tcp_latency_state {
	struct tcp_latency *skel;
	struct hist_counts *percpu; /* one value per possible CPU, reused by every read */
	size_t percpu_size;
	int ncpus;
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

static void tcp_latency_close(void **state)
{
	struct tcp_latency_state *st;

	if (!state || !*state)
		return;
	st = *state;
	tcp_latency__destroy(st->skel);
	free(st->percpu);
	free(st);
	*state = NULL;
}

/* The filters are read-only data, fixed at load. */
static int tcp_latency_configure(void *skel, const struct hook_variant *variant, void *ctx, char *err,
				 size_t errlen)
{
	struct tcp_latency *obj = skel;
	const struct probe_params *params = ctx;

	if (params) {
		TCP_IO_SET_FILTERS(obj->rodata, params);
		/* even with --pid or --comm of the agent: its samples would be its own TLS link */
		obj->rodata->self_tgid = params->agent_tgid;
	}
	return tcp_io_check_row(variant, tracepoints, tracepoint_types, 3, err, errlen);
}

static int tcp_latency_open(const struct probe_params *params, void **state, char *errbuf,
			    size_t errlen)
{
	struct tcp_latency_state *st = NULL;
	void *skel;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating tcp-latency state: %s", strerror(-err));
		goto cleanup;
	}

	st->percpu = percpu_buffer_new(sizeof(struct hist_counts), &st->ncpus, &st->percpu_size, "tcp-latency", errbuf,
				       errlen);
	if (!st->percpu) {
		err = -ENOMEM;
		goto cleanup;
	}

	/* Open, configure, load (the verifier runs here) and attach the first variant this kernel takes. */
	err = hook_variants_open(&variants, tcp_latency_configure, (void *)params, &skel, NULL, errbuf, errlen);
	if (err)
		goto cleanup;
	st->skel = skel;

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		tcp_latency_close(&partial);
	}
	return err;
}

static int tcp_latency_read(void *state, struct hist_set *out)
{
	struct tcp_latency_state *st = state;

	for (__u32 series = 0; series < TCP_LATENCY_NSERIES; series++) {
		struct hist *window = hist_set_get(out, series_labels[series]);
		int err;

		if (!window)
			return -ENOMEM;
		err = bpf_map__lookup_elem(st->skel->maps.hists, &series, sizeof(series), st->percpu, st->percpu_size, 0);
		if (err)
			return err;
		hist_from_percpu(&st->now, st->percpu, st->ncpus);
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
		       "and tracectl's own connections are left out",
	.kind = PROBE_HISTOGRAM,
	.hook = "tracepoint sock:sock_send_length + sock:sock_recv_length + sock:inet_sock_set_state "
		"(before 6.3: " TCP_IO_FEXIT_HOOK ", else kprobes there)",
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_PORT,
	.supported = tcp_latency_supported,
	.open = tcp_latency_open,
	.read_hist = tcp_latency_read,
	.close = tcp_latency_close,
};

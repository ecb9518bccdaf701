/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-connect user side: loads the skeleton with the filters and reads the connect latency histograms. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "kernel_env.h"
#include "net_common.h"
#include "net_probe.h"
#include "tcp_connect.skel.h"

_Static_assert(NET_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");

struct tcp_connect_state {
	struct tcp_connect *skel;
	struct net_hist_reader reader;
};

static const char *const tracepoints[] = { "sock/inet_sock_set_state" };
static const char *const tracepoint_types[] = { "inet_sock_set_state" };

static int tcp_connect_supported(char *reason, size_t len)
{
	return kernel_env_check_tracepoints(tracepoints, tracepoint_types, 1, reason, len);
}

static void tcp_connect_close(void **state)
{
	struct tcp_connect_state *st;

	if (!state || !*state)
		return;
	st = *state;
	tcp_connect__destroy(st->skel);
	net_hist_reader_free(&st->reader);
	free(st);
	*state = NULL;
}

static int tcp_connect_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct tcp_connect_state *st = NULL;
	bool by_remote = params && strcmp(params->by, "remote") == 0;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating tcp-connect state: %s", strerror(-err));
		goto cleanup;
	}

	/* Open: parse the embedded object. */
	st->skel = tcp_connect__open();
	if (!st->skel) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "opening tcp-connect BPF object: %s", strerror(-err));
		goto cleanup;
	}

	/* Configure: the filters and the split are read-only data, fixed at load. */
	if (params) {
		size_t n = strnlen(params->comm, PROBE_COMM_LEN - 1);

		st->skel->rodata->targ_tgid = params->pid;
		memset((char *)st->skel->rodata->targ_comm, 0, NET_COMM_LEN);
		memcpy((char *)st->skel->rodata->targ_comm, params->comm, n);
		st->skel->rodata->targ_port = params->port;
	}
	st->skel->rodata->by_remote = by_remote;
	if (by_remote)
		err = map_prealloc_where_needed(st->skel->maps.hist_remote, "tcp-connect", MAP_PREALLOC_MAX_BYTES);
	if (err) {
		snprintf(errbuf, errlen, "sizing tcp-connect's per-remote map: %s", strerror(-err));
		goto cleanup;
	}

	/* Load: the verifier runs here. */
	err = tcp_connect__load(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "loading tcp-connect BPF program: %s", strerror(-err));
		goto cleanup;
	}
	err = net_hist_reader_init(&st->reader, st->skel->maps.hist_all, st->skel->maps.hist_remote, by_remote,
				   errbuf, errlen);
	if (err)
		goto cleanup;

	err = tcp_connect__attach(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "attaching tcp-connect tracepoint %s: %s", tracepoints[0], strerror(-err));
		goto cleanup;
	}

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		tcp_connect_close(&partial);
	}
	return err;
}

static int tcp_connect_read(void *state, struct hist_set *out)
{
	struct tcp_connect_state *st = state;

	return net_hist_read(&st->reader, out);
}

const struct probe_desc probe_tcp_connect = {
	.name = "tcp-connect",
	.description = "active TCP connect latency in ns: connect() sending the SYN to the connection "
		       "established, for all connects or --by remote address:port",
	.kind = PROBE_HISTOGRAM,
	.hook = "tracepoint sock:inet_sock_set_state (SYN_SENT -> ESTABLISHED)",
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_PORT | PROBE_PARAM_BY,
	.by_choices = "none|remote",
	.supported = tcp_connect_supported,
	.open = tcp_connect_open,
	.read_hist = tcp_connect_read,
	.close = tcp_connect_close,
};

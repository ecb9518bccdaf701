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
#include "tcp_latency.h"
#include "tcp_latency.skel.h"

_Static_assert(TCP_LATENCY_NSERIES <= PROBE_MAX_SERIES, "too many tcp-latency series");
_Static_assert(TCP_LATENCY_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");

struct tcp_latency_state {
	struct tcp_latency *skel;
	struct hist_counts *percpu; /* one value per possible CPU, reused by every read */
	size_t percpu_size;
	int ncpus;
};

static const char *const tracepoints[] = {
	"sock/sock_send_length",
	"sock/sock_recv_length",
	"sock/inet_sock_set_state",
};

/* Without tracefs mounted (kernel_env_prepare mounts it later), the tracepoints'
 * BTF record types are the cheapest proof that the kernel has them. */
static int tracepoints_in_btf(char *reason, size_t len)
{
	static const char *const types[] = {
		"trace_event_raw_sock_msg_length",
		"trace_event_raw_inet_sock_set_state",
	};
	struct btf *btf;
	int err = 0;

	btf = btf__load_vmlinux_btf();
	if (!btf) {
		err = -errno;
		snprintf(reason, len, "reading kernel BTF: %s", strerror(-err));
		return err;
	}
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (btf__find_by_name_kind(btf, types[i], BTF_KIND_STRUCT) < 0) {
			err = -EOPNOTSUPP;
			snprintf(reason, len, "kernel has no %s tracepoint (no %s in BTF)",
				 i == 0 ? "sock:sock_send_length" : "sock:inet_sock_set_state",
				 types[i]);
			break;
		}
	}
	btf__free(btf);
	return err;
}

static int tcp_latency_supported(char *reason, size_t len)
{
	static const char *const events_dirs[] = {
		"/sys/kernel/tracing/events",
		"/sys/kernel/debug/tracing/events",
	};
	char path[128];

	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(reason, len, "no kernel BTF at /sys/kernel/btf/vmlinux: %s", strerror(errno));
		return -EOPNOTSUPP;
	}
	for (size_t d = 0; d < sizeof(events_dirs) / sizeof(events_dirs[0]); d++) {
		if (access(events_dirs[d], F_OK) != 0)
			continue;
		for (size_t i = 0; i < sizeof(tracepoints) / sizeof(tracepoints[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", events_dirs[d], tracepoints[i]);
			if (access(path, F_OK) != 0) {
				snprintf(reason, len, "kernel has no tracepoint %s (%s missing)",
					 tracepoints[i], path);
				return -EOPNOTSUPP;
			}
		}
		if (len)
			reason[0] = '\0';
		return 0;
	}
	if (tracepoints_in_btf(reason, len) != 0)
		return -EOPNOTSUPP;
	if (len)
		reason[0] = '\0';
	return 0;
}

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

static int tcp_latency_open(const struct probe_params *params, void **state, char *errbuf,
			    size_t errlen)
{
	struct tcp_latency_state *st = NULL;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating tcp-latency state: %s", strerror(-err));
		goto cleanup;
	}

	/* One read buffer for the life of the probe: read() runs every interval. */
	st->ncpus = libbpf_num_possible_cpus();
	if (st->ncpus <= 0) {
		err = st->ncpus < 0 ? st->ncpus : -EINVAL;
		snprintf(errbuf, errlen, "counting possible CPUs: %s", strerror(-err));
		goto cleanup;
	}
	st->percpu_size = (size_t)st->ncpus * sizeof(struct hist_counts);
	st->percpu = malloc(st->percpu_size);
	if (!st->percpu) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating tcp-latency read buffer (%zu bytes): %s",
			 st->percpu_size, strerror(-err));
		goto cleanup;
	}

	/* Open: parse the embedded object. */
	st->skel = tcp_latency__open();
	if (!st->skel) {
		err = errno ? -errno : -EINVAL;
		snprintf(errbuf, errlen, "opening tcp-latency BPF object: %s", strerror(-err));
		goto cleanup;
	}

	/* Configure: the filters are read-only data, fixed at load. */
	if (params) {
		size_t n = strnlen(params->comm, PROBE_COMM_LEN - 1);

		st->skel->rodata->targ_tgid = params->pid;
		memset((char *)st->skel->rodata->targ_comm, 0, TCP_LATENCY_COMM_LEN);
		memcpy((char *)st->skel->rodata->targ_comm, params->comm, n);
		st->skel->rodata->targ_port = params->port;
	}

	/* Load: the verifier runs here. */
	err = tcp_latency__load(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "loading tcp-latency BPF program: %s", strerror(-err));
		goto cleanup;
	}

	/* Attach the three tracepoints. */
	err = tcp_latency__attach(st->skel);
	if (err) {
		snprintf(errbuf, errlen, "attaching tcp-latency tracepoints (%s, %s, %s): %s",
			 tracepoints[0], tracepoints[1], tracepoints[2], strerror(-err));
		goto cleanup;
	}

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		tcp_latency_close(&partial);
	}
	return err;
}

static int tcp_latency_read(void *state, struct hist *out)
{
	struct tcp_latency_state *st = state;

	if (!st || !out)
		return -EINVAL;
	for (__u32 series = 0; series < TCP_LATENCY_NSERIES; series++) {
		struct hist *h = &out[series];
		int err;

		err = bpf_map__lookup_elem(st->skel->maps.hists, &series, sizeof(series),
					   st->percpu, st->percpu_size, 0);
		if (err)
			return err;
		memset(h, 0, sizeof(*h));
		for (int cpu = 0; cpu < st->ncpus; cpu++) {
			const struct hist_counts *c = &st->percpu[cpu];

			h->count += c->count;
			h->sum += c->sum;
			if (c->max > h->max)
				h->max = c->max;
			for (size_t b = 0; b < HIST_BUCKETS; b++)
				h->buckets[b] += c->buckets[b];
		}
		h->max_exact = true;
	}
	return 0;
}

const struct probe_desc probe_tcp_latency = {
	.name = "tcp-latency",
	.description = "TCP request->response latency per socket in ns: send to next receive "
		       "on connected sockets (client view), receive to next send on accepted "
		       "sockets (server view, service time)",
	.result_kind = "histogram",
	.hook = "tracepoint sock:sock_send_length + sock:sock_recv_length + "
		"sock:inet_sock_set_state",
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_PORT,
	.nseries = TCP_LATENCY_NSERIES,
	.series_labels = {
		[TCP_LATENCY_CLIENT] = "role=client",
		[TCP_LATENCY_SERVER] = "role=server",
	},
	.supported = tcp_latency_supported,
	.open = tcp_latency_open,
	.read = tcp_latency_read,
	.close = tcp_latency_close,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* TCP probes, user side: address formatting and reading the "all" / per-remote histograms. */
#ifndef TRACECTL_NET_PROBE_H
#define TRACECTL_NET_PROBE_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/libbpf.h>

#include "hist.h"
#include "hist_set.h"
#include "map_drain.h"
#include "net_common.h"

/* 16 address bytes (IPv4 in the first 4) of family AF_INET or AF_INET6; "?" otherwise. */
static inline void net_addr_format(char *buf, size_t len, uint16_t family, const uint8_t addr[16])
{
	int af = family == AF_INET ? AF_INET : family == AF_INET6 ? AF_INET6 : -1;

	if (af < 0 || !inet_ntop(af, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* "10.0.0.1:443" or "[::1]:443" (the bracket form users type, see common/hostport.h). */
static inline void net_endpoint_format(char *buf, size_t len, uint16_t family, const uint8_t addr[16],
				       uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	net_addr_format(a, sizeof(a), family, addr);
	if (family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
}

/* What a histogram probe of the NET_HIST_MAPS shape (bpf/net_filter.bpf.h) keeps between reads. */
struct net_hist_reader {
	struct bpf_map *all, *remote;
	bool by_remote;
	struct hist_counts *percpu; /* one value per possible CPU, reused by every read */
	size_t percpu_size;
	int ncpus;
	struct hist before, now; /* "all" is cumulative in the kernel: a window is now - before */
	struct net_remote *keys; /* map_drain's key list, 2 * NET_MAX_REMOTES */
	struct hist_set *out;    /* of the read in progress */
};

/* Allocates the read buffer once, at open. 0 or -errno with a reason. */
static inline int net_hist_reader_init(struct net_hist_reader *r, struct bpf_map *all, struct bpf_map *remote,
				       bool by_remote, char *err, size_t errlen)
{
	r->all = all;
	r->remote = remote;
	r->by_remote = by_remote;
	r->ncpus = libbpf_num_possible_cpus();
	if (r->ncpus <= 0) {
		int e = r->ncpus < 0 ? r->ncpus : -EINVAL;

		snprintf(err, errlen, "counting possible CPUs: %s", strerror(-e));
		return e;
	}
	r->percpu_size = (size_t)r->ncpus * sizeof(struct hist_counts);
	r->percpu = malloc(r->percpu_size);
	r->keys = calloc(2 * NET_MAX_REMOTES, sizeof(*r->keys));
	if (!r->percpu || !r->keys) {
		snprintf(err, errlen, "allocating a histogram read buffer (%zu bytes): %s", r->percpu_size,
			 strerror(ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

static inline void net_hist_reader_free(struct net_hist_reader *r)
{
	if (r) {
		free(r->percpu);
		free(r->keys);
		r->percpu = NULL;
		r->keys = NULL;
	}
}

/* One drained remote's histogram into its "remote=ADDR:PORT" series. */
static inline int net_hist_add_remote(const void *key, const void *value, void *ctx)
{
	const struct net_remote *remote = key;
	struct net_hist_reader *r = ctx;
	char label[HIST_LABEL_LEN], ep[INET6_ADDRSTRLEN + 8];
	struct hist *h;

	hist_from_percpu(&r->now, value, r->ncpus);
	net_endpoint_format(ep, sizeof(ep), remote->family, remote->addr, remote->port);
	snprintf(label, sizeof(label), "remote=%s", ep);
	h = hist_set_get(r->out, label);
	if (h)
		hist_merge(h, &r->now);
	return 0;
}

/*
 * Adds the window since the last read: series "all", or "remote=ADDR:PORT" per
 * remote, drained from the kernel hash (map_drain). A remote beyond HIST_SET_MAX
 * labels is drained and left out, not kept for later.
 */
static inline int net_hist_read(struct net_hist_reader *r, struct hist_set *out)
{
	int err;

	if (!r->by_remote) {
		struct hist *window = hist_set_get(out, "all");
		__u32 zero = 0;

		if (!window)
			return -ENOMEM;
		err = bpf_map__lookup_elem(r->all, &zero, sizeof(zero), r->percpu, r->percpu_size, 0);
		if (err)
			return err;
		hist_from_percpu(&r->now, r->percpu, r->ncpus);
		if (hist_delta(window, &r->now, &r->before))
			return -EIO;
		r->before = r->now;
		return 0;
	}
	r->out = out;
	err = map_drain(r->remote, r->keys, 2 * NET_MAX_REMOTES, r->percpu, r->percpu_size, net_hist_add_remote, r);
	return err < 0 ? err : 0; /* beyond the key list: the rest stays for the next window */
}

#endif

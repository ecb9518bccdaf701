/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-send user side: loads the skeleton with the filters and drains the per-process send counters. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "catalog.h"
#include "hook_variant.h"
#include "kernel_env.h"
#include "map_drain.h"
#include "map_percpu.h"
#include "tcp_send.h"
#include "tcp_io_variants.h"
#include "tcp_send.skel.h"

_Static_assert(NET_COMM_LEN == PROBE_COMM_LEN, "comm filter sizes differ");

struct tcp_send_state {
	struct tcp_send *skel;
	struct tcp_send_val *percpu; /* one drained entry, every CPU's copy */
	size_t percpu_bytes;
	int ncpus;
};

static const char *const tracepoints[] = { "sock/sock_send_length" };
static const char *const tracepoint_types[] = { "sock_msg_length" };

static const char *const btf_programs[] = { "tcp_send_count_btf", NULL };
static const char *const tp_programs[] = { "tcp_send_count", NULL };
static const struct hook_variant variant_rows[] = {
	{ "tp_btf", "tp_btf sock_send_length", btf_programs, NULL },
	{ "tracepoint", "tracepoint sock:sock_send_length", tp_programs, NULL },
	{ "fexit", TCP_IO_FEXIT_SEND_HOOK, tcp_io_fexit_send_programs, NULL },
	{ "kprobe", TCP_IO_KPROBE_SEND_HOOK, tcp_io_kprobe_send_programs, tcp_io_kprobe_send_maps },
};
HOOK_VARIANTS(variants, tcp_send, "tcp-send", variant_rows);

/* Whether a variant loads is found by loading it (hook_variant.h). */
static int tcp_send_supported(char *reason, size_t len)
{
	(void)reason, (void)len;
	return 0;
}

static void tcp_send_close(void **state)
{
	struct tcp_send_state *st;

	if (!state || !*state)
		return;
	st = *state;
	tcp_send__destroy(st->skel);
	free(st->percpu);
	free(st);
	*state = NULL;
}

/* The filters are read-only data, fixed at load. */
static int tcp_send_configure(void *skel, const struct hook_variant *variant, void *ctx, char *err, size_t errlen)
{
	struct tcp_send *obj = skel;
	const struct probe_params *params = ctx;

	if (params)
		TCP_IO_SET_FILTERS(obj->rodata, params);
	return tcp_io_check_row(variant, tracepoints, tracepoint_types, 1, err, errlen);
}

static int tcp_send_open(const struct probe_params *params, void **state, char *errbuf, size_t errlen)
{
	struct tcp_send_state *st = NULL;
	void *skel;
	int err = 0;

	*state = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		snprintf(errbuf, errlen, "allocating tcp-send state: %s", strerror(-err));
		goto cleanup;
	}
	/* struct tcp_send_val is two u64s: the kernel's 8-byte rounding adds nothing */
	st->percpu = percpu_buffer_new(sizeof(*st->percpu), &st->ncpus, &st->percpu_bytes, "tcp-send", errbuf, errlen);
	if (!st->percpu) {
		err = -ENOMEM;
		goto cleanup;
	}

	/* Open, configure, load and attach the first variant this kernel takes. */
	err = hook_variants_open(&variants, tcp_send_configure, (void *)params, &skel, NULL, errbuf, errlen);
	if (err)
		goto cleanup;
	st->skel = skel;

	*state = st;
	st = NULL;
cleanup:
	if (st) {
		void *partial = st;

		tcp_send_close(&partial);
	}
	return err;
}

/*
 * Drains the window: always take the first key and delete it atomically, so keys
 * added meanwhile are picked up and nothing is read twice. A send whose program
 * found its entry just before the delete may add to the removed entry and be lost:
 * a window of nanoseconds per read, the price of not keeping cumulative rows.
 */
static int tcp_send_read(void *state, struct count_table *out)
{
	struct tcp_send_state *st = state;
	struct bpf_map *map = st->skel->maps.counts;

	for (unsigned int i = 0; i < 2 * TCP_SEND_MAX_PROCS; i++) {
		struct tcp_send_key key;
		struct tcp_send_val val = { 0 };
		char pid[16], comm[NET_COMM_LEN + 1];
		const char *keys[2] = { pid, comm };
		uint64_t values[2];
		int err;

		err = bpf_map__get_next_key(map, NULL, &key, sizeof(key));
		if (err == -ENOENT)
			return 0;
		if (err)
			return err;
		err = map_take(map, &key, sizeof(key), st->percpu, st->percpu_bytes);
		if (err == -ENOENT)
			continue; /* cannot happen with one reader; harmless */
		if (err)
			return err;
		for (int c = 0; c < st->ncpus; c++) {
			val.sends += st->percpu[c].sends;
			val.bytes += st->percpu[c].bytes;
		}
		snprintf(pid, sizeof(pid), "%" PRIu32, key.tgid);
		memcpy(comm, key.comm, NET_COMM_LEN);
		comm[NET_COMM_LEN] = '\0';
		values[0] = val.sends;
		values[1] = val.bytes;
		err = count_table_add(out, keys, values);
		if (err)
			return err;
	}
	return 0; /* the rest stays for the next window */
}

const struct probe_desc probe_tcp_send = {
	.name = "tcp-send",
	.description = "TCP sends per process (pid, comm): successful send calls and the bytes they queued",
	.kind = PROBE_COUNTS,
	.hook = "tp_btf sock_send_length (tracepoint sock:sock_send_length where tp_btf cannot load; before 6.3: "
		TCP_IO_FEXIT_SEND_HOOK ", else kprobes there)",
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_PORT | PROBE_PARAM_TOP,
	.default_top = 20,
	.nkeys = 2,
	.key_names = { "pid", "comm" },
	.nvalues = 2,
	.value_names = { "sends", "bytes" },
	.supported = tcp_send_supported,
	.open = tcp_send_open,
	.read_counts = tcp_send_read,
	.close = tcp_send_close,
};

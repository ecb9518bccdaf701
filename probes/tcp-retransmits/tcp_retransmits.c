/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-retransmits user side: drains the per-connection retransmission counters every interval into a table. */
#include <inttypes.h>

#include "log.h"
#include "net_probe.h"
#include "runtime.h"
#include "tcp_retransmits.h"
#include "tcp_retransmits.skel.h"

#define ENDPOINT_LEN (INET6_ADDRSTRLEN + 8) /* "[v6]:65535" */

static const char *const btf_programs[] = { "tcp_retransmits_btf", NULL };
static const char *const btf_sent_programs[] = { "tcp_retransmits_btf_sent", NULL };
static const char *const tp_programs[] = { "tcp_retransmits_tp", NULL };
static const struct hook_variant variant_rows[] = {
	{ "tp_btf", "tp_btf tcp_retransmit_skb", btf_programs, NULL },
	/* kernels whose tracepoint has no err argument (5.10, 6.1, 6.12): it fires for sent ones only */
	{ "tp_btf", "tp_btf tcp_retransmit_skb (sk, skb)", btf_sent_programs, NULL },
	{ "tracepoint", "tracepoint tcp:tcp_retransmit_skb", tp_programs, NULL },
};
HOOK_VARIANTS(variants, tcp_retransmits, "tcp-retransmits", variant_rows);

/* Whether a variant loads is found by loading it (hook_variant.h). */
static int tcp_retransmits_supported(char *reason, size_t len)
{
	(void)reason, (void)len;
	return 0;
}

static int add_row(const void *key, const void *value, void *ctx)
{
	const struct tcp_retransmits_key *k = key;
	char laddr[ENDPOINT_LEN], raddr[ENDPOINT_LEN];
	const char *keys[2] = { laddr, raddr };

	net_endpoint_format(laddr, sizeof(laddr), k->family, k->laddr, k->lport);
	net_endpoint_format(raddr, sizeof(raddr), k->family, k->raddr, k->rport);
	return count_table_add(ctx, keys, value);
}

/* Connections that found the map full: one row, so no retransmission goes missing silently. */
static int tcp_retransmits_overflow(void *state, const uint64_t *window, struct count_table *out)
{
	const char *keys[2] = { "[map full]", "-" };

	(void)state;
	log_warn("tcp-retransmits: more than %d connections in one interval: %" PRIu64
		 " retransmissions not attributed to a connection (row \"[map full]\")",
		 TCP_RETRANSMITS_MAX_CONNS, window[0]);
	return count_table_add(out, keys, window);
}

static const struct probe_runtime runtime = {
	.count_map = "conns",
	.count_max_keys = TCP_RETRANSMITS_MAX_CONNS,
	.count_row = add_row,
	.overflow_map = "overflow",
	.overflow_fields = 1,
	.overflow_row = tcp_retransmits_overflow,
};

const struct probe_desc probe_tcp_retransmits = {
	.name = "tcp-retransmits",
	.description = "TCP segments retransmitted per connection (local and remote address:port), per "
		       "interval, most first; at most 10240 connections per interval, the retransmissions "
		       "of more go to a row \"[map full]\"",
	.kind = PROBE_COUNTS,
	.hook = "tp_btf tcp_retransmit_skb (tracepoint tcp:tcp_retransmit_skb where tp_btf cannot load)",
	.variants = &variants,
	.params = PROBE_PARAM_PORT | PROBE_PARAM_TOP,
	.default_top = 20,
	.nkeys = 2,
	.key_names = { "laddr", "raddr" },
	.nvalues = 1,
	.value_names = { "retransmits" },
	.supported = tcp_retransmits_supported,
	.runtime = &runtime,
	.read_counts = probe_runtime_read_counts,
};

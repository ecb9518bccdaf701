/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-send user side: loads the skeleton with the filters and drains the per-process send counters. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "kernel_env.h"
#include "tcp_send.h"
#include "tcp_io_variants.h"
#include "tcp_send.skel.h"

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

static int tcp_send_configure(void *state, void *skel, const struct hook_variant *variant,
			      const struct probe_params *params, char *err, size_t errlen)
{
	(void)state, (void)skel, (void)params;
	return tcp_io_check_row(variant, tracepoints, tracepoint_types, 1, err, errlen);
}

static const struct probe_runtime runtime = {
	.configure = tcp_send_configure,
	/* struct tcp_send_val is two u64s: the kernel's 8-byte rounding adds nothing */
	.percpu_value_size = sizeof(struct tcp_send_val),
};

/*
 * Drains the window: always take the first key and delete it atomically, so keys
 * added meanwhile are picked up and nothing is read twice. A send whose program
 * found its entry just before the delete may add to the removed entry and be lost:
 * a window of nanoseconds per read, the price of not keeping cumulative rows.
 */
static int tcp_send_read(void *state, struct count_table *out)
{
	struct probe_instance *in = state;
	struct tcp_send_val *percpu = in->percpu;
	struct bpf_map *map = ((struct tcp_send *)in->skel)->maps.counts;
	enum cgroup_workload by = in->by_workload;

	for (unsigned int i = 0; i < 2 * TCP_SEND_MAX_PROCS; i++) {
		struct tcp_send_key key;
		struct tcp_send_val val = { 0 };
		char pid[16], comm[NET_COMM_LEN + 1], workload[PROBE_TARGET_LEN];
		const char *keys[2] = { pid, comm };
		uint64_t values[2];
		int err;

		err = bpf_map__get_next_key(map, NULL, &key, sizeof(key));
		if (err == -ENOENT)
			return 0;
		if (err)
			return err;
		err = map_take(map, &key, sizeof(key), percpu, in->percpu_size);
		if (err == -ENOENT)
			continue; /* cannot happen with one reader; harmless */
		if (err)
			return err;
		for (int c = 0; c < in->ncpus; c++) {
			val.sends += percpu[c].sends;
			val.bytes += percpu[c].bytes;
		}
		snprintf(pid, sizeof(pid), "%" PRIu32, key.tgid);
		memcpy(comm, key.comm, NET_COMM_LEN);
		comm[NET_COMM_LEN] = '\0';
		if (by != CGROUP_WORKLOAD_NONE) /* the table's one key (catalog_results_init) */
			keys[0] = cgroup_workload_of_id(key.cgroup_id, by, workload, sizeof(workload));
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
	.description = "TCP sends per process (pid, comm), or per container, pod or systemd service with --by: successful send calls and the bytes they queued",
	.kind = PROBE_COUNTS,
	.hook = "tp_btf sock_send_length (tracepoint sock:sock_send_length where tp_btf cannot load; before 6.3: "
		TCP_IO_FEXIT_SEND_HOOK ", else kprobes there)",
	.variants = &variants,
	.params = PROBE_PARAM_PID | PROBE_PARAM_COMM | PROBE_PARAM_PORT | PROBE_PARAM_TOP | PROBE_PARAM_CGROUP |
		  PROBE_PARAM_BY,
	/* pid: the (pid, comm) rows, the default */
	.by_choices = "pid|container|pod|service",
	.default_top = 20,
	.nkeys = 2,
	.key_names = { "pid", "comm" },
	.nvalues = 2,
	.value_names = { "sends", "bytes" },
	.supported = tcp_send_supported,
	.runtime = &runtime,
	.read_counts = tcp_send_read,
};

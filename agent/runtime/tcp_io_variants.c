/* SPDX-License-Identifier: Apache-2.0 */
/* The TCP probes' send / receive hook variants (program names from bpf/tcp_io_hooks.bpf.h). */
#include <string.h>

#include "kernel_env.h"
#include "tcp_io_variants.h"

const char *const tcp_io_fexit_send_programs[] = { "tcp_io_send_fexit", "tcp_io_send6_fexit", NULL };
const char *const tcp_io_kprobe_send_programs[] = {
	"tcp_io_send_kprobe", "tcp_io_send_kretprobe", "tcp_io_send6_kprobe", "tcp_io_send6_kretprobe", NULL,
};
const char *const tcp_io_fexit_programs[] = {
	"tcp_io_send_fexit", "tcp_io_send6_fexit", "tcp_io_recv_fexit", "tcp_io_recv6_fexit", NULL,
};
const char *const tcp_io_kprobe_programs[] = {
	"tcp_io_send_kprobe", "tcp_io_send_kretprobe", "tcp_io_send6_kprobe", "tcp_io_send6_kretprobe",
	"tcp_io_recv_kprobe", "tcp_io_recv_kretprobe", "tcp_io_recv6_kprobe", "tcp_io_recv6_kretprobe",
	NULL,
};
const char *const tcp_io_kprobe_send_maps[] = { "tcp_io_sends", NULL };
const char *const tcp_io_kprobe_maps[] = { "tcp_io_sends", "tcp_io_recvs", NULL };

int tcp_io_check_row(const struct hook_variant *row, const char *const *tracepoints, const char *const *btf_types,
		     size_t n, char *err, size_t errlen)
{
	if (strcmp(row->name, "tp_btf") != 0 && strcmp(row->name, "tracepoint") != 0)
		return 0;
	return kernel_env_check_tracepoints(tracepoints, btf_types, n, err, errlen);
}

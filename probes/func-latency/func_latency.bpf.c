// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* func-latency: entry (uprobe) to return (uretprobe) time of one user-space function, per thread. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "func_latency.bpf.h"

SEC("uprobe")
int func_latency_entry(struct pt_regs *ctx)
{
	return latency_entry();
}

SEC("uretprobe")
int func_latency_return(struct pt_regs *ctx)
{
	return latency_return();
}

char LICENSE[] SEC("license") = "GPL";

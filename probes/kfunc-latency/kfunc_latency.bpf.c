// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/* kfunc-latency: entry to return time of one kernel function, per thread: kprobe.multi +
 * kretprobe.multi where the kernel has them, else a kprobe + kretprobe. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "func_latency.bpf.h"

/* Attached by the agent to the function the target names: no auto-attach. */
SEC("kprobe.multi")
int kfunc_latency_entry_multi(struct pt_regs *ctx)
{
	return latency_entry();
}

SEC("kretprobe.multi")
int kfunc_latency_return_multi(struct pt_regs *ctx)
{
	return latency_return();
}

SEC("kprobe")
int kfunc_latency_entry(struct pt_regs *ctx)
{
	return latency_entry();
}

SEC("kretprobe")
int kfunc_latency_return(struct pt_regs *ctx)
{
	return latency_return();
}

char LICENSE[] SEC("license") = "GPL";

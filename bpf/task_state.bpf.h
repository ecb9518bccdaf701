/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* A task's scheduler state, on kernels before and after task_struct::state became __state (5.14). */
#ifndef TRACECTL_TASK_STATE_BPF_H
#define TRACECTL_TASK_STATE_BPF_H

#include <bpf/bpf_core_read.h>

struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

/* btf: t is a typed tp_btf argument, read directly; else through probe reads. The
 * flag is a constant at every call, so each program keeps only its own branch. */
static __always_inline __u32 task_state(struct task_struct *t, const bool btf)
{
	if (bpf_core_field_exists(t->__state))
		return btf ? t->__state : BPF_CORE_READ(t, __state);
	return (__u32)BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

#endif

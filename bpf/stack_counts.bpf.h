/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* Counts per process and stacks (profile, offcpu): the stack map, the lost counter and the add. */
#ifndef TRACECTL_STACK_COUNTS_BPF_H
#define TRACECTL_STACK_COUNTS_BPF_H

#include <bpf/bpf_helpers.h>

#include "stack_key.h"
#include "workload_key.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, PROFILE_MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PROFILE_MAX_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* Adds lost because the counts map was full, per CPU, cumulative. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* The --comm filter: want (the program's targ_comm) empty, or equal to comm. */
static __always_inline bool comm_allowed(const char *comm, const volatile char *want)
{
	int i;

	if (want[0] == '\0')
		return true;
	for (i = 0; i < PROFILE_COMM_LEN; i++) {
		if (comm[i] != want[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

/* Adds value to key's count in counts (a hash user space drains), or counts it lost. */
static __always_inline void stack_counts_add(void *counts, const struct profile_key *key, __u64 value)
{
	__u64 *count;
	__u32 zero = 0;

	count = bpf_map_lookup_elem(counts, key);
	if (count) {
		__sync_fetch_and_add(count, value);
		return;
	}
	/* another CPU may have created it in between: then add to that one */
	if (bpf_map_update_elem(counts, key, &value, BPF_NOEXIST)) {
		count = bpf_map_lookup_elem(counts, key);
		if (count) {
			__sync_fetch_and_add(count, value);
		} else {
			count = bpf_map_lookup_elem(&lost, &zero);
			if (count)
				(*count)++;
		}
	}
}

#endif

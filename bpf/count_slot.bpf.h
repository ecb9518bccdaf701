/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* Count probes: the counter of one key in a hash that user space drains every interval. */
#ifndef TRACECTL_COUNT_SLOT_BPF_H
#define TRACECTL_COUNT_SLOT_BPF_H

/* The overflow slot count_slot falls back on: slot 0 of a per-CPU array of value_type,
 * cumulative (user space reads its window, map_percpu_window). */
#define COUNT_OVERFLOW_MAP(name, value_type)                \
	struct {                                            \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);    \
		__uint(max_entries, 1);                     \
		__type(key, __u32);                         \
		__type(value, value_type);                  \
	} name SEC(".maps")

/*
 * The value of key in map, created from zero when missing; when the map is full, slot 0
 * of the per-CPU array overflow, so what is counted never goes missing silently (user
 * space reports it as a row of its own). NULL when neither can be had.
 */
static __always_inline void *count_slot(void *map, const void *key, const void *zero, void *overflow)
{
	__u32 slot = 0;
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	/* NOEXIST: another CPU may have added it since the lookup (-EEXIST, fine) */
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	/* else full (-E2BIG), or drained between the update and the lookup */
	return v ? v : bpf_map_lookup_elem(overflow, &slot);
}

#endif

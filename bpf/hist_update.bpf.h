/* SPDX-License-Identifier: Apache-2.0 */
/* One sample into a struct hist_counts: count, sum, max and its bucket (every histogram probe). */
#ifndef TRACECTL_HIST_UPDATE_BPF_H
#define TRACECTL_HIST_UPDATE_BPF_H

#include "hist_layout.h"

/* shared: h is in a map every CPU updates (not per-CPU): count, sum and the bucket take
 * atomic adds (BPF_XADD, result unused: 5.10 has it). max stays a compare and store, as
 * 5.10 has no cmpxchg: two CPUs raising it at once can leave the lower of the two, so max
 * can be below the window's true maximum (never above it), only when samples of one series
 * race on two CPUs; count, sum and buckets (so the quantiles) stay exact. */
static __always_inline void hist_counts_add_maybe_shared(struct hist_counts *h, __u64 v, bool shared)
{
	__u64 *bucket;
	__u32 idx;

	if (shared) {
		__sync_fetch_and_add(&h->count, 1);
		__sync_fetch_and_add(&h->sum, v);
	} else {
		h->count++;
		h->sum += v;
	}
	if (v > h->max)
		h->max = v;
	idx = hist_bucket_index(v);
	/* Keep the check in the register the verifier sees as the array offset. */
	barrier_var(idx);
	if (idx >= HIST_BUCKETS)
		return;
	/* one address for both ways of adding: clang would otherwise redo the index in each */
	bucket = &h->buckets[idx];
	barrier_var(bucket);
	if (shared)
		__sync_fetch_and_add(bucket, 1);
	else
		(*bucket)++;
}

static __always_inline void hist_counts_add(struct hist_counts *h, __u64 v)
{
	hist_counts_add_maybe_shared(h, v, false);
}

/* key's histogram in a per-CPU hash of series that user space drains every window; a new
 * series starts as a copy of *zero (a histogram does not fit the BPF stack). NULL when the
 * map is full: the sample is lost until the next drain. A program with several series maps
 * picks one and calls hist_counts_add once: clang merges inlined copies of it, and the
 * verifier then loses the bucket index's bound (seen in tcp-connect). */
static __always_inline struct hist_counts *hist_series_get(void *map, const void *key, const struct hist_counts *zero)
{
	struct hist_counts *h = bpf_map_lookup_elem(map, key);

	if (h)
		return h;
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

static __always_inline void hist_series_add(void *map, const void *key, const struct hist_counts *zero, __u64 v)
{
	struct hist_counts *h = hist_series_get(map, key, zero);

	if (h)
		hist_counts_add(h, v);
}

#endif

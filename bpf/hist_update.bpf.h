/* SPDX-License-Identifier: Apache-2.0 */
/* One sample into a struct hist_counts: count, sum, max and its bucket (every histogram probe). */
#ifndef TRACECTL_HIST_UPDATE_BPF_H
#define TRACECTL_HIST_UPDATE_BPF_H

#include "hist_layout.h"

static __always_inline void hist_counts_add(struct hist_counts *h, __u64 v)
{
	__u32 idx;

	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	idx = hist_bucket_index(v);
	/* Keep the check in the register the verifier sees as the array offset. */
	barrier_var(idx);
	if (idx >= HIST_BUCKETS)
		return;
	h->buckets[idx]++;
}

#endif

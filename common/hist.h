/* SPDX-License-Identifier: Apache-2.0 */
/* Exponential histograms (scale 5) in user space: bucket bounds, merging, percentiles. */
#ifndef TRACECTL_HIST_H
#define TRACECTL_HIST_H

#include <stdbool.h>
#include <stdint.h>

#include "hist_layout.h"

struct hist {
	uint64_t count;
	uint64_t sum;
	uint64_t max;
	bool max_exact; /* false: max is the upper bound of the highest bucket */
	uint64_t buckets[HIST_BUCKETS];
};

/* The integers bucket idx holds: [lower, upper), upper saturating; lower == upper
 * for the buckets no integer falls in. */
uint64_t hist_bucket_lower(uint32_t idx);
uint64_t hist_bucket_upper(uint32_t idx);

void hist_reset(struct hist *h);
void hist_add(struct hist *h, uint64_t value);
/* dst += src: buckets, counts and sums add exactly; max is the larger. */
void hist_merge(struct hist *dst, const struct hist *src);
/*
 * out = now - before for cumulative histograms (the kernel never resets, so a
 * window is a difference and nothing is lost between reads). The window's max
 * is not knowable exactly: it is the upper bound of its highest bucket, capped
 * by the cumulative max. Returns -EINVAL if before is not a prefix of now.
 */
int hist_delta(struct hist *out, const struct hist *now, const struct hist *before);
/*
 * The q-th percentile (0 < q <= 100) by nearest rank, reported at the midpoint
 * of the bucket that holds it (capped by max). 0 when the histogram is empty.
 */
uint64_t hist_percentile(const struct hist *h, double q);
/* Multiplies every count by n: a histogram of 1-in-n samples standing for all. */
void hist_scale(struct hist *h, uint32_t n);
/* Sums the per-CPU kernel counters of one histogram (max over CPUs, exact). */
void hist_from_percpu(struct hist *out, const struct hist_counts *percpu, int ncpus);
/* Relative error bound of a reported percentile (half a bucket), 0.0109. */
double hist_relative_error(void);

#endif

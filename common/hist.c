/* SPDX-License-Identifier: Apache-2.0 */
/* Exponential histograms (scale 5) in user space: bucket bounds, merging, percentiles. */
#include <errno.h>
#include <string.h>

#include "hist.h"

/* floor(2^(63 + j/32)), j = 0..31: the thresholds less one (they are irrational
 * but for j = 0), so shifting one right by 63 - k gives floor(2^(k + j/32)) exactly. */
static const uint64_t pow_floor63[HIST_SUB_COUNT] = {
	1ULL << 63,	    HIST_S5_T1 - 1,  HIST_S5_T2 - 1,  HIST_S5_T3 - 1,  HIST_S5_T4 - 1,  HIST_S5_T5 - 1,
	HIST_S5_T6 - 1,	    HIST_S5_T7 - 1,  HIST_S5_T8 - 1,  HIST_S5_T9 - 1,  HIST_S5_T10 - 1, HIST_S5_T11 - 1,
	HIST_S5_T12 - 1,    HIST_S5_T13 - 1, HIST_S5_T14 - 1, HIST_S5_T15 - 1, HIST_S5_T16 - 1, HIST_S5_T17 - 1,
	HIST_S5_T18 - 1,    HIST_S5_T19 - 1, HIST_S5_T20 - 1, HIST_S5_T21 - 1, HIST_S5_T22 - 1, HIST_S5_T23 - 1,
	HIST_S5_T24 - 1,    HIST_S5_T25 - 1, HIST_S5_T26 - 1, HIST_S5_T27 - 1, HIST_S5_T28 - 1, HIST_S5_T29 - 1,
	HIST_S5_T30 - 1,    HIST_S5_T31 - 1,
};

/* floor(2^(i/32)) for a Prometheus index i in [-1, 2047]; 0 below 1. */
static uint64_t pow_floor(int32_t i)
{
	if (i < 0)
		return 0;
	return pow_floor63[i % HIST_SUB_COUNT] >> (63 - i / HIST_SUB_COUNT);
}

uint64_t hist_bucket_lower(uint32_t idx)
{
	if (idx < HIST_PROM_INDEX_OFFSET)
		return idx ? 1 : 0; /* idx 1..30 hold nothing: empty [1, 1) */
	/* (2^((i-1)/32), 2^(i/32)] holds the integers from floor(2^((i-1)/32)) + 1 */
	return pow_floor((int32_t)idx - HIST_PROM_INDEX_OFFSET - 1) + 1;
}

uint64_t hist_bucket_upper(uint32_t idx)
{
	if (idx < HIST_PROM_INDEX_OFFSET)
		return 1;
	if (idx + 1 >= HIST_BUCKETS)
		return UINT64_MAX;
	return pow_floor((int32_t)idx - HIST_PROM_INDEX_OFFSET) + 1;
}

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->max_exact = true;
}

void hist_add(struct hist *h, uint64_t value)
{
	h->buckets[hist_bucket_index(value)]++;
	h->count++;
	h->sum += value;
	if (value > h->max)
		h->max = value;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (uint32_t i = 0; i < HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max) {
		dst->max = src->max;
		dst->max_exact = src->max_exact;
	} else if (src->max == dst->max) {
		dst->max_exact = dst->max_exact || src->max_exact;
	}
}

int hist_delta(struct hist *out, const struct hist *now, const struct hist *before)
{
	int32_t top = -1;

	if (now->count < before->count || now->sum < before->sum)
		return -EINVAL;
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		if (now->buckets[i] < before->buckets[i])
			return -EINVAL;
		out->buckets[i] = now->buckets[i] - before->buckets[i];
		if (out->buckets[i])
			top = (int32_t)i;
	}
	out->count = now->count - before->count;
	out->sum = now->sum - before->sum;
	out->max = 0;
	out->max_exact = true;
	if (top >= 0) {
		uint64_t bound = hist_bucket_upper((uint32_t)top) - 1;

		/* The cumulative max, when it falls in the window's top bucket, is the
		 * window's max; otherwise only the bucket bound is known. */
		if (now->max <= bound && now->max >= hist_bucket_lower((uint32_t)top)) {
			out->max = now->max;
			out->max_exact = now->max_exact && now->max > before->max;
		} else {
			out->max = bound < now->max ? bound : now->max;
			out->max_exact = false;
		}
	}
	return 0;
}

uint64_t hist_percentile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	if (q <= 0)
		q = 0;
	if (q > 100)
		q = 100;
	/* nearest rank: the smallest value with at least q% of samples at or below */
	rank = (uint64_t)((q / 100.0) * (double)h->count + 0.999999999);
	if (rank == 0)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t lo = hist_bucket_lower(i);
			uint64_t hi = hist_bucket_upper(i) - 1;
			uint64_t mid = lo + (hi - lo) / 2;

			return (h->max && mid > h->max) ? h->max : mid;
		}
	}
	return h->max;
}

void hist_scale(struct hist *h, uint32_t n)
{
	for (uint32_t i = 0; i < HIST_BUCKETS; i++)
		h->buckets[i] *= n;
	h->count *= n;
	h->sum *= n;
}

void hist_from_percpu(struct hist *out, const struct hist_counts *percpu, int ncpus)
{
	hist_reset(out);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		const struct hist_counts *c = &percpu[cpu];

		out->sum += c->sum;
		if (c->max > out->max)
			out->max = c->max;
		for (uint32_t b = 0; b < HIST_BUCKETS; b++)
			out->buckets[b] += c->buckets[b];
	}
	/* The count is the buckets' total, not the kernel's count field: a program
	 * running on another CPU while this is read may have added to one and not
	 * yet to the other, and a histogram must add up. */
	for (uint32_t b = 0; b < HIST_BUCKETS; b++)
		out->count += out->buckets[b];
}

double hist_relative_error(void)
{
	/* half a bucket width relative to its lower bound: (2^(1/32) - 1) / 2 */
	return 0.5 * (1.0218971486541166 - 1.0);
}

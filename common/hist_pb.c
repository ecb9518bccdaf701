/* SPDX-License-Identifier: Apache-2.0 */
/* Histograms to and from their protobuf form (non-empty buckets only). */
#include <errno.h>
#include <stdio.h>

#include "hist_pb.h"

void hist_pb_fill(struct hist_pb *out, const struct hist *h)
{
	size_t n = 0;

	tracectl__histogram__init(&out->msg);
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		tracectl__bucket__init(&out->buckets[n]);
		out->buckets[n].index = i;
		out->buckets[n].count = h->buckets[i];
		out->bucket_ptrs[n] = &out->buckets[n];
		n++;
	}
	out->msg.layout_case = TRACECTL__HISTOGRAM__LAYOUT_SCALE;
	out->msg.scale = HIST_SCALE;
	out->msg.n_buckets = n;
	out->msg.buckets = out->bucket_ptrs;
	out->msg.count = h->count;
	out->msg.sum = h->sum;
	out->msg.max = h->max;
	out->msg.max_exact = h->max_exact;
	out->msg.unit = "ns";
}

/* The log-linear layout written before the scale field: values below 32 one bucket
 * each, then 32 equal sub-buckets per power of two. [lower, upper) of idx. */
#define LOGLIN_SUB_BITS 5
#define LOGLIN_BUCKETS ((64 - LOGLIN_SUB_BITS + 1) << LOGLIN_SUB_BITS)

static uint64_t loglin_lower(uint32_t idx)
{
	uint32_t group = idx >> LOGLIN_SUB_BITS;
	uint64_t sub = idx & ((1u << LOGLIN_SUB_BITS) - 1);

	return group ? ((1ULL << LOGLIN_SUB_BITS) + sub) << (group - 1) : sub;
}

/*
 * Where an old bucket's samples go: the bucket of its midpoint. Exact below 32
 * (one value per old bucket); above, an old bucket may straddle a boundary, so a
 * percentile read from an old recording is within its old bound (1.6%) plus one
 * new bucket of the value.
 */
static uint32_t loglin_to_exponential(uint32_t idx)
{
	uint64_t lo = loglin_lower(idx);
	uint64_t hi = idx + 1 < LOGLIN_BUCKETS ? loglin_lower(idx + 1) - 1 : UINT64_MAX;

	return hist_bucket_index(lo + (hi - lo) / 2);
}

int hist_from_pb(struct hist *out, const Tracectl__Histogram *m, char *err, size_t errlen)
{
	uint64_t total = 0;
	int64_t prev = -1;
	bool loglin = m->layout_case != TRACECTL__HISTOGRAM__LAYOUT_SCALE;
	uint32_t nbuckets = loglin ? LOGLIN_BUCKETS : HIST_BUCKETS;

	hist_reset(out);
	if (loglin && m->sub_bits != LOGLIN_SUB_BITS) {
		snprintf(err, errlen, "histogram sub_bits %u without a scale, this build understands %u", m->sub_bits,
			 LOGLIN_SUB_BITS);
		return -EPROTO;
	}
	if (!loglin && m->scale != HIST_SCALE) {
		snprintf(err, errlen, "histogram scale %d, this build understands %d", m->scale, HIST_SCALE);
		return -EPROTO;
	}
	for (size_t i = 0; i < m->n_buckets; i++) {
		const Tracectl__Bucket *b = m->buckets[i];

		if (b->index >= nbuckets || (int64_t)b->index <= prev) {
			snprintf(err, errlen, "histogram bucket index %u out of range or out of order", b->index);
			return -EPROTO;
		}
		prev = b->index;
		if (total + b->count < total) {
			snprintf(err, errlen, "histogram bucket counts overflow");
			return -EPROTO;
		}
		total += b->count;
		out->buckets[loglin ? loglin_to_exponential(b->index) : b->index] += b->count;
	}
	if (total != m->count) {
		snprintf(err, errlen, "histogram count %llu does not match its buckets (%llu)",
			 (unsigned long long)m->count, (unsigned long long)total);
		return -EPROTO;
	}
	out->count = m->count;
	out->sum = m->sum;
	out->max = m->max;
	out->max_exact = m->max_exact;
	return 0;
}

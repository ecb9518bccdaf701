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
	out->msg.sub_bits = HIST_SUB_BITS;
	out->msg.n_buckets = n;
	out->msg.buckets = out->bucket_ptrs;
	out->msg.count = h->count;
	out->msg.sum = h->sum;
	out->msg.max = h->max;
	out->msg.max_exact = h->max_exact;
	out->msg.unit = "ns";
}

int hist_from_pb(struct hist *out, const Tracectl__Histogram *m, char *err, size_t errlen)
{
	uint64_t total = 0;
	int64_t prev = -1;

	hist_reset(out);
	if (m->sub_bits != HIST_SUB_BITS) {
		snprintf(err, errlen, "histogram sub_bits %u, this build understands %u", m->sub_bits, HIST_SUB_BITS);
		return -EPROTO;
	}
	for (size_t i = 0; i < m->n_buckets; i++) {
		const Tracectl__Bucket *b = m->buckets[i];

		if (b->index >= HIST_BUCKETS || (int64_t)b->index <= prev) {
			snprintf(err, errlen, "histogram bucket index %u out of range or out of order", b->index);
			return -EPROTO;
		}
		prev = b->index;
		out->buckets[b->index] = b->count;
		if (total + b->count < total) {
			snprintf(err, errlen, "histogram bucket counts overflow");
			return -EPROTO;
		}
		total += b->count;
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

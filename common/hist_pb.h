/* SPDX-License-Identifier: Apache-2.0 */
/* Histograms to and from their protobuf form (non-empty buckets only). */
#ifndef TRACECTL_HIST_PB_H
#define TRACECTL_HIST_PB_H

#include <stddef.h>

#include "hist.h"
#include "tracectl.pb-c.h"

/* Storage for one encoded histogram, reused every interval: filling never allocates. */
struct hist_pb {
	Tracectl__Histogram msg;
	Tracectl__Bucket buckets[HIST_BUCKETS];
	Tracectl__Bucket *bucket_ptrs[HIST_BUCKETS];
};

/* out->msg points into out; valid until the next fill. */
void hist_pb_fill(struct hist_pb *out, const struct hist *h);
/* Validates layout, indexes and counts; -EPROTO with a reason naming the field.
 * A message without a scale (the older log-linear layout) is converted. */
int hist_from_pb(struct hist *out, const Tracectl__Histogram *m, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Log-linear histogram layout shared by the BPF programs and user space. */
#ifndef TRACECTL_HIST_LAYOUT_H
#define TRACECTL_HIST_LAYOUT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Values below 2^HIST_SUB_BITS get one bucket each. Above, every power of two
 * [2^m, 2^(m+1)) is split into 2^HIST_SUB_BITS equal sub-buckets, so a bucket is
 * at most 1/32 (3.1%) of its lower bound wide, and a percentile reported at the
 * bucket midpoint is within 1.6% of the exact value. Plain log2 buckets (BCC,
 * bpftrace) are off by up to 2x. The whole u64 range is covered: no clamping.
 */
#define HIST_SUB_BITS 5
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)
#define HIST_GROUPS (64 - HIST_SUB_BITS + 1) /* group 0 is the linear range */
#define HIST_BUCKETS (HIST_GROUPS * HIST_SUB_COUNT)

/* What the kernel side accumulates, per CPU: cumulative, never reset. */
struct hist_counts {
	__u64 count;
	__u64 sum;
	__u64 max;
	__u64 buckets[HIST_BUCKETS];
};

/* floor(log2(v)) for v > 0, without clz: the BPF target has no such instruction. */
static inline __u32 hist_log2(__u64 v)
{
	__u32 r, shift;

	r = (v > 0xFFFFFFFFULL) << 5;
	v >>= r;
	shift = (v > 0xFFFF) << 4;
	v >>= shift;
	r |= shift;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (__u32)(v >> 1);
	return r;
}

static inline __u32 hist_bucket_index(__u64 v)
{
	__u32 msb, group, sub;

	if (v < HIST_SUB_COUNT)
		return (__u32)v;
	msb = hist_log2(v);
	group = msb - HIST_SUB_BITS + 1;
	sub = (__u32)(v >> (msb - HIST_SUB_BITS)) - HIST_SUB_COUNT;
	return group * HIST_SUB_COUNT + sub;
}

#endif

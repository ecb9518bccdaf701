/* SPDX-License-Identifier: Apache-2.0 */
/* Exponential histogram layout (scale 5) shared by the BPF programs and user space. */
#ifndef TRACECTL_HIST_LAYOUT_H
#define TRACECTL_HIST_LAYOUT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Buckets of Prometheus native histograms (schema 5) and OTLP exponential
 * histograms (scale 5): boundaries at powers of 2^(1/32), 32 buckets per power of
 * two, each (lower, upper] so an exact power of two belongs to the bucket below.
 * A percentile reported at the bucket midpoint is within 1.09% of the exact value.
 * The whole u64 range is covered: no clamping.
 *
 * Our index idx maps to the standard ones without any arithmetic on the bounds:
 *   idx 0                      the zero bucket (value 0)
 *   idx 1..30                  never used (values in (0, 1))
 *   idx >= 31, Prometheus i    idx - 31: bucket (2^((i-1)/32), 2^(i/32)]
 *   idx >= 31, OTLP i          idx - 32: bucket (2^(i/32), 2^((i+1)/32)]
 * so the 32 buckets (2^k, 2^(k+1)] are idx 32(k+1) .. 32(k+1)+31 (k >= 0): a power
 * of two starts at a multiple of 32, as renderers that fold rows want.
 */
#define HIST_SCALE 5
#define HIST_SUB_COUNT (1u << HIST_SCALE)
#define HIST_PROM_INDEX_OFFSET 31 /* Prometheus native index = idx - 31 */
#define HIST_OTLP_INDEX_OFFSET 32 /* OTLP exponential index = idx - 32 */
#define HIST_BUCKETS (HIST_SUB_COUNT * 65) /* up to (2^(63+31/32), 2^64) at idx 2079 */

/* What the kernel side accumulates, per CPU: cumulative, never reset. */
struct hist_counts {
	__u64 count;
	__u64 sum;
	__u64 max;
	__u64 buckets[HIST_BUCKETS];
};

/*
 * ceil(2^(63 + t/32)), t = 1..31: a mantissa m in [2^63, 2^64) reaches threshold
 * t exactly when m >= 2^(63 + t/32) (the bound is irrational, m an integer).
 * tests/unit/common/test_hist.c recomputes them in exact integer arithmetic.
 */
#define HIST_S5_T1 0x82cd8698ac2ba1d8ULL
#define HIST_S5_T2 0x85aac367cc487b15ULL
#define HIST_S5_T3 0x88980e8092da8528ULL
#define HIST_S5_T4 0x8b95c1e3ea8bd6e7ULL
#define HIST_S5_T5 0x8ea4398b45cd53c1ULL
#define HIST_S5_T6 0x91c3d373ab11c337ULL
#define HIST_S5_T7 0x94f4efa8fef70962ULL
#define HIST_S5_T8 0x9837f0518db8a970ULL
#define HIST_S5_T9 0x9b8d39b9d54e5539ULL
#define HIST_S5_T10 0x9ef5326091a111aeULL
#define HIST_S5_T11 0xa27043030c496819ULL
#define HIST_S5_T12 0xa5fed6a9b15138ebULL
#define HIST_S5_T13 0xa9a15ab4ea7c0ef9ULL
#define HIST_S5_T14 0xad583eea42a14ac7ULL
#define HIST_S5_T15 0xb123f581d2ac2590ULL
#define HIST_S5_T16 0xb504f333f9de6485ULL
#define HIST_S5_T17 0xb8fbaf4762fb9eeaULL
#define HIST_S5_T18 0xbd08a39f580c36bfULL
#define HIST_S5_T19 0xc12c4cca66709457ULL
#define HIST_S5_T20 0xc5672a115506dadeULL
#define HIST_S5_T21 0xc9b9bd866e2f27a3ULL
#define HIST_S5_T22 0xce248c151f8480e4ULL
#define HIST_S5_T23 0xd2a81d91f12ae45bULL
#define HIST_S5_T24 0xd744fccad69d6af5ULL
#define HIST_S5_T25 0xdbfbb797daf23756ULL
#define HIST_S5_T26 0xe0ccdeec2a94e112ULL
#define HIST_S5_T27 0xe5b906e77c8348a9ULL
#define HIST_S5_T28 0xeac0c6e7dd24392fULL
#define HIST_S5_T29 0xefe4b99bdcdaf5ccULL
#define HIST_S5_T30 0xf5257d152486cc2dULL
#define HIST_S5_T31 0xfa83b2db722a033bULL

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

/* How many of the 31 thresholds m reaches: a binary search, five comparisons on
 * every path, no floating point and no table (the verifier sees constants only). */
static inline __u32 hist_sub_bucket(__u64 m)
{
	if (m < HIST_S5_T16) {
		if (m < HIST_S5_T8) {
			if (m < HIST_S5_T4) {
				if (m < HIST_S5_T2) {
					return m >= HIST_S5_T1 ? 1 : 0;
				}
				return m >= HIST_S5_T3 ? 3 : 2;
			}
			if (m < HIST_S5_T6) {
				return m >= HIST_S5_T5 ? 5 : 4;
			}
			return m >= HIST_S5_T7 ? 7 : 6;
		}
		if (m < HIST_S5_T12) {
			if (m < HIST_S5_T10) {
				return m >= HIST_S5_T9 ? 9 : 8;
			}
			return m >= HIST_S5_T11 ? 11 : 10;
		}
		if (m < HIST_S5_T14) {
			return m >= HIST_S5_T13 ? 13 : 12;
		}
		return m >= HIST_S5_T15 ? 15 : 14;
	}
	if (m < HIST_S5_T24) {
		if (m < HIST_S5_T20) {
			if (m < HIST_S5_T18) {
				return m >= HIST_S5_T17 ? 17 : 16;
			}
			return m >= HIST_S5_T19 ? 19 : 18;
		}
		if (m < HIST_S5_T22) {
			return m >= HIST_S5_T21 ? 21 : 20;
		}
		return m >= HIST_S5_T23 ? 23 : 22;
	}
	if (m < HIST_S5_T28) {
		if (m < HIST_S5_T26) {
			return m >= HIST_S5_T25 ? 25 : 24;
		}
		return m >= HIST_S5_T27 ? 27 : 26;
	}
	if (m < HIST_S5_T30) {
		return m >= HIST_S5_T29 ? 29 : 28;
	}
	return m >= HIST_S5_T31 ? 31 : 30;
}

static inline __u32 hist_bucket_index(__u64 v)
{
	__u32 k;
	__u64 m;

	if (v == 0)
		return 0;
	k = hist_log2(v);
	m = v << (63 - k);
	/* 2^k itself closes the last bucket of (2^(k-1), 2^k] */
	if (m == 1ULL << 63)
		return HIST_SUB_COUNT * k + HIST_PROM_INDEX_OFFSET;
	return HIST_SUB_COUNT * (k + 1) + hist_sub_bucket(m);
}

#endif

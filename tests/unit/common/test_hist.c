/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the exponential (scale 5) histogram: bucket bounds, percentiles, merge and delta. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>

#include <cmocka.h>

#include "hist.h"

/* Small deterministic generator (xorshift64*), so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct hist *hist_new(void)
{
	struct hist *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	hist_reset(h);
	return h;
}

/* v lies in bucket idx: lower <= v < upper, or v <= upper where upper saturated. */
static void check_value_in_bucket(uint64_t v)
{
	uint32_t idx = hist_bucket_index(v);
	uint64_t lo, hi;

	assert_true(idx < HIST_BUCKETS);
	lo = hist_bucket_lower(idx);
	hi = hist_bucket_upper(idx);
	if (lo > v || (v >= hi && !(hi == UINT64_MAX && v == UINT64_MAX)))
		fail_msg("value %llu: bucket %u is [%llu, %llu)", (unsigned long long)v, idx,
			 (unsigned long long)lo, (unsigned long long)hi);
}

static void test_index_bounds_named_values(void **state)
{
	static const uint64_t values[] = { 0, 1, 2, 30, 31, 32, 33, 62, 63, 64, 65, 66, 100, 127, 128,
					   1000, 4095, 4096, 4097, 1000000, 20000000, 1ull << 32,
					   (1ull << 32) - 1, (1ull << 32) + 1, 1ull << 63, (1ull << 63) - 1,
					   UINT64_MAX - 1, UINT64_MAX };
	(void)state;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		check_value_in_bucket(values[i]);
	/* Small values: 0 in the zero bucket, 1 at Prometheus index 0, 2 at 32, 3 at
	 * ceil(32 log2 3) = 51, each alone in its bucket. */
	assert_int_equal(hist_bucket_index(0), 0);
	assert_int_equal(hist_bucket_index(1), HIST_PROM_INDEX_OFFSET);
	assert_int_equal(hist_bucket_index(2), 32 + HIST_PROM_INDEX_OFFSET);
	assert_int_equal(hist_bucket_index(3), 51 + HIST_PROM_INDEX_OFFSET);
	for (uint64_t v = 0; v < 46; v++) {
		uint32_t idx = hist_bucket_index(v);

		assert_int_equal(hist_bucket_lower(idx), v);
		assert_int_equal(hist_bucket_upper(idx), v + 1);
	}
	assert_int_equal(hist_bucket_index(UINT64_MAX), HIST_BUCKETS - 1);
	assert_int_equal(hist_bucket_upper(HIST_BUCKETS - 1), UINT64_MAX);
}

static void test_index_bounds_powers_of_two(void **state)
{
	(void)state;

	for (unsigned int m = 0; m < 64; m++) {
		uint64_t p = 1ull << m;

		check_value_in_bucket(p);
		check_value_in_bucket(p - 1);
		check_value_in_bucket(p + 1);
		/* A power of two always closes a bucket, (lower, upper] as in Prometheus and
		 * OTLP, and the next value opens a bucket a multiple of 32 further. */
		assert_int_equal(hist_bucket_upper(hist_bucket_index(p)), p + 1);
		assert_int_equal(hist_bucket_index(p), HIST_SUB_COUNT * m + HIST_PROM_INDEX_OFFSET);
		if (m >= 6 && m < 63) /* from 64 on, 2^m + 1 lies below 2^(m + 1/32) */
			assert_int_equal(hist_bucket_index(p + 1), HIST_SUB_COUNT * (m + 1));
	}
}

static void test_bucket_round_trip_all(void **state)
{
	(void)state;

	for (uint32_t idx = 0; idx < HIST_BUCKETS; idx++) {
		uint64_t lo = hist_bucket_lower(idx), hi = hist_bucket_upper(idx);

		assert_true(lo <= hi);
		if (idx + 1 < HIST_BUCKETS)
			/* Buckets tile the range: no gaps, no overlaps. */
			assert_int_equal(hist_bucket_lower(idx + 1), hi);
		if (lo == hi)
			continue; /* no integer falls in it */
		assert_int_equal(hist_bucket_index(lo), idx);
		assert_int_equal(hist_bucket_index(hi - 1), idx);
		/* (a, a 2^(1/32)] holds at most a (2^(1/32) - 1) + 1 integers */
		if (idx + 1 < HIST_BUCKETS)
			assert_true((double)(hi - lo) <= (double)lo * 0.0219 + 1.0);
	}
}

static void test_index_monotonic(void **state)
{
	uint64_t prev_v = 0;
	uint32_t prev = hist_bucket_index(0);
	(void)state;

	/* Dense near zero, then geometric steps through the whole range. */
	for (uint64_t v = 1; v < 100000; v++) {
		uint32_t idx = hist_bucket_index(v);

		assert_true(idx >= prev);
		/* from 46 on, a bucket is at least one integer wide: no index is skipped */
		assert_true(v < 46 || idx - prev <= 1);
		prev = idx;
	}
	prev_v = 100000;
	prev = hist_bucket_index(prev_v);
	while (prev_v < UINT64_MAX / 2) {
		uint64_t v = prev_v + prev_v / 97 + 1;
		uint32_t idx = hist_bucket_index(v);

		assert_true(idx >= prev);
		check_value_in_bucket(v);
		prev = idx;
		prev_v = v;
	}
	for (int i = 0; i < 200000; i++) {
		uint64_t a = rng_next() >> (rng_next() % 64), b = rng_next() >> (rng_next() % 64);

		check_value_in_bucket(a);
		if (a <= b)
			assert_true(hist_bucket_index(a) <= hist_bucket_index(b));
		else
			assert_true(hist_bucket_index(a) >= hist_bucket_index(b));
	}
}

/* 2048-bit unsigned integers, enough for v^32 of any 64-bit v: the reference
 * compares v^32 with powers of two, which decides 32 log2 v with no rounding. */
#define BIG_LIMBS 32

static void big_pow32(uint64_t out[BIG_LIMBS], uint64_t v)
{
	uint64_t x[BIG_LIMBS] = { v };
	int n = 1;

	for (int round = 0; round < 5; round++, n *= 2) {
		memset(out, 0, BIG_LIMBS * sizeof(out[0]));
		for (int i = 0; i < n; i++) {
			unsigned __int128 carry = 0;

			for (int j = 0; j < n; j++) {
				unsigned __int128 t = (unsigned __int128)x[i] * x[j] + out[i + j] + carry;

				out[i + j] = (uint64_t)t;
				carry = t >> 64;
			}
			if (i + n < BIG_LIMBS)
				out[i + n] = (uint64_t)carry;
		}
		memcpy(x, out, sizeof(x));
	}
}

static uint32_t big_bit_length(const uint64_t x[BIG_LIMBS])
{
	for (int i = BIG_LIMBS - 1; i >= 0; i--)
		if (x[i])
			return (uint32_t)(64 * i + 64 - __builtin_clzll(x[i]));
	return 0;
}

static void big_decrement(uint64_t x[BIG_LIMBS])
{
	for (int i = 0; i < BIG_LIMBS && x[i]-- == 0; i++)
		;
}

/* The bucket of v by definition: Prometheus index ceil(32 log2 v), the least i with
 * v^32 <= 2^i, which is the bit length of v^32 - 1. */
static uint32_t reference_index(uint64_t v)
{
	uint64_t x[BIG_LIMBS];

	if (v == 0)
		return 0;
	big_pow32(x, v);
	big_decrement(x);
	return big_bit_length(x) + HIST_PROM_INDEX_OFFSET;
}

static void check_against_reference(uint64_t v)
{
	uint32_t want = reference_index(v), got = hist_bucket_index(v);

	if (got != want)
		fail_msg("value %llu: index %u, exact %u", (unsigned long long)v, got, want);
}

static void test_thresholds_exact(void **state)
{
	static const uint64_t thresholds[] = {
		HIST_S5_T1,  HIST_S5_T2,  HIST_S5_T3,  HIST_S5_T4,  HIST_S5_T5,  HIST_S5_T6,  HIST_S5_T7,  HIST_S5_T8,
		HIST_S5_T9,  HIST_S5_T10, HIST_S5_T11, HIST_S5_T12, HIST_S5_T13, HIST_S5_T14, HIST_S5_T15, HIST_S5_T16,
		HIST_S5_T17, HIST_S5_T18, HIST_S5_T19, HIST_S5_T20, HIST_S5_T21, HIST_S5_T22, HIST_S5_T23, HIST_S5_T24,
		HIST_S5_T25, HIST_S5_T26, HIST_S5_T27, HIST_S5_T28, HIST_S5_T29, HIST_S5_T30, HIST_S5_T31,
	};
	uint64_t x[BIG_LIMBS];
	(void)state;

	/* T_t = ceil(2^(63 + t/32)): T^32 >= 2^(2016 + t) > (T - 1)^32 */
	for (uint32_t t = 1; t <= 31; t++) {
		uint64_t th = thresholds[t - 1];

		big_pow32(x, th);
		assert_true(big_bit_length(x) >= 2016 + t + 1);
		big_pow32(x, th - 1);
		assert_true(big_bit_length(x) <= 2016 + t);
		/* every bound between two integers of a power of two's range, in each octave */
		for (uint32_t k = 0; k < 64; k++) {
			uint64_t edge = (th - 1) >> (63 - k);

			check_against_reference(edge);
			check_against_reference(edge + 1);
			if (edge > 1)
				check_against_reference(edge - 1);
		}
	}
}

static void test_index_matches_reference(void **state)
{
	(void)state;

	for (uint64_t v = 0; v < 5000; v++)
		check_against_reference(v);
	for (unsigned int m = 0; m < 64; m++) {
		check_against_reference(1ull << m);
		check_against_reference((1ull << m) - 1);
		check_against_reference((1ull << m) + 1);
	}
	check_against_reference(UINT64_MAX);
	/* 200,000 values spread over every octave */
	for (int i = 0; i < 200000; i++)
		check_against_reference(rng_next() >> (rng_next() % 64));
}

/* Exact nearest-rank percentile of sorted values. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double q)
{
	size_t rank = (size_t)ceil(q / 100.0 * (double)n);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static void check_percentiles(const char *name, uint64_t *values, size_t n)
{
	static const double qs[] = { 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100 };
	struct hist *h = hist_new();
	uint64_t sum = 0, max = 0;
	double tol_rel = hist_relative_error() * 1.01;

	assert_true(hist_relative_error() > 0.0);
	assert_true(hist_relative_error() < 0.05);
	for (size_t i = 0; i < n; i++) {
		hist_add(h, values[i]);
		sum += values[i];
		max = values[i] > max ? values[i] : max;
	}
	assert_int_equal(h->count, n);
	assert_int_equal(h->sum, sum);
	assert_int_equal(h->max, max);
	qsort(values, n, sizeof(values[0]), cmp_u64);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		uint64_t exact = exact_percentile(values, n, qs[i]);
		uint64_t got = hist_percentile(h, qs[i]);
		double err = fabs((double)got - (double)exact);
		/* Buckets below 64 are one value wide, where midpoints may round by 1. */
		double allowed = fmax(1.0, (double)exact * tol_rel);

		if (err > allowed)
			fail_msg("%s: p%g is %llu, exact %llu (error %.0f > allowed %.1f)", name, qs[i],
				 (unsigned long long)got, (unsigned long long)exact, err, allowed);
		/* Never above the largest value seen. */
		assert_true(got <= max);
	}
	free(h);
}

static void test_percentile_uniform(void **state)
{
	size_t n = 100000;
	uint64_t *v = malloc(n * sizeof(*v));
	(void)state;

	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = 1000 + rng_next() % 50000000; /* 1 us .. 50 ms */
	check_percentiles("uniform", v, n);
	for (size_t i = 0; i < n; i++)
		v[i] = rng_next() % 200; /* the linear and first groups */
	check_percentiles("uniform-small", v, n);
	free(v);
}

static void test_percentile_exponential(void **state)
{
	size_t n = 50000;
	uint64_t *v = malloc(n * sizeof(*v));
	(void)state;

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		double u = ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;

		v[i] = (uint64_t)(-log(u) * 2e6); /* mean 2 ms, long tail */
	}
	check_percentiles("exponential", v, n);
	/* Spread over many orders of magnitude. */
	for (size_t i = 0; i < n; i++)
		v[i] = rng_next() >> (rng_next() % 60);
	check_percentiles("log-uniform", v, n);
	free(v);
}

static void test_percentile_constant(void **state)
{
	static const uint64_t constants[] = { 0, 1, 31, 32, 33, 20000000, 25300000, 1ull << 40 };
	size_t n = 1000;
	uint64_t *v = malloc(n * sizeof(*v));
	(void)state;

	assert_non_null(v);
	for (size_t c = 0; c < sizeof(constants) / sizeof(constants[0]); c++) {
		for (size_t i = 0; i < n; i++)
			v[i] = constants[c];
		check_percentiles("constant", v, n);
	}
	free(v);
}

static void test_percentile_empty_and_single(void **state)
{
	struct hist *h = hist_new();
	(void)state;

	assert_int_equal(h->count, 0);
	assert_int_equal(hist_percentile(h, 50), 0);
	assert_int_equal(hist_percentile(h, 100), 0);
	hist_add(h, 20000000);
	for (double q = 1; q <= 100; q += 7) {
		uint64_t got = hist_percentile(h, q);

		assert_true(got <= 20000000);
		assert_true((double)got >= 20000000.0 * (1.0 - hist_relative_error() * 1.01));
	}
	free(h);
}

static void fill(struct hist *h, uint64_t seed, size_t n, uint64_t *sum, uint64_t *max)
{
	rng_state = seed;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = rng_next() >> (rng_next() % 64);

		hist_add(h, v);
		if (sum)
			*sum += v;
		if (max && v > *max)
			*max = v;
	}
}

static void test_merge_exact(void **state)
{
	struct hist *a = hist_new(), *b = hist_new(), *all = hist_new(), *dst = hist_new();
	(void)state;

	fill(a, 1, 5000, NULL, NULL);
	fill(b, 2, 7000, NULL, NULL);
	fill(all, 1, 5000, NULL, NULL);
	fill(all, 2, 7000, NULL, NULL);

	hist_merge(dst, a);
	hist_merge(dst, b);
	assert_int_equal(dst->count, 12000);
	assert_int_equal(dst->count, a->count + b->count);
	assert_int_equal(dst->sum, a->sum + b->sum);
	assert_int_equal(dst->max, a->max > b->max ? a->max : b->max);
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		assert_int_equal(dst->buckets[i], a->buckets[i] + b->buckets[i]);
		assert_int_equal(dst->buckets[i], all->buckets[i]);
	}
	assert_int_equal(dst->sum, all->sum);
	assert_int_equal(dst->max, all->max);
	assert_int_equal(hist_percentile(dst, 50), hist_percentile(all, 50));
	assert_int_equal(hist_percentile(dst, 99), hist_percentile(all, 99));

	/* Merging an empty histogram changes nothing. */
	hist_reset(b);
	hist_merge(dst, b);
	assert_int_equal(dst->count, 12000);
	assert_int_equal(dst->sum, all->sum);
	free(a);
	free(b);
	free(all);
	free(dst);
}

static void test_delta(void **state)
{
	struct hist *before = hist_new(), *now = hist_new(), *window = hist_new(), *out = hist_new();
	uint64_t wsum = 0, wmax = 0;
	uint32_t top = 0;
	(void)state;

	fill(before, 11, 3000, NULL, NULL);
	fill(now, 11, 3000, NULL, NULL);
	/* The window only sees values up to 2^40 so the cumulative max is elsewhere. */
	rng_state = 12;
	for (int i = 0; i < 2000; i++) {
		uint64_t v = (rng_next() >> 24) >> (rng_next() % 40);

		hist_add(now, v);
		hist_add(window, v);
		wsum += v;
		wmax = v > wmax ? v : wmax;
	}
	assert_int_equal(hist_delta(out, now, before), 0);
	assert_int_equal(out->count, 2000);
	assert_int_equal(out->sum, wsum);
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		assert_int_equal(out->buckets[i], window->buckets[i]);
		if (window->buckets[i])
			top = i;
	}
	/* The window's max is only known to its bucket; it never understates. */
	assert_true(out->max >= wmax);
	assert_true(out->max >= hist_bucket_lower(top));
	assert_true(out->max <= hist_bucket_upper(top));
	assert_true(out->max <= now->max);
	assert_int_equal(hist_percentile(out, 50), hist_percentile(window, 50));

	/* An empty window. */
	assert_int_equal(hist_delta(out, now, now), 0);
	assert_int_equal(out->count, 0);
	assert_int_equal(out->sum, 0);
	assert_int_equal(hist_percentile(out, 99), 0);

	/* before is not a prefix of now: a reset or a different source. */
	assert_int_equal(hist_delta(out, before, now), -EINVAL);
	free(before);
	free(now);
	free(window);
	free(out);
}

static void test_delta_not_prefix_bucket(void **state)
{
	struct hist *before = hist_new(), *now = hist_new(), *out = hist_new();
	(void)state;

	/* Same count, but a bucket went down. */
	hist_add(before, 100);
	hist_add(now, 5000);
	hist_add(now, 5000);
	hist_add(before, 5000);
	assert_int_equal(hist_delta(out, now, before), -EINVAL);
	free(before);
	free(now);
	free(out);
}

/* A per-CPU slot read while its program runs on that CPU: the bucket is already
 * counted, the count field not yet. The histogram must still add up. */
static void test_from_percpu_counts_buckets(void **state)
{
	struct hist_counts *cpus = calloc(2, sizeof(*cpus));
	struct hist *out = calloc(1, sizeof(*out));

	(void)state;
	assert_non_null(cpus);
	assert_non_null(out);
	cpus[0].buckets[hist_bucket_index(1000)] = 3;
	cpus[0].count = 3;
	cpus[0].sum = 3000;
	cpus[1].buckets[hist_bucket_index(1000)] = 2;
	cpus[1].buckets[hist_bucket_index(70000)] = 1;
	cpus[1].count = 2; /* mid-update */
	cpus[1].sum = 2000;
	cpus[1].max = 70000;
	hist_from_percpu(out, cpus, 2);
	assert_int_equal(out->count, 6);
	assert_int_equal(out->buckets[hist_bucket_index(1000)], 5);
	assert_int_equal(out->max, 70000);
	free(cpus);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_bounds_named_values),
		cmocka_unit_test(test_index_bounds_powers_of_two),
		cmocka_unit_test(test_bucket_round_trip_all),
		cmocka_unit_test(test_index_monotonic),
		cmocka_unit_test(test_thresholds_exact),
		cmocka_unit_test(test_index_matches_reference),
		cmocka_unit_test(test_percentile_uniform),
		cmocka_unit_test(test_percentile_exponential),
		cmocka_unit_test(test_percentile_constant),
		cmocka_unit_test(test_percentile_empty_and_single),
		cmocka_unit_test(test_merge_exact),
		cmocka_unit_test(test_delta),
		cmocka_unit_test(test_delta_not_prefix_bucket),
		cmocka_unit_test(test_from_percpu_counts_buckets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of duration parsing ("10s", "1.5s", "250us") and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "duration.h"

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

static void expect_ok(const char *text, uint64_t want)
{
	uint64_t got = 12345;
	int rc = duration_parse(text, &got);

	if (rc != 0)
		fail_msg("duration_parse(\"%s\") = %d, want 0", text, rc);
	if (got != want)
		fail_msg("duration_parse(\"%s\") = %llu ns, want %llu", text, (unsigned long long)got,
			 (unsigned long long)want);
}

static void expect_err(const char *text, int want)
{
	uint64_t got = 0;
	int rc = duration_parse(text, &got);

	if (rc != want)
		fail_msg("duration_parse(\"%s\") = %d, want %d", text, rc, want);
}

static void test_parse_units(void **state)
{
	(void)state;
	expect_ok("10s", 10 * NS_PER_S);
	expect_ok("500ms", 500 * NS_PER_MS);
	expect_ok("2m", 120 * NS_PER_S);
	expect_ok("1h", 3600 * NS_PER_S);
	expect_ok("250us", 250 * NS_PER_US);
	expect_ok("100ns", 100);
	expect_ok("0s", 0);
	expect_ok("9s", 9 * NS_PER_S);
	expect_ok("1s", NS_PER_S);
	expect_ok("20ms", 20 * NS_PER_MS);
	expect_ok("5000000000s", 5000000000ull * NS_PER_S);
}

static void test_parse_fractions(void **state)
{
	(void)state;
	expect_ok("1.5s", 1500 * NS_PER_MS);
	expect_ok("0.5ms", 500 * NS_PER_US);
	expect_ok("2.25m", 135 * NS_PER_S);
	expect_ok("1.25us", 1250);
	expect_ok("0.001s", NS_PER_MS);
}

static void test_parse_rejects(void **state)
{
	(void)state;
	expect_err("", -EINVAL);
	expect_err("10", -EINVAL);
	expect_err("s", -EINVAL);
	expect_err("ms", -EINVAL);
	expect_err("10x", -EINVAL);
	expect_err("10sx", -EINVAL);
	expect_err("-1s", -EINVAL);
	expect_err("10s junk", -EINVAL);
	expect_err("10 s junk", -EINVAL);
	expect_err(".s", -EINVAL);
	expect_err("1..5s", -EINVAL);
}

static void test_parse_overflow(void **state)
{
	(void)state;
	/* UINT64_MAX ns is 18446744073.709551615 s. */
	expect_err("18446744074s", -ERANGE);
	expect_err("5124096h", -ERANGE);
	expect_err("1000000000000h", -ERANGE);
	expect_err("18446744073709551616ns", -ERANGE);
	expect_err("99999999999999999999999999999s", -ERANGE);
}

static void expect_format(uint64_t ns, const char *want)
{
	char buf[64];
	const char *got = duration_format(ns, buf, sizeof(buf));

	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("duration_format(%llu) = \"%s\", want \"%s\"", (unsigned long long)ns, got, want);
}

static void test_format(void **state)
{
	(void)state;
	expect_format(20100000, "20.1ms");
	expect_format(950 * NS_PER_US, "950us");
	expect_format(2 * NS_PER_S, "2.00s");
	expect_format(1500, "1.50us");
	expect_format(12345678, "12.3ms");
	expect_format(100, "100ns");
	expect_format(25300000, "25.3ms");
}

static void expect_format_long(uint64_t ns, const char *want)
{
	char buf[64];
	const char *got = duration_format_long(ns, buf, sizeof(buf));

	if (strcmp(got, want) != 0)
		fail_msg("duration_format_long(%llu) = \"%s\", want \"%s\"", (unsigned long long)ns, got, want);
}

/* status: an agent up for days reads "3d 4h", not "273600s" */
static void test_format_long(void **state)
{
	(void)state;
	expect_format_long(1480 * NS_PER_MS, "1.48s");
	expect_format_long(59 * NS_PER_S, "59.0s");
	expect_format_long(60 * NS_PER_S, "1m 00s");
	expect_format_long(427 * NS_PER_S, "7m 07s");
	expect_format_long((2 * 3600 + 5 * 60 + 59) * NS_PER_S, "2h 05m");
	expect_format_long((3 * 86400 + 4 * 3600 + 1) * NS_PER_S, "3d 4h");
}

/* What we print, we can read back, to within the 3 significant digits. */
static void test_format_parse_round_trip(void **state)
{
	uint64_t v = 1;
	(void)state;

	while (v < 1000000000000000ull) {
		char buf[64];
		uint64_t back = 0;
		const char *text = duration_format(v, buf, sizeof(buf));
		int rc = duration_parse(text, &back);

		if (rc != 0)
			fail_msg("duration_format(%llu) = \"%s\" does not parse (%d)", (unsigned long long)v, text, rc);
		if (fabs((double)back - (double)v) > (double)v * 0.005 + 1.0)
			fail_msg("%llu -> \"%s\" -> %llu", (unsigned long long)v, text, (unsigned long long)back);
		v = v * 3 + v / 7 + 1;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_units),
		cmocka_unit_test(test_parse_fractions),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_overflow),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_long),
		cmocka_unit_test(test_format_parse_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

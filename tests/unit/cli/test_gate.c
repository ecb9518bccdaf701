/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of gate threshold parsing: metrics, units, row filters and the refusals a user reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "cli.h"

static void test_time_thresholds_are_ns(void **state)
{
	struct gate_options g = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(gate_add_threshold(&g, GATE_MAX, "p99=5ms", err, sizeof(err)), 0);
	assert_int_equal(gate_add_threshold(&g, GATE_MIN, "p50=250us", err, sizeof(err)), 0);
	assert_int_equal(gate_add_threshold(&g, GATE_MAX, "p999=1s", err, sizeof(err)), 0);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.t[0].metric, "p99");
	assert_true(g.t[0].is_time && g.t[0].value == 5e6 && g.t[0].kind == GATE_MAX);
	assert_true(g.t[1].value == 250e3 && g.t[1].kind == GATE_MIN);
	assert_true(g.t[2].value == 1e9);
	assert_string_equal(g.t[0].text, "p99=5ms");
}

static void test_counts_and_row_filters(void **state)
{
	struct gate_options g = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(gate_add_threshold(&g, GATE_MIN, "count=1000", err, sizeof(err)), 0);
	assert_false(g.t[0].is_time);
	assert_true(g.t[0].value == 1000.0);
	assert_int_equal(gate_add_threshold(&g, GATE_MAX, "sends{comm=nginx,pid=7}=500", err, sizeof(err)), 0);
	assert_string_equal(g.t[1].metric, "sends");
	assert_string_equal(g.t[1].filter, "comm=nginx,pid=7");
	assert_true(g.t[1].value == 500.0);
}

static void test_regression_is_a_fraction(void **state)
{
	struct gate_options g = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(gate_add_threshold(&g, GATE_REGRESSION, "p50=10%", err, sizeof(err)), 0);
	assert_true(g.t[0].value > 0.0999 && g.t[0].value < 0.1001);
	assert_true(g.t[0].is_time);
	assert_int_equal(gate_add_threshold(&g, GATE_REGRESSION, "p50=10", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--max-regression 'p50=10'"));
	assert_int_equal(gate_add_threshold(&g, GATE_REGRESSION, "p50=-5%", err, sizeof(err)), -EINVAL);
}

/* Each refusal names the flag, the text and what is wrong with it. */
static void test_refusals_name_the_input(void **state)
{
	static const struct {
		enum gate_kind kind;
		const char *text, *want;
	} cases[] = {
		{ GATE_MAX, "p99", "write METRIC=LIMIT" },
		{ GATE_MAX, "=5ms", "no metric before '='" },
		{ GATE_MAX, "p99=5parsecs", "'5parsecs' is not a duration" },
		{ GATE_MAX, "p95=1ms", "unknown metric 'p95'" },
		{ GATE_MIN, "count=many", "'many' is not a number" },
		{ GATE_MAX, "count=-1", "'-1' is not a number" },
		{ GATE_MAX, "count=inf", "'inf' is not a number" },
		{ GATE_MAX, "sends{comm=x=5", "write COLUMN{KEY=VALUE}=LIMIT" },
	};
	struct gate_options g = { 0 };
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(gate_add_threshold(&g, cases[i].kind, cases[i].text, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].want))
			fail_msg("%s: '%s' does not say '%s'", cases[i].text, err, cases[i].want);
		assert_non_null(strstr(err, cases[i].kind == GATE_MIN ? "--min" : "--max"));
	}
	assert_int_equal(g.n, 0);
}

static void test_threshold_count_is_bounded(void **state)
{
	struct gate_options g = { 0 };
	char err[256];

	(void)state;
	for (int i = 0; i < GATE_MAX_THRESHOLDS; i++)
		assert_int_equal(gate_add_threshold(&g, GATE_MAX, "p99=5ms", err, sizeof(err)), 0);
	assert_int_equal(gate_add_threshold(&g, GATE_MAX, "p99=5ms", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than"));
	assert_int_equal(g.n, GATE_MAX_THRESHOLDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_thresholds_are_ns),
		cmocka_unit_test(test_counts_and_row_filters),
		cmocka_unit_test(test_regression_is_a_fraction),
		cmocka_unit_test(test_refusals_name_the_input),
		cmocka_unit_test(test_threshold_count_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
